/**
 * Tests of manifest parsing (src/common/manifest.ts) and snapshot loading with fallback to earlier
 * manifests (src/common/snapshot-loader.ts), the latter on a real FileObjectStore in a temp folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';

import { ManifestParseError, SnapshotNotFoundError } from '../src/common/errors.ts';
import {
  CURRENT_KEY,
  centroidsKey,
  manifestKey,
  parseCurrentPointer,
  parseManifest,
  shardPrefix,
  type CurrentPointer,
  type Manifest,
} from '../src/common/manifest.ts';
import { MANIFEST_FALLBACK_DEPTH, earlierManifests, loadSnapshot } from '../src/common/snapshot-loader.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { movePointer } from '../src/writer/publish.ts';
import { rollback } from '../src/writer/snapshot-history.ts';

const HEX64 = 'ab'.repeat(32);

/** A valid manifest of a 2-shard CLUSTER run. */
function validManifest(runId = 'run-1', createdAt = new Date('2026-01-02T03:04:05.678Z')): Manifest {
  return {
    format_version: 1,
    run_id: runId,
    created_at: createdAt.toISOString(),
    writer: { name: 'shardfleet', version: '0.1.0' },
    index: {
      dim: 8,
      metric: 'l2',
      backend: 'lancedb',
      index_type: 'auto',
      index_params: { m: 16, ef_construction: 100, note: 'x', exact: false },
    },
    sharding: {
      strategy: 'cluster',
      num_dbs: 2,
      num_probes: 1,
      centroids: { ref: centroidsKey(runId), bytes: 192, sha256: HEX64 },
      seed: 42,
      centroids_source: 'kmeans',
      balance_factor: null,
    },
    shards: [0, 1].map((dbId) => ({
      db_id: dbId,
      url: shardPrefix(runId, dbId),
      files: [{ path: 'vectors.lance/data/0.lance', bytes: 1024 + dbId, sha256: '0123456789abcdef'.repeat(4) }],
      vector_count: 100 + dbId,
      checkpoint_id: '3',
      index_type: 'none',
    })),
    payload_columns: ['title'],
    build_stats: {
      total_vectors: 201,
      training_sample_size: 201,
      kmeans_iterations: 7,
      build_seconds: 1.5,
      total_bytes: 2049,
      input: 'data.jsonl',
    },
  };
}

/** A deep copy as a plain JSON value, for mutation in negative tests. */
function asJson(m: Manifest): Record<string, unknown> {
  return JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
}

function field(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  return obj[key] as Record<string, unknown>;
}

function assertParseError(text: string, key: string, detail?: RegExp): void {
  assert.throws(
    () => parseManifest(text, key),
    (err: unknown) => {
      assert.ok(err instanceof ManifestParseError, `not a ManifestParseError: ${String(err)}`);
      assert.ok(err.message.includes(key), `message does not name ${key}: ${err.message}`);
      if (detail !== undefined) assert.match(err.message, detail);
      return true;
    },
  );
}

