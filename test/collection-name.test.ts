/**
 * Collection and alias name syntax (src/common/catalog/collection-name.ts): 1-64 characters of
 * `[A-Za-z0-9_.-]` starting with a letter or digit, so a name is one path segment and never an
 * internal `_` key; errors name what the name is and quote it (bounded).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  COLLECTION_NAME_RE,
  DEFAULT_COLLECTION,
  MAX_COLLECTION_NAME_CHARS,
  assertCollectionName,
  collectionNameProblem,
} from '../src/common/catalog/collection-name.ts';
import { ConfigValidationError } from '../src/common/errors.ts';

test('valid names: letters, digits, _ . - after a leading letter or digit, up to 64 characters', () => {
  for (const name of ['a', 'Z', '7', 'items', 'items_v7', 'items.2026-12', 'A-b_c.d', '0abc', 'x'.repeat(MAX_COLLECTION_NAME_CHARS), DEFAULT_COLLECTION]) {
    assert.equal(collectionNameProblem(name), undefined, name);
    assert.doesNotThrow(() => assertCollectionName(name, '--collection'));
    assert.ok(COLLECTION_NAME_RE.test(name), name);
  }
});

test('invalid names and why: empty, too long, a path, a leading _ . or -, other characters', () => {
  assert.equal(collectionNameProblem(''), 'is empty');
  assert.equal(collectionNameProblem('x'.repeat(65)), 'is 65 characters long (at most 64)');
  const syntax = 'must be 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit';
  for (const name of ['_CURRENT', '_ALIASES', '.', '..', '.hidden', '-x', 'a/b', 'a b', 'a\\b', 'é', 'a:b', 'a\0', 'items/']) {
    assert.equal(collectionNameProblem(name), syntax, JSON.stringify(name));
  }
});

test('assertCollectionName names what the name is and quotes a bounded prefix of it', () => {
  assert.throws(
    () => assertCollectionName('a/b', '--collection'),
    (err: Error) => err instanceof ConfigValidationError && err.message === `--collection "a/b" must be 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit`,
  );
  assert.throws(() => assertCollectionName('', '<alias>'), (err: Error) => err instanceof ConfigValidationError && err.message === '<alias> "" is empty');
  const long = 'y'.repeat(10_000);
  assert.throws(
    () => assertCollectionName(long, 'collection'),
    (err: Error) => err instanceof ConfigValidationError && err.message.startsWith('collection "yyy') && err.message.includes('more characters') && err.message.length < 400,
  );
});
