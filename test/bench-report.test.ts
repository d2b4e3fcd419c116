/**
 * Unit tests of the benchmark suite's pure parts: the /proc parsers, the SVG plot, the report's
 * headline figures and goal lines, the fallback-data banner, the batch measurement and the fault
 * benchmark's abuse table (fast; no processes).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStatCpuSeconds, parseStatusPeakRssMb, parseStatusRssMb } from '../bench/lib/proc-stats.ts';
import { abuseGoalMet, formatAbuseDetails, formatAbuseTable, skippedAbuseRow, type AbuseRow } from '../bench/lib/abuse-report.ts';
import { DETAILS_MAX_CHARS, truncateDetails } from '../bench/lib/abuse-wire.ts';
import { dataSourceBanner, sharedDatasetPresent } from '../bench/lib/dataset.ts';
import { K, measureBatches } from '../bench/lib/measure.ts';
import { routerCallCounts, routerCallStats } from '../bench/lib/router-calls.ts';
import { goalLines, goalLineText, headline, processSplit, renderMarkdown, usedFallbackData } from '../bench/lib/report.ts';
import { paretoFrontier, recallQpsSvg } from '../bench/lib/svg-plot.ts';
import type { BenchPoint, BenchRun } from '../bench/lib/types.ts';
import { leavingNodes } from '../bench/lib/fault-scale-down.ts';
import { placeShards, shardBytesOf } from '../src/common/placement.ts';

test('parseStatCpuSeconds reads utime + stime after a command name with spaces and parentheses', () => {
  const stat = '1234 (node (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 8 0 100 0';
  assert.equal(parseStatCpuSeconds(stat), 3);
  assert.throws(() => parseStatCpuSeconds('garbage'));
});

test('parseStatusPeakRssMb reads VmHWM in MB', () => {
  assert.equal(parseStatusPeakRssMb('Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t 1 kB\n'), 200);
  assert.ok(Number.isNaN(parseStatusPeakRssMb('Name: x\n')));
});

test('recallQpsSvg draws one polyline per multi-point series and a legend entry each', () => {
  const svg = recallQpsSvg('t <&>', [
    { name: 'a', points: [[0.9, 100], [0.99, 50]] },
    { name: 'b', points: [[0.95, 1000]], dashed: true },
  ]);
  assert.match(svg, /^<svg /);
  assert.equal((svg.match(/<polyline/g) ?? []).length, 1);
  assert.equal((svg.match(/<circle/g) ?? []).length, 3, 'two points of a and its legend marker');
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 2 + 1, 'the plot frame, b\'s square point and its legend marker');
  assert.equal((svg.match(/stroke-dasharray/g) ?? []).length, 1, 'b\'s legend line is dashed');
  assert.match(svg, /t &lt;&amp;&gt;/);
});

test('paretoFrontier keeps the points no other point beats on recall and QPS, by ascending recall', () => {
  assert.deepEqual(
    paretoFrontier([[0.9, 100], [0.95, 120], [0.99, 50], [0.93, 80], [1, 50], [Number.NaN, 1e6], [0.5, 0]]),
    [[0.95, 120], [1, 50]],
  );
  assert.deepEqual(paretoFrontier([[0.8, 300], [0.9, 200], [0.97, 100]]), [[0.8, 300], [0.9, 200], [0.97, 100]]);
  assert.deepEqual(paretoFrontier([]), []);
});

function point(p: Partial<BenchPoint>): BenchPoint {
  return { series: 's', kind: 'cluster', params: {}, concurrency: 1, queries: 10, recall: 1, qps: 1, p50Ms: 1, p99Ms: 2, cpuMsPerQuery: 1, peakRssMb: {}, ...p };
}

test('headline: shard fraction, QPS ratio vs embedded LanceDB and router overhead', () => {
  const run: BenchRun = {
    env: {
      date: '2026-01-01T00:00:00Z', command: 'npm run bench:quick', mode: 'quick', cpuModel: 'cpu', cores: 2, memGb: 4, node: 'v20', versions: {},
      dataset: { source: 'x', baseVectors: 100, queries: 10, dim: 4, note: '' }, saturatingConcurrency: 16,
    },
    points: [
      point({ series: 'cluster 8sh', params: { num_probes: 1 }, recall: 0.9, qps: 300, shardsProbedFraction: 0.125, cpuMsPerQuery: 2 }),
      point({ series: 'cluster 8sh', params: { num_probes: 2 }, recall: 0.97, qps: 200, shardsProbedFraction: 0.25, cpuMsPerQuery: 3, cpuMsPerQueryByProcess: { router: 0.25, 'node-0': 1, 'node-1': 1.5, client: 0.25 } }),
      point({ series: 'in-process 8sh', kind: 'in-process', params: { num_probes: 2 }, recall: 0.97, qps: 400, cpuMsPerQuery: 2.6, p50Ms: 0.5 }),
      point({ series: 'embedded lancedb flat', kind: 'baseline', recall: 1, qps: 100 }),
    ],
    builds: [],
    notes: [],
  };
  const h = headline(run);
  assert.equal(h.minShardFraction?.fraction, 0.25);
  assert.equal(h.ratios[0].ratio, 2);
  assert.ok(Math.abs((h.medianOverheadCpuMs ?? NaN) - 0.4) < 1e-9);
  assert.equal(h.medianRouterCpuMs, 0.25);
  assert.deepEqual(processSplit(run.points[1]), { router: 0.25, nodes: 2.5, client: 0.25 });
  assert.equal(processSplit(run.points[0]), undefined);
  const md = renderMarkdown(run, 'bench/results/x.json');
  // cost-of-distribution row: in-process 2.6, cluster 3, router 0.25, nodes 2.5, client 0.25, overhead 0.4
  assert.match(md, /\| 8sh \| num_probes=2 \| 2\.60 \| 3\.00 \| 0\.25 \| 2\.50 \| 0\.25 \| 0\.40 \|/);
  assert.match(md, /QUICK run/);
  assert.match(md, /embedded LanceDB QPS, concurrency 1\*\* — goal: >= 1x, measured: \*\*2\.00x\*\*, met/);
});

function goalRun(points: BenchPoint[], dataset: Partial<BenchRun['env']['dataset']> = {}): BenchRun {
  return {
    env: {
      date: '2026-01-01T00:00:00Z', command: 'npm run bench', mode: 'full', cpuModel: 'cpu', cores: 2, memGb: 4, node: 'v20', versions: {},
      dataset: { source: 'x', baseVectors: 100, queries: 10, dim: 4, note: '', ...dataset }, saturatingConcurrency: 16,
    },
    points,
    builds: [],
    notes: [],
  };
}

const GOAL_POINTS: BenchPoint[] = [
  // c=16: the fastest cluster point misses recall 0.95, so the 800 QPS one is the best.
  point({ series: 'cluster 8sh cluster usearch-f16', params: { num_probes: 1, ef: 16 }, concurrency: 16, recall: 0.9, qps: 2000, cpuMsPerQuery: 1 }),
  point({ series: 'cluster 8sh cluster usearch-f16', params: { num_probes: 2, ef: 32 }, concurrency: 16, recall: 0.96, qps: 800, p99Ms: 40, cpuMsPerQuery: 2.4, cpuMsPerQueryByProcess: { router: 0.5, 'node-0': 0.8, 'node-1': 0.8, client: 0.3 } }),
  point({ series: 'cluster 8sh cluster lancedb', params: { num_probes: 2 }, concurrency: 16, recall: 0.99, qps: 300, cpuMsPerQuery: 6 }),
  // c=1: best QPS at 0.95 is usearch ef=32 (p99 12 ms); the lancedb point has the lower p99.
  point({ series: 'cluster 8sh cluster usearch-f16', params: { num_probes: 2, ef: 32 }, concurrency: 1, recall: 0.96, qps: 300, p99Ms: 12, cpuMsPerQuery: 3 }),
  point({ series: 'cluster 8sh cluster lancedb', params: { num_probes: 2 }, concurrency: 1, recall: 0.99, qps: 100, p99Ms: 9, cpuMsPerQuery: 8 }),
  point({ series: 'in-process 8sh cluster usearch-f16', kind: 'in-process', params: { num_probes: 2, ef: 32 }, recall: 0.96, qps: 3000, cpuMsPerQuery: 0.8 }),
  point({ series: 'in-process 8sh cluster usearch-f16', kind: 'in-process', params: { num_probes: 2, ef: 16 }, recall: 0.93, qps: 5000, cpuMsPerQuery: 0.1 }),
  point({ series: 'embedded lancedb hnsw_sq', kind: 'baseline', params: { ef: 32 }, concurrency: 16, recall: 0.98, qps: 1000 }),
  point({ series: 'embedded lancedb hnsw_sq', kind: 'baseline', params: { ef: 16 }, concurrency: 16, recall: 0.88, qps: 5000 }),
  point({ series: 'embedded lancedb hnsw_sq', kind: 'baseline', params: { ef: 32 }, concurrency: 1, recall: 0.98, qps: 250 }),
  point({ series: 'usearch f16 whole set', kind: 'baseline', params: { ef: 64 }, concurrency: 16, recall: 0.99, qps: 4000 }),
  point({ series: 'usearch f16 whole set', kind: 'baseline', params: { ef: 64 }, concurrency: 1, recall: 0.99, qps: 2500 }),
];

test('goalLines: each goal from the best-QPS cluster point at recall >= 0.95, against its baseline or twin', () => {
  const g = goalLines(goalRun(GOAL_POINTS));
  assert.deepEqual(
    g.map((x) => [x.name, x.goal, x.measured, x.met]),
    [
      ['cluster QPS / embedded LanceDB QPS, concurrency 16', '>= 2x', '0.80x', false],
      ['cluster QPS / embedded LanceDB QPS, concurrency 1', '>= 1x', '1.20x', true],
      ['cluster CPU per query / in-process routing + shard searches + merge, concurrency 16', '<= 2x', '3.00x', false],
      ['router CPU per query, concurrency 16', '<= 0.3 ms', '0.50 ms', false],
      ['p99 latency, concurrency 1', '<= 10 ms', '12.00 ms', false],
      ['cluster QPS / one in-process usearch index over the whole set, concurrency 16', '>= 0.5x', '0.20x', false],
    ],
  );
  assert.match(g[2].detail, /at concurrency 1: 3\.75x/, 'c=1 CPU ratio 3 / 0.8 is reported beside the goal');
  assert.match(g[4].detail, /lowest p99 at recall >= 0\.95: 9\.00 ms \(cluster 8sh cluster lancedb/);
  assert.equal(goalLineText(g[1]), `cluster QPS / embedded LanceDB QPS, concurrency 1 — goal: >= 1x, measured: 1.20x, met (${g[1].detail})`);
});

test('goalLines: without baselines the comparisons are not measured; without a cluster point at 0.95 they are missed', () => {
  const noBaselines = goalLines(goalRun(GOAL_POINTS.filter((p) => p.kind !== 'baseline')));
  assert.deepEqual(noBaselines.map((x) => x.met), [undefined, undefined, false, false, false, undefined]);
  assert.equal(noBaselines[0].measured, '-');
  const low = goalLines(goalRun(GOAL_POINTS.map((p) => (p.kind === 'cluster' ? { ...p, recall: 0.9 } : p))));
  assert.ok(low.every((x) => x.met === false && x.measured === '-'), JSON.stringify(low));
  assert.match(low[0].detail, /no cluster point reaches recall@10 0\.95/);
  assert.match(goalLineText(low[0]), /measured: -, missed/);
});

test('renderMarkdown prints the goal lines; a fallback run says so in its title', () => {
  const md = renderMarkdown(goalRun(GOAL_POINTS), 'bench/results/x.json');
  assert.match(md, /^# Benchmarks\n/);
  assert.match(md, /- \*\*cluster QPS \/ embedded LanceDB QPS, concurrency 16\*\* — goal: >= 2x, measured: \*\*0\.80x\*\*, missed \(/);
  assert.match(md, /- \*\*p99 latency, concurrency 1\*\* — goal: <= 10 ms, measured: \*\*12\.00 ms\*\*, missed/);
  const fb = goalRun(GOAL_POINTS, { source: 'FALLBACK: bundled examples/data/fashion-mnist t10k', baseVectors: 9000, fallback: true });
  assert.equal(usedFallbackData(fb), true);
  assert.match(renderMarkdown(fb, 'bench/results/x.json'), /^# Benchmarks — FALLBACK DATA \(bundled 9,000-vector t10k split/);
  // Results recorded before the flag existed: the source text decides.
  assert.equal(usedFallbackData(goalRun([], { source: 'bundled examples/data/fashion-mnist t10k (rows 0..8999)' })), true);
  assert.equal(usedFallbackData(goalRun([], { source: '../shared/datasets/fashion-mnist (train rows 0..59999)' })), false);
});

test('dataSourceBanner names the data, and warns on the fallback', () => {
  const banner = dataSourceBanner(20_000, 300);
  if (sharedDatasetPresent()) assert.equal(banner, 'data: Fashion-MNIST from ../shared/datasets/fashion-mnist, 20,000 train vectors as base, 300 t10k queries');
  else assert.match(banner, /^WARNING: FALLBACK DATA: .*9,000 base vectors, 300 queries/);
});

test('measureBatches answers rows in batches of the concurrency and charges each query its batch time', async () => {
  const queryCount = 3;
  const gt = new Float32Array(queryCount * K).map((_, i) => i % K); // true scores 0..9 per row
  const batches: number[][] = [];
  const p = await measureBatches('b', 'baseline', { ef: 8 }, queryCount, gt, { concurrency: 2, maxQueries: 5, durationMs: 60_000 }, (rows) => {
    batches.push(rows);
    const end = performance.now() + 5;
    while (performance.now() < end); // 5 ms per batch
    // row 1 returns scores beyond the 10th true distance: recall 0 for it
    return rows.map((r) => Array.from({ length: K }, (_, i) => (r === 1 ? 100 + i : i)));
  });
  assert.deepEqual(batches, [[0, 1], [2, 0], [1]]);
  assert.equal(p.queries, 5);
  assert.equal(p.concurrency, 2);
  assert.ok(Math.abs(p.recall - 2 / 3) < 1e-9, `recall ${p.recall}`);
  // Each batch takes at least 5 ms (no upper bound: the machine may be busy), so every query is
  // charged at least that and 5 queries in 3 batches take at least 15 ms.
  assert.ok(p.p50Ms >= 5, `p50 ${p.p50Ms}`);
  assert.ok(p.qps > 0 && p.qps <= 5 / 0.015, `qps ${p.qps}`);
});

test('routerCallStats: node calls per query and queries per node call between two scrapes', () => {
  const text = (requests: number, tasks: number, calls0: number, calls1: number): string =>
    [
      '# HELP shardfleet_router_fanout_nodes x',
      `shardfleet_router_fanout_nodes_sum{rpc="Search",component="router"} ${tasks}`,
      `shardfleet_router_fanout_nodes_count{rpc="Search",component="router"} ${requests}`,
      'shardfleet_router_fanout_nodes_count{rpc="BatchSearch",component="router"} 1000',
      `shardfleet_router_node_rpc_duration_seconds_count{node="node-0",outcome="ok",component="router"} ${calls0}`,
      `shardfleet_router_node_rpc_duration_seconds_count{node="node-1",outcome="ok",component="router"} ${calls1}`,
      'shardfleet_router_node_rpc_duration_seconds_count{node="node-1",outcome="error",component="router"} 1',
    ].join('\n');
  const before = routerCallCounts(text(10, 15, 8, 8));
  assert.deepEqual(before, { requests: 10, nodeTasks: 15, nodeCalls: 17 });
  // 100 queries needing 180 node tasks, sent in 60 calls: 0.6 calls per query, 3 queries per call.
  const s = routerCallStats(before, routerCallCounts(text(110, 195, 38, 38)));
  assert.ok(s && Math.abs(s.nodeCallsPerQuery - 0.6) < 1e-9 && Math.abs(s.queriesPerNodeCall - 3) < 1e-9, JSON.stringify(s));
  assert.equal(routerCallStats(before, before), undefined, 'no requests in between');
  // With the router's queries-per-call histogram, it decides (here 4 queries per call, not 3).
  const hist = (sum: number, count: number): string =>
    `\nshardfleet_router_node_call_queries_sum{node="node-0",component="router"} ${sum}\nshardfleet_router_node_call_queries_count{node="node-0",component="router"} ${count}`;
  const h0 = routerCallCounts(text(10, 15, 8, 8) + hist(30, 17));
  assert.deepEqual(h0.callQueries, { sum: 30, count: 17 });
  assert.equal(routerCallStats(h0, routerCallCounts(text(110, 195, 38, 38) + hist(270, 77)))?.queriesPerNodeCall, 4);
  assert.equal(routerCallStats(undefined, before), undefined, 'a failed scrape');
});

test('parseStatusRssMb reads VmRSS in MB', () => {
  assert.equal(parseStatusRssMb('Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n'), 100);
  assert.ok(Number.isNaN(parseStatusRssMb('Name: x\n')));
});

test('truncateDetails cuts a long status message and says how long it was', () => {
  assert.equal(truncateDetails('short\nmessage'), 'short message');
  const cut = truncateDetails(`routing_context ${'x'.repeat(5000)}`);
  assert.ok(cut.length < DETAILS_MAX_CHARS + 30, cut);
  assert.match(cut, /\.\.\. \(5016 chars\)$/);
});

function abuseRow(r: Partial<AbuseRow>): AbuseRow {
  return {
    ...skippedAbuseRow('case', 'router', 'req', ''),
    skipped: undefined,
    seconds: 3,
    status: 'RESOURCE_EXHAUSTED',
    details: 'message too large | 41 MB',
    detailsChars: 24,
    callMs: 12.5,
    probe: 'OK in 3 ms',
    targetAlive: true,
    lost: [],
    rss: { beforeMb: 190.4, peakMb: 250.6, afterMb: 200 },
    peakRssMb: { router: 251, 'node-0': 180 },
    load: { router: 'router', sent: 400, failed: 0, failedByStatus: {}, worstMs: 35.2, p99Ms: 20 },
    healthAfter: 'healthy run-abuse',
    recoverS: 0.3,
    ...r,
  };
}

test('formatAbuseTable: one row per case with status, probe, survival, RSS, load and goal; skipped rows say why', () => {
  const ok = abuseRow({ name: '40 MB BatchSearch' });
  ok.goalMet = abuseGoalMet(ok);
  const dead = abuseRow({
    name: 'heavy',
    status: 'UNAVAILABLE',
    details: '',
    targetAlive: false,
    lost: ['router (signal SIGKILL: the bench\'s RSS cap, 1600 MB > 1536 MB)'],
    rss: { beforeMb: 190, peakMb: 1600, afterMb: Number.NaN },
    load: { router: 'router', sent: 50, failed: 7, failedByStatus: { UNAVAILABLE: 7 }, worstMs: 10_000, p99Ms: 9000 },
  });
  dead.goalMet = abuseGoalMet(dead);
  const skipped = skippedAbuseRow('fifo', 'node', 'a FIFO', 'not measured');
  assert.equal(ok.goalMet, true);
  assert.equal(dead.goalMet, false);
  assert.equal(abuseGoalMet({ targetAlive: true, lost: [], load: { ...ok.load!, failed: 1 } }), false, 'a failed normal query misses the goal');
  const lines = formatAbuseTable([ok, dead, skipped]).split('\n');
  assert.equal(lines.length, 5, 'header, separator, 3 rows');
  assert.equal(lines[0].split(' | ').length, lines[1].split('|').length - 2, 'as many separators as columns');
  assert.equal(
    lines[2],
    '| 40 MB BatchSearch | router | req | RESOURCE_EXHAUSTED: message too large \\| 41 MB | 12.5 | OK in 3 ms | yes | none | 190 / 251 / 200 | 400 / 0 | 35.2 | healthy run-abuse | met |',
  );
  assert.match(lines[3], /\| UNAVAILABLE \| 12\.5 \| OK in 3 ms \| NO \| router \(signal SIGKILL: the bench's RSS cap, 1600 MB > 1536 MB\) \| 190 \/ 1600 \/ \? \| 50 \/ 7 \(UNAVAILABLE 7\) \| 10000 \| healthy run-abuse \| MISSED \|$/);
  assert.match(lines[4], /^\| fifo \| node \| a FIFO \| SKIPPED: not measured \|/);
  const details = formatAbuseDetails([ok, skipped]);
  assert.match(details, /- 40 MB BatchSearch \(3\.0 s; status message 24 chars; full redundancy again after 0\.3 s\):\n {4}peak RSS MB: router 251, node-0 180/);
  assert.match(details, /- fifo: skipped: not measured/);
});

test("the fault bench's scale scenarios take shard 0's owners as routers place the run (by bytes), not shard 0 placed alone", () => {
  // Sizes where the byte cap moves shard 0 off its two highest rendezvous weights among node-0..3.
  const sizes = [366_389, 2_412_509, 1_742_791, 1_875_210, 963_242, 1_877_064, 2_184_853, 3_161_572];
  const shards = sizes.map((bytes, db_id) => ({ db_id, vector_count: 1000, files: [{ bytes }] }));
  const nodes = ['node-0', 'node-1', 'node-2', 'node-3'];
  const routers = placeShards(shards.map((s) => s.db_id), nodes, { replication: 2, bytes: shardBytesOf(shards) }).get(0)!;
  assert.notDeepEqual([...routers].sort(), [...placeShards([0], nodes, { replication: 2 }).get(0)!].sort(), 'the case tells the two apart');
  assert.deepEqual(leavingNodes({ shards }, 2), routers);
});
