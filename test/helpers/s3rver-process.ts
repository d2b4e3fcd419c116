/**
 * Runs an s3rver S3 server for tests, as its own process (use {@link startS3rver} from
 * `./s3rver.ts` rather than running this directly):
 *
 *   NODE_OPTIONS=--openssl-legacy-provider node --import tsx test/helpers/s3rver-process.ts <dataDir>
 *
 * (s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only offers with
 * the legacy provider; without it pagination fails.)
 *
 * Listens on 127.0.0.1 on a free port with bucket `shardfleet-test`, prints one line
 * `{"port": N}` to stdout once ready, and runs until SIGTERM/SIGINT or until its stdin closes
 * (so it dies with the test process that spawned it).
 *
 * s3rver 3.7.1 ignores conditional-write headers, so a Koa middleware installed before s3rver's
 * own routes adds them for object PUTs (path-style URLs `/bucket/key` only):
 * - `If-None-Match: *` -> 412 PreconditionFailed when the object exists;
 * - `If-Match: <etag>` -> 412 when the object is missing or its ETag differs (quotes ignored).
 * PUTs and DELETEs of one key are serialized so check-then-write is atomic, as on real S3, and a
 * GET or HEAD of a key waits for them and reads the whole body before the next one (s3rver writes
 * objects in place, so a read during a write could otherwise see a torn object).
 * It also makes PutObject wait until the object file has all its bytes on disk: s3rver resolves
 * the write when its hashing Transform finishes, possibly before the file stream has flushed.
 *
 * And it pages delimiter listings as S3 does ({@link delimiterListingPages}): s3rver counts only
 * keys against `max-keys` and returns every CommonPrefix in one page, so a catalog root with more
 * than 1,000 children would never show a client's pagination of CommonPrefixes.
 */
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

/** Bucket created at start-up. */
const BUCKET = 'shardfleet-test';

/** The part of a Koa context the middleware uses. */
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  get(field: string): string;
  status: number;
  type: string;
  body: unknown;
}

type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

/** The part of s3rver's FilesystemStore used here (lib/stores/filesystem.js). */
interface S3rverStore {
  /** Metadata incl. `etag` (quoted md5); rejects with code ENOENT when the object is missing. */
  getMetadata(bucket: string, key: string): Promise<{ etag: string }>;
  getResourcePath(bucket: string, key: string, resource: string): string;
  putObject(object: { bucket: string; key: string }): Promise<{ size: number; md5: string }>;
  /** Null when the bucket does not exist. */
  getBucket(bucket: string): Promise<object | null>;
  /** With `maxKeys: Infinity`: every key directly below `prefix` and every CommonPrefix, sorted. */
  listObjects(
    bucket: string,
    options: { delimiter: string; prefix: string; maxKeys: number },
  ): Promise<{ objects: S3rverObject[]; commonPrefixes: string[]; isTruncated: boolean }>;
}

/** The part of s3rver's S3Object used here (lib/models/object.js). */
interface S3rverObject {
  key: string;
  size: number;
  lastModifiedDate: Date;
  metadata: { etag?: string };
}

interface S3rverInstance {
  middleware: KoaMiddleware[];
  store: S3rverStore;
  run(): Promise<{ address: string; port: number }>;
}

type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as S3rverConstructor;

/** Serializes async sections per id (one FIFO chain per key). */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(id) ?? Promise.resolve();
    let release = (): void => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = prev.then(() => mine);
    this.tails.set(id, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(id) === tail) this.tails.delete(id);
    }
  }
}

/** Splits a path-style request path `/bucket/key...` into bucket and decoded key. */
function parseObjectPath(path: string): { bucket: string; key: string } | undefined {
  const m = /^\/([^/]+)\/(.+)$/.exec(path);
  if (m === null) return undefined;
  try {
    return { bucket: decodeURIComponent(m[1]), key: decodeURIComponent(m[2]) };
  } catch {
    return undefined;
  }
}

