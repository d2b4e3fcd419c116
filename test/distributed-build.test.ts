/**
 * The distributed build (plan -> N workers -> publish) against a real file:// store and a real
 * S3 protocol server: the published run equals what a single-process build assigns, publish
 * refuses a run with a missing or damaged shard (ShardCoverageError naming it) and never moves
 * `_CURRENT` then, a rerun of the missing worker fixes it, and the CLI runs the three steps.
 * End-to-end recall: publish merges the workers' partials into the table a single-process build of
 * the same data measures; a missing or damaged partial leaves the routing-only curve and a warning.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ShardCoverageError } from '../src/common/errors.ts';
import { CURRENT_KEY, parseCurrentPointer, parseManifest, shardPrefix } from '../src/common/manifest.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { arraySource, clusterModel, sampleMixture } from '../src/eval/gaussian-clusters.ts';
import { loadPlan, receiptKey } from '../src/writer/build-plan.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { DEFAULT_WORKER_WAIT_SECONDS, planDistributedBuild, publishRun, runBuildWorker, ShardReceiptSchema, type ShardReceipt } from '../src/writer/distributed-build.ts';
import { mergeRecallPartials } from '../src/writer/distributed-recall.ts';
import { UNREADABLE_MARKER_GRACE_MS } from '../src/writer/partition-exchange.ts';
import type { ReadLimits } from '../src/common/storage/object-store.ts';
import { DelegatingStore } from './helpers/delegating-store.ts';
import { recallPartialKey, recallPrefix } from '../src/writer/recall-partial.ts';
import { recordingLogger } from './helpers/shard-node-harness.ts';
import { openIdxSource } from '../src/writer/input/idx-source.ts';
import { FASHION_IMAGES, FASHION_LABELS, quietLogger, tempDir } from './helpers/fixtures.ts';
import { startS3rver, type S3rverHandle } from './helpers/s3rver.ts';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '..', 'bin', 'shardfleet.js');
const LIMIT = 1200;
const source = () => openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, limit: LIMIT });
const sharding = { strategy: 'cluster', numDbs: 5, numProbes: 2 } as const;

describe('distributed build on a file:// store', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: ObjectStore;
  before(async () => {
    dir = await tempDir('distributed');
    store = openObjectStore(join(dir.path, 'store'));
  });
  after(async () => {
    await store.close();
    await dir.remove();
  });

  test('plan + 2 workers + publish gives the same shards as a single-process build', async () => {
    const log = quietLogger();
    const single = await buildSnapshot({ store, source: await source(), sharding, metric: 'l2', seed: 5, progress: false, log });
    const plan = await planDistributedBuild({ store, source: await source(), sharding, metric: 'l2', seed: 5, progress: false, log });
    const [w0, w1] = await Promise.all([0, 1].map(async (index) => runBuildWorker({ store, runId: plan.run_id, source: await source(), worker: { index, count: 2 }, progress: false, pollMs: 50, log })));
    assert.deepEqual(w0, [0, 2, 4]);
    assert.deepEqual(w1, [1, 3]);
    const published = await publishRun({ store, runId: plan.run_id, log });
    const pointer = parseCurrentPointer(await store.get(CURRENT_KEY));
    assert.equal(pointer.run_id, plan.run_id);
    const m = parseManifest(await store.get(published.manifestKey), published.manifestKey);
    assert.deepEqual(
      m.shards.map((s) => s.vector_count),
      single.manifest.shards.map((s) => s.vector_count),
    );
    assert.equal(m.build_stats.total_vectors, LIMIT);
    assert.deepEqual(m.payload_columns, ['label', 'label_name']);
  });

  test('balanced (--balanced 1.2): workers reproduce the single-process assignment from the plan\'s centroid offsets; no shard above the cap', async () => {
    const log = quietLogger();
    const balanced = { ...sharding, balanceFactor: 1.2 };
    const single = await buildSnapshot({ store, source: await source(), sharding: balanced, metric: 'l2', seed: 5, progress: false, log });
    const plan = await planDistributedBuild({ store, source: await source(), sharding: balanced, metric: 'l2', seed: 5, progress: false, log });
    assert.equal(plan.sharding.strategy, 'cluster');
    const offsets = plan.sharding.strategy === 'cluster' ? plan.sharding.centroid_offsets : undefined;
    assert.equal(offsets?.length, 5, 'the plan stores one offset per shard');
    assert.deepEqual(offsets, single.manifest.sharding.strategy === 'cluster' ? single.manifest.sharding.centroid_offsets : undefined);
    // Workers run at once (they exchange partitions) and each assigns only its own slice of the
    // input: the assignment must not depend on which records a worker sees. Worker 1 starts first.
    await Promise.all([1, 0].map(async (index) => runBuildWorker({ store, runId: plan.run_id, source: await source(), worker: { index, count: 2 }, progress: false, pollMs: 50, log })));
    const published = await publishRun({ store, runId: plan.run_id, log });
    const counts = published.manifest.shards.map((x) => x.vector_count);
    assert.deepEqual(counts, single.manifest.shards.map((x) => x.vector_count));
    // The whole input is the training sample here (1,200 < 20,000): the cap holds exactly.
    assert.ok(Math.max(...counts) <= Math.ceil((1.2 * LIMIT) / 5), `shard sizes ${counts.join(',')}`);
    assert.deepEqual(published.manifest.routing_recall, single.manifest.routing_recall);
  });

  test('publish with a missing shard is a ShardCoverageError naming it; _CURRENT stays; rerunning the worker fixes it', async () => {
    const log = quietLogger();
    const before = (await store.get(CURRENT_KEY)).toString();
    const plan = await planDistributedBuild({ store, source: await source(), sharding, metric: 'l2', progress: false, log });
    await Promise.all([0, 1].map(async (index) => runBuildWorker({ store, runId: plan.run_id, source: await source(), worker: { index, count: 2 }, progress: false, pollMs: 50, log })));
    // Worker 1's shards are lost (as if it had failed before writing them).
    for (const dbId of [1, 3]) {
      await store.delete(receiptKey(plan.run_id, dbId));
      for (const o of await store.list(shardPrefix(plan.run_id, dbId))) await store.delete(o.key);
    }
    await assert.rejects(publishRun({ store, runId: plan.run_id, log }), (err: unknown) => {
      assert.ok(err instanceof ShardCoverageError);
      assert.deepEqual(err.missingShards, [1, 3]);
      assert.match(err.message, /shard 1: no receipt/);
      return true;
    });
    assert.equal((await store.get(CURRENT_KEY)).toString(), before);

    // Worker 1 reruns alone: its partitions are rewritten, worker 0's are still in the store.
    await runBuildWorker({ store, runId: plan.run_id, source: await source(), worker: { index: 1, count: 2 }, progress: false, pollMs: 50, log });
    // Damage one file of shard 2: publish names the shard and the file.
    const entry = JSON.parse((await store.get(receiptKey(plan.run_id, 2))).toString()) as { shard: { files: { path: string }[] } };
    const victim = shardPrefix(plan.run_id, 2) + entry.shard.files[0].path;
    const bytes = await store.get(victim);
    await store.put(victim, Buffer.concat([bytes, Buffer.from('x')]));
    await assert.rejects(publishRun({ store, runId: plan.run_id, log }), (err: unknown) => {
      assert.ok(err instanceof ShardCoverageError);
      assert.deepEqual(err.missingShards, [2]);
      assert.ok(err.message.includes(victim), err.message);
      return true;
    });
    await store.put(victim, bytes);
    const published = await publishRun({ store, runId: plan.run_id, log });
    assert.equal(parseCurrentPointer(await store.get(CURRENT_KEY)).run_id, published.runId);
  });

  test('a partition marker that a store serves half-written (as s3rver does during a PUT) is read again, not a failed build', async () => {
    const log = quietLogger();
    const plan = await planDistributedBuild({ store, source: await source(), sharding, metric: 'l2', seed: 5, progress: false, log });
    /** Serves each done-marker cut short for its first two reads. */
    class HalfWrittenMarkers extends DelegatingStore {
      readonly cutReads = new Map<string, number>();
      override async get(key: string, limits?: ReadLimits): Promise<Buffer> {
        const body = await super.get(key, limits);
        if (!key.includes('/done/')) return body;
        const n = this.cutReads.get(key) ?? 0;
        if (n >= 2) return body;
        this.cutReads.set(key, n + 1);
        return body.subarray(0, Math.floor(body.length / 2));
      }
    }
    const flaky = new HalfWrittenMarkers(store);
    const built = await Promise.all([0, 1].map(async (index) => runBuildWorker({ store: flaky, runId: plan.run_id, source: await source(), worker: { index, count: 2 }, progress: false, pollMs: 20, log })));
    assert.deepEqual(built, [[0, 2, 4], [1, 3]]);
    assert.ok([...flaky.cutReads.values()].some((n) => n === 2), 'some marker was served cut short twice');
    await publishRun({ store, runId: plan.run_id, log });
  });

  test('a partition marker that never parses fails the worker naming it (after the grace period)', async () => {
    const log = quietLogger();
    const plan = await planDistributedBuild({ store, source: await source(), sharding, metric: 'l2', seed: 5, progress: false, log });
    // Worker 1 alone writes its partitions and marker, then gives up waiting for worker 0.
    await assert.rejects(runBuildWorker({ store, runId: plan.run_id, source: await source(), worker: { index: 1, count: 2 }, progress: false, pollMs: 20, waitSeconds: 0.2, log }), /--worker-wait/);
    // Worker 1's marker exists; make it permanently damaged, then run worker 0 against it.
    const key = (await store.list(`runs/${plan.run_id}/partitions/`)).map((o) => o.key).find((k) => k.includes('/done/') && k.endsWith('worker=00001.json'));
    assert.ok(key, 'worker 1 wrote its marker');
    await store.put(key, '{"worker": 1, ');
    const started = Date.now();
    await assert.rejects(
      runBuildWorker({ store, runId: plan.run_id, source: await source(), worker: { index: 0, count: 2 }, progress: false, pollMs: 20, unreadableGraceMs: 300, log }),
      (err: Error) => err.message.includes(`partition marker ${key} is not valid JSON`),
    );
    assert.ok(Date.now() - started >= 300, 'retried for the grace period first');
    assert.ok(UNREADABLE_MARKER_GRACE_MS < DEFAULT_WORKER_WAIT_SECONDS * 1000, 'a damaged marker fails long before --worker-wait');
  });

  test('a worker fed a different input than the plan fails naming the difference', async () => {
    const log = quietLogger();
    const plan = await planDistributedBuild({ store, source: await source(), sharding, metric: 'l2', progress: false, log });
    const other = await openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, limit: LIMIT - 1 });
    await assert.rejects(
      runBuildWorker({ store, runId: plan.run_id, source: other, worker: { index: 0, count: 1 }, progress: false, log }),
      /the input changed since run .* was planned: it has 1199 records, the plan has 1200/,
    );
  });

  test('a worker for a run that was never planned fails naming the run', async () => {
    await assert.rejects(
      runBuildWorker({ store, runId: 'no-such-run', source: await source(), worker: { index: 0, count: 1 }, progress: false, log: quietLogger() }),
      /run no-such-run has no build plan/,
    );
  });
});

