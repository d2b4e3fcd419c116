/**
 * Request bounds through real processes (issue 20, defects 1, 3 and the HTTP/2 part of 7): a
 * local cluster (router + 2 shard nodes as child processes) over a small KV snapshot with int
 * keys (hash sharding, 4 shards, dim 8).
 *
 * - A 40 MB BatchSearch of 2x10^7 empty queries (bytes `[10, 0]` repeated) to the router, and a
 *   40 MB SearchShards of empty queries (`[0x4a, 0]`) to a node, are refused before decoding
 *   with INVALID_ARGUMENT naming the field and the limit; the process stays up with bounded RSS
 *   growth and answers a Search right after. The same with auth on (valid tokens).
 * - A legal 1,000-query BatchSearch still passes (through the router's coalescing to the nodes).
 * - A status message never echoes a large input: a Search with 200 routing_context columns of
 *   5 KB names (1 MB), one with 8,000 columns, a Get with a 1 MB non-numeric int_key_decimal:
 *   each fails INVALID_ARGUMENT with details of at most 1 KiB, and Searches on the same client
 *   connection keep working.
 * - Half-open connections (TCP connect, no HTTP/2 preface) are closed by router and node after
 *   --handshake-timeout-ms.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ShardfleetClient } from '../src/client/router-client.ts';
import type { LocalCluster } from '../src/cli/local-cluster.ts';
import { boundDetails, MAX_STATUS_DETAILS_BYTES } from '../src/common/bounded-text.ts';
import { toServiceError } from '../src/common/grpc-status.ts';
import { InvalidQueryError } from '../src/common/errors.ts';
import { CHANNEL_OPTIONS, loadRouterProto, type RouterClient } from '../src/common/proto.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { quietLogger, tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';
import { rawUnary } from './helpers/raw-grpc.ts';
import { closeAll, serveStore } from './helpers/served-cluster.ts';

const DIM = 8;
const RECORDS = 400;
const NUM_DBS = 4;
const HANDSHAKE_TIMEOUT_MS = 1500;
/** A 40 MB BatchSearchRequest: 2x10^7 empty `queries` (field 1). */
const BATCH_BOMB = Buffer.alloc(4e7, Buffer.from([10, 0]));
/** A 40 MB SearchShardsRequest: 2x10^7 empty `queries` (field 9). */
const SHARDS_BOMB = Buffer.alloc(4e7, Buffer.from([0x4a, 0]));
/** RSS growth a refused request may cause (the unbounded decode grew a router by 4.6 GB). */
const MAX_RSS_GROWTH_BYTES = 1024 ** 3;

function vectorOf(i: number): number[] {
  return Array.from({ length: DIM }, (_, d) => Math.sin(i * 7 + d));
}

/** Builds a KV snapshot with int keys 0..RECORDS-1 (hash sharding) into `store`. */
async function buildIntKvSnapshot(store: ObjectStore, dirPath: string): Promise<void> {
  const path = join(dirPath, 'input.jsonl');
  const lines = Array.from({ length: RECORDS }, (_, i) => JSON.stringify({ key: i, value: `v${i}`, vector: vectorOf(i), payload: { n: i } }));
  await writeFile(path, lines.join('\n') + '\n');
  await buildSnapshot({
    store,
    source: await openJsonlSource({ path }),
    sharding: { strategy: 'hash', numDbs: NUM_DBS },
    backend: { backend: 'sqlite-vec' },
    kv: { backend: 'sqlite' },
    metric: 'l2',
    progress: false,
    log: quietLogger(),
  });
}

/** Resident set size of process `pid`, bytes (Linux /proc). */
function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

function isAlive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** A unary call of `path` with raw request bytes on `client`'s channel; resolves the status error (or null). */
async function rawCall(client: grpc.Client, path: string, bytes: Buffer, token?: string, timeoutMs = 120_000): Promise<grpc.ServiceError | null> {
  return (await rawUnary(client, path, bytes, token, timeoutMs)).err;
}

/** A Router client (64 MiB message limits) on its own channel. */
function routerClient(address: string): RouterClient {
  const Ctor = loadRouterProto().shardfleet.v1.Router;
  return new Ctor(address, grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, 'grpc.max_send_message_length': -1 });
}

/**
 * Sends `bomb` to `path` on `address`, and checks the call fails INVALID_ARGUMENT naming
 * `field`, the process stays up with RSS growth below MAX_RSS_GROWTH_BYTES, and `stillWorks`
 * passes right after.
 */
