/**
 * Batched reads of a usearch shard's `rows.sqlite` (layout in `src/common/usearch-layout.ts`):
 * ids and payloads of the final hits by key, stored float32 vectors by key, and keys by id. The
 * node keeps no per-row JS object: ids stay on disk (SQLite reads `rows.sqlite` through a memory
 * map, so its pages sit in the page cache, not in the process's anonymous memory).
 *
 * Each batch is one statement joining `json_each(?)` (the keys or ids as a JSON array) with the
 * table, so a query's top-k hits cost one statement, not one per hit.
 *
 * Get by id uses the index `rows_id` on `rows(id)` that builds since issue 22 write. Older shards
 * have none: on the first get by id the reader builds a compact sorted table of
 * (32-bit FNV-1a hash of the id, key) pairs, 8 bytes a row, and confirms each candidate's id in
 * SQLite (instead of the `Map` of id strings it built before, ~100 bytes a row); the table is
 * `IdHashTable` (src/common/id-hash-table.ts), shared with the sqlite-vec reader.
 */
import type Database from 'better-sqlite3';
import { IdHashTable } from '../common/id-hash-table.ts';

/** Keys or ids per statement (SQLite binds one JSON text; this bounds the rows one call returns). */
export const ROW_LOOKUP_CHUNK = 1024;
/** Bytes of SQLite's memory map of `rows.sqlite` (address space, not memory: pages stay in the page cache). */
const ROWS_MMAP_BYTES = 1 << 30;

/** Ids (and payloads when asked) of rows by key. */
export interface RowsByKey {
  /** `ids[i]` is the id of `keys[i]`. */
  ids: string[];
  /** `payloads[i]` is the payload JSON of `keys[i]` ("" when NULL); present when asked. */
  payloads?: string[];
}

/** The row table of one open usearch shard (read-only). */
export class UsearchRowTable {
  /** True when the shard has the `vectors` table (exact float32 copies). */
  readonly hasStoredVectors: boolean;
  /** True when `rows(id)` is indexed (builds since issue 22). */
  readonly hasIdIndex: boolean;
  private readonly byKey: Database.Statement<[string], [number, string]>;
  private readonly byKeyWithPayload: Database.Statement<[string], [number, string, string | null]>;
  private readonly payloadOf: Database.Statement<[string], [number, string | null]>;
  private readonly vectorByKey: Database.Statement<[string], [number, Buffer]> | undefined;
  private readonly keyById: Database.Statement<[string], [number, number]> | undefined;
  /** Old shards: the id hash table of every row, built on the first get by id. */
  private hashIndex: IdHashTable | undefined;

  /**
   * @param db `rows.sqlite`, open read-only.
   * @param count rows of the shard (keys 0..count-1).
   */
  constructor(
    private readonly db: Database.Database,
    readonly count: number,
  ) {
    db.pragma(`mmap_size = ${ROWS_MMAP_BYTES}`);
    // The file never changes: hold the shared lock from the first read on, so a statement does not
    // lock, unlock and re-check the file (fcntl + pread) each time. Measured on a loaded 2-core
    // machine: 2-4 us per single-key statement instead of ~100 us. Other readers are not blocked.
    db.pragma('locking_mode = EXCLUSIVE');
    const has = (type: string, name: string): boolean => db.prepare('SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?').get(type, name) !== undefined;
    this.hasStoredVectors = has('table', 'vectors');
    this.hasIdIndex = has('index', 'rows_id');
    // json_each's `key` is the array index, `value` the element.
    this.byKey = db.prepare<[string], [number, string]>('SELECT j.key, r.id FROM json_each(?) AS j JOIN rows AS r ON r.key = j.value').raw(true);
    this.byKeyWithPayload = db.prepare<[string], [number, string, string | null]>('SELECT j.key, r.id, r.payload FROM json_each(?) AS j JOIN rows AS r ON r.key = j.value').raw(true);
    this.payloadOf = db.prepare<[string], [number, string | null]>('SELECT j.key, r.payload FROM json_each(?) AS j JOIN rows AS r ON r.key = j.value').raw(true);
    this.vectorByKey = this.hasStoredVectors ? db.prepare<[string], [number, Buffer]>('SELECT j.key, v.vector FROM json_each(?) AS j JOIN vectors AS v ON v.key = j.value').raw(true) : undefined;
    this.keyById = this.hasIdIndex ? db.prepare<[string], [number, number]>('SELECT j.key, r.key FROM json_each(?) AS j JOIN rows AS r ON r.id = j.value').raw(true) : undefined;
  }

  /** Bytes this object holds in memory per row: 8 once an old shard's id hash table is built, else 0. */
  get bytes(): number {
    return this.hashIndex?.bytes ?? 0;
  }

