/**
 * `shardfleet local` as an operator meets it, through the real CLI as a child process: it refuses
 * a store with nothing to serve and a cluster shape it cannot honour at once, naming the cause and
 * the flag; it says what starts; it serves `/metrics` on one port per process (also when
 * SHARDFLEET_METRICS_LISTEN is set, which every child used to bind); it restarts a node that dies
 * and gives up on one that keeps dying; and it removes the cache folder it made on Ctrl-C. Over a
 * catalog root (issue 24) its progress counts every collection's shards and says when each
 * collection is ready.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { freePort } from '../src/cli/free-port.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { quietLogger, tempDir, TINY_JSONL } from './helpers/fixtures.ts';
import { waitFor } from './helpers/wait.ts';

const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));

/** A `shardfleet local` child with its stdout and stderr collected. */
interface LocalRun {
  child: ChildProcess;
  out: () => string;
  err: () => string;
}

/** Every `local` started here, killed at the end even when a test timed out (its finally never ran). */
const started = new Set<ChildProcess>();
after(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Starts `shardfleet local <args>`; the children log at local's default level unless `env` sets one. */
function runLocal(args: string[], env: Record<string, string> = {}): LocalRun {
  const base = { ...process.env };
  delete base.SHARDFLEET_LOG_LEVEL;
  delete base.SHARDFLEET_METRICS_LISTEN;
  const child = spawn(process.execPath, [BIN, 'local', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...base, ...env },
  });
  started.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { child, out: () => out, err: () => err };
}

/** Waits for the exit of a run; returns its code. */
async function exitOf(run: LocalRun): Promise<number | null> {
  if (run.child.exitCode !== null) return run.child.exitCode;
  const [code] = (await once(run.child, 'exit')) as [number | null];
  return code;
}

/** Waits until stdout shows the addresses (the cluster serves); fails early if `local` exits. */
async function addressesOf(run: LocalRun): Promise<Map<string, string>> {
  await waitFor('local to print its addresses', () => {
    assert.equal(run.child.exitCode, null, `local exited early: ${run.out()}${run.err()}`);
    return run.out().includes('Ctrl-C');
  }, { timeoutMs: 180_000, intervalMs: 100 });
  return new Map([...run.out().matchAll(/^(\S+)\s+(127\.0\.0\.1:\d+)$/gm)].map((m) => [m[1], m[2]]));
}

/** The `/metrics` URLs printed, by process name. */
function metricsUrls(out: string): Map<string, string> {
  return new Map([...out.matchAll(/^metrics (\S+)\s+(http:\S+)$/gm)].map((m) => [m[1], m[2]]));
}

async function tinySnapshot(dir: string, sub = 'store'): Promise<string> {
  const storePath = join(dir, sub);
  await buildSnapshot({
    store: new FileObjectStore(storePath),
    source: await openJsonlSource({ path: TINY_JSONL }),
    sharding: { strategy: 'cluster', numDbs: 4, numProbes: 1 },
    metric: 'l2',
    progress: false,
    log: quietLogger(),
  });
  return storePath;
}

/** The `component`/`node_id` labels of a `/metrics` answer (which process answered). */
async function whoAnswers(url: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  const m = /process_cpu_user_seconds_total\{([^}]*)\}/.exec(await res.text());
  assert.ok(m, `no process metrics at ${url}`);
  return m[1];
}

async function stopRun(run: LocalRun): Promise<void> {
  if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
}

test('local on a store without _CURRENT exits with the cause naming --store, before starting any process', { timeout: 60_000 }, async () => {
  const dir = await tempDir('local-empty');
  const store = join(dir.path, 'store');
  await mkdir(store);
  const run = runLocal(['--store', store]);
  try {
    assert.equal(await exitOf(run), 1);
    assert.match(run.err(), /SnapshotNotFoundError: no snapshot published at file:\/\/.*store: _CURRENT does not exist \(run `shardfleet build` first\) \(--store .*store\)/);
    assert.doesNotMatch(run.err(), /started|did not become SERVING/);
    assert.equal(run.out(), '');
  } finally {
    await stopRun(run);
    await dir.remove();
  }
});

