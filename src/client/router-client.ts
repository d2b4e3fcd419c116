/**
 * A small promise-based client of the `shardfleet.v1.Router` service, for the CLI, the demo and
 * tests. Clients in other languages generate their own from `proto/shardfleet/v1/router.proto`.
 * Naming: request and response objects use the proto field names (snake_case: `top_k`,
 * `shard_ids`, `payload_json`), the same words as the wire, grpcurl and the generated clients of
 * other languages; only JavaScript-side settings (constructor options, timeouts passed as
 * arguments) are camelCase.
 */
import * as grpc from '@grpc/grpc-js';
import { normalizeBearerToken } from '../common/bearer-auth.ts';
import { channelOptions, loadRouterProto, type RouterClient } from '../common/proto.ts';
import { channelCredentials, type ClientTlsFiles } from '../common/grpc-security.ts';
import { unaryCall } from '../common/grpc-status.ts';
import type { BatchSearchRequest } from '../common/proto-gen/shardfleet/v1/BatchSearchRequest.ts';
import type { BatchSearchResponse__Output } from '../common/proto-gen/shardfleet/v1/BatchSearchResponse.ts';
import type { HealthResponse__Output } from '../common/proto-gen/shardfleet/v1/HealthResponse.ts';
import type { RefreshResponse__Output } from '../common/proto-gen/shardfleet/v1/RefreshResponse.ts';
import type { GetRequest } from '../common/proto-gen/shardfleet/v1/GetRequest.ts';
import type { GetResponse__Output } from '../common/proto-gen/shardfleet/v1/GetResponse.ts';
import type { Key } from '../common/proto-gen/shardfleet/v1/Key.ts';
import type { MultiGetRequest } from '../common/proto-gen/shardfleet/v1/MultiGetRequest.ts';
import type { MultiGetResponse__Output } from '../common/proto-gen/shardfleet/v1/MultiGetResponse.ts';
import type { RouteRequest } from '../common/proto-gen/shardfleet/v1/RouteRequest.ts';
import type { RouteResponse__Output } from '../common/proto-gen/shardfleet/v1/RouteResponse.ts';
import type { ShardDetailsResponse__Output } from '../common/proto-gen/shardfleet/v1/ShardDetailsResponse.ts';
import type { SearchRequest } from '../common/proto-gen/shardfleet/v1/SearchRequest.ts';
import type { SearchResponse__Output } from '../common/proto-gen/shardfleet/v1/SearchResponse.ts';
import type { SnapshotInfoResponse__Output } from '../common/proto-gen/shardfleet/v1/SnapshotInfoResponse.ts';
import { encodeVector } from '../common/vector-codec.ts';
import type { RoutingContext } from '../common/routing/routing-context.ts';
import { encodeRoutingContext } from '../common/routing/routing-value-codec.ts';

export type { SearchResponse__Output as SearchResponse } from '../common/proto-gen/shardfleet/v1/SearchResponse.ts';
export type { BatchSearchResponse__Output as BatchSearchResponse } from '../common/proto-gen/shardfleet/v1/BatchSearchResponse.ts';
export type { HealthResponse__Output as RouterHealth } from '../common/proto-gen/shardfleet/v1/HealthResponse.ts';
export type { RouteResponse__Output as RouteResponse } from '../common/proto-gen/shardfleet/v1/RouteResponse.ts';
export type { ShardDetailsResponse__Output as ShardDetails } from '../common/proto-gen/shardfleet/v1/ShardDetailsResponse.ts';
export type { GetResponse__Output as GetResponse } from '../common/proto-gen/shardfleet/v1/GetResponse.ts';
export type { MultiGetResponse__Output as MultiGetResponse } from '../common/proto-gen/shardfleet/v1/MultiGetResponse.ts';
export type { GetResult__Output as GetResult } from '../common/proto-gen/shardfleet/v1/GetResult.ts';
export type { SnapshotInfoResponse__Output as SnapshotInfo } from '../common/proto-gen/shardfleet/v1/SnapshotInfoResponse.ts';

/**
 * Search parameters. Like every request and response of this client, the fields are the proto
 * fields' own names (snake_case, as in `proto/shardfleet/v1/router.proto` and the clients other
 * languages generate), except `vector`: the query as numbers, which the client encodes into the
 * proto's `query` bytes (little-endian float32). Unset fields take the proto defaults below.
 */
