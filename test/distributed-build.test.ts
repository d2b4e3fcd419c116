/**
 * The distributed build (plan -> N workers -> publish) against a real file:// store and a real
 * S3 protocol server: the published run equals what a single-process build assigns, publish
 * refuses a run with a missing or damaged shard (ShardCoverageError naming it) and never moves
 * `_CURRENT` then, a rerun of the missing worker fixes it, and the CLI runs the three steps.
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
import { receiptKey } from '../src/writer/build-plan.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { planDistributedBuild, publishRun, runBuildWorker } from '../src/writer/distributed-build.ts';
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
