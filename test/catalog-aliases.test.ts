/**
 * Catalog aliases (src/common/catalog/aliases.ts): `_ALIASES` at a catalog root, changed by
 * conditional writes with a bounded retry, and the AliasTable a router polls. Every behaviour on
 * a file:// store in a temp folder and on a real S3 server (s3rver in a child process).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  ALIASES_KEY,
  AliasTable,
  MAX_ALIASES,
  MAX_ALIASES_BYTES,
  aliasStatuses,
  applyAliasChanges,
  parseAliases,
  readAliases,
  updateAliases,
  type AliasChange,
} from '../src/common/catalog/aliases.ts';
import { ConfigValidationError, ManifestParseError, PreconditionFailedError } from '../src/common/errors.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import type { ObjectStore, PutCondition, ReadLimits } from '../src/common/storage/object-store.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { DelegatingStore } from './helpers/delegating-store.ts';
import { startS3rver, type S3rverHandle } from './helpers/s3rver.ts';

/** A backend: opens a fresh empty catalog root, and more store instances on the same root. */
interface Backend {
  name: string;
  /** A fresh root; `again()` opens another independent store instance (own client) on it. */
  open(): Promise<{ store: ObjectStore; again: () => ObjectStore }>;
}

let s3: S3rverHandle | undefined;
const dirs: string[] = [];
let seq = 0;

const fileBackend: Backend = {
  name: 'file',
  async open() {
    const dir = await mkdtemp(join(tmpdir(), 'shardfleet-aliases-'));
    dirs.push(dir);
    const root = join(dir, 'catalog');
    return { store: new FileObjectStore(root), again: () => new FileObjectStore(root) };
  },
};
const s3Backend: Backend = {
  name: 's3',
  async open() {
    const handle = s3;
    if (handle === undefined) throw new Error('s3rver not started');
    const url = handle.url(`aliases-${process.pid}-${seq++}/catalog`);
    return { store: openObjectStore(url, handle.connection), again: () => openObjectStore(url, handle.connection) };
  },
};