export interface SearchParams {
  /** The collection to ask (issue 24); '' / undefined = the router's default collection. */
  collection?: string;
  /** The query, length dim. */
  vector: Float32Array | readonly number[];
  /** Default 10. */
  top_k?: number;
  /** 0 / undefined = the snapshot's default. */
  num_probes?: number;
  /**
   * Recall-targeted probing: probe the smallest num_probes whose build-time routing recall
   * (SnapshotInfo recall_at_probes) reaches this, in (0, 1]; 0 / undefined = unset. num_probes or
   * shard_ids given win. Outside (0, 1], or a snapshot without a curve: INVALID_ARGUMENT.
   */
  target_recall?: number;
  /** Explicit shards: required for explicit-sharded snapshots, overrides routing otherwise. */
  shard_ids?: number[];
  /**
   * Pre-filter: a CEL boolean expression over the snapshot's filter columns (SnapshotInfo
   * filter_columns), e.g. `label_name == "Shirt" && label < 5`; every result matches it.
   */
  filter?: string;
  /** CEL-sharded snapshots: the values of the manifest's cel_columns. */
  routing_context?: RoutingContext;
  /** IVF partitions to probe in each shard (LanceDB ivf_*); 0 = shard default. */
  nprobes?: number;
  /** HNSW beam width in each shard (usearch, LanceDB hnsw_*); 0 = shard default. */
  ef?: number;
  /** Re-rank top_k * refine_factor candidates exactly (PQ/SQ, sqlite-vec int8); 0 = shard default. */
  refine_factor?: number;
  include_payload?: boolean;
  /** Return each hit's stored vector. */
  include_vector?: boolean;
  /**
   * Fraction (0..1] of the probed shards that must answer; below it the call fails UNAVAILABLE.
   * 0 / undefined = 1.0 (every probed shard). Above it, a partial answer says which shards failed.
   */
  min_coverage?: number;
  /** Call deadline, ms from now (default 10,000); not a proto field. */
  timeout_ms?: number;
}

/** Connection options of {@link ShardfleetClient}. */
export interface ShardfleetClientOptions {
  /** TLS to the router (mutual TLS when `certFile` and `keyFile` are set); default insecure. */
  tls?: ClientTlsFiles;
  /**
   * Sent as `authorization: Bearer <token>` on every call (use with TLS: clear text otherwise).
   * Surrounding whitespace is removed (HTTP/2 would drop a header value ending in a space).
   */
  bearerToken?: string;
  /** Largest message sent or received, bytes (default 64 MiB). */
  maxMessageBytes?: number;
}

/** A connection to one router. */
export class ShardfleetClient {
  private readonly client: RouterClient;
  private readonly bearerToken: string | undefined;

  /**
   * @param address router `host:port`.
   * @throws ConfigValidationError when a TLS file cannot be read or the options are invalid
   *   (e.g. a `bearerToken` that is empty or holds spaces or non-printable characters).
   */
  constructor(address: string, options: ShardfleetClientOptions = {}) {
    this.bearerToken = options.bearerToken === undefined ? undefined : normalizeBearerToken(options.bearerToken, 'in the bearerToken option');
    const Ctor = loadRouterProto().shardfleet.v1.Router;
    this.client = new Ctor(address, channelCredentials(options.tls), channelOptions(options.maxMessageBytes));
  }

