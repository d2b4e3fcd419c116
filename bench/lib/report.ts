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

/** True when `run` used the bundled fallback data instead of Fashion-MNIST train/t10k. */
export function usedFallbackData(run: BenchRun): boolean {
  const d = run.env.dataset;
  return d.fallback ?? /^(FALLBACK|bundled)/.test(d.source);
}

/** One goal of issue 11 evaluated on a run, printed as `goal: X, measured: Y, met/missed`. */
export interface GoalLine {
  /** What is compared, e.g. `cluster QPS / embedded LanceDB QPS, concurrency 16`. */
  name: string;
  /** The goal, e.g. `>= 2x`. */
  goal: string;
  /** The measured figure with its unit ('-' when the run has nothing to measure it with). */
  measured: string;
  /** Whether the goal is met; undefined when the run lacks the points to tell (e.g. no baselines). */
  met: boolean | undefined;
  /** Which points the figure comes from. */
  detail: string;
}

/** The best-QPS point at `concurrency` satisfying `pred` and reaching recall@10 >= 0.95. */
function bestWhere(points: BenchPoint[], concurrency: number, pred: (p: BenchPoint) => boolean): BenchPoint | undefined {
  return best(points.filter((p) => p.concurrency === concurrency && pred(p)));
}

/** The in-process point with the same configuration and parameters as cluster point `p`. */
function inProcessTwin(run: BenchRun, p: BenchPoint): BenchPoint | undefined {
  const series = p.series.replace(/^cluster /, 'in-process ');
  return run.points.find((x) => x.kind === 'in-process' && x.series === series && paramText(x.params) === paramText(p.params));
}

function describe(p: BenchPoint): string {
  return `${p.series} ${paramText(p.params)}: recall ${fmt(p.recall, 4)}, ${fmt(p.qps, 0)} QPS`;
}

type Comparison = '>=' | '<=';

function goal(name: string, cmp: Comparison, target: number, unit: string, value: number | undefined, detail: string, measurable = true): GoalLine {
  const ok = value !== undefined && Number.isFinite(value);
  return {
    name,
    goal: `${cmp} ${target}${unit}`,
    measured: ok ? `${fmt(value)}${unit}` : '-',
    met: ok ? (cmp === '>=' ? value >= target : value <= target) : measurable ? false : undefined,
    detail,
  };
}

/**
 * The goal lines of issue 11, computed from a run at recall@10 >= 0.95: for each concurrency the
 * cluster's best-QPS point reaching that recall (any configuration) is compared with the best
 * embedded LanceDB point and the best whole-set usearch point reaching it, with its own in-process
 * twin (same routing, shard searches and merge without gRPC, measured one query at a time), and
 * its router CPU and p99 latency are read off. A goal without a cluster point reaching the recall
 * is missed; one whose comparison point is absent (no baselines in the run) is not measured.
 */
export function goalLines(run: BenchRun): GoalLine[] {
  const sat = run.env.saturatingConcurrency;
  const cluster = run.points.filter((p) => p.kind === 'cluster');
  const isEmbedded = (p: BenchPoint): boolean => p.kind === 'baseline' && p.series.startsWith('embedded lancedb');
  const isUsearch = (p: BenchPoint): boolean => p.kind === 'baseline' && p.series.startsWith('usearch ');
  const bestCluster = (c: number): BenchPoint | undefined => bestWhere(cluster, c, () => true);
  const none = `no cluster point reaches recall@10 ${TARGET_RECALL}`;
  const out: GoalLine[] = [];

  for (const [c, target] of [[sat, 2], [1, 1]] as const) {
    const cl = bestCluster(c);
    const em = bestWhere(run.points, c, isEmbedded);
    const detail = !cl ? none : !em ? `${describe(cl)}; no embedded LanceDB point reaches recall@10 ${TARGET_RECALL}` : `${describe(cl)} vs ${describe(em)}`;
    out.push(goal(`cluster QPS / embedded LanceDB QPS, concurrency ${c}`, '>=', target, 'x', cl && em ? cl.qps / em.qps : undefined, detail, !cl || em !== undefined));
  }

  const cpuRatio = (c: number): { cl?: BenchPoint; ip?: BenchPoint; ratio?: number } => {
    const cl = bestCluster(c);
    const ip = cl && inProcessTwin(run, cl);
    return { cl, ip, ratio: cl && ip ? cl.cpuMsPerQuery / ip.cpuMsPerQuery : undefined };
  };
  {
    const at = cpuRatio(sat);
    const at1 = cpuRatio(1);
    const also = at1.ratio !== undefined && at1.cl && at1.ip ? `; at concurrency 1: ${fmt(at1.ratio)}x (${fmt(at1.cl.cpuMsPerQuery)} vs ${fmt(at1.ip.cpuMsPerQuery)} ms, ${at1.cl.series} ${paramText(at1.cl.params)})` : '';
    const detail = !at.cl
      ? none
      : !at.ip
        ? `${describe(at.cl)} has no in-process twin`
        : `cluster ${fmt(at.cl.cpuMsPerQuery)} ms CPU/query (${describe(at.cl)}, all processes) vs ${fmt(at.ip.cpuMsPerQuery)} ms in-process (one query at a time)${also}`;
    out.push(goal(`cluster CPU per query / in-process routing + shard searches + merge, concurrency ${sat}`, '<=', 2, 'x', at.ratio, detail, !at.cl || at.ip !== undefined));
  }
  {
    const cl = bestCluster(sat);
    const router = processSplit(cl)?.router;
    out.push(goal(`router CPU per query, concurrency ${sat}`, '<=', 0.3, ' ms', router, cl ? `router process of ${describe(cl)}` : none, !cl || router !== undefined));
  }
  {
    const cl = bestCluster(1);
    const low = cluster.filter((p) => p.concurrency === 1 && p.recall >= TARGET_RECALL).sort((a, b) => a.p99Ms - b.p99Ms)[0];
    const lowest = low && low !== cl ? `; lowest p99 at recall >= ${TARGET_RECALL}: ${fmt(low.p99Ms)} ms (${low.series} ${paramText(low.params)})` : '';
    out.push(goal('p99 latency, concurrency 1', '<=', 10, ' ms', cl?.p99Ms, cl ? `${describe(cl)}${lowest}` : none));
  }
  {
    const cl = bestCluster(sat);
    const us = bestWhere(run.points, sat, isUsearch);
    const detail = !cl ? none : !us ? `${describe(cl)}; no whole-set usearch point reaches recall@10 ${TARGET_RECALL}` : `${describe(cl)} vs ${describe(us)}`;
    out.push(goal(`cluster QPS / one in-process usearch index over the whole set, concurrency ${sat}`, '>=', 0.5, 'x', cl && us ? cl.qps / us.qps : undefined, detail, !cl || us !== undefined));
  }
  return out;
}

