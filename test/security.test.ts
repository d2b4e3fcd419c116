/**
 * Protection and security, against REAL gRPC servers on 127.0.0.1 with REAL certificates made by
 * openssl: TLS and mutual TLS, server reflection, message size limits, the router's token-bucket
 * rate limiter and bearer-token authentication.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import descriptorTypes from 'protobufjs/ext/descriptor/index.js';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { ConfigValidationError, GrpcCode } from '../src/common/errors.ts';
import { bindServer, newServer, setServing, shutdownServer, type NewServerOptions, type RunningServer } from '../src/common/grpc-server.ts';
import { channelCredentials, serverCredentials, type ClientTlsFiles } from '../src/common/grpc-security.ts';
import { toServiceError } from '../src/common/grpc-status.ts';
import { loadRouterProto } from '../src/common/proto.ts';
import type { SnapshotInfoResponse } from '../src/common/proto-gen/shardfleet/v1/SnapshotInfoResponse.ts';
import { bearerAuthInterceptor, bearerTokenClientInterceptor, checkBearer, loadBearerToken, UnauthenticatedError } from '../src/common/bearer-auth.ts';
import { enforceRateLimit, RateLimitedError, rateLimiterFromConfig, TokenBucket } from '../src/router/rate-limiter.ts';
import { generateTestCerts, type TestCerts } from './helpers/test-certs.ts';
import { isGrpcStatus } from './helpers/grpc-assert.ts';

const ROUTER = 'shardfleet.v1.Router';

// ---------------------------------------------------------------- small gRPC clients for the tests

interface HealthClient extends grpc.Client {
  Check(req: { service: string }, md: grpc.Metadata, options: grpc.CallOptions, cb: grpc.requestCallback<{ status: string }>): grpc.ClientUnaryCall;
}
type HealthCtor = new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => HealthClient;
const HealthClientCtor = (
  grpc.loadPackageDefinition(protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true })) as unknown as {
    grpc: { health: { v1: { Health: HealthCtor } } };
  }
).grpc.health.v1.Health;

/** One health Check; resolves the status, rejects with the grpc.ServiceError. */
async function healthCheck(
  address: string,
  creds: grpc.ChannelCredentials,
  opts: { service?: string; metadata?: grpc.Metadata; channelOptions?: grpc.ChannelOptions } = {},
): Promise<string> {
  const client = new HealthClientCtor(address, creds, opts.channelOptions);
  try {
    return await new Promise<string>((resolve, reject) => {
      client.Check({ service: opts.service ?? '' }, opts.metadata ?? new grpc.Metadata(), { deadline: Date.now() + 3000 }, (err, res) =>
        err ? reject(err) : resolve(res?.status ?? 'none'),
      );
    });
  } finally {
    client.close();
  }
}

interface ReflectionRequest {
  list_services?: string;
  file_containing_symbol?: string;
}
interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] } | null;
  file_descriptor_response?: { file_descriptor_proto: Buffer[] } | null;
  error_response?: { error_code: number; error_message: string } | null;
}
interface ReflectionClient extends grpc.Client {
  ServerReflectionInfo(options?: grpc.CallOptions): grpc.ClientDuplexStream<ReflectionRequest, ReflectionResponse>;
}
type ReflectionCtor = new (address: string, creds: grpc.ChannelCredentials) => ReflectionClient;

/** The reflection client of `version` (v1 or v1alpha), from the protos shipped with @grpc/reflection. */
function reflectionCtor(version: 'v1' | 'v1alpha'): ReflectionCtor {
  const pkgDir = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '..');
  const def = protoLoader.loadSync(join(pkgDir, 'proto', 'grpc', 'reflection', version, 'reflection.proto'), {
    keepCase: true,
    oneofs: true,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: { reflection: Record<string, { ServerReflection: ReflectionCtor }> };
  };
  return pkg.grpc.reflection[version].ServerReflection;
}

