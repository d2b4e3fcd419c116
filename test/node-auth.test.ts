/**
 * Shard-node port protection through real processes: two `serve node` processes started with a
 * node token (one with `--auth-token-file <file>`, one with `SHARDFLEET_AUTH_TOKEN_FILE=env:NAME`
 * as the Helm chart passes it) and a `serve router` process sending it
 * (`SHARDFLEET_NODE_AUTH_TOKEN_FILE=env:NAME`) behind its own `--auth-token-file`. A direct call
 * to a node port without the node token is UNAUTHENTICATED for SearchShards, Status and Refresh;
 * health checks stay open (probes); the router serves searches through the nodes; a router
 * without the node token gets nothing from them. Also: an undecodable request message is
 * INVALID_ARGUMENT on routers and nodes, and a node without a token warns at start.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { freePort } from '../src/cli/free-port.ts';
import { spawnCli } from '../src/cli/local-cluster.ts';
import { unaryCall } from '../src/common/grpc-status.ts';
import { loadShardNodeProto, type ShardNodeClient } from '../src/common/proto.ts';
import type { StatusResponse__Output } from '../src/common/proto-gen/shardfleet/v1/StatusResponse.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { encodeVector } from '../src/common/vector-codec.ts';
import { startRouter } from '../src/router/router-server.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { buildFashionSnapshot, FASHION_IMAGES, quietLogger, tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';
import { bearer, rawUnary } from './helpers/raw-grpc.ts';
import { recordingLogger, startTestNode } from './helpers/shard-node-harness.ts';
import { waitFor } from './helpers/wait.ts';

const NODE_TOKEN = 'n0de-t0ken.for-routers';
const ROUTER_TOKEN = 'r0uter-t0ken';

/** A plaintext ShardNode client. */
function nodeClient(address: string): ShardNodeClient {
  const Ctor = loadShardNodeProto().shardfleet.v1.ShardNode;
  return new Ctor(address, grpc.credentials.createInsecure());
}

type NodeMethod = 'SearchShards' | 'Status' | 'Refresh';

/** One ShardNode call with the given token; resolves the response, rejects with the ServiceError. */
function callNode(client: ShardNodeClient, method: NodeMethod, request: object, token: string | undefined): Promise<unknown> {
  const fn = client[method].bind(client) as unknown as Parameters<typeof unaryCall<object, unknown>>[0];
  return unaryCall(fn, request, { deadline: Date.now() + 10_000 }, bearer(token));
}

/** A raw unary call of `path` whose request message is `bytes` (no serializer): what a broken client sends. */
async function rawCall(address: string, path: string, bytes: Buffer, token?: string): Promise<Buffer> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const { err, res } = await rawUnary(client, path, bytes, token, 10_000);
  client.close();
  if (err) throw err;
  return res ?? Buffer.alloc(0);
}

/** Bytes that are no protobuf message: a varint tag naming field 2^25-1 with wire type 7 (there is none). */
const GARBAGE = Buffer.from([0xff, 0xff, 0xff, 0x0f]);

