/**
 * Turns a {@link BenchRun} into docs/benchmarks.md (tables, goals, plot references) and the
 * recall-vs-QPS SVG plots.
 */
import { recallQpsSvg, type PlotSeries } from './svg-plot.ts';
import type { BenchPoint, BenchRun } from './types.ts';

const TARGET_RECALL = 0.95;

function fmt(n: number | undefined, digits = 2): string {
  return n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits);
}

function paramText(p: Record<string, number>): string {
  const s = Object.entries(p).map(([k, v]) => `${k}=${v}`).join(' ');
  return s || '(defaults)';
}

function best(points: BenchPoint[]): BenchPoint | undefined {
  return points.filter((p) => p.recall >= TARGET_RECALL).sort((a, b) => b.qps - a.qps)[0];
}

/** Figures quoted against the issue's goals. */
export interface Headline {
  /** Smallest fraction of shards probed (any cluster config) reaching recall >= 0.95, and where. */
  minShardFraction?: { fraction: number; series: string; recall: number };
  /** Per concurrency: best cluster and best embedded LanceDB point at recall >= 0.95, and the QPS ratio. */
  ratios: { concurrency: number; cluster?: BenchPoint; embedded?: BenchPoint; ratio?: number }[];
  /** Router + RPC overhead per query at concurrency 1 (cluster minus in-process), per matched point. */
  overhead: { series: string; params: string; cpuMs: number; p50Ms: number; routerCpuMs?: number }[];
  /** Median of `overhead` CPU ms. */
  medianOverheadCpuMs?: number;
  medianOverheadP50Ms?: number;
  /** Median CPU ms per query of the router process alone (concurrency 1). */
  medianRouterCpuMs?: number;
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * A cluster point's CPU ms per query split into router, all shard nodes together and client
 * (undefined for points recorded without the per-process split).
 */
export function processSplit(p: BenchPoint | undefined): { router: number; nodes: number; client: number } | undefined {
  const by = p?.cpuMsPerQueryByProcess;
  if (!by) return undefined;
  let nodes = 0;
  for (const [name, ms] of Object.entries(by)) if (name.startsWith('node')) nodes += ms;
  return { router: by.router ?? NaN, nodes, client: by.client ?? NaN };
}

/** Computes the headline figures of a run. */
export function headline(run: BenchRun): Headline {
  const cluster = run.points.filter((p) => p.kind === 'cluster');
  const reaching = cluster.filter((p) => p.recall >= TARGET_RECALL && p.shardsProbedFraction !== undefined).sort((a, b) => a.shardsProbedFraction! - b.shardsProbedFraction! || b.recall - a.recall);
  const h: Headline = { ratios: [], overhead: [] };
  if (reaching[0]) h.minShardFraction = { fraction: reaching[0].shardsProbedFraction!, series: reaching[0].series, recall: reaching[0].recall };
  const concurrencies = [...new Set(cluster.map((p) => p.concurrency))].sort((a, b) => a - b);
  for (const c of concurrencies) {
    const cl = best(cluster.filter((p) => p.concurrency === c));
    const em = best(run.points.filter((p) => p.kind === 'baseline' && p.series.startsWith('embedded lancedb') && p.concurrency === c));
    h.ratios.push({ concurrency: c, cluster: cl, embedded: em, ratio: cl && em ? cl.qps / em.qps : undefined });
  }
  for (const ip of run.points.filter((p) => p.kind === 'in-process')) {
    const series = ip.series.replace(/^in-process /, 'cluster ');
    const match = cluster.find((p) => p.series === series && p.concurrency === ip.concurrency && paramText(p.params) === paramText(ip.params));
    if (match) h.overhead.push({ series: ip.series.replace(/^in-process /, ''), params: paramText(ip.params), cpuMs: match.cpuMsPerQuery - ip.cpuMsPerQuery, p50Ms: match.p50Ms - ip.p50Ms, routerCpuMs: processSplit(match)?.router });
  }
  h.medianRouterCpuMs = median(h.overhead.flatMap((o) => (o.routerCpuMs === undefined ? [] : [o.routerCpuMs])));
  h.medianOverheadCpuMs = median(h.overhead.map((o) => o.cpuMs));
  h.medianOverheadP50Ms = median(h.overhead.map((o) => o.p50Ms));
  return h;
}

/** The plot's series for one concurrency: every cluster configuration and every baseline. */
export function plotSeries(run: BenchRun, concurrency: number): PlotSeries[] {
  const bySeries = new Map<string, PlotSeries>();
  const multiConcurrency = new Set(run.points.filter((p) => p.concurrency !== 1).map((p) => p.series));
  for (const p of run.points) {
    if (p.kind === 'in-process') continue;
    // Baselines that only run at concurrency 1 (brute force, hnswlib) appear on every plot.
    const single = p.kind === 'baseline' && !multiConcurrency.has(p.series);
    if (p.concurrency !== concurrency && !single) continue;
    const name = single && concurrency !== 1 ? `${p.series} (c=1)` : p.series;
    let series = bySeries.get(name);
    if (!series) {
      series = { name, points: [], dashed: p.kind === 'baseline' };
      bySeries.set(name, series);
    }
    series.points.push([p.recall, p.qps]);
  }
  return [...bySeries.values()];
}

/** SVG file name (in docs/) of the plot at `concurrency`. */
export function plotFile(concurrency: number): string {
  return `benchmarks-recall-qps-c${concurrency}.svg`;
}

/** Renders every plot: file name -> SVG text. */
export function renderPlots(run: BenchRun): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of [1, run.env.saturatingConcurrency]) {
    out.set(plotFile(c), recallQpsSvg(`Fashion-MNIST ${run.env.dataset.baseVectors.toLocaleString('en')} x ${run.env.dataset.dim}, recall@10 vs QPS, concurrency ${c} (${run.env.mode})`, plotSeries(run, c)));
  }
  return out;
}

