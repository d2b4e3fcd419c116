/**
 * Test doubles for router tests: fake shard nodes that are REAL gRPC `ShardNode` servers on
 * 127.0.0.1 (so the router's channels, deadlines, cancellation and retries are exercised for real)
 * with controllable Status, delay and failures; explicit-strategy manifests published into a
 * file:// store; and a promise-based Router client.
 *
 * A fake node answers shard `db` of run `r` for query `q` with up to 3 hits whose ids are
 * `<r>:<db>:<j>` and whose scores are `db + j / 10 + q[0]`, so a test can tell which run and shard
 * every hit came from. A lookup query (keys) finds key `k` in shard `db` when `k` starts with
 * `s<db>:`, with value `<r>:<db>:<k>` and payload `{"db", "node"}`.
 */
import { placeRun, type Placement } from '../../src/common/placement.ts';
import { waitFor } from './wait.ts';
import * as grpc from '@grpc/grpc-js';
import type { NodeEndpoint } from '../../src/common/node-list.ts';
import { CURRENT_KEY, manifestKey, type Manifest } from '../../src/common/manifest.ts';
import { CHANNEL_OPTIONS, loadRouterProto, loadShardNodeProto, type RouterClient } from '../../src/common/proto.ts';
import type { SearchShardsRequest__Output } from '../../src/common/proto-gen/shardfleet/v1/SearchShardsRequest.ts';
import type { SearchShardsResponse } from '../../src/common/proto-gen/shardfleet/v1/SearchShardsResponse.ts';
import type { StatusResponse } from '../../src/common/proto-gen/shardfleet/v1/StatusResponse.ts';
import type { ObjectStore } from '../../src/common/storage/object-store.ts';
import { unaryCall } from '../../src/common/grpc-status.ts';
import { packHits } from '../../src/common/packed-hits.ts';
import { packLookups } from '../../src/common/packed-lookups.ts';
import { decodeVector, encodeVector } from '../../src/common/vector-codec.ts';
import { startRouter, type RouterConfig, type RouterHandle } from '../../src/router/router-server.ts';
import { quietLogger } from './fixtures.ts';

/** What a fake node reports about one run. */
export interface FakeRun {
  loaded: number[];
  failed?: { db_id: number; reason: string }[];
}

/** A fake shard node (real gRPC server). Mutate its public fields to change its behaviour. */
export class FakeShardNode {
  /** Runs it holds, by run id (Status reports them; SearchShards answers them). */
  runs = new Map<string, FakeRun>();
  /** Delay before answering SearchShards, ms. */
  delayMs = 0;
  /** When set, SearchShards calls that arrive while it is set answer only once it resolves (then after delayMs). */
  gate: Promise<void> | undefined;
  /** When set, SearchShards fails with this status code. */
  failWith: grpc.status | undefined;
  /** When true, Status (and Refresh) fail with UNAVAILABLE. */
  statusFails = false;
  /** A call carrying a query with this top_k fails INVALID_ARGUMENT (as a node refuses a bad request). */
  refuseTopK: number | undefined;
  /**
   * When true (default), shards of a known run that are not in `loaded` are answered anyway (as a
   * real node lazily loads them); when false they get a ShardResult.error.
   */
  lazyLoad = true;
  /** Per-shard errors reported in ShardResult.error. */
  shardErrors = new Map<number, string>();
  /** Every SearchShards request received, in order, with its arrival time (ms since epoch). */
  readonly searchCalls: { at: number; req: SearchShardsRequest__Output }[] = [];
  /** Calls the client cancelled (hedge losers). */
  cancelledCalls = 0;
  statusCalls = 0;
  refreshCalls = 0;

  private constructor(
    readonly id: string,
    readonly address: string,
    private readonly server: grpc.Server,
  ) {}

  /** Starts a fake node listening on 127.0.0.1 (a free port, or `port`; plaintext unless `credentials`). */
  static async start(id: string, port = 0, credentials = grpc.ServerCredentials.createInsecure()): Promise<FakeShardNode> {
    const server = new grpc.Server(CHANNEL_OPTIONS);
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    const node = new FakeShardNode(id, `127.0.0.1:${bound}`, server);
    server.addService(loadShardNodeProto().shardfleet.v1.ShardNode.service, {
      SearchShards: (call: grpc.ServerUnaryCall<SearchShardsRequest__Output, SearchShardsResponse>, cb: grpc.sendUnaryData<SearchShardsResponse>) =>
        node.search(call, cb),
      Status: (_call: grpc.ServerUnaryCall<unknown, StatusResponse>, cb: grpc.sendUnaryData<StatusResponse>) => {
        node.statusCalls += 1;
        node.answerStatus(cb);
      },
      Refresh: (_call: grpc.ServerUnaryCall<unknown, StatusResponse>, cb: grpc.sendUnaryData<StatusResponse>) => {
        node.refreshCalls += 1;
        node.answerStatus(cb);
      },
    });
    return node;
  }

