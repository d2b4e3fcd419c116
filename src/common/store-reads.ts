/**
 * Bounded reads of the snapshot's control objects: `_CURRENT` and manifests. Neither has a size
 * recorded anywhere, so each has a fixed cap, far above what any legal snapshot writes; a larger
 * object is malformed and is never read past its cap (ObjectStore ReadLimits).
 */
import { ManifestParseError, ObjectTooLargeError, describeSeenBytes } from './errors.ts';
import { CURRENT_KEY, parseManifest, parseManifestKey, type Manifest } from './manifest.ts';
import type { ObjectStore } from './storage/object-store.ts';
import { readShardyfusionManifest } from '../formats/shardyfusion/read-manifest.ts';
import { isSqliteDatabase } from '../formats/shardyfusion/sqlite-manifest.ts';

/**
 * Largest `_CURRENT` pointer read, bytes (1 MiB). A pointer holds one manifest reference and at
 * most 16 earlier ones: a few KB.
 */
export const MAX_POINTER_BYTES = 2 ** 20;

/**
 * Largest manifest read, bytes (64 MiB). A manifest takes about 1 KB per shard (its entry and
 * file list), so this allows some 60,000 shards.
 */
export const MAX_MANIFEST_BYTES = 64 * 2 ** 20;

/**
 * The bytes of `_CURRENT`, at most {@link MAX_POINTER_BYTES}.
 * @throws ObjectNotFoundError when there is none; ManifestParseError naming the size and the cap
 *   when it is larger; StorageError from the store.
 */
export async function getPointerBytes(store: ObjectStore): Promise<Buffer> {
  return capped(store, CURRENT_KEY, MAX_POINTER_BYTES, 'the pointer');
}

/**
 * Reads and parses the manifest at `key`, at most {@link MAX_MANIFEST_BYTES}, in the format its
 * bytes show: shardfleet's JSON manifest, or shardyfusion's SQLite manifest, translated
 * (src/formats/shardyfusion/read-manifest.ts). A key in shardyfusion's layout
 * (`manifests/<ts>_run_id=<id>/manifest`, no extension) is always read as shardyfusion's, so a
 * damaged one is reported as a bad SQLite manifest, not as bad JSON.
 * @throws ObjectNotFoundError when it is missing; ManifestParseError when it is malformed or
 *   larger than the cap (naming its size); StorageError from the store.
 */
export async function readManifest(store: ObjectStore, key: string): Promise<Manifest> {
  const bytes = await capped(store, key, MAX_MANIFEST_BYTES, 'a manifest');
  if (isSqliteDatabase(bytes) || parseManifestKey(key)?.format === 'shardyfusion') return readShardyfusionManifest(store, key, bytes);
  return parseManifest(bytes, key);
}

async function capped(store: ObjectStore, key: string, maxBytes: number, what: string): Promise<Buffer> {
  try {
    return await store.get(key, { maxBytes });
  } catch (err) {
    if (!(err instanceof ObjectTooLargeError)) throw err;
    throw new ManifestParseError(
      `${key} in ${store.url} is ${describeSeenBytes(maxBytes, err.seenBytes)}, more than the ${maxBytes} bytes ${what} may have; not read`,
      { cause: err },
    );
  }
}
