/**
 * What `shardfleet local` checks at the store before it starts any process: that there is a
 * snapshot to serve. Without one the router and nodes would start, retry `_CURRENT` and never
 * become ready, and the cause would be buried in their logs; here it is one line, at once.
 */
import { ManifestParseError, SnapshotNotFoundError } from '../common/errors.ts';
import { loadSnapshot, type LoadedSnapshot } from '../common/snapshot-loader.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';

/**
 * Loads the snapshot the cluster would serve, with the same loader as the router and the nodes
 * (shardfleet and shardyfusion snapshots alike, with the same fallback to earlier manifests).
 * @param given the `--store` value as the user gave it, named in the error.
 * @returns the snapshot (its manifest gives the shard count for start-up progress).
 * @throws the loader's error (SnapshotNotFoundError: no `_CURRENT` or no store folder;
 *   ManifestParseError: neither the current manifest nor an earlier one is valid; StorageError),
 *   the first two with `(--store <given>)` appended when they do not name `--store` already.
 */
export async function checkSnapshotToServe(store: ObjectStore, given: string): Promise<LoadedSnapshot> {
  try {
    return await loadSnapshot(store);
  } catch (err) {
    if (err instanceof SnapshotNotFoundError && !err.message.includes('--store')) throw new SnapshotNotFoundError(`${err.message} (--store ${given})`, { cause: err });
    if (err instanceof ManifestParseError) throw new ManifestParseError(`${err.message} (--store ${given})`, { cause: err });
    throw err;
  }
}