test('local on a store whose _CURRENT and manifests are unusable exits with ManifestParseError naming --store', { timeout: 60_000 }, async () => {
  const dir = await tempDir('local-malformed');
  const store = join(dir.path, 'store');
  await mkdir(store);
  await writeFile(join(store, '_CURRENT'), '{"format_version": 1, "manifest_ref": "manifests/none.json"');
  const run = runLocal(['--store', store]);
  try {
    assert.equal(await exitOf(run), 1);
    assert.match(run.err(), /ManifestParseError: no valid manifest at file:\/\/.*\(--store .*store\)/);
  } finally {
    await stopRun(run);
    await dir.remove();
  }
});

test('local refuses --replication above --num-nodes, and --num-nodes 0, naming the flags', { timeout: 60_000 }, async () => {
  const dir = await tempDir('local-shape');
  try {
    const store = await tinySnapshot(dir.path);
    const tooFew = runLocal(['--store', store, '--replication', '3', '--num-nodes', '2']);
    const none = runLocal(['--store', store, '--num-nodes', '0']);
    try {
      assert.equal(await exitOf(tooFew), 1);
      assert.match(tooFew.err(), /--replication 3 is more than --num-nodes 2/);
      assert.equal(await exitOf(none), 1);
      assert.match(none.err(), /--num-nodes must be at least 1 \(got 0\)/);
      assert.doesNotMatch(none.err(), /--nodes\b/);
    } finally {
      await stopRun(tooFew);
      await stopRun(none);
    }
  } finally {
    await dir.remove();
  }
});

test('SHARDFLEET_METRICS_LISTEN=<host:port> gives each process its own port from that base, not the same one', { timeout: 240_000 }, async () => {
  const dir = await tempDir('local-metrics-env');
  const store = await tinySnapshot(dir.path);
  const base = await freePort();
  const run = runLocal(['--store', store, '--num-nodes', '2', '--cache-dir', join(dir.path, 'cache')], { SHARDFLEET_METRICS_LISTEN: `127.0.0.1:${base}` });
  try {
    await addressesOf(run);
    const urls = metricsUrls(run.out());
    assert.deepEqual(
      [...urls],
      [
        ['router', `http://127.0.0.1:${base}/metrics`],
        ['node-0', `http://127.0.0.1:${base + 1}/metrics`],
        ['node-1', `http://127.0.0.1:${base + 2}/metrics`],
      ],
    );
    assert.match(await whoAnswers(urls.get('router')!), /component="router"/);
    assert.match(await whoAnswers(urls.get('node-0')!), /node_id="node-0"/);
    assert.match(await whoAnswers(urls.get('node-1')!), /node_id="node-1"/);
    run.child.kill('SIGINT');
    assert.equal(await exitOf(run), 0);
    assert.ok(existsSync(join(dir.path, 'cache', 'node-0')), 'a --cache-dir is kept');
  } finally {
    await stopRun(run);
    await dir.remove();
  }
});

