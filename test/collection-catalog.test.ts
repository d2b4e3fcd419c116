/**
 * Catalog discovery (issue 24): the delimiter listing of child prefixes on both stores (s3rver for
 * S3), child stores, and the three catalog modes with rescans that add and remove collections;
 * a root with more children than one S3 listing page (1,000) is listed and scanned whole.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import pLimit from 'p-limit';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

import { CollectionCatalog, scanCatalog, type CatalogChange } from '../src/common/catalog/collection-catalog.ts';
import { ConfigValidationError } from '../src/common/errors.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { childStore } from '../src/common/storage/prefixed-object-store.ts';
import { startS3rver, type S3rverHandle } from './helpers/s3rver.ts';

const log = pino({ level: 'silent' });
const POINTER = JSON.stringify({ format_version: 1, manifest_ref: 'runs/r1/manifest.json', run_id: 'r1', published_at: '2026-01-01T00:00:00Z' });

/** Collections a, c (with `_CURRENT`), b (shard files only), `Bad Name` (invalid), `_ALIASES` (a file). */
async function fillCatalog(store: ObjectStore): Promise<void> {
  await store.put('a/_CURRENT', POINTER);
  await store.put('a/runs/r1/db=00000/x.bin', 'x');
  await store.put('b/runs/r1/db=00000/x.bin', 'x');
  // s3rver (lib/stores/filesystem.js listObjects) rolls a child up into CommonPrefixes only when
  // an object sits directly in it (real S3 rolls up any depth); a collection always has one
  // (`_CURRENT`), and this gives `b` one too.
  await store.put('b/notes.txt', 'x');
  await store.put('c/_CURRENT', POINTER);
  await store.put('_ALIASES', '{}');
  for (let i = 0; i < 40; i++) await store.put(`c/runs/r1/db=${String(i).padStart(5, '0')}/index.bin`, 'y');
}

function contract(name: string, open: () => Promise<{ store: ObjectStore; cleanup: () => Promise<void> }>): void {
  describe(`catalog discovery over ${name}`, () => {
    let store: ObjectStore;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ store, cleanup } = await open());
      await fillCatalog(store);
    });
    after(async () => {
      await store.close();
      await cleanup();
    });

    test('listChildPrefixes lists the folders below a prefix, not their objects, bounded', async () => {
      assert.deepEqual(await store.listChildPrefixes!('', 100), { names: ['a', 'b', 'c'], truncated: false });
      assert.deepEqual(await store.listChildPrefixes!('', 2), { names: ['a', 'b'], truncated: true });
      assert.deepEqual(await store.listChildPrefixes!('c/runs/r1/', 3), { names: ['db=00000', 'db=00001', 'db=00002'], truncated: true });
      assert.equal((await store.listChildPrefixes!('c/runs/r1/', 100)).names.length, 40);
      assert.deepEqual(await store.listChildPrefixes!('nope/', 100), { names: [], truncated: false });
      await assert.rejects(store.listChildPrefixes!('a', 10), ConfigValidationError);
      await assert.rejects(store.listChildPrefixes!('', 0), ConfigValidationError);
      await assert.rejects(store.listChildPrefixes!('../', 10), ConfigValidationError);
    });

    test('a child store reads and lists below its prefix only', async () => {
      const c = childStore(store, 'c');
      assert.equal(c.url, `${store.url.replace(/\/$/, '')}/c`);
      assert.equal((await c.get('_CURRENT')).toString(), POINTER);
      assert.equal((await c.head('_CURRENT'))?.key, '_CURRENT');
      const keys = (await c.list('runs/r1/db=0000')).map((o) => o.key);
      assert.equal(keys.length, 10);
      assert.ok(keys.every((k) => k.startsWith('runs/r1/db=0000')));
      assert.equal(await c.head('../a/_CURRENT').catch((e: unknown) => e instanceof ConfigValidationError), true);
      assert.throws(() => childStore(store, 'x/y'), ConfigValidationError);
    });

    test('a catalog root: children with _CURRENT are collections; others skipped; bounded', async () => {
      const scan = await scanCatalog({ store });
      assert.equal(scan.mode, 'catalog');
      assert.deepEqual(scan.collections.map((c) => c.name), ['a', 'c']);
      const limited = await scanCatalog({ store, maxCollections: 1 });
      assert.deepEqual(limited.collections.map((c) => c.name), ['a']);
      assert.deepEqual(limited.skipped, [{ name: 'c', reason: 'over --max-collections 1' }]);
      const explicit = await scanCatalog({ store, collections: ['c', 'later'] });
      assert.equal(explicit.mode, 'explicit');
      assert.deepEqual(explicit.collections.map((c) => c.name), ['c', 'later']);
      await assert.rejects(scanCatalog({ store, collections: ['../x'] }), /--collections name/);
      await assert.rejects(scanCatalog({ store, maxCollections: 0 }), /--max-collections/);
    });

    test('a prefix holding _CURRENT is one collection named default (today\'s behaviour)', async () => {
      const a = childStore(store, 'a');
      const scan = await scanCatalog({ store: a });
      assert.equal(scan.mode, 'single');
      assert.equal(scan.rootHoldsCurrent, true);
      assert.deepEqual(scan.collections.map((c) => [c.name, c.store]), [['default', a]]);
      const empty = await scanCatalog({ store: childStore(store, 'nothing-here') });
      assert.equal(empty.mode, 'single');
      assert.equal(empty.rootHoldsCurrent, false);
    });
  });
}

