/**
 * `s3://` backend of {@link ObjectStore} on @aws-sdk/client-s3 v3. Works against AWS S3 and
 * S3-compatible servers (MinIO, s3rver): checksums are only computed/validated when an operation
 * requires them, and path-style addressing is the default when a custom endpoint is set.
 *
 * `upload` of a file larger than one part (16 MiB by default) is a multipart upload
 * (@aws-sdk/lib-storage), so shard files are not bound by PutObject's 5 GiB limit; a failed
 * multipart upload is aborted, leaving no parts behind.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';

import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import pLimit from 'p-limit';

import { ConfigValidationError, ObjectNotFoundError, ObjectTooLargeError, PreconditionFailedError, StorageError, errorMessage } from '../errors.ts';
import { assertValidMaxBytes, copyStreamAtMost, readStreamAtMost } from './bounded-read.ts';
import {
  DEFAULT_MAX_GET_BYTES,
  assertChildListing,
  assertValidKey,
  assertValidRange,
  assertValidPrefix,
  compareKeys,
  type ChildPrefixListing,
  type ObjectInfo,
  type ObjectStore,
  type PutCondition,
  type ReadLimits,
} from './object-store.ts';

/**
 * How to reach S3. Every field is optional; a missing field falls back to the standard AWS
 * environment:
 * - `endpoint`: `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`, else AWS's own endpoints.
 * - `region`: `AWS_REGION`, then `AWS_DEFAULT_REGION`, else `us-east-1`.
 * - `forcePathStyle`: `true` when an endpoint is set (explicitly or from the environment), since
 *   S3-compatible servers such as MinIO and s3rver need path-style URLs; `false` otherwise.
 * - credentials: `accessKeyId` + `secretAccessKey` (+ optional `sessionToken`) when both are
 *   given, else the SDK's default provider chain (env vars, shared config/SSO, web identity,
 *   container/instance metadata).
 */
export interface S3ConnectionOptions {
  /** Endpoint URL, e.g. `http://127.0.0.1:9000`. */
  endpoint?: string;
  /** AWS region, e.g. `eu-west-1`. */
  region?: string;
  /** Use `https://host/bucket/key` URLs instead of `https://bucket.host/key`. */
  forcePathStyle?: boolean;
  /** Static access key id; must be given together with `secretAccessKey`. */
  accessKeyId?: string;
  /** Static secret access key; must be given together with `accessKeyId`. */
  secretAccessKey?: string;
  /** Session token for temporary static credentials. */
  sessionToken?: string;
}

/** Options of {@link S3ObjectStore}. */
export interface S3ObjectStoreOptions {
  /** Bucket name (non-empty). */
  bucket: string;
  /** Key prefix the store is bound to, without leading/trailing `/` (they are stripped); may be empty. */
  prefix?: string;
  /** Connection settings; see {@link S3ConnectionOptions} for the environment fallbacks. */
  connection?: S3ConnectionOptions;
  /**
   * Part size of multipart uploads, bytes (default {@link DEFAULT_MULTIPART_PART_BYTES}; at least
   * S3's minimum of 5 MiB). Files up to this size are uploaded with one PutObject.
   */
  multipartPartBytes?: number;
  /** Called after every part of a multipart upload is sent (e.g. to log progress of large shard files). */
  onUploadPart?: (progress: UploadPartProgress) => void;
}

/** Progress of one multipart upload, reported after each part. */
export interface UploadPartProgress {
  /** The object's key (relative to the store's prefix). */
  key: string;
  /** 1-based number of the part just sent. */
  part: number;
  /** Bytes sent so far. */
  loadedBytes: number;
  /** Size of the file, bytes. */
  totalBytes: number;
}

/** Default multipart part size: 16 MiB (S3 allows 10,000 parts, so objects up to 156 GiB). */
export const DEFAULT_MULTIPART_PART_BYTES = 16 * 2 ** 20;