/** Etags of a conditional header (`"a", W/"b"` -> [a, b]); `*` stays `*`. */
function parseEtagList(header: string): string[] {
  return header
    .split(',')
    .map((s) => s.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1'))
    .filter((s) => s.length > 0);
}

function preconditionFailed(ctx: KoaContext, key: string, condition: string): void {
  const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  ctx.status = 412;
  ctx.type = 'application/xml';
  ctx.body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>' +
    '<Message>At least one of the pre-conditions you specified did not hold</Message>' +
    `<Condition>${escape(condition)}</Condition><Key>${escape(key)}</Key></Error>`;
}

function isEnoent(err: unknown): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Current unquoted ETag of an object, or undefined when it does not exist. */
async function currentEtag(store: S3rverStore, bucket: string, key: string): Promise<string | undefined> {
  try {
    return (await store.getMetadata(bucket, key)).etag.replace(/^"(.*)"$/, '$1');
  } catch (err) {
    if (isEnoent(err)) return undefined;
    throw err;
  }
}

/** Koa middleware adding If-None-Match / If-Match to object PUTs, serialized per key. */
function conditionalWrites(store: S3rverStore): KoaMiddleware {
  const mutex = new KeyedMutex();
  return async (ctx, next) => {
    const reading = ctx.method === 'GET' || ctx.method === 'HEAD';
    const target = ctx.method === 'PUT' || ctx.method === 'DELETE' || reading ? parseObjectPath(ctx.path) : undefined;
    if (target === undefined) return next();
    if (reading) {
      // s3rver rewrites an object's file in place: a GET while a PUT of the same key runs could
      // see it half written. Real S3 never shows a torn object, so a read waits for the key's
      // writes and takes its body whole before the next write starts.
      await mutex.run(`${target.bucket}/${target.key}`, async () => {
        await next();
        if (ctx.body instanceof Readable) ctx.body = await buffer(ctx.body);
      });
      return;
    }
    await mutex.run(`${target.bucket}/${target.key}`, async () => {
      const ifNoneMatch = ctx.get('If-None-Match');
      const ifMatch = ctx.get('If-Match');
      if (ctx.method === 'PUT' && (ifNoneMatch !== '' || ifMatch !== '') && ctx.get('x-amz-copy-source') === '') {
        const etag = await currentEtag(store, target.bucket, target.key);
        if (ifNoneMatch !== '') {
          const tags = parseEtagList(ifNoneMatch);
          if (etag !== undefined && (tags.includes('*') || tags.includes(etag))) {
            preconditionFailed(ctx, target.key, 'If-None-Match');
            return;
          }
        }
        if (ifMatch !== '') {
          const tags = parseEtagList(ifMatch);
          if (etag === undefined || !(tags.includes('*') || tags.includes(etag))) {
            preconditionFailed(ctx, target.key, 'If-Match');
            return;
          }
        }
      }
      await next();
    });
  };
}

/** S3's most entries (keys plus CommonPrefixes) in one ListObjectsV2 page. */
const MAX_LIST_KEYS = 1000;

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** One query parameter as a string (the first when repeated), or undefined. */
function queryParam(ctx: KoaContext, name: string): string | undefined {
  const v = ctx.query[name];
  return Array.isArray(v) ? v[0] : v;
}

/** An opaque continuation token naming the last entry of a page (not s3rver's DES token). */
function encodeToken(lastEntry: string): string {
  return Buffer.from(JSON.stringify({ after: lastEntry }), 'utf8').toString('base64url');
}

function decodeToken(token: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    const after = (parsed as { after?: unknown }).after;
    return typeof after === 'string' ? after : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Koa middleware answering ListObjectsV2 with a `delimiter` (path-style `GET /bucket?list-type=2`)
 * the way S3 does: keys and CommonPrefixes together, in UTF-8 byte order, count against
 * `max-keys` (at most 1,000), and a page that stops early is `IsTruncated` with a
 * `NextContinuationToken` after its last entry (a CommonPrefix stands for every key below it, so
 * the next page starts past all of them). Listings without a delimiter, other list types and
 * missing buckets go to s3rver. The keys and CommonPrefixes themselves come from s3rver's store
 * (so its roll-up rule, an object directly below each child, still applies).
 */
function delimiterListingPages(store: S3rverStore): KoaMiddleware {
  return async (ctx, next) => {
    const bucket = /^\/([^/]+)\/?$/.exec(ctx.path)?.[1];
    const delimiter = queryParam(ctx, 'delimiter') ?? '';
    if (ctx.method !== 'GET' || bucket === undefined || queryParam(ctx, 'list-type') !== '2' || delimiter === '') return next();
    if ((await store.getBucket(bucket)) === null) return next();
    const prefix = queryParam(ctx, 'prefix') ?? '';
    const maxKeysParam = queryParam(ctx, 'max-keys');
    const maxKeys = maxKeysParam === undefined ? MAX_LIST_KEYS : Math.min(MAX_LIST_KEYS, Number(maxKeysParam));
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 0) return next(); // s3rver answers InvalidArgument
    const token = queryParam(ctx, 'continuation-token');
    const after = token === undefined ? (queryParam(ctx, 'start-after') ?? '') : decodeToken(token);
    if (after === undefined) return next(); // s3rver answers InvalidArgument for a token it cannot read
    const all = await store.listObjects(bucket, { delimiter, prefix, maxKeys: Infinity });
    type Entry = { name: string; object?: S3rverObject };
    const entries: Entry[] = [...all.objects.map((o) => ({ name: o.key, object: o })), ...all.commonPrefixes.map((p) => ({ name: p }))];
    const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');
    const afterBytes = bytes(after);
    const rest = entries.filter((e) => Buffer.compare(bytes(e.name), afterBytes) > 0).sort((a, b) => Buffer.compare(bytes(a.name), bytes(b.name)));
    const page = rest.slice(0, maxKeys);
    const truncated = rest.length > page.length;
    const tag = (name: string, value: string | number | boolean): string => `<${name}>${xmlEscape(String(value))}</${name}>`;
    const parts = [
      tag('Name', bucket),
      tag('Prefix', prefix),
      tag('Delimiter', delimiter),
      tag('MaxKeys', maxKeysParam ?? MAX_LIST_KEYS),
      tag('KeyCount', page.length),
      tag('IsTruncated', truncated),
      token === undefined ? '' : tag('ContinuationToken', token),
      truncated ? tag('NextContinuationToken', encodeToken(page[page.length - 1]!.name)) : '',
      token === undefined && after !== '' ? tag('StartAfter', after) : '',
      ...page.map((e) =>
        e.object === undefined
          ? `<CommonPrefixes>${tag('Prefix', e.name)}</CommonPrefixes>`
          : `<Contents>${tag('Key', e.name)}${tag('LastModified', e.object.lastModifiedDate.toISOString())}${tag('ETag', e.object.metadata.etag ?? '')}${tag('Size', e.object.size)}${tag('StorageClass', 'STANDARD')}</Contents>`,
      ),
    ];
    ctx.status = 200;
    ctx.type = 'application/xml';
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts.join('')}</ListBucketResult>`;
  };
}

/** Makes store.putObject resolve only once the object file holds all `size` bytes. */
function waitForFlushedPuts(store: S3rverStore): void {
  const original = store.putObject.bind(store);
  store.putObject = async (object) => {
    const result = await original(object);
    const file = store.getResourcePath(object.bucket, object.key, 'object');
    for (let i = 0; i < 500; i++) {
      const size = await stat(file).then(
        (s) => s.size,
        () => -1,
      );
      if (size === result.size) break;
      await sleep(2);
    }
    return result;
  };
}

async function main(): Promise<void> {
  const directory = process.argv[2];
  if (directory === undefined || directory === '') {
    process.stderr.write('usage: s3rver-process.ts <dataDir>\n');
    process.exit(2);
  }
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: BUCKET }],
  });
  waitForFlushedPuts(server.store);
  server.middleware.unshift(conditionalWrites(server.store));
  server.middleware.unshift(delimiterListingPages(server.store));
  const { port } = await server.run();
  const exit = (): never => process.exit(0);
  process.on('SIGTERM', exit);
  process.on('SIGINT', exit);
  process.stdin.on('end', exit);
  process.stdin.on('close', exit);
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`s3rver-process failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