contract('file://', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'sf-catalog-'));
  return { store: new FileObjectStore(root), cleanup: () => rm(root, { recursive: true, force: true }) };
});

let s3: S3rverHandle | undefined;
contract('S3 (s3rver)', async () => {
  s3 = await startS3rver();
  return { store: openObjectStore(s3.url('catalog-root'), s3.connection), cleanup: async () => s3?.stop() };
});

describe('FileObjectStore child listing specifics', () => {
  test('an invalid folder name is skipped by scans, files and links out of the root are not folders', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'sf-catalog-fs-'));
    const outside = await mkdtemp(path.join(tmpdir(), 'sf-catalog-out-'));
    try {
      await mkdir(path.join(root, 'Bad Name'), { recursive: true });
      await writeFile(path.join(root, 'Bad Name', '_CURRENT'), POINTER);
      await mkdir(path.join(root, 'ok'), { recursive: true });
      await writeFile(path.join(root, 'ok', '_CURRENT'), POINTER);
      await writeFile(path.join(root, 'file'), 'x');
      await symlink(outside, path.join(root, 'escape'));
      const store = new FileObjectStore(root);
      assert.deepEqual((await store.listChildPrefixes('', 100)).names, ['Bad Name', 'ok']);
      const scan = await scanCatalog({ store });
      assert.deepEqual(scan.collections.map((c) => c.name), ['ok']);
      assert.equal(scan.skipped[0]?.name, 'Bad Name');
    } finally {
      await rm(root, { recursive: true, force: true });
      await rm(outside, { recursive: true, force: true });
    }
  });

  test('CollectionCatalog reports collections added and removed between scans', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'sf-catalog-live-'));
    const store = new FileObjectStore(root);
    const changes: CatalogChange[] = [];
    const catalog = new CollectionCatalog({ store, log, onChange: (c) => changes.push(c) });
    try {
      await catalog.scan();
      // Empty root: served as today (the root as "default", waiting for a build).
      assert.deepEqual(changes.map((c) => [c.mode, c.added.map((x) => x.name), c.removed]), [['single', ['default'], []]]);
      await store.put('x/_CURRENT', POINTER);
      await store.put('y/_CURRENT', POINTER);
      await catalog.scan();
      assert.deepEqual([changes[1].mode, changes[1].added.map((x) => x.name), changes[1].removed], ['catalog', ['x', 'y'], ['default']]);
      await catalog.scan();
      assert.equal(changes.length, 2, 'an unchanged scan reports nothing');
      await store.put('z/_CURRENT', POINTER);
      await store.delete('x/_CURRENT');
      await catalog.scan();
      assert.deepEqual([changes[2].added.map((x) => x.name), changes[2].removed], [['z'], ['x']]);
      assert.deepEqual(catalog.collections().map((c) => c.name), ['y', 'z']);
      assert.equal(catalog.get('y')?.store.url, `${store.url}/y`);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('a scan asked for while one is running reads the root again after it (a collection published just before is seen)', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'sf-catalog-rescan-'));
    const store = new FileObjectStore(root);
    await store.put('x/_CURRENT', POINTER);
    let listings = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The first listing is held after it was read: the running (timed) scan saw the root before the publish.
    const held: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
      listChildPrefixes: async (prefix: string, max: number) => {
        const listing = await store.listChildPrefixes(prefix, max);
        if (++listings === 1) await gate;
        return listing;
      },
    });
    const catalog = new CollectionCatalog({ store: held, log, onChange: () => undefined });
    try {
      const timed = catalog.scan();
      while (listings === 0) await new Promise((r) => setTimeout(r, 5));
      await store.put('late/_CURRENT', POINTER);
      const asked = catalog.scan(); // e.g. Refresh with no collection, right after the publish
      const alsoAsked = catalog.scan();
      release();
      await Promise.all([timed, asked, alsoAsked]);
      assert.deepEqual(catalog.collections().map((c) => c.name), ['late', 'x']);
      assert.equal(listings, 2, 'the callers that arrived during the running scan share one more scan');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test('a root that holds _CURRENT stays single even when children with _CURRENT appear', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'sf-catalog-single-'));
    const store = new FileObjectStore(root);
    const changes: CatalogChange[] = [];
    const catalog = new CollectionCatalog({ store, log, onChange: (c) => changes.push(c) });
    try {
      await store.put('_CURRENT', POINTER);
      await store.put('sub/_CURRENT', POINTER);
      await catalog.scan();
      await catalog.scan();
      assert.equal(catalog.mode, 'single');
      assert.deepEqual(catalog.collections().map((c) => [c.name, c.store]), [['default', store]]);
      assert.equal(changes.length, 1);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

/** Children of the big root: more than one S3 listing page (1,000 entries). */
const BIG_CHILDREN = 1005;
/** The children holding `_CURRENT`: on the first page (c0003, c0998) and past it (c0999 on). */
const BIG_COLLECTIONS = ['c0003', 'c0998', 'c0999', 'c1002', 'c1004'];
/** PUTs in flight while filling the big root. */
const FILL_CONCURRENCY = 16;

/**
 * 1,005 children `c0000`..`c1004`, each with one tiny object, plus a root key `_ALIASES` that
 * sorts first: S3's first page holds `_ALIASES` and `c0000`..`c0998`, the second one the rest.
 */
async function fillBigCatalog(store: ObjectStore): Promise<string[]> {
  const names = Array.from({ length: BIG_CHILDREN }, (_, i) => `c${String(i).padStart(4, '0')}`);
  const limit = pLimit(FILL_CONCURRENCY);
  await Promise.all([
    limit(() => store.put('_ALIASES', '{}')),
    ...names.map((n) => limit(() => store.put(BIG_COLLECTIONS.includes(n) ? `${n}/_CURRENT` : `${n}/x`, BIG_COLLECTIONS.includes(n) ? POINTER : 'x'))),
  ]);
  return names;
}

function bigCatalog(name: string, open: () => Promise<{ store: ObjectStore; cleanup: () => Promise<void>; firstPage?: () => Promise<{ keyCount: number; truncated: boolean }> }>): void {
  describe(`a catalog root with ${BIG_CHILDREN} children over ${name}`, () => {
    let store: ObjectStore;
    let cleanup: () => Promise<void>;
    let firstPage: (() => Promise<{ keyCount: number; truncated: boolean }>) | undefined;
    let names: string[];
    before(async () => {
      ({ store, cleanup, firstPage } = await open());
      names = await fillBigCatalog(store);
    });
    after(async () => {
      await store.close();
      await cleanup();
    });

    if (name.startsWith('S3')) {
      test('the server pages the delimiter listing as S3 does (1,000 keys and prefixes a page)', async () => {
        assert.deepEqual(await firstPage!(), { keyCount: 1000, truncated: true });
      });
    }

    test('listChildPrefixes reads every page: all children, sorted, once each; the cap reports truncated', async () => {
      assert.deepEqual(await store.listChildPrefixes!('', 10_000), { names, truncated: false });
      assert.deepEqual(await store.listChildPrefixes!('', BIG_CHILDREN), { names, truncated: false });
      assert.deepEqual(await store.listChildPrefixes!('', 1000), { names: names.slice(0, 1000), truncated: true });
      assert.deepEqual(await store.listChildPrefixes!('', 999), { names: names.slice(0, 999), truncated: true });
      assert.deepEqual(await store.listChildPrefixes!('', BIG_CHILDREN - 1), { names: names.slice(0, -1), truncated: true });
    });

    test('a scan finds the collections past the first page; --max-collections keeps the first in name order', async () => {
      const scan = await scanCatalog({ store });
      assert.equal(scan.mode, 'catalog');
      assert.deepEqual(scan.collections.map((c) => c.name), BIG_COLLECTIONS);
      assert.deepEqual(scan.skipped, []);
      const capped = await scanCatalog({ store, maxCollections: 3 });
      assert.deepEqual(capped.collections.map((c) => c.name), BIG_COLLECTIONS.slice(0, 3));
      assert.deepEqual(capped.skipped, BIG_COLLECTIONS.slice(3).map((n) => ({ name: n, reason: 'over --max-collections 3' })));
    });
  });
}

bigCatalog('file://', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'sf-catalog-big-'));
  return { store: new FileObjectStore(root), cleanup: () => rm(root, { recursive: true, force: true }) };
});

bigCatalog('S3 (s3rver)', async () => {
  const server = await startS3rver();
  const client = new S3Client({ ...server.connection, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  const firstPage = async (): Promise<{ keyCount: number; truncated: boolean }> => {
    const page = await client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: 'big-root/', Delimiter: '/' }));
    return { keyCount: (page.Contents?.length ?? 0) + (page.CommonPrefixes?.length ?? 0), truncated: page.IsTruncated === true };
  };
  return {
    store: openObjectStore(server.url('big-root'), server.connection),
    firstPage,
    cleanup: async () => {
      client.destroy();
      await server.stop();
    },
  };
});
