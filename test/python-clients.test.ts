/**
 * Clients that know shardfleet only from the wire, against a real `shardfleet local` cluster
 * (router + 2 shard nodes, child processes on 127.0.0.1, tiny 8-d snapshot in 4 shards):
 *
 * - server reflection as protobuf's own descriptor pools use it: each .proto file served under its
 *   own name, map entries named as protoc names them (checked in Node), and a Python reflection
 *   client (test/python/reflection_check.py) that builds a DescriptorPool from what the servers
 *   return and invokes Router.Search, ShardNode.Status and Health.Check with it. With grpc_tools,
 *   the served descriptors must equal protoc's;
 * - examples/python/shardfleet_client.py (stubs generated here with grpc_tools.protoc): its Search,
 *   BatchSearch and Health results must equal the TypeScript client's on the same queries.
 *
 * The Python tests are skipped, with a line naming the Debian packages to install, when
 * /usr/bin/python3 lacks them; `.ci/run` installs them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import descriptorTypes from 'protobufjs/ext/descriptor/index.js';
import type { IDescriptorProto, IFileDescriptorProto } from 'protobufjs/ext/descriptor/index.js';
import { ShardfleetClient, type SearchResponse } from '../src/client/router-client.ts';
import { reflectedFileDescriptors } from '../src/common/grpc-server.ts';
import { PROTO_DIR } from '../src/common/proto.ts';
import { mapEntryName } from '../src/common/proto-descriptors.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { buildSnapshot } from '../src/writer/build-snapshot.ts';
import { openJsonlSource } from '../src/writer/input/jsonl-source.ts';
import { quietLogger, tempDir, TINY_JSONL } from './helpers/fixtures.ts';
import { GRPC_CODEGEN, GRPC_RUNTIME, pythonModulesMissing, runPython, type PythonRun } from './helpers/python-tools.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(REPO, 'bin', 'shardfleet.js');
const REFLECTION_CHECK = join(REPO, 'test', 'python', 'reflection_check.py');
const PY_CLIENT = join(REPO, 'examples', 'python', 'shardfleet_client.py');

const runtimeMissing = pythonModulesMissing(GRPC_RUNTIME);
const codegenMissing = pythonModulesMissing(GRPC_CODEGEN);
if (runtimeMissing !== undefined) process.stdout.write(`# skipping the Python reflection client test: ${runtimeMissing}\n`);
if (codegenMissing !== undefined) process.stdout.write(`# skipping the grpc_tools tests (Python stubs, protoc comparison): ${codegenMissing}\n`);

/** Rows of the tiny snapshot: queries are taken from them. */
const TINY: { id: string; vector: number[] }[] = readFileSync(TINY_JSONL, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as { id: string; vector: number[] });

/** Queries: three rows, nudged so they are not exact matches. */
const QUERIES: number[][] = [TINY[0], TINY[13], TINY[27]].map((r) => r.vector.map((x, i) => x + 0.05 * (i % 3)));

// ---------------------------------------------------------------- the cluster

interface Cluster {
  router: string;
  nodes: { id: string; address: string }[];
}

let cluster: Cluster;
let child: ChildProcess | undefined;
let workDir: { path: string; remove: () => Promise<void> };

/** Starts `shardfleet local` (the CLI as a user runs it) and reads the addresses it prints. */
async function startLocal(storePath: string, cacheDir: string): Promise<Cluster> {
  const proc = spawn(process.execPath, [BIN, 'local', '--store', storePath, '--num-nodes', '2', '--cache-dir', cacheDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'error' },
  });
  child = proc;
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('Ctrl-C')) return;
      const lines = [...out.matchAll(/^(\S+)\s+(127\.0\.0\.1:\d+)$/gm)].map((m) => ({ id: m[1], address: m[2] }));
      const router = lines.find((l) => l.id === 'router');
      if (!router) reject(new Error(`no router address in: ${out}`));
      else resolve({ router: router.address, nodes: lines.filter((l) => l.id !== 'router') });
    });
    proc.once('exit', (code) => reject(new Error(`shardfleet local exited early (${code}): ${out}${err}`)));
  });
}

before(async () => {
  workDir = await tempDir('python-clients');
  const storePath = join(workDir.path, 'store');
  await buildSnapshot({
    store: new FileObjectStore(storePath),
    source: await openJsonlSource({ path: TINY_JSONL }),
    sharding: { strategy: 'cluster', numDbs: 4, numProbes: 2 },
    metric: 'l2',
    progress: false,
    log: quietLogger(),
  });
  cluster = await startLocal(storePath, join(workDir.path, 'cache'));
});