/** S3's smallest part size (except the last part): 5 MiB. */
export const MIN_MULTIPART_PART_BYTES = 5 * 2 ** 20;

/** Parts of one multipart upload sent at the same time (each is a buffer of one part). */
const MULTIPART_CONCURRENCY = 4;

/**
 * Multipart uploads running at the same time per store; further ones wait. Bounds the part
 * buffers to MULTIPART_UPLOADS x MULTIPART_CONCURRENCY x part size (128 MiB by default) however
 * many files the writer uploads in parallel.
 */
const MULTIPART_UPLOADS = 2;

/**
 * Builds the S3Client configuration from explicit options and the AWS environment (see
 * {@link S3ConnectionOptions}).
 * @throws ConfigValidationError when only one of accessKeyId / secretAccessKey is given.
 */
export function resolveS3ClientConfig(
  options: S3ConnectionOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): S3ClientConfig {
  const endpoint = nonEmpty(options.endpoint) ?? nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  const region = nonEmpty(options.region) ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? 'us-east-1';
  const config: S3ClientConfig = {
    region,
    forcePathStyle: options.forcePathStyle ?? endpoint !== undefined,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  if (endpoint !== undefined) config.endpoint = endpoint;
  const { accessKeyId, secretAccessKey, sessionToken } = options;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigValidationError('S3 connection: accessKeyId and secretAccessKey must be given together');
  }
  if (accessKeyId !== undefined && secretAccessKey !== undefined) {
    config.credentials = sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
  }
  return config;
}

/** The AWS SDK's own switch for its Node version warning (aws/aws-sdk-js-v3#7983). */
export const SDK_NODE_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/**
 * Turns off the AWS SDK's 8-line "versions published after January 2027 will require node >= 22"
 * warning, printed on Node 20 when the first client is created, unless the environment already sets
 * the switch (`AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=false` brings it back). The warning
 * is about SDK releases shardfleet does not use yet (package-lock.json pins the SDK, which declares
 * node >= 20); the README says which Node versions shardfleet runs on. Sets the variable in this
 * process's environment (children inherit it).
 */
function quietSdkNodeVersionWarning(env: NodeJS.ProcessEnv = process.env): void {
  env[SDK_NODE_WARNING_SWITCH] ??= 'true';
}

/**
 * {@link ObjectStore} over one S3 bucket and key prefix. Keys are validated like on `file://`
 * ({@link assertValidKey}) so that a snapshot written to one backend can be copied to the other.
 * `ObjectInfo.etag` is the S3 ETag with its quotes. Errors carry the relative key
 * (`ObjectNotFoundError.key`, `PreconditionFailedError.key`); StorageError messages name the full
 * `s3://bucket/key` and the S3 error code and HTTP status.
 */
export class S3ObjectStore implements ObjectStore {
  /** `s3://bucket/prefix` (or `s3://bucket` when the prefix is empty). */
  readonly url: string;
  /** Bucket name. */
  readonly bucket: string;
  /** Normalized prefix (no leading/trailing `/`; may be empty). */
  readonly prefix: string;
  /** Part size of multipart uploads, bytes. */
  readonly multipartPartBytes: number;
  private readonly onUploadPart: ((progress: UploadPartProgress) => void) | undefined;
  private readonly multipartSlots = pLimit(MULTIPART_UPLOADS);
  private readonly client: S3Client;

