/**
 * Integrity check of a downloaded shardyfusion `shard.db` against its `shard.sidecar`.
 *
 * shardyfusion's manifest records no checksum of a shard file (only `db_bytes`), but the sqlite
 * page-cache sidecar written beside `shard.db` binds the .db's storage object tag: the writer
 * uploads `shard.db`, reads its S3 ETag with a HEAD and writes it into the sidecar's UNCOMPRESSED
 * prefix (shardyfusion/sqlite_vec_adapter.py:550-577, sqlite_adapter.py:51-70,483-520;
 * docs/reference/sqlite-sidecar-format.md, v8 at b5ad9a1):
 *
 * `magic "SQPC" (4) | format_version u8 = 8 (1) | body_size u64 LE (8) | page_size u32 LE (4) |
 *  tag_len u8 (1) | db_tag (tag_len bytes, UTF-8) | zstd frame`
 *
 * For a single-part PUT (what shardyfusion does: `backend.put(key, bytes)`) S3's ETag is the
 * quoted lowercase MD5 hex of the object, so `md5(shard.db) == db_tag` is a real content check
 * and needs no zstd (only the prefix is read). A multipart ETag (`"<hex>-<parts>"`), an unbound
 * sidecar (`tag_len` 0), another sidecar version or no sidecar at all cannot be checked this
 * way; the result says which.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { VectorIndexError, errorMessage } from '../../common/errors.ts';

/** File name of the sidecar beside `shard.db` (shardyfusion/sqlite_adapter.py:47,66). */
export const SHARDYFUSION_SIDECAR = 'shard.sidecar';

/** The sidecar format version whose prefix this module reads. */
const SIDECAR_VERSION = 8;
/** magic + version + body_size + page_size + tag_len. */
const FIXED_PREFIX = 18;

/** What {@link verifyShardDbAgainstSidecar} could establish. */
export type SidecarCheck =
  /** md5(shard.db) equals the MD5 ETag the sidecar binds. */
  | { status: 'verified'; md5: string }
  /** No `shard.sidecar` in the folder: nothing to compare with. */
  | { status: 'no-sidecar' }
  /** The sidecar cannot be used for a check: `reason` says why (not an error: the sidecar is optional). */
  | { status: 'unverifiable'; reason: string };

/**
 * The `db_tag` of a sidecar's prefix.
 * @param prefix the sidecar's first bytes (at least 18 + tag_len; 273 bytes always suffice).
 * @returns `{ tag }` (undefined for an unbound sidecar) or `{ problem }` when the prefix is not a
 *   v8 SQPC prefix.
 */
export function sidecarTag(prefix: Uint8Array): { tag: string | undefined } | { problem: string } {
  const b = Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  if (b.length < FIXED_PREFIX || b.toString('latin1', 0, 4) !== 'SQPC') return { problem: 'the file does not start with the SQPC magic' };
  if (b[4] !== SIDECAR_VERSION) return { problem: `sidecar format_version ${b[4]} (this reader reads the prefix of version ${SIDECAR_VERSION})` };
  const tagLen = b[17]!;
  if (tagLen === 0) return { tag: undefined };
  if (b.length < FIXED_PREFIX + tagLen) return { problem: `the sidecar is shorter than its ${tagLen}-byte db_tag` };
  return { tag: b.toString('utf8', FIXED_PREFIX, FIXED_PREFIX + tagLen) };
}

/** MD5 (lowercase hex) of a file, streamed. */
async function md5OfFile(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Checks `<dir>/shard.db` against the ETag bound in `<dir>/shard.sidecar`, when there is one and
 * it is a single-part (MD5) ETag. Reads the sidecar's first 273 bytes and, for an MD5 tag, the
 * whole `shard.db` once (measured: about 10 ms for a 3.3 MB shard).
 * @param dir the shard's local folder.
 * @param dbId the shard id, for messages.
 * @param dbFileName the file name of the database in `dir` (default `shard.db`).
 * @param objectKey the store key `shard.db` was downloaded from (e.g.
 *   `shards/run_id=<id>/db=00002/attempt=00/shard.db`), named first in messages so the user
 *   knows which object of the snapshot is bad; default: the local path only.
 * @returns what could be established (see {@link SidecarCheck}).
 * @throws VectorIndexError naming the shard, the object and both files when the MD5 of `shard.db` differs
 *   from the sidecar's MD5 ETag (the file is not the one shardyfusion uploaded), or when
 *   `shard.db` cannot be read.
 */
export async function verifyShardDbAgainstSidecar(dir: string, dbId: number, dbFileName = 'shard.db', objectKey?: string): Promise<SidecarCheck> {
  const sidecarFile = join(dir, SHARDYFUSION_SIDECAR);
  const dbFile = join(dir, dbFileName);
  let prefix: Buffer;
  try {
    const handle = await open(sidecarFile, 'r');
    try {
      const buf = Buffer.alloc(FIXED_PREFIX + 255);
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      prefix = buf.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'no-sidecar' };
    return { status: 'unverifiable', reason: `${sidecarFile} cannot be read: ${errorMessage(err)}` };
  }
  const parsed = sidecarTag(prefix);
  if ('problem' in parsed) return { status: 'unverifiable', reason: `${sidecarFile}: ${parsed.problem}` };
  if (parsed.tag === undefined) return { status: 'unverifiable', reason: `${sidecarFile} is unbound (no db_tag)` };
  const m = /^"?([0-9a-f]{32})"?$/i.exec(parsed.tag);
  if (!m) return { status: 'unverifiable', reason: `${sidecarFile} binds the tag ${JSON.stringify(parsed.tag)}, not a single-part MD5 ETag` };
  const expected = m[1]!.toLowerCase();
  let md5: string;
  try {
    md5 = await md5OfFile(dbFile);
  } catch (err) {
    throw new VectorIndexError(`shard ${dbId} ${objectKey === undefined ? '' : `file ${objectKey} `}(${dbFile}): cannot read the file to check it against ${SHARDYFUSION_SIDECAR}: ${errorMessage(err)}`, { cause: err });
  }
  if (md5 !== expected) {
    const file = objectKey === undefined ? `(${dbFile})` : `file ${objectKey} (downloaded to ${dbFile})`;
    throw new VectorIndexError(
      `shard ${dbId} ${file}: the file's MD5 is ${md5}, but ${sidecarFile} binds the ETag ${parsed.tag} shardyfusion read after uploading it: the file is not the one shardyfusion wrote (corrupt or replaced)`,
    );
  }
  return { status: 'verified', md5 };
}
