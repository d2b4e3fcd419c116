/**
 * A `--store` naming a local folder that does not exist is reported as such, not as an empty
 * store ("no snapshot published", "no runs"): read commands fail naming the folder and the flag;
 * routers and shard nodes keep retrying (the folder may be a volume mounted later) with that
 * message in their logs and in Health, and serve once a snapshot is built into it. `build` still
 * creates the folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { freePort } from '../src/cli/free-port.ts';
import { SnapshotNotFoundError } from '../src/common/errors.ts';
import { loadSnapshot } from '../src/common/snapshot-loader.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { tempDir, TINY_JSONL } from './helpers/fixtures.ts';
import { waitFor } from './helpers/wait.ts';

const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));
const run = promisify(execFile);

function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHARDFLEET_')) env[k] = v;
  return { ...env, SHARDFLEET_LOG_LEVEL: 'error' };
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: cliEnv(), timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('loadSnapshot: a missing store folder says so (naming --store); an existing empty one is "no snapshot published"', async () => {
  const dir = await tempDir('missing-loader');
  try {
    const missing = join(dir.path, 'no', 'such', 'store');
    await assert.rejects(loadSnapshot(new FileObjectStore(missing)), (err: Error) => {
      assert.ok(err instanceof SnapshotNotFoundError, String(err));
      assert.equal(err.message, `store folder ${missing} does not exist (--store ${pathToFileURL(missing).href}); nothing can be loaded from it until it exists`);
      return true;
    });
    const file = join(dir.path, 'a-file');
    await writeFile(file, 'x');
    await assert.rejects(loadSnapshot(new FileObjectStore(file)), new RegExp(`^SnapshotNotFoundError: store path ${escape(file)} is not a folder \\(--store `));
    await assert.rejects(loadSnapshot(new FileObjectStore(dir.path)), /^SnapshotNotFoundError: no snapshot published at file:\/\/.*: _CURRENT does not exist/);
  } finally {
    await dir.remove();
  }
});

test('history, rollback, cleanup, publish, build --worker and local fail on a missing store folder, naming it and --store', async () => {
  const dir = await tempDir('missing-cli');
  try {
    const missing = join(dir.path, 'no', 'such', 'store');
    const url = pathToFileURL(missing).href;
    const cases: [string, string[]][] = [
      [missing, ['history', '--store', missing]],
      [url, ['history', '--store', url, '--json']],
      [missing, ['rollback', '--store', missing, '--offset', '1']],
      [missing, ['cleanup', '--store', missing, '--keep-runs', '1', '--dry-run']],
      [url, ['publish', '--store', url, '--run-id', 'r1']],
      [missing, ['build', '--store', missing, '--input', TINY_JSONL, '--worker', '0/2', '--run-id', 'r1', '--no-progress']],
      [missing, ['local', '--store', missing]],
    ];
    for (const [given, args] of cases) {
      const out = await cli(args);
      assert.equal(out.code, 1, `${args.join(' ')}: ${out.stdout}${out.stderr}`);
      assert.match(out.stderr, new RegExp(`ConfigValidationError: store folder ${escape(missing)} does not exist \\(--store ${escape(given)}\\)`), args.join(' '));
    }
    // An existing, empty folder is an empty store, as before.
    const empty = await cli(['history', '--store', dir.path]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, /^no runs/);
    // build creates the folder.
    const built = await cli(['build', '--store', missing, '--input', TINY_JSONL, '--num-dbs', '2', '--num-probes', '1', '--no-progress']);
    assert.equal(built.code, 0, built.stderr);
    const history = await cli(['history', '--store', missing]);
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /^\s+run_id/);
  } finally {
    await dir.remove();
  }
});

/** A `shardfleet serve ...` child whose stderr (JSON log lines) is collected. */
function serve(args: string[]): { child: ChildProcess; log: () => string } {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], {
    env: { ...cliEnv(), SHARDFLEET_LOG_LEVEL: 'info', SHARDFLEET_EXIT_ON_STDIN_CLOSE: '1' },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  return { child, log: () => log };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

test('serve router and serve node on a missing store folder: log and report it, keep retrying, and serve once it is built', async () => {
  const dir = await tempDir('missing-serve');
  const children: ChildProcess[] = [];
  let client: ShardfleetClient | undefined;
  try {
    const missing = join(dir.path, 'mnt', 'store');
    const url = pathToFileURL(missing).href;
    const expected = `store folder ${missing} does not exist (--store ${url})`;
    const nodeAddress = `127.0.0.1:${await freePort()}`;
    const routerAddress = `127.0.0.1:${await freePort()}`;
    const common = ['--store', url, '--nodes', `node-0=${nodeAddress}`, '--poll-interval-ms', '300'];
    const node = serve(['node', ...common, '--node-id', 'node-0', '--listen', nodeAddress, '--cache-dir', join(dir.path, 'cache')]);
    const router = serve(['router', ...common, '--listen', routerAddress, '--status-poll-ms', '200']);
    children.push(node.child, router.child);

    client = new ShardfleetClient(routerAddress);
    const c = client;
    await waitFor('router Health naming the missing folder', async () => (await c.health()).reasons.some((r) => r.includes(expected)), { retryOnError: true, intervalMs: 200 });
    const health = await c.health();
    assert.equal(health.status, 'unhealthy');
    assert.doesNotMatch(health.reasons.join(' '), /no snapshot published/);
    await waitFor('both logs naming the missing folder', () => node.log().includes(expected) && router.log().includes(expected), { intervalMs: 100 });
    assert.doesNotMatch(router.log() + node.log(), /no snapshot published/);

    const info = await cli(['info', '--router', routerAddress]);
    assert.equal(info.code, 1, info.stdout);
    assert.match(info.stderr, new RegExp(escape(expected)));

    // The folder appears (a volume mounted, a first build): both pick the snapshot up.
    const built = await cli(['build', '--store', missing, '--input', TINY_JSONL, '--num-dbs', '2', '--num-probes', '2', '--no-progress']);
    assert.equal(built.code, 0, built.stderr);
    await waitFor('router serving the new snapshot', async () => (await c.health()).status === 'healthy', { retryOnError: true, intervalMs: 200 });
    const res = await c.search({ vector: [3.9232, 0.1534, -0.0678, -0.0945, 4.221, -0.064, 0.3336, 0.1272], top_k: 1 });
    assert.equal(res.results[0].id, 't00');
    assert.equal(node.child.exitCode, null, 'the node kept running');
    assert.equal(router.child.exitCode, null, 'the router kept running');
  } finally {
    client?.close();
    await Promise.all(children.map(stop));
    await dir.remove();
  }
});
