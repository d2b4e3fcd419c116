/**
 * The writer with every strategy and backend, in-process against a real file:// store: bad
 * routing input (out-of-range or missing shard_id, a routing context the CEL expression cannot
 * route, an unknown CEL column), backend configuration errors (sqlite-vec with dot, PQ on a tiny
 * shard), empty shards, and an interrupted CLI build. Each failure names the record, shard or
 * option, uploads no shard and never moves `_CURRENT`; a rerun succeeds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigValidationError, InputRecordError, VectorIndexError } from '../src/common/errors.ts';
import { CURRENT_KEY, parseCurrentPointer } from '../src/common/manifest.ts';
import { canonicalKeyBytes, shardOfKey } from '../src/common/routing/key-hash-routing.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import type { BackendOptions, ShardingOptions } from '../src/writer/build-options.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { LoadedRun } from '../src/shard-node/shard-node-state.ts';
import { FASHION_IMAGES, quietLogger, tempDir, TINY_JSONL } from './helpers/fixtures.ts';

const CLI = join(import.meta.dirname, '..', 'bin', 'shardfleet.js');

interface TinyRecord {
  id: string;
  vector: number[];
  payload: { color: string; cluster: number; n: number };
}

describe('writer strategies and backends: bad input and edge cases', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: FileObjectStore;
  let tiny: TinyRecord[];
  let n = 0;

  /** Writes the tiny records, transformed, to a new JSONL file. */
  async function jsonl(transform: (r: TinyRecord, i: number) => object): Promise<string> {
    const path = join(dir.path, `input-${n++}.jsonl`);
    await writeFile(path, tiny.map((r, i) => JSON.stringify(transform(r, i))).join('\n'));
    return path;
  }

  function build(path: string, sharding: ShardingOptions, backend: BackendOptions = { backend: 'lancedb' }, metric: 'l2' | 'dot' = 'l2') {
    return openJsonlSource({ path }).then((source) =>
      buildSnapshot({ store, source, sharding, backend, metric, progress: false, log: quietLogger() }),
    );
  }

  /** Runs `fn`, expects it to reject matching `check`, and asserts the store did not change. */
  async function rejectsWithoutUpload(fn: () => Promise<unknown>, check: (err: unknown) => boolean): Promise<void> {
    const before = (await store.list('')).map((o) => `${o.key}:${o.etag}`);
    await assert.rejects(fn(), check);
    assert.deepEqual((await store.list('')).map((o) => `${o.key}:${o.etag}`), before, 'a failed build changed the store');
  }

  before(async () => {
    dir = await tempDir('writer-strategies');
    store = new FileObjectStore(join(dir.path, 'store'));
    tiny = (await readFile(TINY_JSONL, 'utf8'))
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as TinyRecord);
    // A first good run, so that `_CURRENT` exists and must stay put.
    await build(TINY_JSONL, { strategy: 'cluster', numDbs: 2, numProbes: 1 });
  });
  after(async () => {
    await store.close();
    await dir.remove();
  });

  test('explicit: an out-of-range shard_id is an InputRecordError naming the line', async () => {
    const path = await jsonl((r, i) => ({ ...r, shard_id: i === 17 ? 9 : i % 4 }));
    await rejectsWithoutUpload(() => build(path, { strategy: 'explicit', numDbs: 4 }), (err) => {
      assert.ok(err instanceof InputRecordError);
      assert.match(err.message, /line 18.*shard_id 9 is out of range: num_dbs is 4/);
      return true;
    });
  });

  test('explicit: a record without shard_id is an InputRecordError naming the line', async () => {
    const path = await jsonl((r, i) => (i === 5 ? r : { ...r, shard_id: i % 4 }));
    await rejectsWithoutUpload(() => build(path, { strategy: 'explicit', numDbs: 4 }), (err) => {
      assert.ok(err instanceof InputRecordError);
      assert.match(err.message, /line 6.*has no shard_id/);
      return true;
    });
  });

  test('explicit: a shard that gets no record is published empty and searches return nothing', async () => {
    const path = await jsonl((r, i) => ({ ...r, shard_id: i % 3 })); // shard 3 of 4 stays empty
    const result = await build(path, { strategy: 'explicit', numDbs: 4 });
    const empty = result.manifest.shards[3];
    assert.equal(empty.vector_count, 0);
    assert.deepEqual(empty.files, []);
    assert.equal(empty.index_type, 'empty');
    assert.deepEqual(result.manifest.shards.map((s) => s.vector_count), [14, 13, 13, 0]);
    const run = new LoadedRun(result.manifest, [0, 3]);
    await run.load(store, join(dir.path, 'cache'), quietLogger());
    const [full, none] = await run.search(Float32Array.from(tiny[0].vector), 5, [0, 3], false);
    assert.equal(full.hits?.length, 5);
    assert.equal(full.hits?.[0].id, tiny[0].id);
    assert.deepEqual(none.hits, []);
    run.close();
  });

  test('cel: a record whose routing context lacks a declared column is an InputRecordError naming the line', async () => {
    const path = await jsonl((r, i) => ({ ...r, routing_context: i === 30 ? { colour: 'x' } : { color: r.payload.color } }));
    await rejectsWithoutUpload(
      () => build(path, { strategy: 'cel', celExpr: 'color', celColumns: { color: 'string' }, routingValues: ['red', 'green', 'blue', 'yellow'] }),
      (err) => {
        assert.ok(err instanceof InputRecordError);
        assert.match(err.message, /line 31/);
        assert.match(err.message, /color/);
        return true;
      },
    );
  });

  test('cel: a direct result outside 0..num_dbs-1 is an InputRecordError naming the line', async () => {
    const path = await jsonl((r) => ({ ...r, routing_context: { n: r.payload.n } }));
    await rejectsWithoutUpload(() => build(path, { strategy: 'cel', numDbs: 4, celExpr: 'n', celColumns: { n: 'int' } }), (err) => {
      assert.ok(err instanceof InputRecordError);
      assert.match(err.message, /line 5\b/);
      assert.match(err.message, /4/);
      return true;
    });
  });

  test('cel: an unknown column in the expression is a ConfigValidationError before any record is read', async () => {
    const path = await jsonl((r) => ({ ...r, routing_context: { color: r.payload.color } }));
    await rejectsWithoutUpload(() => build(path, { strategy: 'cel', numDbs: 4, celExpr: 'region == "eu" ? 0 : 1', celColumns: { color: 'string' } }), (err) => {
      assert.ok(err instanceof ConfigValidationError && !(err instanceof InputRecordError));
      assert.match(err.message, /unknown CEL column "region"/);
      return true;
    });
  });

  test('cel: categorical mode puts each token in its shard', async () => {
    const colors = [...new Set(tiny.map((r) => r.payload.color))].sort();
    const path = await jsonl((r) => ({ ...r, routing_context: { color: r.payload.color } }));
    const result = await build(path, { strategy: 'cel', celExpr: 'color', celColumns: { color: 'string' }, routingValues: colors });
    const want = colors.map((c) => tiny.filter((r) => r.payload.color === c).length);
    assert.deepEqual(result.manifest.shards.map((s) => s.vector_count), want);
  });

  test('hash: every record is in the shard of its id (xxh3_64 of the UTF-8 id mod num_dbs)', async () => {
    const numDbs = 3;
    const result = await build(TINY_JSONL, { strategy: 'hash', numDbs });
    assert.deepEqual(result.manifest.sharding, { strategy: 'hash', num_dbs: numDbs, num_probes: numDbs, hash: { algorithm: 'xxh3_64', seed: 0 } });
    const want = (id: string): number => shardOfKey(canonicalKeyBytes(id), numDbs);
    assert.deepEqual(
      result.manifest.shards.map((s) => s.vector_count),
      [0, 1, 2].map((d) => tiny.filter((r) => want(r.id) === d).length),
    );
    const dbIds = [0, 1, 2];
    const run = new LoadedRun(result.manifest, dbIds);
    await run.load(store, join(dir.path, 'cache-hash'), quietLogger());
    const outcomes = await run.search(Float32Array.from(tiny[0].vector), tiny.length, dbIds, false);
    const seen: string[] = [];
    for (const o of outcomes) {
      assert.equal(o.error, undefined, `shard ${o.dbId}: ${o.error}`);
      for (const hit of o.hits ?? []) {
        assert.equal(o.dbId, want(hit.id), `${hit.id} is in shard ${o.dbId}, its key hash names shard ${want(hit.id)}`);
        seen.push(hit.id);
      }
    }
    assert.deepEqual(seen.sort(), tiny.map((r) => r.id).sort(), 'every record is in exactly one shard');
    run.close();
  });

  test('hash: a record with an empty id is an InputRecordError naming the line', async () => {
    const path = await jsonl((r, i) => ({ ...r, id: i === 9 ? '' : r.id }));
    await rejectsWithoutUpload(() => build(path, { strategy: 'hash', numDbs: 2 }), (err) => {
      assert.ok(err instanceof ConfigValidationError, String(err));
      assert.match(err.message, /line 10/);
      return true;
    });
  });

  test('sqlite-vec with the dot metric is a ConfigValidationError before reading', async () => {
    await rejectsWithoutUpload(() => build(TINY_JSONL, { strategy: 'cluster', numDbs: 2, numProbes: 1 }, { backend: 'sqlite-vec' }, 'dot'), (err) => {
      assert.ok(err instanceof ConfigValidationError);
      assert.match(err.message, /dot/);
      return true;
    });
  });

  test('lsh with too few hash bits for num_dbs is a ConfigValidationError', async () => {
    await rejectsWithoutUpload(() => build(TINY_JSONL, { strategy: 'lsh', numDbs: 4, numProbes: 1, numHashBits: 1 }), (err) => {
      assert.ok(err instanceof ConfigValidationError);
      assert.match(err.message, /num_hash_bits 1 gives 2 hash codes, fewer than num_dbs 4/);
      return true;
    });
  });

  test('ivf_pq on shards of fewer than 256 rows is a VectorIndexError naming the shard; _CURRENT stays; auto succeeds', async () => {
    const pointer = (await store.get(CURRENT_KEY)).toString();
    await assert.rejects(build(TINY_JSONL, { strategy: 'cluster', numDbs: 2, numProbes: 1 }, { backend: 'lancedb', plan: { indexType: 'ivf_pq' } }), (err) => {
      assert.ok(err instanceof VectorIndexError);
      assert.match(err.message, /shard \d/);
      assert.match(err.message, /256/);
      return true;
    });
    assert.equal((await store.get(CURRENT_KEY)).toString(), pointer);
    const ok = await build(TINY_JSONL, { strategy: 'cluster', numDbs: 2, numProbes: 1 }, { backend: 'lancedb', plan: { indexType: 'auto' } });
    assert.equal(parseCurrentPointer(await store.get(CURRENT_KEY)).run_id, ok.runId);
  });

  test('num_probes > 1 is rejected for explicit and cel queries', async () => {
    const path = await jsonl((r, i) => ({ ...r, shard_id: i % 2 }));
    const result = await build(path, { strategy: 'explicit', numDbs: 2 });
    const { loadShardRouting } = await import('../src/common/routing/load-routing.ts');
    const routing = await loadShardRouting(store, result.manifest);
    const vector = Float32Array.from(tiny[0].vector);
    assert.deepEqual(routing.route({ vector, numProbes: 0, shardIds: [1] }), [1]);
    assert.throws(() => routing.route({ vector, numProbes: 2, shardIds: [1] }), /num_probes 2 is not supported by the explicit strategy/);
    assert.throws(() => routing.route({ vector, numProbes: 0, shardIds: [] }), /explicit sharding: pass shard_ids/);
    assert.throws(() => routing.route({ vector, numProbes: 0, shardIds: [2] }), /shard id 2 does not exist/);
  });
});

