/**
 * ObjectStore contract tests, run against FileObjectStore (temp folder) and S3ObjectStore (a real
 * S3 protocol server, s3rver, in a child process), plus backend-specific checks and URL routing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ConfigValidationError, ObjectNotFoundError, PreconditionFailedError } from '../src/common/errors.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { S3ObjectStore, resolveS3ClientConfig } from '../src/common/storage/s3-object-store.ts';
import { startS3rver } from './helpers/s3rver.ts';
import type { S3rverHandle } from './helpers/s3rver.ts';

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

/** A backend under test: opens a fresh store, and cleans up after the suite. */
interface Backend {
  name: string;
  setUp(): Promise<ObjectStore>;
  tearDown(): Promise<void>;
}

function contractSuite(backend: Backend): void {
  describe(`ObjectStore contract: ${backend.name}`, () => {
    let store: ObjectStore;
    let scratch: string;

    before(async () => {
      store = await backend.setUp();
      scratch = await mkdtemp(path.join(tmpdir(), 'shardfleet-os-local-'));
    });
    after(async () => {
      await store.close();
      await backend.tearDown();
      await rm(scratch, { recursive: true, force: true });
    });

    test('put/get round-trips binary data and strings', async () => {
      const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(64 * 1024)]);
      await store.put('rt/bin.dat', data);
      assert.deepEqual(await store.get('rt/bin.dat'), data);
      await store.put('rt/text.json', '{"héllo":"wörld"}');
      assert.equal((await store.get('rt/text.json')).toString('utf8'), '{"héllo":"wörld"}');
      await store.put('rt/empty', Buffer.alloc(0));
      assert.equal((await store.get('rt/empty')).length, 0);
    });

    test('get of a missing key throws ObjectNotFoundError', async () => {
      await assert.rejects(store.get('missing/nope.bin'), (err: unknown) => {
        assert.ok(err instanceof ObjectNotFoundError);
        assert.equal(err.key, 'missing/nope.bin');
        return true;
      });
    });

    test('head gives size and etag, undefined when missing; etag changes with content', async () => {
      await store.put('head/a', 'abc');
      const first = await store.head('head/a');
      assert.ok(first !== undefined);
      assert.equal(first.key, 'head/a');
      assert.equal(first.size, 3);
      assert.ok(first.etag.length > 0);
      await store.put('head/a', 'abcd');
      const second = await store.head('head/a');
      assert.equal(second?.size, 4);
      assert.notEqual(second?.etag, first.etag);
      assert.equal(await store.head('head/missing'), undefined);
    });

    test('list returns exactly the keys under a prefix, sorted', async () => {
      const keys = ['ls/b/1', 'ls/a/2', 'ls/ab', 'ls/a/1', 'ls/a/sub/deep', 'lsx', 'other/ls/a'];
      for (const k of keys) await store.put(k, k);
      const keysOf = async (p: string): Promise<string[]> => (await store.list(p)).map((o) => o.key);
      assert.deepEqual(await keysOf('ls/a'), ['ls/a/1', 'ls/a/2', 'ls/a/sub/deep', 'ls/ab']);
      assert.deepEqual(await keysOf('ls/a/'), ['ls/a/1', 'ls/a/2', 'ls/a/sub/deep']);
      assert.deepEqual(await keysOf('ls/'), ['ls/a/1', 'ls/a/2', 'ls/a/sub/deep', 'ls/ab', 'ls/b/1']);
      assert.deepEqual(await keysOf('nothing/'), []);
      const infos = await store.list('ls/b/');
      assert.equal(infos.length, 1);
      assert.equal(infos[0].size, 'ls/b/1'.length);
      assert.equal(infos[0].etag, (await store.head('ls/b/1'))?.etag);
      const all = await keysOf('');
      assert.ok(all.includes('lsx') && all.includes('other/ls/a'));
      assert.deepEqual(all, [...all].sort());
    });

    test('list paginates past 1000 keys', async () => {
      const keys = Array.from({ length: 1005 }, (_, i) => `page/k${String(i).padStart(4, '0')}`);
      await forEachLimit(keys, 16, (k) => store.put(k, 'x'));
      const listed = await store.list('page/');
      assert.equal(listed.length, 1005);
      assert.deepEqual(
        listed.map((o) => o.key),
        keys,
      );
    });

    test('delete removes an object; deleting a missing key is fine', async () => {
      await store.put('del/a', 'x');
      await store.delete('del/a');
      assert.equal(await store.head('del/a'), undefined);
      await assert.rejects(store.get('del/a'), ObjectNotFoundError);
      await store.delete('del/a');
      await store.delete('del/never-existed');
    });

    test('upload/download of a 3 MB file keeps identical bytes', async () => {
      const data = randomBytes(3 * 1024 * 1024);
      const src = path.join(scratch, 'up.bin');
      const dst = path.join(scratch, 'down.bin');
      await writeFile(src, data);
      await store.upload(src, 'big/file.bin');
      assert.equal((await store.head('big/file.bin'))?.size, data.length);
      assert.equal(await store.download('big/file.bin', dst, { maxBytes: data.length }), data.length);
      const back = await readFile(dst);
      assert.equal(createHash('sha256').update(back).digest('hex'), createHash('sha256').update(data).digest('hex'));
      await assert.rejects(store.download('big/missing.bin', path.join(scratch, 'nope.bin'), { maxBytes: 1 }), ObjectNotFoundError);
    });

    test('putIf ifNoneMatch "*" creates once, then throws PreconditionFailedError', async () => {
      await store.putIf('cond/new', 'one', { ifNoneMatch: '*' });
      assert.equal((await store.get('cond/new')).toString(), 'one');
      await assert.rejects(store.putIf('cond/new', 'two', { ifNoneMatch: '*' }), (err: unknown) => {
        assert.ok(err instanceof PreconditionFailedError);
        assert.equal(err.key, 'cond/new');
        return true;
      });
      assert.equal((await store.get('cond/new')).toString(), 'one');
    });

    test('putIf ifMatch succeeds with the current etag and fails with a stale one', async () => {
      await store.put('cond/m', 'v1');
      const v1 = await store.head('cond/m');
      assert.ok(v1 !== undefined);
      await store.putIf('cond/m', 'v2', { ifMatch: v1.etag });
      assert.equal((await store.get('cond/m')).toString(), 'v2');
      await assert.rejects(store.putIf('cond/m', 'v3', { ifMatch: v1.etag }), PreconditionFailedError);
      assert.equal((await store.get('cond/m')).toString(), 'v2');
      await assert.rejects(store.putIf('cond/absent', 'v', { ifMatch: v1.etag }), PreconditionFailedError);
    });

    test('8 concurrent putIf with the same etag: exactly one wins', async () => {
      await store.put('cond/race', 'base');
      const base = await store.head('cond/race');
      assert.ok(base !== undefined);
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => store.putIf('cond/race', `writer-${i}`, { ifMatch: base.etag })),
      );
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      assert.equal(winners.length, 1, `expected one winner, got ${winners.length}`);
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof PreconditionFailedError, String(r.reason));
      }
      assert.equal((await store.get('cond/race')).toString(), `writer-${winners[0]}`);
    });

    test('invalid keys are rejected with ConfigValidationError', async () => {
      for (const bad of ['../x', 'a/../b', '/abs', '', 'a//b', 'a/./b']) {
        await assert.rejects(store.put(bad, 'x'), ConfigValidationError, `key ${JSON.stringify(bad)}`);
      }
      await assert.rejects(store.get('../x'), ConfigValidationError);
      await assert.rejects(store.list('../'), ConfigValidationError);
    });
  });
}

