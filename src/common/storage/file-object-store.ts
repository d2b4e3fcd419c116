/**
 * `file://` backend of {@link ObjectStore}: objects are plain files below one root folder.
 *
 * - Writes are atomic: the body goes to a temp file in the target folder, is fsynced, then renamed
 *   over the key's path, so readers see either the old or the new content, never a mix.
 * - `putIf` is safe across processes: it holds an exclusive lock file (created with `O_EXCL`)
 *   while it checks the condition and renames. A lock older than 30 s is treated as abandoned.
 * - etag = hex sha256 of the content. It is cached per (inode, size, mtime, ctime), which is
 *   sound because every write renames a fresh inode into place; `putIf` always re-hashes.
 * - Temp and lock files contain the marker `.~sf-` in their name; `list` never returns them and
 *   keys containing the marker are rejected.
 * - Folders are created on demand and never removed (empty folders are invisible to `list`). As
 *   on any filesystem, `a` and `a/b` cannot both be objects (S3 allows it).
 * - Objects are regular files inside the root. A key whose path resolves (through symbolic links)
 *   outside the root's real path, or to a FIFO, device or socket, is refused by `get` /
 *   `download` with a StorageError saying why, and is invisible to `head` / `list` (symbolic
 *   links that stay inside the root are followed). Files are opened with O_NONBLOCK and checked
 *   with fstat on the opened descriptor, so a FIFO never blocks a libuv thread, and reads stop at
 *   the caller's byte limit (ReadLimits).
 */
import { createHash, randomUUID } from 'node:crypto';
import { constants as fsConstants, type Stats } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { ConfigValidationError, ObjectNotFoundError, ObjectTooLargeError, PreconditionFailedError, StorageError, errorMessage } from '../errors.ts';
import { assertValidMaxBytes, copyStreamAtMost, readStreamAtMost } from './bounded-read.ts';
import {
  DEFAULT_MAX_GET_BYTES,
  INTERNAL_MARK,
  assertChildListing,
  assertValidKey,
  assertValidRange,
  assertValidPrefix,
  compareKeys,
  objectKeyProblem,
  type ChildPrefixListing,
  type ListOptions,
  type ObjectInfo,
  type ObjectStore,
  type PutCondition,
  type ReadLimits,
} from './object-store.ts';

/** How long `putIf` waits for the lock before giving up, in milliseconds. */
const LOCK_TIMEOUT_MS = 10_000;
/** A lock file whose mtime is older than this (milliseconds) is considered abandoned. */
const LOCK_STALE_MS = 30_000;
/** Maximum number of cached etags per store instance (the cache is cleared when exceeded). */
const ETAG_CACHE_LIMIT = 100_000;
/** How many files `list` opens at once to compute etags. */
const LIST_CONCURRENCY = 16;
/**
 * Flags every object is opened with for reading: O_NOFOLLOW (the path given is already the real
 * path, so a symbolic link there means it was swapped in since: refused) and O_NONBLOCK (opening
 * a FIFO returns at once instead of blocking a libuv thread until a writer appears; regular file
 * reads ignore it). Both are 0 where the platform lacks them.
 */
const OBJECT_OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);
/** Read size of bounded whole-object reads and copies, bytes. */
const READ_CHUNK_BYTES = 1 << 20;

/** Outcome of opening a key's file: a regular file inside the root, absent, or refused (why). */
type OpenedObject = { kind: 'file'; fh: FileHandle; st: Stats } | { kind: 'missing' } | { kind: 'refused'; reason: string };


interface CachedEtag {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  etag: string;
}

/**
 * {@link ObjectStore} over a local folder.
 *
 * Construct with a `file:///abs/path` URL or a plain path (relative paths resolve against the
 * current working directory). The folder need not exist yet: writes create it, reads of a missing
 * folder behave as an empty store. Keys are validated by {@link assertValidKey}
 * (ConfigValidationError for `../x`, `/x`, ...).
 */
export class FileObjectStore implements ObjectStore {
  /** Absolute path of the root folder. */
  readonly root: string;
  /** `file:///abs/path` URL of the root folder. */
  readonly url: string;
  private readonly etagCache = new Map<string, CachedEtag>();

  /**
   * @param location `file:///abs/path` URL or a plain (relative or absolute) folder path.
   * @throws ConfigValidationError when the URL is not a valid local `file:` URL.
   */
  constructor(location: string) {
    if (location.length === 0) throw new ConfigValidationError('file object store: empty location');
    let root: string;
    if (location.startsWith('file:')) {
      try {
        root = fileURLToPath(location);
      } catch (err) {
        throw new ConfigValidationError(`invalid file URL ${JSON.stringify(location)}: ${errorMessage(err)}`);
      }
    } else {
      root = location;
    }
    this.root = path.resolve(root);
    this.url = pathToFileURL(this.root).href;
  }

