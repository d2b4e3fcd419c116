import { ConfigValidationError } from '../errors.ts';

/**
 * The object store abstraction: one interface, two backends (`file://` folder and `s3://`).
 *
 * Keys are `/`-separated paths relative to the store's root (the URL's prefix); they never start
 * with `/`. A store is bound to one prefix, e.g. `s3://bucket/snapshots/embeddings` or
 * `file:///var/data/snap`, and every key is resolved below it.
 */

/** Metadata of one stored object. */
export interface ObjectInfo {
  /** Key relative to the store root. */
  key: string;
  /** Size in bytes. */
  size: number;
  /**
   * Opaque version tag used for conditional writes. On S3 the ETag (quotes kept as S3 returns
   * them); on `file://` a hex sha256 of the content.
   */
  etag: string;
  /** Last modification time (S3 LastModified; file mtime). */
  lastModified: Date;
}

/** Options of {@link ObjectStore.list}. */
export interface ListOptions {
  /** Whether each entry needs its etag (default true); false lists sizes only where that is cheaper. */
  etags?: boolean;
}

/** Answer of {@link ObjectStore.listChildPrefixes}. */
export interface ChildPrefixListing {
  /** Names of the child "folders" (one key segment each, no `/`), sorted by UTF-8 bytes; at most the asked-for count. */
  names: string[];
  /** Whether more children exist than `names` holds. */
  truncated: boolean;
}

/** Most child names one {@link ObjectStore.listChildPrefixes} call may ask for. */
export const MAX_CHILD_PREFIXES = 10_000;

/** Condition for {@link ObjectStore.putIf}. */
export type PutCondition =
  /** Write only if the object does not exist (If-None-Match: *). */
  | { ifNoneMatch: '*' }
  /** Write only if the object's current etag equals this one (If-Match). */
  | { ifMatch: string };

/**
 * Bound of one read ({@link ObjectStore.get}, {@link ObjectStore.download}): the object's largest
 * accepted size. Readers pass the manifest's size where the manifest lists the object, a fixed
 * cap otherwise (see store-read-limits.ts).
 */
export interface ReadLimits {
  /**
   * Largest accepted object, bytes (a non-negative integer). A larger object is an
   * ObjectTooLargeError: refused before reading when the backend knows its size (fstat,
   * Content-Length), otherwise once `maxBytes + 1` bytes arrived; never read or written past that.
   */
  maxBytes: number;
}

/**
 * `maxBytes` of a {@link ObjectStore.get} that gives none: 64 MiB. Whole-object reads are held in
 * memory, so none is unbounded; callers that know the object's size pass it instead.
 */
export const DEFAULT_MAX_GET_BYTES = 64 * 2 ** 20;

/**
 * A key/value object store bound to one prefix. Implementations: FileObjectStore, S3ObjectStore.
 *
 * Reads are bounded ({@link ReadLimits}). On `file://`, an object is a regular file inside the
 * root: a symbolic link that resolves outside the root, a FIFO, a device or a socket is refused
 * by get / download (StorageError saying why) and invisible to head / list, and opening one
 * never blocks.
 */
export interface ObjectStore {
  /** The store URL this instance is bound to (`file:///abs/path` or `s3://bucket/prefix`). */
  readonly url: string;

  /**
   * Reads a whole object of at most `limits.maxBytes` bytes (default {@link DEFAULT_MAX_GET_BYTES}).
   * @throws ObjectNotFoundError when the key does not exist; ObjectTooLargeError when it is larger
   *   than `maxBytes`; StorageError on any other failure (also: not a regular file, or a symlink
   *   out of a `file://` root).
   */
  get(key: string, limits?: ReadLimits): Promise<Buffer>;

  /**
   * Streams an object of at most `limits.maxBytes` bytes to a local file path (the parent folder
   * must exist), without holding it in memory. Returns the number of bytes written. A refused or
   * failed download leaves no file at `localPath`.
   * @throws ObjectNotFoundError when the key does not exist; ObjectTooLargeError when it is larger
   *   than `maxBytes` (at most `maxBytes + 1` bytes were copied, and removed); StorageError on any
   *   other failure.
   */
  download(key: string, localPath: string, limits: ReadLimits): Promise<number>;

  /**
   * Writes a whole object, replacing any existing one. On `file://` the write is atomic
   * (temp file + rename); on S3 a PUT is atomic.
   * @throws StorageError
   */
  put(key: string, body: Buffer | string): Promise<void>;

  /** Uploads a local file (streamed) to `key`. @throws StorageError */
  upload(localPath: string, key: string): Promise<void>;

  /**
   * Conditional write: `ifNoneMatch: '*'` creates only if absent; `ifMatch` replaces only if the
   * current etag matches. Atomic with respect to other writers using putIf.
   * @throws PreconditionFailedError when the condition does not hold; StorageError otherwise.
   */
  putIf(key: string, body: Buffer | string, condition: PutCondition): Promise<void>;

  /**
   * Optional: reads bytes `[start, end)` of an object (one ranged GET on S3, a positioned read on
   * `file://`), so a reader can fetch a Parquet footer or one row group without the whole object.
   * `0 <= start <= end`; bytes past the object's end are not returned (the result may be shorter).
   * @throws ObjectNotFoundError when the key does not exist; ConfigValidationError for a bad range
   *   or a range over {@link DEFAULT_MAX_GET_BYTES} x 4 (256 MiB); StorageError otherwise.
   */
  getRange?(key: string, start: number, end: number): Promise<Buffer>;

