/**
 * shardyfusion's manifest: a serialized SQLite database (manifest.py:22,202-322 at b5ad9a1) with
 * two tables, `build_meta` (one row) and `shards` (one row per NON-EMPTY shard). Parsed here from
 * its bytes, in memory, read-only, into validated rows; nothing about shardfleet yet (that is
 * manifest-translation.ts).
 */
import Database from 'better-sqlite3';
import { z } from 'zod';
import { ManifestParseError, errorMessage } from '../../common/errors.ts';
import { validateWith } from '../../common/json-schema-parse.ts';

/** The first 16 bytes of every SQLite database file ("SQLite format 3\0"). */
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** The content type shardyfusion's `_CURRENT` gives its manifest (manifest_store.py:207). */
const SQLITE_CONTENT_TYPE = 'application/x-sqlite3';

/** True when `bytes` start like a SQLite database (how a shardyfusion manifest is recognised). */
export function isSqliteDatabase(bytes: Buffer): boolean {
  return bytes.length >= SQLITE_MAGIC.length && bytes.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC);
}

/** How many leading bytes of a manifest that is not SQLite an error message shows. */
const SHOWN_PREFIX_BYTES = 16;

/**
 * Why `bytes` (which start with the SQLite magic) cannot be a whole database, from its 100-byte
 * header (sqlite.org/fileformat2.html §1.3): the in-header page count (offset 28) is valid when
 * the version-valid-for number (offset 92) equals the change counter (offset 24), as in every
 * manifest shardyfusion serializes (`sqlite3` `Connection.serialize`, manifest.py:202-322); then
 * the object must hold page_count × page_size bytes. Undefined when the header says nothing
 * against it.
 */
export function sqliteTruncation(bytes: Buffer): string | undefined {
  if (bytes.length < 100) return `the object has ${bytes.length} bytes, fewer than SQLite's 100-byte header`;
  const rawPageSize = bytes.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  const pages = bytes.readUInt32BE(28);
  if (bytes.readUInt32BE(92) !== bytes.readUInt32BE(24) || pages === 0) return undefined;
  const want = pages * pageSize;
  if (bytes.length < want) return `its header says ${pages} pages of ${pageSize} bytes (${want} bytes) but the object has ${bytes.length} bytes`;
  return undefined;
}

/** The first bytes of a non-SQLite manifest, for a message (JSON string, control bytes escaped). */
function shownPrefix(bytes: Buffer): string {
  return JSON.stringify(bytes.subarray(0, SHOWN_PREFIX_BYTES).toString('latin1')) + (bytes.length > SHOWN_PREFIX_BYTES ? '…' : '');
}

/** True for better-sqlite3's errors about a damaged or non-database file. */
function isCorruptionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB';
}

/** A JSON text column holding an object (`sharding`, `custom`, `writer_info`). */
function jsonObjectText(column: string) {
  return z.string().transform((text, ctx) => {
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
      ctx.addIssue({ code: 'custom', message: `${column} is not a JSON object` });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${column} is not JSON: ${errorMessage(err)}` });
    }
    return z.NEVER;
  });
}

/** The `build_meta` row (manifest.py:202-215). */
export const BuildMetaRowSchema = z.object({
  run_id: z.string(),
  created_at: z.string(),
  num_dbs: z.number().int().positive(),
  s3_prefix: z.string().min(1),
  key_col: z.string(),
  sharding: jsonObjectText('sharding'),
  db_path_template: z.string(),
  shard_prefix: z.string(),
  format_version: z.number().int(),
  key_encoding: z.string(),
  custom: jsonObjectText('custom'),
});
export type BuildMetaRow = z.infer<typeof BuildMetaRowSchema>;

/** A `shards` row (manifest.py:216-226). */
export const ShardRowSchema = z.object({
  db_id: z.number().int().nonnegative(),
  db_url: z.string().nullable(),
  attempt: z.number().int().nonnegative(),
  row_count: z.number().int().nonnegative(),
  db_bytes: z.number().int().nonnegative(),
  min_key: z.string().nullable(),
  max_key: z.string().nullable(),
  checkpoint_id: z.string().nullable(),
  writer_info: z.string(),
});
export type ShardRow = z.infer<typeof ShardRowSchema>;

/** A parsed shardyfusion manifest: its two tables. */
export interface ShardyfusionManifestTables {
  buildMeta: BuildMetaRow;
  /** Rows ordered by db_id. */
  shards: ShardRow[];
}

/**
 * Reads the two tables of a shardyfusion manifest.
 * @param bytes the manifest object (a SQLite database image).
 * @param key names the manifest in errors.
 * @throws ManifestParseError naming the key when the bytes are not a SQLite database (showing
 *   their first 16 bytes), are shorter than the database their header describes (truncated) or
 *   SQLite finds them corrupt, a table is missing, `build_meta` does not have exactly one row
 *   (shardyfusion's reader takes `LIMIT 1`, manifest_store.py:316-318; two rows are a damaged
 *   manifest here), or a row fails validation.
 */
export function readShardyfusionManifestTables(bytes: Buffer, key: string): ShardyfusionManifestTables {
  const what = `manifest ${key} (shardyfusion SQLite)`;
  const unreadable = `shardyfusion writes its manifest as one serialized SQLite database (manifest_content_type ${SQLITE_CONTENT_TYPE}); this object cannot be read as one`;
  if (!isSqliteDatabase(bytes)) {
    throw new ManifestParseError(`manifest ${key} (shardyfusion) is not a SQLite database: it is ${bytes.length} bytes starting with ${shownPrefix(bytes)}, not "SQLite format 3"; ${unreadable}`);
  }
  const truncated = sqliteTruncation(bytes);
  if (truncated !== undefined) throw new ManifestParseError(`${what} is truncated: ${truncated}; ${unreadable}`);
  let db: Database.Database;
  try {
    db = new Database(bytes, { readonly: true });
  } catch (err) {
    throw new ManifestParseError(`${what} cannot be opened (truncated or corrupt): ${errorMessage(err)}`);
  }
  try {
    let metaRows: unknown[];
    let shardRows: unknown[];
    try {
      metaRows = db.prepare('SELECT run_id, created_at, num_dbs, s3_prefix, key_col, sharding, db_path_template, shard_prefix, format_version, key_encoding, custom FROM build_meta LIMIT 2').all();
      shardRows = db.prepare('SELECT db_id, db_url, attempt, row_count, db_bytes, min_key, max_key, checkpoint_id, writer_info FROM shards ORDER BY db_id').all();
    } catch (err) {
      if (isCorruptionError(err)) throw new ManifestParseError(`${what} is truncated or corrupt (SQLite: ${errorMessage(err)}); ${unreadable}`);
      throw new ManifestParseError(`${what} does not have shardyfusion's build_meta and shards tables (SQLite: ${errorMessage(err)})`);
    }
    if (metaRows.length !== 1) throw new ManifestParseError(`${what} has ${metaRows.length === 0 ? 'no' : 'more than one'} build_meta row; shardyfusion writes exactly one`);
    const buildMeta = validateWith(BuildMetaRowSchema, metaRows[0], `${what} build_meta`);
    const shards = shardRows.map((row, i) => validateWith(ShardRowSchema, row, `${what} shards row ${i}`));
    return { buildMeta, shards };
  } finally {
    db.close();
  }
}
