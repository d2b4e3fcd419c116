/**
 * `shardfleet local` as a user runs it: it prints the addresses of a serving cluster, and Ctrl-C
 * (SIGINT) stops every process it started. Killing it outright (SIGKILL) must not leave servers
 * running either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkHealth } from '../src/common/health.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { quietLogger, tempDir, TINY_JSONL } from './helpers/fixtures.ts';

const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));

function readAddresses(child: ChildProcess): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ctrl-C')) resolve([...out.matchAll(/^\S+\s+(127\.0\.0\.1:\d+)$/gm)].map((m) => m[1]));
    });
    child.once('exit', (code) => reject(new Error(`local exited early (${code}): ${out}`)));
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

for (const signal of ['SIGINT', 'SIGKILL'] as const) {
  test(`local prints a serving router and 2 nodes; ${signal} stops them all`, async () => {
    const dir = await tempDir('local');
    const storePath = join(dir.path, 'store');
    const store = new FileObjectStore(storePath);
    await buildSnapshot({ store, source: await openJsonlSource({ path: TINY_JSONL }), sharding: { strategy: 'cluster', numDbs: 4, numProbes: 1 }, metric: 'l2', progress: false, log: quietLogger() });
    const child = spawn(process.execPath, [BIN, 'local', '--store', storePath, '--num-nodes', '2', '--cache-dir', join(dir.path, 'cache')], {
      stdio: ['ignore', 'pipe', 'ignore'],
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