describe('shard-node ports require the node token routers send (real processes)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const children: ChildProcess[] = [];
  let storeDir: string;
  let nodeAddresses: string[];
  let nodeList: string;
  let routerAddress: string;
  let client: ShardfleetClient;
  let query: Float32Array;

  before(async () => {
    dir = await tempDir('node-auth');
    storeDir = join(dir.path, 'store');
    const store = new FileObjectStore(storeDir);
    await buildFashionSnapshot(store, { limit: 1000, numDbs: 2, numProbes: 2 });
    await store.close();
    query = (await readIdxImages(FASHION_IMAGES, { start: 9500, limit: 1 })).vectors;
    // Trailing spaces and newline in the file are trimmed, as for the router's --auth-token-file.
    const nodeTokenFile = join(dir.path, 'node-token');
    await writeFile(nodeTokenFile, `${NODE_TOKEN}  \n`);
    const routerTokenFile = join(dir.path, 'router-token');
    await writeFile(routerTokenFile, `${ROUTER_TOKEN}\n`);
    const ports = [await freePort(), await freePort()];
    nodeAddresses = ports.map((p) => `127.0.0.1:${p}`);
    nodeList = nodeAddresses.map((a, i) => `node-${i}=${a}`).join(',');
    nodeAddresses.forEach((address, i) => {
      const args = ['serve', 'node', '--store', storeDir, '--nodes', nodeList, '--node-id', `node-${i}`, '--listen', address];
      args.push('--cache-dir', join(dir.path, 'cache', `node-${i}`));
      // node-0 takes the flag, node-1 the environment variable (as the Helm chart sets it).
      if (i === 0) children.push(spawnCli([...args, '--auth-token-file', nodeTokenFile], {}, 'ignore'));
      else children.push(spawnCli(args, { SHARDFLEET_AUTH_TOKEN_FILE: 'env:SF_NODE_TOKEN', SF_NODE_TOKEN: NODE_TOKEN }, 'ignore'));
    });
    routerAddress = `127.0.0.1:${await freePort()}`;
    children.push(
      spawnCli(
        ['serve', 'router', '--store', storeDir, '--nodes', nodeList, '--listen', routerAddress, '--auth-token-file', routerTokenFile, '--status-poll-ms', '200'],
        { SHARDFLEET_NODE_AUTH_TOKEN_FILE: 'env:SF_NODE_TOKEN', SF_NODE_TOKEN: NODE_TOKEN },
        'ignore',
      ),
    );
    client = new ShardfleetClient(routerAddress, { bearerToken: ROUTER_TOKEN });
    await waitFor('router healthy through token-protected nodes', async () => (await client.health()).status === 'healthy', { retryOnError: true, intervalMs: 200 });
  });
  after(async () => {
    client?.close();
    for (const c of children) c.kill('SIGKILL');
    await dir?.remove();
  });

  test('the router given --node-auth-token-file serves searches from both token-protected nodes', async () => {
    const res = await client.search({ vector: query, top_k: 5 });
    assert.equal(res.results.length, 5);
    assert.equal(res.num_shards_answered, 2);
    assert.equal(res.partial, false);
  });

  test('a node port without the node token: SearchShards, Status and Refresh are UNAUTHENTICATED; health stays open', async () => {
    const search = { queries: [{ query: encodeVector(query), top_k: 5, shard_ids: [0, 1], include_payload: true }] };
    for (const address of nodeAddresses) {
      const c = nodeClient(address);
      try {
        for (const [method, request] of [['SearchShards', search], ['Status', {}], ['Refresh', {}]] as const) {
          await assert.rejects(callNode(c, method, request, undefined), isGrpcStatus(grpc.status.UNAUTHENTICATED, /missing "authorization: Bearer <token>"/), `${address} ${method} without a token`);
          await assert.rejects(callNode(c, method, request, 'wrong-token'), isGrpcStatus(grpc.status.UNAUTHENTICATED, /invalid bearer token/), `${address} ${method} with a wrong token`);
          // The router's token is not the node token.
          await assert.rejects(callNode(c, method, request, ROUTER_TOKEN), isGrpcStatus(grpc.status.UNAUTHENTICATED, /invalid bearer token/), `${address} ${method} with the router token`);
        }
        const status = (await callNode(c, 'Status', {}, NODE_TOKEN)) as StatusResponse__Output;
        assert.match(status.node_id, /^node-[01]$/);
        // The health service needs no token (Kubernetes probes carry none): an empty Check is two bytes (status SERVING = 1).
        const health = await rawCall(address, '/grpc.health.v1.Health/Check', Buffer.alloc(0));
        assert.deepEqual([...health], [8, 1]);
      } finally {
        c.close();
      }
    }
  });

  test('a router without the node token gets no shard from the nodes', async () => {
    const router = await startRouter({
      store: new FileObjectStore(storeDir),
      nodes: nodeAddresses.map((address, i) => ({ id: `node-${i}`, address })),
      replication: 1,
      listen: '127.0.0.1:0',
      statusPollIntervalMs: 100,
      pollIntervalMs: 200,
      connectGraceMs: 200,
      log: quietLogger(),
    });
    const plain = new ShardfleetClient(router.address);
    try {
      await router.firstLoad;
      // Its Status polls and its SearchShards calls are refused: no shard answers, and it says why.
      await assert.rejects(
        plain.search({ vector: query, top_k: 5, timeout_ms: 5000 }),
        isGrpcStatus(grpc.status.UNAVAILABLE, /node node-\d: UNAUTHENTICATED: missing "authorization: Bearer <token>"/),
      );
      const health = router.health();
      assert.equal(health.status, 'unhealthy');
      assert.match((health.reasons ?? []).join(' '), /Status failed: UNAUTHENTICATED/);
    } finally {
      plain.close();
      await router.stop();
    }
  });

  test('an undecodable request message is INVALID_ARGUMENT on the router and on a node (not INTERNAL)', async () => {
    await assert.rejects(
      rawCall(nodeAddresses[0], '/shardfleet.v1.ShardNode/SearchShards', GARBAGE, NODE_TOKEN),
      isGrpcStatus(grpc.status.INVALID_ARGUMENT, /cannot decode the request message of \/shardfleet\.v1\.ShardNode\/SearchShards: invalid wire type 7/),
    );
    await assert.rejects(
      rawCall(nodeAddresses[1], '/shardfleet.v1.ShardNode/Status', GARBAGE, NODE_TOKEN),
      isGrpcStatus(grpc.status.INVALID_ARGUMENT, /cannot decode the request message of \/shardfleet\.v1\.ShardNode\/Status/),
    );
    await assert.rejects(
      rawCall(routerAddress, '/shardfleet.v1.Router/Search', GARBAGE, ROUTER_TOKEN),
      isGrpcStatus(grpc.status.INVALID_ARGUMENT, /cannot decode the request message of \/shardfleet\.v1\.Router\/Search: invalid wire type 7/),
    );
    await assert.rejects(rawCall(routerAddress, '/grpc.health.v1.Health/Check', GARBAGE), isGrpcStatus(grpc.status.INVALID_ARGUMENT, /Health\/Check/));
    // Authentication still comes first: garbage without the token is UNAUTHENTICATED.
    await assert.rejects(rawCall(routerAddress, '/shardfleet.v1.Router/Search', GARBAGE), isGrpcStatus(grpc.status.UNAUTHENTICATED, /missing/));
    // The servers keep answering well-formed calls.
    assert.equal((await client.search({ vector: query, top_k: 1 })).results.length, 1);
  });
});