/** A goal line as one line of text: `name — goal: X, measured: Y, met|missed|not measured (detail)`. */
export function goalLineText(g: GoalLine): string {
  return `${g.name} — goal: ${g.goal}, measured: ${g.measured}, ${g.met === undefined ? 'not measured' : g.met ? 'met' : 'missed'} (${g.detail})`;
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
    const data = usedFallbackData(run) ? 'FALLBACK bundled t10k' : 'Fashion-MNIST';
    out.set(plotFile(c), recallQpsSvg(`${data} ${run.env.dataset.baseVectors.toLocaleString('en')} x ${run.env.dataset.dim}, recall@10 vs QPS, concurrency ${c} (${run.env.mode})`, plotSeries(run, c)));
  }
  return out;
}

function pointRow(p: BenchPoint, withCalls = false): string {
  const rss = Object.entries(p.peakRssMb).map(([k, v]) => `${k} ${fmt(v, 0)}`).join(', ');
  const shards = p.shardsProbedFraction === undefined ? '-' : `${(p.shardsProbedFraction * 100).toFixed(1)}%`;
  const byProcess = p.cpuMsPerQueryByProcess ? Object.entries(p.cpuMsPerQueryByProcess).map(([k, v]) => `${k} ${fmt(v)}`).join(', ') : '-';
  const calls = withCalls ? ` ${fmt(p.nodeCallsPerQuery)} | ${fmt(p.queriesPerNodeCall)} |` : '';
  return `| ${p.series} | ${paramText(p.params)} | ${shards} | ${p.concurrency} | ${p.queries} | ${fmt(p.recall, 4)} | ${fmt(p.qps, 0)} | ${fmt(p.p50Ms)} | ${fmt(p.p99Ms)} | ${fmt(p.cpuMsPerQuery)} | ${byProcess} |${calls} ${rss} |`;
}

const POINT_HEADER = '| series | params | shards probed | conc. | queries | recall@10 | QPS | p50 ms | p99 ms | CPU ms/query | CPU ms/query by process | peak RSS MB |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|';
const CLUSTER_HEADER =
  '| series | params | shards probed | conc. | queries | recall@10 | QPS | p50 ms | p99 ms | CPU ms/query | CPU ms/query by process | node calls/query | queries/node call | peak RSS MB |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|';

