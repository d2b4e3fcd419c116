/**
 * The writer end to end, in-process, against a real file:// store and real LanceDB tables:
 * what a successful build publishes, and that bad input fails with a clear error, uploads
 * nothing and never moves `_CURRENT`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CentroidRouter } from '../src/common/cluster-routing.ts';
import { loadVectorMeta } from '../src/common/routing/vector-meta.ts';
import type { ClusterOptions } from '../src/writer/build-options.ts';
import { ConfigValidationError, InputRecordError, VectorIndexError } from '../src/common/errors.ts';
import { sha256Hex } from '../src/common/file-digest.ts';
import { CURRENT_KEY, parseCurrentPointer, parseManifest } from '../src/common/manifest.ts';
import { encodeNpyFloat32 } from '../src/common/npy.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { buildSnapshot, type BuildOptions } from '../src/writer/build-snapshot.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { quietLogger, tempDir, TINY_JSONL } from './helpers/fixtures.ts';

async function jsonlRecords(path: string): Promise<{ id: string; vector: number[] }[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { id: string; vector: number[] });
}

describe('build a snapshot from JSONL into a file:// store', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: FileObjectStore;
  const build = async (path: string, extra: Partial<BuildOptions> = {}, cluster: Partial<ClusterOptions> = {}) =>
    buildSnapshot({
      store,
      source: await openJsonlSource({ path }),
      sharding: { strategy: 'cluster', numDbs: 4, numProbes: 2, ...cluster },
      metric: 'l2',
      seed: 3,
      progress: false,
      log: quietLogger(),
      ...extra,
    });

  before(async () => {
    dir = await tempDir('writer');
    store = new FileObjectStore(join(dir.path, 'store'));
  });
  after(async () => {
    await store.close();
    await dir.remove();
  });

  test('publishes a valid manifest, verified shard files, centroids and _CURRENT', async () => {
    const result = await build(TINY_JSONL);
    const pointer = parseCurrentPointer(await store.get(CURRENT_KEY));
    assert.equal(pointer.run_id, result.runId);
    assert.equal(pointer.manifest_ref, result.manifestKey);
    const manifest = parseManifest(await store.get(result.manifestKey), result.manifestKey);
    assert.equal(manifest.sharding.num_dbs, 4);
    assert.equal(manifest.index.dim, 8);
    assert.deepEqual(manifest.payload_columns, ['cluster', 'color', 'n']);

    // Every listed file exists with the recorded size and sha256.
    for (const shard of manifest.shards) {
      for (const file of shard.files) {
        const bytes = await store.get(shard.url + file.path);
        assert.equal(bytes.length, file.bytes);
        assert.equal(sha256Hex(bytes), file.sha256);
      }
    }

    // Shard sizes equal an independent nearest-centroid assignment of every record.
    assert.equal(manifest.sharding.strategy, 'cluster');
    if (manifest.sharding.strategy !== 'cluster') return;
    const centroids = await loadVectorMeta(store, manifest.sharding.centroids, [4, 8], manifest.run_id);
    const router = new CentroidRouter(centroids, 8, 'l2');
    const expected = [0, 0, 0, 0];
    const records = await jsonlRecords(TINY_JSONL);
    for (const r of records) expected[router.assign(Float32Array.from(r.vector), 0)]++;
    assert.deepEqual(
      manifest.shards.map((s) => s.vector_count),
      expected,
    );
    assert.equal(manifest.build_stats.total_vectors, records.length);
  });

  test('the same input and seed give the same centroids', async () => {
    const a = await build(TINY_JSONL);
    const b = await build(TINY_JSONL);
    assert.ok(a.manifest.sharding.strategy === 'cluster' && b.manifest.sharding.strategy === 'cluster');
    const ca = await store.get(a.manifest.sharding.centroids.ref);
    const cb = await store.get(b.manifest.sharding.centroids.ref);
    assert.ok(ca.equals(cb));
    assert.notEqual(a.runId, b.runId);
  });

  const badCases: { name: string; lines: string[]; error: abstract new (...args: never[]) => Error; match: RegExp }[] = [
    {
      name: 'a dimension mismatch names the line',
      lines: ['{"id":"a","vector":[1,2,3]}', '{"id":"b","vector":[1,2,3]}', '{"id":"c","vector":[1,2]}', '{"id":"d","vector":[1,2,3]}'],
      error: InputRecordError,
      match: /line 3.*2 dimensions, expected 3/,
    },
    {
      name: 'an infinite element names the line',
      lines: ['{"id":"a","vector":[1,2,3]}', '{"id":"b","vector":[1,1e400,3]}', '{"id":"c","vector":[1,2,3]}', '{"id":"d","vector":[1,2,3]}'],
      error: InputRecordError,
      match: /line 2.*element 1/,
    },
    {
      name: 'a duplicate id names both places',
      lines: ['{"id":"a","vector":[1,2,3]}', '{"id":"b","vector":[1,2,3]}', '{"id":"a","vector":[1,2,4]}', '{"id":"d","vector":[1,2,3]}'],
      error: InputRecordError,
      match: /line 3.*"a".*line 1/,
    },
    { name: 'empty input', lines: [], error: ConfigValidationError, match: /no vectors/ },
    {
      name: 'fewer vectors than shards',
      lines: ['{"id":"a","vector":[1,2,3]}', '{"id":"b","vector":[1,2,4]}'],
      error: ConfigValidationError,
      match: /2 vectors cannot fill 4 shards/,
    },
  ];
  for (const c of badCases) {
    test(`bad input: ${c.name}; nothing uploaded, _CURRENT unchanged`, async () => {
      const before = await store.get(CURRENT_KEY);
      const keysBefore = (await store.list('')).map((o) => o.key);
      const path = join(dir.path, `bad-${keysBefore.length}.jsonl`);
      await writeFile(path, c.lines.join('\n') + '\n');
      await assert.rejects(build(path), (err: unknown) => {
        assert.ok(err instanceof c.error, `expected ${c.error.name}, got ${String(err)}`);
        assert.match((err as Error).message, c.match);
        return true;
      });
      assert.ok((await store.get(CURRENT_KEY)).equals(before), '_CURRENT moved');
      assert.deepEqual(
        (await store.list('')).map((o) => o.key),
        keysBefore,
        'objects were uploaded by a failed build',
      );
    });
  }

  test('--on-duplicate last keeps the last occurrence', async () => {
    const path = join(dir.path, 'dups.jsonl');
    const lines = ['{"id":"a","vector":[1,0,0]}', '{"id":"b","vector":[0,1,0]}', '{"id":"a","vector":[0,0,9]}', '{"id":"c","vector":[5,5,5]}'];
    await writeFile(path, lines.join('\n'));
    const result = await build(path, { onDuplicate: 'last' }, { numDbs: 2, numProbes: 1 });
    assert.equal(result.manifest.build_stats.total_vectors, 3);
    assert.equal(
      result.manifest.shards.reduce((s, sh) => s + sh.vector_count, 0),
      3,
    );
  });

  test('user centroids of the wrong shape are rejected before anything is written', async () => {
    const path = join(dir.path, 'centroids.npy');
    await writeFile(path, encodeNpyFloat32(new Float32Array(3 * 8), [3, 8]));
    const before = await store.get(CURRENT_KEY);
    await assert.rejects(build(TINY_JSONL, {}, { centroidsPath: path }), /have shape \[3, 8\], expected \[4, 8\]/);
    assert.ok((await store.get(CURRENT_KEY)).equals(before));
  });

  test('a centroid that attracts no vector is an error naming the shard', async () => {
    const path = join(dir.path, 'far-centroids.npy');
    const c = new Float32Array(4 * 8);
    for (let i = 0; i < 8; i++) c[3 * 8 + i] = 1e6; // shard 3's centroid is nowhere near the data
    for (let k = 0; k < 3; k++) c[k * 8 + k] = 4;
    await writeFile(path, encodeNpyFloat32(c, [4, 8]));
    await assert.rejects(build(TINY_JSONL, {}, { centroidsPath: path }), (err: unknown) => {
      assert.ok(err instanceof ConfigValidationError || err instanceof VectorIndexError);
      assert.match((err as Error).message, /shard\(s\) 3 received no vectors/);
      return true;
    });
  });
});