describe('end-to-end recall of a distributed build (4,000 x 16-d, 30 clusters, 4 shards, 2 workers)', () => {
  const dim = 16;
  const data = sampleMixture(clusterModel({ dim, clusters: 30, seed: 11, centerStd: 4, spreadMin: 1, spreadMax: 1 }), 4000, 12);
  const clustered = () => arraySource(data, dim);
  const recallSharding = { strategy: 'cluster', numDbs: 4, numProbes: 1 } as const;
  // A weak graph (f32, M 4, ef_construction 16), so ef matters inside each shard.
  const backend = { backend: 'usearch', quantization: 'f32', m: 4, efConstruction: 16 } as const;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: ObjectStore;
  before(async () => {
    dir = await tempDir('distributed-recall');
    store = openObjectStore(join(dir.path, 'store'));
  });
  after(async () => {
    await store.close();
    await dir.remove();
  });

  /** Plans the run and runs both workers at once. */
  async function planAndWork(log = quietLogger()): Promise<string> {
    const plan = await planDistributedBuild({ store, source: clustered(), sharding: recallSharding, backend, metric: 'l2', seed: 5, progress: false, log });
    assert.ok(plan.recall_queries, 'the plan references its recall queries');
    assert.ok(await store.head(plan.recall_queries.ref), 'the queries are stored beside the plan');
    await Promise.all([0, 1].map((index) => runBuildWorker({ store, runId: plan.run_id, source: clustered(), worker: { index, count: 2 }, progress: false, pollMs: 50, log })));
    return plan.run_id;
  }

  async function receiptsOf(runId: string): Promise<ShardReceipt[]> {
    return Promise.all([0, 1, 2, 3].map(async (dbId) => ShardReceiptSchema.parse(JSON.parse((await store.get(receiptKey(runId, dbId))).toString()))));
  }

  test('publish merges the workers\' partials into the single-process table: same shape, same ground truth, values within 0.01; monotone in num_probes', async () => {
    const log = quietLogger();
    const single = await buildSnapshot({ store, source: clustered(), sharding: recallSharding, backend, metric: 'l2', seed: 5, progress: false, log });
    const runId = await planAndWork(log);
    for (const w of [0, 1]) assert.ok(await store.head(recallPartialKey(runId, 2, w)), `worker ${w}/2 uploaded its partial`);
    const published = await publishRun({ store, runId, log });
    const want = single.manifest.search_recall;
    const got = published.manifest.search_recall;
    assert.ok(want && got, 'both manifests hold search_recall');
    // The ground truth is exact and the routing is the plan's: what depends only on them is equal.
    for (const f of ['k', 'sample_queries', 'ground_truth_vectors', 'ef', 'routing_recall_at_probes'] as const) assert.deepEqual(got[f], want[f], f);
    assert.equal(got.recall.length, 4);
    // The shard searches run on indexes built from the same rows in the same order; a multi-threaded
    // HNSW build may still link a few nodes differently: 0.01 is 100 of the 10,000 neighbours.
    got.recall.forEach((row, p) => row.forEach((r, j) => assert.ok(Math.abs(r - want.recall[p][j]) <= 0.01, `p=${p + 1} ef ${got.ef[j]}: distributed ${r}, single ${want.recall[p][j]}`)));
    // f32 distances are exact: another shard's hits never push out a true neighbour.
    for (let p = 1; p < 4; p++) got.recall[p].forEach((r, j) => assert.ok(r >= got.recall[p - 1][j], `monotone at ef ${got.ef[j]}: ${got.recall.map((row) => row[j]).join(', ')}`));
    assert.ok(got.recall[0][0] < got.recall[0][4] - 0.01, `ef matters with M 4: ${got.recall[0]}`);
    assert.ok(got.seconds! > 0 && got.ground_truth_seconds! > 0);
    assert.deepEqual(await store.list(recallPrefix(runId)), [], 'publish deletes the recall queries and partials');
  });

  test('a missing or damaged partial: publish still succeeds with the routing-only curve and warns naming the worker and file', async () => {
    const runId = await planAndWork();
    const plan = await loadPlan(store, runId);
    const receipts = await receiptsOf(runId);
    assert.deepEqual(receipts.map((r) => r.worker), [0, 1, 0, 1].map((index) => ({ index, count: 2 })));
    const key0 = recallPartialKey(runId, 2, 0);
    const good = await store.get(key0);
    const damaged = Buffer.from(good);
    damaged[damaged.length - 3] ^= 0xff;
    for (const [what, bytes, message] of [
      ['damaged', damaged, /body sha256 .* differs from its header's .* \(damaged\)/],
      ['truncated', good.subarray(0, good.length - 100), /body has .* bytes, its header says .* \(truncated\?\)/],
      ['not a partial', Buffer.from('{"hello": 1}'), /not a recall partial/],
    ] as const) {
      await store.put(key0, bytes);
      const { log, records } = recordingLogger();
      assert.equal(await mergeRecallPartials(store, plan, receipts, log), undefined, what);
      const warning = records.find((r) => r.level === 40)?.msg ?? '';
      assert.ok(warning.includes(`worker 0/2's partial ${store.url}/${key0}`), warning);
      assert.match(warning, message);
      assert.match(warning, /the manifest keeps the routing-only curve/);
    }
    await store.put(key0, good);
    assert.ok(await mergeRecallPartials(store, plan, receipts, quietLogger()), 'the restored partial merges');
    // A partial of other shard files than the receipts (shard 2 rebuilt after it): not used.
    const rebuilt = receipts.map((r) => (r.shard.db_id === 2 ? { ...r, shard: { ...r.shard, files: r.shard.files.map((f) => ({ ...f, sha256: '0'.repeat(64) })) } } : r));
    const stale = recordingLogger();
    assert.equal(await mergeRecallPartials(store, plan, rebuilt, stale.log), undefined);
    assert.match(stale.records.find((r) => r.level === 40)?.msg ?? '', /worker 0\/2's partial .* describes other files of shard\(s\) 2 than their receipts/);

    const key1 = recallPartialKey(runId, 2, 1);
    await store.delete(key1);
    const { log, records } = recordingLogger();
    const published = await publishRun({ store, runId, log });
    assert.equal(parseCurrentPointer(await store.get(CURRENT_KEY)).run_id, runId);
    assert.equal(published.manifest.search_recall, undefined);
    assert.ok(published.manifest.routing_recall, 'the routing-only curve is published');
    const warning = records.find((r) => r.level === 40)?.msg ?? '';
    assert.ok(warning.includes(`worker 1/2's partial ${store.url}/${key1}: missing`), warning);
  });
});

describe('distributed build through the CLI on an S3 server', () => {
  let s3: S3rverHandle;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    s3 = await startS3rver();
    dir = await tempDir('distributed-cli');
  });
  after(async () => {
    await s3.stop();
    await dir.remove();
  });

  test('build --plan, build --worker 0/2 and 1/2 with sqlite-vec + lsh, publish', async () => {
    const url = s3.url('dist');
    const env = { ...process.env, ...s3.env, SHARDFLEET_LOG_LEVEL: 'error' };
    const input = ['--input', FASHION_IMAGES, '--labels', FASHION_LABELS, '--limit', '800', '--no-progress'];
    const planned = await run(process.execPath, [CLI, 'build', '--store', url, ...input, '--plan', '--strategy', 'lsh', '--num-dbs', '4', '--backend', 'sqlite-vec', '--run-id', 'dist-1'], { env });
    assert.match(planned.stdout, /planned run dist-1: 800 vectors, 4 shards/);
    const outs = await Promise.all(['0/2', '1/2'].map((w) => run(process.execPath, [CLI, 'build', '--store', url, ...input, '--worker', w, '--run-id', 'dist-1'], { env })));
    for (const [i, out] of outs.entries()) assert.match(out.stdout, new RegExp(`worker ${i}/2 of run dist-1 built shards`));
    const published = await run(process.execPath, [CLI, 'publish', '--store', url, '--run-id', 'dist-1'], { env });
    assert.match(published.stdout, /published run dist-1: 800 vectors, 4 shards \(lsh, sqlite-vec\)/);
    const store = openObjectStore(url, s3.connection);
    try {
      assert.equal(parseCurrentPointer(await store.get(CURRENT_KEY)).run_id, 'dist-1');
    } finally {
      await store.close();
    }
  });
});