after(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGINT');
    const exited = once(child, 'exit');
    const timer = setTimeout(() => child?.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
  await workDir?.remove();
});

/** The TypeScript client's answer in the shape the Python scripts print. */
function searchShape(res: SearchResponse, withPayload: boolean): { run_id: string; shard_ids: number[]; results: { id: string; score: number; payload_json?: string }[] } {
  return {
    run_id: res.run_id,
    shard_ids: res.shard_ids,
    results: res.results.map((h) => (withPayload ? { id: h.id, score: h.score, payload_json: h.payload_json } : { id: h.id, score: h.score })),
  };
}

function parseRun(run: PythonRun, what: string): unknown {
  assert.equal(run.code, 0, `${what} exited ${run.code}:\n${run.stderr}${run.stdout}`);
  return JSON.parse(run.stdout);
}

// ---------------------------------------------------------------- reflection, checked in Node

interface ReflectionRequest {
  file_by_filename?: string;
  file_containing_symbol?: string;
}
interface ReflectionResponse {
  file_descriptor_response?: { file_descriptor_proto: Buffer[] } | null;
  error_response?: { error_code: number; error_message: string } | null;
}
interface ReflectionClient extends grpc.Client {
  ServerReflectionInfo(options?: grpc.CallOptions): grpc.ClientDuplexStream<ReflectionRequest, ReflectionResponse>;
}
type ReflectionCtor = new (address: string, creds: grpc.ChannelCredentials) => ReflectionClient;

/** One reflection request on a fresh stream (v1, protos shipped with @grpc/reflection); the decoded files. */
async function reflectFiles(address: string, req: ReflectionRequest): Promise<IFileDescriptorProto[]> {
  const pkgDir = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '..');
  const def = protoLoader.loadSync(join(pkgDir, 'proto', 'grpc', 'reflection', 'v1', 'reflection.proto'), { keepCase: true, oneofs: true, defaults: true });
  const Ctor = (grpc.loadPackageDefinition(def) as unknown as { grpc: { reflection: { v1: { ServerReflection: ReflectionCtor } } } }).grpc.reflection.v1.ServerReflection;
  const client = new Ctor(address, grpc.credentials.createInsecure());
  try {
    const res = await new Promise<ReflectionResponse>((resolve, reject) => {
      const stream = client.ServerReflectionInfo({ deadline: Date.now() + 5000 });
      stream.on('data', (r: ReflectionResponse) => {
        resolve(r);
        stream.end();
      });
      stream.on('error', reject);
      stream.write(req);
    });
    assert.ok(res.file_descriptor_response, `reflection ${JSON.stringify(req)} failed: ${JSON.stringify(res.error_response)}`);
    return res.file_descriptor_response.file_descriptor_proto.map((b) => descriptorTypes.FileDescriptorProto.toObject(descriptorTypes.FileDescriptorProto.decode(b)) as IFileDescriptorProto);
  } finally {
    client.close();
  }
}

function message(file: IFileDescriptorProto, name: string): IDescriptorProto {
  const m = file.messageType?.find((x) => x.name === name);
  assert.ok(m, `${file.name} has no message ${name}`);
  return m;
}