  /** `{ id, address }` for the router's node list. */
  get endpoint(): NodeEndpoint {
    return { id: this.id, address: this.address };
  }

  /** SearchShards calls received for `runId`. */
  callsFor(runId: string): number {
    return this.searchCalls.filter((c) => c.req.run_id === runId).length;
  }

  /** Stops the server at once. */
  stop(): void {
    this.server.forceShutdown();
  }

  private answerStatus(cb: grpc.sendUnaryData<StatusResponse>): void {
    if (this.statusFails) {
      cb({ code: grpc.status.UNAVAILABLE, details: `fake node ${this.id} Status is down` });
      return;
    }
    const runs = [...this.runs].map(([run_id, r], i, all) => ({
      run_id,
      shards_loaded: [...r.loaded].sort((a, b) => a - b),
      shards_failed: r.failed ?? [],
      shards_assigned: [...r.loaded, ...(r.failed ?? []).map((f) => f.db_id)].sort((a, b) => a - b),
      ready: (r.failed ?? []).length === 0,
      current: i === all.length - 1,
    }));
    const newest = runs[runs.length - 1];
    cb(null, {
      node_id: this.id,
      run_id: newest?.run_id ?? '',
      shards_loaded: newest?.shards_loaded ?? [],
      shards_failed: newest?.shards_failed ?? [],
      shards_assigned: newest?.shards_assigned ?? [],
      load_error: newest ? '' : 'no run loaded',
      runs,
    });
  }

  private search(call: grpc.ServerUnaryCall<SearchShardsRequest__Output, SearchShardsResponse>, cb: grpc.sendUnaryData<SearchShardsResponse>): void {
    const req = call.request;
    this.searchCalls.push({ at: Date.now(), req });
    let cancelled = false;
    let answered = false;
    call.on('cancelled', () => {
      // grpc-js also reports 'cancelled' when the stream closes after an answer; count only real ones.
      if (answered) return;
      cancelled = true;
      this.cancelledCalls += 1;
    });
    const answer = (): void => {
      if (cancelled) return;
      answered = true;
      if (this.failWith !== undefined) {
        cb({ code: this.failWith, details: `fake node ${this.id} is failing` });
        return;
      }
      if (this.refuseTopK !== undefined && req.queries.some((q) => q.top_k === this.refuseTopK)) {
        cb({ code: grpc.status.INVALID_ARGUMENT, details: `fake node ${this.id} refuses top_k ${this.refuseTopK}` });
        return;
      }
      if (!this.runs.has(req.run_id)) {
        cb({ code: grpc.status.FAILED_PRECONDITION, details: `fake node ${this.id} does not know run ${req.run_id}` });
        return;
      }
      cb(null, {
        run_id: req.run_id,
        shards: req.queries.flatMap((q, queryIndex) => {
          const q0 = q.keys.length > 0 ? 0 : Buffer.from(q.query).readFloatLE(0);
          return q.shard_ids.map((db) => {
            const loaded = this.runs.get(req.run_id)!.loaded.includes(db);
            const error = this.shardErrors.get(db) ?? (loaded || this.lazyLoad ? undefined : `shard ${db} is not loaded on fake node ${this.id}`);
            if (error !== undefined) return { db_id: db, error, query_index: queryIndex };
            if (q.keys.length > 0) {
              const rows = q.keys.map((k) => {
                const key = Buffer.from(k).toString('utf8');
                const found = key.startsWith(`s${db}:`);
                return { found, value: Buffer.from(`${req.run_id}:${db}:${key}`), id: key, payload_json: JSON.stringify({ db, node: this.id }) };
              });
              return { db_id: db, ...packLookups(rows, q.include_payload, false), error: '', query_index: queryIndex };
            }
            const hits = Array.from({ length: Math.min(q.top_k, 3) }, (_, j) => ({
              id: `${req.run_id}:${db}:${j}`,
              score: db + j / 10 + q0,
              payload_json: q.include_payload ? JSON.stringify({ db, node: this.id }) : '',
              vector: q.include_vector ? decodeVector(q.query, FAKE_DIM) : undefined,
            }));
            return { db_id: db, ...packHits(hits, q.include_payload, q.include_vector), error: '', query_index: queryIndex };
          });
        }),
      });
    };
    const gate = this.gate;
    const go = (): void => {
      if (this.delayMs > 0) setTimeout(answer, this.delayMs).unref(); // a pending call keeps the process alive, not the timer
      else answer();
    };
    if (gate) void gate.then(go);
    else go();
  }
}

/** Dimension of the fake runs' vectors. */
export const FAKE_DIM = 4;

