/**
 * Uploading a run's files and the two-phase publish: the manifest first (create-only), then
 * `_CURRENT` last with a conditional write, so a reader never sees a pointer to an incomplete run
 * and two publishers cannot silently overwrite each other.
 */
import { join } from 'node:path';
import pLimit from 'p-limit';
import { digestFile, listFilesRecursive } from '../common/file-digest.ts';
import {
  CURRENT_FORMAT_VERSION,
  CURRENT_KEY,
  ManifestSchema,
  POINTER_HISTORY_DEPTH,
  parseCurrentPointer,
  type CurrentPointer,
  type PublishedRun,
  type FileEntry,
  type Manifest,
} from '../common/manifest.ts';
import { ManifestParseError, ObjectNotFoundError, PreconditionFailedError, StorageError, errorMessage } from '../common/errors.ts';
import type { ObjectStore, PutCondition } from '../common/storage/object-store.ts';
import { getPointerBytes } from '../common/store-reads.ts';

/**
 * Uploads every file below `localDir` to `keyPrefix` (which ends in `/`), `concurrency` at a time,
 * and returns their entries (relative path, bytes, sha256) sorted by path.
 * @throws StorageError naming the file when an upload fails.
 */
export async function uploadFolder(
  store: ObjectStore,
  localDir: string,
  keyPrefix: string,
  concurrency = 8,
  onFile?: (entry: FileEntry) => void,
): Promise<FileEntry[]> {
  const limit = pLimit(concurrency);
  const files = await listFilesRecursive(localDir);
  return Promise.all(
    files.map((path) =>
      limit(async () => {
        const local = join(localDir, path);
        const { sha256, bytes } = await digestFile(local);
        try {
          await store.upload(local, keyPrefix + path);
        } catch (err) {
          throw new StorageError(`uploading ${local} to ${store.url}/${keyPrefix}${path} failed: ${errorMessage(err)}`, { cause: err });
        }
        const entry = { path, bytes, sha256 };
        onFile?.(entry);
        return entry;
      }),
    ),
  );
}

/**
 * Publishes a run: writes the manifest at `manifestKey` (create-only, never overwritten), then
 * points `_CURRENT` at it with a conditional write (If-Match on the etag read just before, or
 * If-None-Match when there is no `_CURRENT` yet).
 * @throws PreconditionFailedError when another publisher changed `_CURRENT` in between; the
 *   manifest is then written but not current. ZodError-derived errors never happen for manifests
 *   this writer built (the manifest is validated before anything is written).
 */
export async function publishManifest(store: ObjectStore, manifest: Manifest, manifestKey: string): Promise<CurrentPointer> {
  const valid = ManifestSchema.parse(manifest);
  await store.putIf(manifestKey, JSON.stringify(valid, null, 2), { ifNoneMatch: '*' });
  return movePointer(store, manifestKey, valid.run_id);
}

/**
 * Points `_CURRENT` at an existing manifest with a conditional write. The new pointer's `previous`
 * lists the run `_CURRENT` pointed to before and that pointer's own `previous` (newest first,
 * distinct manifests, not the new one, at most POINTER_HISTORY_DEPTH): the runs a cold reader may
 * fall back to (snapshot-loader.ts).
 * @param condition the write condition: by default If-Match on the etag `_CURRENT` has now (or
 *   If-None-Match when it does not exist); a caller that decided on an earlier read (rollback)
 *   passes that read's etag so a change since then fails.
 * @param action what the move is, for the error message (default: publishing the run).
 * @param prior the pointer read with `condition`'s etag (rollback); default: read here (a
 *   malformed or missing `_CURRENT` gives no history).
 * @throws PreconditionFailedError when `_CURRENT` changed before the write.
 */
export async function movePointer(
  store: ObjectStore,
  manifestKey: string,
  runId: string,
  condition?: PutCondition,
  action = `run ${runId} was being published; manifest ${manifestKey} is stored but not current`,
  prior?: CurrentPointer,
): Promise<CurrentPointer> {
  let when = condition;
  let before = prior;
  if (when === undefined) {
    const previous = await store.head(CURRENT_KEY);
    when = previous ? { ifMatch: previous.etag } : { ifNoneMatch: '*' };
    // Read after the head: if _CURRENT changes after it, the If-Match write below fails anyway.
    if (previous && before === undefined) before = await readPointerOrUndefined(store);
  } else if (before === undefined) {
    before = await readPointerOrUndefined(store);
  }
  const pointer: CurrentPointer = {
    format_version: CURRENT_FORMAT_VERSION,
    manifest_ref: manifestKey,
    run_id: runId,
    published_at: new Date().toISOString(),
    previous: pointerHistory(before, manifestKey),
  };
  try {
    await store.putIf(CURRENT_KEY, JSON.stringify(pointer, null, 2), when);
  } catch (err) {
    if (err instanceof PreconditionFailedError) {
      throw new PreconditionFailedError(CURRENT_KEY, `another publisher moved it while ${action}`);
    }
    throw err;
  }
  return pointer;
}

/**
 * The `previous` list of a pointer that replaces `before` and points at `manifestKey`: `before`
 * itself, then its own `previous`, without `manifestKey`, without repeats, newest first, at most
 * POINTER_HISTORY_DEPTH entries.
 */
export function pointerHistory(before: CurrentPointer | undefined, manifestKey: string): PublishedRun[] {
  if (before === undefined) return [];
  const entries: PublishedRun[] = [
    { manifest_ref: before.manifest_ref, run_id: before.run_id, published_at: before.published_at },
    ...(before.previous ?? []),
  ];
  const seen = new Set<string>([manifestKey]);
  const out: PublishedRun[] = [];
  for (const e of entries) {
    if (seen.has(e.manifest_ref)) continue;
    seen.add(e.manifest_ref);
    out.push(e);
    if (out.length === POINTER_HISTORY_DEPTH) break;
  }
  return out;
}

/** `_CURRENT` parsed, or undefined when it is missing or malformed (it then gives no history). */
async function readPointerOrUndefined(store: ObjectStore): Promise<CurrentPointer | undefined> {
  try {
    return parseCurrentPointer(await getPointerBytes(store));
  } catch (err) {
    if (err instanceof ObjectNotFoundError || err instanceof ManifestParseError) return undefined;
    throw err;
  }
}
