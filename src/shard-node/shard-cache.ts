/**
 * The shard node's local cache of shard files: `<cache-dir>/<run_id>/db=00007/...`.
 *
 * A shard is downloaded into a temporary folder, every file is checked against the manifest's byte
 * size and sha256, and only then is the folder renamed into place; a shard already in the cache is
 * re-verified before use. A shard whose files do not match is never opened.
 */
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { digestFile } from '../common/file-digest.ts';
import { ShardIntegrityError, ObjectNotFoundError, StorageError, errorMessage } from '../common/errors.ts';
import { shardDirName, type ShardEntry } from '../common/manifest.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';

/** Result of making a shard available locally. */
export interface CachedShard {
  /** Local folder holding the shard's files. */
  dir: string;
  /** True when the files were downloaded now, false when a verified cached copy was reused. */
  downloaded: boolean;
  /** Total bytes of the shard's files. */
  bytes: number;
}

async function verifyFiles(dir: string, shard: ShardEntry, runId: string): Promise<void> {
  for (const file of shard.files) {
    const local = join(dir, file.path);
    const { sha256, bytes } = await digestFile(local);
    if (bytes !== file.bytes || sha256 !== file.sha256) {
      throw new ShardIntegrityError(
        `shard ${shard.db_id} of run ${runId}: file ${shard.url}${file.path} has sha256 ${sha256} (${bytes} bytes) but the manifest says ${file.sha256} (${file.bytes} bytes)`,
      );
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes `shard` of run `runId` available under `cacheDir`, downloading and verifying as needed.
 * @throws ShardIntegrityError naming the shard and file when a file's size or sha256 differs;
 *   StorageError / ObjectNotFoundError naming the object when a download fails.
 */
export async function ensureShardCached(
  store: ObjectStore,
  cacheDir: string,
  runId: string,
  shard: ShardEntry,
): Promise<CachedShard> {
  const dir = join(cacheDir, runId, shardDirName(shard.db_id));
  const bytes = shard.files.reduce((s, f) => s + f.bytes, 0);
  if (await exists(dir)) {
    try {
      await verifyFiles(dir, shard, runId);
      return { dir, downloaded: false, bytes };
    } catch {
      await rm(dir, { recursive: true, force: true }); // stale or damaged copy: fetch again
    }
  }
  const tmp = join(cacheDir, runId, `.tmp-${shardDirName(shard.db_id)}-${randomBytes(4).toString('hex')}`);
  try {
    for (const file of shard.files) {
      const local = join(tmp, file.path);
      await mkdir(dirname(local), { recursive: true });
      try {
        await store.download(shard.url + file.path, local);
      } catch (err) {
        if (err instanceof ObjectNotFoundError) {
          throw new StorageError(`shard ${shard.db_id} of run ${runId}: file ${shard.url}${file.path} is missing from ${store.url}`);
        }
        throw new StorageError(`shard ${shard.db_id} of run ${runId}: downloading ${shard.url}${file.path} failed: ${errorMessage(err)}`, {
          cause: err,
        });
      }
    }
    await verifyFiles(tmp, shard, runId);
    await rename(tmp, dir);
    return { dir, downloaded: true, bytes };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
