/**
 * Store files are read with a size bound, and a `file://` store holds only regular files inside
 * its root (issue 20, defect 5):
 * - the object stores: a symlink to /dev/zero, a FIFO, a symlink out of the root and an oversized
 *   object are refused with a clear error, never read past the caller's limit, never blocking;
 * - through real processes: a cluster over a store whose files were replaced by such things keeps
 *   serving the other shards, says which shard and file is wrong and why, keeps its cache within
 *   --max-cache-bytes and its memory bounded, and still stops on SIGTERM.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, closeSync, openSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, stat, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { freePort } from '../src/cli/free-port.ts';
import { ManifestParseError, ObjectNotFoundError, ObjectTooLargeError, StorageError } from '../src/common/errors.ts';
import { checkHealth } from '../src/common/health.ts';
import { CURRENT_FORMAT_VERSION, CURRENT_KEY, manifestKey, type CurrentPointer, type Manifest } from '../src/common/manifest.ts';
import { ID_FILTER_FILE } from '../src/common/routing/id-filter.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { S3ObjectStore } from '../src/common/storage/s3-object-store.ts';
import { loadSnapshot } from '../src/common/snapshot-loader.ts';
import { MAX_MANIFEST_BYTES, MAX_POINTER_BYTES } from '../src/common/store-reads.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { buildFashionSnapshot, FASHION_IMAGES, tempDir } from './helpers/fixtures.ts';
import { startS3rver, type S3rverHandle } from './helpers/s3rver.ts';
import { waitFor } from './helpers/wait.ts';

/** Settles like `p`, or rejects after `ms` (a read that blocks fails the test instead of hanging it). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms / 1000} s (blocked)`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens and closes the FIFO for writing: releases a reader blocked opening it (code without the fix). */
function releaseFifo(fifo: string): void {
  try {
    closeSync(openSync(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
  } catch {
    // no reader waiting
  }
}

describe('FileObjectStore: only regular files inside the root, reads bounded', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: FileObjectStore;
  let root = '';
  let outside = '';

  before(async () => {
    dir = await tempDir('store-bounds-unit');
    root = join(dir.path, 'store');
    outside = join(dir.path, 'outside');
    await mkdir(join(root, 'runs/r1'), { recursive: true });
    await mkdir(outside, { recursive: true });
    store = new FileObjectStore(root);
    await store.put('runs/r1/ok.bin', Buffer.alloc(100, 1));
    await writeFile(join(outside, 'secret.bin'), 'outside the store');
    await mkdir(join(outside, 'folder'));
    await writeFile(join(outside, 'folder/x.bin'), 'x');
    await symlink('/dev/zero', join(root, 'runs/r1/zero.bin'));
    await symlink(join(outside, 'secret.bin'), join(root, 'runs/r1/out.bin'));
    await symlink(join(outside, 'folder'), join(root, 'runs/r1/outdir'));
    await symlink(join(root, 'runs/r1/ok.bin'), join(root, 'runs/r1/in.bin'));
    execFileSync('mkfifo', [join(root, 'runs/r1/fifo.bin')]);
  });
  after(async () => {
    releaseFifo(join(root, 'runs/r1/fifo.bin'));
    await dir?.remove();
  });

  test('a symlink to /dev/zero is refused by get and download, invisible to head and list', async () => {
    const reads: (() => Promise<unknown>)[] = [
      () => store.get('runs/r1/zero.bin', { maxBytes: 1000 }),
      () => store.get('runs/r1/zero.bin'),
      () => store.download('runs/r1/zero.bin', join(dir.path, 'zero.out'), { maxBytes: 1000 }),
    ];
    for (const read of reads) {
      await assert.rejects(within(read(), 20_000, 'read of the /dev/zero link'), (err: Error) => {
        assert.ok(err instanceof StorageError, `${err.name}: ${err.message}`);
        assert.match(err.message, /runs\/r1\/zero\.bin .*is a symbolic link to \/dev\/zero, outside the store root/);
        return true;
      });
    }
    await assert.rejects(stat(join(dir.path, 'zero.out')), { code: 'ENOENT' });
    assert.equal(await within(store.head('runs/r1/zero.bin'), 20_000, 'head'), undefined);
  });

  test('a FIFO is refused at once (never blocks), invisible to head and list', async () => {
    const fifo = join(root, 'runs/r1/fifo.bin');
    try {
      const reads: (() => Promise<unknown>)[] = [() => store.get('runs/r1/fifo.bin'), () => store.download('runs/r1/fifo.bin', join(dir.path, 'fifo.out'), { maxBytes: 10 })];
      for (const read of reads) {
        await assert.rejects(within(read(), 20_000, 'read of the FIFO'), (err: Error) => {
          assert.ok(err instanceof StorageError, `${err.name}: ${err.message}`);
          assert.match(err.message, /runs\/r1\/fifo\.bin .*is a FIFO \(named pipe\), not a regular file/);
          return true;
        });
      }
      assert.equal(await within(store.head('runs/r1/fifo.bin'), 20_000, 'head of the FIFO'), undefined);
    } finally {
      releaseFifo(fifo);
    }
  });

  test('a symlink out of the root is refused; a symlink inside the root is followed; list follows neither out', async () => {
    await assert.rejects(store.get('runs/r1/out.bin'), (err: Error) => {
      assert.ok(err instanceof StorageError);
      assert.match(err.message, /is a symbolic link to .*secret\.bin, outside the store root/);
      return true;
    });
    await assert.rejects(store.get('runs/r1/outdir/x.bin'), /outside the store root/);
    assert.deepEqual(await store.get('runs/r1/in.bin'), Buffer.alloc(100, 1));
    const keys = (await within(store.list('runs/'), 20_000, 'list')).map((o) => o.key);
    assert.deepEqual(keys, ['runs/r1/in.bin', 'runs/r1/ok.bin']);
  });

  test('an object larger than the limit is refused by its size, nothing read or left behind', async () => {
    await store.put('runs/r1/big.bin', Buffer.alloc(3 * 2 ** 20, 7));
    await assert.rejects(store.get('runs/r1/big.bin', { maxBytes: 1024 }), (err: Error) => {
      assert.ok(err instanceof ObjectTooLargeError, `${err.name}: ${err.message}`);
      assert.equal(err.maxBytes, 1024);
      assert.equal(err.seenBytes, 3 * 2 ** 20);
      assert.match(err.message, /runs\/r1\/big\.bin .* is 3145728 bytes, over the 1024 bytes this read accepts/);
      return true;
    });
    const local = join(dir.path, 'big.out');
    await assert.rejects(store.download('runs/r1/big.bin', local, { maxBytes: 1024 }), ObjectTooLargeError);
    await assert.rejects(stat(local), { code: 'ENOENT' });
    // At the limit exactly: read in full.
    assert.equal((await store.get('runs/r1/big.bin', { maxBytes: 3 * 2 ** 20 })).length, 3 * 2 ** 20);
    assert.equal(await store.download('runs/r1/big.bin', local, { maxBytes: 3 * 2 ** 20 }), 3 * 2 ** 20);
    await assert.rejects(store.get('runs/r1/none.bin', { maxBytes: 10 }), ObjectNotFoundError);
  });
});

describe('_CURRENT and manifests are read up to a fixed cap', () => {
  test('an oversized pointer or manifest is a ManifestParseError naming its size and the cap; neither is read whole', async () => {
    const dir = await tempDir('store-bounds-caps');
    const store = new FileObjectStore(join(dir.path, 'store'));
    try {
      await store.put(CURRENT_KEY, Buffer.alloc(MAX_POINTER_BYTES + 1, 32));
      await assert.rejects(loadSnapshot(store), (err: Error) => {
        assert.ok(err instanceof ManifestParseError, `${err.name}: ${err.message}`);
        assert.match(err.message, new RegExp(`_CURRENT in file:.* is ${MAX_POINTER_BYTES + 1} bytes, more than the ${MAX_POINTER_BYTES} bytes the pointer may have`));
        return true;
      });
      const key = manifestKey('r1', new Date());
      await store.put(key, '{}');
      await truncate(store.pathOf(key), MAX_MANIFEST_BYTES + 10);
      const pointer: CurrentPointer = { format_version: CURRENT_FORMAT_VERSION, manifest_ref: key, run_id: 'r1', published_at: new Date().toISOString() };
      await store.put(CURRENT_KEY, JSON.stringify(pointer));
      await assert.rejects(loadSnapshot(store), (err: Error) => {
        assert.ok(err instanceof ManifestParseError, `${err.name}: ${err.message}`);
        assert.match(err.message, new RegExp(`is ${MAX_MANIFEST_BYTES + 10} bytes, more than the ${MAX_MANIFEST_BYTES} bytes a manifest may have`));
        return true;
      });
    } finally {
      await store.close();
      await dir.remove();
    }
  });
});

describe('S3ObjectStore: reads stop at the limit (s3rver)', () => {
  let server: S3rverHandle;
  let store: S3ObjectStore;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const big = Buffer.alloc(2 * 2 ** 20, 3);

  before(async () => {
    server = await startS3rver();
    dir = await tempDir('store-bounds-s3');
    store = new S3ObjectStore({ bucket: server.bucket, prefix: 'bounds', connection: server.connection });
    await store.put('runs/r1/big.bin', big);
  });
  after(async () => {
    await store?.close();
    await server?.stop();
    await dir?.remove();
  });

  test('get and download of an object over the limit fail naming its size; no file is left', async () => {
    await assert.rejects(store.get('runs/r1/big.bin', { maxBytes: 1000 }), (err: Error) => {
      assert.ok(err instanceof ObjectTooLargeError, `${err.name}: ${err.message}`);
      assert.equal(err.seenBytes, big.length);
      assert.match(err.message, /s3:\/\/.*is 2097152 bytes, over the 1000 bytes this read accepts/);
      return true;
    });
    const local = join(dir.path, 'big.out');
    await assert.rejects(store.download('runs/r1/big.bin', local, { maxBytes: 1000 }), ObjectTooLargeError);
    await assert.rejects(stat(local), { code: 'ENOENT' });
    assert.equal((await store.get('runs/r1/big.bin', { maxBytes: big.length })).length, big.length);
    assert.equal(await store.download('runs/r1/big.bin', local, { maxBytes: big.length }), big.length);
  });
});

/** A server process spawned by the test, with its stderr (pino JSON logs) collected. */
interface Served {
  name: string;
  child: ChildProcess;
  address: string;
  logs: string[];
}

const CLI_ENTRY = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

function serve(name: string, address: string, args: string[]): Served {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), CLI_ENTRY, ...args], {
    env: { ...process.env, SHARDFLEET_EXIT_ON_STDIN_CLOSE: '1' },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const logs: string[] = [];
  let rest = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString('utf8')).split('\n');
    rest = lines.pop() ?? '';
    logs.push(...lines);
  });
  return { name, child, address, logs };
}

