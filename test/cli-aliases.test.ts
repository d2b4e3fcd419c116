/**
 * `shardfleet alias set | list | rm` through the real CLI process (bin/shardfleet.js) on a local
 * folder and on a real S3 server (s3rver): output, exit codes, the messages' flags and names, and
 * concurrent CLI processes that all land their alias.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { ALIASES_KEY, readAliases } from '../src/common/catalog/aliases.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import { runCli } from './helpers/run-cli.ts';
import { startS3rver, type S3rverHandle } from './helpers/s3rver.ts';

let s3: S3rverHandle | undefined;
const dirs: string[] = [];

before(async () => {
  s3 = await startS3rver();
});
after(async () => {
  await s3?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A catalog root folder holding the given collections (each a folder with `_CURRENT`). */
async function catalogFolder(collections: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shardfleet-cli-aliases-'));
  dirs.push(dir);
  const root = join(dir, 'catalog');
  for (const c of collections) {
    await mkdir(join(root, c), { recursive: true });
    await writeFile(join(root, c, '_CURRENT'), '{}');
  }
  await mkdir(root, { recursive: true });
  return root;
}

test('alias set / list / rm on a folder: output, --json, exit codes', async () => {
  const root = await catalogFolder(['items_v1', 'items_v2']);
  const url = pathToFileURL(root).href;

  const empty = await runCli(['alias', 'list', '--store', root]);
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout, `no aliases (no _ALIASES in ${url})\n`);

  const created = await runCli(['alias', 'set', 'items', 'items_v1', '--store', root]);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout, `alias items -> items_v1 (created) in _ALIASES in ${url}\n`);
  const switched = await runCli(['alias', 'set', 'items', 'items_v2', '--store', root]);
  assert.equal(switched.stdout, `alias items -> items_v2 (switched from items_v1) in _ALIASES in ${url}\n`);
  const same = await runCli(['alias', 'set', 'items', 'items_v2', '--store', root]);
  assert.equal(same.stdout, `alias items -> items_v2 (unchanged) in _ALIASES in ${url}\n`);
  const later = await runCli(['alias', 'set', 'next', 'items_v3', '--allow-missing', '--store', root]);
  assert.equal(later.code, 0, later.stderr);

  const stored = JSON.parse(await readFile(join(root, ALIASES_KEY), 'utf8')) as { format_version: number; aliases: Record<string, string> };
  assert.equal(stored.format_version, 1);
  assert.deepEqual(stored.aliases, { items: 'items_v2', next: 'items_v3' });

  const table = await runCli(['alias', 'list', '--store', root]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.deepEqual(lines.slice(0, 3), [
    'ALIAS  COLLECTION  STATUS',
    'items  items_v2    ok',
    'next   items_v3    collection items_v3 does not exist (no items_v3/_CURRENT)',
  ]);
  assert.match(lines[3], new RegExp(`^2 alias\\(es\\) in _ALIASES in ${url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, updated \\d{4}-`));

  const json = await runCli(['alias', 'list', '--json', '--store', root]);
  const parsed = JSON.parse(json.stdout) as { store: string; updated_at: string; aliases: unknown[] };
  assert.equal(parsed.store, url);
  assert.ok(!Number.isNaN(Date.parse(parsed.updated_at)));
  assert.deepEqual(parsed.aliases, [
    { alias: 'items', collection: 'items_v2', collection_exists: true, shadowed: false },
    { alias: 'next', collection: 'items_v3', collection_exists: false, shadowed: false },
  ]);

  const removed = await runCli(['alias', 'rm', 'next', '--store', root]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(removed.stdout, `removed alias next (was -> items_v3) from _ALIASES in ${url}\n`);
  const env = await runCli(['alias', 'list', '--json'], { SHARDFLEET_STORE: root });
  assert.deepEqual((JSON.parse(env.stdout) as { aliases: { alias: string }[] }).aliases.map((a) => a.alias), ['items'], 'SHARDFLEET_STORE is read');
});

