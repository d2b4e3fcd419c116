/**
 * `npm run bench:scale-out`: a build that scales out (issue 22, item 4). Writes n seeded 128-d
 * vectors (64 Gaussian clusters, bench/synthetic-vectors.ts) as a Parquet dataset of part files
 * (`id` string, `vector` fixed-size binary float32, row groups of 10,000), then builds 16 shards
 * with the real CLI, each step in its own process under /usr/bin/time (peak RSS, user + system
 * CPU, wall):
 * - `build` in one process (the reference);
 * - `build --plan`, then `--workers` workers `build --worker i/N` at once, then `publish`.
 * Prints one row per process: wall s, CPU s, peak RSS MiB, and vectors per CPU second (the
 * throughput per core), plus the input bytes each worker read (from its log line `partitions
 * uploaded`).
 * Options: `--vectors <n>` (default 200,000), `--parts <n>` (default 8), `--workers <n>`
 * (default 2), `--only single|distributed`, `--cpu-prof <dir>` (node --cpu-prof for every process),
 * `--dataset <dir>` (write the Parquet dataset there once and reuse it; default: a temp folder),
 * `--memory-limit-mib <n>` (each worker runs in its own memory cgroup with this hard limit, so a
 * worker that needs more is OOM-killed and the build fails; prints each worker's cgroup peak and
 * OOM kills; needs a writable cgroup v1 memory or v2 hierarchy, as root in a container),
 * `--concurrency <n>` (the workers' `--concurrency`, shards indexed at once; default the CLI's),
 * `--recall-queries <n>` (passed to `build`; 0 measures no recall). Each worker's row also gives its
 * end-to-end recall partial (bytes, ground-truth and shard-search seconds), and the single-process
 * and the distributed `search_recall` tables are printed after the rows.
 */
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { SchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { ensureSyntheticFvecs } from './synthetic-vectors.ts';
import { MemoryCgroup } from './lib/memory-cgroup.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'shardfleet.js');
const DIM = 128;
const NUM_DBS = 16;

const { values: args } = parseArgs({
  options: {
    vectors: { type: 'string', default: '200000' },
    parts: { type: 'string', default: '8' },
    workers: { type: 'string', default: '2' },
    only: { type: 'string' },
    'cpu-prof': { type: 'string' },
    dataset: { type: 'string' },
    'memory-limit-mib': { type: 'string' },
    concurrency: { type: 'string' },
    'recall-queries': { type: 'string' },
  },
});
const n = Number(args.vectors);
const parts = Number(args.parts);
const workers = Number(args.workers);
const memoryLimitMiB = args['memory-limit-mib'] === undefined ? undefined : Number(args['memory-limit-mib']);
if (memoryLimitMiB !== undefined && !(memoryLimitMiB > 0)) throw new Error(`--memory-limit-mib: expected a positive number, got ${args['memory-limit-mib']}`);

/** Writes the dataset folder from the cached .fvecs (one part at a time in memory). */
async function writeDataset(dir: string): Promise<void> {
  const cache = join(tmpdir(), 'shardfleet-bench-cache');
  const fvecs = join(cache, `synthetic-${n}x${DIM}.fvecs`);
  await ensureSyntheticFvecs(fvecs, n, DIM);
  await mkdir(dir, { recursive: true });
  const fh = await open(fvecs);
  const per = Math.ceil(n / parts);
  const record = 4 + 4 * DIM;
  const schema: SchemaElement[] = [
    { name: 'root', num_children: 2 },
    { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    { name: 'vector', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 4 * DIM, repetition_type: 'REQUIRED' },
  ];
  try {
    for (let p = 0; p < parts; p++) {
      const from = p * per;
      const rows = Math.min(per, n - from);
      const buf = Buffer.alloc(rows * record);
      await fh.read(buf, 0, buf.length, from * record);
      const ids: string[] = [];
      const vectors: Uint8Array[] = [];
      for (let r = 0; r < rows; r++) {
        ids.push(`v${from + r}`);
        vectors.push(buf.subarray(r * record + 4, (r + 1) * record));
      }
      const bytes = parquetWriteBuffer({ columnData: [{ name: 'id', data: ids }, { name: 'vector', data: vectors }], schema, rowGroupSize: 10_000, codec: 'UNCOMPRESSED' });
      await writeFile(join(dir, `part-${String(p).padStart(5, '0')}.parquet`), new Uint8Array(bytes));
    }
    await writeFile(join(dir, '_SUCCESS'), '');
  } finally {
    await fh.close();
  }
}

interface Measured {
  name: string;
  wall: number;
  cpu: number;
  rssMiB: number;
  stderr: string;
  stdout: string;
  /** With --memory-limit-mib: the cgroup's peak usage (MiB, anonymous + page cache charged) and OOM kills. */
  cgroup?: { peakMiB: number; oomKills: number };
}

/**
 * Runs the CLI under /usr/bin/time (in a memory cgroup of `limitMiB` when given); returns its
 * wall, CPU and peak RSS.
 */
async function measure(name: string, cliArgs: string[], limitMiB?: number): Promise<Measured> {
  const prof = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', join(args['cpu-prof'], name.replace(/\W+/g, '-'))] : [];
  const env = { ...process.env, SHARDFLEET_LOG_LEVEL: 'info' };
  const timed = ['/usr/bin/time', '-f', 'TIME %e %U %S %M', process.execPath, ...prof, CLI, ...cliArgs];
  const cgroup = limitMiB === undefined ? undefined : MemoryCgroup.create(`shardfleet-${name.replace(/\W+/g, '-')}-${process.pid}`, limitMiB * 2 ** 20);
  try {
    const [file, ...argv] = cgroup ? cgroup.wrap(timed) : timed;
    const out = await run(file, argv, { env, maxBuffer: 64 << 20 });
    const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(out.stderr);
    if (!m) throw new Error(`${name}: no /usr/bin/time line in stderr: ${out.stderr.slice(-500)}`);
    return { name, wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), rssMiB: Number(m[4]) / 1024, stderr: out.stderr, stdout: out.stdout, ...(cgroup ? { cgroup: { peakMiB: cgroup.peakBytes() / 2 ** 20, oomKills: cgroup.oomKills() } } : {}) };
  } catch (err) {
    if (cgroup) throw new Error(`${name} failed (${cgroup.oomKills()} OOM kills under ${limitMiB} MiB): ${(err as Error).message.slice(-2000)}`);
    throw err;
  } finally {
    cgroup?.remove();
  }
}

function row(r: Measured, vectors: number): string {
  return [r.name.padEnd(28), r.wall.toFixed(1).padStart(7), r.cpu.toFixed(1).padStart(7), r.rssMiB.toFixed(0).padStart(8), Math.round(vectors / r.cpu).toString().padStart(10)].join('  ');
}

const work = await mkdtemp(join(tmpdir(), 'shardfleet-scale-out-'));
try {
  const data = args.dataset ?? join(work, 'dataset');
  const cached = args.dataset !== undefined && (await access(join(data, '_SUCCESS')).then(() => true, () => false));
  if (!cached) {
    process.stderr.write(`writing ${n} x ${DIM} as ${parts} Parquet parts to ${data}...\n`);
    await writeDataset(data);
  }
  const common = ['--input', data, '--num-dbs', String(NUM_DBS), '--no-progress', ...(args['recall-queries'] ? ['--recall-queries', args['recall-queries']] : [])];
  const tables: string[] = [];
  /** The end-to-end table `build` / `publish` print on stdout, if any. */
  const tableOf = (name: string, r: Measured): void => {
    const at = r.stdout.indexOf('end-to-end recall');
    tables.push(`${name}: ${at < 0 ? 'no search_recall' : r.stdout.slice(at).trim()}`);
  };
  console.log(`${n} vectors x ${DIM} dims, ${NUM_DBS} shards, usearch f16, ${parts} Parquet parts`);
  console.log(`${'step'.padEnd(28)}  ${'wall s'.padStart(7)}  ${'CPU s'.padStart(7)}  ${'RSS MiB'.padStart(8)}  ${'vec/CPU-s'.padStart(10)}`);
  if (args.only !== 'distributed') {
    const single = await measure('build (one process)', ['build', '--store', join(work, 'single'), ...common]);
    console.log(row(single, n));
    tableOf('single process', single);
  }
  if (args.only !== 'single') {
    const store = join(work, 'dist');
    const plan = await measure('build --plan', ['build', '--store', store, ...common, '--plan', '--run-id', 'bench'], memoryLimitMiB);
    console.log(row(plan, n));
    const workerFlags = args.concurrency === undefined ? [] : ['--concurrency', args.concurrency];
    const ws = await Promise.all(
      Array.from({ length: workers }, (_, i) =>
        measure(`build --worker ${i}/${workers}`, ['build', '--store', store, ...common, ...workerFlags, '--worker', `${i}/${workers}`, '--run-id', 'bench'], memoryLimitMiB),
      ),
    );
    for (const w of ws) {
      const line = w.stderr.split('\n').find((l) => l.includes('"partitions uploaded"'));
      const info = line ? (JSON.parse(line) as { records?: number; partition_bytes?: number }) : {};
      const limited = w.cgroup ? `; cgroup peak ${w.cgroup.peakMiB.toFixed(0)} MiB of ${memoryLimitMiB} MiB, ${w.cgroup.oomKills} OOM kills` : '';
      console.log(`${row(w, info.records ?? n / workers)}   slice ${info.records ?? '?'} records, ${((info.partition_bytes ?? 0) / 2 ** 20).toFixed(0)} MiB partitions${limited}`);
      const recallLine = w.stderr.split('\n').find((l) => l.includes('"recall partial uploaded"'));
      if (recallLine) {
        const r = JSON.parse(recallLine) as { bytes: number; ground_truth_seconds: number; search_seconds: number };
        console.log(`${''.padEnd(28)}  recall partial ${(r.bytes / 2 ** 20).toFixed(2)} MiB, ground truth ${r.ground_truth_seconds} s, shard searches ${r.search_seconds} s`);
      }
    }
    const pub = await measure('publish', ['publish', '--store', store, '--run-id', 'bench', '--verify', 'size'], memoryLimitMiB);
    console.log(row(pub, n));
    tableOf('distributed', pub);
    const cpu = plan.cpu + ws.reduce((s, w) => s + w.cpu, 0) + pub.cpu;
    console.log(`distributed total: ${cpu.toFixed(1)} CPU s, ${Math.round(n / cpu)} vectors per CPU second; largest worker RSS ${Math.max(...ws.map((w) => w.rssMiB)).toFixed(0)} MiB`);
  }
  for (const t of tables) console.log(t);
} finally {
  await rm(work, { recursive: true, force: true });
}