  /**
   * @throws ConfigValidationError for an empty bucket, a bad prefix, half-given credentials or a
   *   multipart part size that is not an integer >= 5 MiB.
   */
  constructor(options: S3ObjectStoreOptions) {
    const partBytes = options.multipartPartBytes ?? DEFAULT_MULTIPART_PART_BYTES;
    if (!Number.isSafeInteger(partBytes) || partBytes < MIN_MULTIPART_PART_BYTES) {
      throw new ConfigValidationError(`S3 multipart part size must be an integer >= ${MIN_MULTIPART_PART_BYTES} bytes (5 MiB), got ${partBytes}`);
    }
    this.multipartPartBytes = partBytes;
    this.onUploadPart = options.onUploadPart;
    if (options.bucket.length === 0 || options.bucket.includes('/')) {
      throw new ConfigValidationError(`invalid S3 bucket name ${JSON.stringify(options.bucket)}`);
    }
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (prefix !== '') assertValidKey(prefix);
    this.bucket = options.bucket;
    this.prefix = prefix;
    this.url = prefix === '' ? `s3://${this.bucket}` : `s3://${this.bucket}/${prefix}`;
    quietSdkNodeVersionWarning();
    this.client = new S3Client(resolveS3ClientConfig(options.connection));
  }

  /**
   * @inheritdoc One GET: an object whose Content-Length is over `maxBytes` is refused before its
   * body is read (the connection is dropped); otherwise the body is read until `maxBytes + 1`
   * bytes at most.
   */
  async get(key: string, limits?: ReadLimits): Promise<Buffer> {
    const Key = this.fullKey(key);
    const maxBytes = limits?.maxBytes ?? DEFAULT_MAX_GET_BYTES;
    assertValidMaxBytes(maxBytes);
    try {
      const body = await this.openBody(key, Key, maxBytes);
      return await readStreamAtMost(body, { key, storeUrl: this.url, maxBytes });
    } catch (err) {
      throw this.mapError(err, 'get', key, Key);
    }
  }

  /**
   * @inheritdoc Streams the body to `localPath`, refused by Content-Length when over `maxBytes`
   * and stopped past it otherwise; a partial file is removed on failure.
   */
  async download(key: string, localPath: string, limits: ReadLimits): Promise<number> {
    const Key = this.fullKey(key);
    assertValidMaxBytes(limits.maxBytes);
    try {
      const body = await this.openBody(key, Key, limits.maxBytes);
      return await copyStreamAtMost(body, localPath, { key, storeUrl: this.url, maxBytes: limits.maxBytes });
    } catch (err) {
      throw this.mapError(err, `download to ${localPath}`, key, Key);
    }
  }

  /**
   * Sends the GET and returns its body stream, unless the response's Content-Length is over
   * `maxBytes`: the body is then destroyed unread.
   * @throws ObjectTooLargeError naming the Content-Length; the SDK's errors.
   */
  private async openBody(key: string, Key: string, maxBytes: number): Promise<Readable> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
    if (!(out.Body instanceof Readable)) {
      (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
      throw new StorageError(`get of ${this.describe(Key)} returned no readable body`);
    }
    const length = out.ContentLength;
    if (length !== undefined && length > maxBytes) {
      out.Body.destroy();
      throw new ObjectTooLargeError(key, maxBytes, length, this.url);
    }
    return out.Body;
  }