  /** Absolute path of `key`'s file. @throws ConfigValidationError for an invalid key. */
  pathOf(key: string): string {
    assertValidKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  /**
   * @inheritdoc Opens the file safely (see the module comment), refuses it by its fstat size when
   * over `maxBytes`, then reads at most `maxBytes + 1` bytes (the file may grow meanwhile).
   */
  async get(key: string, limits?: ReadLimits): Promise<Buffer> {
    const maxBytes = limits?.maxBytes ?? DEFAULT_MAX_GET_BYTES;
    assertValidMaxBytes(maxBytes);
    const fh = await this.openForRead(key, 'read');
    try {
      const { size } = await fh.stat();
      if (size > maxBytes) throw new ObjectTooLargeError(key, maxBytes, size, this.url);
      const stream = fh.createReadStream({ start: 0, end: maxBytes, highWaterMark: READ_CHUNK_BYTES, autoClose: false });
      return await readStreamAtMost(stream, { key, storeUrl: this.url, maxBytes });
    } catch (err) {
      throw this.mapReadError(err, key, 'read');
    } finally {
      await fh.close();
    }
  }

  /**
   * @inheritdoc Opens the file safely (see the module comment), refuses it by its fstat size when
   * over `maxBytes`, then copies at most `maxBytes + 1` bytes from the opened descriptor.
   */
  async download(key: string, localPath: string, limits: ReadLimits): Promise<number> {
    assertValidMaxBytes(limits.maxBytes);
    const fh = await this.openForRead(key, `download to ${localPath}`);
    try {
      const { size } = await fh.stat();
      if (size > limits.maxBytes) throw new ObjectTooLargeError(key, limits.maxBytes, size, this.url);
      const stream = fh.createReadStream({ start: 0, end: limits.maxBytes, highWaterMark: READ_CHUNK_BYTES, autoClose: false });
      return await copyStreamAtMost(stream, localPath, { key, storeUrl: this.url, maxBytes: limits.maxBytes });
    } catch (err) {
      // ENOENT here comes from the destination's folder: the source is open.
      if (err instanceof StorageError) throw err;
      throw new StorageError(`download of ${key} to ${localPath} failed: ${errorMessage(err)}`, { cause: err });
    } finally {
      await fh.close();
    }
  }

  /** @inheritdoc One positioned read of the opened file (see the module comment). */
  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    assertValidRange(key, start, end);
    const fh = await this.openForRead(key, 'ranged read');
    try {
      const buf = Buffer.allocUnsafe(end - start);
      let filled = 0;
      while (filled < buf.length) {
        const { bytesRead } = await fh.read(buf, filled, buf.length - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === buf.length ? buf : buf.subarray(0, filled);
    } catch (err) {
      throw this.mapReadError(err, key, 'ranged read');
    } finally {
      await fh.close();
    }
  }

  /** @inheritdoc */
  async put(key: string, body: Buffer | string): Promise<void> {
    const file = this.pathOf(key);
    try {
      await writeAtomic(file, toBuffer(body));
    } catch (err) {
      throw new StorageError(`write of ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** @inheritdoc Copies `localPath` to a temp file beside the key, then renames it into place. */
  async upload(localPath: string, key: string): Promise<void> {
    const file = this.pathOf(key);
    const tmp = tempPathFor(file);
    try {
      await mkdir(path.dirname(file), { recursive: true });
      await copyFile(localPath, tmp);
      await rename(tmp, file);
    } catch (err) {
      await unlinkQuietly(tmp);
      throw new StorageError(`upload of ${localPath} to ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * @inheritdoc Takes `<file>.~sf-lock` (waits up to 10 s, breaks locks older than 30 s), checks
   * the condition against the current content's sha256, writes temp + rename, releases the lock.
   * @throws PreconditionFailedError when the condition does not hold; StorageError on I/O failure
   *   or lock timeout; ConfigValidationError for an invalid key.
   */
  async putIf(key: string, body: Buffer | string, condition: PutCondition): Promise<void> {
    const file = this.pathOf(key);
    const data = toBuffer(body);
    const lockPath = `${file}${INTERNAL_MARK}lock`;
    try {
      await mkdir(path.dirname(file), { recursive: true });
    } catch (err) {
      throw new StorageError(`conditional write of ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
    const token = await acquireLock(lockPath, key);
    try {
      const current = await this.currentEtag(key);
      if ('ifNoneMatch' in condition) {
        if (current !== undefined) throw new PreconditionFailedError(key);
      } else if (current === undefined || current !== condition.ifMatch) {
        throw new PreconditionFailedError(key);
      }
      await writeAtomic(file, data);
    } catch (err) {
      if (err instanceof PreconditionFailedError || err instanceof StorageError) throw err;
      throw new StorageError(`conditional write of ${key} failed: ${errorMessage(err)}`, { cause: err });
    } finally {
      await releaseLock(lockPath, token);
    }
  }

  /** @inheritdoc */
  async head(key: string): Promise<ObjectInfo | undefined> {
    return this.infoOf(this.pathOf(key), key);
  }

  /** @inheritdoc Walks the folder that contains `prefix`; keys are sorted by UTF-8 bytes. */
  async list(prefix: string, options: ListOptions = {}): Promise<ObjectInfo[]> {
    assertValidPrefix(prefix);
    const lastSlash = prefix.lastIndexOf('/');
    const dirKey = lastSlash < 0 ? '' : prefix.slice(0, lastSlash);
    const startDir = dirKey === '' ? this.root : path.join(this.root, ...dirKey.split('/'));
    const keys: string[] = [];
    try {
      const rootReal = await realpathIfExists(this.root);
      if (rootReal !== undefined) await walkFiles({ rootReal, prefix, out: keys, visited: new Set([rootReal]) }, startDir, dirKey);
    } catch (err) {
      throw new StorageError(`list of ${JSON.stringify(prefix)} under ${this.url} failed: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    keys.sort(compareKeys);
    const infos = await mapLimit(keys, LIST_CONCURRENCY, (k) => this.infoOf(path.join(this.root, ...k.split('/')), k, options.etags ?? true));
    // A file deleted between the walk and the stat is simply not listed.
    return infos.filter((i): i is ObjectInfo => i !== undefined);
  }

  /**
   * @inheritdoc One `readdir` of the prefix's folder: its sub-folders (and symbolic links to
   * folders inside the root), never files or temp/lock entries.
   */
  async listChildPrefixes(prefix: string, maxNames: number): Promise<ChildPrefixListing> {
    assertChildListing(prefix, maxNames);
    const dir = prefix === '' ? this.root : path.join(this.root, ...prefix.slice(0, -1).split('/'));
    const names: string[] = [];
    try {
      const rootReal = await realpathIfExists(this.root);
      if (rootReal === undefined) return { names: [], truncated: false };
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return { names: [], truncated: false };
        throw err;
      }
      for (const e of entries) {
        if (e.name.includes(INTERNAL_MARK) || objectKeyProblem(e.name) !== undefined) continue;
        let isDir = e.isDirectory();
        if (e.isSymbolicLink()) {
          const target = await realpathIfExists(path.join(dir, e.name));
          isDir = target !== undefined && isInside(rootReal, target) && (await statIfExists(target))?.isDirectory() === true;
        }
        if (isDir) names.push(e.name);
      }
    } catch (err) {
      throw new StorageError(`listing the folders of ${JSON.stringify(prefix)} under ${this.url} failed: ${errorMessage(err)}`, { cause: err });
    }
    names.sort(compareKeys);
    return { names: names.slice(0, maxNames), truncated: names.length > maxNames };
  }

  /** @inheritdoc */
  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    try {
      await unlink(file);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'EISDIR')) return;
      throw new StorageError(`delete of ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** @inheritdoc Nothing to release. */
  async close(): Promise<void> {}

  /**
   * @inheritdoc `store folder <root> does not exist` when the root folder (or a folder above it)
   * is missing, `store path <root> is not a folder` when it is a file; undefined otherwise (also
   * when it cannot be checked, e.g. permission denied: the next read reports that).
   */
  async rootProblem(): Promise<string | undefined> {
    try {
      if (!(await stat(this.root)).isDirectory()) return `store path ${this.root} is not a folder`;
      return undefined;
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return `store folder ${this.root} does not exist`;
      return undefined;
    }
  }

  /**
   * Opens `key`'s file for reading when it is a regular file inside the root: resolves its real
   * path (symbolic links inside the root are followed), checks that path is below the root's
   * real path, opens it with O_NOFOLLOW | O_NONBLOCK and fstats the descriptor. The caller closes
   * `fh`.
   * @throws ConfigValidationError for an invalid key; StorageError when the file system fails.
   */
  private async openObject(key: string, op: string): Promise<OpenedObject> {
    const file = this.pathOf(key);
    let real: string;
    let rootReal: string;
    try {
      real = await realpath(file);
      rootReal = await realpath(this.root);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return { kind: 'missing' };
      if (isErrno(err, 'ELOOP')) return { kind: 'refused', reason: `${file} is a loop of symbolic links` };
      throw new StorageError(`${op} of ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
    if (!isInside(rootReal, real)) {
      return { kind: 'refused', reason: `${file} is a symbolic link to ${real}, outside the store root ${rootReal}; links out of the store are not followed` };
    }
    let fh: FileHandle;
    try {
      fh = await open(real, OBJECT_OPEN_FLAGS);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return { kind: 'missing' };
      if (isErrno(err, 'ELOOP')) return { kind: 'refused', reason: `${file} became a symbolic link while it was opened` };
      if (isErrno(err, 'ENXIO')) return { kind: 'refused', reason: `${file} is a socket, not a regular file` };
      throw new StorageError(`${op} of ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
    let st: Stats;
    try {
      st = await fh.stat();
    } catch (err) {
      await fh.close();
      throw new StorageError(`${op} of ${key} failed: ${errorMessage(err)}`, { cause: err });
    }
    if (st.isFile()) return { kind: 'file', fh, st };
    await fh.close();
    if (st.isDirectory()) return { kind: 'missing' }; // a folder holds objects; it is not one
    return { kind: 'refused', reason: `${file} is ${fileKind(st)}, not a regular file; a store object must be a regular file` };
  }

  /**
   * {@link openObject} for get / download: the open handle of a regular file inside the root.
   * @throws ObjectNotFoundError when absent; StorageError naming the key and why it is refused.
   */
  private async openForRead(key: string, op: string): Promise<FileHandle> {
    const opened = await this.openObject(key, op);
    if (opened.kind === 'missing') throw new ObjectNotFoundError(key);
    if (opened.kind === 'refused') throw new StorageError(`store object refused: ${opened.reason}`);
    return opened.fh;
  }

  /**
   * Size and (cached) sha256 of `key`'s file, or undefined when it is not a regular file inside
   * the root (absent, a folder, a FIFO / device / socket, a symbolic link out of the root).
   */
  private async infoOf(file: string, key: string, etag = true): Promise<ObjectInfo | undefined> {
    const opened = await this.openObject(key, 'head');
    if (opened.kind !== 'file') return undefined;
    const { fh, st } = opened;
    if (!etag) {
      await fh.close();
      return { key, size: st.size, etag: '', lastModified: st.mtime };
    }
    try {
      // fstat + read through one handle: the hash always belongs to the inode that was stat'ed.
      const cached = this.etagCache.get(file);
      if (cached !== undefined && sameVersion(cached, st)) return { key, size: st.size, etag: cached.etag, lastModified: st.mtime };
      const etag = await hashHandle(fh);
      if (this.etagCache.size >= ETAG_CACHE_LIMIT) this.etagCache.clear();
      this.etagCache.set(file, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, etag });
      return { key, size: st.size, etag, lastModified: st.mtime };
    } catch (err) {
      throw new StorageError(`head of ${key} failed: ${errorMessage(err)}`, { cause: err });
    } finally {
      await fh.close();
    }
  }

  private mapReadError(err: unknown, key: string, what: string): Error {
    if (err instanceof StorageError || err instanceof ObjectNotFoundError) return err;
    return new StorageError(`${what} of ${key} failed: ${errorMessage(err)}`, { cause: err });
  }

  /**
   * sha256 of `key`'s current content (streamed), or undefined when there is none.
   * @throws StorageError when the key's file is refused (see {@link openObject}) or unreadable.
   */
  private async currentEtag(key: string): Promise<string | undefined> {
    const opened = await this.openObject(key, 'conditional write');
    if (opened.kind === 'missing') return undefined;
    if (opened.kind === 'refused') throw new StorageError(`conditional write of ${key}: store object refused: ${opened.reason}`);
    try {
      return await hashHandle(opened.fh);
    } finally {
      await opened.fh.close();
    }
  }
}

function sameVersion(c: CachedEtag, st: Stats): boolean {
  return c.ino === st.ino && c.size === st.size && c.mtimeMs === st.mtimeMs && c.ctimeMs === st.ctimeMs;
}

function toBuffer(body: Buffer | string): Buffer {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

async function hashHandle(fh: FileHandle): Promise<string> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  let position = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, position);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    position += bytesRead;
  }
  return hash.digest('hex');
}

function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}${INTERNAL_MARK}tmp-${randomUUID()}`);
}

/** Writes `data` to a temp file beside `file`, fsyncs it and renames it over `file`. */
async function writeAtomic(file: string, data: Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlinkQuietly(tmp);
    throw err;
  }
}

/** True when `p` is `root` or below it (both real, absolute paths). */
function isInside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/** `a FIFO`, `a character device`, ... for messages about non-regular files. */
function fileKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a folder';
  return 'not a regular file';
}

/**
 * Creates `lockPath` exclusively, retrying every 10–40 ms for up to {@link LOCK_TIMEOUT_MS}.
 * Returns the token written into the lock (checked on release).
 */
async function acquireLock(lockPath: string, key: string): Promise<string> {
  const token = `${process.pid} ${randomUUID()}`;
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      await writeFile(lockPath, token, { flag: 'wx' });
      return token;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) {
        throw new StorageError(`conditional write of ${key}: cannot create lock ${lockPath}: ${errorMessage(err)}`, {
          cause: err,
        });
      }
    }
    await breakIfStale(lockPath);
    if (Date.now() > deadline) {
      throw new StorageError(
        `conditional write of ${key}: timed out after ${LOCK_TIMEOUT_MS / 1000} s waiting for lock ${lockPath}`,
      );
    }
    await sleep(10 + Math.random() * 30);
  }
}

/**
 * Removes `lockPath` when it is older than {@link LOCK_STALE_MS}. Two processes may see the same
 * stale lock; a second exclusive "breaker" file makes sure only one removes it, and the re-check
 * of the inode under the breaker makes sure a fresh lock taken meanwhile is never removed.
 */
async function breakIfStale(lockPath: string): Promise<void> {
  const first = await statIfExists(lockPath);
  if (first === undefined || Date.now() - first.mtimeMs < LOCK_STALE_MS) return;
  const breaker = `${lockPath}-break`;
  try {
    await writeFile(breaker, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    const b = await statIfExists(breaker);
    if (b !== undefined && Date.now() - b.mtimeMs >= LOCK_STALE_MS) await unlinkQuietly(breaker);
    return;
  }
  try {
    const again = await statIfExists(lockPath);
    if (again !== undefined && again.ino === first.ino && Date.now() - again.mtimeMs >= LOCK_STALE_MS) {
      await unlinkQuietly(lockPath);
    }
  } finally {
    await unlinkQuietly(breaker);
  }
}

/** Removes the lock only if it still holds our token (it may have been broken as stale). */
async function releaseLock(lockPath: string, token: string): Promise<void> {
  try {
    if ((await readFile(lockPath, 'utf8')) === token) await unlink(lockPath);
  } catch {
    // Already gone (broken as stale): nothing to release.
  }
}

/** State of one `list` walk: the root's real path, the prefix, the keys found, folders entered. */
interface Walk {
  rootReal: string;
  prefix: string;
  out: string[];
  /** Real paths of the folders entered (a symbolic link back to one is not entered again). */
  visited: Set<string>;
}

/**
 * Collects the keys of the regular files below `dir` that start with the walk's prefix. Symbolic
 * links are followed only when their target is inside the root (and a folder at most once);
 * FIFOs, devices and sockets are skipped.
 */
async function walkFiles(walk: Walk, dir: string, dirKey: string): Promise<void> {
  const { prefix, out } = walk;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
    throw err;
  }
  for (const e of entries) {
    if (e.name.includes(INTERNAL_MARK)) continue;
    const key = dirKey === '' ? e.name : `${dirKey}/${e.name}`;
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      const target = await realpathIfExists(path.join(dir, e.name));
      const st = target === undefined || !isInside(walk.rootReal, target) ? undefined : await statIfExists(target);
      isDir = st?.isDirectory() === true && target !== undefined && !walk.visited.has(target);
      isFile = st?.isFile() ?? false;
      if (isDir && target !== undefined) walk.visited.add(target);
    }
    if (isDir) {
      // Descend only where keys can still match the prefix.
      const asDir = `${key}/`;
      if (asDir.startsWith(prefix) || prefix.startsWith(asDir)) await walkFiles(walk, path.join(dir, e.name), key);
    } else if (isFile && key.startsWith(prefix)) {
      out.push(key);
    }
  }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Real path of `p`, or undefined when it (or a link on the way) does not resolve. */
async function realpathIfExists(p: string): Promise<string | undefined> {
  try {
    return await realpath(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR') || isErrno(err, 'ELOOP')) return undefined;
    throw err;
  }
}

async function statIfExists(p: string): Promise<Stats | undefined> {
  try {
    return await stat(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

async function unlinkQuietly(p: string): Promise<void> {
  try {
    await unlink(p);
  } catch {
    // best effort
  }
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}