describe('server reflection descriptors (Node)', () => {
  test('file_by_filename serves each .proto under its own name with its imports; map fields point at XxxEntry', async () => {
    const router = await reflectFiles(cluster.router, { file_by_filename: 'shardfleet/v1/router.proto' });
    assert.deepEqual(router.map((f) => f.name), ['shardfleet/v1/router.proto', 'shardfleet/v1/common.proto']);
    const [routerFile, commonFile] = router;
    assert.deepEqual(routerFile.dependency, ['shardfleet/v1/common.proto']);
    assert.equal(routerFile.package, 'shardfleet.v1');
    assert.equal(routerFile.syntax, 'proto3');
    assert.deepEqual(routerFile.service?.map((s) => s.name), ['Router']);
    assert.ok(message(commonFile, 'Hit'), 'Hit is in common.proto');
    assert.ok(!routerFile.messageType?.some((m) => m.name === 'Hit'), 'Hit is not repeated in router.proto');
    for (const [msg, field] of [['SearchRequest', 'routing_context'], ['RouteRequest', 'routing_context'], ['SnapshotInfoResponse', 'cel_columns']]) {
      const m = message(routerFile, msg);
      const f = m.field?.find((x) => x.name === field);
      const entry = mapEntryName(field);
      assert.equal(f?.typeName, `.shardfleet.v1.${msg}.${entry}`, `${msg}.${field} type`);
      const nested = m.nestedType?.find((x) => x.name === entry);
      assert.ok(nested?.options?.mapEntry, `${msg} has nested ${entry} with map_entry`);
    }
    assert.equal(message(routerFile, 'SearchResponse').field?.find((f) => f.name === 'results')?.typeName, '.shardfleet.v1.Hit');

    const node = await reflectFiles(cluster.nodes[0].address, { file_containing_symbol: 'shardfleet.v1.ShardNode' });
    assert.deepEqual(node.map((f) => f.name), ['shardfleet/v1/shard_node.proto', 'shardfleet/v1/common.proto']);
    const health = await reflectFiles(cluster.nodes[0].address, { file_containing_symbol: 'grpc.health.v1.Health' });
    assert.deepEqual(health.map((f) => f.name), ['grpc/health/v1/health.proto']);
  });

  test('the served bytes are the descriptors built from proto/, one per file', async () => {
    const built = new Map(reflectedFileDescriptors().map((f) => [f.name, f.bytes]));
    assert.deepEqual([...built.keys()], ['shardfleet/v1/common.proto', 'shardfleet/v1/router.proto', 'shardfleet/v1/shard_node.proto', 'grpc/health/v1/health.proto']);
    for (const name of ['shardfleet/v1/common.proto', 'shardfleet/v1/router.proto', 'shardfleet/v1/shard_node.proto']) {
      const [served] = await reflectFiles(cluster.router, { file_by_filename: name });
      assert.deepEqual(served, descriptorTypes.FileDescriptorProto.toObject(descriptorTypes.FileDescriptorProto.decode(built.get(name) as Buffer)));
    }
  });
});

// ---------------------------------------------------------------- reflection, a Python client

