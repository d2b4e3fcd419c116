/**
 * Per-collection limits (issue 24, item 4): `--collection-limit <collection>:qps=..,burst=..,max_top_k=..`
 * parsing and checks. Their effect on requests is tested through real nodes in
 * test/collections-cluster.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCollectionLimits, collectCollectionLimit, parseCollectionLimit } from '../src/router/collection-limits.ts';

test('parseCollectionLimit: qps (a number > 0), burst and max_top_k (integers >= 1), in any order', () => {
  assert.deepEqual(parseCollectionLimit('items:qps=200,burst=400,max_top_k=100'), ['items', { rateLimitQps: 200, rateLimitBurst: 400, maxTopK: 100 }]);
  assert.deepEqual(parseCollectionLimit('users_v2:max_top_k=10'), ['users_v2', { maxTopK: 10 }]);
  assert.deepEqual(parseCollectionLimit('a.b-c:qps=0.5'), ['a.b-c', { rateLimitQps: 0.5 }]);
});

test('parseCollectionLimit: each malformed value is refused naming --collection-limit and the bad part', () => {
  const cases: Array<[string, RegExp]> = [
    ['items', /--collection-limit "items" must be <collection>:<key>=<value>/],
    [':qps=1', /--collection-limit collection "" is empty/],
    ['../x:qps=1', /--collection-limit collection "\.\.\/x" must be 1-64 characters/],
    ['items:rps=1', /"rps=1" is not <key>=<value> with a key of qps, burst, max_top_k/],
    ['items:qps', /"qps" is not <key>=<value>/],
    ['items:qps=0', /qps must be a number > 0, got "0"/],
    ['items:qps=', /qps must be a number > 0, got ""/],
    ['items:max_top_k=2.5', /max_top_k must be an integer >= 1, got "2.5"/],
    ['items:burst=0,qps=1', /burst must be an integer >= 1, got "0"/],
    ['items:burst=4', /burst needs qps/],
    ['items:qps=1,qps=2', /qps is given twice/],
  ];
  for (const [spec, re] of cases) assert.throws(() => parseCollectionLimit(spec), re, spec);
});

test('collectCollectionLimit: repeated flags and ";"-separated values make one table; a collection given twice is refused', () => {
  let t = collectCollectionLimit('items:qps=5');
  t = collectCollectionLimit('users:max_top_k=7; kv:qps=1,burst=2', t);
  assert.deepEqual(t, { items: { rateLimitQps: 5 }, users: { maxTopK: 7 }, kv: { rateLimitQps: 1, rateLimitBurst: 2 } });
  assert.throws(() => collectCollectionLimit('items:max_top_k=3', t), /gives collection "items" twice/);
});

test('checkCollectionLimits: max_top_k above the router-wide --max-top-k, and values out of range, are refused', () => {
  checkCollectionLimits({ items: { maxTopK: 100, rateLimitQps: 2, rateLimitBurst: 4 } }, 1000);
  assert.throws(() => checkCollectionLimits({ items: { maxTopK: 2000 } }, 1000), /--collection-limit items: max_top_k must be an integer in 1\.\.1000 \(--max-top-k\), got 2000/);
  assert.throws(() => checkCollectionLimits({ items: { rateLimitQps: -1 } }, 1000), /qps must be a number > 0, got -1/);
  assert.throws(() => checkCollectionLimits({ 'bad/name': {} }, 1000), /--collection-limit collection "bad\/name"/);
});
