/**
 * Reader side of the two-phase publish: resolve `_CURRENT`, load and validate its manifest, and
 * fall back to up to 3 earlier manifests when the newest is malformed (saying so in the log).
 */
import type { Logger } from 'pino';
import {
  CURRENT_KEY,
  MANIFESTS_PREFIX,
  parseCurrentPointer,
  parseManifest,
  type CurrentPointer,
  type Manifest,
} from './manifest.ts';
import { ManifestParseError, ObjectNotFoundError, SnapshotNotFoundError, errorMessage } from './errors.ts';
import type { ObjectStore } from './storage/object-store.ts';

/** How many earlier manifests a reader tries when the current one is malformed. */
export const MANIFEST_FALLBACK_DEPTH = 3;

/** A loaded snapshot: the manifest that is served and where it came from. */
export interface LoadedSnapshot {
  manifest: Manifest;
  /** Key of the manifest that was loaded. */
  manifestKey: string;
  /** The `_CURRENT` pointer as read (undefined when it was itself malformed). */
  pointer: CurrentPointer | undefined;
  /** Publication time (from `_CURRENT`, else the manifest's creation time), RFC 3339. */
  publishedAt: string;
  /** When a fallback happened: the manifest key that should have been served and why it was not. */
  fallbackFrom?: { key: string; reason: string };
}

/**
 * Loads the snapshot `_CURRENT` points to.
 * @throws SnapshotNotFoundError when there is no `_CURRENT` (nothing published at the prefix);
 *   ManifestParseError when neither the current manifest nor any of the 3 earlier ones is valid;
 *   StorageError when the store fails.
 */
export async function loadSnapshot(store: ObjectStore, log?: Logger): Promise<LoadedSnapshot> {
  let pointerBytes: Buffer;
  try {
    pointerBytes = await store.get(CURRENT_KEY);
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw new SnapshotNotFoundError(
        `no snapshot published at ${store.url}: ${CURRENT_KEY} does not exist (run \`shardfleet build\` first)`,
      );
    }
    throw err;
  }
  let pointer: CurrentPointer | undefined;
  let currentRef: string | undefined;
  let firstError: string;
  try {
    pointer = parseCurrentPointer(pointerBytes);
    currentRef = pointer.manifest_ref;
    const manifest = parseManifest(await store.get(currentRef), currentRef);
    return { manifest, manifestKey: currentRef, pointer, publishedAt: pointer.published_at };
  } catch (err) {
    if (!(err instanceof ManifestParseError || err instanceof ObjectNotFoundError)) throw err;
    firstError = errorMessage(err);
  }

  // Fallback: the newest manifests older than the current one (all manifests if _CURRENT is bad).
  const keys = (await store.list(MANIFESTS_PREFIX))
    .map((o) => o.key)
    .filter((k) => k.endsWith('/manifest.json') && (currentRef === undefined || k < currentRef))
    .sort()
    .reverse()
    .slice(0, MANIFEST_FALLBACK_DEPTH);
  const errors = [firstError];
  for (const key of keys) {
    try {
      const manifest = parseManifest(await store.get(key), key);
      const fallbackFrom = { key: currentRef ?? CURRENT_KEY, reason: firstError };
      log?.warn(
        { fallback_manifest: key, malformed: fallbackFrom.key, reason: firstError },
        `current manifest is unusable; serving earlier manifest ${key} instead`,
      );
      return { manifest, manifestKey: key, pointer, publishedAt: manifest.created_at, fallbackFrom };
    } catch (err) {
      if (!(err instanceof ManifestParseError || err instanceof ObjectNotFoundError)) throw err;
      errors.push(errorMessage(err));
    }
  }
  throw new ManifestParseError(
    `no valid manifest at ${store.url} (tried the current one and ${keys.length} earlier): ${errors.join(' | ')}`,
  );
}
