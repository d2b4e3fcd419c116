/**
 * `build --input` over datasets of Parquet part files (issue 22, item 4): a Spark-style folder
 * (hive `key=value/` subfolders, `_SUCCESS`, `.crc`, `_temporary/` skipped) through the CLI on
 * file:// and from a real S3 protocol server (s3rver, read by byte ranges); a 3-worker distributed
 * build from S3 in which each worker reads only its slice (a counting store records every byte
 * range each worker fetched: the data ranges of different workers never overlap) and whose
 * snapshot equals a single-process build's (vector counts and id filters per shard); and the
 * errors naming `--input` or `--worker-wait`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { DeadlineExceededError } from '../src/common/errors.ts';
import { CURRENT_KEY, parseCurrentPointer, parseManifest, type Manifest } from '../src/common/manifest.ts';
import { ID_FILTER_FILE } from '../src/common/routing/id-filter.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { DelegatingStore } from './helpers/delegating-store.ts';
import { DEFAULT_BALANCE_FACTOR } from '../src/writer/balance-defaults.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { planDistributedBuild, publishRun, runBuildWorker } from '../src/writer/distributed-build.ts';
import { openInputSource } from '../src/writer/input/open-vector-source.ts';
import { partitionsPrefix } from '../src/writer/partition-exchange.ts';
import { quietLogger, tempDir } from './helpers/fixtures.ts';
import { clusteredRows, parquetBytes, writeSparkDataset, type WrittenDataset } from './helpers/parquet-dataset.ts';
import { startS3rver, type S3rverHandle } from './helpers/s3rver.ts';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'bin', 'shardfleet.js');
const ROWS = clusteredRows(1500, 24, 6);
const PARTS = 5;
const ROW_GROUP = 100;
// The CLI's defaults (balanced CLUSTER shards), so library and CLI builds compare equal.
const sharding = { strategy: 'cluster', numDbs: 4, numProbes: 2, balanceFactor: DEFAULT_BALANCE_FACTOR } as const;

/** An ObjectStore that records every ranged read (key, start, end) passed through it. */
class CountingStore extends DelegatingStore {
  readonly ranges: { key: string; start: number; end: number }[] = [];
  protected override rangeRead(key: string, start: number, end: number): Promise<Buffer> {
    this.ranges.push({ key, start, end });
    return super.rangeRead(key, start, end);
  }
}

/** Per shard: vector count and sha256 of its id filter (the set of ids it holds). */
async function shardContents(store: ObjectStore, m: Manifest): Promise<{ count: number; ids: string }[]> {
  return Promise.all(
    m.shards.map(async (s) => ({
      count: s.vector_count,
      ids: createHash('sha256').update(await store.get(s.url + ID_FILTER_FILE)).digest('hex'),
    })),
  );
}

async function currentManifest(store: ObjectStore): Promise<Manifest> {
  const pointer = parseCurrentPointer(await store.get(CURRENT_KEY));
  return parseManifest(await store.get(pointer.manifest_ref), pointer.manifest_ref);
}

