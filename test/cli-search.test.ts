/**
 * `shardfleet search` and `shardfleet info` as a user runs them, against real clusters:
 * - the output says how many shards answered, which failed and why, and whether the answer is
 *   partial (`--min-coverage` allows one; a note goes to stderr too);
 * - the client flags reach a router that requires a bearer token and mTLS (`--auth-token-file`,
 *   `--tls-ca`, `--tls-cert`, `--tls-key`, `--tls-server-name`, and their SHARDFLEET_* variables).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { freePort } from '../src/cli/free-port.ts';
import { spawnCli, startLocalCluster, type LocalCluster } from '../src/cli/local-cluster.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { quietLogger, tempDir, TINY_JSONL } from './helpers/fixtures.ts';
import { runCli } from './helpers/run-cli.ts';
import { generateTestCerts, type TestCerts } from './helpers/test-certs.ts';
import { waitFor } from './helpers/wait.ts';

/** The first record of tiny.jsonl (id t00). */
const QUERY = '[3.9232, 0.1534, -0.0678, -0.0945, 4.221, -0.064, 0.3336, 0.1272]';
const ALL_SHARDS = ['--shard-ids', '0,1,2,3'];

const cli = runCli;

interface SearchJson {
  run_id: string;
  shard_ids: number[];
  num_shards_answered: number;
  failed_shards: { db_id: number; reason: string }[];
  partial: boolean;
  latency_ms: number;
  results: { id: string; score: number; payload?: Record<string, unknown> }[];
}

async function tinyStore(dir: string): Promise<string> {
  const storePath = join(dir, 'store');
  const store = new FileObjectStore(storePath);
  await buildSnapshot({ store, source: await openJsonlSource({ path: TINY_JSONL }), sharding: { strategy: 'cluster', numDbs: 4, numProbes: 1 }, metric: 'l2', progress: false, log: quietLogger() });
  return storePath;
}

