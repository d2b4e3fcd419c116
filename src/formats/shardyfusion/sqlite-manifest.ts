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

/** True when `bytes` start like a SQLite database (how a shardyfusion manifest is recognised). */
export function isSqliteDatabase(bytes: Buffer): boolean {
  return bytes.length >= SQLITE_MAGIC.length && bytes.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC);
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
 * @throws ManifestParseError naming the key when the bytes are not a SQLite database, a table is
 *   missing, `build_meta` does not have exactly one row, or a row fails validation.
 */
export function readShardyfusionManifestTables(bytes: Buffer, key: string): ShardyfusionManifestTables {
  const what = `manifest ${key} (shardyfusion SQLite)`;
  let db: Database.Database;
  try {
    db = new Database(bytes, { readonly: true });
  } catch (err) {
    throw new ManifestParseError(`${what} cannot be opened: ${errorMessage(err)}`);
  }
  try {
    let metaRows: unknown[];
    let shardRows: unknown[];
    try {
      metaRows = db.prepare('SELECT run_id, created_at, num_dbs, s3_prefix, key_col, sharding, db_path_template, shard_prefix, format_version, key_encoding, custom FROM build_meta LIMIT 2').all();
      shardRows = db.prepare('SELECT db_id, db_url, attempt, row_count, db_bytes, min_key, max_key, checkpoint_id, writer_info FROM shards ORDER BY db_id').all();
    } catch (err) {
      throw new ManifestParseError(`${what} does not have shardyfusion's build_meta and shards tables: ${errorMessage(err)}`);
    }
    if (metaRows.length !== 1) throw new ManifestParseError(`${what} has ${metaRows.length === 0 ? 'no' : 'more than one'} build_meta row; exactly one is expected`);
    const buildMeta = validateWith(BuildMetaRowSchema, metaRows[0], `${what} build_meta`);
    const shards = shardRows.map((row, i) => validateWith(ShardRowSchema, row, `${what} shards row ${i}`));
    return { buildMeta, shards };
  } finally {
    db.close();
  }
}