describe('parseManifest', () => {
  const KEY = 'manifests/20260102T030405.678Z_run_id=run-1/manifest.json';

  test('accepts a valid manifest (string or Buffer) and returns its content', () => {
    const m = validManifest();
    assert.deepEqual(parseManifest(JSON.stringify(m), KEY), m);
    assert.deepEqual(parseManifest(Buffer.from(JSON.stringify(m), 'utf8'), KEY), m);
    // Unknown extra fields are tolerated and stripped (forward compatibility).
    const extra = { ...asJson(m), future_field: 1 };
    assert.deepEqual(parseManifest(JSON.stringify(extra), KEY), m);
  });

  test('not JSON -> ManifestParseError naming the key', () => {
    assertParseError('{"format_version": 1,', KEY, /not valid JSON/);
    assertParseError('', 'manifests/empty/manifest.json');
  });

  test('wrong format_version -> ManifestParseError naming the key', () => {
    for (const v of [2, 0, '1', null]) {
      const j = asJson(validManifest());
      j.format_version = v;
      assertParseError(JSON.stringify(j), KEY, /format_version/);
    }
  });

  test('missing index.dim -> ManifestParseError naming the key and the field', () => {
    const j = asJson(validManifest());
    delete field(j, 'index').dim;
    assertParseError(JSON.stringify(j), KEY, /index\.dim/);
    const zero = asJson(validManifest());
    field(zero, 'index').dim = 0;
    assertParseError(JSON.stringify(zero), KEY, /index\.dim/);
  });

  test('shard count != num_dbs -> ManifestParseError', () => {
    const j = asJson(validManifest());
    field(j, 'sharding').num_dbs = 3;
    assertParseError(JSON.stringify(j), KEY, /2 shard entries but num_dbs is 3/);
    const fewer = asJson(validManifest());
    (fewer.shards as unknown[]).pop();
    assertParseError(JSON.stringify(fewer), KEY, /num_dbs/);
  });

  test('shard entries out of order and num_probes > num_dbs -> ManifestParseError', () => {
    const j = asJson(validManifest());
    (j.shards as unknown[]).reverse();
    assertParseError(JSON.stringify(j), KEY, /db_id/);
    const probes = asJson(validManifest());
    field(probes, 'sharding').num_probes = 3;
    assertParseError(JSON.stringify(probes), KEY, /num_probes/);
  });

  test('a ref with ".." or a leading "/" -> ManifestParseError', () => {
    const dotdot = asJson(validManifest());
    field(field(dotdot, 'sharding'), 'centroids').ref = 'runs/../../etc/passwd';
    assertParseError(JSON.stringify(dotdot), KEY, /sharding\.centroids\.ref/);
    const shardUrl = asJson(validManifest());
    (shardUrl.shards as Record<string, unknown>[])[1].url = '../other/';
    assertParseError(JSON.stringify(shardUrl), KEY, /shards\.1\.url/);
    const abs = asJson(validManifest());
    ((abs.shards as Record<string, unknown>[])[0].files as Record<string, unknown>[])[0].path = '/etc/passwd';
    assertParseError(JSON.stringify(abs), KEY, /shards\.0\.files\.0\.path/);
    // ".." inside a segment name is fine.
    const ok = asJson(validManifest());
    field(field(ok, 'sharding'), 'centroids').ref = 'runs/a..b/centroids.npy';
    const sharding = parseManifest(JSON.stringify(ok), KEY).sharding;
    assert.equal(sharding.strategy === 'cluster' ? sharding.centroids.ref : '', 'runs/a..b/centroids.npy');
  });

  test('bad sha256 -> ManifestParseError', () => {
    for (const bad of ['AB'.repeat(32), 'ab'.repeat(31), 'ab'.repeat(33), 'zz'.repeat(32), '']) {
      const j = asJson(validManifest());
      field(field(j, 'sharding'), 'centroids').sha256 = bad;
      assertParseError(JSON.stringify(j), KEY, /sha256/);
      const f = asJson(validManifest());
      ((f.shards as Record<string, unknown>[])[0].files as Record<string, unknown>[])[0].sha256 = bad;
      assertParseError(JSON.stringify(f), KEY, /shards\.0\.files\.0\.sha256/);
    }
  });

  test('other invalid fields are rejected: metric, run_id, created_at, empty files', () => {
    const metric = asJson(validManifest());
    field(metric, 'index').metric = 'hamming';
    assertParseError(JSON.stringify(metric), KEY, /index\.metric/);
    const runId = asJson(validManifest());
    runId.run_id = 'bad run/id';
    assertParseError(JSON.stringify(runId), KEY, /run_id/);
    const created = asJson(validManifest());
    created.created_at = 'yesterday';
    assertParseError(JSON.stringify(created), KEY, /created_at/);
    const files = asJson(validManifest());
    (files.shards as Record<string, unknown>[])[0].files = [];
    assertParseError(JSON.stringify(files), KEY, /shards\.0\.files/);
    assertParseError('[]', KEY);
    assertParseError('null', KEY);
  });
});

describe('manifestKey', () => {
  test('keys sort by creation time', () => {
    const dates = ['2025-12-31T23:59:59.999Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.001Z', '2026-11-21T12:33:25.123Z'];
    const keys = dates.map((d) => manifestKey('r', new Date(d)));
    assert.deepEqual([...keys].sort(), keys);
    assert.equal(keys[3], 'manifests/20261121T123325.123Z_run_id=r/manifest.json');
  });
});