  /** @inheritdoc One GET with `Range: bytes=start-(end-1)`; an empty range asks nothing. */
  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    const Key = this.fullKey(key);
    assertValidRange(key, start, end);
    if (end === start) return Buffer.alloc(0);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range: `bytes=${start}-${end - 1}` }));
      if (!(out.Body instanceof Readable)) {
        (out.Body as { destroy?: () => void } | undefined)?.destroy?.();
        throw new StorageError(`ranged get of ${this.describe(Key)} returned no readable body`);
      }
      return await readStreamAtMost(out.Body, { key, storeUrl: this.url, maxBytes: end - start });
    } catch (err) {
      const { code, status } = s3ErrorInfo(err);
      // Asking past the end of an object (e.g. an empty one): nothing there.
      if (status === 416 || code === 'InvalidRange') return Buffer.alloc(0);
      throw this.mapError(err, 'ranged get', key, Key);
    }
  }

  /** @inheritdoc */
  async put(key: string, body: Buffer | string): Promise<void> {
    const Key = this.fullKey(key);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: toBuffer(body) }));
    } catch (err) {
      throw this.mapError(err, 'put', key, Key);
    }
  }

  /**
   * @inheritdoc A file of at most {@link multipartPartBytes} is one streamed PutObject; a larger
   * one is a multipart upload of parts of that size, {@link MULTIPART_CONCURRENCY} at a time, with
   * at most {@link MULTIPART_UPLOADS} such uploads per store at once; aborted on failure.
   */
  async upload(localPath: string, key: string): Promise<void> {
    const Key = this.fullKey(key);
    try {
      const { size } = await stat(localPath);
      if (size <= this.multipartPartBytes) {
        await this.client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key, Body: createReadStream(localPath), ContentLength: size }),
        );
        return;
      }
      // The file is opened only once a slot is free, so waiting uploads hold no descriptors.
      await this.multipartSlots(async () => {
        const upload = new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key, Body: createReadStream(localPath) },
          partSize: this.multipartPartBytes,
          queueSize: MULTIPART_CONCURRENCY,
          leavePartsOnError: false,
        });
        const onPart = this.onUploadPart;
        if (onPart) upload.on('httpUploadProgress', (p) => onPart({ key, part: p.part ?? 0, loadedBytes: p.loaded ?? 0, totalBytes: size }));
        await upload.done();
      });
    } catch (err) {
      throw this.mapError(err, `upload of ${localPath} to`, key, Key);
    }
  }

  /**
   * @inheritdoc PutObject with `If-None-Match: *` or `If-Match: <etag>`. HTTP 412
   * (PreconditionFailed), 409 (ConditionalRequestConflict, a concurrent conditional write) and,
   * for `ifMatch`, 404 (the object is gone) all mean the condition does not hold.
   */
  async putIf(key: string, body: Buffer | string, condition: PutCondition): Promise<void> {
    const Key = this.fullKey(key);
    const cond = 'ifNoneMatch' in condition ? { IfNoneMatch: condition.ifNoneMatch } : { IfMatch: condition.ifMatch };
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: toBuffer(body), ...cond }));
    } catch (err) {
      const { code, status } = s3ErrorInfo(err);
      if (status === 412 || status === 409 || code === 'PreconditionFailed' || code === 'ConditionalRequestConflict') {
        throw new PreconditionFailedError(key);
      }
      if ('ifMatch' in condition && isNotFound(err)) throw new PreconditionFailedError(key);
      throw this.mapError(err, 'conditional put', key, Key);
    }
  }

  /** @inheritdoc */
  async head(key: string): Promise<ObjectInfo | undefined> {
    const Key = this.fullKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { key, size: out.ContentLength ?? 0, etag: out.ETag ?? '', lastModified: out.LastModified ?? new Date() };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw this.mapError(err, 'head', key, Key);
    }
  }

  /** @inheritdoc Paginates ListObjectsV2 (1000 keys per page); sorted by UTF-8 bytes. */
  async list(prefix: string): Promise<ObjectInfo[]> {
    assertValidPrefix(prefix);
    const base = this.prefix === '' ? '' : `${this.prefix}/`;
    const Prefix = base + prefix;
    const out: ObjectInfo[] = [];
    let ContinuationToken: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken }),
        );
        for (const o of page.Contents ?? []) {
          if (o.Key === undefined || !o.Key.startsWith(Prefix)) continue;
          out.push({ key: o.Key.slice(base.length), size: o.Size ?? 0, etag: o.ETag ?? '', lastModified: o.LastModified ?? new Date() });
        }
        ContinuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (ContinuationToken !== undefined);
    } catch (err) {
      const { code, status } = s3ErrorInfo(err);
      throw new StorageError(
        `list of s3://${this.bucket}/${Prefix} failed: ${code ?? 'error'}${status === undefined ? '' : ` (HTTP ${status})`}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    return out.sort((a, b) => compareKeys(a.key, b.key));
  }

  /**
   * @inheritdoc ListObjectsV2 with `Delimiter: '/'`: S3 rolls every key below a child up into one
   * CommonPrefixes entry, so a child holding thousands of shard files costs one entry. A page
   * holds at most 1,000 entries (keys and CommonPrefixes together), so pages are followed by
   * `NextContinuationToken` until `maxNames + 1` children were seen or the listing ends (tested
   * with 1,005 children in test/collection-catalog.test.ts); a truncated page without a token is
   * a StorageError rather than a listing that looks complete.
   */
  async listChildPrefixes(prefix: string, maxNames: number): Promise<ChildPrefixListing> {
    assertChildListing(prefix, maxNames);
    const base = this.prefix === '' ? '' : `${this.prefix}/`;
    const Prefix = base + prefix;
    const names: string[] = [];
    let ContinuationToken: string | undefined;
    try {
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, Delimiter: '/', ContinuationToken }));
        for (const p of page.CommonPrefixes ?? []) {
          if (p.Prefix === undefined || !p.Prefix.startsWith(Prefix) || !p.Prefix.endsWith('/')) continue;
          const name = p.Prefix.slice(Prefix.length, -1);
          if (name !== '' && !name.includes('/')) names.push(name);
        }
        const more = page.IsTruncated === true && names.length <= maxNames;
        // A truncated page without a token would end the listing early and report it complete.
        if (more && page.NextContinuationToken === undefined) throw new Error('the page is truncated but has no NextContinuationToken');
        ContinuationToken = more ? page.NextContinuationToken : undefined;
      } while (ContinuationToken !== undefined);
    } catch (err) {
      const { code, status } = s3ErrorInfo(err);
      throw new StorageError(
        `listing the prefixes of s3://${this.bucket}/${Prefix} failed: ${code ?? 'error'}${status === undefined ? '' : ` (HTTP ${status})`}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    names.sort(compareKeys);
    return { names: names.slice(0, maxNames), truncated: names.length > maxNames };
  }

  /** @inheritdoc */
  async delete(key: string): Promise<void> {
    const Key = this.fullKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.mapError(err, 'delete', key, Key);
    }
  }

  /** @inheritdoc Destroys the S3 client's sockets. */
  async close(): Promise<void> {
    this.client.destroy();
  }

  private fullKey(key: string): string {
    assertValidKey(key);
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  private describe(fullKey: string): string {
    return `s3://${this.bucket}/${fullKey}`;
  }

  /** NoSuchKey / 404 -> ObjectNotFoundError; shardfleet errors pass through; else StorageError. */
  private mapError(err: unknown, op: string, key: string, fullKey: string): Error {
    if (err instanceof StorageError || err instanceof ObjectNotFoundError) return err;
    if (isNotFound(err)) return new ObjectNotFoundError(key);
    const { code, status } = s3ErrorInfo(err);
    const what = `${code ?? 'error'}${status === undefined ? '' : ` (HTTP ${status})`}`;
    return new StorageError(`S3 ${op} ${this.describe(fullKey)} failed: ${what}: ${errorMessage(err)}`, { cause: err });
  }
}

interface S3ErrorLike {
  name?: unknown;
  Code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** Error code (e.g. `NoSuchKey`) and HTTP status of an SDK error, when present. */
function s3ErrorInfo(err: unknown): { code: string | undefined; status: number | undefined } {
  if (typeof err !== 'object' || err === null) return { code: undefined, status: undefined };
  const e = err as S3ErrorLike;
  const code = typeof e.Code === 'string' ? e.Code : typeof e.name === 'string' ? e.name : undefined;
  const raw = e.$metadata?.httpStatusCode;
  return { code, status: typeof raw === 'number' ? raw : undefined };
}

/** A missing object (a missing bucket is a configuration problem, not "not found"). */
function isNotFound(err: unknown): boolean {
  const { code, status } = s3ErrorInfo(err);
  if (code === 'NoSuchBucket') return false;
  return status === 404 || code === 'NoSuchKey' || code === 'NotFound';
}

function toBuffer(body: Buffer | string): Buffer {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}