describe('server reflection with a Python client (grpcio + protobuf)', { skip: runtimeMissing }, () => {
  interface ReflectionOutput {
    versions: Record<string, Record<'router' | 'node', { services: string[]; files: Record<string, string[]>; file_by_filename: string[] }>>;
    describe: { router: Record<string, [string, string]>; router_maps: Record<string, string>; node: Record<string, [string, string]>; health_maps: Record<string, string> };
    search: { run_id: string; shard_ids: number[]; results: { id: string; score: number }[] };
    snapshot_info: { run_id: string; dim: number; metric: string; cel_columns: Record<string, string> };
    node_status: { node_id: string; run_id: string; shards_loaded: number[] };
    node_health: string;
    protoc_equal?: string[];
  }

  async function check(extra: string[] = []): Promise<ReflectionOutput> {
    const args = [REFLECTION_CHECK, '--router', cluster.router, '--node', cluster.nodes[0].address, '--vector', JSON.stringify(QUERIES[0]), '--top-k', '5', ...extra];
    return parseRun(await runPython(args), 'reflection_check.py') as ReflectionOutput;
  }

  test('lists, describes and invokes Search on the router and Status and Health.Check on a node, from descriptors it got by reflection', async () => {
    const out = await check();
    for (const version of ['v1', 'v1alpha']) {
      const { router, node } = out.versions[version];
      assert.deepEqual([...router.services].sort(), ['grpc.health.v1.Health', 'shardfleet.v1.Router'], version);
      assert.deepEqual([...node.services].sort(), ['grpc.health.v1.Health', 'shardfleet.v1.ShardNode'], version);
      assert.deepEqual(router.files['shardfleet.v1.Router'], ['shardfleet/v1/common.proto', 'shardfleet/v1/router.proto'], version);
      assert.deepEqual(node.files['shardfleet.v1.ShardNode'], ['shardfleet/v1/common.proto', 'shardfleet/v1/shard_node.proto'], version);
      assert.deepEqual(router.files['grpc.health.v1.Health'], ['grpc/health/v1/health.proto'], version);
      assert.equal(router.file_by_filename[0], 'shardfleet/v1/router.proto');
      assert.equal(node.file_by_filename[0], 'shardfleet/v1/shard_node.proto');
    }
    // describe: every Router method with its types, as the proto declares them
    const routerService = Object.fromEntries(
      Object.entries(loadRouterServiceTypes()).map(([name, [input, output]]) => [name, [`shardfleet.v1.${input}`, `shardfleet.v1.${output}`]]),
    );
    assert.deepEqual(out.describe.router, routerService);
    assert.deepEqual(out.describe.router_maps, {
      'shardfleet.v1.SearchRequest.routing_context': 'shardfleet.v1.SearchRequest.RoutingContextEntry',
      'shardfleet.v1.RouteRequest.routing_context': 'shardfleet.v1.RouteRequest.RoutingContextEntry',
      'shardfleet.v1.SnapshotInfoResponse.cel_columns': 'shardfleet.v1.SnapshotInfoResponse.CelColumnsEntry',
      'shardfleet.v1.LiveRecallStatus.skipped': 'shardfleet.v1.LiveRecallStatus.SkippedEntry',
      'shardfleet.v1.SnapshotInfoResponse.filter_columns': 'shardfleet.v1.SnapshotInfoResponse.FilterColumnsEntry',
      'shardfleet.v1.GetRequest.routing_context': 'shardfleet.v1.GetRequest.RoutingContextEntry',
      'shardfleet.v1.MultiGetRequest.routing_context': 'shardfleet.v1.MultiGetRequest.RoutingContextEntry',
    });
    assert.deepEqual(out.describe.health_maps, { 'grpc.health.v1.HealthListResponse.statuses': 'grpc.health.v1.HealthListResponse.StatusesEntry' });
    assert.deepEqual(Object.keys(out.describe.node).sort(), ['Refresh', 'SearchShards', 'Status']);

    // invoke: the dynamically built Search answers as the TypeScript client's does
    const ts = new ShardfleetClient(cluster.router);
    try {
      const expected = searchShape(await ts.search({ vector: QUERIES[0], top_k: 5 }), false);
      assert.equal(expected.results.length, 5);
      assert.deepEqual(out.search, expected);
      const info = await ts.snapshotInfo();
      assert.deepEqual(out.snapshot_info, { run_id: info.run_id, dim: 8, metric: 'l2', cel_columns: {} });
    } finally {
      ts.close();
    }
    assert.equal(out.node_status.node_id, cluster.nodes[0].id);
    assert.equal(out.node_status.run_id, out.search.run_id);
    assert.ok(out.node_status.shards_loaded.length > 0, 'node 0 has shards loaded');
    assert.equal(out.node_health, 'SERVING');
  });

  test('the served descriptors equal protoc\'s (grpc_tools), json_name and file options aside', { skip: codegenMissing }, async () => {
    const dir = join(workDir.path, 'protoc-set');
    const set = join(dir, 'set.pb');
    await mkdir(dir, { recursive: true });
    const files = ['shardfleet/v1/common.proto', 'shardfleet/v1/router.proto', 'shardfleet/v1/shard_node.proto'];
    const protoc = await runPython(['-m', 'grpc_tools.protoc', '-I', PROTO_DIR, `--descriptor_set_out=${set}`, ...files.map((f) => join(PROTO_DIR, f))]);
    assert.equal(protoc.code, 0, protoc.stderr);
    const out = await check(['--protoc-set', set]);
    assert.deepEqual(out.protoc_equal, files);
  });
});

/** Router method name -> [request type, response type], from the .proto via proto-loader. */
function loadRouterServiceTypes(): Record<string, [string, string]> {
  const def = protoLoader.loadSync('shardfleet/v1/router.proto', { includeDirs: [PROTO_DIR] });
  const service = def['shardfleet.v1.Router'] as protoLoader.ServiceDefinition;
  const typeName = (t: protoLoader.MessageTypeDefinition<object, object>): string => (t.type as { name: string }).name;
  return Object.fromEntries(Object.entries(service).map(([name, m]) => [name, [typeName(m.requestType), typeName(m.responseType)]]));
}

// ---------------------------------------------------------------- examples/python