async function assertBombRefused(
  child: ChildProcess,
  address: string,
  path: string,
  bomb: Buffer,
  field: RegExp,
  stillWorks: () => Promise<void>,
  token?: string,
): Promise<void> {
  const pid = child.pid as number;
  const before = rssBytes(pid);
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
  try {
    const err = await rawCall(client, path, bomb, token);
    assert.ok(isAlive(child), `the process died (exit ${child.exitCode}, signal ${child.signalCode}); the call got ${err?.code} ${err?.details}`);
    assert.ok(err, 'the 40 MB request was accepted');
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `got ${grpc.status[err.code]}: ${err.details}`);
    assert.match(err.details, field);
    assert.match(err.details, /refused before decoding/);
    assert.ok(err.details.length <= MAX_STATUS_DETAILS_BYTES, `details of ${err.details.length} characters`);
  } finally {
    client.close();
  }
  const growth = rssBytes(pid) - before;
  console.log(`# ${path}: RSS ${(before / 2 ** 20).toFixed(0)} MiB -> +${(growth / 2 ** 20).toFixed(0)} MiB`);
  assert.ok(growth < MAX_RSS_GROWTH_BYTES, `RSS grew by ${growth} bytes`);
  await stillWorks();
  assert.ok(isAlive(child));
}

/** Opens `n` TCP connections to `address` that never send the HTTP/2 preface; resolves them once connected. */
async function halfOpen(address: string, n: number): Promise<Socket[]> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect({ host, port }, () => resolve(s));
          s.on('error', reject);
          // Flowing, so that the server's close is seen ('end', then 'close').
          s.resume();
        }),
    ),
  );
}

describe('requests are bounded before decoding; statuses are bounded; half-open connections close (real processes)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: ObjectStore;
  let storeUrl: string;
  let cluster: LocalCluster;
  let client: ShardfleetClient;

  const search = async (c: ShardfleetClient = client): Promise<void> => {
    const res = await c.search({ vector: vectorOf(3), top_k: 5, timeout_ms: 30_000 });
    assert.equal(res.results.length, 5);
    assert.equal(res.results[0].id, '3');
  };

  before(async () => {
    dir = await tempDir('request-bounds');
    storeUrl = join(dir.path, 'store');
    store = openObjectStore(storeUrl);
    await buildIntKvSnapshot(store, dir.path);
    // --handshake-timeout-ms of router and nodes, through its environment variable.
    ({ cluster, client } = await serveStore(storeUrl, dir.path, { env: { SHARDFLEET_HANDSHAKE_TIMEOUT_MS: String(HANDSHAKE_TIMEOUT_MS) } }));
  });
  after(() => closeAll({ client, cluster, store, dir }));

  test('a 40 MB BatchSearch of 2x10^7 empty queries is refused before decoding; the router lives and serves', async () => {
    await assertBombRefused(cluster.processes.get('router') as ChildProcess, cluster.routerAddress, '/shardfleet.v1.Router/BatchSearch', BATCH_BOMB, /BatchSearchRequest\.queries has more than 1000 entries/, () => search());
  });

  test('a 40 MB SearchShards of empty queries is refused before decoding; the node lives and serves', async () => {
    const node = cluster.nodes[0];
    await assertBombRefused(cluster.processes.get(node.id) as ChildProcess, node.address, '/shardfleet.v1.ShardNode/SearchShards', SHARDS_BOMB, /SearchShardsRequest\.queries has more than 10000 entries/, () => search());
  });

  test('a legal 1,000-query BatchSearch passes (router to node SearchShards included)', async () => {
    const queries = Array.from({ length: 1000 }, (_, i) => ({ vector: vectorOf(i % RECORDS), top_k: 3 }));
    const res = await client.batchSearch(queries, 120_000);
    assert.equal(res.results.length, 1000);
    for (const [i, r] of res.results.entries()) {
      assert.equal(r.error_code, 0, `query ${i}: ${r.error_message}`);
      assert.equal(r.response?.results[0]?.id, String(i % RECORDS));
    }
  });

  test('statuses echoing large inputs are bounded, and calls on the same connection keep working', async () => {
    const router = routerClient(cluster.routerAddress);
    try {
      const longColumns = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`c${i}_${'x'.repeat(5000)}`, { int_value: i }]));
      const manyColumns = Object.fromEntries(Array.from({ length: 8000 }, (_, i) => [`column_${i}`, { int_value: i }]));
      const query = Buffer.from(new Float32Array(vectorOf(1)).buffer);
      const call = <Req>(method: 'Search' | 'Route' | 'Get', req: Req): Promise<grpc.ServiceError | null> =>
        new Promise((resolve) => {
          const fn = router[method].bind(router) as unknown as (r: Req, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void;
          fn(req, new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (e) => resolve(e));
        });
      const normal = (): Promise<grpc.ServiceError | null> => call('Search', { query, top_k: 3 });
      const outcomes = await Promise.all([
        call('Search', { query, top_k: 3, routing_context: longColumns }),
        call('Route', { query, routing_context: longColumns }),
        call('Search', { query, top_k: 3, routing_context: manyColumns }),
        call('Route', { query, routing_context: manyColumns }),
        call('Get', { key: { int_key_decimal: 'z'.repeat(1_000_000) } }),
        ...Array.from({ length: 5 }, normal),
      ]);
      const bad = outcomes.slice(0, 5);
      const good = outcomes.slice(5);
      for (const [i, err] of bad.entries()) {
        assert.ok(err, `bad call ${i} passed`);
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `bad call ${i}: ${grpc.status[err.code]}: ${err.details.slice(0, 300)}`);
        assert.ok(Buffer.byteLength(err.details) <= MAX_STATUS_DETAILS_BYTES, `bad call ${i}: details of ${Buffer.byteLength(err.details)} bytes`);
      }
      assert.match(bad[0]?.details ?? '', /routing_context.*"c0_x{20}.*and 195 more/);
      assert.match(bad[2]?.details ?? '', /routing_context has more than 256 entries/);
      assert.match(bad[4]?.details ?? '', /int_key_decimal "z{64}"…\(999936 more characters\) is not a decimal integer/);
      for (const [i, err] of good.entries()) assert.equal(err, null, `normal Search ${i} failed: ${err?.details}`);
      // The connection still carries calls after the errors.
      assert.equal(await normal(), null);
    } finally {
      router.close();
    }
  });

  test('half-open connections (no HTTP/2 preface) are closed by router and node after --handshake-timeout-ms', async () => {
    for (const address of [cluster.routerAddress, cluster.nodes[0].address]) {
      const sockets = await halfOpen(address, 50);
      const closed = await Promise.all(
        sockets.map(
          (s) =>
            new Promise<boolean>((resolve) => {
              const timer = setTimeout(() => resolve(false), HANDSHAKE_TIMEOUT_MS + 20_000);
              s.once('close', () => {
                clearTimeout(timer);
                resolve(true);
              });
            }),
        ),
      );
      for (const s of sockets) s.destroy();
      assert.equal(closed.filter(Boolean).length, 50, `${address}: ${closed.filter((c) => !c).length} of 50 half-open connections still open`);
    }
    await search();
  });
});

