/**
 * Test harness for shard nodes: an object store wrapper that counts downloads and can hold them
 * at a gate (probe/fault injection around a real FileObjectStore), an in-process shard node on a
 * real gRPC port, and a real gRPC client for it.
 */
import { waitFor as pollFor } from './wait.ts';
import * as grpc from '@grpc/grpc-js';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from 'pino';
import { unaryCall } from '../../src/common/grpc-status.ts';
import { unpackHits } from '../../src/common/packed-hits.ts';
import { placeRun, shardsOfNode } from '../../src/common/placement.ts';
import { loadShardNodeProto, type ShardNodeClient } from '../../src/common/proto.ts';
import type { SearchShardsRequest } from '../../src/common/proto-gen/shardfleet/v1/SearchShardsRequest.ts';
import type { Hit__Output } from '../../src/common/proto-gen/shardfleet/v1/Hit.ts';
import type { SearchShardsResponse__Output } from '../../src/common/proto-gen/shardfleet/v1/SearchShardsResponse.ts';
import type { ShardResult__Output } from '../../src/common/proto-gen/shardfleet/v1/ShardResult.ts';
import type { StatusRequest } from '../../src/common/proto-gen/shardfleet/v1/StatusRequest.ts';
import type { StatusResponse__Output } from '../../src/common/proto-gen/shardfleet/v1/StatusResponse.ts';
import type { Manifest } from '../../src/common/manifest.ts';
import type { ObjectStore, ReadLimits } from '../../src/common/storage/object-store.ts';
import { DelegatingStore } from './delegating-store.ts';
import { startShardNode, type ShardNodeConfig, type ShardNodeHandle } from '../../src/shard-node/shard-node-server.ts';
import { buildSnapshot } from '../../src/writer/build-snapshot.ts';
import { openIdxSource } from '../../src/writer/input/idx-source.ts';
import { FASHION_IMAGES, FASHION_LABELS, quietLogger } from './fixtures.ts';

/** A gate holding matching downloads until released. */
export interface DownloadGate {
  /** Lets every held and future matching download through. */
  release(): void;
  /** Resolves once `n` downloads are waiting at the gate. */
  waiting(n?: number): Promise<void>;
}

interface GateState {
  match: (key: string) => boolean;
  open: Promise<void>;
  release: () => void;
  waiting: number;
  waiters: { n: number; resolve: () => void }[];
}

/** An ObjectStore that records every download and can hold downloads at gates or fail reads. */
export class ProbeStore extends DelegatingStore {
  /** Keys downloaded, in order (one entry per download call). */
  readonly downloads: string[] = [];
  /** When set, `get` of a key for which it returns an error throws that error. */
  failGet: ((key: string) => Error | undefined) | undefined;
  private readonly gates: GateState[] = [];

  /** Download calls for keys starting with `prefix`. */
  downloadsUnder(prefix: string): number {
    return this.downloads.filter((k) => k.startsWith(prefix)).length;
  }

  /** Holds every download whose key matches until the gate is released. */
  gate(match: (key: string) => boolean): DownloadGate {
    let release!: () => void;
    const open = new Promise<void>((resolve) => (release = resolve));
    const state: GateState = { match, open, release, waiting: 0, waiters: [] };
    this.gates.push(state);
    return {
      release: () => {
        const i = this.gates.indexOf(state);
        if (i >= 0) this.gates.splice(i, 1);
        state.release();
      },
      waiting: (n = 1) =>
        new Promise<void>((resolve) => {
          if (state.waiting >= n) resolve();
          else state.waiters.push({ n, resolve });
        }),
    };
  }

  override async download(key: string, localPath: string, limits: ReadLimits): Promise<number> {
    this.downloads.push(key);
    for (const gate of [...this.gates]) {
      if (!gate.match(key)) continue;
      gate.waiting++;
      for (const w of gate.waiters.filter((w) => gate.waiting >= w.n)) w.resolve();
      await gate.open;
    }
    return this.inner.download(key, localPath, limits);
  }

  override async get(key: string, limits?: ReadLimits): Promise<Buffer> {
    const err = this.failGet?.(key);
    if (err !== undefined) throw err;
    return this.inner.get(key, limits);
  }
}

/** Node ids of the test placement; the node under test is always `n0`. */
export const NODE_IDS = ['n0', 'n1', 'n2'];

/** The static node list (only n0 runs; the others are placement members). */
export function testNodes(ids: readonly string[] = NODE_IDS): { id: string; address: string }[] {
  return ids.map((id, i) => ({ id, address: `127.0.0.1:${40_000 + i}` }));
}

