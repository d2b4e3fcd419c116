/**
 * Unit tests of the benchmark suite's pure parts: the /proc parsers, the SVG plot and the report's
 * headline figures (fast; no processes).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStatCpuSeconds, parseStatusPeakRssMb } from '../bench/lib/proc-stats.ts';
import { headline, processSplit, renderMarkdown } from '../bench/lib/report.ts';
import { paretoFrontier, recallQpsSvg } from '../bench/lib/svg-plot.ts';
import type { BenchPoint, BenchRun } from '../bench/lib/types.ts';

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
  assert.match(md, /ratio \*\*2\.00x\*\*/);
});
