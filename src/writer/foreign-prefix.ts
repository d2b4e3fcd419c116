/**
 * shardfleet reads shardyfusion snapshots unchanged and never writes into their prefix: a build,
 * a rollback or a cleanup there would overwrite shardyfusion's `_CURRENT` with a pointer its own
 * readers cannot read, or delete its manifests and run records as old runs or orphans. Every
 * writing command checks first, also when the snapshot is damaged (a `_CURRENT` that fails
 * validation, or none: see src/formats/shardyfusion/prefix-evidence.ts).
 */
import { ConfigValidationError } from '../common/errors.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { shardyfusionPrefixEvidence } from '../formats/shardyfusion/prefix-evidence.ts';

/**
 * Refuses to write into a prefix that holds a shardyfusion snapshot.
 * @param action what would be written, for the message (e.g. `build`, `roll back`).
 * @throws ConfigValidationError naming `--store` and what shows the snapshot is shardyfusion's;
 *   StorageError when the store cannot be read. Nothing when the prefix shows no shardyfusion
 *   snapshot.
 */
export async function assertNotShardyfusionPrefix(store: ObjectStore, action: string): Promise<void> {
  const evidence = await shardyfusionPrefixEvidence(store);
  if (evidence !== undefined) {
    throw new ConfigValidationError(
      `--store ${store.url} holds a shardyfusion snapshot (${evidence}); shardfleet only reads shardyfusion snapshots and does not write into their prefix, so it will not ${action} there (nothing was written): use shardyfusion's own tools for that prefix, or pass a --store of your own`,
    );
  }
}