/** Peak resident memory of a process, bytes (VmHWM of /proc/<pid>/status). */
async function peakRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  assert.ok(kb !== undefined, 'VmHWM in /proc/<pid>/status');
  return Number(kb) * 1024;
}

/** Total bytes (file sizes) below `dir`, counting only what exists when it is looked at. */
async function treeBytes(dir: string): Promise<number> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let total = 0;
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await treeBytes(p);
    else if (e.isFile()) total += await stat(p).then((s) => s.size, () => 0);
  }
  return total;
}

/** Waits up to `ms` for the child to exit; true when it did. */
function exitedWithin(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('a cluster over a store with a /dev/zero link, a FIFO, an oversized file and a link out of the store', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let manifest: Manifest;
  let storePath = '';
  let fifo = '';
  let budget = 0;
  let oversizedKey = '';
  let outKey = '';
  const servers: Served[] = [];
  let client: ShardfleetClient | undefined;
  let sampler: NodeJS.Timeout | undefined;
  let maxCacheBytesSeen = 0;

  before(async () => {
    dir = await tempDir('store-bounds-cluster');
    storePath = join(dir.path, 'store');
    const store = new FileObjectStore(storePath);
    // CLUSTER strategy: every non-empty shard has an id-filter.bin the router reads itself.
    manifest = (await buildFashionSnapshot(store, { limit: 2000, numDbs: 5 })).manifest;
    await store.close();
    const shardBytes = manifest.shards.reduce((s, sh) => s + sh.files.reduce((a, f) => a + f.bytes, 0), 0);
    budget = 2 * shardBytes;
    const path = (db: number, file: string) => join(storePath, manifest.shards[db].url, file);
    const largest = (db: number) => manifest.shards[db].files.reduce((a, b) => (b.bytes > a.bytes ? b : a)).path;
    // Shard 1: its id filter is a symlink to /dev/zero.
    await unlink(path(1, ID_FILTER_FILE));
    await symlink('/dev/zero', path(1, ID_FILTER_FILE));
    // Shard 2: its id filter is a FIFO.
    fifo = path(2, ID_FILTER_FILE);
    await unlink(fifo);
    execFileSync('mkfifo', [fifo]);
    // Shard 3: its largest file is 3x the whole cache budget (sparse), the manifest says far less.
    oversizedKey = manifest.shards[3].url + largest(3);
    await truncate(path(3, largest(3)), 3 * budget);
    // Shard 4: its largest file is a symlink to an identical copy outside the store.
    outKey = manifest.shards[4].url + largest(4);
    await mkdir(join(dir.path, 'outside'));
    await rename(path(4, largest(4)), join(dir.path, 'outside', 'copy.bin'));
    await symlink(join(dir.path, 'outside', 'copy.bin'), path(4, largest(4)));

    const nodes = [
      { id: 'n0', address: `127.0.0.1:${await freePort()}` },
      { id: 'n1', address: `127.0.0.1:${await freePort()}` },
    ];
    const nodeList = nodes.map((n) => `${n.id}=${n.address}`).join(',');
    const common = ['--store', storePath, '--nodes', nodeList];
    for (const n of nodes) {
      servers.push(serve(n.id, n.address, ['serve', 'node', ...common, '--node-id', n.id, '--listen', n.address, '--cache-dir', join(dir.path, 'cache', n.id), '--max-cache-bytes', String(budget)]));
    }
    const routerAddress = `127.0.0.1:${await freePort()}`;
    servers.push(serve('router', routerAddress, ['serve', 'router', ...common, '--listen', routerAddress]));
    client = new ShardfleetClient(routerAddress);
    let sampling = false;
    sampler = setInterval(() => {
      if (sampling) return;
      sampling = true;
      void treeBytes(join(dir.path, 'cache')).then((b) => {
        maxCacheBytesSeen = Math.max(maxCacheBytesSeen, b);
        sampling = false;
      });
    }, 10);
  });

  after(async () => {
    clearInterval(sampler);
    client?.close();
    releaseFifo(fifo);
    for (const s of servers) s.child.kill('SIGKILL');
    await Promise.all(servers.map((s) => exitedWithin(s.child, 10_000)));
    await dir?.remove();
  });

  test('every damaged shard fails with a reason naming shard and file; the healthy one is served', async () => {
    const router = servers.find((s) => s.name === 'router')!;
    await waitFor('router to serve', async () => (await checkHealth(router.address)) === 'SERVING', { timeoutMs: 90_000, retryOnError: true });
    const reasons = new Map<number, string>();
    await waitFor(
      'every shard to be loaded or failed on its node',
      async () => {
        const details = await client!.shardDetails(5000);
        reasons.clear();
        for (const s of details.shards) reasons.set(s.db_id, s.replicas.map((r) => `${r.state}: ${r.reason}`).join(' | '));
        return details.shards.length === 5 && [...reasons.values()].every((r) => r.startsWith('loaded') || r.startsWith('failed'));
      },
      { timeoutMs: 90_000, retryOnError: true },
    );
    for (const [db, r] of reasons) console.log(`# shard ${db}: ${r}`);
    const run = manifest.run_id;
    assert.match(reasons.get(0)!, /^loaded/);
    assert.match(reasons.get(1)!, new RegExp(`^failed: .*shard 1 of run ${run}: .*${ID_FILTER_FILE}.*is a symbolic link to /dev/zero, outside the store root`));
    assert.match(reasons.get(2)!, new RegExp(`^failed: .*shard 2 of run ${run}: .*${ID_FILTER_FILE}.*is a FIFO \\(named pipe\\), not a regular file`));
    const oversized = manifest.shards[3].files.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    assert.ok(
      reasons.get(3)!.includes(`shard 3 of run ${run}: file ${oversizedKey} is ${3 * budget} bytes in the store but the manifest says ${oversized.bytes} bytes`),
      reasons.get(3),
    );
    assert.ok(reasons.get(4)!.includes(`shard 4 of run ${run}: downloading ${outKey} failed`), reasons.get(4));
    assert.match(reasons.get(4)!, /is a symbolic link to .*outside\/copy\.bin, outside the store root/);

    const q = await readIdxImages(FASHION_IMAGES, { start: 9500, limit: 1 });
    const res = await client!.search({ vector: q.vectors, top_k: 5, shard_ids: [0] });
    assert.equal(res.results.length, 5);
    await assert.rejects(client!.search({ vector: q.vectors, top_k: 5, shard_ids: [0, 3] }), /shard 3 \(db=00003\)/);

    // The router could not load the id filters and says which one and why.
    const line = router.logs.find((l) => l.includes('id filters could not be loaded'));
    assert.ok(line !== undefined, `router logs:\n${router.logs.join('\n')}`);
    assert.match(line, new RegExp(`shard [12] of run ${run}: id filter .*${ID_FILTER_FILE}.*(symbolic link to /dev/zero|FIFO)`));
  });

  test('memory and the cache stayed bounded; every process is alive and stops on SIGTERM', async () => {
    // Every check runs (problems are collected), so one failure does not hide the others.
    const problems: string[] = [];
    for (const s of servers) {
      if (s.child.exitCode !== null || s.child.signalCode !== null) {
        problems.push(`${s.name} died (code ${s.child.exitCode}, signal ${s.child.signalCode})`);
        continue;
      }
      const peak = await peakRssBytes(s.child.pid!);
      console.log(`# ${s.name}: peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB`);
      if (peak >= 512 * 2 ** 20) problems.push(`${s.name} peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (>= 512 MiB)`);
    }
    console.log(`# cache folder: at most ${maxCacheBytesSeen} bytes seen, --max-cache-bytes ${budget}`);
    if (maxCacheBytesSeen > budget) problems.push(`cache folder held ${maxCacheBytesSeen} bytes, over --max-cache-bytes ${budget}`);
    for (const s of servers) s.child.kill('SIGTERM');
    const exited = await Promise.all(servers.map((s) => exitedWithin(s.child, 30_000)));
    servers.forEach((s, i) => {
      if (!exited[i]) problems.push(`${s.name} still running 30 s after SIGTERM`);
    });
    assert.deepEqual(problems, []);
  });
});