/** The shards placement assigns to `nodeId` among `ids` (R = 1). */
export function assignedTo(manifest: Manifest, nodeId = 'n0', ids: readonly string[] = NODE_IDS): number[] {
  return shardsOfNode(placeRun(manifest, ids, 1), nodeId);
}

/** Bytes of shard `dbId`'s files per the manifest. */
export function bytesOf(manifest: Manifest, dbId: number): number {
  return manifest.shards[dbId].files.reduce((s, f) => s + f.bytes, 0);
}

/** A SearchShards answer whose shard results also carry their hits unpacked. */
export interface NodeSearchResponse extends SearchShardsResponse__Output {
  shards: (ShardResult__Output & { hits: Hit__Output[] })[];
}

/** A real gRPC client for a shard node. */
export class NodeClient {
  private readonly client: ShardNodeClient;

  constructor(readonly address: string) {
    const Ctor = loadShardNodeProto().shardfleet.v1.ShardNode;
    this.client = new Ctor(address, grpc.credentials.createInsecure());
  }

  /**
   * Calls SearchShards; every shard result also carries its packed hits unpacked as `hits`
   * (unpackHits, as the router reads them).
   */
  async search(request: SearchShardsRequest, timeoutMs = 60_000): Promise<NodeSearchResponse> {
    const res = await unaryCall<SearchShardsRequest, SearchShardsResponse__Output>(this.client.SearchShards.bind(this.client) as never, request, { deadline: Date.now() + timeoutMs });
    return { ...res, shards: res.shards.map((s) => ({ ...s, hits: unpackHits(s) })) };
  }

  /** Status; `request` may carry a router's run leases (router_id, run_leases, lease_ttl_ms). */
  status(request: StatusRequest = {}): Promise<StatusResponse__Output> {
    return unaryCall(this.client.Status.bind(this.client) as never, request, { deadline: Date.now() + 10_000 });
  }

  refresh(): Promise<StatusResponse__Output> {
    return unaryCall(this.client.Refresh.bind(this.client) as never, {}, { deadline: Date.now() + 60_000 });
  }

  close(): void {
    this.client.close();
  }
}

/** A running in-process node with its client. */
export interface TestNode {
  handle: ShardNodeHandle;
  client: NodeClient;
  /** Stops the node (idempotent) and closes the client. */
  stop(): Promise<void>;
}

/** Starts shard node `n0` on 127.0.0.1 (any free port) with the given overrides. */
export async function startTestNode(
  config: Partial<ShardNodeConfig> & Pick<ShardNodeConfig, 'store' | 'cacheDir' | 'log'>,
): Promise<TestNode> {
  const handle = await startShardNode({
    nodeId: 'n0',
    nodes: config.membership ? undefined : testNodes(),
    replication: 1,
    listen: '127.0.0.1:0',
    pollIntervalMs: 60_000,
    ...config,
  });
  const client = new NodeClient(handle.address);
  return {
    handle,
    client,
    stop: async () => {
      client.close();
      await handle.stop();
    },
  };
}

/** A logger that keeps every line's `msg` (and the whole record) in `records`. */
export function recordingLogger(): { log: Logger; records: { msg: string; [k: string]: unknown }[] } {
  const records: { msg: string; [k: string]: unknown }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') records.push(JSON.parse(line) as { msg: string });
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), records };
}

/** Polls `check` every 50 ms until it is true. @throws Error naming `what` after `timeoutMs`. */
export function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  return pollFor(what, check, { timeoutMs });
}

/**
 * Builds run `runId` of the first `limit` Fashion-MNIST images (CLUSTER, l2) into `store` and
 * publishes it as `_CURRENT`.
 */
export async function buildRun(
  store: ObjectStore,
  runId: string,
  options: { limit?: number; numDbs?: number; backend?: 'lancedb' | 'sqlite-vec'; seed?: number } = {},
): Promise<Manifest> {
  const source = await openIdxSource({ imagesPath: FASHION_IMAGES, labelsPath: FASHION_LABELS, limit: options.limit ?? 2000 });
  const built = await buildSnapshot({
    store,
    source,
    runId,
    sharding: { strategy: 'cluster', numDbs: options.numDbs ?? 8, numProbes: 2 },
    backend: options.backend === 'sqlite-vec' ? { backend: 'sqlite-vec' } : { backend: 'lancedb' },
    metric: 'l2',
    seed: options.seed ?? 7,
    progress: false,
    log: quietLogger(),
  });
  return built.manifest;
}
