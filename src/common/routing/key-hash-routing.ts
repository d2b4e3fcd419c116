/**
 * HASH routing: a record belongs to the shard of its key, xxh3_64 (seed 0) of the key's canonical
 * bytes modulo num_dbs. This is shardyfusion's key-hash rule for KV snapshots, so a key lands on
 * the same shard number here as there:
 * - a string key hashes its UTF-8 bytes,
 * - an integer key its 8-byte signed (two's complement) little-endian encoding,
 * - a binary key its bytes as they are.
 *
 * For vector records the key is the record id (a string), so a record's shard is
 * `shardOfKey(canonicalKeyBytes(id), num_dbs)`. The key says nothing about the vector, so a
 * similarity query cannot be routed: a search on a hash-sharded snapshot probes every shard
 * (or the caller's `shard_ids`). The CEL strategy is the way to route a query to one shard by key.
 */
import { quoteInput } from '../bounded-text.ts';
import { InputRecordError, InvalidQueryError } from '../errors.ts';
import { shardHash } from './cel-routing.ts';
import { checkShardIds, rejectRoutingContext } from './route-checks.ts';
import type { QueryToRoute, RecordToRoute, ShardRouting } from './shard-routing.ts';

/** A key as callers hold it: a string, an integer (number or bigint), or raw bytes. */
export type ShardKey = string | bigint | number | Uint8Array;

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** A lone (unpaired) UTF-16 surrogate: such a string has no UTF-8 encoding. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const utf8 = new TextEncoder();

/**
 * The canonical bytes of a key (shardyfusion's rule): UTF-8 for a string, 8 bytes signed
 * little-endian for an integer, the bytes themselves (a copy) for a Uint8Array.
 * @param key a non-empty string, a safe-integer number or an int64 bigint, or non-empty bytes.
 * @returns a new Uint8Array.
 * @throws RangeError for an empty string or empty bytes; a string with an unpaired surrogate
 *   (not encodable as UTF-8); a number that is not a safe integer (fractional, NaN, Infinity or
 *   beyond ±(2^53-1): pass such integers as bigint); a bigint outside -2^63..2^63-1.
 */
export function canonicalKeyBytes(key: ShardKey): Uint8Array {
  if (typeof key === 'string') {
    if (key.length === 0) throw new RangeError('key is empty: a key must be a non-empty string, an integer or non-empty bytes');
    if (LONE_SURROGATE.test(key)) throw new RangeError(`key ${quoteInput(key)} contains an unpaired UTF-16 surrogate and has no UTF-8 encoding`);
    return utf8.encode(key);
  }
  if (typeof key === 'number') {
    if (!Number.isSafeInteger(key)) {
      throw new RangeError(`integer key ${key} is not a safe integer (|n| <= 2^53-1); pass larger 64-bit integers as bigint`);
    }
    return int64Bytes(BigInt(key));
  }
  if (typeof key === 'bigint') {
    if (key < INT64_MIN || key > INT64_MAX) throw new RangeError(`integer key ${key} is outside the signed 64-bit range -2^63..2^63-1`);
    return int64Bytes(key);
  }
  if (key.length === 0) throw new RangeError('key is empty: a key must be a non-empty string, an integer or non-empty bytes');
  return Uint8Array.from(key);
}

function int64Bytes(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigInt64(0, value, true);
  return bytes;
}

/**
 * xxh3_64 (seed 0) of a key's canonical bytes, as an unsigned 64-bit bigint (the same hash as
 * CEL's `shard_hash`, and as Python `xxhash.xxh3_64_intdigest(bytes, seed=0)`).
 * @param keyBytes canonical key bytes ({@link canonicalKeyBytes}).
 * @returns the hash in 0..2^64-1.
 */
export function keyHash(keyBytes: Uint8Array): bigint {
  return shardHash(keyBytes);
}

/**
 * The shard of a key: xxh3_64 (seed 0) of its canonical bytes, unsigned, modulo numDbs
 * (shardyfusion's key-hash rule). Routes records at build time and, later, Get requests.
 * @param keyBytes canonical key bytes ({@link canonicalKeyBytes}).
 * @param numDbs number of shards, an integer >= 1.
 * @returns the db id in 0..numDbs-1.
 * @throws RangeError when numDbs is not a positive safe integer.
 */
export function shardOfKey(keyBytes: Uint8Array, numDbs: number): number {
  if (!Number.isSafeInteger(numDbs) || numDbs < 1) throw new RangeError(`num_dbs must be an integer >= 1, got ${numDbs}`);
  return Number(keyHash(keyBytes) % BigInt(numDbs));
}

/** HASH routing over `numDbs` shards: records by their id's key hash, queries to every shard. */
export class HashRouting implements ShardRouting {
  readonly strategy = 'hash' as const;

  /** @throws RangeError when numDbs is not a positive safe integer. */
  constructor(readonly numDbs: number) {
    if (!Number.isSafeInteger(numDbs) || numDbs < 1) throw new RangeError(`num_dbs must be an integer >= 1, got ${numDbs}`);
  }

  /**
   * The shard of the record's key (KV snapshots) or else of its id:
   * `shardOfKey(canonicalKeyBytes(key ?? id), numDbs)`.
   * @throws InputRecordError naming the record when it has an empty or out-of-range key, no id, an empty id, or an id with an
   *   unpaired surrogate.
   */
  assign(record: RecordToRoute): number {
    if (record.key !== undefined) {
      let keyBytes: Uint8Array;
      try {
        keyBytes = canonicalKeyBytes(record.key);
      } catch (err) {
        throw new InputRecordError(record.location, `key cannot be hash-routed: ${(err as Error).message}`);
      }
      return shardOfKey(keyBytes, this.numDbs);
    }
    if (record.id === undefined) throw new InputRecordError(record.location, 'has no id (the hash strategy routes every record by its id)');
    let bytes: Uint8Array;
    try {
      bytes = canonicalKeyBytes(record.id);
    } catch (err) {
      throw new InputRecordError(record.location, `id cannot be hash-routed: ${(err as Error).message}`);
    }
    return shardOfKey(bytes, this.numDbs);
  }

  /**
   * Every shard, 0..numDbs-1 (a key hash says nothing about where similar vectors are), or the
   * caller's `shard_ids` when given (num_probes is then not read, as for the other strategies).
   * @throws InvalidQueryError for a routing_context, a num_probes other than 0 or numDbs, or an
   *   unknown or repeated shard id.
   */
  route(query: QueryToRoute): number[] {
    rejectRoutingContext(query.routingContext, 'hash');
    if (query.shardIds.length > 0) return checkShardIds(query.shardIds, this.numDbs);
    const n = query.numProbes;
    if (n !== 0 && n !== this.numDbs) {
      throw new InvalidQueryError(
        `num_probes ${n} is not supported by the hash strategy: a hash-sharded snapshot probes every shard (leave num_probes 0 or set it to ${this.numDbs}, ` +
          'or pass shard_ids to search a subset)',
      );
    }
    return Array.from({ length: this.numDbs }, (_, i) => i);
  }
}
