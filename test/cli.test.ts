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
      [['--backend', 'sqlite-vec', '--store-vectors'], /--store-vectors applies to --backend usearch \(sqlite-vec shards always hold the float32 vectors\)/],
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
    assert.deepEqual(manifest.index, { dim: 8, metric: 'l2', backend: 'usearch', index_type: 'hnsw', index_params: { quantization: 'f16', m: 8, ef_construction: 128, ef_search: 40, store_vectors: false } });
    for (const shard of manifest.shards) {
      assert.equal(shard.index_type, 'hnsw');
      assert.deepEqual(shard.files.map((f) => f.path).sort(), ['id-filter.bin', 'index.usearch', 'rows.sqlite']);
    }
  } finally {
    await dir.remove();
  }
});

/** Runs the CLI and kills it after `timeoutMs` (a serve command that passed its checks would run on). */
async function cliWithin(args: string[], timeoutMs: number, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  try {
    const { stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'error', ...env }, timeout: timeoutMs });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code: number | null; killed?: boolean; stderr: string };
    return { code: e.killed ? null : e.code, stderr: e.stderr };
  }
}

test('search: a --vector that is not JSON (NaN) or not finite is an error naming the flag, not a raw SyntaxError', async () => {
  const router = '127.0.0.1:1'; // never reached: the vector is checked first
  const nan = await cli(['search', '--router', router, '--vector', '[1,NaN]']);
  assert.equal(nan.code, 1, nan.stderr);
  assert.match(nan.stderr, /^shardfleet: ConfigValidationError: --vector is not a JSON array of numbers \(NaN and Infinity are not JSON numbers, and a query must be finite\): /);
  assert.doesNotMatch(nan.stderr, /SyntaxError/);
  const huge = await cli(['search', '--router', router, '--vector', '[0.5, 1e39]']);
  assert.equal(huge.code, 1, huge.stderr);
  assert.match(huge.stderr, /--vector: element 1 \(1e\+39\) is not a finite float32/);
  const notArray = await cli(['search', '--router', router, '--vector', '{"a":1}']);
  assert.match(notArray.stderr, /--vector must be a non-empty JSON array of numbers/);
  const dir = await tempDir('cli-vector');
  try {
    const file = join(dir.path, 'q.json');
    await writeFile(file, '[1, 2,');
    const bad = await cli(['search', '--router', router, '--vector-file', file]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, new RegExp(`--vector-file ${file} is not a JSON array of numbers: `));
    const missing = join(dir.path, 'nope.json');
    assert.match((await cli(['search', '--router', router, '--vector-file', missing])).stderr, new RegExp(`--vector-file ${missing} cannot be read: .*ENOENT`));
  } finally {
    await dir.remove();
  }
});

test('build: a duplicate id names the --on-duplicate flag', async () => {
  const dir = await tempDir('cli-dup');
  try {
    const input = join(dir.path, 'dup.jsonl');
    await writeFile(input, '{"id":"a","vector":[1,2]}\n{"id":"b","vector":[3,4]}\n{"id":"a","vector":[5,6]}\n');
    const out = await cli(['build', '--store', join(dir.path, 'store'), '--input', input, '--num-dbs', '1', '--num-probes', '1']);
    assert.equal(out.code, 1, out.stderr);
    assert.match(out.stderr, /line 3: duplicate id "a" \(first seen at .*line 1\); pass --on-duplicate last to shardfleet build/);
    assert.doesNotMatch(out.stderr, /use onDuplicate/);
    const last = await cli(['build', '--store', join(dir.path, 'store'), '--input', input, '--num-dbs', '1', '--num-probes', '1', '--on-duplicate', 'last']);
    assert.equal(last.code, 0, `the flag the message names works: ${last.stderr}`);
  } finally {
    await dir.remove();
  }
});

test('serve: node and router token and TLS flag errors name the flag (flags and SHARDFLEET_* env vars)', async () => {
  const dir = await tempDir('cli-serve-auth');
  try {
    const base = ['--store', join(dir.path, 'store'), '--nodes', 'n0=127.0.0.1:1', '--listen', '127.0.0.1:0'];
    const node = ['serve', 'node', ...base, '--node-id', 'n0', '--cache-dir', join(dir.path, 'cache')];
    const missing = join(dir.path, 'no-token');
    const noFile = await cliWithin([...node, '--auth-token-file', missing], 20_000);
    assert.equal(noFile.code, 1, noFile.stderr);
    assert.match(noFile.stderr, new RegExp(`cannot read bearer token file ${missing} \\(--auth-token-file\\)`));
    const empty = join(dir.path, 'empty-token');
    await writeFile(empty, ' \n');
    const emptyEnv = await cliWithin(['serve', 'router', ...base], 20_000, { SHARDFLEET_NODE_AUTH_TOKEN_FILE: empty });
    assert.equal(emptyEnv.code, 1, emptyEnv.stderr);
    assert.match(emptyEnv.stderr, new RegExp(`bearer token file ${empty} \\(--node-auth-token-file\\) is empty`));
    const mtlsNoCert = await cliWithin([...node, '--tls-ca', empty, '--tls-require-client-cert'], 20_000);
    assert.equal(mtlsNoCert.code, 1, mtlsNoCert.stderr);
    assert.match(mtlsNoCert.stderr, /--tls-ca and --tls-require-client-cert need --tls-cert and --tls-key/);
    const halfPair = await cliWithin(['serve', 'router', ...base, '--node-tls-key', empty], 20_000);
    assert.equal(halfPair.code, 1, halfPair.stderr);
    assert.match(halfPair.stderr, /--node-tls-cert and --node-tls-key must be given together/);
  } finally {
    await dir.remove();
  }
});

test('serve --help documents the node token and mTLS flags with their env vars', async () => {
  // commander wraps the help to the terminal width: compare with whitespace collapsed.
  const help = async (cmd: string): Promise<string> => (await cli(['serve', cmd, '--help'])).stdout.replace(/\s+/g, ' ');
  const node = await help('node');
  assert.match(node, /--auth-token-file <file\|env:NAME> require "authorization: Bearer <token>" on ShardNode calls \(routers send it with --node-auth-token-file\); without it or --tls-require-client-cert the port answers anyone \(env: SHARDFLEET_AUTH_TOKEN_FILE\)/);
  assert.match(node, /--tls-require-client-cert require a client certificate signed by --tls-ca \(mTLS\) \(env: SHARDFLEET_TLS_REQUIRE_CLIENT_CERT=true\)/);
  const router = await help('router');
  assert.match(router, /--node-auth-token-file <file\|env:NAME> send "authorization: Bearer <token>" on every call to the nodes \(their --auth-token-file\) \(env: SHARDFLEET_NODE_AUTH_TOKEN_FILE\)/);
  assert.match(router, /--node-tls-cert <file> mTLS to the nodes: client certificate \(PEM\) \(env: SHARDFLEET_NODE_TLS_CERT\)/);
});
