/**
 * The router's security wiring, against fake shard nodes: the Router service over TLS with a
 * bearer token, TLS from the router to the nodes, and the Search rate limit (a BatchSearch costs
 * one token per query).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { serverCredentials } from '../src/common/grpc-security.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { tempDir } from './helpers/fixtures.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';
import { FakeShardNode, fakeQuery, publishFakeRun, startTestRouter, type TestRouter } from './helpers/router-fakes.ts';
import { generateTestCerts, type TestCerts } from './helpers/test-certs.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
let certs: TestCerts;
let store: FileObjectStore;
let node: FakeShardNode;

before(async () => {
  dir = await tempDir('router-security');
  certs = await generateTestCerts();
  store = new FileObjectStore(join(dir.path, 'store'));
  await publishFakeRun(store, 'run-s', 2, 1);
  // The node serves TLS only: a router without nodeTls cannot reach it.
  node = await FakeShardNode.start('n', 0, serverCredentials({ certFile: certs.serverCert, keyFile: certs.serverKey }));
  node.runs.set('run-s', { loaded: [0, 1] });
});
after(async () => {
  node?.stop();
  await certs?.remove();
  await dir?.remove();
});

test('TLS + bearer token on the Router service, TLS to the nodes', async () => {
  let t: TestRouter | undefined;
  const client = (token?: string): ShardfleetClient => new ShardfleetClient(t!.router.address, { tls: { caFile: certs.caCert }, bearerToken: token });
  try {
    t = await startTestRouter(new FileObjectStore(join(dir.path, 'store')), [node], {
      tls: { certFile: certs.serverCert, keyFile: certs.serverKey },
      nodeTls: { caFile: certs.caCert },
      authToken: 's3cret',
    });
    const good = client('s3cret');
    const res = await good.search({ vector: [1, 0, 0, 0], shard_ids: [0, 1] });
    assert.equal(res.num_shards_answered, 2);
    assert.equal(res.run_id, 'run-s');
    good.close();
    const wrong = client('nope');
    await assert.rejects(wrong.search({ vector: [1, 0, 0, 0], shard_ids: [0] }), isGrpcStatus(grpc.status.UNAUTHENTICATED, /token/i));
    wrong.close();
    // The plaintext test client cannot talk to a TLS router.
    await assert.rejects(t.client.call('Search', { query: fakeQuery(), shard_ids: [0] }, 2000), (err: grpc.ServiceError) => err.code === grpc.status.UNAVAILABLE);
  } finally {
    await t?.stop();
  }
});

test('without nodeTls the TLS-only node is unreachable and the shards fail, naming the node', async () => {
  const t = await startTestRouter(new FileObjectStore(join(dir.path, 'store')), [node], { connectGraceMs: 200 });
  try {
    await assert.rejects(t.client.call('Search', { query: fakeQuery(), shard_ids: [0] }), isGrpcStatus(grpc.status.UNAVAILABLE, /shard 0 \(db=00000\): node n: /));
  } finally {
    await t.stop();
  }
});

test('rate limit: Search beyond the burst is RESOURCE_EXHAUSTED; a batch costs one token per query', async () => {
  const t = await startTestRouter(new FileObjectStore(join(dir.path, 'store')), [node], { nodeTls: { caFile: certs.caCert }, rateLimitQps: 0.001, rateLimitBurst: 3 });
  try {
    const q = { query: fakeQuery(), shard_ids: [0] };
    await t.client.call('Search', q);
    await assert.rejects(t.client.call('BatchSearch', { queries: [q, q, q] }), isGrpcStatus(grpc.status.RESOURCE_EXHAUSTED, /BatchSearch of 3 queries/));
    await t.client.call('BatchSearch', { queries: [q, q] });
    await assert.rejects(t.client.call('Search', q), isGrpcStatus(grpc.status.RESOURCE_EXHAUSTED, /Search/));
    // Route, Health etc. are not limited.
    await t.client.call('Health', {});
  } finally {
    await t.stop();
  }
});
