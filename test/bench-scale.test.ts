/**
 * The scale bench's parts (bench/lib/clustered-data.ts, chunked-ground-truth.ts, scale-figures.ts,
 * svg-plot.ts lineSvg): seeded data that is the same on every run, ground truth in chunks equal
 * to one brute force over everything, and the table's figures from manifests and ShardDetails.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exactSearch, MetricKind, type BatchMatches } from 'usearch';
import { chunkedExactNeighbours, mergeCandidate, recallOf, type ExactNeighbours } from '../bench/lib/chunked-ground-truth.ts';
import { ensureClusteredData, readFvecsFile, type ClusteredSpec } from '../bench/lib/clustered-data.ts';
import { clusterModel } from '../src/eval/gaussian-clusters.ts';
import { diskPerVector, manifestCurves, parseStatusKb, placementLoad, shardSizeStats } from '../bench/lib/scale-figures.ts';
import { lineSvg } from '../bench/lib/svg-plot.ts';

const SPEC: ClusteredSpec = { n: 3000, queries: 50, dim: 16, clusters: 20, seed: 7, centerStd: 1, spreadMin: 0.2, spreadMax: 0.6 };

describe('bench:scale data and figures', () => {
  it('generates the same .fvecs for the same spec, reuses it, and draws queries that are not base rows', () => {
    const a = mkdtempSync(join(tmpdir(), 'scale-data-a-'));
    const b = mkdtempSync(join(tmpdir(), 'scale-data-b-'));
    try {
      const fa = ensureClusteredData(a, SPEC);
      const fb = ensureClusteredData(b, SPEC);
      assert.equal(fa.reused, false);
      assert.equal(statSync(fa.basePath).size, SPEC.n * (4 + 4 * SPEC.dim));
      assert.deepEqual(readFileSync(fa.basePath), readFileSync(fb.basePath));
      assert.deepEqual(readFileSync(fa.queriesPath), readFileSync(fb.queriesPath));
      assert.equal(ensureClusteredData(a, SPEC).reused, true);
      const other = ensureClusteredData(a, { ...SPEC, seed: 8 });
      assert.notEqual(other.key, fa.key);
      assert.notDeepEqual(readFileSync(other.basePath), readFileSync(fa.basePath));
      const base = readFvecsFile(fa.basePath, SPEC.n, SPEC.dim);
      const queries = readFvecsFile(fa.queriesPath, SPEC.queries, SPEC.dim);
      const nearest = exactSearch(base, queries, SPEC.dim, 1, MetricKind.L2sq, 1) as BatchMatches;
      for (let q = 0; q < SPEC.queries; q++) assert.ok(nearest.distances[q] > 0, `query ${q} is a copy of base row ${nearest.keys[q]}`);
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  });

  it('gives clusters uneven weights and different per-axis spreads', () => {
    const m = clusterModel(SPEC);
    const w = Array.from(m.cdf, (c, i) => c - (i ? m.cdf[i - 1] : 0));
    assert.ok(Math.max(...w) / Math.min(...w) > 3, `weights ${w.join(',')}`);
    const axes = Array.from(m.sigmas.subarray(0, SPEC.dim));
    assert.ok(Math.max(...axes) / Math.min(...axes) > 1.5, `sigmas of cluster 0: ${axes.join(',')}`);
  });

  it('computes the same top-10 in chunks as one brute force over the whole base', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scale-gt-'));
    try {
      const f = ensureClusteredData(dir, SPEC);
      const base = readFvecsFile(f.basePath, SPEC.n, SPEC.dim);
      const queries = readFvecsFile(f.queriesPath, SPEC.queries, SPEC.dim);
      const whole = exactSearch(base, queries, SPEC.dim, 10, MetricKind.L2sq, 1) as BatchMatches;
      const chunked = chunkedExactNeighbours(f.basePath, SPEC.n, SPEC.dim, queries, 10, { chunkRows: 257, threads: 1 });
      for (let q = 0; q < SPEC.queries; q++) {
        const expected = new Set(Array.from(whole.keys.subarray(q * 10, q * 10 + 10), Number));
        assert.deepEqual(new Set(chunked.rows.subarray(q * 10, q * 10 + 10)), expected, `query ${q}`);
        assert.equal(recallOf(chunked, q, [...expected].map(String)), 1);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('merges candidates in distance order and ignores ones worse than the k-th', () => {
    const nb: ExactNeighbours = { k: 3, queries: 1, rows: new Int32Array(3).fill(-1), distances: new Float32Array(3).fill(Infinity) };
    for (const [row, d] of [[5, 2], [6, 1], [7, 3], [8, 0.5], [9, 4]] as const) mergeCandidate(nb, 0, row, d);
    assert.deepEqual([...nb.rows], [8, 6, 5]);
    assert.equal(recallOf(nb, 0, ['8', '1', '5']), 2 / 3);
  });

  it('reads shard sizes, disk per vector, placement and recall curves from plain objects', () => {
    assert.deepEqual(shardSizeStats([10, 30, 20]), { min: 10, max: 30, mean: 20, maxOverMean: 1.5, maxOverMin: 3 });
    const manifest = {
      shards: [
        { db_id: 0, vector_count: 10, files: [{ path: 'runs/r/shards/db=00000/index.usearch', bytes: 400 }, { path: 'runs/r/shards/db=00000/rows.sqlite', bytes: 600 }] },
        { db_id: 1, vector_count: 30, files: [{ path: 'runs/r/shards/db=00001/index.usearch', bytes: 1200 }, { path: 'runs/r/shards/db=00001/rows.sqlite', bytes: 1800 }] },
      ],
      routing_recall: { k: 10, sample_queries: 5, sample_size: 40, recall_at_probes: [0.9, 1] },
      end_to_end_recall: { ef: [64, 64], recall_at_probes: [0.85, 0.99] },
      recall_note: 'not a curve',
    };
    assert.deepEqual(diskPerVector(manifest), { total: 100, index: 40, other: 60, byFile: { 'index.usearch': 40, 'rows.sqlite': 60 } });
    assert.deepEqual(
      manifestCurves(manifest).map((c) => [c.field, c.recallAtProbes]),
      [
        ['routing_recall', [0.9, 1]],
        ['end_to_end_recall', [0.85, 0.99]],
      ],
    );
    const load = placementLoad({
      shards: [
        { db_id: 0, vector_count: '10', bytes: '1000', replicas: [{ node_id: 'node-1', state: 'loaded' }] },
        { db_id: 1, vector_count: 30, bytes: 3000, replicas: [{ node_id: 'node-0', state: 'loaded' }] },
      ],
    });
    assert.equal(load.fullestVectorShare, 0.75);
    assert.equal(load.fullestByteNode, 'node-0');
    assert.deepEqual(load.nodes.map((n) => [n.node, n.shards, n.vectors]), [['node-0', 1, 30], ['node-1', 1, 10]]);
    assert.equal(parseStatusKb('VmRSS:\t  2048 kB\nRssAnon:\t  1024 kB\n', 'RssAnon'), 1024);
    assert.ok(Number.isNaN(parseStatusKb('VmRSS: 1 kB\n', 'RssFile')));
  });

  it('draws each line series as a polyline with a legend entry', () => {
    const svg = lineSvg('t', [{ name: 'served', points: [[1, 0.8], [2, 0.9], [4, 0.99]] }, { name: 'curve', dashed: true, points: [[1, 0.85], [2, 0.95]] }], { x: 'num_probes', y: 'recall', yMin: 0.8, yMax: 1, xTicks: [1, 2, 4] });
    assert.equal(svg.match(/<polyline/g)?.length, 2);
    assert.match(svg, />served</);
    assert.match(svg, /stroke-dasharray/);
  });
});