describe('an interrupted build', () => {
  test('a build killed mid-way leaves _CURRENT and the manifests untouched; a rerun publishes', async () => {
    const dir = await tempDir('interrupted');
    const storeDir = join(dir.path, 'store');
    const store = new FileObjectStore(storeDir);
    try {
      const args = [CLI, 'build', '--store', storeDir, '--input', FASHION_IMAGES, '--limit', '6000', '--num-dbs', '4', '--no-progress'];
      const env = { ...process.env, SHARDFLEET_LOG_LEVEL: 'info' };
      // First a complete small build, so that there is a _CURRENT to protect.
      await new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, [...args.slice(0, -3), '--limit', '500', '--num-dbs', '2', '--no-progress'], { env, stdio: 'ignore' });
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`first build exited ${code}`))));
      });
      const pointer = (await store.get(CURRENT_KEY)).toString();
      const manifests = (await store.list('manifests/')).map((o) => o.key);
      // Kill the second build once it starts writing shards.
      const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      await new Promise<void>((resolve) => {
        child.stderr!.on('data', (chunk: Buffer) => {
          log += chunk.toString();
          if (/k-means trained/.test(log)) child.kill('SIGKILL');
        });
        child.on('exit', () => resolve());
      });
      assert.match(log, /k-means trained/);
      assert.equal(child.signalCode, 'SIGKILL');
      assert.equal((await store.get(CURRENT_KEY)).toString(), pointer, '_CURRENT moved');
      assert.deepEqual((await store.list('manifests/')).map((o) => o.key), manifests, 'a manifest was written');
      // The rerun succeeds and moves _CURRENT.
      const rerun = await new Promise<number | null>((resolve) => {
        spawn(process.execPath, args, { env, stdio: 'ignore' }).on('exit', (code) => resolve(code));
      });
      assert.equal(rerun, 0);
      const after = parseCurrentPointer(await store.get(CURRENT_KEY));
      assert.notEqual(after.run_id, parseCurrentPointer(pointer).run_id);
      assert.equal((await store.list('manifests/')).length, manifests.length + 1);
    } finally {
      await store.close();
      await dir.remove();
    }
  });
});