before(async () => {
  s3 = await startS3rver();
});
after(async () => {
  await s3?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Publishes a stand-in collection: `<name>/_CURRENT` (only its existence matters to aliases). */
async function addCollection(store: ObjectStore, name: string): Promise<void> {
  await store.put(`${name}/_CURRENT`, JSON.stringify({ format_version: 1, manifest_ref: 'manifests/x/manifest.json', run_id: 'r', published_at: new Date().toISOString() }));
}

const set = (alias: string, collection: string): AliasChange => ({ kind: 'set', alias, collection });
const remove = (alias: string): AliasChange => ({ kind: 'remove', alias });

/** A store whose putIf of `_ALIASES` first lets `intruder` run (another writer winning the race), `times` times. */
class RacedStore extends DelegatingStore {
  raced = 0;
  constructor(
    inner: ObjectStore,
    private readonly times: number,
    private readonly intruder: (n: number) => Promise<void>,
  ) {
    super(inner);
  }
  override async putIf(key: string, body: Buffer | string, condition: PutCondition): Promise<void> {
    if (key === ALIASES_KEY && this.raced < this.times) {
      this.raced++;
      await this.intruder(this.raced);
    }
    return super.putIf(key, body, condition);
  }
}

/** A store that counts gets of `_ALIASES`. */
class CountingStore extends DelegatingStore {
  gets = 0;
  override get(key: string, limits?: ReadLimits): Promise<Buffer> {
    if (key === ALIASES_KEY) this.gets++;
    return super.get(key, limits);
  }
}

for (const backend of [fileBackend, s3Backend]) {
  describe(`catalog aliases on ${backend.name}`, () => {
    test('set creates _ALIASES, switches, leaves an unchanged table unwritten; rm removes; the stored object is the documented JSON', async () => {
      const { store } = await backend.open();
      try {
        await addCollection(store, 'items_v1');
        await addCollection(store, 'items_v2');
        await addCollection(store, 'users_v1');
        assert.deepEqual(await readAliases(store), { doc: undefined, etag: undefined });

        const created = await updateAliases(store, [set('items', 'items_v1')], { now: () => new Date('2026-12-06T21:00:00.000Z') });
        assert.deepEqual(created, { before: {}, after: { items: 'items_v1' }, changed: true, attempts: 1 });
        const stored = JSON.parse((await store.get(ALIASES_KEY)).toString('utf8')) as unknown;
        assert.deepEqual(stored, { format_version: 1, aliases: { items: 'items_v1' }, updated_at: '2026-12-06T21:00:00.000Z' });

        await updateAliases(store, [set('users', 'users_v1')]);
        const switched = await updateAliases(store, [set('items', 'items_v2')]);
        assert.deepEqual(switched.before, { items: 'items_v1', users: 'users_v1' });
        assert.deepEqual(switched.after, { items: 'items_v2', users: 'users_v1' });

        const etag = (await store.head(ALIASES_KEY))?.etag;
        const same = await updateAliases(store, [set('items', 'items_v2')]);
        assert.equal(same.changed, false);
        assert.equal((await store.head(ALIASES_KEY))?.etag, etag, 'an unchanged table is not written');

        const removed = await updateAliases(store, [remove('users')]);
        assert.deepEqual(removed.after, { items: 'items_v2' });
        const read = await readAliases(store);
        assert.deepEqual(read.doc?.aliases, { items: 'items_v2' });
        assert.equal(read.etag, (await store.head(ALIASES_KEY))?.etag);

        await assert.rejects(
          updateAliases(store, [remove('users')]),
          (err: Error) => err instanceof ConfigValidationError && err.message === `alias "users" does not exist in _ALIASES in ${store.url}`,
        );
        // Removing the last alias leaves an empty table, not a missing object.
        await updateAliases(store, [remove('items')]);
        assert.deepEqual((await readAliases(store)).doc?.aliases, {});
      } finally {
        await store.close();
      }
    });

    test('several changes are one write: a reader sees all of them or none', async () => {
      const { store } = await backend.open();
      try {
        for (const c of ['a1', 'a2', 'b1', 'b2']) await addCollection(store, c);
        await updateAliases(store, [set('a', 'a1'), set('b', 'b1')]);
        const before = (await store.head(ALIASES_KEY))?.etag;
        const res = await updateAliases(store, [set('a', 'a2'), set('b', 'b2'), set('c', 'a1')]);
        assert.equal(res.attempts, 1);
        assert.notEqual((await store.head(ALIASES_KEY))?.etag, before);
        assert.deepEqual((await readAliases(store)).doc?.aliases, { a: 'a2', b: 'b2', c: 'a1' });
        // A batch with one bad change writes nothing.
        const etag = (await store.head(ALIASES_KEY))?.etag;
        await assert.rejects(updateAliases(store, [set('d', 'a1'), remove('nope')]), /alias "nope" does not exist/);
        assert.equal((await store.head(ALIASES_KEY))?.etag, etag);
        assert.deepEqual(Object.keys((await readAliases(store)).doc?.aliases ?? {}), ['a', 'b', 'c']);
      } finally {
        await store.close();
      }
    });

    test('rules: no alias named like a collection, the target must exist (unless allowMissing), one level only, valid names', async () => {
      const { store } = await backend.open();
      try {
        await addCollection(store, 'items_v1');
        await assert.rejects(
          updateAliases(store, [set('items_v1', 'items_v1')]),
          (err: Error) => err instanceof ConfigValidationError && err.message.startsWith(`alias "items_v1" is the name of an existing collection in ${store.url}`),
        );
        await assert.rejects(
          updateAliases(store, [set('items', 'items_v9')]),
          (err: Error) =>
            err instanceof ConfigValidationError &&
            err.message === `collection "items_v9" does not exist in ${store.url} (no items_v9/_CURRENT); publish it first, or allow a missing collection (--allow-missing)`,
        );
        assert.equal(await store.head(ALIASES_KEY), undefined, 'nothing written');
        const allowed = await updateAliases(store, [set('items', 'items_v9')], { allowMissing: true });
        assert.deepEqual(allowed.after, { items: 'items_v9' });
        // The collection rule holds with allowMissing too.
        await assert.rejects(updateAliases(store, [set('items_v1', 'x')], { allowMissing: true }), /is the name of an existing collection/);

        await updateAliases(store, [set('items', 'items_v1')]);
        // An alias cannot point at an alias, and an alias's target cannot become an alias.
        await assert.rejects(
          updateAliases(store, [set('things', 'items')], { allowMissing: true }),
          (err: Error) => err instanceof ConfigValidationError && err.message.includes('alias "things" would point at "items", which is an alias') && err.message.includes(ALIASES_KEY),
        );
        await assert.rejects(updateAliases(store, [set('x', 'x')], { allowMissing: true }), /alias "x" would point at "x", which is an alias/);
        await updateAliases(store, [set('latest', 'v1')], { allowMissing: true });
        await assert.rejects(updateAliases(store, [set('v1', 'items_v1')]), /alias "latest" would point at "v1", which is an alias/);

        for (const bad of ['', '_CURRENT', 'a/b', '..', 'x'.repeat(65)]) {
          await assert.rejects(updateAliases(store, [set(bad, 'items_v1')]), (err: Error) => err instanceof ConfigValidationError && err.message.startsWith('alias '), bad);
          await assert.rejects(updateAliases(store, [set('ok', bad)]), (err: Error) => err instanceof ConfigValidationError && err.message.startsWith('collection '), bad);
        }
        await assert.rejects(updateAliases(store, []), /no alias change given/);
        assert.deepEqual((await readAliases(store)).doc?.aliases, { items: 'items_v1', latest: 'v1' });
      } finally {
        await store.close();
      }
    });

    test('a single-snapshot root (its own _CURRENT) is the collection "default"', async () => {
      const { store } = await backend.open();
      try {
        await assert.rejects(updateAliases(store, [set('main', 'default')]), /collection "default" does not exist/);
        await addCollection(store, 'x');
        await store.put('_CURRENT', '{}');
        assert.deepEqual((await updateAliases(store, [set('main', 'default')])).after, { main: 'default' });
        await assert.rejects(updateAliases(store, [set('default', 'x')]), /alias "default" is the name of an existing collection/);
      } finally {
        await store.close();
      }
    });

    test('a lost race re-reads, re-applies and retries: the other writer\'s change stays', async () => {
      const { store, again } = await backend.open();
      const other = again();
      for (const c of ['a1', 'b1', 'c1']) await addCollection(store, c);
      const raced = new RacedStore(store, 2, async (n) => {
        await updateAliases(other, [set(`other${n}`, 'b1')]);
      });
      try {
        const res = await updateAliases(raced, [set('a', 'a1')]);
        assert.equal(res.attempts, 3, 'two lost races, then the write');
        assert.equal(raced.raced, 2);
        assert.deepEqual((await readAliases(store)).doc?.aliases, { a: 'a1', other1: 'b1', other2: 'b1' });
        // A race that creates _ALIASES first (If-None-Match lost) is retried too.
        const { store: fresh, again: freshAgain } = await backend.open();
        const freshOther = freshAgain();
        await addCollection(fresh, 'a1');
        const racedFresh = new RacedStore(fresh, 1, async () => {
          await updateAliases(freshOther, [set('first', 'a1')]);
        });
        assert.equal((await updateAliases(racedFresh, [set('second', 'a1')])).attempts, 2);
        assert.deepEqual((await readAliases(fresh)).doc?.aliases, { first: 'a1', second: 'a1' });
        await fresh.close();
        await freshOther.close();
      } finally {
        await store.close();
        await other.close();
      }
    });

    test('a remove that another writer already did fails on the retry; every attempt lost gives up with a clear error', async () => {
      const { store, again } = await backend.open();
      const other = again();
      try {
        await addCollection(store, 'c1');
        await updateAliases(store, [set('x', 'c1'), set('y', 'c1')]);
        const racedRemove = new RacedStore(store, 1, async () => {
          await updateAliases(other, [remove('x')]);
        });
        await assert.rejects(updateAliases(racedRemove, [remove('x')]), /alias "x" does not exist in _ALIASES/);

        const always = new RacedStore(store, Number.POSITIVE_INFINITY, async (n) => {
          await updateAliases(other, [set(`w${n}`, 'c1')]);
        });
        await assert.rejects(
          updateAliases(always, [set('z', 'c1')], { maxAttempts: 3 }),
          (err: Error) =>
            err instanceof PreconditionFailedError &&
            err.message === `conditional write of _ALIASES failed: other writers changed _ALIASES in ${store.url} during each of 3 attempts; nothing was changed, try again`,
        );
        assert.deepEqual((await readAliases(store)).doc?.aliases, { w1: 'c1', w2: 'c1', w3: 'c1', y: 'c1' });
      } finally {
        await store.close();
        await other.close();
      }
    });

    test('concurrent writers (own store instances) setting different aliases all land', async () => {
      const { store, again } = await backend.open();
      const writers = Array.from({ length: 8 }, () => again());
      try {
        await addCollection(store, 'c1');
        await addCollection(store, 'c2');
        const results = await Promise.all(writers.map((w, i) => updateAliases(w, [set(`alias${i}`, i % 2 === 0 ? 'c1' : 'c2')])));
        const expected: Record<string, string> = {};
        for (let i = 0; i < writers.length; i++) expected[`alias${i}`] = i % 2 === 0 ? 'c1' : 'c2';
        assert.deepEqual((await readAliases(store)).doc?.aliases, expected);
        assert.ok(results.every((r) => r.changed));
        // Attempts: each lost race means another writer's write landed, so at most 8.
        assert.ok(results.every((r) => r.attempts >= 1 && r.attempts <= writers.length), JSON.stringify(results.map((r) => r.attempts)));
      } finally {
        await store.close();
        for (const w of writers) await w.close();
      }
    });

    test('a malformed _ALIASES: errors name the object and the zod issue path; writers do not overwrite it', async () => {
      const { store } = await backend.open();
      try {
        await addCollection(store, 'c1');
        const cases: [string, RegExp][] = [
          ['{not json', /^_ALIASES in .* is not valid JSON/],
          [JSON.stringify({ format_version: 2, aliases: {}, updated_at: '2026-12-06T21:00:00.000Z' }), /failed validation: format_version: /],
          [JSON.stringify({ format_version: 1, aliases: { 'a/b': 'c1' }, updated_at: '2026-12-06T21:00:00.000Z' }), /failed validation: aliases\.a\/b: /],
          [JSON.stringify({ format_version: 1, aliases: { a: 'c1', b: 'a' }, updated_at: '2026-12-06T21:00:00.000Z' }), /aliases\.b: points at "a", which is an alias/],
          [JSON.stringify({ format_version: 1, aliases: { a: 7 }, updated_at: '2026-12-06T21:00:00.000Z' }), /aliases\.a: /],
          [JSON.stringify({ format_version: 1, aliases: {}, updated_at: 'yesterday' }), /updated_at: /],
          [JSON.stringify({ format_version: 1, aliases: {}, updated_at: '2026-12-06T21:00:00.000Z', extra: 1 }), /failed validation: .*extra/],
        ];
        for (const [body, expected] of cases) {
          await store.put(ALIASES_KEY, body);
          await assert.rejects(readAliases(store), (err: Error) => err instanceof ManifestParseError && err.message.startsWith(`_ALIASES in ${store.url}`) && expected.test(err.message), body);
          await assert.rejects(updateAliases(store, [set('z', 'c1')]), (err: Error) => err instanceof ManifestParseError && expected.test(err.message), body);
          assert.equal((await store.get(ALIASES_KEY)).toString('utf8'), body, 'not overwritten');
        }
      } finally {
        await store.close();
      }
    });

    test('bounds: more than 1 MiB is refused unread; at most 1000 aliases', async () => {
      const { store } = await backend.open();
      try {
        await store.put(ALIASES_KEY, Buffer.alloc(MAX_ALIASES_BYTES + 1, 0x20));
        await assert.rejects(
          readAliases(store),
          (err: Error) => err instanceof ManifestParseError && err.message === `_ALIASES in ${store.url} is ${MAX_ALIASES_BYTES + 1} bytes, more than the ${MAX_ALIASES_BYTES} bytes an alias table may have`,
        );
        const many = Array.from({ length: MAX_ALIASES + 1 }, (_, i) => set(`a${i}`, 'c'));
        await assert.rejects(updateAliases(store, many, { allowMissing: true }), /1001 alias changes in one write, at most 1000/);
      } finally {
        await store.close();
      }
    });

    test('AliasTable: reads only when the etag changed, keeps the last good table on a malformed or oversized object, empty when removed', async () => {
      const { store } = await backend.open();
      const counting = new CountingStore(store);
      const table = new AliasTable(counting);
      try {
        await addCollection(store, 'c1');
        await addCollection(store, 'c2');
        assert.deepEqual(await table.refresh(), { changed: true, error: undefined });
        assert.deepEqual(table.entries(), []);
        assert.equal(counting.gets, 0, 'no _ALIASES: nothing read');

        await updateAliases(store, [set('b', 'c2'), set('a', 'c1')]);
        assert.deepEqual(await table.refresh(), { changed: true, error: undefined });
        assert.deepEqual(table.entries(), [['a', 'c1'], ['b', 'c2']]);
        assert.equal(table.resolve('a'), 'c1');
        assert.equal(table.resolve('c1'), undefined, 'a collection is no alias');
        assert.equal(table.etag, (await store.head(ALIASES_KEY))?.etag);
        assert.ok(table.updatedAt);
        assert.equal(counting.gets, 1);
        assert.deepEqual(await table.refresh(), { changed: false, error: undefined });
        assert.equal(counting.gets, 1, 'same etag: not read again');

        await store.put(ALIASES_KEY, JSON.stringify({ format_version: 1, aliases: { a: 'c2', x: 'a' }, updated_at: '2026-12-06T21:00:00.000Z' }));
        const bad = await table.refresh();
        assert.equal(bad.changed, false);
        assert.match(bad.error ?? '', /^_ALIASES in .* failed validation: aliases\.x: points at "a", which is an alias/);
        assert.equal(table.lastError, bad.error);
        assert.equal(table.resolve('a'), 'c1', 'the last good table stays');
        assert.equal(counting.gets, 2);
        assert.equal((await table.refresh()).error, bad.error, 'still reported');
        assert.equal(counting.gets, 2, 'a malformed object is not read again until it changes');

        await store.put(ALIASES_KEY, Buffer.alloc(MAX_ALIASES_BYTES + 10, 0x20));
        assert.match((await table.refresh()).error ?? '', /more than the 1048576 bytes an alias table may have/);
        assert.equal(table.resolve('b'), 'c2');

        await updateAliases(store, [set('a', 'c2')]).catch(() => undefined); // refused: malformed; rewrite by hand
        await store.put(ALIASES_KEY, JSON.stringify({ format_version: 1, aliases: { a: 'c2' }, updated_at: '2026-12-06T21:05:00.000Z' }));
        assert.deepEqual(await table.refresh(), { changed: true, error: undefined });
        assert.equal(table.lastError, undefined);
        assert.deepEqual(table.entries(), [['a', 'c2']]);
        assert.equal(table.updatedAt, '2026-12-06T21:05:00.000Z');

        await store.delete(ALIASES_KEY);
        assert.deepEqual(await table.refresh(), { changed: true, error: undefined });
        assert.deepEqual(table.entries(), []);
        assert.equal(table.etag, undefined);
        assert.deepEqual(await table.refresh(), { changed: false, error: undefined });
      } finally {
        await store.close();
      }
    });

    test('aliasStatuses: whether each collection exists and whether a collection of the alias\'s name hides it', async () => {
      const { store } = await backend.open();
      try {
        await addCollection(store, 'c1');
        await updateAliases(store, [set('a', 'c1'), set('b', 'gone'), set('late', 'c1')], { allowMissing: true });
        await addCollection(store, 'late'); // published after the alias was set
        assert.deepEqual(await aliasStatuses(store, (await readAliases(store)).doc?.aliases ?? {}), [
          { alias: 'a', collection: 'c1', collectionExists: true, shadowed: false },
          { alias: 'b', collection: 'gone', collectionExists: false, shadowed: false },
          { alias: 'late', collection: 'c1', collectionExists: true, shadowed: true },
        ]);
      } finally {
        await store.close();
      }
    });
  });
}

test('AliasTable keeps its table when the store fails, and reads again once it answers', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shardfleet-aliases-'));
  dirs.push(dir);
  const store = new FileObjectStore(join(dir, 'catalog'));
  await addCollection(store, 'c1');
  await updateAliases(store, [set('a', 'c1')]);
  let failing = false;
  const flaky = new (class extends DelegatingStore {
    override head(key: string) {
      if (failing) return Promise.reject(new Error('connection reset'));
      return super.head(key);
    }
  })(store);
  const table = new AliasTable(flaky);
  await table.refresh();
  failing = true;
  const res = await table.refresh();
  assert.equal(res.error, `reading _ALIASES in ${store.url} failed: connection reset`);
  assert.equal(table.resolve('a'), 'c1');
  failing = false;
  assert.deepEqual(await table.refresh(), { changed: false, error: undefined });
  assert.equal(table.lastError, undefined, 'a good read clears the error');
});

test('applyAliasChanges and parseAliases bound the table at 1000 aliases', () => {
  const full: Record<string, string> = {};
  for (let i = 0; i < MAX_ALIASES; i++) full[`a${i}`] = 'c';
  assert.equal(Object.keys(applyAliasChanges(full, [set('a0', 'd')], '_ALIASES')).length, MAX_ALIASES, 'switching within the bound is fine');
  assert.throws(() => applyAliasChanges(full, [set('one-more', 'c')], '_ALIASES in s3://b/root'), /_ALIASES in s3:\/\/b\/root would hold 1001 aliases, more than the 1000 allowed/);
  const doc = { format_version: 1, aliases: { ...full, 'one-more': 'c' }, updated_at: '2026-12-06T21:00:00.000Z' };
  assert.throws(() => parseAliases(JSON.stringify(doc), '_ALIASES in x'), /failed validation: aliases: holds 1001 aliases, at most 1000/);
  assert.equal(Object.keys(parseAliases(JSON.stringify({ ...doc, aliases: full }), '_ALIASES in x').aliases).length, MAX_ALIASES);
});

test('AliasTable.refresh called while a refresh is in flight reads _ALIASES again after it: a change written before the call is seen (Refresh right after `alias set`)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'shardfleet-aliases-'));
  dirs.push(dir);
  const store = new FileObjectStore(join(dir, 'catalog'));
  await addCollection(store, 'c1');
  await addCollection(store, 'c2');
  await updateAliases(store, [set('live', 'c1')]);
  // The first head of `_ALIASES` (a router's periodic poll) answers what it read only once
  // released: it has seen the old table's etag before the switch below was written.
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  let heads = 0;
  let gate = false;
  const slow = new (class extends DelegatingStore {
    override async head(key: string) {
      const info = await super.head(key);
      if (key === ALIASES_KEY) heads++;
      if (key === ALIASES_KEY && gate) {
        gate = false;
        await released;
      }
      return info;
    }
  })(store);
  const table = new AliasTable(slow);
  await table.refresh();
  assert.equal(table.resolve('live'), 'c1');
  gate = true;
  const poll = table.refresh(); // in flight: its head saw the c1 table
  await new Promise((resolve) => setImmediate(resolve));
  await updateAliases(store, [set('live', 'c2')]);
  const refresh = table.refresh(); // the Refresh RPC after the write
  release();
  await poll;
  assert.deepEqual(await refresh, { changed: true, error: undefined });
  assert.equal(table.resolve('live'), 'c2', 'a refresh asked for after the write returns the table written');
  // Callers that arrive while a refresh runs share the one read that waits for it: two heads.
  const headsBefore = heads;
  const calls = [table.refresh(), table.refresh(), table.refresh()];
  assert.notEqual(calls[0], calls[1]);
  assert.equal(calls[1], calls[2], 'the second and third call share the waiting refresh');
  for (const r of await Promise.all(calls)) assert.deepEqual(r, { changed: false, error: undefined });
  assert.equal(heads - headsBefore, 2);
  assert.equal(table.resolve('live'), 'c2');
});
