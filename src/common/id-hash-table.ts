/**
 * A compact, read-only id -> key table for shards whose files have no index on the id column
 * (usearch `rows.sqlite` before issue 22, sqlite-vec `shard.sqlite` before issue 22): 8 bytes a
 * row, one sorted `BigUint64Array` of `(hash32(id) << 32) | key`, instead of a `Map` of id
 * strings (about 100 bytes a row plus the id text).
 *
 * The table stores no ids, so a lookup gives CANDIDATE keys (every row whose id hashes alike);
 * the caller reads each candidate's id from the file and keeps those equal to the id asked for.
 * With a 32-bit hash a false candidate is rare (about rows / 2^32 per lookup).
 *
 * Used by the shard node's usearch and sqlite-vec readers and the shardyfusion sqlite-vec reader.
 */

/** 32-bit FNV-1a over the UTF-16 code units of `s` (http://www.isthe.com/chongo/tech/comp/fnv/). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A 32-bit hash of an id (unsigned integer 0..2^32-1). */
export type IdHash = (id: string) => number;

/** Largest key the table holds (keys are 32-bit). */
export const ID_HASH_TABLE_MAX_KEY = 0xffffffff;

/** The sorted (hash, key) table of a shard's ids; see the module comment. */
export class IdHashTable {
  private constructor(
    private readonly table: BigUint64Array,
    private readonly hash: IdHash,
  ) {}

  /**
   * Builds the table in one pass over `rows`.
   * @param rows every row of the shard as `[key, id]` (keys: integers 0..2^32-1, in any order;
   *   a repeated id keeps all its keys, the caller picks among the verified candidates).
   * @param expectedRows rows expected (the table is sized for them and grows when there are more).
   * @param hash the id hash (default {@link fnv1a32}; tests pass a colliding one).
   * @throws RangeError naming the key when a key is not an integer in 0..2^32-1.
   */
  static build(rows: Iterable<readonly [key: number, id: string]>, expectedRows: number, hash: IdHash = fnv1a32): IdHashTable {
    let table = new BigUint64Array(Math.max(1, Math.floor(expectedRows)));
    let n = 0;
    for (const [key, id] of rows) {
      if (!Number.isInteger(key) || key < 0 || key > ID_HASH_TABLE_MAX_KEY) throw new RangeError(`key ${key} of id ${JSON.stringify(id)} is not an integer in 0..${ID_HASH_TABLE_MAX_KEY}`);
      if (n === table.length) {
        const grown = new BigUint64Array(table.length * 2);
        grown.set(table);
        table = grown;
      }
      table[n++] = (BigInt(hash(id) >>> 0) << 32n) | BigInt(key);
    }
    const sorted = table.subarray(0, n).sort();
    return new IdHashTable(n === table.length ? sorted : sorted.slice(), hash);
  }

  /** Rows in the table. */
  get size(): number {
    return this.table.length;
  }

  /** Bytes the table holds (8 a row). */
  get bytes(): number {
    return this.table.byteLength;
  }

  /** The keys of every row whose id hashes like `id`, ascending (empty when none): verify each. */
  candidates(id: string): number[] {
    const h = BigInt(this.hash(id) >>> 0) << 32n;
    const out: number[] = [];
    const t = this.table;
    for (let at = lowerBound(t, h); at < t.length && (t[at] & 0xffffffff00000000n) === h; at++) out.push(Number(t[at] & 0xffffffffn));
    return out;
  }
}

/** First index of sorted `a` whose value is >= `v`. */
function lowerBound(a: BigUint64Array, v: bigint): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
