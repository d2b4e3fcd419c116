/**
 * Checks shared by the cluster tests: compare router answers with exact brute force over the
 * vectors of the shards the router probed.
 */
import assert from 'node:assert/strict';
import { CentroidRouter } from '../../src/common/cluster-routing.ts';
import { loadCentroids } from '../../src/common/centroids.ts';
import type { Manifest } from '../../src/common/manifest.ts';
import type { ObjectStore } from '../../src/common/storage/object-store.ts';
import { exactTopK } from '../../src/eval/exact-knn.ts';
import type { ShardfleetClient } from '../../src/client/router-client.ts';
import { readIdxImages } from '../../src/writer/input/idx-source.ts';
import { FASHION_IMAGES } from './fixtures.ts';

/** Base vectors of a Fashion-MNIST snapshot and the shard each one was assigned to. */
export interface GroundTruth {
  base: Float32Array;
  ids: string[];
  dim: number;
  /** Rows of each shard. */
  rowsOfShard: number[][];
}

/** Loads the first `limit` images and assigns them with the run's own centroids. */
export async function groundTruth(store: ObjectStore, manifest: Manifest, limit: number): Promise<GroundTruth> {
  const images = await readIdxImages(FASHION_IMAGES, { limit });
  const router = new CentroidRouter(await loadCentroids(store, manifest), images.dim, 'l2');
  const rowsOfShard: number[][] = manifest.shards.map(() => []);
  for (let r = 0; r < images.count; r++) rowsOfShard[router.assign(images.vectors, r)].push(r);
  return { base: images.vectors, ids: Array.from({ length: images.count }, (_, i) => String(i)), dim: images.dim, rowsOfShard };
}

/**
 * Sends `queries` (rows start..start+limit-1 of the t10k images) through the router and asserts
 * each answer equals exact brute force over the probed shards: same scores (float32 tolerance)
 * and the same ids wherever the score is not tied.
 */
export async function assertRouterMatchesBruteForce(
  client: ShardfleetClient,
  truth: GroundTruth,
  queryRange: { start: number; limit: number },
  numProbes: number,
  topK = 10,
): Promise<void> {
  const queries = await readIdxImages(FASHION_IMAGES, queryRange);
  assert.equal(queries.count, queryRange.limit);
  for (let q = 0; q < queries.count; q++) {
    const vector = queries.vectors.subarray(q * truth.dim, (q + 1) * truth.dim);
    const res = await client.search({ vector, topK, numProbes });
    assert.equal(res.shard_ids.length, numProbes);
    assert.equal(res.num_shards_queried, numProbes);
    const rows = res.shard_ids.flatMap((s) => truth.rowsOfShard[s]);
    const exact = exactTopK(truth.base, truth.ids, queries.vectors, q, truth.dim, topK, 'l2', rows);
    assert.equal(res.results.length, exact.length, `query ${q}: result count`);
    for (let i = 0; i < exact.length; i++) {
      const got = res.results[i];
      const want = exact[i];
      assert.ok(Math.abs(got.score - want.score) <= 1e-4 * Math.max(1, want.score), `query ${q} rank ${i}: score ${got.score} != ${want.score}`);
      const tied = exact.filter((e) => Math.abs(e.score - want.score) <= 1e-4 * Math.max(1, want.score)).length > 1;
      if (!tied) assert.equal(got.id, want.id, `query ${q} rank ${i}`);
    }
  }
}
