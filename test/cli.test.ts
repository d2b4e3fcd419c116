/**
 * The `shardfleet` command line as a user runs it: `bin/shardfleet.js` in a child process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { CURRENT_KEY } from '../src/common/manifest.ts';
import { tempDir, TINY_JSONL } from './helpers/fixtures.ts';

const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));
const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'error' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('build publishes from JSONL and prints the run', async () => {
  const dir = await tempDir('cli');
  try {
    const out = await cli(['build', '--store', join(dir.path, 'store'), '--input', TINY_JSONL, '--num-dbs', '4', '--num-probes', '1']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /published run \S+: 40 vectors, 4 shards/);
    const store = new FileObjectStore(join(dir.path, 'store'));
    assert.ok(await store.head(CURRENT_KEY));
  } finally {
    await dir.remove();
  }
});

test('build with a bad record exits 1, names the line, and publishes nothing', async () => {
  const dir = await tempDir('cli-bad');
  try {
    const input = join(dir.path, 'bad.jsonl');
    await writeFile(input, '{"id":"a","vector":[1,2]}\n{"id":"b","vector":[1,2,3]}\n{"id":"c","vector":[3,4]}\n');
    const out = await cli(['build', '--store', join(dir.path, 'store'), '--input', input, '--num-dbs', '2', '--num-probes', '1']);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /InputRecordError: .*bad\.jsonl line 2: vector has 3 dimensions, expected 2/);
    const store = new FileObjectStore(join(dir.path, 'store'));
    assert.equal(await store.head(CURRENT_KEY), undefined);
  } finally {
    await dir.remove();
  }
});

test('flag errors are reported by the parser', async () => {
  const out = await cli(['build', '--store', '/tmp/x', '--input', TINY_JSONL, '--num-dbs', 'eight']);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /"eight" is not a non-negative integer/);
});
