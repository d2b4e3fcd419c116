/**
 * Snapshot history, rollback and cleanup (src/writer/snapshot-history.ts and the CLI commands),
 * against a file:// store in a temp folder and a real S3 server (s3rver in a child process).
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  CURRENT_FORMAT_VERSION,
  CURRENT_KEY,
  manifestKey,
  parseCurrentPointer,
  runPrefix,
  shardPrefix,
  type CurrentPointer,
  type Manifest,
} from '../src/common/manifest.ts';
import { ConfigValidationError, ManifestParseError, PreconditionFailedError, SnapshotNotFoundError } from '../src/common/errors.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import type { ObjectStore, PutCondition, ReadLimits } from '../src/common/storage/object-store.ts';
import { DelegatingStore } from './helpers/delegating-store.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { publishManifest } from '../src/writer/publish.ts';
import { cleanup, listRuns, rollback } from '../src/writer/snapshot-history.ts';
import { startS3rver, type S3rverHandle } from './helpers/s3rver.ts';

/** A fresh temp folder (not the shared fixtures helper: that one pulls in the whole writer). */
async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `shardfleet-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

const T0 = Date.parse('2026-01-10T08:00:00.000Z');
const HOUR = 3_600_000;

/** Time of the i-th test run: one minute apart, so manifest keys sort by i. */
function runTime(i: number): Date {
  return new Date(T0 + i * 60_000);
}

/**
 * Publishes a valid run: `numDbs` small shard files under runs/<id>/shards/db=.../data.bin, then
 * the manifest and `_CURRENT` through publishManifest. Returns the manifest key.
 */
async function publishRun(store: ObjectStore, runId: string, at: Date, numDbs = 2): Promise<string> {
  const shards: Manifest['shards'] = [];
  let totalBytes = 0;
  for (let db = 0; db < numDbs; db++) {
    const body = Buffer.from(`shard ${db} of run ${runId}\n`.repeat(db + 1));
    await store.put(`${shardPrefix(runId, db)}data.bin`, body);
    totalBytes += body.length;
    shards.push({
      db_id: db,
      url: shardPrefix(runId, db),
      files: [{ path: 'data.bin', bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') }],
      vector_count: 10 + db,
      checkpoint_id: '1',
      index_type: 'none',
    });
  }
  const manifest: Manifest = {
    format_version: 1,
    run_id: runId,
    created_at: at.toISOString(),
    writer: { name: 'snapshot-history-test', version: '0' },
    index: { dim: 4, metric: 'l2', backend: 'lancedb', index_type: 'auto', index_params: {} },
    sharding: { strategy: 'explicit', num_dbs: numDbs, num_probes: 1 },
    shards,
    payload_columns: [],
    build_stats: {
      total_vectors: shards.reduce((s, sh) => s + sh.vector_count, 0),
      training_sample_size: 0,
      kmeans_iterations: 0,
      build_seconds: 0,
      total_bytes: totalBytes,
      input: 'test',
    },
  };
  const key = manifestKey(runId, at);
  await publishManifest(store, manifest, key);
  return key;
}

/** Stores a malformed manifest for `runId` at time `at` (not made current). */
async function putMalformed(store: ObjectStore, runId: string, at: Date, body = '{"format_version": 1, "run_id": '): Promise<string> {
  const key = manifestKey(runId, at);
  await store.put(key, body);
  await store.put(`${runPrefix(runId)}shards/db=00000/data.bin`, 'x');
  return key;
}

async function readPointer(store: ObjectStore): Promise<CurrentPointer> {
  return parseCurrentPointer(await store.get(CURRENT_KEY));
}

async function keys(store: ObjectStore, prefix: string): Promise<string[]> {
  return (await store.list(prefix)).map((o) => o.key);
}

/** Writes `_CURRENT` unconditionally, as a concurrent publisher would (well, the effect of one). */
async function forcePointer(store: ObjectStore, runId: string, at: Date): Promise<void> {
  const p: CurrentPointer = { format_version: CURRENT_FORMAT_VERSION, manifest_ref: manifestKey(runId, at), run_id: runId, published_at: new Date().toISOString() };
  await store.put(CURRENT_KEY, JSON.stringify(p));
}

/** Delegates to `inner`, with hooks for fault injection. */
class HookedStore extends DelegatingStore {
  onGet?: (key: string) => Promise<void>;
  onPutIf?: (key: string) => Promise<void>;
  onDelete?: (key: string) => Promise<void>;
  override async get(key: string, limits?: ReadLimits): Promise<Buffer> {
    const b = await super.get(key, limits);
    await this.onGet?.(key);
    return b;
  }
  override async putIf(key: string, body: Buffer | string, condition: PutCondition): Promise<void> {
    await this.onPutIf?.(key);
    return super.putIf(key, body, condition);
  }
  override async delete(key: string): Promise<void> {
    await this.onDelete?.(key);
    return super.delete(key);
  }
}

// ---------------------------------------------------------------------------------------------
// Suites run on both backends.

interface Backend {
  name: string;
  /** A fresh, empty store. */
  open(): Promise<ObjectStore>;
}

let s3: S3rverHandle | undefined;
const dirs: { remove: () => Promise<void> }[] = [];
let seq = 0;

const fileBackend: Backend = {
  name: 'file',
  async open() {
    const dir = await tempDir('history');
    dirs.push(dir);
    return new FileObjectStore(join(dir.path, 'store'));
  },
};
const s3Backend: Backend = {
  name: 's3',
  async open() {
    if (s3 === undefined) throw new Error('s3rver not started');
    return openObjectStore(s3.url(`history-${process.pid}-${seq++}`), s3.connection);
  },
};

before(async () => {
  s3 = await startS3rver();
});
after(async () => {
  await s3?.stop();
  for (const d of dirs) await d.remove();
});

for (const backend of [fileBackend, s3Backend]) {
  describe(`snapshot history on ${backend.name}`, () => {
    test('listRuns: newest first, current flagged, stats from the manifest, malformed listed with its error', async () => {
      const store = await backend.open();
      try {
        await publishRun(store, 'a', runTime(1), 2);
        await putMalformed(store, 'broken', runTime(2));
        await putMalformed(store, 'invalid', runTime(3), JSON.stringify({ format_version: 1, run_id: 'invalid' }));
        await publishRun(store, 'c', runTime(4), 3);
        await rollback(store, { runId: 'a' });
        const runs = await listRuns(store);
        assert.deepEqual(runs.map((r) => r.runId), ['c', 'invalid', 'broken', 'a']);
        assert.deepEqual(runs.map((r) => r.current), [false, false, false, true]);
        const [c, invalid, broken, a] = runs;
        assert.equal(c.vectors, 10 + 11 + 12);
        assert.equal(c.shards, 3);
        assert.equal(c.strategy, 'explicit');
        assert.equal(c.backend, 'lancedb');
        assert.ok(c.bytes !== null && c.bytes > 0);
        assert.equal(c.createdAt, runTime(4).toISOString());
        assert.equal(c.error, undefined);
        assert.equal(a.shards, 2);
        assert.match(broken.error ?? '', /not valid JSON/);
        assert.match(invalid.error ?? '', /failed validation/);
        assert.equal(broken.vectors, null);
        assert.equal(broken.createdAt, runTime(2).toISOString(), 'time of a malformed manifest comes from its key');
      } finally {
        await store.close();
      }
    });

    test('rollback by run id and by offset moves _CURRENT (read back)', async () => {
      const store = await backend.open();
      try {
        const ka = await publishRun(store, 'a', runTime(1));
        const kb = await publishRun(store, 'b', runTime(2));
        await publishRun(store, 'c', runTime(3));
        assert.equal((await readPointer(store)).run_id, 'c');

        assert.deepEqual(await rollback(store, { offset: 1 }), { from: 'c', to: 'b', manifestKey: kb, direction: 'back' });
        let p = await readPointer(store);
        assert.equal(p.run_id, 'b');
        assert.equal(p.manifest_ref, kb);

        // The offset counts from the current run, not from the newest.
        assert.equal((await rollback(store, { offset: 1 })).to, 'a');
        p = await readPointer(store);
        assert.deepEqual([p.run_id, p.manifest_ref], ['a', ka]);

        await assert.rejects(rollback(store, { offset: 1 }), (err: Error) => {
          assert.ok(err instanceof ConfigValidationError);
          assert.match(err.message, /offset 1 is out of range: 0 run\(s\) are older than the current run a/);
          return true;
        });

        assert.deepEqual(await rollback(store, { runId: 'c' }), { from: 'a', to: 'c', manifestKey: manifestKey('c', runTime(3)), direction: 'forward' });
        assert.equal((await readPointer(store)).run_id, 'c');
        assert.equal((await rollback(store, { offset: 2 })).to, 'a');
        assert.deepEqual((await listRuns(store)).map((r) => r.current), [false, false, true]);
      } finally {
        await store.close();
      }
    });

    test('rollback refuses unknown runs, bad offsets and malformed manifests, naming them', async () => {
      const store = await backend.open();
      try {
        await publishRun(store, 'a', runTime(1));
        await putMalformed(store, 'broken', runTime(2));
        await publishRun(store, 'c', runTime(3));
        await assert.rejects(rollback(store, { runId: 'nope' }), (err: Error) => {
          assert.ok(err instanceof SnapshotNotFoundError);
          assert.match(err.message, /run "nope" has no manifest/);
          assert.match(err.message, /runs: c, broken \(malformed\), a/);
          return true;
        });
        await assert.rejects(rollback(store, { runId: 'broken' }), (err: Error) => {
          assert.ok(err instanceof ManifestParseError);
          assert.match(err.message, /run broken: its manifest manifests\/\S+_run_id=broken\/manifest\.json is malformed/);
          return true;
        });
        // The malformed run counts in manifest order: offset 1 is it, offset 2 is a.
        await assert.rejects(rollback(store, { offset: 1 }), /run broken/);
        await assert.rejects(rollback(store, { offset: 0 }), ConfigValidationError);
        await assert.rejects(rollback(store, { offset: 3 }), /offset 3 is out of range: 2 run\(s\) are older than the current run c \(broken \(malformed\), a\)/);
        assert.equal((await readPointer(store)).run_id, 'c', 'failed rollbacks leave _CURRENT alone');
        assert.equal((await rollback(store, { offset: 2 })).to, 'a');
      } finally {
        await store.close();
      }
    });

    test('rollback loses a race against a concurrent publisher with PreconditionFailedError', async () => {
      const inner = await backend.open();
      const store = new HookedStore(inner);
      try {
        await publishRun(inner, 'a', runTime(1));
        await publishRun(inner, 'b', runTime(2));
        await publishRun(inner, 'c', runTime(3));

        // The pointer moves just before the conditional write.
        store.onPutIf = async (key) => {
          if (key === CURRENT_KEY) await forcePointer(inner, 'b', runTime(2));
        };
        await assert.rejects(rollback(store, { runId: 'a' }), (err: Error) => {
          assert.ok(err instanceof PreconditionFailedError);
          assert.match(err.message, /_CURRENT.*another publisher moved it while rolling back to run a/);
          return true;
        });
        assert.equal((await readPointer(inner)).run_id, 'b', 'the other publisher wins');

        // The pointer moves right after it was read (the offset was computed from a stale
        // current run): the write must still fail.
        store.onPutIf = undefined;
        let moved = false;
        store.onGet = async (key) => {
          if (key === CURRENT_KEY && !moved) {
            moved = true;
            await forcePointer(inner, 'c', runTime(3));
          }
        };
        await assert.rejects(rollback(store, { offset: 1 }), PreconditionFailedError);
        assert.equal((await readPointer(inner)).run_id, 'c');
      } finally {
        await store.close();
      }
    });

    test('cleanup keeps the N newest runs and deletes manifests and run objects of the others', async () => {
      const store = await backend.open();
      try {
        for (let i = 1; i <= 5; i++) await publishRun(store, `r${i}`, runTime(i), 2);
        const res = await cleanup(store, { keepRuns: 2 });
        assert.deepEqual(res.deletedRuns, ['r1', 'r2', 'r3']);
        assert.deepEqual(res.kept, ['r5', 'r4']);
        assert.deepEqual(res.deletedOrphans, []);
        assert.equal(res.deletedObjects, 3 * (1 + 2));
        assert.deepEqual((await listRuns(store)).map((r) => r.runId), ['r5', 'r4']);
        for (const id of ['r1', 'r2', 'r3']) assert.deepEqual(await keys(store, runPrefix(id)), [], `objects of ${id} are gone`);
        for (const id of ['r4', 'r5']) assert.equal((await keys(store, runPrefix(id))).length, 2, `objects of ${id} stay`);
        assert.equal((await readPointer(store)).run_id, 'r5');
        // Nothing left to delete: a second cleanup is a no-op.
        assert.equal((await cleanup(store, { keepRuns: 2 })).deletedObjects, 0);
      } finally {
        await store.close();
      }
    });

    test('cleanup after a rollback keeps the current run and every newer run', async () => {
      const store = await backend.open();
      try {
        for (let i = 1; i <= 5; i++) await publishRun(store, `r${i}`, runTime(i), 1);
        await rollback(store, { runId: 'r2' });
        const res = await cleanup(store, { keepRuns: 1 });
        assert.deepEqual(res.deletedRuns, ['r1']);
        assert.deepEqual(res.kept, ['r5', 'r4', 'r3', 'r2']);
        assert.deepEqual((await listRuns(store)).map((r) => `${r.runId}${r.current ? '*' : ''}`), ['r5', 'r4', 'r3', 'r2*']);
        assert.equal((await keys(store, runPrefix('r2'))).length, 1);
        assert.deepEqual(await keys(store, runPrefix('r1')), []);
      } finally {
        await store.close();
      }
    });

    test('cleanup --dry-run reports the same plan and deletes nothing', async () => {
      const store = await backend.open();
      try {
        for (let i = 1; i <= 4; i++) await publishRun(store, `r${i}`, runTime(i), 2);
        await putMalformed(store, 'broken', runTime(0));
        const before = await keys(store, '');
        const dry = await cleanup(store, { keepRuns: 2, dryRun: true });
        assert.deepEqual(dry.deletedRuns, ['broken', 'r1', 'r2']);
        assert.equal(dry.deletedObjects, 3 + 1 + 2 + 2);
        assert.deepEqual(await keys(store, ''), before, 'a dry run deletes nothing');
        const real = await cleanup(store, { keepRuns: 2 });
        assert.deepEqual({ ...real }, { ...dry });
        assert.deepEqual(await keys(store, runPrefix('broken')), [], 'a malformed old manifest is cleaned too');
      } finally {
        await store.close();
      }
    });

    test('cleanup rejects keep-runs < 1', async () => {
      const store = await backend.open();
      try {
        await publishRun(store, 'a', runTime(1));
        await assert.rejects(cleanup(store, { keepRuns: 0 }), /keep-runs must be an integer >= 1, got 0/);
        assert.equal((await listRuns(store)).length, 1);
      } finally {
        await store.close();
      }
    });

    test('cleanup leaves orphaned run folders younger than the grace period alone', async () => {
      const store = await backend.open();
      try {
        await publishRun(store, 'a', runTime(1));
        await store.put('runs/building/shards/db=00000/data.bin', 'in progress');
        const res = await cleanup(store, { keepRuns: 1 });
        assert.deepEqual(res.deletedOrphans, []);
        assert.deepEqual(res.skippedOrphans.map((s) => s.runId), ['building']);
        assert.deepEqual(await keys(store, 'runs/building/'), ['runs/building/shards/db=00000/data.bin']);
      } finally {
        await store.close();
      }
    });

    test('a concurrent rollback during cleanup stops it before the target run is deleted', async () => {
      const inner = await backend.open();
      const store = new HookedStore(inner);
      try {
        for (let i = 1; i <= 4; i++) await publishRun(inner, `r${i}`, runTime(i), 1);
        let moved = false;
        store.onDelete = async () => {
          if (!moved) {
            moved = true;
            await forcePointer(inner, 'r2', runTime(2)); // someone rolls back to r2 meanwhile
          }
        };
        await assert.rejects(cleanup(store, { keepRuns: 1 }), (err: Error) => {
          assert.ok(err instanceof PreconditionFailedError);
          assert.match(err.message, /moved while cleanup was running/);
          return true;
        });
        assert.deepEqual((await listRuns(inner)).map((r) => r.runId), ['r4', 'r3', 'r2'], 'only r1 (first in line) was deleted');
        assert.equal((await keys(inner, runPrefix('r2'))).length, 1);
      } finally {
        await store.close();
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Orphans (file store: object times come from file mtimes, which the test can set).

describe('cleanup of orphaned run folders (file store)', () => {
  async function age(store: FileObjectStore, key: string, ms: number): Promise<void> {
    const t = new Date(Date.now() - ms);
    await utimes(store.pathOf(key), t, t);
  }

  test('removes orphans older than the grace period, judged by the newest object', async () => {
    const dir = await tempDir('history-orphans');
    const store = new FileObjectStore(join(dir.path, 'store'));
    try {
      await publishRun(store, 'a', runTime(1));
      await store.put('runs/old/shards/db=00000/x.bin', 'x');
      await store.put('runs/old/vector_meta/centroids.npy', 'y');
      await age(store, 'runs/old/shards/db=00000/x.bin', 3 * HOUR);
      await age(store, 'runs/old/vector_meta/centroids.npy', 2 * HOUR);
      // One old object but a fresh one too: still being written.
      await store.put('runs/mixed/shards/db=00000/x.bin', 'x');
      await store.put('runs/mixed/shards/db=00001/x.bin', 'x');
      await age(store, 'runs/mixed/shards/db=00000/x.bin', 5 * HOUR);
      await store.put('runs/young/a.bin', 'z');
      await age(store, 'runs/young/a.bin', 30 * 60_000);

      const dry = await cleanup(store, { keepRuns: 1, dryRun: true });
      assert.deepEqual(dry.deletedOrphans, ['old']);
      assert.equal((await keys(store, 'runs/old/')).length, 2);

      const res = await cleanup(store, { keepRuns: 1 });
      assert.deepEqual(res.deletedOrphans, ['old']);
      assert.equal(res.deletedObjects, 2);
      assert.deepEqual(res.skippedOrphans.map((s) => s.runId).sort(), ['mixed', 'young']);
      assert.match(res.skippedOrphans.find((s) => s.runId === 'young')?.reason ?? '', /30 min ago, within the 60 min grace period/);
      assert.deepEqual(await keys(store, 'runs/old/'), []);
      assert.equal((await keys(store, 'runs/mixed/')).length, 2);
      assert.equal((await keys(store, runPrefix('a'))).length, 2, 'the published run is untouched');

      // A shorter grace period takes the young one.
      const res2 = await cleanup(store, { keepRuns: 1, orphanGraceMs: 20 * 60_000 });
      assert.deepEqual(res2.deletedOrphans, ['young']);
    } finally {
      await dir.remove();
    }
  });

  test('a crash between manifest and objects leaves an orphan that a later cleanup removes', async () => {
    const dir = await tempDir('history-crash');
    const inner = new FileObjectStore(join(dir.path, 'store'));
    const store = new HookedStore(inner);
    try {
      await publishRun(inner, 'old', runTime(1), 2);
      await publishRun(inner, 'new', runTime(2), 2);
      store.onDelete = async (key) => {
        if (key.startsWith('runs/')) throw new Error('simulated crash');
      };
      await assert.rejects(cleanup(store, { keepRuns: 1 }), /simulated crash/);
      // The manifest went first: no manifest points at missing shards.
      assert.deepEqual((await listRuns(inner)).map((r) => r.runId), ['new']);
      assert.equal((await keys(inner, runPrefix('old'))).length, 2);

      const soon = await cleanup(inner, { keepRuns: 1 });
      assert.deepEqual(soon.skippedOrphans.map((s) => s.runId), ['old'], 'fresh objects are within the grace period');
      const later = await cleanup(inner, { keepRuns: 1, now: new Date(Date.now() + 2 * HOUR) });
      assert.deepEqual(later.deletedOrphans, ['old']);
      assert.deepEqual(await keys(inner, runPrefix('old')), []);
    } finally {
      await dir.remove();
    }
  });

  test('never treats the current run folder as an orphan, even when its manifest is gone', async () => {
    const dir = await tempDir('history-current');
    const store = new FileObjectStore(join(dir.path, 'store'));
    try {
      const key = await publishRun(store, 'live', runTime(1), 1);
      await store.delete(key);
      const res = await cleanup(store, { keepRuns: 1, orphanGraceMs: 0, now: new Date(Date.now() + HOUR) });
      assert.deepEqual(res.deletedOrphans, []);
      assert.equal((await keys(store, runPrefix('live'))).length, 1);
    } finally {
      await dir.remove();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// CLI end to end.

const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));
const run = promisify(execFile);

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'error', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('CLI: history, rollback, cleanup', () => {
  test('file store: table, --json, rollback by offset and id, errors, cleanup --dry-run then for real', async () => {
    const dir = await tempDir('history-cli');
    const url = `file://${join(dir.path, 'store')}`;
    const store = new FileObjectStore(join(dir.path, 'store'));
    try {
      await publishRun(store, 'alpha', runTime(1), 2);
      await putMalformed(store, 'broken', runTime(2));
      await publishRun(store, 'gamma', runTime(3), 3);

      let out = await cli(['history', '--store', url]);
      assert.equal(out.code, 0, out.stderr);
      const lines = out.stdout.trimEnd().split('\n');
      assert.match(lines[0], /run_id\s+created\s+vectors\s+shards\s+strategy\s+backend\s+size\s+probes\s+recall@probes 1\.\./);
      assert.match(lines[1], /^\*\s+gamma\s+2026-01-10T08:03:00.000Z\s+33\s+3\s+explicit\s+lancedb\s+\d+ B\s+1\s+-$/);
      assert.match(lines[2], /^\s+broken\s+\S+\s+-\s+-\s+MALFORMED/);
      assert.match(lines[3], /^\s+alpha\s+\S+\s+21\s+2\s+explicit/);
      assert.match(out.stdout, /error in broken: manifest manifests\/\S+broken\/manifest\.json is not valid JSON/);

      out = await cli(['history', '--store', url, '--json']);
      assert.equal(out.code, 0, out.stderr);
      const json = JSON.parse(out.stdout) as { run_id: string; current: boolean; vectors: number | null; error?: string }[];
      assert.deepEqual(json.map((r) => [r.run_id, r.current, r.vectors]), [['gamma', true, 33], ['broken', false, null], ['alpha', false, 21]]);
      assert.ok(json[1].error);

      out = await cli(['rollback', '--store', url, '--offset', '1']);
      assert.equal(out.code, 1);
      assert.match(out.stderr, /ManifestParseError: .*run broken/);

      out = await cli(['rollback', '--store', url, '--offset', '2']);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /^rolled back _CURRENT from gamma to alpha$/m);
      assert.equal((await readPointer(store)).run_id, 'alpha');

      out = await cli(['rollback', '--store', url, '--run-id', 'nope']);
      assert.equal(out.code, 1);
      assert.match(out.stderr, /SnapshotNotFoundError: run "nope" has no manifest .*runs: gamma, broken \(malformed\), alpha/);

      out = await cli(['rollback', '--store', url]);
      assert.equal(out.code, 1);
      assert.match(out.stderr, /exactly one of --run-id or --offset/);

      // Current is alpha (oldest): keep-runs 1 keeps everything newer than it, deletes nothing.
      out = await cli(['cleanup', '--store', url, '--keep-runs', '1']);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /deleted 0 run\(s\)/);

      out = await cli(['rollback', '--store', url, '--run-id', 'gamma']);
      assert.match(out.stdout, /^moved _CURRENT forward from alpha to gamma \(a newer run\)$/m, 'a newer run is not "rolled back" to');

      out = await cli(['cleanup', '--store', url, '--keep-runs', '1', '--dry-run']);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /^would delete run alpha$/m);
      assert.match(out.stdout, /^would delete run broken$/m);
      assert.match(out.stdout, /would delete 2 run\(s\), 0 orphaned folder\(s\), 5 object\(s\) \(dry run\)/);
      assert.equal((await listRuns(store)).length, 3);

      out = await cli(['cleanup', '--store', url, '--keep-runs', '1']);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /kept 1 run\(s\): gamma/);
      assert.deepEqual((await listRuns(store)).map((r) => r.runId), ['gamma']);
      assert.deepEqual(await keys(store, runPrefix('alpha')), []);

      out = await cli(['cleanup', '--store', url, '--keep-runs', '0']);
      assert.equal(out.code, 1);
      assert.match(out.stderr, /keep-runs must be an integer >= 1/);
    } finally {
      await dir.remove();
    }
  });

  test('s3 store: history and rollback through the CLI', async () => {
    assert.ok(s3);
    const url = s3.url(`history-cli-${process.pid}`);
    const store = openObjectStore(url, s3.connection);
    try {
      await publishRun(store, 'one', runTime(1));
      await publishRun(store, 'two', runTime(2));
      let out = await cli(['history', '--store', url, '--json'], s3.env);
      assert.equal(out.code, 0, out.stderr);
      assert.deepEqual((JSON.parse(out.stdout) as { run_id: string; current: boolean }[]).map((r) => [r.run_id, r.current]), [['two', true], ['one', false]]);
      out = await cli(['rollback', '--store', url, '--run-id', 'one'], s3.env);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /rolled back _CURRENT from two to one/);
      assert.equal((await readPointer(store)).run_id, 'one');
    } finally {
      await store.close();
    }
  });
});