describe('search output: shards answered, failed shards and partial', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cluster: LocalCluster;

  before(async () => {
    dir = await tempDir('cli-search-out');
    cluster = await startLocalCluster({ store: await tinyStore(dir.path), numNodes: 2, stderr: 'ignore', routerArgs: ['--status-poll-ms', '200'] });
  });
  after(async () => {
    await cluster?.stop();
    await dir?.remove();
  });

  test('a complete answer: every shard answered, none failed, not partial; SHARDFLEET_PAYLOAD=false is --no-payload', async () => {
    const out = await cli(['search', '--router', cluster.routerAddress, '--vector', QUERY, '--top-k', '3', ...ALL_SHARDS]);
    assert.equal(out.code, 0, out.stderr);
    const res = JSON.parse(out.stdout) as SearchJson;
    assert.deepEqual(Object.keys(res), ['run_id', 'shard_ids', 'num_shards_answered', 'failed_shards', 'partial', 'latency_ms', 'results']);
    assert.deepEqual([...res.shard_ids].sort(), [0, 1, 2, 3]);
    assert.equal(res.num_shards_answered, 4);
    assert.deepEqual(res.failed_shards, []);
    assert.equal(res.partial, false);
    assert.equal(res.results[0].id, 't00');
    assert.deepEqual(res.results[0].payload, { color: 'red', cluster: 0, n: 0 });
    assert.equal(out.stderr, '', 'no partial note');

    const noPayload = JSON.parse((await cli(['search', '--router', cluster.routerAddress, '--vector', QUERY], { SHARDFLEET_PAYLOAD: 'false' })).stdout) as SearchJson;
    assert.equal(noPayload.results[0].payload, undefined);
    const payload = JSON.parse((await cli(['search', '--router', cluster.routerAddress, '--vector', QUERY], { SHARDFLEET_PAYLOAD: 'true' })).stdout) as SearchJson;
    assert.ok(payload.results[0].payload, 'SHARDFLEET_PAYLOAD=true keeps payloads');
    const fromEnv = JSON.parse((await cli(['search', '--vector', QUERY, '--top-k', '2'], { SHARDFLEET_ROUTER: cluster.routerAddress, SHARDFLEET_TOP_K: '5' })).stdout) as SearchJson;
    assert.equal(fromEnv.results.length, 2, '--top-k beats SHARDFLEET_TOP_K; SHARDFLEET_ROUTER is --router');
  });

  test('with a node down, --min-coverage gives a partial answer naming the failed shards; without it the search fails naming them', async () => {
    await cluster.killNode('node-1');
    const args = ['search', '--router', cluster.routerAddress, '--vector', QUERY, ...ALL_SHARDS, '--timeout-ms', '5000'];
    let res: SearchJson | undefined;
    let stderr = '';
    await waitFor('a partial answer', async () => {
      const out = await cli([...args, '--min-coverage', '0.25']);
      assert.equal(out.code, 0, out.stderr);
      res = JSON.parse(out.stdout) as SearchJson;
      stderr = out.stderr;
      return res.partial;
    });
    assert.ok(res);
    assert.ok(res.failed_shards.length > 0 && res.failed_shards.length < 4, JSON.stringify(res.failed_shards));
    assert.equal(res.num_shards_answered + res.failed_shards.length, 4);
    for (const f of res.failed_shards) {
      assert.ok([0, 1, 2, 3].includes(f.db_id));
      assert.ok(f.reason.length > 0, `shard ${f.db_id} has a reason`);
    }
    assert.match(stderr, new RegExp(`^shardfleet: partial answer: ${res.num_shards_answered} of 4 shards answered; shard ${res.failed_shards[0].db_id}: `));

    const strict = await cli(args);
    assert.equal(strict.code, 1, strict.stdout);
    assert.match(strict.stderr, /UNAVAILABLE: coverage \d\/4 is below min_coverage 1/);
    assert.match(strict.stderr, new RegExp(`shard ${res.failed_shards[0].db_id} \\(db=`));
    const badFraction = await cli([...args, '--min-coverage', '1.5']);
    assert.equal(badFraction.code, 1);
    assert.match(badFraction.stderr, /"1\.5" is not a fraction between 0 and 1/);
  });
});

