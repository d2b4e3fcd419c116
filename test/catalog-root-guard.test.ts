/**
 * `build` and `publish` refuse a catalog root (issue 24): a `--store` whose child prefixes hold
 * `_CURRENT` (collections) or that holds `_ALIASES` never gets a run or a `_CURRENT` of its own,
 * through the real CLI process on a local folder, and the guard itself on a real S3 server.
 * A collection's own prefix and a fresh prefix still build.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertNotCatalogRoot } from '../src/common/catalog/catalog-root-guard.ts';
import { ConfigValidationError } from '../src/common/errors.ts';
import { S3ObjectStore } from '../src/common/storage/s3-object-store.ts';
import { TINY_JSONL } from './helpers/fixtures.ts';
import { runCli } from './helpers/run-cli.ts';
import { startS3rver, type S3rverHandle } from './helpers/s3rver.ts';

let dir: string;
let s3: S3rverHandle | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shardfleet-root-guard-'));
});
after(async () => {
  await s3?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A folder holding `children` (each a folder with a `_CURRENT`) and the given top-level files. */
async function folder(name: string, children: string[], files: Record<string, string> = {}): Promise<string> {
  const root = join(dir, name);
  await mkdir(root, { recursive: true });
  for (const c of children) {
    await mkdir(join(root, c), { recursive: true });
    await writeFile(join(root, c, '_CURRENT'), '{}');
  }
  for (const [f, body] of Object.entries(files)) await writeFile(join(root, f), body);
  return root;
}

test('build, build --plan and publish at a catalog root fail naming --store and its collections, and write nothing', async () => {
  const root = await folder('catalog', ['items', 'users']);
  const before = (await readdir(root)).sort();
  for (const args of [
    ['build', '--store', root, '--input', TINY_JSONL, '--num-dbs', '2', '--no-progress'],
    ['build', '--store', root, '--input', TINY_JSONL, '--num-dbs', '2', '--plan', '--no-progress'],
    ['publish', '--store', root, '--run-id', 'r1'],
  ]) {
    const r = await runCli(args);
    assert.notEqual(r.code, 0, `${args.join(' ')}: ${r.stdout}`);
    assert.match(r.stderr, /--store \S*\/catalog is a catalog root \(it holds the collections items, users\).*--store .*catalog\/<collection>/, args.join(' '));
    assert.deepEqual((await readdir(root)).sort(), before, `${args[0]} wrote nothing under the root`);
  }
});

test('a root holding only _ALIASES is refused too; a fresh prefix inside the root (a new collection) builds', async () => {
  const root = await folder('aliases-only', [], { _ALIASES: '{"format_version":1,"aliases":{}}' });
  const r = await runCli(['build', '--store', root, '--input', TINY_JSONL, '--num-dbs', '2', '--no-progress']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /is a catalog root \(it holds _ALIASES\)/);
  const ok = await runCli(['build', '--store', join(root, 'fresh'), '--input', TINY_JSONL, '--num-dbs', '2', '--no-progress']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok((await readdir(join(root, 'fresh'))).includes('_CURRENT'));
  // That prefix now holds _CURRENT: a rebuild of it is a new run, not a catalog root (its run folders are not collections).
  const again = await runCli(['build', '--store', join(root, 'fresh'), '--input', TINY_JSONL, '--num-dbs', '2', '--no-progress']);
  assert.equal(again.code, 0, again.stderr);
});

test('the guard on S3 (s3rver): a root with a collection is refused, an empty prefix and a snapshot prefix pass', async () => {
  s3 = await startS3rver();
  const root = new S3ObjectStore({ bucket: s3.bucket, prefix: 'guard/root', connection: s3.connection });
  try {
    await assertNotCatalogRoot(root, '--store');
    await root.put('items/_CURRENT', '{}');
    await assert.rejects(assertNotCatalogRoot(root, '--store'), (err: unknown) => err instanceof ConfigValidationError && /--store s3:\/\/.*guard\/root is a catalog root \(it holds the collections items\)/.test(err.message));
    await root.put('_CURRENT', '{}');
    await assertNotCatalogRoot(root, '--store');
  } finally {
    await root.close();
  }
});