/** The markdown report. */
export function renderMarkdown(run: BenchRun, resultsFile: string): string {
  const e = run.env;
  const h = headline(run);
  const L: string[] = [];
  const fallback = usedFallbackData(run);
  L.push(fallback ? `# Benchmarks — FALLBACK DATA (bundled ${e.dataset.baseVectors.toLocaleString('en')}-vector t10k split, not Fashion-MNIST train)` : '# Benchmarks');
  L.push('');
  L.push(`<!-- generated by bench/suite.ts from ${resultsFile}; do not edit by hand -->`);
  L.push('');
  if (fallback) {
    L.push('> **FALLBACK DATA**: `../shared/datasets/fashion-mnist` was not found, so this run used the small bundled t10k split. Its figures are not comparable with a run on the 60,000-vector train set.\n');
  }
  if (e.command.includes('--only') || e.command.includes('--skip-baselines')) {
    L.push(`> **This is a PARTIAL run** (\`${e.command}\`: \`--only\` keeps the cluster configurations whose name contains that text, \`--skip-baselines\` leaves out the baselines). Run \`npm run bench\` for the full sweep.\n`);
  }
  if (e.mode === 'quick') L.push('> **This is the QUICK run** (`npm run bench:quick`: fewer configurations, fewer queries and points). Run `npm run bench` for the full sweep.\n');
  L.push(`- **Data: ${e.dataset.source}**; ${e.dataset.baseVectors.toLocaleString('en')} base vectors x ${e.dataset.dim} dims (l2), ${e.dataset.queries.toLocaleString('en')} queries. ${e.dataset.note}`);
  L.push(`- Date: ${e.date}; command: \`${e.command}\` (mode ${e.mode})`);
  L.push(`- Machine: ${e.cores} cores, ${e.cpuModel}, ${e.memGb.toFixed(1)} GB RAM; Node ${e.node}; ${Object.entries(e.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  L.push(`- Recall@10 as ANN-benchmarks counts it (a result counts when its distance is within the 10th true distance + 1e-3); exact ground truth by brute force, cached in bench/.cache.`);
  L.push(`- Cluster: router + 2 shard nodes as separate processes on 127.0.0.1, queries over gRPC from a separate client process (bench/query-client.ts), closed loop at concurrency 1 and ${e.saturatingConcurrency}. CPU ms/query = utime+stime (from /proc/<pid>/stat) of router, nodes and client over the point, divided by the queries. Peak RSS = VmHWM per process, reset before each point (clear_refs).`);
  L.push(`- Baselines run in the benchmark process (CPU ms/query = all its threads). Embedded LanceDB at concurrency ${e.saturatingConcurrency} runs ${e.saturatingConcurrency} async searches at once; usearch's search is synchronous, so the whole-set usearch index runs one query at a time on one thread at concurrency 1 and, as its concurrency-${e.saturatingConcurrency} equivalent, batches of ${e.saturatingConcurrency} queries on every core (each query's latency = its batch's). hnswlib-node runs at concurrency 1 only.`);
  L.push(`- Raw results: \`${resultsFile}\`.`);
  L.push('');
  L.push('## Goals');
  L.push('');
  L.push(`Each figure comes from the best-QPS cluster configuration reaching recall@10 >= ${TARGET_RECALL} at that concurrency (any shard count, routing and backend).`);
  L.push('');
  for (const g of goalLines(run)) L.push(`- **${g.name}** — goal: ${g.goal}, measured: **${g.measured}**, ${g.met === undefined ? 'not measured' : g.met ? 'met' : 'missed'} (${g.detail}).`);
  const coalescing = best(run.points.filter((p) => p.kind === 'cluster' && p.concurrency === e.saturatingConcurrency));
  if (coalescing?.queriesPerNodeCall !== undefined) {
    L.push(`- Router node calls at concurrency ${e.saturatingConcurrency} (same configuration): ${fmt(coalescing.nodeCallsPerQuery)} node calls per query, ${fmt(coalescing.queriesPerNodeCall)} queries per node call (${coalescing.series} ${paramText(coalescing.params)}).`);
  }
  const f = h.minShardFraction;
  L.push(`- **recall@10 >= 0.95 probing <= 25% of shards** (issue 5) — goal: <= 25.0%, measured: **${f ? `${(f.fraction * 100).toFixed(1)}%` : '-'}**, ${f && f.fraction <= 0.25 ? 'met' : 'missed'} (${f ? `recall ${f.recall.toFixed(4)}, ${f.series}` : 'no cluster point reached 0.95'}).`);
  L.push('');
  L.push('## Recall vs QPS');
  L.push('');
  for (const c of [1, e.saturatingConcurrency]) L.push(`![recall vs QPS at concurrency ${c}](${plotFile(c)})\n`);
  L.push('## Cluster (gRPC, separate processes)');
  L.push('');
  L.push('Node calls/query and queries/node call come from the router\'s /metrics (SearchShards calls, and the first-wave node tasks of the Search requests per call: above 1 when the router coalesces queries waiting for a node into one call).');
  L.push('');
  L.push(CLUSTER_HEADER);
  for (const p of run.points.filter((x) => x.kind === 'cluster')) L.push(pointRow(p, true));
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
  L.push(`Median over the configurations: ${fmt(h.medianOverheadCpuMs)} ms CPU and ${fmt(h.medianOverheadP50Ms)} ms p50 latency of overhead per query${h.medianRouterCpuMs !== undefined ? `, of which the router process ${fmt(h.medianRouterCpuMs)} ms CPU` : ''}.`);
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