describe('search and info reach a router that requires a bearer token and mTLS', () => {
  const TOKEN = 'cli-s3cret';
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let certs: TestCerts;
  const children: ChildProcess[] = [];
  let routerAddress: string;
  let tokenFile: string;

  before(async () => {
    dir = await tempDir('cli-search-tls');
    certs = await generateTestCerts();
    const storePath = await tinyStore(dir.path);
    tokenFile = join(dir.path, 'token');
    await writeFile(tokenFile, `${TOKEN}\n`);
    const nodeAddress = `127.0.0.1:${await freePort()}`;
    const nodes = `node-0=${nodeAddress}`;
    children.push(spawnCli(['serve', 'node', '--store', storePath, '--nodes', nodes, '--node-id', 'node-0', '--listen', nodeAddress, '--cache-dir', join(dir.path, 'cache')], {}, 'ignore'));
    routerAddress = `127.0.0.1:${await freePort()}`;
    children.push(
      spawnCli(
        ['serve', 'router', '--store', storePath, '--nodes', nodes, '--listen', routerAddress, '--status-poll-ms', '200',
          '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-ca', certs.caCert, '--tls-require-client-cert', '--auth-token-file', tokenFile],
        {},
        'ignore',
      ),
    );
    const client = new ShardfleetClient(routerAddress, { tls: { caFile: certs.caCert, certFile: certs.clientCert, keyFile: certs.clientKey }, bearerToken: TOKEN });
    try {
      await waitFor('secure router healthy', async () => (await client.health()).status === 'healthy', { retryOnError: true, intervalMs: 200 });
    } finally {
      client.close();
    }
  });
  after(async () => {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await certs?.remove();
    await dir?.remove();
  });

  const tls = (): string[] => ['--tls-ca', certs.caCert, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey];

  test('with --auth-token-file and the TLS flags: search and info answer', async () => {
    const out = await cli(['search', '--router', routerAddress, '--vector', QUERY, '--top-k', '1', '--auth-token-file', tokenFile, ...tls()]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal((JSON.parse(out.stdout) as SearchJson).results[0].id, 't00');
    const info = await cli(['info', '--router', routerAddress, '--auth-token-file', tokenFile, ...tls()]);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /"run_id": "\S+"/);
    // --tls-server-name: the name checked against the certificate (localhost is in it, the
    // dialled 127.0.0.1 too), a name that is not fails the handshake.
    const named = await cli(['info', '--router', routerAddress, '--auth-token-file', tokenFile, ...tls(), '--tls-server-name', 'localhost']);
    assert.equal(named.code, 0, named.stderr);
    const wrongName = await cli(['info', '--router', routerAddress, '--auth-token-file', tokenFile, ...tls(), '--tls-server-name', 'other.example', '--timeout-ms', '3000']);
    assert.equal(wrongName.code, 1, wrongName.stdout);
    assert.match(wrongName.stderr, /cannot reach the router at \S+ \(--router\): TLS handshake failed .*other\.example\. is not in the cert's altnames/);
  });

  test('the same from SHARDFLEET_* variables, the token as env:NAME', async () => {
    const env = {
      SHARDFLEET_ROUTER: routerAddress,
      SHARDFLEET_AUTH_TOKEN_FILE: 'env:CLI_TEST_TOKEN',
      CLI_TEST_TOKEN: TOKEN,
      SHARDFLEET_TLS_CA: certs.caCert,
      SHARDFLEET_TLS_CERT: certs.clientCert,
      SHARDFLEET_TLS_KEY: certs.clientKey,
    };
    const out = await cli(['search', '--vector', QUERY, '--top-k', '1'], env);
    assert.equal(out.code, 0, out.stderr);
    assert.equal((JSON.parse(out.stdout) as SearchJson).results[0].id, 't00');
    const info = await cli(['info'], env);
    assert.equal(info.code, 0, info.stderr);
  });

  test('without the token, without TLS or with half a key pair: refused, naming what is missing', async () => {
    const noToken = await cli(['search', '--router', routerAddress, '--vector', QUERY, ...tls()]);
    assert.equal(noToken.code, 1, noToken.stdout);
    assert.match(noToken.stderr, /UNAUTHENTICATED/);
    const wrongToken = join(dir.path, 'wrong-token');
    await writeFile(wrongToken, 'nope\n');
    const bad = await cli(['info', '--router', routerAddress, '--auth-token-file', wrongToken, ...tls()]);
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(bad.stderr, /UNAUTHENTICATED.*invalid bearer token/);
    const plaintext = await cli(['info', '--router', routerAddress, '--auth-token-file', tokenFile, '--timeout-ms', '3000']);
    assert.equal(plaintext.code, 1, plaintext.stdout);
    assert.match(plaintext.stderr, /cannot reach the router at \S+ \(--router\): .*does the router use TLS/);
    const noClientCert = await cli(['info', '--router', routerAddress, '--auth-token-file', tokenFile, '--tls-ca', certs.caCert, '--timeout-ms', '3000']);
    assert.equal(noClientCert.code, 1, noClientCert.stdout);
    assert.match(noClientCert.stderr, /cannot reach the router at \S+ \(--router\): .*certificate required/);
    const half = await cli(['search', '--router', routerAddress, '--vector', QUERY, '--tls-cert', certs.clientCert]);
    assert.equal(half.code, 1);
    assert.match(half.stderr, /ConfigValidationError: --tls-cert and --tls-key must be given together/);
    const missingToken = await cli(['info', '--router', routerAddress, '--auth-token-file', join(dir.path, 'none'), ...tls()]);
    assert.equal(missingToken.code, 1);
    assert.match(missingToken.stderr, /cannot read bearer token file .*none \(--auth-token-file\)/);
  });
});