  /** Metadata of one call (a fresh object: grpc-js may mutate it). */
  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.bearerToken !== undefined) md.set('authorization', `Bearer ${this.bearerToken}`);
    return md;
  }

  private options(timeoutMs: number): grpc.CallOptions {
    return { deadline: Date.now() + timeoutMs };
  }

  /**
   * Runs a search.
   * @throws grpc.ServiceError with the router's status (INVALID_ARGUMENT, UNAVAILABLE,
   *   RESOURCE_EXHAUSTED when rate-limited, UNAUTHENTICATED without the right token, ...).
   */
  search(params: SearchParams): Promise<SearchResponse__Output> {
    const options = this.options(params.timeout_ms ?? 10_000);
    return unaryCall(this.client.Search.bind(this.client) as never, toSearchRequest(params), options, this.metadata());
  }

  /**
   * Runs many queries in one call; each gets its own result or error, in order. Each query costs
   * one rate-limit token at the router.
   * @param timeoutMs deadline of the whole batch, ms (default 10,000; per-query `timeout_ms` is ignored).
   * @throws grpc.ServiceError when the batch as a whole fails.
   */
  batchSearch(queries: readonly SearchParams[], timeoutMs = 10_000, collection = ''): Promise<BatchSearchResponse__Output> {
    const req: BatchSearchRequest = { queries: queries.map(toSearchRequest), collection };
    return unaryCall(this.client.BatchSearch.bind(this.client) as never, req, this.options(timeoutMs), this.metadata());
  }

  /**
   * Point lookup of one key (see router.proto Get). `key`: a string (string keys, or a record id
   * of a vector-only snapshot), an integer (number or bigint: int keys) or bytes (`Uint8Array`).
   * @throws grpc.ServiceError: INVALID_ARGUMENT (key of the wrong type, empty, bad routing
   *   context), UNAVAILABLE (the key's shard could not answer), ...
   */
  get(params: GetParams): Promise<GetResponse__Output> {
    const req: GetRequest = {
      key: toKey(params.key),
      routing_context: encodeRoutingContext(params.routing_context ?? {}),
      include_vector: params.include_vector ?? false,
      collection: params.collection ?? '',
    };
    return unaryCall(this.client.Get.bind(this.client) as never, req, this.options(params.timeout_ms ?? 10_000), this.metadata());
  }

  /**
   * Point lookup of many keys; results in request order (see router.proto MultiGet).
   * @throws grpc.ServiceError as {@link get}, and INVALID_ARGUMENT for more keys than the
   *   router's --max-get-keys.
   */
  multiGet(params: MultiGetParams): Promise<MultiGetResponse__Output> {
    const req: MultiGetRequest = {
      keys: params.keys.map(toKey),
      routing_context: encodeRoutingContext(params.routing_context ?? {}),
      include_vector: params.include_vector ?? false,
      min_coverage: params.min_coverage ?? 0,
      collection: params.collection ?? '',
    };
    return unaryCall(this.client.MultiGet.bind(this.client) as never, req, this.options(params.timeout_ms ?? 10_000), this.metadata());
  }

  /** Which shards a query would probe (no search). */
  route(
    params: Pick<SearchParams, 'vector' | 'num_probes' | 'shard_ids' | 'routing_context' | 'timeout_ms' | 'filter' | 'collection'>,
  ): Promise<RouteResponse__Output> {
    const req: RouteRequest = {
      query: encodeVector(params.vector),
      num_probes: params.num_probes ?? 0,
      shard_ids: params.shard_ids ?? [],
      routing_context: encodeRoutingContext(params.routing_context ?? {}),
      filter: params.filter ?? '',
      collection: params.collection ?? '',
    };
    return unaryCall(this.client.Route.bind(this.client) as never, req, this.options(params.timeout_ms ?? 10_000), this.metadata());
  }

  /** The snapshot the router serves (of `collection`; '' = the default collection). */
  snapshotInfo(timeoutMs = 10_000, collection = ''): Promise<SnapshotInfoResponse__Output> {
    return unaryCall(this.client.SnapshotInfo.bind(this.client) as never, { collection }, this.options(timeoutMs), this.metadata());
  }

  /** Every shard of the served run with its replicas and their state (of `collection`; '' = the default collection). */
  shardDetails(timeoutMs = 10_000, collection = ''): Promise<ShardDetailsResponse__Output> {
    return unaryCall(this.client.ShardDetails.bind(this.client) as never, { collection }, this.options(timeoutMs), this.metadata());
  }

  /** The router's own health (healthy / degraded / unhealthy, with reasons). */
  health(timeoutMs = 10_000): Promise<HealthResponse__Output> {
    return unaryCall(this.client.Health.bind(this.client) as never, {}, this.options(timeoutMs), this.metadata());
  }

  /** Asks the router to re-read `_CURRENT` now (of `collection`; '' = rescan the catalog and refresh every collection). */
  refresh(timeoutMs = 30_000, collection = ''): Promise<RefreshResponse__Output> {
    return unaryCall(this.client.Refresh.bind(this.client) as never, { collection }, this.options(timeoutMs), this.metadata());
  }

  /** Closes the channel. */
  close(): void {
    this.client.close();
  }
}

/** A lookup key as callers hold it: string, integer (number or bigint) or bytes. */
export type LookupKey = string | number | bigint | Uint8Array;

/** Get parameters (proto field names; `key` is encoded into the proto `Key` by its JS type). */
export interface GetParams {
  /** The collection to ask (issue 24); '' / undefined = the router's default collection. */
  collection?: string;
  key: LookupKey;
  routing_context?: RoutingContext;
  include_vector?: boolean;
  /** Deadline, ms (default 10,000). */
  timeout_ms?: number;
}

/** MultiGet parameters. */
export interface MultiGetParams {
  /** The collection to ask (issue 24); '' / undefined = the router's default collection. */
  collection?: string;
  keys: readonly LookupKey[];
  routing_context?: RoutingContext;
  include_vector?: boolean;
  /** Fraction (0..1] of keys that must be answered; 0 = all. */
  min_coverage?: number;
  timeout_ms?: number;
}

/**
 * The wire form of a key: a string as `string_key`, a bytes value as `bytes_key`, a safe-integer
 * number as `int_key`, a bigint as `int_key_decimal` (exact over int64).
 * @throws RangeError for a number that is not a safe integer.
 */
export function toKey(key: LookupKey): Key {
  if (typeof key === 'string') return { string_key: key };
  if (typeof key === 'bigint') return { int_key_decimal: key.toString() };
  if (typeof key === 'number') {
    if (!Number.isSafeInteger(key)) throw new RangeError(`integer key ${key} is not a safe integer; pass it as a bigint`);
    return { int_key: key };
  }
  return { bytes_key: Buffer.from(key.buffer, key.byteOffset, key.byteLength) };
}

/** The wire form of one query. */
function toSearchRequest(params: SearchParams): SearchRequest {
  return {
    query: encodeVector(params.vector),
    top_k: params.top_k ?? 10,
    num_probes: params.num_probes ?? 0,
    target_recall: params.target_recall ?? 0,
    shard_ids: params.shard_ids ?? [],
    include_payload: params.include_payload ?? false,
    include_vector: params.include_vector ?? false,
    min_coverage: params.min_coverage ?? 0,
    routing_context: encodeRoutingContext(params.routing_context ?? {}),
    nprobes: params.nprobes ?? 0,
    ef: params.ef ?? 0,
    refine_factor: params.refine_factor ?? 0,
    filter: params.filter ?? '',
    collection: params.collection ?? '',
  };
}
