/**
 * The KV demo (`npm run demo:kv`): a composite KV + vector snapshot (SlateDB key-value store
 * beside a usearch index in every shard, `--kv slatedb --backend usearch --strategy hash`) of the
 * bundled Fashion-MNIST test split, served by a local cluster (router + 3 shard nodes, R = 2, real
 * processes on 127.0.0.1): a Search for a held-out image, a MultiGet of the hit ids (a KV
 * record's id is its key), a Get of an absent key, and Get latency over a few hundred Gets.
 *
 * Data: t10k images 0..9,499 as KV records (examples/fashion-data.ts: key `fm-NNNNN`, a small
 * JSON value, payload {label, label_name}), written as JSONL to
 * .shardfleet/demo-kv/fashion-kv.jsonl and built from there (the input `shardfleet build --kv`
 * reads); image 9,500 is the query.
 */
import { mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { startLocalCluster } from '../src/cli/local-cluster.ts';
import { createLogger } from '../src/common/logger.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { percentile } from '../src/eval/recall.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { FASHION_IMAGES, FASHION_LABELS, fashionKey, line, writeFashionKvJsonl } from './fashion-data.ts';

const WORK = fileURLToPath(new URL('../.shardfleet/demo-kv/', import.meta.url));
const NUM_RECORDS = 9500;
const NUM_DBS = 8;
const TOP_K = 5;
const NUM_GETS = 400;

async function main(): Promise<void> {
  process.env.SHARDFLEET_LOG_LEVEL ??= 'warn'; // keep the output short; set it to see logs
  const log = createLogger('demo-kv');
  await rm(WORK, { recursive: true, force: true });
  await mkdir(WORK, { recursive: true });
  const storeUrl = join(WORK, 'store');
  const jsonl = join(WORK, 'fashion-kv.jsonl');
  line(`shardfleet KV demo: Fashion-MNIST t10k (bundled), ${NUM_RECORDS} KV records, ${NUM_DBS} hash shards, composite (SlateDB + usearch)`);

  // 1. KV records as JSONL ({"key", "value", "vector", "payload"} per line), then build and publish.
  const written = await writeFashionKvJsonl(jsonl, { imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, limit: NUM_RECORDS });
  const store = openObjectStore(storeUrl);
  const built = await buildSnapshot({
    store,
    source: await openJsonlSource({ path: jsonl }),
    sharding: { strategy: 'hash', numDbs: NUM_DBS },
    backend: { backend: 'usearch' },
    kv: { backend: 'slatedb' },
    metric: 'l2',
    progress: false,
    log,
  });
  await store.close();
  line(`wrote ${written} lines to ${jsonl}; built run ${built.runId} in ${built.manifest.build_stats.build_seconds} s; keys per shard ${built.manifest.shards.map((s) => s.vector_count).join(' ')}`);

  // 2. Local cluster: router + 3 nodes, every shard on 2 of them.
  const cluster = await startLocalCluster({ store: storeUrl, numNodes: 3, replication: 2, cacheDir: join(WORK, 'cache'), stderr: 'ignore' });
  line(`cluster up: router ${cluster.routerAddress}, nodes ${cluster.nodes.map((n) => `${n.id}@${n.address}`).join(', ')}`);
  const client = new ShardfleetClient(cluster.routerAddress);
  try {
    const info = await client.snapshotInfo();
    line(`SnapshotInfo: strategy ${info.strategy}, kv_backend ${info.kv_backend}, kv_key_type ${info.kv_key_type}`);

    // 3. Search for a held-out image (not in the snapshot): a hash snapshot probes every shard.
    const query = await readIdxImages(FASHION_IMAGES, { start: NUM_RECORDS, limit: 1 });
    const found = await client.search({ vector: query.vectors, top_k: TOP_K, include_payload: true });
    line();
    line(`Search (held-out image ${NUM_RECORDS}, top ${TOP_K}): ${found.num_shards_answered} of ${found.shard_ids.length} shards answered`);
    for (const h of found.results) line(`  ${h.id}  score ${h.score.toFixed(0)}  ${h.payload_json}`);

    // 4. MultiGet the hit ids: they are the keys.
    const got = await client.multiGet({ keys: found.results.map((h) => h.id) });
    line();
    line(`MultiGet of the ${got.results.length} hit ids (run ${got.run_id}, ${got.num_shards_queried} shards asked, partial ${got.partial}):`);
    for (const r of got.results) {
      line(`  ${r.id}  found ${r.found}  shard ${r.db_id}  value ${Buffer.from(r.value).toString('utf8')}  payload ${r.payload_json}`);
    }
    const absent = await client.get({ key: 'fm-absent' });
    line(`Get fm-absent: found ${absent.result?.found}, error ${JSON.stringify(absent.result?.error)}`);

    // 5. Get latency, sequential, random keys (after a short warm-up).
    let x = 12345;
    const randomKey = (): string => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return fashionKey(x % NUM_RECORDS);
    };
    for (let i = 0; i < 50; i++) await client.get({ key: randomKey() });
    const latencies: number[] = [];
    let missing = 0;
    const t0 = performance.now();
    for (let i = 0; i < NUM_GETS; i++) {
      const s = performance.now();
      const r = await client.get({ key: randomKey() });
      latencies.push(performance.now() - s);
      if (!r.result?.found) missing++;
    }
    const seconds = (performance.now() - t0) / 1000;
    line();
    line(
      `${NUM_GETS} Gets of random keys, one at a time: p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, ` +
        `${(NUM_GETS / seconds).toFixed(0)} Gets/s, ${missing} not found (latency at the client)`,
    );
    line(`the snapshot stays in ${storeUrl}: serve it with \`npx shardfleet local --store ${storeUrl}\` and look keys up with \`npx shardfleet get --router HOST:PORT --key ${fashionKey(42)}\``);
  } finally {
    client.close();
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`demo:kv failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