let fileRoot = '';
contractSuite({
  name: 'file',
  setUp: async () => {
    fileRoot = await mkdtemp(path.join(tmpdir(), 'shardfleet-os-file-'));
    return new FileObjectStore(fileRoot);
  },
  tearDown: () => rm(fileRoot, { recursive: true, force: true }),
});

let s3: S3rverHandle | undefined;
contractSuite({
  name: 's3 (s3rver)',
  setUp: async () => {
    s3 = await startS3rver();
    return new S3ObjectStore({ bucket: s3.bucket, prefix: 'contract/run', connection: s3.connection });
  },
  tearDown: async () => {
    await s3?.stop();
  },
});

describe('FileObjectStore specifics', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'shardfleet-os-file2-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('accepts file:// URLs and plain paths; url is a file:// URL', () => {
    const a = new FileObjectStore(`file://${root}`);
    const b = new FileObjectStore(root);
    assert.equal(a.root, root);
    assert.equal(b.url, a.url);
    assert.ok(a.url.startsWith('file:///'));
  });

  test('etag is the hex sha256 of the content; putIf ifMatch accepts it', async () => {
    const store = new FileObjectStore(root);
    await store.put('e/x', 'hello');
    const info = await store.head('e/x');
    assert.equal(info?.etag, createHash('sha256').update('hello').digest('hex'));
    await store.putIf('e/x', 'world', { ifMatch: createHash('sha256').update('hello').digest('hex') });
    assert.equal((await store.get('e/x')).toString(), 'world');
  });

  test('list never shows temp or lock files; putIf leaves none behind', async () => {
    const store = new FileObjectStore(root);
    await store.putIf('t/a', '1', { ifNoneMatch: '*' });
    assert.deepEqual(await readdir(path.join(root, 't')), ['a']);
    await writeFile(path.join(root, 't', 'a.~sf-lock'), 'someone');
    await writeFile(path.join(root, 't', '.a.~sf-tmp-123'), 'partial');
    assert.deepEqual(
      (await store.list('t/')).map((o) => o.key),
      ['t/a'],
    );
    await rm(path.join(root, 't', '.a.~sf-tmp-123'));
  });

  test('putIf breaks a lock older than 30 s', async () => {
    const store = new FileObjectStore(root);
    await store.put('s/k', 'old');
    const lock = path.join(root, 's', 'k.~sf-lock');
    await writeFile(lock, 'dead-process');
    const past = new Date(Date.now() - 60_000);
    await utimes(lock, past, past);
    const etag = (await store.head('s/k'))?.etag ?? '';
    await store.putIf('s/k', 'new', { ifMatch: etag });
    assert.equal((await store.get('s/k')).toString(), 'new');
    assert.deepEqual(await readdir(path.join(root, 's')), ['k']);
  });

  test('keys reserved for internal files are rejected', async () => {
    const store = new FileObjectStore(root);
    await assert.rejects(store.put('x.~sf-lock', 'x'), ConfigValidationError);
  });
});

