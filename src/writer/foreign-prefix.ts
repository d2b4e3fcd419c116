/**
 * shardfleet reads shardyfusion snapshots unchanged and never writes into their prefix: a build,
 * a rollback or a cleanup there would overwrite shardyfusion's `_CURRENT` with a pointer its own
 * readers cannot read, or delete its run records as orphans. Every writing command checks first.
 */
import { ConfigValidationError, ObjectNotFoundError } from '../common/errors.ts';
import { parseCurrentPointer, type CurrentPointer } from '../common/manifest.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { getPointerBytes } from '../common/store-reads.ts';

/**
 * Refuses to write into a prefix whose `_CURRENT` is shardyfusion's.
 * @param action what would be written, for the message (e.g. `build`, `rollback`).
 * @throws ConfigValidationError naming the store and `--store` when the prefix holds a
 *   shardyfusion snapshot; nothing when `_CURRENT` is absent, shardfleet's, or malformed (the
 *   command's own checks report that).
 */
export async function assertNotShardyfusionPrefix(store: ObjectStore, action: string): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = await getPointerBytes(store);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return;
    throw err;
  }
  let pointer: CurrentPointer;
  try {
    pointer = parseCurrentPointer(bytes);
  } catch {
    return;
  }
  refuseShardyfusionPointer(store, pointer, action);
}

/**
 * {@link assertNotShardyfusionPrefix} for a caller that has read `_CURRENT` itself (and must not
 * read it twice, e.g. to keep its conditional write against the etag of its own read).
 * @throws ConfigValidationError as assertNotShardyfusionPrefix when `pointer` is shardyfusion's.
 */
export function refuseShardyfusionPointer(store: ObjectStore, pointer: CurrentPointer | undefined, action: string): void {
  if (pointer?.format === 'shardyfusion') {
    throw new ConfigValidationError(
      `${store.url} holds a shardyfusion snapshot (its _CURRENT is shardyfusion's); shardfleet serves it read-only and does not ${action} there: use shardyfusion's own tools for that prefix, or pass another --store`,
    );
  }
}