describe('the same bounds with auth on (valid tokens, real processes)', () => {
  const ROUTER_TOKEN = 'r0uter-t0ken';
  const NODE_TOKEN = 'n0de-t0ken';
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: ObjectStore;
  let cluster: LocalCluster;
  let client: ShardfleetClient;

  before(async () => {
    dir = await tempDir('request-bounds-auth');
    const storeUrl = join(dir.path, 'store');
    store = openObjectStore(storeUrl);
    await buildIntKvSnapshot(store, dir.path);
    const routerTokenFile = join(dir.path, 'router-token');
    const nodeTokenFile = join(dir.path, 'node-token');
    await writeFile(routerTokenFile, ROUTER_TOKEN);
    await writeFile(nodeTokenFile, NODE_TOKEN);
    ({ cluster } = await serveStore(storeUrl, dir.path, {
      routerArgs: ['--auth-token-file', routerTokenFile, '--node-auth-token-file', nodeTokenFile],
      nodeArgs: ['--auth-token-file', nodeTokenFile],
    }));
    client = new ShardfleetClient(cluster.routerAddress, { bearerToken: ROUTER_TOKEN });
  });
  after(() => closeAll({ client, cluster, store, dir }));

  const search = async (): Promise<void> => {
    const res = await client.search({ vector: vectorOf(3), top_k: 5, timeout_ms: 30_000 });
    assert.equal(res.results[0].id, '3');
  };

  test('the 40 MB BatchSearch with a valid router token is refused before decoding', async () => {
    await assertBombRefused(cluster.processes.get('router') as ChildProcess, cluster.routerAddress, '/shardfleet.v1.Router/BatchSearch', BATCH_BOMB, /BatchSearchRequest\.queries/, search, ROUTER_TOKEN);
  });

  test('the 40 MB SearchShards with a valid node token is refused before decoding', async () => {
    const node = cluster.nodes[1];
    await assertBombRefused(cluster.processes.get(node.id) as ChildProcess, node.address, '/shardfleet.v1.ShardNode/SearchShards', SHARDS_BOMB, /SearchShardsRequest\.queries/, search, NODE_TOKEN);
  });
});

test('boundDetails and toServiceError cut a status message to 1 KiB with the count of cut bytes', () => {
  const long = 'é'.repeat(10_000);
  const cut = boundDetails(long);
  assert.ok(Buffer.byteLength(cut) <= MAX_STATUS_DETAILS_BYTES);
  assert.match(cut, /…\(\d+ more bytes\)$/);
  const n = Number(/\((\d+) more bytes\)$/.exec(cut)?.[1]);
  assert.equal(Buffer.byteLength(cut.slice(0, cut.lastIndexOf('…'))) + n, Buffer.byteLength(long));
  const err = toServiceError(new InvalidQueryError('x'.repeat(1_000_000)));
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  assert.ok(Buffer.byteLength(err.details) <= MAX_STATUS_DETAILS_BYTES);
  assert.equal(boundDetails('short'), 'short');
});
