/**
 * Picks the {@link ObjectStore} backend for a store URL.
 */
import { ConfigValidationError } from '../errors.ts';
import { FileObjectStore } from './file-object-store.ts';
import type { ObjectStore } from './object-store.ts';
import { S3ObjectStore } from './s3-object-store.ts';
import type { S3ConnectionOptions } from './s3-object-store.ts';

export type { S3ConnectionOptions } from './s3-object-store.ts';

/** Matches a leading URL scheme such as `s3://`, `file:`, `gs://`. */
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

/**
 * Opens the store a URL names:
 * - `s3://bucket` or `s3://bucket/some/prefix` -> {@link S3ObjectStore} (trailing `/` ignored),
 *   connected with `s3` (fields not given come from the AWS environment);
 * - `file:///abs/path` or a plain relative/absolute path -> {@link FileObjectStore} (relative
 *   paths resolve against the current working directory); `s3` is ignored.
 * No I/O happens here; a missing folder or bucket shows up on first use.
 * @throws ConfigValidationError for an empty URL, an unknown scheme (`gs://`, `http://`, ...),
 *   an `s3://` URL without a bucket, or an invalid prefix / file URL; the message names the URL.
 */
export function openObjectStore(url: string, s3?: S3ConnectionOptions): ObjectStore {
  if (url.trim() === '') throw new ConfigValidationError('object store URL is empty');
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase();
  // A one-letter "scheme" is a Windows drive letter (`C:\data`), i.e. a plain path.
  if (scheme === undefined || (scheme.length === 1 && !url.includes('://'))) return new FileObjectStore(url);
  if (scheme === 'file') return new FileObjectStore(url);
  if (scheme === 's3') {
    const m = /^s3:\/\/([^/?#]+)(?:\/([^?#]*))?$/i.exec(url);
    if (m === null) throw new ConfigValidationError(`invalid S3 URL ${JSON.stringify(url)}: expected s3://bucket/prefix`);
    try {
      return new S3ObjectStore({ bucket: m[1], prefix: m[2] ?? '', connection: s3 });
    } catch (err) {
      if (err instanceof ConfigValidationError) {
        throw new ConfigValidationError(`invalid S3 URL ${JSON.stringify(url)}: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }
  throw new ConfigValidationError(
    `unsupported object store URL ${JSON.stringify(url)}: expected s3://bucket/prefix, file:///abs/path or a local path`,
  );
}