/** Collects pino log lines. */
function collectingLogger(): { log: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const stream = { write: (msg: string): void => void raw.push(msg) };
  return {
    log: pino({ level: 'warn' }, stream),
    lines: () =>
      raw
        .join('')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('loadSnapshot', () => {
  let scratch: string;
  let caseNo = 0;

  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'shardfleet-manifest-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  /** A fresh empty store per test. */
  function freshStore(): FileObjectStore {
    caseNo++;
    return new FileObjectStore(path.join(scratch, `case-${caseNo}`));
  }

  function day(n: number): Date {
    return new Date(Date.UTC(2026, 0, n, 12, 0, 0, 0));
  }

  /** Writes a valid manifest of run `run-<n>` created on day n; returns its key and content. */
  async function putValid(store: FileObjectStore, n: number): Promise<{ key: string; manifest: Manifest }> {
    const manifest = validManifest(`run-${n}`, day(n));
    const key = manifestKey(manifest.run_id, day(n));
    await store.put(key, JSON.stringify(manifest));
    return { key, manifest };
  }

  /** Writes a malformed manifest for run `run-<n>` created on day n; returns its key. */
  async function putMalformed(store: FileObjectStore, n: number, how: 'truncated' | 'schema' = 'truncated'): Promise<string> {
    const key = manifestKey(`run-${n}`, day(n));
    if (how === 'truncated') {
      await store.put(key, JSON.stringify(validManifest(`run-${n}`, day(n))).slice(0, 50));
    } else {
      const j = asJson(validManifest(`run-${n}`, day(n)));
      j.format_version = 99;
      await store.put(key, JSON.stringify(j));
    }
    return key;
  }

  async function putCurrent(store: FileObjectStore, manifestRef: string, runId: string, publishedAt = '2026-02-01T00:00:00.000Z'): Promise<CurrentPointer> {
    const pointer: CurrentPointer = { format_version: 1, manifest_ref: manifestRef, run_id: runId, published_at: publishedAt };
    await store.put(CURRENT_KEY, JSON.stringify(pointer));
    return pointer;
  }

  test('the fallback depth is 3', () => {
    assert.equal(MANIFEST_FALLBACK_DEPTH, 3);
  });

  test('no _CURRENT -> SnapshotNotFoundError (even when manifests exist)', async () => {
    const store = freshStore();
    await assert.rejects(loadSnapshot(store), SnapshotNotFoundError);
    await putValid(store, 1);
    await assert.rejects(loadSnapshot(store), (err: unknown) => err instanceof SnapshotNotFoundError && err.message.includes(CURRENT_KEY));
  });

  test('a valid _CURRENT -> its manifest, no fallback, no warning', async () => {
    const store = freshStore();
    await putValid(store, 1);
    const { key, manifest } = await putValid(store, 2);
    await putValid(store, 3); // newer, but not current
    const pointer = await putCurrent(store, key, manifest.run_id, '2026-01-02T13:00:00.000Z');
    const { log, lines } = collectingLogger();
    const loaded = await loadSnapshot(store, log);
    assert.deepEqual(loaded.manifest, manifest);
    assert.equal(loaded.manifestKey, key);
    assert.deepEqual(loaded.pointer, pointer);
    assert.equal(loaded.publishedAt, pointer.published_at);
    assert.equal(loaded.fallbackFrom, undefined);
    assert.deepEqual(lines(), []);
  });

  test('_CURRENT -> malformed manifest: the newest earlier valid one is served, with a warning', async () => {
    const store = freshStore();
    const older = await putValid(store, 1);
    const newestEarlier = await putValid(store, 2);
    const bad = await putMalformed(store, 3);
    await putValid(store, 4); // newer than the current one: must not be used
    await store.put('manifests/README.txt', 'not a manifest');
    const pointer = await putCurrent(store, bad, 'run-3');
    const { log, lines } = collectingLogger();
    const loaded = await loadSnapshot(store, log);
    assert.deepEqual(loaded.manifest, newestEarlier.manifest);
    assert.notDeepEqual(loaded.manifest, older.manifest);
    assert.equal(loaded.manifestKey, newestEarlier.key);
    assert.deepEqual(loaded.pointer, pointer);
    assert.equal(loaded.publishedAt, newestEarlier.manifest.created_at);
    assert.ok(loaded.fallbackFrom !== undefined);
    assert.equal(loaded.fallbackFrom.key, bad);
    assert.match(loaded.fallbackFrom.reason, /not valid JSON/);
    const warnings = lines().filter((l) => l.level === 40);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].malformed, bad);
    assert.equal(warnings[0].fallback_manifest, newestEarlier.key);
    assert.ok(JSON.stringify(warnings[0]).includes(bad));
  });

  test('after a rollback, a malformed _CURRENT falls back to the run that was current before, not the newest manifest', async () => {
    const store = freshStore();
    const b = await putValid(store, 1);
    const c = await putValid(store, 2);
    const d = await putValid(store, 3);
    for (const m of [b, c, d]) await movePointer(store, m.key, m.manifest.run_id);
    const rolledBack = await rollback(store, { runId: b.manifest.run_id });
    assert.equal(rolledBack.to, b.manifest.run_id);
    const afterRollback = parseCurrentPointer(await store.get(CURRENT_KEY));
    assert.deepEqual(
      afterRollback.previous?.map((e) => e.run_id),
      [d.manifest.run_id, c.manifest.run_id],
      'the pointer remembers the runs current before, newest first, without the current one',
    );
    const bad = await putMalformed(store, 4);
    await movePointer(store, bad, 'run-4');
    const pointer = parseCurrentPointer(await store.get(CURRENT_KEY));
    assert.deepEqual(pointer.previous?.map((e) => e.run_id), [b.manifest.run_id, d.manifest.run_id, c.manifest.run_id]);
    const { log, lines } = collectingLogger();
    const loaded = await loadSnapshot(store, log);
    assert.equal(loaded.manifestKey, b.key, `fell back to ${loaded.manifestKey}, not to ${b.key} (current before the malformed one)`);
    assert.equal(loaded.fallbackFrom?.key, bad);
    assert.equal(loaded.publishedAt, afterRollback.published_at);
    assert.equal(lines().find((l) => l.level === 40)?.chosen_by, 'pointer history');
  });

  test('earlierManifests: a pointer without previous gets the 3 newest older manifests by key, never a newer one', async () => {
    const store = freshStore();
    const m = [];
    for (let n = 1; n <= 6; n++) m.push(await putValid(store, n));
    await store.put('manifests/README.txt', 'not a manifest');
    const pointer = await putCurrent(store, m[4].key, 'run-5'); // run-6 is newer: never a candidate
    assert.deepEqual(await earlierManifests(store, pointer), [{ manifestKey: m[3].key }, { manifestKey: m[2].key }, { manifestKey: m[1].key }]);
    assert.deepEqual(await earlierManifests(store, pointer, 1), [{ manifestKey: m[3].key }]);
    // A malformed pointer (undefined): every manifest is older.
    assert.deepEqual((await earlierManifests(store, undefined)).map((e) => e.manifestKey), [m[5].key, m[4].key, m[3].key]);
  });

  test('earlierManifests: the pointer history first (without runs newer than the current one), then older manifests by key', async () => {
    const store = freshStore();
    const m = [];
    for (let n = 1; n <= 5; n++) m.push(await putValid(store, n));
    const at = '2026-03-01T00:00:00.000Z';
    const pointer: CurrentPointer = {
      format_version: 1,
      manifest_ref: m[3].key,
      run_id: 'run-4',
      published_at: at,
      // run-5 was current before a rollback to run-4: not a candidate.
      previous: [
        { manifest_ref: m[4].key, run_id: 'run-5', published_at: at },
        { manifest_ref: m[0].key, run_id: 'run-1', published_at: at },
      ],
    };
    assert.deepEqual(await earlierManifests(store, pointer), [{ manifestKey: m[0].key, publishedAt: at }, { manifestKey: m[2].key }, { manifestKey: m[1].key }]);
  });

  test('_CURRENT -> a manifest that does not exist: falls back too', async () => {
    const store = freshStore();
    const good = await putValid(store, 1);
    const missing = manifestKey('run-2', day(2));
    await putCurrent(store, missing, 'run-2');
    const loaded = await loadSnapshot(store);
    assert.equal(loaded.manifestKey, good.key);
    assert.equal(loaded.fallbackFrom?.key, missing);
  });

  test('the 3rd earlier manifest is still tried; more than 3 malformed earlier ones -> ManifestParseError', async () => {
    // Boundary: current bad, 2 earlier bad, 3rd earlier valid -> served.
    const store = freshStore();
    const third = await putValid(store, 1);
    await putMalformed(store, 2, 'schema');
    await putMalformed(store, 3);
    const bad = await putMalformed(store, 4, 'schema');
    await putCurrent(store, bad, 'run-4');
    const loaded = await loadSnapshot(store);
    assert.equal(loaded.manifestKey, third.key);
    assert.equal(loaded.fallbackFrom?.key, bad);

    // Current bad, 3 earlier bad, a valid 4th earlier one is beyond the fallback depth.
    const deep = freshStore();
    await putValid(deep, 1);
    const earlierBad = [await putMalformed(deep, 2), await putMalformed(deep, 3, 'schema'), await putMalformed(deep, 4)];
    const current = await putMalformed(deep, 5);
    await putCurrent(deep, current, 'run-5');
    const { log, lines } = collectingLogger();
    await assert.rejects(loadSnapshot(deep, log), (err: unknown) => {
      assert.ok(err instanceof ManifestParseError, String(err));
      for (const k of [current, ...earlierBad]) assert.ok(err.message.includes(k), `error does not name ${k}`);
      assert.ok(!err.message.includes(manifestKey('run-1', day(1))), 'the 4th earlier manifest was tried');
      return true;
    });
    assert.deepEqual(lines(), []);
  });

  test('a _CURRENT whose manifest_ref is not a valid key (e.g. "//") falls back instead of throwing', async () => {
    const store = freshStore();
    const good = await putValid(store, 1);
    await putCurrent(store, 'manifests//x/manifest.json', 'run-9');
    const loaded = await loadSnapshot(store);
    assert.equal(loaded.manifestKey, good.key);
    assert.match(loaded.fallbackFrom?.reason ?? '', /empty segments/);
  });

  test('a malformed _CURRENT itself -> the newest valid manifest of all', async () => {
    const store = freshStore();
    await putValid(store, 1);
    const newestValid = await putValid(store, 2);
    await putMalformed(store, 3); // newest, but malformed
    await store.put(CURRENT_KEY, '{"format_version": 1, "manifest_ref": ');
    const { log, lines } = collectingLogger();
    const loaded = await loadSnapshot(store, log);
    assert.equal(loaded.manifestKey, newestValid.key);
    assert.deepEqual(loaded.manifest, newestValid.manifest);
    assert.equal(loaded.pointer, undefined);
    assert.equal(loaded.publishedAt, newestValid.manifest.created_at);
    assert.equal(loaded.fallbackFrom?.key, CURRENT_KEY);
    const warnings = lines().filter((l) => l.level === 40);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].malformed, CURRENT_KEY);

    // A schema-invalid _CURRENT (valid JSON) behaves the same.
    await store.put(CURRENT_KEY, JSON.stringify({ format_version: 1, manifest_ref: '../x', run_id: 'run-2', published_at: 'now' }));
    assert.equal((await loadSnapshot(store)).manifestKey, newestValid.key);
  });

  test('a malformed _CURRENT and no manifest at all -> ManifestParseError', async () => {
    const store = freshStore();
    await store.put(CURRENT_KEY, 'garbage');
    await assert.rejects(loadSnapshot(store), ManifestParseError);
  });
});

describe('parseCurrentPointer', () => {
  test('accepts a valid pointer and rejects a bad one naming the key', () => {
    const p: CurrentPointer = { format_version: 1, manifest_ref: 'manifests/x/manifest.json', run_id: 'r1', published_at: '2026-01-01T00:00:00.000Z' };
    assert.deepEqual(parseCurrentPointer(JSON.stringify(p)), p);
    assert.throws(
      () => parseCurrentPointer(JSON.stringify({ ...p, manifest_ref: '/abs' })),
      (err: unknown) => err instanceof ManifestParseError && err.message.includes(CURRENT_KEY) && /manifest_ref/.test(err.message),
    );
    assert.throws(() => parseCurrentPointer(JSON.stringify({ ...p, format_version: 2 }), 'other/_CURRENT'), /other\/_CURRENT/);
  });
});
