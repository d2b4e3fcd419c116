/**
 * `shardfleet local` as a user runs it: it prints the addresses of a serving cluster, and Ctrl-C
 * (SIGINT) stops every process it started. Killing it outright (SIGKILL) must not leave servers
 * running either. A port taken between the pick and the child's listen costs a restart, not a
 * failed start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT_ADDRESS_IN_USE } from '../src/cli/exit-codes.ts';
import { ephemeralPortLow, freePort } from '../src/cli/free-port.ts';
import { startLocalCluster } from '../src/cli/local-cluster.ts';
import { checkHealth } from '../src/common/health.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { quietLogger, tempDir, TINY_JSONL } from './helpers/fixtures.ts';

const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));

function readAddresses(child: ChildProcess): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ctrl-C')) resolve([...out.matchAll(/^\S+\s+(127\.0\.0\.1:\d+)$/gm)].map((m) => m[1]));
    });
    child.once('exit', (code) => reject(new Error(`local exited early (${code}): ${out}${err}`)));
  });
}

async function waitUntilDown(addresses: string[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const a of addresses) {
    while ((await checkHealth(a, '', 300)) === 'SERVING') {
      assert.ok(Date.now() < deadline, `${a} still serving`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function tinySnapshot(prefix: string): Promise<{ storePath: string; dir: { path: string; remove: () => Promise<void> } }> {
  const dir = await tempDir(prefix);
  const storePath = join(dir.path, 'store');
  const store = new FileObjectStore(storePath);
  await buildSnapshot({ store, source: await openJsonlSource({ path: TINY_JSONL }), sharding: { strategy: 'cluster', numDbs: 4, numProbes: 1 }, metric: 'l2', progress: false, log: quietLogger() });
  return { storePath, dir };
}

/**
 * A socket listening on 127.0.0.1 at a free port: a squatter on the port a child is told to use.
 * It hangs up on whoever connects (health polls), so no connection outlives the test.
 */
async function holdPort(): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => socket.destroy());
  server.listen(await freePort(), '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  assert.ok(addr && typeof addr === 'object');
  return { port: addr.port, server };
}

for (const signal of ['SIGINT', 'SIGKILL'] as const) {
  test(`local prints a serving router and 2 nodes; ${signal} stops them all`, async () => {
    const { storePath, dir } = await tinySnapshot('local');
    const child = spawn(process.execPath, [BIN, 'local', '--store', storePath, '--num-nodes', '2', '--cache-dir', join(dir.path, 'cache')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'error' },
    });
    try {
      const addresses = await readAddresses(child);
      assert.equal(addresses.length, 3);
      for (const a of addresses) assert.equal(await checkHealth(a), 'SERVING');
      child.kill(signal);
      await waitUntilDown(addresses);
    } finally {
      child.kill('SIGKILL');
      await dir.remove();
    }
  });
}

test('freePort picks distinct, bindable ports below the ephemeral range, so no outgoing connection takes them', async () => {
  const low = ephemeralPortLow();
  const ports = new Set<number>();
  for (let i = 0; i < 30; i++) {
    const port = await freePort();
    // A kernel whose ephemeral range starts at or below 20000 leaves no room: any free port then.
    if (low > 20000) assert.ok(port >= 20000 && port < low, `port ${port} outside [20000, ${low})`);
    assert.ok(!ports.has(port), `port ${port} handed out twice`);
    ports.add(port);
  }
  const server = createServer().listen([...ports][0], '127.0.0.1');
  await once(server, 'listening');
  server.close();
});

test('a server told to listen on a taken port exits with code 98, naming the address', async () => {
  const held = await holdPort();
  try {
    const child = spawn(process.execPath, [BIN, 'serve', 'router', '--store', '/nonexistent', '--nodes', 'node-0=127.0.0.1:1', '--listen', `127.0.0.1:${held.port}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'silent' },
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, EXIT_ADDRESS_IN_USE, stderr);
    assert.match(stderr, new RegExp(`AddressInUseError: cannot listen on 127\\.0\\.0\\.1:${held.port}`));
  } finally {
    held.server.close();
  }
});

test('startLocalCluster starts again on new ports when a node finds its port taken', async () => {
  const { storePath, dir } = await tinySnapshot('local-port');
  const held = await holdPort();
  let picks = 0;
  const cluster = await startLocalCluster({
    store: storePath,
    numNodes: 2,
    cacheDir: join(dir.path, 'cache'),
    stderr: 'ignore',
    env: { SHARDFLEET_LOG_LEVEL: 'silent' },
    pickPort: async () => (picks++ === 0 ? held.port : freePort()),
  });
  try {
    assert.equal(picks, 6, 'two attempts of three ports each');
    const addresses = [cluster.routerAddress, ...cluster.nodes.map((n) => n.address)];
    assert.ok(!addresses.includes(`127.0.0.1:${held.port}`));
    for (const a of addresses) assert.equal(await checkHealth(a), 'SERVING');
    assert.ok(held.server.listening, 'the squatter keeps its port');
  } finally {
    await cluster.stop();
    held.server.close();
    await dir.remove();
  }
});