/** Sends one reflection request on a fresh stream and returns the single response. */
async function reflect(address: string, version: 'v1' | 'v1alpha', req: ReflectionRequest): Promise<ReflectionResponse> {
  const Ctor = reflectionCtor(version);
  const client = new Ctor(address, grpc.credentials.createInsecure());
  try {
    return await new Promise<ReflectionResponse>((resolve, reject) => {
      const stream = client.ServerReflectionInfo({ deadline: Date.now() + 3000 });
      stream.on('data', (res: ReflectionResponse) => {
        resolve(res);
        stream.end();
      });
      stream.on('error', reject);
      stream.write(req);
    });
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------- servers

/**
 * A real server on 127.0.0.1:0 with the health service (SERVING) and, when `snapshotInfo` is
 * given, a partial shardfleet.v1.Router whose SnapshotInfo runs it.
 */
async function startServer(
  opts: NewServerOptions & {
    credentials?: grpc.ServerCredentials;
    snapshotInfo?: (call: grpc.ServerUnaryCall<unknown, SnapshotInfoResponse>) => SnapshotInfoResponse;
  } = {},
): Promise<RunningServer> {
  const server = newServer(opts);
  const names: string[] = [];
  const handler = opts.snapshotInfo;
  if (handler) {
    server.addService(loadRouterProto().shardfleet.v1.Router.service, {
      SnapshotInfo: (call: grpc.ServerUnaryCall<unknown, SnapshotInfoResponse>, cb: grpc.sendUnaryData<SnapshotInfoResponse>) => {
        try {
          cb(null, handler(call));
        } catch (err) {
          cb(toServiceError(err));
        }
      },
    });
    names.push(ROUTER);
  }
  const bound = await bindServer(server, '127.0.0.1:0', names, { credentials: opts.credentials });
  setServing(bound.health, names, true);
  return bound;
}

const running: grpc.Server[] = [];
async function start(opts: Parameters<typeof startServer>[0] = {}): Promise<RunningServer> {
  const s = await startServer(opts);
  running.push(s.server);
  return s;
}
after(async () => {
  await Promise.all(running.map((s) => shutdownServer(s, 1000)));
});

let certs: TestCerts;
before(async () => {
  certs = await generateTestCerts();
});
after(async () => {
  await certs?.remove();
});

// ---------------------------------------------------------------- TLS

describe('TLS', () => {
  test('a TLS server is reachable only by clients trusting its CA', async () => {
    const s = await start({ credentials: serverCredentials({ certFile: certs.serverCert, keyFile: certs.serverKey }) });
    assert.equal(await healthCheck(s.address, channelCredentials({ caFile: certs.caCert })), 'SERVING');
    // The server certificate names localhost too (SAN), checked through the override.
    assert.equal(await healthCheck(s.address, channelCredentials({ caFile: certs.caCert, serverNameOverride: 'localhost' })), 'SERVING');
    await assert.rejects(healthCheck(s.address, channelCredentials()), isGrpcStatus(grpc.status.UNAVAILABLE, /./));
    await assert.rejects(
      healthCheck(s.address, channelCredentials({ caFile: certs.otherCaCert })),
      isGrpcStatus(grpc.status.UNAVAILABLE, /self-signed certificate|unable to verify/),
    );
    // System roots do not trust the test CA either.
    await assert.rejects(healthCheck(s.address, channelCredentials({})), isGrpcStatus(grpc.status.UNAVAILABLE, /self-signed certificate|unable to verify/));
    // Right CA, but the certificate does not name the overridden host.
    await assert.rejects(
      healthCheck(s.address, channelCredentials({ caFile: certs.caCert, serverNameOverride: 'evil.example' })),
      isGrpcStatus(grpc.status.UNAVAILABLE, /evil\.example/),
    );
  });

  test('mutual TLS: requireClientCert refuses clients without a CA-signed certificate', async () => {
    const s = await start({
      credentials: serverCredentials({ certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.caCert, requireClientCert: true }),
    });
    const noCert: ClientTlsFiles = { caFile: certs.caCert };
    const goodCert: ClientTlsFiles = { caFile: certs.caCert, certFile: certs.clientCert, keyFile: certs.clientKey };
    const wrongCa: ClientTlsFiles = { caFile: certs.caCert, certFile: certs.otherClientCert, keyFile: certs.otherClientKey };
    await assert.rejects(healthCheck(s.address, channelCredentials(noCert)), isGrpcStatus(grpc.status.UNAVAILABLE, /certificate required/));
    await assert.rejects(healthCheck(s.address, channelCredentials(wrongCa)), isGrpcStatus(grpc.status.UNAVAILABLE, /./));
    assert.equal(await healthCheck(s.address, channelCredentials(goodCert)), 'SERVING');
  });

  test('without requireClientCert, clients need no certificate', async () => {
    const s = await start({ credentials: serverCredentials({ certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.caCert }) });
    assert.equal(await healthCheck(s.address, channelCredentials({ caFile: certs.caCert })), 'SERVING');
  });

  test('bad TLS configuration fails at startup with ConfigValidationError naming the file', async () => {
    const missing = join(certs.dir, 'nope.crt');
    assert.throws(() => serverCredentials({ certFile: missing, keyFile: certs.serverKey }), (e: unknown) => {
      assert.ok(e instanceof ConfigValidationError);
      assert.ok(e.message.includes(missing), e.message);
      return true;
    });
    assert.throws(() => channelCredentials({ caFile: missing }), (e: unknown) => e instanceof ConfigValidationError && e.message.includes(missing));
    const notPem = join(certs.dir, 'server.ext');
    assert.throws(() => serverCredentials({ certFile: notPem, keyFile: certs.serverKey }), /server\.ext holds no PEM block/);
    // Key of another certificate.
    assert.throws(
      () => serverCredentials({ certFile: certs.serverCert, keyFile: certs.clientKey }),
      (e: unknown) => e instanceof ConfigValidationError && e.message.includes(certs.clientKey) && e.message.includes(certs.serverCert),
    );
    assert.throws(() => serverCredentials({ certFile: certs.serverCert, keyFile: certs.serverKey, requireClientCert: true }), /needs a CA file/);
    assert.throws(() => channelCredentials({ certFile: certs.clientCert }), /certificate and key must be given together/);
  });

  test('ShardfleetClient connects over mutual TLS', async () => {
    const s = await start({
      credentials: serverCredentials({ certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.caCert, requireClientCert: true }),
      snapshotInfo: () => ({ run_id: 'run-tls' }),
    });
    const good = new ShardfleetClient(s.address, { tls: { caFile: certs.caCert, certFile: certs.clientCert, keyFile: certs.clientKey } });
    const plain = new ShardfleetClient(s.address);
    try {
      assert.equal((await good.snapshotInfo(3000)).run_id, 'run-tls');
      await assert.rejects(plain.snapshotInfo(3000), isGrpcStatus(grpc.status.UNAVAILABLE, /./));
    } finally {
      good.close();
      plain.close();
    }
  });
});

// ---------------------------------------------------------------- reflection

describe('server reflection', () => {
  for (const version of ['v1', 'v1alpha'] as const) {
    test(`${version}: lists exactly the bound services and the health service, and describes them`, async () => {
      const s = await start({ snapshotInfo: () => ({}) });
      const res = await reflect(s.address, version, { list_services: '*' });
      const names = (res.list_services_response?.service ?? []).map((x) => x.name).sort();
      assert.deepEqual(names, ['grpc.health.v1.Health', ROUTER]);
      const file = await reflect(s.address, version, { file_containing_symbol: ROUTER });
      const protos = file.file_descriptor_response?.file_descriptor_proto ?? [];
      assert.ok(protos.length > 0, `no descriptor for ${ROUTER}: ${JSON.stringify(file.error_response)}`);
      // router.proto under its own name, then its import (test/python-clients.test.ts checks the contents).
      const files = protos.map((b) => descriptorTypes.FileDescriptorProto.decode(b) as unknown as { name: string; service: { name: string; method: { name: string }[] }[] });
      assert.deepEqual(files.map((f) => f.name), ['shardfleet/v1/router.proto', 'shardfleet/v1/common.proto']);
      assert.ok(files[0].service[0].method.some((m) => m.name === 'BatchSearch'), 'the descriptor describes the Router methods');
    });
  }

  test('a node-like server lists ShardNode, not Router; reflection can be turned off', async () => {
    const server = newServer();
    const bound = await bindServer(server, '127.0.0.1:0', ['shardfleet.v1.ShardNode']);
    running.push(server);
    const res = await reflect(bound.address, 'v1alpha', { list_services: '*' });
    assert.deepEqual((res.list_services_response?.service ?? []).map((x) => x.name).sort(), ['grpc.health.v1.Health', 'shardfleet.v1.ShardNode']);

    const bare = newServer();
    const bareBound = await bindServer(bare, '127.0.0.1:0', [], { reflection: false });
    running.push(bare);
    await assert.rejects(reflect(bareBound.address, 'v1alpha', { list_services: '*' }), isGrpcStatus(grpc.status.UNIMPLEMENTED, /./));
  });
});

// ---------------------------------------------------------------- message size

describe('max message size', () => {
  test('a request larger than the server limit fails RESOURCE_EXHAUSTED; a small one passes', async () => {
    const s = await start({ maxReceiveMessageBytes: 1024 });
    const insecure = grpc.credentials.createInsecure();
    assert.equal(await healthCheck(s.address, insecure), 'SERVING');
    await assert.rejects(healthCheck(s.address, insecure, { service: 'x'.repeat(2000) }), isGrpcStatus(grpc.status.RESOURCE_EXHAUSTED, /larger than max/i));
  });

  test('a response larger than the client limit fails RESOURCE_EXHAUSTED', async () => {
    const s = await start({ snapshotInfo: () => ({ run_id: 'r'.repeat(4096) }) });
    const small = new ShardfleetClient(s.address, { maxMessageBytes: 1024 });
    const large = new ShardfleetClient(s.address);
    try {
      await assert.rejects(small.snapshotInfo(3000), isGrpcStatus(grpc.status.RESOURCE_EXHAUSTED, /./));
      assert.equal((await large.snapshotInfo(3000)).run_id.length, 4096);
    } finally {
      small.close();
      large.close();
    }
  });

  test('invalid limits are configuration errors', () => {
    assert.throws(() => newServer({ maxReceiveMessageBytes: 0 }), ConfigValidationError);
    assert.throws(() => newServer({ maxSendMessageBytes: 1.5 }), ConfigValidationError);
    assert.throws(() => new ShardfleetClient('127.0.0.1:1', { maxMessageBytes: -1 }), ConfigValidationError);
  });
});

// ---------------------------------------------------------------- rate limiting

describe('token bucket', () => {
  test('burst, then refusal, then refill at the configured rate (injected clock)', () => {
    let t = 1000;
    const bucket = new TokenBucket({ ratePerSecond: 2, burst: 3, now: () => t });
    assert.deepEqual([bucket.tryTake(), bucket.tryTake(), bucket.tryTake()], [true, true, true]);
    assert.equal(bucket.tryTake(), false);
    assert.equal(bucket.msUntilAvailable(), 500);
    t += 499;
    assert.equal(bucket.tryTake(), false, 'not yet a whole token after 499 ms at 2/s');
    t += 1;
    assert.equal(bucket.tryTake(), true, 'one token after 500 ms');
    assert.equal(bucket.tryTake(), false);
    t += 60_000; // refill is capped at the burst
    assert.equal(bucket.available(), 3);
    assert.equal(bucket.tryTake(3), true);
    assert.equal(bucket.tryTake(), false);
    t -= 10_000; // a clock going backwards adds no tokens
    assert.equal(bucket.tryTake(), false);
  });

  test('batch costs: one token per query, and a batch above the burst is always refused', () => {
    let t = 0;
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 5, now: () => t });
    enforceRateLimit(bucket, 4, 'BatchSearch of 4 queries');
    assert.ok(Math.abs(bucket.available() - 1) < 1e-9);
    assert.throws(
      () => enforceRateLimit(bucket, 2, 'BatchSearch of 2 queries'),
      (e: unknown) => {
        assert.ok(e instanceof RateLimitedError);
        assert.equal(e.grpcCode, GrpcCode.RESOURCE_EXHAUSTED);
        assert.equal(toServiceError(e).code, grpc.status.RESOURCE_EXHAUSTED);
        assert.match(e.message, /rate limit exceeded \(10 queries\/s, burst 5\) for BatchSearch of 2 queries; retry in ~100 ms/);
        assert.equal(e.retryAfterMs, 100);
        return true;
      },
    );
    assert.ok(Math.abs(bucket.available() - 1) < 1e-9, 'a refused request takes nothing');
    t += 3_600_000;
    assert.throws(() => enforceRateLimit(bucket, 6, 'BatchSearch of 6 queries'), /more than the router's rate-limit burst/);
    enforceRateLimit(undefined, 1_000_000); // disabled: never throws
  });

  test('configuration', () => {
    assert.equal(rateLimiterFromConfig(undefined), undefined);
    assert.equal(rateLimiterFromConfig(0), undefined);
    assert.equal(rateLimiterFromConfig(2.5)?.burst, 3);
    assert.equal(rateLimiterFromConfig(100, 20)?.burst, 20);
    assert.throws(() => rateLimiterFromConfig(-1), ConfigValidationError);
    assert.throws(() => new TokenBucket({ ratePerSecond: 1, burst: 0.5 }), ConfigValidationError);
    assert.throws(() => new TokenBucket({ ratePerSecond: Number.NaN, burst: 1 }), ConfigValidationError);
  });

  test('through a real server: the call over the burst gets RESOURCE_EXHAUSTED', async () => {
    const t = 0;
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 2, now: () => t });
    const s = await start({
      snapshotInfo: () => {
        enforceRateLimit(bucket, 1, 'SnapshotInfo');
        return { run_id: 'ok' };
      },
    });
    const client = new ShardfleetClient(s.address);
    try {
      assert.equal((await client.snapshotInfo(3000)).run_id, 'ok');
      assert.equal((await client.snapshotInfo(3000)).run_id, 'ok');
      await assert.rejects(client.snapshotInfo(3000), isGrpcStatus(grpc.status.RESOURCE_EXHAUSTED, /rate limit exceeded/));
    } finally {
      client.close();
    }
  });
});

