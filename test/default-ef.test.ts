/**
 * The run's default ef_search from its measured end-to-end recall (src/writer/default-ef.ts):
 * the chooser on hand-made tables, and two real builds of 20,000 random 64-d Gaussian vectors
 * (no cluster structure: inside a shard the hardest case for an HNSW beam), where ef 64 falls
 * short of the table's best recall@10 at the default num_probes: without `--ef-search` the
 * manifest's ef_search is raised to the smallest measured ef within 0.005 of the best; with an
 * explicit ef_search it is kept.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SearchRecall } from '../src/common/manifest.ts';
import { encodeNpy } from '../src/common/npy.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { defaultEfFromRecall, withMeasuredDefaultEf } from '../src/writer/default-ef.ts';
import { openNpySource } from '../src/writer/input/npy-source.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';
import { quietLogger, tempDir } from './helpers/fixtures.ts';

const table = (recall: number[][]): SearchRecall => ({ k: 10, sample_queries: 500, ground_truth_vectors: 100_000, ef: [32, 64, 128, 256, 512], recall });

test('defaultEfFromRecall: the smallest ef within 0.005 of the best at the default num_probes, never below the configured ef', () => {
  const t = table([
    [0.6, 0.61, 0.62, 0.63, 0.64],
    [0.86, 0.914, 0.962, 0.98, 0.983],
  ]);
  assert.equal(defaultEfFromRecall(t, 2, 64), 256, '0.980 >= 0.983 - 0.005; 0.962 is not');
  assert.equal(defaultEfFromRecall(t, 1, 64), 512, 'row 1: only 512 is within 0.005 of 0.64');
  assert.equal(defaultEfFromRecall(t, 2, 300), 300, 'an ef above every measured one that meets the target is kept');
  assert.equal(defaultEfFromRecall(table([[0.95, 0.99, 0.992, 0.993, 0.993]]), 1, 64), 64, 'ef 64 already within 0.005: unchanged');
  assert.equal(defaultEfFromRecall(table([[0.95, 0.99, 0.992, 0.993, 0.993]]), 1, 32), 64, 'a lower configured ef is raised too');
  assert.equal(defaultEfFromRecall(t, 3, 64), 64, 'no row for num_probes 3: unchanged');
  const index = { dim: 2, metric: 'l2' as const, backend: 'usearch' as const, index_type: 'hnsw', index_params: { quantization: 'f16', m: 16, ef_construction: 128, ef_search: 64 } };
  assert.equal(withMeasuredDefaultEf(index, 2, true, t).index_params.ef_search, 256);
  assert.equal(withMeasuredDefaultEf(index, 2, false, t), index, 'an explicit --ef-search is kept');
  assert.equal(withMeasuredDefaultEf(index, 2, true, undefined), index, 'no table: unchanged');
  assert.equal(withMeasuredDefaultEf({ ...index, backend: 'lancedb' }, 2, true, t).index_params.ef_search, 64, 'usearch only');
});

describe('real builds where ef 64 is not enough (20,000 random 64-d vectors, 2 shards, num_probes 2)', () => {
  const N = 20_000;
  const DIM = 64;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let input: string;

  before(async () => {
    dir = await tempDir('default-ef');
    const rng = new SeededRandom(3);
    input = join(dir.path, 'random.npy');
    await writeFile(input, encodeNpy(Float32Array.from({ length: N * DIM }, () => rng.nextGaussian()), [N, DIM]));
  });
  after(() => dir?.remove());

  const build = async (name: string, efSearch?: number) =>
    buildSnapshot({
      store: openObjectStore(join(dir.path, name)),
      source: await openNpySource({ path: input }),
      sharding: { strategy: 'cluster', numDbs: 2, numProbes: 2 },
      backend: { backend: 'usearch', ...(efSearch === undefined ? {} : { efSearch }) },
      metric: 'l2',
      seed: 1,
      progress: false,
      log: quietLogger(),
    });

  test('without --ef-search the published ef_search reaches the best measured recall within 0.005; with it, it is kept', async () => {
    const auto = (await build('auto')).manifest;
    const t = auto.search_recall;
    assert.ok(t, 'the build measured search_recall');
    const row = t.recall[1];
    const ef = auto.index.index_params.ef_search as number;
    const at = (e: number): number => row[t.ef.indexOf(e)];
    console.log(`# recall@10 at num_probes 2 by ef ${t.ef.join('/')}: ${row.join(' / ')}; published ef_search ${ef}`);
    assert.ok(at(64) < Math.max(...row) - 0.005, `the data must make ef 64 fall short for this test to mean anything: ${row.join(', ')}`);
    assert.ok(ef > 64, `ef_search raised: ${ef}`);
    assert.ok(at(ef) >= Math.max(...row) - 0.005, `recall at ef ${ef} is within 0.005 of the best`);
    assert.ok(t.ef.filter((e) => e > 64 && e < ef).every((e) => at(e) < Math.max(...row) - 0.005), 'and it is the smallest such ef');
    const fixed = (await build('fixed', 64)).manifest;
    assert.equal(fixed.index.index_params.ef_search, 64, 'an explicit ef_search is never changed');
  });
});
