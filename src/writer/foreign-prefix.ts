/**
 * shardfleet reads shardyfusion snapshots unchanged and never writes into their prefix: a build,
 * a rollback or a cleanup there would overwrite shardyfusion's `_CURRENT` with a pointer its own
 * readers cannot read, or delete its run records as orphans. Every writing command checks first.
 */
import { ConfigValidationError, ObjectNotFoundError } from '../common/errors.ts';
import { parseCurrentPointer } from '../common/manifest.ts';
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
  let format: string | undefined;
  try {
    format = parseCurrentPointer(bytes).format;
  } catch {
    return;
  }
  if (format === 'shardyfusion') {
    throw new ConfigValidationError(
      `${store.url} holds a shardyfusion snapshot (its _CURRENT is shardyfusion's); shardfleet serves it read-only and does not ${action} there: use shardyfusion's own tools for that prefix, or pass another --store`,
    );
  }
}
