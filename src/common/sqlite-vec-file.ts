/**
 * Opening and reading sqlite-vec files, shared by the shard node's readers of shardfleet's own
 * sqlite-vec shards (`src/shard-node/sqlite-vec-shard-reader.ts`) and of shardyfusion's
 * `shard.db` (`src/formats/shardyfusion/sqlite-vec-shard-reader.ts`).
 *
 * Files are opened READ-ONLY and without mmap: a shard file replaced or truncated underneath an
 * open mapping would crash the process (SIGBUS) instead of failing the query.
 */
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';

/**
 * Opens the SQLite file `file` read-only (it must exist), loads the sqlite-vec extension into the
 * connection and sets `query_only`, so no statement can write to it.
 * @throws the better-sqlite3 / extension error when the file is missing, is not a SQLite database
 *   or the extension cannot be loaded (callers wrap it in an error naming the shard).
 */
export function openSqliteVecReadOnly(file: string): Database.Database {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    sqliteVec.load(db);
    db.pragma('query_only = ON');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * Views a float32 little-endian BLOB (e.g. a vec0 `float[dim]` column) as a `Float32Array` of
 * length `dim`, without copying when the BLOB is 4-byte aligned (copying when it is not). The
 * result may share memory with `blob`: `.slice()` it before handing it out.
 * @param what names the row in the error message.
 * @throws Error when the BLOB does not hold exactly `dim * 4` bytes.
 */
export function blobToFloats(blob: Buffer, dim: number, what: string): Float32Array {
  if (blob.byteLength !== dim * 4) throw new Error(`${what}: vector BLOB has ${blob.byteLength} bytes, expected ${dim * 4}`);
  if (blob.byteOffset % 4 === 0) return new Float32Array(blob.buffer, blob.byteOffset, dim);
  const copy = new Uint8Array(blob.byteLength);
  copy.set(blob);
  return new Float32Array(copy.buffer);
}
