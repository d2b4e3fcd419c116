/**
 * The production flags through real processes: two shard nodes serving TLS that require client
 * certificates (mTLS) and expose /metrics, and a router serving TLS with a bearer token and a
 * rate limit, reaching the nodes with its client certificate, also exposing /metrics. Checks
 * that an authorised TLS client is answered, that a missing token, a plaintext client and a
 * burst beyond the rate limit are refused with the right status, and that both kinds of
 * process report their metrics.
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
import { channelCredentials } from '../src/common/grpc-security.ts';
import { unaryCall } from '../src/common/grpc-status.ts';
import { loadShardNodeProto } from '../src/common/proto.ts';
import type { StatusResponse__Output } from '../src/common/proto-gen/shardfleet/v1/StatusResponse.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { buildFashionSnapshot, FASHION_IMAGES, tempDir } from './helpers/fixtures.ts';
import { generateTestCerts, type TestCerts } from './helpers/test-certs.ts';
import { waitFor } from './helpers/wait.ts';

const TOKEN = 's3cret-token';

describe('TLS, mTLS, bearer auth, rate limit and metrics through real processes', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let certs: TestCerts;
  const children: ChildProcess[] = [];
  let routerAddress: string;
  let routerMetrics: string;
  let nodeMetrics: string;
  let client: ShardfleetClient;
  let query: Float32Array;
  let nodeAddresses: string[];

  before(async () => {
    dir = await tempDir('secure');
    certs = await generateTestCerts();
    const storeDir = join(dir.path, 'store');
    const store = new FileObjectStore(storeDir);
    await buildFashionSnapshot(store, { limit: 1000, numDbs: 2, numProbes: 2 });
    await store.close();
    query = (await readIdxImages(FASHION_IMAGES, { start: 9500, limit: 1 })).vectors;
    const tokenFile = join(dir.path, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    const nodes = [0, 1].map((i) => ({ id: `node-${i}`, port: 0 }));
    for (const n of nodes) n.port = await freePort();
    const nodeList = nodes.map((n) => `${n.id}=127.0.0.1:${n.port}`).join(',');
    nodeAddresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    const serverTls = ['--tls-cert', certs.serverCert, '--tls-key', certs.serverKey];
    nodeMetrics = `127.0.0.1:${await freePort()}`;
    nodes.forEach((n, i) => {
      const metrics = i === 0 ? ['--metrics-listen', nodeMetrics] : [];
      const args = ['serve', 'node', '--store', storeDir, '--nodes', nodeList, '--node-id', n.id, '--listen', `127.0.0.1:${n.port}`];
      args.push('--cache-dir', join(dir.path, 'cache', n.id), ...serverTls, '--tls-ca', certs.caCert, '--tls-require-client-cert', ...metrics);
      children.push(spawnCli(args, {}, 'ignore'));
    });
    routerAddress = `127.0.0.1:${await freePort()}`;
    routerMetrics = `127.0.0.1:${await freePort()}`;
    children.push(
      spawnCli(
        [
          'serve', 'router', '--store', storeDir, '--nodes', nodeList, '--listen', routerAddress, ...serverTls,
          '--node-tls-ca', certs.caCert, '--node-tls-cert', certs.clientCert, '--node-tls-key', certs.clientKey,
          '--auth-token-file', tokenFile, '--rate-limit-qps', '5', '--rate-limit-burst', '20',
          '--metrics-listen', routerMetrics, '--status-poll-ms', '200',
        ],
        {},
        'ignore',
      ),
    );
    client = new ShardfleetClient(routerAddress, { tls: { caFile: certs.caCert }, bearerToken: TOKEN });
    await waitFor('router healthy over TLS', async () => (await client.health()).status === 'healthy', { retryOnError: true, intervalMs: 200 });
  });
  after(async () => {
    client?.close();
    for (const c of children) c.kill('SIGKILL');
    await certs?.remove();
    await dir?.remove();
  });

  test('an authorised TLS client is answered from both shards (router -> nodes over mTLS)', async () => {
    const res = await client.search({ vector: query, top_k: 5 });
    assert.equal(res.results.length, 5);
    assert.equal(res.num_shards_answered, 2);
    assert.equal(res.partial, false);
  });

  test('no token -> UNAUTHENTICATED; plaintext -> UNAVAILABLE', async () => {
    const noToken = new ShardfleetClient(routerAddress, { tls: { caFile: certs.caCert } });
    const plain = new ShardfleetClient(routerAddress);
    try {
      await assert.rejects(noToken.search({ vector: query, timeout_ms: 5000 }), (err: grpc.ServiceError) => err.code === grpc.status.UNAUTHENTICATED);
      await assert.rejects(plain.search({ vector: query, timeout_ms: 3000 }), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);
    } finally {
      noToken.close();
      plain.close();
    }
  });

  test('a node port under mTLS answers only clients with a CA-signed certificate (the routers)', async () => {
    const Ctor = loadShardNodeProto().shardfleet.v1.ShardNode;
    const status = (creds: grpc.ChannelCredentials): Promise<StatusResponse__Output> => {
      const c = new Ctor(nodeAddresses[0], creds, { 'grpc.ssl_target_name_override': 'localhost' });
      return unaryCall<object, StatusResponse__Output>(c.Status.bind(c) as never, {}, { deadline: Date.now() + 5000 }).finally(() => c.close());
    };
    await assert.rejects(status(channelCredentials({ caFile: certs.caCert })), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);
    await assert.rejects(status(grpc.credentials.createInsecure()), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);
    const routerCert = channelCredentials({ caFile: certs.caCert, certFile: certs.clientCert, keyFile: certs.clientKey });
    assert.equal((await status(routerCert)).node_id, 'node-0');
  });

  test('a burst beyond the rate limit is RESOURCE_EXHAUSTED', async () => {
    const outcomes = await Promise.allSettled(Array.from({ length: 40 }, () => client.search({ vector: query, top_k: 1 })));
    const limited = outcomes.filter((o) => o.status === 'rejected' && (o.reason as grpc.ServiceError).code === grpc.status.RESOURCE_EXHAUSTED);
    const ok = outcomes.filter((o) => o.status === 'fulfilled');
    assert.ok(limited.length > 0, 'no call was rate limited');
    assert.ok(ok.length > 0 && ok.length <= 21, `${ok.length} calls passed a burst of 20`);
  });

  test('router and node serve Prometheus metrics', async () => {
    const router = await (await fetch(`http://${routerMetrics}/metrics`)).text();
    assert.match(router, /shardfleet_router_request_duration_seconds_count\{[^}]*rpc="Search"/);
    assert.match(router, /shardfleet_router_node_rpc_duration_seconds_count\{[^}]*node="node-\d"/);
    const node = await (await fetch(`http://${nodeMetrics}/metrics`)).text();
    assert.match(node, /shardfleet_node_shard_load_seconds_count/);
    assert.match(node, /shardfleet_node_cache_bytes\{[^}]*\} [1-9]\d*/);
  });
});
