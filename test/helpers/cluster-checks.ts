/**
 * Checks shared by the cluster tests: compare router answers with exact brute force over the
 * vectors of the shards the router probed.
 */
import assert from 'node:assert/strict';
import type { Manifest } from '../../src/common/manifest.ts';
import { loadShardRouting } from '../../src/common/routing/load-routing.ts';
import type { RoutingContext } from '../../src/common/routing/routing-context.ts';
import type { ObjectStore } from '../../src/common/storage/object-store.ts';
import { exactTopK } from '../../src/eval/exact-knn.ts';
import type { ShardfleetClient } from '../../src/client/router-client.ts';
import type { VectorSource } from '../../src/writer/input/vector-record.ts';
import { createRecordAssigner } from '../../src/writer/record-assigner.ts';
import { openIdxSource } from '../../src/writer/input/idx-source.ts';
import { FASHION_IMAGES, FASHION_LABELS } from './fixtures.ts';

/** Base vectors of a snapshot and the shard each one was assigned to. */
export interface GroundTruth {
  /** `Float32Array` of length n * dim. */
  base: Float32Array;
  ids: string[];
  dim: number;
  /** Rows of each shard. */
  rowsOfShard: number[][];
  /** Routing context of each row (CEL), if any. */
  contexts: (RoutingContext | undefined)[];
  /** Shard id of each row as given in the input (EXPLICIT), if any. */
  shardIdOfRow: (number | undefined)[];
}

/**
 * Reads `source` and assigns every record with the run's own routing function (loaded from the
 * store, as a router does; capacity-capped for balanced runs, as the writer does), then checks
 * that the per-shard counts equal the manifest's.
 */
export async function groundTruthOf(store: ObjectStore, manifest: Manifest, source: VectorSource): Promise<GroundTruth> {
  const routing = await loadShardRouting(store, manifest);
  const assign = createRecordAssigner(manifest.sharding, routing, manifest.build_stats.total_vectors);
  const dim = manifest.index.dim;
  const vectors: number[] = [];
  const ids: string[] = [];
  const contexts: (RoutingContext | undefined)[] = [];
  const shardIdOfRow: (number | undefined)[] = [];
  const rowsOfShard: number[][] = manifest.shards.map(() => []);
  for await (const record of source.records()) {
    rowsOfShard[assign(record)].push(ids.length);
    ids.push(record.id);
    contexts.push(record.routingContext);
    shardIdOfRow.push(record.shardId);
    for (const x of record.vector) vectors.push(x);
  }
  assert.deepEqual(
    rowsOfShard.map((rows) => rows.length),
    manifest.shards.map((s) => s.vector_count),
    'per-shard vector counts differ from the manifest',
  );
  return { base: Float32Array.from(vectors), ids, dim, rowsOfShard, contexts, shardIdOfRow };
}

/** Ground truth for the first `limit` Fashion-MNIST t10k images (ids are row numbers). */
export async function groundTruth(store: ObjectStore, manifest: Manifest, limit: number): Promise<GroundTruth> {
  return groundTruthOf(store, manifest, await openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, limit }));
}

/**
 * Asserts that a router answer equals exact brute force over the rows of the shards it probed:
 * same scores (float32 tolerance) and the same ids wherever the score is not tied.
 * @param query `Float32Array` of length dim.
 */
export function assertMatchesBruteForce(
  truth: GroundTruth,
  query: Float32Array,
  res: { results: { id: string; score: number }[]; shard_ids: number[] },
  topK: number,
  metric: Manifest['index']['metric'],
  label: string,
): void {
  const rows = res.shard_ids.flatMap((s) => truth.rowsOfShard[s]);
  const exact = exactTopK(truth.base, truth.ids, query, 0, truth.dim, topK, metric, rows);
  assert.equal(res.results.length, exact.length, `${label}: result count`);
  for (let i = 0; i < exact.length; i++) {
    const got = res.results[i];
    const want = exact[i];
    const tol = 1e-4 * Math.max(1, Math.abs(want.score));
    assert.ok(Math.abs(got.score - want.score) <= tol, `${label} rank ${i}: score ${got.score} != ${want.score}`);
    const tied = exact.filter((e) => Math.abs(e.score - want.score) <= tol).length > 1;
    if (!tied) assert.equal(got.id, want.id, `${label} rank ${i}`);
  }
}

/**
 * Sends `queries` (rows start..start+limit-1 of the t10k images) through the router and asserts
 * each answer equals exact brute force over the probed shards.
 */
export async function assertRouterMatchesBruteForce(
  client: ShardfleetClient,
  truth: GroundTruth,
  queryRange: { start: number; limit: number },
  numProbes: number,
  topK = 10,
): Promise<void> {
  const source = await openIdxSource({ imagesPath: FASHION_IMAGES, start: queryRange.start, limit: queryRange.limit });
  let q = 0;
  for await (const record of source.records()) {
    const res = await client.search({ vector: record.vector, top_k: topK, num_probes: numProbes });
    assert.equal(res.shard_ids.length, numProbes);
    assert.equal(res.num_shards_queried, numProbes);
    assertMatchesBruteForce(truth, record.vector, res, topK, 'l2', `query ${q++}`);
  }
  assert.equal(q, queryRange.limit);
}
