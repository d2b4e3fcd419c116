/**
 * A writer's guard against publishing a snapshot at a catalog root (issue 24): a root whose child
 * prefixes hold `_CURRENT` (collections) or that holds `_ALIASES` must never get a `_CURRENT` of
 * its own, because a router or node that starts later would then serve the root as one snapshot
 * (collection `default`) and every collection under it would vanish from that process.
 */
import { ConfigValidationError } from '../errors.ts';
import { CURRENT_KEY } from '../manifest.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { ALIASES_KEY } from './aliases.ts';
import { listNames, scanCatalog } from './collection-catalog.ts';

/**
 * Resolves when `store` may receive a run and its `_CURRENT`: it already holds `_CURRENT` (a
 * snapshot prefix), or it holds neither `_ALIASES` nor a child prefix with `_CURRENT`.
 * Costs one HEAD when the prefix already holds `_CURRENT`; otherwise two HEADs, one delimiter
 * listing and one HEAD per child prefix (as a router's catalog scan).
 * @param flag the CLI flag that named the store (e.g. `--store`), for the message.
 * @throws ConfigValidationError naming `flag`, the store and its collections (and `_ALIASES`).
 * @throws StorageError when the store cannot be read.
 */
export async function assertNotCatalogRoot(store: ObjectStore, flag: string): Promise<void> {
  if ((await store.head(CURRENT_KEY)) !== undefined) return;
  const aliases = (await store.head(ALIASES_KEY)) !== undefined;
  const scan = store.listChildPrefixes ? await scanCatalog({ store }) : undefined;
  const collections = scan?.mode === 'catalog' ? scan.collections.map((c) => c.name) : [];
  if (!aliases && collections.length === 0) return;
  const holds = [collections.length > 0 ? `the collections ${listNames(collections)}` : '', aliases ? ALIASES_KEY : ''].filter((s) => s !== '').join(' and ');
  throw new ConfigValidationError(
    `${flag} ${store.url} is a catalog root (it holds ${holds}): a snapshot published there would put _CURRENT at the root, ` +
      `and routers and nodes would then serve the root as one snapshot instead of its collections; ` +
      `build into one collection's prefix instead, e.g. ${flag} ${store.url.replace(/\/+$/, '')}/<collection>`,
  );
}