test('local says what starts, serves /metrics per process, restarts a killed node, gives up on one that keeps dying, and removes its temp cache on SIGINT', { timeout: 420_000 }, async () => {
  const dir = await tempDir('local-supervise');
  const store = await tinySnapshot(dir.path);
  const tmp = join(dir.path, 'tmp');
  await mkdir(tmp);
  // The temp cache goes under TMPDIR: this folder, so the test sees exactly this run's cache.
  const run = runLocal(['--store', store, '--num-nodes', '2', '--metrics-listen', 'auto'], { TMPDIR: tmp });
  try {
    const addresses = await addressesOf(run);
    assert.match(run.err(), /^serving run \S+: 4 shards x 1 replica on 2 nodes$/m);
    assert.match(run.err(), /^started node-0 \(pid \d+\), node-1 \(pid \d+\), router \(pid \d+\); waiting for the shards to load$/m);
    assert.match(run.err(), /^cluster ready in [\d.]+ s: 4\/4 shard replicas loaded on 2\/2 nodes, coverage 100%$/m);
    assert.doesNotMatch(run.err(), /^\{/m, 'no JSON log lines');
    // (tsx keeps its own cache under TMPDIR too.)
    const ourCaches = async () => (await readdir(tmp)).filter((f) => f.startsWith('shardfleet-cache-'));
    const caches = await ourCaches();
    assert.equal(caches.length, 1);
    assert.match(run.out(), new RegExp(`^cache +${join(tmp, caches[0]).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(removed on exit\\)$`, 'm'));

    const urls = metricsUrls(run.out());
    assert.deepEqual([...urls.keys()], ['router', 'node-0', 'node-1']);
    assert.equal(new Set(urls.values()).size, 3, 'one port per process');
    assert.match(await whoAnswers(urls.get('node-1')!), /node_id="node-1"/);

    const pidOf = (name: string): number => {
      const all = [...run.err().matchAll(new RegExp(`${name} (?:restarted )?\\(pid (\\d+)\\)`, 'g'))];
      return Number(all[all.length - 1][1]);
    };
    // A node killed outright is started again and the cluster serves every shard again.
    process.kill(pidOf('node-0'), 'SIGKILL');
    await waitFor('node-0 to serve again', () => /node-0 is SERVING again at 127\.0\.0\.1:\d+/.test(run.err()), { timeoutMs: 120_000 });
    assert.match(run.err(), /^node-0 exited \(signal SIGKILL\); restarting it in 1\.0 s \(restart 1\)$/m);
    const client = new ShardfleetClient(addresses.get('router')!);
    try {
      await waitFor('full coverage', async () => (await client.health(2000)).coverage === 1, { timeoutMs: 60_000, retryOnError: true });
    } finally {
      client.close();
    }
    assert.match(await whoAnswers(urls.get('node-0')!), /node_id="node-0"/);

    // A node that dies again and again right after its start is given up on, with why.
    for (let k = 1; k <= 3; k++) {
      const before = (run.err().match(/node-1 restarted/g) ?? []).length;
      process.kill(pidOf('node-1'), 'SIGKILL');
      if (k < 3) await waitFor(`node-1 restart ${k}`, () => (run.err().match(/node-1 restarted/g) ?? []).length > before, { timeoutMs: 60_000 });
    }
    await waitFor('node-1 given up on', () => /node-1 exited \(signal SIGKILL\); it died \d times within 30 s of starting, so it is not restarted again/.test(run.err()), { timeoutMs: 30_000 });
    assert.equal(run.child.exitCode, null, 'a node given up on does not stop the cluster');

    run.child.kill('SIGINT');
    assert.equal(await exitOf(run), 0);
    assert.deepEqual(await ourCaches(), [], 'the temp cache folder is removed');
  } finally {
    await stopRun(run);
    await dir.remove();
  }
});

test('local over a catalog root: progress counts every collection\'s shards and says when each collection is ready', { timeout: 240_000 }, async () => {
  const dir = await tempDir('local-catalog');
  const root = join(dir.path, 'root');
  await tinySnapshot(root, 'items');
  await tinySnapshot(root, 'users');
  const run = runLocal(['--store', root, '--num-nodes', '2', '--cache-dir', join(dir.path, 'cache')]);
  try {
    await addressesOf(run);
    const err = run.err();
    assert.match(err, /^serving 2 collections: 8 shards x 1 replica on 2 nodes; items \(run \S+, 4 shards\), users \(run \S+, 4 shards\)$/m);
    // Both collections are ready before the cluster is (the ready line comes once the router covers all).
    assert.match(err, /^collection items ready after [\d.]+ s \([12]\/2 collections; 4 shard replicas of 4 shards loaded, router healthy\)$/m);
    assert.match(err, /^collection users ready after [\d.]+ s \([12]\/2 collections; 4 shard replicas of 4 shards loaded, router healthy\)$/m);
    assert.match(err, /^cluster ready in [\d.]+ s: 8\/8 shard replicas loaded on 2\/2 nodes, coverage 100%, 2\/2 collections ready$/m);
    assert.doesNotMatch(err, /^problem:/m);
    run.child.kill('SIGINT');
    assert.equal(await exitOf(run), 0);
  } finally {
    await stopRun(run);
    await dir.remove();
  }
});