// ---------------------------------------------------------------- bearer auth

describe('bearer auth', () => {
  const TOKEN = 's3cr3t-token.value';

  test('interceptor on a real server: no token / wrong token -> UNAUTHENTICATED, right token -> OK; health exempt', async () => {
    let handled = 0;
    const s = await start({
      interceptors: [bearerAuthInterceptor(TOKEN)],
      snapshotInfo: () => {
        handled++;
        return { run_id: 'authed' };
      },
    });
    const none = new ShardfleetClient(s.address);
    const wrong = new ShardfleetClient(s.address, { bearerToken: 's3cr3t-token.valuf' });
    const right = new ShardfleetClient(s.address, { bearerToken: TOKEN });
    try {
      await assert.rejects(none.snapshotInfo(3000), isGrpcStatus(grpc.status.UNAUTHENTICATED, /missing "authorization: Bearer <token>"/));
      await assert.rejects(wrong.snapshotInfo(3000), isGrpcStatus(grpc.status.UNAUTHENTICATED, /invalid bearer token/));
      assert.equal(handled, 0, 'refused calls never reach the handler');
      assert.equal((await right.snapshotInfo(3000)).run_id, 'authed');
      assert.equal(handled, 1);
      // Kubernetes probes carry no token.
      assert.equal(await healthCheck(s.address, grpc.credentials.createInsecure()), 'SERVING');
    } finally {
      none.close();
      wrong.close();
      right.close();
    }
  });

  test('checkBearer in a handler on a TLS server, with the token sent by ShardfleetClient', async () => {
    const s = await start({
      credentials: serverCredentials({ certFile: certs.serverCert, keyFile: certs.serverKey }),
      snapshotInfo: (call) => {
        checkBearer(call.metadata, TOKEN);
        return { run_id: 'tls-authed' };
      },
    });
    const tls = { caFile: certs.caCert };
    const none = new ShardfleetClient(s.address, { tls });
    const wrong = new ShardfleetClient(s.address, { tls, bearerToken: 'nope' });
    const right = new ShardfleetClient(s.address, { tls, bearerToken: TOKEN });
    try {
      await assert.rejects(none.snapshotInfo(3000), isGrpcStatus(grpc.status.UNAUTHENTICATED, /missing/));
      await assert.rejects(wrong.snapshotInfo(3000), isGrpcStatus(grpc.status.UNAUTHENTICATED, /invalid bearer token/));
      assert.equal((await right.snapshotInfo(3000)).run_id, 'tls-authed');
    } finally {
      none.close();
      wrong.close();
      right.close();
    }
  });

  test('checkBearer header parsing', () => {
    const md = (...values: string[]): grpc.Metadata => {
      const m = new grpc.Metadata();
      for (const v of values) m.add('authorization', v);
      return m;
    };
    checkBearer(md(), undefined); // auth disabled
    checkBearer(md(`Bearer ${TOKEN}`), TOKEN);
    checkBearer(md(`bearer  ${TOKEN} `), TOKEN); // scheme is case-insensitive
    assert.throws(() => checkBearer(md(`Basic ${TOKEN}`), TOKEN), /not of the form/);
    assert.throws(() => checkBearer(md(TOKEN), TOKEN), UnauthenticatedError);
    assert.throws(() => checkBearer(md(`Bearer ${TOKEN}x`), TOKEN), /invalid bearer token/);
    assert.throws(() => checkBearer(md(`Bearer ${TOKEN.slice(0, -1)}`), TOKEN), /invalid bearer token/);
    assert.throws(() => checkBearer(md(`Bearer ${TOKEN}`, `Bearer ${TOKEN}`), TOKEN), /more than one/);
    assert.throws(() => checkBearer(md('Bearer '), ''), /empty bearer token configured/);
    assert.equal(toServiceError(new UnauthenticatedError('x')).code, grpc.status.UNAUTHENTICATED);
  });

  test('a token with a trailing space: ShardfleetClient trims it; a header HTTP/2 dropped is reported with that cause', async () => {
    const s = await start({ interceptors: [bearerAuthInterceptor(TOKEN)], snapshotInfo: () => ({ run_id: 'trimmed' }) });
    const spaced = new ShardfleetClient(s.address, { bearerToken: `${TOKEN} ` });
    try {
      assert.equal((await spaced.snapshotInfo(3000)).run_id, 'trimmed');
    } finally {
      spaced.close();
    }
    // A client sending the header value with its trailing space (grpcurl -H, another language):
    // HTTP/2 drops the header on the way, and the refusal names that cause instead of a bare "missing".
    const raw = new grpc.Client(s.address, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${TOKEN} `);
    try {
      await assert.rejects(
        new Promise((resolve, reject) =>
          raw.makeUnaryRequest('/shardfleet.v1.Router/SnapshotInfo', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), md, { deadline: Date.now() + 3000 }, (err, res) =>
            err ? reject(err) : resolve(res),
          ),
        ),
        isGrpcStatus(grpc.status.UNAUTHENTICATED, /missing "authorization: Bearer <token>" metadata \(a header value ending in a space or tab is dropped in transit\)/),
      );
    } finally {
      raw.close();
    }
    assert.throws(() => new ShardfleetClient(s.address, { bearerToken: 'two words' }), /bearer token in the bearerToken option must be one line of printable ASCII without spaces/);
    assert.throws(() => new ShardfleetClient(s.address, { bearerToken: ' \n' }), /bearer token in the bearerToken option is empty/);
    assert.throws(() => bearerTokenClientInterceptor('a\tb', 'for the nodes'), /bearer token for the nodes must be one line/);
  });

  test('loadBearerToken reads a trimmed token from a file or env:NAME', async () => {
    const file = join(certs.dir, 'token');
    await writeFile(file, `  ${TOKEN}\n`);
    assert.equal(loadBearerToken(file), TOKEN);
    assert.equal(loadBearerToken(undefined), undefined);
    assert.equal(loadBearerToken('env:SF_TOKEN', { SF_TOKEN: `${TOKEN}\n` }), TOKEN);
    assert.throws(() => loadBearerToken('env:SF_TOKEN', {}), /environment variable SF_TOKEN is not set/);
    const missing = join(certs.dir, 'no-token');
    assert.throws(() => loadBearerToken(missing), (e: unknown) => e instanceof ConfigValidationError && e.message.includes(missing));
    assert.throws(() => loadBearerToken(missing, {}, '--node-auth-token-file'), (e: unknown) => e instanceof ConfigValidationError && e.message.includes(`${missing} (--node-auth-token-file)`));
    assert.throws(() => loadBearerToken('env:NOPE', {}, '--auth-token-file'), /bearer token environment variable NOPE \(--auth-token-file\) is not set/);
    const spaced = join(certs.dir, 'spaced-token');
    await writeFile(spaced, `${TOKEN} \t \n`);
    assert.equal(loadBearerToken(spaced), TOKEN, 'trailing spaces and tabs are trimmed');
    const empty = join(certs.dir, 'empty-token');
    await writeFile(empty, '\n\n');
    assert.throws(() => loadBearerToken(empty), /is empty/);
    const twoLines = join(certs.dir, 'two-line-token');
    await writeFile(twoLines, 'abc\ndef\n');
    assert.throws(() => loadBearerToken(twoLines), /one line of printable ASCII/);
  });
});
