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
}

/** Condition for {@link ObjectStore.putIf}. */
export type PutCondition =
  /** Write only if the object does not exist (If-None-Match: *). */
  | { ifNoneMatch: '*' }
  /** Write only if the object's current etag equals this one (If-Match). */
  | { ifMatch: string };

/** A key/value object store bound to one prefix. Implementations: FileObjectStore, S3ObjectStore. */
export interface ObjectStore {
  /** The store URL this instance is bound to (`file:///abs/path` or `s3://bucket/prefix`). */
  readonly url: string;

  /**
   * Reads a whole object.
   * @throws ObjectNotFoundError when the key does not exist; StorageError on any other failure.
   */
  get(key: string): Promise<Buffer>;

  /**
   * Streams an object to a local file path (the parent folder must exist), without holding the
   * object in memory. Returns the number of bytes written.
   * @throws ObjectNotFoundError when the key does not exist; StorageError on any other failure.
   */
  download(key: string, localPath: string): Promise<number>;

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

  /** Metadata of one object, or `undefined` when it does not exist. @throws StorageError */
  head(key: string): Promise<ObjectInfo | undefined>;

  /**
   * Lists every object whose key starts with `prefix` (recursively), sorted by key ascending.
   * Handles pagination. @throws StorageError
   */
  list(prefix: string): Promise<ObjectInfo[]>;

  /** Deletes one object; deleting a missing object is not an error. @throws StorageError */
  delete(key: string): Promise<void>;

  /** Releases clients and sockets. */
  close(): Promise<void>;
}

/** Joins key segments with `/`, dropping empty segments and duplicate slashes. */
export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((p) => p.length > 0)
    .join('/');
}