describe('S3ObjectStore multipart upload (s3rver)', () => {
  let server: S3rverHandle;
  let dir: string;
  before(async () => {
    server = await startS3rver();
    dir = await mkdtemp(path.join(tmpdir(), 'shardfleet-os-multipart-'));
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a file larger than one part is uploaded in parts and reads back byte for byte', async () => {
    const parts: number[] = [];
    let loaded = 0;
    const store = new S3ObjectStore({
      bucket: server.bucket,
      prefix: 'mp',
      connection: server.connection,
      multipartPartBytes: 5 * 2 ** 20,
      onUploadPart: (p) => {
        assert.equal(p.key, 'shards/big.bin');
        parts.push(p.part);
        loaded = Math.max(loaded, p.loadedBytes);
      },
    });
    const big = randomBytes(12 * 2 ** 20 + 123);
    const file = path.join(dir, 'big.bin');
    await writeFile(file, big);
    await store.upload(file, 'shards/big.bin');
    const info = await store.head('shards/big.bin');
    assert.equal(info?.size, big.length);
    assert.deepEqual(parts.sort(), [1, 2, 3], 'three parts: 5 MiB, 5 MiB and the rest');
    assert.equal(loaded, big.length);
    const back = path.join(dir, 'back.bin');
    assert.equal(await store.download('shards/big.bin', back, { maxBytes: big.length }), big.length);
    assert.equal(createHash('sha256').update(await readFile(back)).digest('hex'), createHash('sha256').update(big).digest('hex'));
    // A file of at most one part is a single PutObject (a plain MD5 ETag).
    const small = path.join(dir, 'small.bin');
    await writeFile(small, big.subarray(0, 2 ** 20));
    await store.upload(small, 'shards/small.bin');
    assert.deepEqual(parts, [1, 2, 3], 'no part events for a single PutObject');
    assert.equal((await store.head('shards/small.bin'))?.size, 2 ** 20);
    await store.close();
  });

  test('at most two multipart uploads run at once; the third waits for one to finish', async () => {
    const events: string[] = [];
    const store = new S3ObjectStore({ bucket: server.bucket, prefix: 'mp3', connection: server.connection, multipartPartBytes: 5 * 2 ** 20, onUploadPart: (p) => events.push(p.key) });
    const file = path.join(dir, 'eleven.bin');
    await writeFile(file, randomBytes(11 * 2 ** 20));
    await Promise.all(['k0', 'k1', 'k2'].map((k) => store.upload(file, k)));
    assert.equal(events.length, 9, 'three parts each');
    // The uploads enter their slots in whatever order their stat() calls finish, so name them
    // by start order: the one that started last must start after one of the others finished.
    const [a, b, c] = ['k0', 'k1', 'k2'].sort((x, y) => events.indexOf(x) - events.indexOf(y));
    assert.ok(Math.min(events.lastIndexOf(a), events.lastIndexOf(b)) < events.indexOf(c), `${c} started before ${a} or ${b} finished: ${events.join(' ')}`);
    for (const k of ['k0', 'k1', 'k2']) assert.equal((await store.head(k))?.size, 11 * 2 ** 20);
    await store.close();
  });

  test('a part size below S3\'s 5 MiB minimum is a configuration error', () => {
    assert.throws(() => new S3ObjectStore({ bucket: 'b', multipartPartBytes: 2 ** 20 }), (err: unknown) => err instanceof ConfigValidationError && /5 MiB/.test(err.message));
  });
});