describe('a shard node without a token', () => {
  test('answers without credentials and warns at start that its port is unauthenticated; with a token it does not warn', async () => {
    const dir = await tempDir('node-auth-warn');
    try {
      const store = new FileObjectStore(join(dir.path, 'store'));
      const open = recordingLogger();
      const node = await startTestNode({ store, cacheDir: join(dir.path, 'cache-open'), log: open.log });
      try {
        const warning = open.records.find((r) => /port is unauthenticated/.test(r.msg));
        assert.ok(warning, `no warning in ${JSON.stringify(open.records.map((r) => r.msg))}`);
        assert.equal(warning.level, 40, 'logged at warn level');
        assert.match(warning.msg, /--auth-token-file/);
        assert.match(warning.msg, /--node-auth-token-file/);
        assert.equal((await node.client.status()).node_id, 'n0', 'backward compatible: no token needed');
      } finally {
        await node.stop();
      }
      const closed = recordingLogger();
      const guarded = await startTestNode({ store, cacheDir: join(dir.path, 'cache-guarded'), log: closed.log, authToken: NODE_TOKEN });
      try {
        assert.ok(closed.records.some((r) => r.msg === 'shard node listening'));
        assert.ok(!closed.records.some((r) => /unauthenticated/.test(r.msg)), 'no warning with a token');
        await assert.rejects(guarded.client.status(), isGrpcStatus(grpc.status.UNAUTHENTICATED, /missing/));
      } finally {
        await guarded.stop();
      }
    } finally {
      await dir.remove();
    }
  });
});