function pointRow(p: BenchPoint): string {
  const rss = Object.entries(p.peakRssMb).map(([k, v]) => `${k} ${fmt(v, 0)}`).join(', ');
  const shards = p.shardsProbedFraction === undefined ? '-' : `${(p.shardsProbedFraction * 100).toFixed(1)}%`;
  const byProcess = p.cpuMsPerQueryByProcess ? Object.entries(p.cpuMsPerQueryByProcess).map(([k, v]) => `${k} ${fmt(v)}`).join(', ') : '-';
  return `| ${p.series} | ${paramText(p.params)} | ${shards} | ${p.concurrency} | ${p.queries} | ${fmt(p.recall, 4)} | ${fmt(p.qps, 0)} | ${fmt(p.p50Ms)} | ${fmt(p.p99Ms)} | ${fmt(p.cpuMsPerQuery)} | ${byProcess} | ${rss} |`;
}

const POINT_HEADER = '| series | params | shards probed | conc. | queries | recall@10 | QPS | p50 ms | p99 ms | CPU ms/query | CPU ms/query by process | peak RSS MB |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|';

/** The markdown report. */
export function renderMarkdown(run: BenchRun, resultsFile: string): string {
  const e = run.env;
  const h = headline(run);
  const L: string[] = [];
  L.push('# Benchmarks');
  L.push('');
  L.push(`<!-- generated by bench/suite.ts from ${resultsFile}; do not edit by hand -->`);
  L.push('');
  if (e.command.includes('--only') || e.command.includes('--skip-baselines')) {
    L.push(`> **This is a PARTIAL run** (\`${e.command}\`: \`--only\` keeps the cluster configurations whose name contains that text, \`--skip-baselines\` leaves out the baselines). Run \`npm run bench\` for the full sweep.\n`);
  }
  if (e.mode === 'quick') L.push('> **This is the QUICK run** (`npm run bench:quick`: fewer configurations, fewer queries and points). Run `npm run bench` for the full sweep.\n');
  L.push(`- Date: ${e.date}; command: \`${e.command}\` (mode ${e.mode})`);
  L.push(`- Machine: ${e.cores} cores, ${e.cpuModel}, ${e.memGb.toFixed(1)} GB RAM; Node ${e.node}; ${Object.entries(e.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  L.push(`- Data: ${e.dataset.source}; ${e.dataset.baseVectors.toLocaleString('en')} base vectors x ${e.dataset.dim} dims (l2), ${e.dataset.queries.toLocaleString('en')} queries. ${e.dataset.note}`);
  L.push(`- Recall@10 as ANN-benchmarks counts it (a result counts when its distance is within the 10th true distance + 1e-3); exact ground truth by brute force, cached in bench/.cache.`);
  L.push(`- Cluster: router + 2 shard nodes as separate processes on 127.0.0.1, queries over gRPC from a separate client process (bench/query-client.ts), closed loop at concurrency 1 and ${e.saturatingConcurrency}. CPU ms/query = utime+stime (from /proc/<pid>/stat) of router, nodes and client over the point, divided by the queries. Peak RSS = VmHWM per process, reset before each point (clear_refs).`);
  L.push(`- Baselines run in the benchmark process (CPU ms/query = all its threads).`);
  L.push(`- Raw results: \`${resultsFile}\`.`);
  L.push('');
  L.push('## Goals');
  L.push('');
  const f = h.minShardFraction;
  L.push(`- **recall@10 >= 0.95 probing <= 25% of shards**: ${f ? `${(f.fraction * 100).toFixed(1)}% of the shards probed reaches recall ${f.recall.toFixed(4)} (${f.series}) — ${f.fraction <= 0.25 ? 'met' : `missed by ${((f.fraction - 0.25) * 100).toFixed(1)} points`}` : 'no cluster point reached 0.95 — missed'}.`);
  for (const r of h.ratios) {
    const cl = r.cluster ? `cluster ${fmt(r.cluster.qps, 0)} QPS (${r.cluster.series} ${paramText(r.cluster.params)}, recall ${fmt(r.cluster.recall, 4)})` : 'no cluster point >= 0.95';
    const em = r.embedded ? `embedded LanceDB ${fmt(r.embedded.qps, 0)} QPS (${r.embedded.series} ${paramText(r.embedded.params)}, recall ${fmt(r.embedded.recall, 4)})` : 'no embedded point >= 0.95';
    L.push(`- **cluster vs embedded LanceDB at recall >= 0.95, concurrency ${r.concurrency}**: ratio **${fmt(r.ratio)}x** — ${cl} vs ${em}${r.ratio !== undefined ? (r.ratio >= 1 ? ' — met' : ` — missed by ${((1 - r.ratio) * 100).toFixed(0)}%`) : ''}.`);
  }
  L.push(`- **router + RPC overhead <= 0.5 ms CPU/query** (cluster minus the same shard searches in-process, concurrency 1): median ${fmt(h.medianOverheadCpuMs)} ms CPU and ${fmt(h.medianOverheadP50Ms)} ms p50 latency per query${h.medianOverheadCpuMs !== undefined ? (h.medianOverheadCpuMs <= 0.5 ? ' — met' : ` — missed by ${fmt(h.medianOverheadCpuMs - 0.5)} ms`) : ''}${h.medianRouterCpuMs !== undefined ? `; the router process alone: median ${fmt(h.medianRouterCpuMs)} ms CPU per query` : ''}.`);
  L.push('');
  L.push('## Recall vs QPS');
  L.push('');
  for (const c of [1, e.saturatingConcurrency]) L.push(`![recall vs QPS at concurrency ${c}](${plotFile(c)})\n`);
  L.push('## Cluster (gRPC, separate processes)');
  L.push('');
  L.push(POINT_HEADER);
  for (const p of run.points.filter((x) => x.kind === 'cluster')) L.push(pointRow(p));
  L.push('');
  L.push('## Baselines (in-process)');
  L.push('');
  L.push(POINT_HEADER);
  for (const p of run.points.filter((x) => x.kind === 'baseline')) L.push(pointRow(p));
  L.push('');
  L.push('## Cost of distribution');
  L.push('');
  L.push('The same routing, shard searches and merge in the benchmark process, without gRPC (concurrency 1), against the cluster point with the same parameters.');
  L.push('');
  L.push('The cluster CPU is split by process: router, both shard nodes together, and the gRPC client. Overhead = cluster - in-process = router + client + (nodes - in-process).');
  L.push('');
  L.push('| configuration | params | in-process CPU ms/q | cluster CPU ms/q | router | nodes | client | overhead CPU ms/q | in-process p50 ms | overhead p50 ms |');
  L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const o of h.overhead) {
    const ip = run.points.find((p) => p.kind === 'in-process' && p.series === `in-process ${o.series}` && paramText(p.params) === o.params);
    const cl = run.points.find((p) => p.kind === 'cluster' && p.series === `cluster ${o.series}` && p.concurrency === 1 && paramText(p.params) === o.params);
    const split = processSplit(cl);
    L.push(`| ${o.series} | ${o.params} | ${fmt(ip?.cpuMsPerQuery)} | ${fmt(cl?.cpuMsPerQuery)} | ${fmt(split?.router)} | ${fmt(split?.nodes)} | ${fmt(split?.client)} | ${fmt(o.cpuMs)} | ${fmt(ip?.p50Ms)} | ${fmt(o.p50Ms)} |`);
  }
  L.push('');
  L.push('## Builds');
  L.push('');
  L.push('| build | wall s |\n|---|---:|');
  for (const b of run.builds) L.push(`| ${b.name} | ${b.seconds.toFixed(1)} |`);
  if (run.notes.length) {
    L.push('');
    L.push('## Notes');
    L.push('');
    for (const n of run.notes) L.push(`- ${n}`);
  }
  L.push('');
  return L.join('\n');
}