test('alias errors name the argument, flag, collection and file, and exit 1 without writing', async () => {
  const root = await catalogFolder(['items_v1']);
  const url = pathToFileURL(root).href;
  const expectError = async (args: string[], message: string | RegExp): Promise<void> => {
    const res = await runCli(args);
    assert.equal(res.code, 1, `${args.join(' ')}: ${res.stdout}`);
    assert.equal(res.stdout, '');
    if (typeof message === 'string') assert.equal(res.stderr.trim(), message, args.join(' '));
    else assert.match(res.stderr, message, args.join(' '));
  };
  await expectError(
    ['alias', 'set', 'items', 'items_v9', '--store', root],
    `shardfleet: ConfigValidationError: collection "items_v9" does not exist in ${url} (no items_v9/_CURRENT); publish it first, or allow a missing collection (--allow-missing)`,
  );
  await expectError(
    ['alias', 'set', 'items_v1', 'items_v1', '--store', root],
    `shardfleet: ConfigValidationError: alias "items_v1" is the name of an existing collection in ${url}; an alias needs a name of its own`,
  );
  await expectError(['alias', 'set', 'a/b', 'items_v1', '--store', root], 'shardfleet: ConfigValidationError: <alias> "a/b" must be 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit');
  await expectError(['alias', 'set', 'items', '_CURRENT', '--store', root], /<collection> "_CURRENT" must be 1-64 characters/);
  await expectError(['alias', 'rm', 'nope', '--store', root], `shardfleet: ConfigValidationError: alias "nope" does not exist in _ALIASES in ${url}`);
  await expectError(['alias', 'set', 'items', 'items_v1'], /required option '--store <url>' not specified/);
  await expectError(['alias', 'list', '--store', join(root, 'missing')], /store folder .*missing does not exist \(--store .*missing\)/);
  assert.equal(await readFile(join(root, ALIASES_KEY)).catch(() => undefined), undefined, 'nothing written');

  await writeFile(join(root, ALIASES_KEY), JSON.stringify({ format_version: 1, aliases: { items: 'items_v1', x: 'items' }, updated_at: '2026-12-06T21:00:00.000Z' }));
  for (const args of [['alias', 'list', '--store', root], ['alias', 'set', 'y', 'items_v1', '--store', root]]) {
    await expectError(args, `shardfleet: ManifestParseError: _ALIASES in ${url} failed validation: aliases.x: points at "items", which is an alias (an alias must name a collection)`);
  }
});

/** Runs `alias set alias<i> <collection>` in `n` CLI processes at once and checks that every alias landed. */
async function concurrentSets(store: string, env: Record<string, string>, n: number): Promise<void> {
  const runs = await Promise.all(Array.from({ length: n }, (_, i) => runCli(['alias', 'set', `alias${i}`, i % 2 === 0 ? 'c1' : 'c2', '--store', store], env)));
  for (const [i, r] of runs.entries()) assert.equal(r.code, 0, `writer ${i}: ${r.stderr}`);
  const list = await runCli(['alias', 'list', '--json', '--store', store], env);
  assert.equal(list.code, 0, list.stderr);
  const got = (JSON.parse(list.stdout) as { aliases: { alias: string; collection: string }[] }).aliases;
  assert.deepEqual(
    got.map((a) => `${a.alias}=${a.collection}`),
    Array.from({ length: n }, (_, i) => `alias${i}=${i % 2 === 0 ? 'c1' : 'c2'}`).sort(),
  );
}

test('concurrent `alias set` processes of different aliases all land (folder)', async () => {
  const root = await catalogFolder(['c1', 'c2']);
  await concurrentSets(root, {}, 6);
});

test('alias set / list / rm on S3, and concurrent `alias set` processes all land', async () => {
  const handle = s3;
  if (handle === undefined) throw new Error('s3rver not started');
  const url = handle.url(`cli-aliases-${process.pid}/catalog`);
  const store = openObjectStore(url, handle.connection);
  try {
    for (const c of ['c1', 'c2']) await store.put(`${c}/_CURRENT`, '{}');
    await concurrentSets(url, handle.env, 6);
    const removed = await runCli(['alias', 'rm', 'alias0', '--store', url], handle.env);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, `removed alias alias0 (was -> c1) from _ALIASES in ${url}\n`);
    const missing = await runCli(['alias', 'set', 'x', 'c9', '--store', url], handle.env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, new RegExp(`collection "c9" does not exist in ${url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(no c9/_CURRENT\\)`));
    assert.deepEqual(Object.keys((await readAliases(store)).doc?.aliases ?? {}), ['alias1', 'alias2', 'alias3', 'alias4', 'alias5']);
  } finally {
    await store.close();
  }
});