describe('build --input over Parquet part files', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let s3: S3rverHandle;
  let dataset: WrittenDataset;
  let single: { count: number; ids: string }[];
  const log = quietLogger();
  const env = () => ({ ...process.env, ...s3.env, SHARDFLEET_LOG_LEVEL: 'error' });

  before(async () => {
    dir = await tempDir('input-datasets');
    s3 = await startS3rver();
    dataset = await writeSparkDataset(join(dir.path, 'ds'), ROWS, PARTS, ROW_GROUP);
    // The same rows as one file: the reference single-process build.
    await writeFile(join(dir.path, 'all.parquet'), parquetBytes(ROWS, 0, ROWS.ids.length, ROW_GROUP));
    const store = openObjectStore(join(dir.path, 'single'));
    try {
      const source = await openInputSource({ input: join(dir.path, 'all.parquet'), format: 'auto', openStore: (u) => openObjectStore(u) });
      await buildSnapshot({ store, source, sharding, metric: 'l2', seed: 3, progress: false, log });
      single = await shardContents(store, await currentManifest(store));
    } finally {
      await store.close();
    }
    // The dataset in S3 (with its bookkeeping files).
    const bucket = openObjectStore(s3.url(''), s3.connection);
    try {
      for (const rel of [...dataset.files, '_SUCCESS', '_temporary/0/part-99999.parquet']) await bucket.put(`ds/${rel}`, await readFile(join(dataset.dir, rel)));
      await bucket.put('ds/day=1/.part-00000-3f2a9c1e-c000.snappy.parquet.crc', 'crc');
    } finally {
      await bucket.close();
    }
  });
  after(async () => {
    await s3?.stop();
    await dir?.remove();
  });

  test('CLI: a file:// folder of Spark part files builds the same shards as the single file', async () => {
    const store = join(dir.path, 'from-folder');
    const out = await run(process.execPath, [CLI, 'build', '--store', store, '--input', pathToFileURL(dataset.dir).href, '--num-dbs', '4', '--seed', '3', '--no-progress'], { env: env() });
    assert.match(out.stdout, /published run .*: 1500 vectors, 4 shards/);
    const s = openObjectStore(store);
    try {
      const m = await currentManifest(s);
      assert.match(m.build_stats.input, /\(5 Parquet parts\)/);
      assert.deepEqual(m.payload_columns, ['label']);
      assert.deepEqual(await shardContents(s, m), single);
    } finally {
      await s.close();
    }
  });

  test('CLI: a glob of part files and an s3:// prefix (store in S3 too) build the same shards', async () => {
    const globStore = join(dir.path, 'from-glob');
    await run(process.execPath, [CLI, 'build', '--store', globStore, '--input', join(dataset.dir, 'day=*', 'part-*.parquet'), '--num-dbs', '4', '--seed', '3', '--no-progress'], { env: env() });
    const g = openObjectStore(globStore);
    try {
      assert.deepEqual(await shardContents(g, await currentManifest(g)), single);
    } finally {
      await g.close();
    }
    const url = s3.url('snap-from-s3');
    const out = await run(process.execPath, [CLI, 'build', '--store', url, '--input', s3.url('ds/'), '--num-dbs', '4', '--seed', '3', '--no-progress'], { env: env() });
    assert.match(out.stdout, /published run .*: 1500 vectors, 4 shards/);
    const s = openObjectStore(url, s3.connection);
    try {
      assert.deepEqual(await shardContents(s, await currentManifest(s)), single);
    } finally {
      await s.close();
    }
  });

  test('3 workers from S3 each read a disjoint slice of byte ranges and publish the single-process snapshot', async () => {
    const store = openObjectStore(s3.url('dist-snap'), s3.connection);
    const inputs: CountingStore[] = [];
    const open = async () => {
      const counting = new CountingStore(openObjectStore(s3.url(''), s3.connection));
      inputs.push(counting);
      return openInputSource({ input: s3.url('ds'), format: 'auto', openStore: () => counting });
    };
    try {
      const plan = await planDistributedBuild({ store, source: await open(), sharding, metric: 'l2', seed: 3, progress: false, log });
      const planReads = inputs.length;
      const sources = [await open(), await open(), await open()];
      const built = await Promise.all(sources.map((source, index) => runBuildWorker({ store, runId: plan.run_id, source, worker: { index, count: 3 }, progress: false, pollMs: 50, log })));
      assert.deepEqual(built, [[0, 3], [1], [2]]);
      // Footers are read by every worker (they give the slices); data ranges by one worker only.
      const sizes = new Map<string, number>();
      for (const rel of dataset.files) sizes.set(`ds/${rel}`, (await readFile(join(dataset.dir, rel))).length);
      const dataRanges = inputs.slice(planReads).map((c) => c.ranges.filter((r) => r.end <= sizes.get(r.key)! - 8 - 64 && r.start >= 4));
      for (const [w, ranges] of dataRanges.entries()) assert.ok(ranges.length > 0, `worker ${w} read no data`);
      for (let a = 0; a < 3; a++) {
        for (let b = a + 1; b < 3; b++) {
          for (const x of dataRanges[a]) {
            for (const y of dataRanges[b]) {
              assert.ok(x.key !== y.key || x.end <= y.start || y.end <= x.start, `workers ${a} and ${b} both read ${x.key} [${x.start}, ${x.end}) / [${y.start}, ${y.end})`);
            }
          }
        }
      }
      // Worker 0's slice is rows 0..499: it read data of parts 0 and 1 only.
      const touched = (w: number) => new Set(dataRanges[w].map((r) => r.key));
      assert.deepEqual([...touched(0)].sort(), [`ds/${dataset.files[0]}`, `ds/${dataset.files[1]}`]);
      const published = await publishRun({ store, runId: plan.run_id, log });
      assert.deepEqual(await shardContents(store, published.manifest), single);
      assert.deepEqual(await store.list(partitionsPrefix(plan.run_id)), [], 'publish deletes the partitions');
    } finally {
      await store.close();
      await Promise.all(inputs.map((c) => c.close()));
    }
  });

  test('a worker whose peers never start fails after --worker-wait naming them', async () => {
    const store = openObjectStore(join(dir.path, 'lonely'));
    const source = () => openInputSource({ input: dataset.dir, format: 'auto', openStore: (u) => openObjectStore(u) });
    try {
      const plan = await planDistributedBuild({ store, source: await source(), sharding, metric: 'l2', progress: false, log });
      await assert.rejects(
        runBuildWorker({ store, runId: plan.run_id, source: await source(), worker: { index: 0, count: 3 }, progress: false, waitSeconds: 1, pollMs: 100, log }),
        (err: unknown) => {
          assert.ok(err instanceof DeadlineExceededError);
          assert.match(err.message, /waited 1 s \(--worker-wait\) for the partitions of worker\(s\) 1\/3, 2\/3/);
          assert.match(err.message, /partitions\/n=0003\/done\/worker=00001\.json/);
          return true;
        },
      );
    } finally {
      await store.close();
    }
  });

  test('errors name --input: missing file, empty folder, unmatched glob, mixed columns, npy parts, non-Parquet in S3', async () => {
    const openStore = (u: string) => openObjectStore(u, s3.connection);
    const open = (input: string) => openInputSource({ input, format: 'auto', openStore });
    await assert.rejects(open(join(dir.path, 'nope.parquet')), /--input .*nope\.parquet: no such file or folder/);
    const empty = join(dir.path, 'empty');
    await mkdir(join(empty, '_temporary'), { recursive: true });
    await writeFile(join(empty, '_SUCCESS'), '');
    await assert.rejects(open(empty), /--input .*empty: the folder holds no input files \(files and folders starting with "_" or "\."/);
    await assert.rejects(open(join(dataset.dir, '*.npy')), /--input .*\*\.npy: the pattern matches no file below/);
    await assert.rejects(open(s3.url('no-such-prefix/')), /--input s3:\/\/shardfleet-test\/no-such-prefix\/?: no such object, and no input objects/);
    const mixed = join(dir.path, 'mixed');
    await mkdir(mixed);
    await writeFile(join(mixed, 'part-0.parquet'), parquetBytes(ROWS, 0, 10, 5));
    await writeFile(join(mixed, 'part-1.parquet'), parquetBytes(ROWS, 10, 20, 5, true));
    await assert.rejects(open(mixed), /--input .*mixed: the parts have different columns: .*part-0\.parquet has \[id, label, vector\], .*part-1\.parquet has \[id, label, note, vector\]/);
    const npys = join(dir.path, 'npys');
    await mkdir(npys);
    await writeFile(join(npys, 'a.npy'), '');
    await writeFile(join(npys, 'b.npy'), '');
    await assert.rejects(open(npys), /--input .*npys: 2 npy part\(s\) in a folder or glob; datasets of several parts are read for Parquet and JSONL only/);
    const bucket = openObjectStore(s3.url(''), s3.connection);
    await bucket.put('x/data.jsonl', '{"id":"a","vector":[1,2]}\n');
    await bucket.close();
    await assert.rejects(open(s3.url('x/data.jsonl')), /only Parquet is read from S3/);
    // Through the CLI: the flag is named on stderr, exit code 1.
    await assert.rejects(run(process.execPath, [CLI, 'build', '--store', join(dir.path, 'x'), '--input', empty, '--no-progress'], { env: env() }), (err: { stderr: string; code: number }) => {
      assert.match(err.stderr, /--input .*empty: the folder holds no input files/);
      assert.equal(err.code, 1);
      return true;
    });
  });
});
