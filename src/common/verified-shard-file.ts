/**
 * Downloads one file of a shard that routers read themselves (id filters, filter centroids) and
 * checks it against the manifest's `files` entry (size and sha256) before anyone parses it. The
 * read stops at the manifest's size (+1 byte to see that there is more).
 */
import { ObjectNotFoundError, ObjectTooLargeError, ShardIntegrityError, StorageError, describeSeenBytes, errorMessage } from './errors.ts';
import { sha256Hex } from './file-digest.ts';
import type { Manifest, ShardEntry } from './manifest.ts';
import type { ObjectStore } from './storage/object-store.ts';

/**
 * The error for a store file larger than the manifest says: names `source` (the shard and file),
 * the manifest's size and the size seen (or "more than" it when the store could not tell).
 */
export function oversizedFileError(source: string, err: ObjectTooLargeError): ShardIntegrityError {
  return new ShardIntegrityError(
    `${source} is ${describeSeenBytes(err.maxBytes, err.seenBytes)} in the store but the manifest says ${err.maxBytes} bytes; not read past that`,
    { cause: err },
  );
}

/**
 * The bytes of `shard`'s file `path` (relative to the shard's url), verified. At most the
 * manifest's size + 1 bytes are read.
 * @param what names the file in errors, e.g. `id filter`.
 * @returns the bytes and `source`, a description for parse errors (`shard 3 of run R: id filter <key>`).
 * @throws StorageError naming the shard and file when it is not listed, missing, not a regular
 *   file or cannot be downloaded; ShardIntegrityError when its size or sha256 differs from the
 *   manifest's (also when it is larger: the read stops there).
 */
export async function getVerifiedShardFile(store: ObjectStore, manifest: Manifest, shard: ShardEntry, path: string, what: string): Promise<{ bytes: Buffer; source: string }> {
  const key = shard.url + path;
  const source = `shard ${shard.db_id} of run ${manifest.run_id}: ${what} ${key}`;
  const entry = shard.files.find((f) => f.path === path);
  if (entry === undefined) throw new StorageError(`${source} is not in the shard's files`);
  let bytes: Buffer;
  try {
    bytes = await store.get(key, { maxBytes: entry.bytes });
  } catch (err) {
    if (err instanceof ObjectTooLargeError) throw oversizedFileError(source, err);
    if (err instanceof ObjectNotFoundError) throw new StorageError(`${source} is listed in the manifest but missing from ${store.url}`);
    throw new StorageError(`${source}: download from ${store.url} failed: ${errorMessage(err)}`, { cause: err });
  }
  const digest = sha256Hex(bytes);
  if (bytes.length !== entry.bytes || digest !== entry.sha256) {
    throw new ShardIntegrityError(`${source} has sha256 ${digest} (${bytes.length} bytes) but the manifest says ${entry.sha256} (${entry.bytes} bytes)`);
  }
  return { bytes, source };
}