describe('openObjectStore routing', () => {
  test('s3:// URLs open an S3ObjectStore bound to bucket and prefix', async () => {
    const a = openObjectStore('s3://my-bucket/snapshots/emb/', { region: 'eu-west-1' });
    assert.ok(a instanceof S3ObjectStore);
    assert.equal(a.bucket, 'my-bucket');
    assert.equal(a.prefix, 'snapshots/emb');
    assert.equal(a.url, 's3://my-bucket/snapshots/emb');
    await a.close();
    const b = openObjectStore('s3://only-bucket');
    assert.ok(b instanceof S3ObjectStore);
    assert.equal(b.prefix, '');
    assert.equal(b.url, 's3://only-bucket');
    await b.close();
  });

  test('file:// URLs and plain paths open a FileObjectStore', () => {
    const a = openObjectStore('file:///var/data/snap');
    assert.ok(a instanceof FileObjectStore);
    assert.equal(a.root, '/var/data/snap');
    const b = openObjectStore('relative/dir');
    assert.ok(b instanceof FileObjectStore);
    assert.equal(b.root, path.resolve('relative/dir'));
    const c = openObjectStore('/abs/dir');
    assert.ok(c instanceof FileObjectStore);
    assert.equal(c.url, 'file:///abs/dir');
  });

  test('other URLs throw ConfigValidationError naming the URL', () => {
    for (const url of ['gs://bucket/x', 'http://example.com/x', 's3://', 's3:///prefix', '', 's3://b/../x']) {
      assert.throws(
        () => openObjectStore(url),
        (err: unknown) => err instanceof ConfigValidationError && (url === '' || err.message.includes(url)),
        url,
      );
    }
  });

  test('S3 connection falls back to the AWS environment; endpoint implies path-style', () => {
    const fromEnv = resolveS3ClientConfig({}, { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', AWS_DEFAULT_REGION: 'eu-west-3' });
    assert.equal(fromEnv.endpoint, 'http://127.0.0.1:9');
    assert.equal(fromEnv.region, 'eu-west-3');
    assert.equal(fromEnv.forcePathStyle, true);
    assert.equal(fromEnv.credentials, undefined);
    const generic = resolveS3ClientConfig({}, { AWS_ENDPOINT_URL: 'http://h:1', AWS_REGION: 'ap-south-1' });
    assert.equal(generic.endpoint, 'http://h:1');
    assert.equal(generic.region, 'ap-south-1');
    const aws = resolveS3ClientConfig({}, {});
    assert.equal(aws.endpoint, undefined);
    assert.equal(aws.region, 'us-east-1');
    assert.equal(aws.forcePathStyle, false);
    const explicit = resolveS3ClientConfig(
      { endpoint: 'http://x:2', forcePathStyle: false, accessKeyId: 'a', secretAccessKey: 'b' },
      { AWS_ENDPOINT_URL_S3: 'http://ignored:1' },
    );
    assert.equal(explicit.endpoint, 'http://x:2');
    assert.equal(explicit.forcePathStyle, false);
    assert.deepEqual(explicit.credentials, { accessKeyId: 'a', secretAccessKey: 'b' });
    assert.throws(() => resolveS3ClientConfig({ accessKeyId: 'a' }, {}), ConfigValidationError);
  });

  test('an s3:// store configured only through the AWS environment works against s3rver', async () => {
    const server = await startS3rver();
    const saved = { ...process.env };
    Object.assign(process.env, server.env);
    try {
      const store = openObjectStore(server.url('env-only'));
      await store.put('k', 'v');
      assert.equal((await store.get('k')).toString(), 'v');
      assert.deepEqual(
        (await store.list('')).map((o) => o.key),
        ['k'],
      );
      await store.close();
    } finally {
      for (const k of Object.keys(server.env)) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      await server.stop();
    }
  });
});