  /** Metadata of one object, or `undefined` when it does not exist. @throws StorageError */
  head(key: string): Promise<ObjectInfo | undefined>;

  /**
   * Lists every object whose key starts with `prefix` (recursively), sorted by key ascending.
   * Handles pagination. With `options.etags` false a store may leave `etag` empty ('') where
   * computing it costs a read of the object (the `file://` store hashes content); sizes are
   * always exact. @throws StorageError
   */
  list(prefix: string, options?: ListOptions): Promise<ObjectInfo[]>;

  /**
   * Optional (both real stores have it): the child prefixes ("folders") directly below `prefix`
   * (`''` = the store root, else a prefix ending in `/`), without listing the objects inside them:
   * one delimiter listing on S3 (ListObjectsV2 with `Delimiter: '/'`, paginated, reading only as
   * many pages as `maxNames` needs), one `readdir` on `file://` (folders only; symbolic links to
   * folders inside the root count, temp/lock entries never). Returns the first `maxNames` names in
   * UTF-8 byte order and whether more exist.
   * @throws ConfigValidationError for an invalid prefix (see {@link assertValidPrefix}, and it must
   *   be `''` or end with `/`) or a `maxNames` outside 1..{@link MAX_CHILD_PREFIXES};
   *   StorageError on a failed listing. A missing prefix lists nothing.
   */
  listChildPrefixes?(prefix: string, maxNames: number): Promise<ChildPrefixListing>;

  /** Deletes one object; deleting a missing object is not an error. @throws StorageError */
  delete(key: string): Promise<void>;

  /** Releases clients and sockets. */
  close(): Promise<void>;

  /**
   * Optional (one cheap check, no objects read): why the store's root cannot hold a snapshot at
   * all, e.g. `store folder /no/such/store does not exist`, so that readers can tell a wrong or
   * not yet mounted `--store` from an empty store. Undefined when the root exists, or when the
   * backend cannot tell (S3 does not implement it). Never throws: an error that is not about
   * the root's existence is left to the next real operation to report.
   */
  rootProblem?(): Promise<string | undefined>;
}

/** Largest range one {@link ObjectStore.getRange} call may ask for: 256 MiB. */
export const MAX_RANGE_BYTES = 4 * DEFAULT_MAX_GET_BYTES;

/**
 * Checks a {@link ObjectStore.getRange} range.
 * @throws ConfigValidationError naming the key for a negative, non-integer, reversed or over-large range.
 */
export function assertValidRange(key: string, start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end - start > MAX_RANGE_BYTES) {
    throw new ConfigValidationError(`invalid byte range [${start}, ${end}) of ${key}: expected 0 <= start <= end, at most ${MAX_RANGE_BYTES} bytes`);
  }
}

/**
 * Checks the arguments of {@link ObjectStore.listChildPrefixes}.
 * @throws ConfigValidationError naming the prefix or the count.
 */
export function assertChildListing(prefix: string, maxNames: number): void {
  assertValidPrefix(prefix);
  if (prefix !== '' && !prefix.endsWith('/')) throw new ConfigValidationError(`invalid child-prefix listing of ${JSON.stringify(prefix)}: the prefix must be empty or end with "/"`);
  if (!Number.isSafeInteger(maxNames) || maxNames < 1 || maxNames > MAX_CHILD_PREFIXES) {
    throw new ConfigValidationError(`invalid child-prefix listing of ${JSON.stringify(prefix)}: maxNames must be an integer in 1..${MAX_CHILD_PREFIXES}, got ${maxNames}`);
  }
}

/** Marker in the names of the file store's internal temp and lock files; never valid in a key. */
export const INTERNAL_MARK = '.~sf-';

/**
 * Checks that `key` is a valid object key: non-empty, `/`-separated, not starting with `/`, with
 * no empty, `.` or `..` segments, no backslash or NUL, and no internal-file marker (`.~sf-`).
 * Shared by both backends so a key valid on one is valid on the other.
 * @throws ConfigValidationError naming the key.
 */
export function assertValidKey(key: string): void {
  const problem = objectKeyProblem(key, false);
  if (problem !== undefined) throw new ConfigValidationError(`invalid object key ${JSON.stringify(key)}: ${problem}`);
}

/**
 * Checks a `list` prefix: like {@link assertValidKey} but may be empty and may end with `/`.
 * @throws ConfigValidationError naming the prefix.
 */
export function assertValidPrefix(prefix: string): void {
  const problem = objectKeyProblem(prefix, true);
  if (problem !== undefined) throw new ConfigValidationError(`invalid list prefix ${JSON.stringify(prefix)}: ${problem}`);
}

/**
 * Why `key` is not a valid object key (see {@link assertValidKey}), or undefined when it is.
 * `isPrefix` allows an empty key and a trailing `/`.
 */
export function objectKeyProblem(key: string, isPrefix = false): string | undefined {
  if (key.length === 0) return isPrefix ? undefined : 'empty key';
  if (key.startsWith('/')) return 'must not start with "/"';
  if (key.includes('\\') || key.includes('\0')) return 'must not contain "\\" or NUL';
  if (key.includes(INTERNAL_MARK)) return `must not contain "${INTERNAL_MARK}" (reserved for temp/lock files)`;
  const segments = key.split('/');
  if (isPrefix && segments[segments.length - 1] === '') segments.pop();
  for (const s of segments) {
    if (s === '..' || s === '.') return `must not contain "${s}" segments`;
    if (s === '') return 'must not contain empty segments ("//")';
  }
  return undefined;
}

/** Compares strings by UTF-8 bytes, the order S3 lists keys in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
