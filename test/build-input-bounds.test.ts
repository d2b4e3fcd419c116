/**
 * Issue 20, defect 6: crafted inputs through the real CLI (`bin/shardfleet.js build`, one child
 * process per build) into a temp `file://` store. An IDX gzip bomb, a JSONL payload nested 10^5
 * deep, a 17 MB line and .npy headers that claim too much are refused with an error naming the
 * file (and line) and the flag that raises the limit; the build's memory stays small; and a failed
 * build leaves no `runs/<run_id>/` objects, no manifest, no `_CURRENT` (also when it fails after
 * the routing metadata was uploaded, and for `build --plan`). Good inputs still build.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { encodeNpy } from '../src/common/npy.ts';
import { FASHION_IMAGES, TINY_JSONL, tempDir } from './helpers/fixtures.ts';

const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));

/** The watchdog kills a build whose RSS passes this (the bug took a build to 14 GB). */
const RSS_KILL_BYTES = 1.5 * 2 ** 30;
/** A refused crafted input must keep the build under this. */
const RSS_LIMIT_BYTES = 2 ** 30;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Highest resident set size seen while polling /proc (bytes; 0 where /proc is missing). */
  peakRss: number;
  /** True when the watchdog killed the child for passing RSS_KILL_BYTES. */
  killed: boolean;
}

/** Current RSS of a process from /proc/<pid>/status, bytes (0 when unreadable). */
async function rssOf(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Runs the CLI as a child process, polling its RSS every 25 ms and killing it past RSS_KILL_BYTES. */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'error', ...env } });
    let stdout = '';
    let stderr = '';
    let peakRss = 0;
    let killed = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const poll = setInterval(() => {
      if (child.pid === undefined) return;
      void rssOf(child.pid).then((rss) => {
        peakRss = Math.max(peakRss, rss);
        if (rss > RSS_KILL_BYTES && !killed) {
          killed = true;
          child.kill('SIGKILL');
        }
      });
    }, 25);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      resolve({ code, stdout, stderr, peakRss, killed });
    });
  });
}

/** Every file below `dir` (relative, `/`-separated); none when the folder does not exist. */
async function filesBelow(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Asserts the store holds no run objects, no manifest and no `_CURRENT`. */
async function assertNothingStored(store: string, what: string): Promise<void> {
  const left = (await filesBelow(store)).filter((f) => f.startsWith('runs/') || f.startsWith('manifests/') || f === '_CURRENT');
  assert.deepEqual(left, [], `${what}: the failed build left objects in the store`);
}

/** Asserts a refused build: non-zero exit, not killed for memory, stderr naming every pattern. */
function assertRefused(r: CliResult, ...patterns: (string | RegExp)[]): void {
  assert.equal(r.killed, false, `the build grew past ${RSS_KILL_BYTES} bytes of RSS and was killed; stderr: ${r.stderr.slice(-500)}`);
  assert.notEqual(r.code, 0, `the build succeeded: ${r.stdout}`);
  for (const p of patterns) {
    if (typeof p === 'string') assert.ok(r.stderr.includes(p), `${JSON.stringify(p)} not in: ${r.stderr.slice(-800)}`);
    else assert.match(r.stderr, p);
  }
  assert.ok(r.peakRss < RSS_LIMIT_BYTES, `peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MiB`);
}

/**
 * An IDX images file claiming `count` images of rows x cols, gzip'd, whose data are zeros: the
 * header as one gzip member, then `members` copies of one gzip'd 16 MiB block of zeros
 * (concatenated gzip members decompress as one stream), i.e. a 0.5 MB file of 512 MiB.
 */
function idxGzipBomb(count: number, rows: number, cols: number, members: number): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(2051, 0);
  header.writeUInt32BE(count, 4);
  header.writeUInt32BE(rows, 8);
  header.writeUInt32BE(cols, 12);
  const zeros = gzipSync(Buffer.alloc(16 << 20), { level: 9 });
  return Buffer.concat([gzipSync(header), ...Array.from({ length: members }, () => zeros)]);
}

