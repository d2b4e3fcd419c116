/**
 * The routing contract shared by the writer and the router: one object per run, built from the
 * run's manifest (and its routing metadata files), that assigns each record to exactly one shard
 * at build time and picks the shards a query probes at search time. Because both sides call the
 * same object, a record is always in a shard its own query would probe first.
 */
import type { RoutingContext } from './routing-context.ts';

/** Sharding strategies (DESIGN.md "Routing"). */
export type ShardingStrategy = 'cluster' | 'lsh' | 'explicit' | 'cel' | 'hash';

/** What the writer knows about a record when it assigns it. */
export interface RecordToRoute {
  /** The vector, `Float32Array` of length dim. */
  vector: Float32Array;
  /** HASH: the record's id, its routing key when it has no `key` (input records always have one). */
  id?: string;
  /** HASH: the record's key (KV snapshots); takes precedence over `id`. */
  key?: string | bigint | Uint8Array;
  /** EXPLICIT: the shard the record names. */
  shardId?: number;
  /** CEL: the record's routing context. */
  routingContext?: RoutingContext;
  /** Human-readable position of the record (e.g. `data.jsonl line 17`) for error messages. */
  location: string;
}

/** What the router knows about a query when it routes it. */
export interface QueryToRoute {
  /** The query, `Float32Array` of length dim. */
  vector: Float32Array;
  /** Shards to probe; 0 means the manifest's default. */
  numProbes: number;
  /** Shards named by the caller (required for EXPLICIT; overrides routing for other strategies). */
  shardIds: readonly number[];
  /** CEL: the query's routing context. */
  routingContext?: RoutingContext;
}

/** A run's routing function. Implementations: cluster, LSH, explicit, CEL, hash. */
export interface ShardRouting {
  readonly strategy: ShardingStrategy;
  /** Number of shards (num_dbs). */
  readonly numDbs: number;
  /**
   * The shard (db id, 0..numDbs-1) a record belongs to.
   * @throws InputRecordError naming `record.location` when the record cannot be routed (missing
   *   or out-of-range shard_id, a routing context missing a declared column, a CEL result outside
   *   0..numDbs-1 or not in routing_values, a missing or empty id for HASH).
   */
  assign(record: RecordToRoute): number;
  /**
   * The shards a query probes, best first, distinct.
   * @throws InvalidQueryError when the query cannot be routed (EXPLICIT without shard_ids,
   *   num_probes > 1 for EXPLICIT or CEL, num_probes > num_dbs, num_probes other than 0 or
   *   num_dbs for HASH, bad routing context, unknown shard id).
   */
  route(query: QueryToRoute): number[];
}
