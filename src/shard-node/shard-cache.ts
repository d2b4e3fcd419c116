/**
 * The shard node's local cache of shard files: `<cache-dir>/<run_id>/db=00007/...`.
 *
 * A shard is downloaded into a temporary folder, every file is checked against the manifest's byte
 * size and sha256, and only then is the folder renamed into place; a shard already in the cache is
 * re-verified before use (a damaged copy is deleted and downloaded again). A shard whose files do
 * not match is never opened.
 *
 * This module only handles files; which shards stay cached (the byte budget, eviction) is
 * `shard-lease-cache.ts`'s job.
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { digestFile } from '../common/file-digest.ts';
import { ShardIntegrityError, ObjectNotFoundError, ObjectTooLargeError, ReaderStateError, StorageError, errorMessage } from '../common/errors.ts';
import { shardDirName, type ShardEntry } from '../common/manifest.ts';
import type { ObjectStore } from '../common/storage/object-store.ts';
import { oversizedFileError } from '../common/verified-shard-file.ts';

/** Result of making a shard available locally. */
export interface CachedShard {
  /** Local folder holding the shard's files. */
  dir: string;
  /** True when the files were downloaded now, false when a verified cached copy was reused. */
  downloaded: boolean;
  /** Total bytes of the shard's files. */
  bytes: number;
}

/** Total bytes of a shard's files, per the manifest. */
export function shardBytes(shard: ShardEntry): number {
  return shard.files.reduce((s, f) => s + f.bytes, 0);
}

/**
 * The cache folder of run `runId`: `<cacheDir>/<runId>`.
 * @throws ReaderStateError when the run id is `.` or `..` (the manifest schema allows the
 *   characters; as a folder name they would escape the cache).
 */
export function runCacheDir(cacheDir: string, runId: string): string {
  if (runId === '.' || runId === '..') throw new ReaderStateError(`run id ${JSON.stringify(runId)} cannot name a cache folder`);
  return join(cacheDir, runId);
}

/** The cache folder of shard `dbId` of run `runId`: `<cacheDir>/<runId>/db=00007`. */
export function shardCacheDir(cacheDir: string, runId: string, dbId: number): string {
  return join(runCacheDir(cacheDir, runId), shardDirName(dbId));
}

/** A cached shard folder or a download leftover (`.tmp-db=00007-<hex>`). */
const SHARD_ENTRY = /^(?:\.tmp-)?db=\d{5,}(?:-[0-9a-f]+)?$/;

/**
 * Removes leftovers from the cache: every run folder below `cacheDir` whose run is not a key of
 * `keep`, and, for a run mapped to a set of db ids, every shard folder not in the set plus
 * download leftovers (`'all'` keeps the run folder as it is: use it for runs with loads in
 * flight). Only folders that look like the cache's own (a run folder holding nothing but
 * `db=NNNNN` / `.tmp-db=...` entries) are touched, so a mistaken `--cache-dir` never loses
 * unrelated files. A missing `cacheDir` is not an error.
 * @returns the removed paths.
 */
export async function pruneCache(cacheDir: string, keep: ReadonlyMap<string, ReadonlySet<number> | 'all'>): Promise<string[]> {
  const removed: string[] = [];
  let runs: string[];
  try {
    runs = await readdir(cacheDir);
  } catch {
    return removed;
  }
  for (const runId of runs) {
    const kept = keep.get(runId);
    if (kept === 'all') continue;
    const runDir = join(cacheDir, runId);
    let entries: string[];
    try {
      if (!(await stat(runDir)).isDirectory()) continue;
      entries = await readdir(runDir);
    } catch {
      continue;
    }
    if (!entries.every((e) => SHARD_ENTRY.test(e))) continue;
    if (kept === undefined) {
      await rm(runDir, { recursive: true, force: true });
      removed.push(runDir);
      continue;
    }
    for (const entry of entries) {
      const m = /^db=(\d+)$/.exec(entry);
      if (m !== null && kept.has(Number(m[1]))) continue;
      await rm(join(runDir, entry), { recursive: true, force: true });
      removed.push(join(runDir, entry));
    }
  }
  return removed;
}

/**
 * Checks every file of `shard` in `dir` against the manifest: size and sha256, or the size alone
 * when the manifest records no sha256 (a shardyfusion snapshot: stat only, no read).
 */
async function verifyFiles(dir: string, shard: ShardEntry, runId: string): Promise<void> {
  for (const file of shard.files) {
    const local = join(dir, file.path);
    if (file.sha256 === undefined) {
      const { size } = await stat(local);
      if (size !== file.bytes) {
        throw new ShardIntegrityError(`shard ${shard.db_id} of run ${runId}: file ${shard.url}${file.path} is ${size} bytes but the manifest says ${file.bytes} bytes (it records no sha256)`);
      }
      continue;
    }
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
 * Callers must not run two calls for the same shard at once (the lease cache's single-flight
 * guarantees it).
 * Each file is copied up to its manifest size + 1 byte, never more.
 * @throws ShardIntegrityError naming the shard and file when a file's size or sha256 differs;
 *   StorageError / ObjectNotFoundError naming the object when a download fails.
 */
export async function ensureShardCached(
  store: ObjectStore,
  cacheDir: string,
  runId: string,
  shard: ShardEntry,
): Promise<CachedShard> {
  const dir = shardCacheDir(cacheDir, runId, shard.db_id);
  const bytes = shardBytes(shard);
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
        // At most the manifest's size (+1 byte) is copied: the shard's bytes on disk never exceed
        // what the lease cache reserved for it against --max-cache-bytes.
        await store.download(shard.url + file.path, local, { maxBytes: file.bytes });
      } catch (err) {
        if (err instanceof ObjectTooLargeError) throw oversizedFileError(`shard ${shard.db_id} of run ${runId}: file ${shard.url}${file.path}`, err);
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

/** Deletes the cache folder of run `runId` (all its shards). A missing folder is not an error. */
export async function removeRunCache(cacheDir: string, runId: string): Promise<void> {
  await rm(runCacheDir(cacheDir, runId), { recursive: true, force: true });
}