  /**
   * The ids (and payloads) of `keys`, in order (repeats allowed).
   * @throws Error naming the key when a key has no row.
   */
  rowsOf(keys: readonly number[], includePayload: boolean): RowsByKey {
    const ids: string[] = new Array(keys.length);
    const payloads: string[] | undefined = includePayload ? new Array(keys.length) : undefined;
    for (let start = 0; start < keys.length; start += ROW_LOOKUP_CHUNK) {
      const part = keys.slice(start, start + ROW_LOOKUP_CHUNK);
      const json = JSON.stringify(part);
      if (payloads === undefined) {
        for (const [i, id] of this.byKey.all(json)) ids[start + i] = id;
      } else {
        for (const [i, id, payload] of this.byKeyWithPayload.all(json)) {
          ids[start + i] = id;
          payloads[start + i] = payload ?? '';
        }
      }
      for (let i = 0; i < part.length; i++) if (ids[start + i] === undefined) throw new Error(`key ${part[i]} is missing from the rows table`);
    }
    return payloads === undefined ? { ids } : { ids, payloads };
  }

  /** Payload JSON of each key ("" when NULL). @throws Error naming the key when a key has no row. */
  payloadsOf(keys: readonly number[]): string[] {
    const out: string[] = new Array(keys.length);
    for (let start = 0; start < keys.length; start += ROW_LOOKUP_CHUNK) {
      const part = keys.slice(start, start + ROW_LOOKUP_CHUNK);
      for (const [i, payload] of this.payloadOf.all(JSON.stringify(part))) out[start + i] = payload ?? '';
      for (let i = 0; i < part.length; i++) if (out[start + i] === undefined) throw new Error(`key ${part[i]} is missing from the rows table`);
    }
    return out;
  }

  /**
   * The stored float32 vectors of `keys`, row-major (`keys.length * dim`).
   * @throws Error when the shard has no `vectors` table, or naming the key when a row has no
   *   vector of dim * 4 bytes.
   */
  storedVectorsOf(keys: ArrayLike<number>, dim: number): Float32Array {
    if (this.vectorByKey === undefined) throw new Error('the shard has no stored float32 vectors');
    const out = new Float32Array(keys.length * dim);
    const bytes = new Uint8Array(out.buffer);
    const seen = new Uint8Array(keys.length);
    for (let start = 0; start < keys.length; start += ROW_LOOKUP_CHUNK) {
      const part = Array.from({ length: Math.min(ROW_LOOKUP_CHUNK, keys.length - start) }, (_, i) => keys[start + i]);
      for (const [i, blob] of this.vectorByKey.all(JSON.stringify(part))) {
        if (blob.byteLength !== dim * 4) throw new Error(`row ${part[i]} has no stored float32 vector of dim ${dim}`);
        bytes.set(blob, (start + i) * dim * 4);
        seen[start + i] = 1;
      }
    }
    const missing = seen.indexOf(0);
    if (missing >= 0) throw new Error(`row ${keys[missing]} has no stored float32 vector of dim ${dim}`);
    return out;
  }

  /**
   * The key of each id (exact, case-sensitive), or undefined when no row has it; the first key of
   * an id wins (builds reject duplicate ids).
   */
  keysOf(ids: readonly string[]): Array<number | undefined> {
    const out: Array<number | undefined> = new Array(ids.length).fill(undefined);
    if (this.keyById !== undefined) {
      for (let start = 0; start < ids.length; start += ROW_LOOKUP_CHUNK) {
        for (const [i, key] of this.keyById.all(JSON.stringify(ids.slice(start, start + ROW_LOOKUP_CHUNK)))) {
          const at = start + i;
          if (out[at] === undefined || key < out[at]!) out[at] = key;
        }
      }
      return out;
    }
    const table = this.hashTable();
    const candidates: number[] = [];
    const owner: number[] = [];
    ids.forEach((id, i) => {
      for (const key of table.candidates(id)) {
        candidates.push(key);
        owner.push(i);
      }
    });
    if (candidates.length === 0) return out;
    const { ids: found } = this.rowsOf(candidates, false);
    for (let c = 0; c < candidates.length; c++) {
      const i = owner[c];
      if (found[c] === ids[i] && (out[i] === undefined || candidates[c] < out[i]!)) out[i] = candidates[c];
    }
    return out;
  }

  /** Old shards' id hash table ({@link IdHashTable}); built by one pass over the ids. */
  private hashTable(): IdHashTable {
    this.hashIndex ??= IdHashTable.build(this.db.prepare<[], [number, string]>('SELECT key, id FROM rows').raw(true).iterate(), this.count);
    return this.hashIndex;
  }
}
