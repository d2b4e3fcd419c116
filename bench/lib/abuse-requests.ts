/**
 * The abuse benchmark's request messages, encoded to bytes with the public contract's own
 * serializers (proto/shardfleet/v1, loaded by src/common/proto.ts), or written byte by byte where
 * a message is the attack itself (a BatchSearch of 2x10^7 empty queries is `[10, 0]` repeated).
 */
import { loadRouterProto, loadShardNodeProto } from '../../src/common/proto.ts';
import type { FilterExpr } from '../../src/common/filter/filter-expr.ts';
import type { BatchSearchRequest } from '../../src/common/proto-gen/shardfleet/v1/BatchSearchRequest.ts';
import type { GetRequest } from '../../src/common/proto-gen/shardfleet/v1/GetRequest.ts';
import type { MultiGetRequest } from '../../src/common/proto-gen/shardfleet/v1/MultiGetRequest.ts';
import type { RouteRequest } from '../../src/common/proto-gen/shardfleet/v1/RouteRequest.ts';
import type { RoutingValue } from '../../src/common/proto-gen/shardfleet/v1/RoutingValue.ts';
import type { SearchRequest } from '../../src/common/proto-gen/shardfleet/v1/SearchRequest.ts';
import type { SearchShardsRequest } from '../../src/common/proto-gen/shardfleet/v1/SearchShardsRequest.ts';
import type { StatusRequest } from '../../src/common/proto-gen/shardfleet/v1/StatusRequest.ts';

/** gRPC method paths the benchmark calls. */
export const PATHS = {
  search: '/shardfleet.v1.Router/Search',
  batchSearch: '/shardfleet.v1.Router/BatchSearch',
  route: '/shardfleet.v1.Router/Route',
  get: '/shardfleet.v1.Router/Get',
  multiGet: '/shardfleet.v1.Router/MultiGet',
  health: '/shardfleet.v1.Router/Health',
  searchShards: '/shardfleet.v1.ShardNode/SearchShards',
  status: '/shardfleet.v1.ShardNode/Status',
} as const;

type Serialize<T> = (value: T) => Buffer;

function routerSerializer<T>(method: 'Search' | 'BatchSearch' | 'Route' | 'Get' | 'MultiGet'): Serialize<T> {
  return loadRouterProto().shardfleet.v1.Router.service[method].requestSerialize as Serialize<T>;
}

function nodeSerializer<T>(method: 'SearchShards' | 'Status'): Serialize<T> {
  return loadShardNodeProto().shardfleet.v1.ShardNode.service[method].requestSerialize as Serialize<T>;
}

/** Encoders of the request messages by their generated types. */
export const encode = {
  search: (m: SearchRequest): Buffer => routerSerializer<SearchRequest>('Search')(m),
  batchSearch: (m: BatchSearchRequest): Buffer => routerSerializer<BatchSearchRequest>('BatchSearch')(m),
  route: (m: RouteRequest): Buffer => routerSerializer<RouteRequest>('Route')(m),
  get: (m: GetRequest): Buffer => routerSerializer<GetRequest>('Get')(m),
  multiGet: (m: MultiGetRequest): Buffer => routerSerializer<MultiGetRequest>('MultiGet')(m),
  searchShards: (m: SearchShardsRequest): Buffer => nodeSerializer<SearchShardsRequest>('SearchShards')(m),
  status: (m: StatusRequest): Buffer => nodeSerializer<StatusRequest>('Status')(m),
};

/**
 * `bytes` bytes of a repeated two-byte message entry `[tag, 0]`: field `tag >> 3` (length
 * delimited) holding an empty message, `bytes / 2` times. `[10, 0]` is an empty
 * BatchSearchRequest.queries entry, `[0x4a, 0]` an empty SearchShardsRequest.queries entry.
 */
export function repeatedEmptyEntries(tag: number, bytes: number): Buffer {
  return Buffer.alloc(bytes - (bytes % 2), Buffer.from([tag, 0]));
}

/** `count` routing_context entries `c0`, `c1`, ... each an int_value. */
export function manyRoutingEntries(count: number): Record<string, RoutingValue> {
  const out: Record<string, RoutingValue> = {};
  for (let i = 0; i < count; i++) out[`c${i}`] = { int_value: i };
  return out;
}

/** `"!"` x `bangs` + `(column==value)`: a filter nested `bangs` deep in a short text. */
export function deepNotFilter(bangs: number, column: string, value: number): string {
  return `${'!'.repeat(bangs)}(${column}==${value})`;
}

/** Compiled-form (node) filter: `column in [0, 1, ..., count-1]`. */
export function hugeInFilter(column: string, count: number): FilterExpr {
  return { op: 'in', column, values: Array.from({ length: count }, (_, i) => i) };
}

/** Compiled-form (node) filter: `column == 0 || column == 1 || ...`, `terms` terms. */
export function hugeOrFilter(column: string, terms: number): FilterExpr {
  return { op: 'or', args: Array.from({ length: terms }, (_, i) => ({ op: 'cmp', column, cmp: '==', value: i })) };
}

/** A float32 little-endian query vector as its wire bytes (a copy). */
export function vectorBytes(v: Float32Array): Buffer {
  return Buffer.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
}
