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

test('build: a --quantization or --ef-search the backend does not have is an error naming the flag; nothing is published', async () => {
  const dir = await tempDir('cli-backend-flags');
  try {
    const store = join(dir.path, 'store');
    const cases: [string[], RegExp][] = [
      [['--quantization', 'int8'], /--quantization int8 is not one of f16, f32, bf16, i8 for --backend usearch/],
      [['--backend', 'sqlite-vec', '--quantization', 'f16'], /--quantization f16 is not one of none, int8 for --backend sqlite-vec/],
      [['--backend', 'lancedb', '--ef-search', '32'], /--ef-search applies to --backend usearch/],
      [['--quantization', 'i8', '--metric', 'l2'], /--quantization i8 needs --metric cosine/],
    ];
    for (const [flags, message] of cases) {
      const out = await cli(['build', '--store', store, '--input', TINY_JSONL, '--num-dbs', '2', '--num-probes', '1', ...flags]);
      assert.equal(out.code, 1, `${flags.join(' ')}: ${out.stderr}`);
      assert.match(out.stderr, message, flags.join(' '));
    }
    assert.equal(await new FileObjectStore(store).head(CURRENT_KEY), undefined);
  } finally {
    await dir.remove();
  }
});

test('build: the default backend is usearch f16 and the manifest records its HNSW parameters', async () => {
  const dir = await tempDir('cli-usearch');
  try {
    const storePath = join(dir.path, 'store');
    const out = await cli(['build', '--store', storePath, '--input', TINY_JSONL, '--num-dbs', '2', '--num-probes', '1', '--m', '8', '--ef-search', '40']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /2 shards \(cluster, usearch\)/);
    const store = new FileObjectStore(storePath);
    const current = JSON.parse((await store.get(CURRENT_KEY)).toString('utf8')) as { manifest_ref: string };
    const manifest = JSON.parse((await store.get(current.manifest_ref)).toString('utf8')) as { index: unknown; shards: { files: { path: string }[]; index_type: string }[] };
    assert.deepEqual(manifest.index, { dim: 8, metric: 'l2', backend: 'usearch', index_type: 'hnsw', index_params: { quantization: 'f16', m: 8, ef_construction: 128, ef_search: 40 } });
    for (const shard of manifest.shards) {
      assert.equal(shard.index_type, 'hnsw');
      assert.deepEqual(shard.files.map((f) => f.path).sort(), ['index.usearch', 'rows.sqlite']);
    }
  } finally {
    await dir.remove();
  }
});