/** An explicit-strategy manifest with `numDbs` shards (each with one 1000 + db byte file). */
export function fakeManifest(runId: string, numDbs: number, createdAt: Date): Manifest {
  return {
    format_version: 1,
    run_id: runId,
    created_at: createdAt.toISOString(),
    writer: { name: 'router-test', version: '0' },
    index: { dim: FAKE_DIM, metric: 'l2', backend: 'lancedb', index_type: 'auto', index_params: {} },
    sharding: { strategy: 'explicit', num_dbs: numDbs, num_probes: 1 },
    shards: Array.from({ length: numDbs }, (_, db) => ({
      db_id: db,
      url: `runs/${runId}/shards/db=${String(db).padStart(5, '0')}/`,
      files: [{ path: 'data.lance', bytes: 1000 + db, sha256: 'a'.repeat(64) }],
      vector_count: 100 + db,
      checkpoint_id: '1',
      index_type: 'none',
    })),
    payload_columns: [],
    build_stats: { total_vectors: numDbs * 100, training_sample_size: 0, kmeans_iterations: 0, build_seconds: 0, total_bytes: 0, input: 'test' },
  };
}

/**
 * The placement a router computes for a fake run of `numDbs` shards (by the shards' bytes, as
 * routers and nodes place them) over `nodeIds`.
 */
export function fakeRunPlacement(numDbs: number, nodeIds: readonly string[], replication: number): Placement {
  return placeRun(fakeManifest('placement', numDbs, new Date(0)), nodeIds, replication);
}

/**
 * Publishes a run: its manifest, then `_CURRENT` pointing at it.
 * @param day day of January 2026 used as the creation time (manifest keys sort by it).
 */
export async function publishFakeRun(store: ObjectStore, runId: string, numDbs: number, day: number): Promise<string> {
  const created = new Date(Date.UTC(2026, 0, day));
  const key = manifestKey(runId, created);
  await store.put(key, JSON.stringify(fakeManifest(runId, numDbs, created)));
  await pointCurrent(store, key, runId);
  return key;
}

/** Publishes a malformed manifest (valid JSON, wrong schema) for `runId` and points `_CURRENT` at it. */
export async function publishMalformedRun(store: ObjectStore, runId: string, day: number): Promise<string> {
  const key = manifestKey(runId, new Date(Date.UTC(2026, 0, day)));
  await store.put(key, JSON.stringify({ format_version: 1, run_id: runId, shards: 'not a list' }));
  await pointCurrent(store, key, runId);
  return key;
}

async function pointCurrent(store: ObjectStore, key: string, runId: string): Promise<void> {
  await store.put(CURRENT_KEY, JSON.stringify({ format_version: 1, manifest_ref: key, run_id: runId, published_at: new Date().toISOString() }));
}

/** A query vector whose first element is `first`. */
export function fakeQuery(first = 0): Buffer {
  return encodeVector([first, 0, 0, 0]);
}

/** A Router client with a promise per RPC. */
export class TestRouterClient {
  readonly raw: RouterClient;
  constructor(address: string) {
    this.raw = new (loadRouterProto().shardfleet.v1.Router)(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  }

  /** Calls `method` with `req` and a deadline `timeoutMs` from now. */
  call<Res>(method: 'Search' | 'BatchSearch' | 'Get' | 'MultiGet' | 'Route' | 'SnapshotInfo' | 'ShardDetails' | 'Health' | 'Refresh', req: object, timeoutMs = 5000): Promise<Res> {
    const fn = this.raw[method].bind(this.raw) as unknown as Parameters<typeof unaryCall<object, Res>>[0];
    return unaryCall(fn, req, { deadline: Date.now() + timeoutMs });
  }

  close(): void {
    this.raw.close();
  }
}

/** Polls `check` every 20 ms until it returns true. @throws Error naming `what` after `timeoutMs`. */
export function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  return waitFor(what, check, { timeoutMs, intervalMs: 20 });
}

/** A router over fake nodes, its client, and a cleanup function. */
export interface TestRouter {
  router: RouterHandle;
  client: TestRouterClient;
  stop(): Promise<void>;
}

/**
 * Starts a router on 127.0.0.1 over `nodes` (fast polling: Status every 50 ms, `_CURRENT` every
 * 100 ms unless overridden) and waits until it serves a run.
 */
export async function startTestRouter(store: ObjectStore, nodes: readonly FakeShardNode[], extra: Partial<RouterConfig> = {}): Promise<TestRouter> {
  const router = await startRouter({
    store,
    nodes: nodes.map((n) => n.endpoint),
    replication: 1,
    listen: '127.0.0.1:0',
    log: quietLogger(),
    statusPollIntervalMs: 50,
    pollIntervalMs: 100,
    // Fake nodes count the calls they get: no live recall reference calls unless a test asks.
    liveRecallFraction: 0,
    ...extra,
  });
  await router.firstLoad;
  await waitUntil('the router to serve a run', () => router.snapshot() !== undefined);
  const client = new TestRouterClient(router.address);
  return {
    router,
    client,
    stop: async () => {
      client.close();
      await router.stop();
    },
  };
}
