/**
 * A small promise-based client of the `shardfleet.v1.Router` service, for the CLI, the demo and
 * tests. Clients in other languages generate their own from `proto/shardfleet/v1/router.proto`.
 */
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, loadRouterProto, type RouterClient } from '../common/proto.ts';
import { unaryCall } from '../common/grpc-status.ts';
import type { SearchRequest } from '../common/proto-gen/shardfleet/v1/SearchRequest.ts';
import type { SearchResponse__Output } from '../common/proto-gen/shardfleet/v1/SearchResponse.ts';
import type { SnapshotInfoResponse__Output } from '../common/proto-gen/shardfleet/v1/SnapshotInfoResponse.ts';
import { encodeVector } from '../common/vector-codec.ts';
import type { RoutingContext } from '../common/routing/routing-context.ts';
import { encodeRoutingContext } from '../common/routing/routing-value-codec.ts';

export type { SearchResponse__Output as SearchResponse } from '../common/proto-gen/shardfleet/v1/SearchResponse.ts';
export type { SnapshotInfoResponse__Output as SnapshotInfo } from '../common/proto-gen/shardfleet/v1/SnapshotInfoResponse.ts';

/** Search parameters; `vector` is encoded to little-endian float32 bytes. */
export interface SearchParams {
  /** The query, length dim. */
  vector: Float32Array | readonly number[];
  /** Default 10. */
  topK?: number;
  /** 0 / undefined = the snapshot's default. */
  numProbes?: number;
  /** Explicit shards: required for explicit-sharded snapshots, overrides routing otherwise. */
  shardIds?: number[];
  /** CEL-sharded snapshots: the values of the manifest's cel_columns. */
  routingContext?: RoutingContext;
  /** IVF partitions to probe in each shard (LanceDB ivf_*); 0 = shard default. */
  nprobes?: number;
  /** HNSW beam width in each shard (LanceDB hnsw_*); 0 = shard default. */
  ef?: number;
  /** Re-rank top_k * refineFactor candidates exactly (PQ/SQ, sqlite-vec int8); 0 = shard default. */
  refineFactor?: number;
  includePayload?: boolean;
  /** Call deadline, ms from now (default 10,000). */
  timeoutMs?: number;
}

/** A connection to one router. */
export class ShardfleetClient {
  private readonly client: RouterClient;

  /** @param address router `host:port`. */
  constructor(address: string) {
    const Ctor = loadRouterProto().shardfleet.v1.Router;
    this.client = new Ctor(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  }

  /**
   * Runs a search.
   * @throws grpc.ServiceError with the router's status (INVALID_ARGUMENT, UNAVAILABLE, ...).
   */
  search(params: SearchParams): Promise<SearchResponse__Output> {
    const req: SearchRequest = {
      query: encodeVector(params.vector),
      top_k: params.topK ?? 10,
      num_probes: params.numProbes ?? 0,
      shard_ids: params.shardIds ?? [],
      include_payload: params.includePayload ?? false,
      routing_context: encodeRoutingContext(params.routingContext ?? {}),
      nprobes: params.nprobes ?? 0,
      ef: params.ef ?? 0,
      refine_factor: params.refineFactor ?? 0,
    };
    return unaryCall(this.client.Search.bind(this.client) as never, req, { deadline: Date.now() + (params.timeoutMs ?? 10_000) });
  }

  /** The snapshot the router serves. */
  snapshotInfo(timeoutMs = 10_000): Promise<SnapshotInfoResponse__Output> {
    return unaryCall(this.client.SnapshotInfo.bind(this.client) as never, {}, { deadline: Date.now() + timeoutMs });
  }

  /** Closes the channel. */
  close(): void {
    this.client.close();
  }
}