test('an IDX gzip bomb (2 x 16384 x 16384) is refused on its header naming the file and --max-dim; RSS stays small; nothing stored', async () => {
  const dir = await tempDir('input-bounds');
  try {
    const bomb = join(dir.path, 'bomb-idx3-ubyte.gz');
    const bytes = idxGzipBomb(2, 16384, 16384, 32);
    assert.ok(bytes.length < 1 << 20, `the bomb is ${bytes.length} bytes`);
    await writeFile(bomb, bytes);
    const store = join(dir.path, 'store');
    const r = await cli(['build', '--store', store, '--input', bomb, '--num-dbs', '2', '--no-progress']);
    assertRefused(r, bomb, 'rows x cols (16384 x 16384)', '268435456', 'limit of 65536', '--max-dim');
    await assertNothingStored(store, 'IDX gzip bomb');
  } finally {
    await dir.remove();
  }
});

test('a JSONL payload nested 10^5 deep names the file, the line and --max-json-depth; nothing stored (build and build --plan)', async () => {
  const dir = await tempDir('input-bounds');
  try {
    const input = join(dir.path, 'deep.jsonl');
    const depth = 100_000;
    const good = Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: i, vector: [i, i + 0.5, 1], payload: { n: { m: [i] } } }));
    const deep = `{"id": 99, "vector": [1, 2, 3], "payload": {"x": ${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    await writeFile(input, `${good.join('\n')}\n${deep}\n`);
    const store = join(dir.path, 'store');
    const r = await cli(['build', '--store', store, '--input', input, '--num-dbs', '2', '--no-progress']);
    assertRefused(r, `${input} line 21`, 'more than 64 levels', '--max-json-depth');
    assert.doesNotMatch(r.stderr, /Maximum call stack/);
    await assertNothingStored(store, 'deep JSONL');

    const planned = await cli(['build', '--store', store, '--input', input, '--num-dbs', '2', '--plan', '--run-id', 'deep-plan', '--no-progress']);
    assertRefused(planned, `${input} line 21`, '--max-json-depth');
    await assertNothingStored(store, 'deep JSONL, build --plan');
  } finally {
    await dir.remove();
  }
});

test('a JSONL line over 16 MiB is refused naming the file, the line and --max-line-bytes; the flag raises the limit', async () => {
  const dir = await tempDir('input-bounds');
  try {
    const input = join(dir.path, 'long.jsonl');
    const good = Array.from({ length: 4 }, (_, i) => JSON.stringify({ id: i, vector: [i, 1] }));
    const long = JSON.stringify({ id: 9, vector: [9, 1], payload: { text: 'x'.repeat(17 << 20) } });
    await writeFile(input, `${good.join('\n')}\n\n${long}\n`);
    const store = join(dir.path, 'store');
    const r = await cli(['build', '--store', store, '--input', input, '--num-dbs', '2', '--no-progress']);
    assertRefused(r, `${input} line 6`, `longer than ${16 << 20} bytes`, '--max-line-bytes');
    await assertNothingStored(store, 'long JSONL line');

    const small = join(dir.path, 'small.jsonl');
    await writeFile(small, `${good.join('\n')}\n${JSON.stringify({ id: 7, vector: [7, 1], payload: { text: 'y'.repeat(5000) } })}\n`);
    const capped = await cli(['build', '--store', store, '--input', small, '--num-dbs', '2', '--max-line-bytes', '1000', '--no-progress']);
    assertRefused(capped, `${small} line 5`, 'longer than 1000 bytes', '--max-line-bytes');
    const raised = await cli(['build', '--store', store, '--input', small, '--num-dbs', '2', '--strategy', 'hash', '--no-progress'], { SHARDFLEET_MAX_LINE_BYTES: '6000' });
    assert.equal(raised.code, 0, raised.stderr);
  } finally {
    await dir.remove();
  }
});

test('.npy headers: a shape the file does not hold, and a dim over --max-dim, are refused naming the file; nothing stored', async () => {
  const dir = await tempDir('input-bounds');
  try {
    const store = join(dir.path, 'store');
    // Shape (1000, 128) float32 with the data of 10 rows.
    const short = join(dir.path, 'short.npy');
    const whole = encodeNpy(new Float32Array(1000 * 128).fill(0.5), [1000, 128]);
    await writeFile(short, whole.subarray(0, whole.length - 990 * 128 * 4));
    const r = await cli(['build', '--store', store, '--input', short, '--num-dbs', '2', '--no-progress']);
    assertRefused(r, short, 'shape (1000, 128)', /truncated|needs \d+ bytes/);
    await assertNothingStored(store, 'short .npy');

    // A complete file of shape (2, 100000): dim over the default cap.
    const wide = join(dir.path, 'wide.npy');
    await writeFile(wide, encodeNpy(new Float32Array(2 * 100_000).fill(0.25), [2, 100_000]));
    const w = await cli(['build', '--store', store, '--input', wide, '--num-dbs', '2', '--no-progress']);
    assertRefused(w, wide, 'vector dimension 100000', 'limit of 65536', '--max-dim');
    await assertNothingStored(store, 'wide .npy');
  } finally {
    await dir.remove();
  }
});

test('a build that fails after its routing metadata was uploaded deletes every object it wrote', async () => {
  const dir = await tempDir('input-bounds');
  try {
    // Centroid 1 is far from every vector of tiny.jsonl: shard 1 gets no vector, which a CLUSTER
    // build refuses only in its second pass, after vector_meta/centroids.npy is stored.
    const lines = (await readFile(TINY_JSONL, 'utf8')).split('\n').filter((l) => l.trim() !== '');
    const dim = (JSON.parse(lines[0]) as { vector: number[] }).vector.length;
    const centroids = new Float32Array(2 * dim).fill(1e6, dim);
    const centroidsPath = join(dir.path, 'centroids.npy');
    await writeFile(centroidsPath, encodeNpy(centroids, [2, dim]));
    const store = join(dir.path, 'store');
    const r = await cli(['build', '--store', store, '--input', TINY_JSONL, '--num-dbs', '2', '--centroids', centroidsPath, '--recall-queries', '0', '--no-progress']);
    assertRefused(r, /shard\(s\) 1 received no vectors/);
    await assertNothingStored(store, 'empty CLUSTER shard');
  } finally {
    await dir.remove();
  }
});

test('good inputs still build: JSONL with nested payloads, IDX gzip; --max-dim / SHARDFLEET_MAX_DIM lower the cap; a used --run-id is refused', async () => {
  const dir = await tempDir('input-bounds');
  try {
    const store = join(dir.path, 'store');
    const input = join(dir.path, 'nested.jsonl');
    const nested = (d: number): unknown => (d === 0 ? 'leaf' : { down: nested(d - 1) });
    const rows = Array.from({ length: 40 }, (_, i) => JSON.stringify({ id: `r${i}`, vector: [i % 7, i % 5, i % 3, 1], payload: { tree: nested(40), i } }));
    await writeFile(input, `${rows.join('\r\n')}\r\n`);
    const ok = await cli(['build', '--store', store, '--input', input, '--num-dbs', '2', '--run-id', 'nested-ok', '--no-progress']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /published run nested-ok: 40 vectors, 2 shards/);

    const again = await cli(['build', '--store', store, '--input', input, '--num-dbs', '2', '--run-id', 'nested-ok', '--no-progress']);
    assertRefused(again, 'run nested-ok already has', '--run-id');
    assert.ok((await filesBelow(store)).some((f) => f.startsWith('runs/nested-ok/')), 'the published run is untouched');

    const idx = await cli(['build', '--store', store, '--input', FASHION_IMAGES, '--limit', '300', '--num-dbs', '2', '--no-progress']);
    assert.equal(idx.code, 0, idx.stderr);
    assert.match(idx.stdout, /300 vectors, 2 shards/);

    const capped = await cli(['build', '--store', store, '--input', FASHION_IMAGES, '--limit', '300', '--num-dbs', '2', '--max-dim', '700', '--no-progress']);
    assertRefused(capped, FASHION_IMAGES, '(28 x 28)', 'vector dimension 784', 'limit of 700', '--max-dim');
    const env = await cli(['build', '--store', store, '--input', input, '--num-dbs', '2', '--no-progress'], { SHARDFLEET_MAX_DIM: '3' });
    assertRefused(env, `${input} line 1`, '"vector" length gives vector dimension 4', 'limit of 3', '--max-dim');
  } finally {
    await dir.remove();
  }
});