describe('examples/python/shardfleet_client.py (stubs from grpc_tools.protoc)', { skip: codegenMissing }, () => {
  let stubs: string;
  before(async () => {
    stubs = join(workDir.path, 'py-stubs');
    await mkdir(stubs, { recursive: true });
    // The command examples/python/README.md gives, into a temp folder.
    const protoc = await runPython([
      '-m', 'grpc_tools.protoc', '-I', PROTO_DIR, `--python_out=${stubs}`, `--grpc_python_out=${stubs}`,
      join(PROTO_DIR, 'shardfleet/v1/common.proto'), join(PROTO_DIR, 'shardfleet/v1/router.proto'),
    ]);
    assert.equal(protoc.code, 0, protoc.stderr);
  });

  const client = (...args: string[]) => runPython([PY_CLIENT, '--router', cluster.router, '--stubs', stubs, ...args]);

  test('Search: same ids, scores, payloads and shards as the TypeScript client', async () => {
    const ts = new ShardfleetClient(cluster.router);
    try {
      for (const q of QUERIES) {
        const py = parseRun(await client('search', '--vector', JSON.stringify(q), '--top-k', '7', '--include-payload'), 'search') as ReturnType<typeof searchShape> & { partial: boolean; num_shards_queried: number };
        const expected = searchShape(await ts.search({ vector: q, top_k: 7, include_payload: true }), true);
        assert.equal(expected.results.length, 7);
        assert.ok(expected.results.every((h) => h.payload_json !== ''), 'payloads came back');
        assert.deepEqual({ run_id: py.run_id, shard_ids: py.shard_ids, results: py.results }, expected);
        assert.equal(py.partial, false);
        assert.equal(py.num_shards_queried, 2);
      }
    } finally {
      ts.close();
    }
  });

  test('BatchSearch: same per-query results, and the same per-query error for a wrong-dimension query', async () => {
    const queries = [QUERIES[0], [1, 2, 3], QUERIES[2]];
    const py = parseRun(await client('batch-search', '--vectors', JSON.stringify(queries), '--top-k', '4'), 'batch-search') as {
      run_id: string;
      results: { error_code: number; error_message: string; response: ReturnType<typeof searchShape> | null }[];
    };
    const ts = new ShardfleetClient(cluster.router);
    try {
      const expected = await ts.batchSearch(queries.map((vector) => ({ vector, top_k: 4 })));
      assert.equal(py.run_id, expected.run_id);
      assert.equal(py.results.length, 3);
      assert.deepEqual(py.results.map((r) => r.error_code), [0, grpc.status.INVALID_ARGUMENT, 0]);
      expected.results.forEach((r, i) => {
        assert.equal(py.results[i].error_code, r.error_code, `query ${i}`);
        assert.equal(py.results[i].error_message, r.error_message, `query ${i}`);
        if (r.response) {
          const got = py.results[i].response;
          assert.ok(got, `query ${i} has a response`);
          assert.deepEqual({ run_id: got.run_id, shard_ids: got.shard_ids, results: got.results.map(({ id, score }) => ({ id, score })) }, searchShape(r.response, false));
        } else {
          assert.equal(py.results[i].response, null);
        }
      });
    } finally {
      ts.close();
    }
  });

  test('get (MultiGet by record id): same found, payloads and shards as the TypeScript client', async () => {
    const ts = new ShardfleetClient(cluster.router);
    try {
      const hits = (await ts.search({ vector: QUERIES[0], top_k: 3 })).results.map((h) => h.id);
      const keys = [...hits, 'no-such-id'];
      const py = parseRun(await client('get', ...keys.flatMap((k) => ['--key', k])), 'get') as {
        run_id: string;
        results: { key: string; found: boolean; payload_json: string; id: string; db_id: number; error: string }[];
      };
      const expected = await ts.multiGet({ keys });
      assert.equal(py.run_id, expected.run_id);
      assert.deepEqual(
        py.results.map((r) => [r.key, r.found, r.payload_json, r.id, r.db_id, r.error]),
        expected.results.map((r, i) => [keys[i], r.found, r.payload_json, r.id, r.db_id, r.error]),
      );
      assert.deepEqual(py.results.map((r) => r.found), [true, true, true, false]);
    } finally {
      ts.close();
    }
  });

  test('Health: same status, run and coverage as the TypeScript client; a failed call exits 1 naming the status', async () => {
    const py = parseRun(await client('health'), 'health') as { status: string; reasons: string[]; run_id: string; coverage: number; pending_run_id: string };
    const ts = new ShardfleetClient(cluster.router);
    try {
      const h = await ts.health();
      assert.equal(h.status, 'healthy');
      assert.deepEqual({ status: py.status, reasons: py.reasons, run_id: py.run_id, coverage: py.coverage, pending_run_id: py.pending_run_id }, {
        status: h.status,
        reasons: h.reasons,
        run_id: h.run_id,
        coverage: h.coverage,
        pending_run_id: h.pending_run_id,
      });
    } finally {
      ts.close();
    }
    const bad = await client('search', '--vector', '[1, 2]');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^error: INVALID_ARGUMENT: .*dim/im);
  });
});
