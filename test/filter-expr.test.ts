/**
 * Search filters (issue 15), unit level: the CEL filter compiler (accepted subset, type checks,
 * errors naming the column or construct and its offset), three-valued evaluation with NULLs, the
 * per-shard statistics and what they rule out, and filter-aware routing (skipped shards, probing
 * on down the probe order until num_probes shards that can match).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter } from '../src/common/filter/cel-filter.ts';
import { FilterStatsBuilder, matchesFilter, shardMayMatch, filterValueOf, type FilterColumn, type FilterExpr } from '../src/common/filter/filter-expr.ts';
import { InvalidQueryError } from '../src/common/errors.ts';
import type { Manifest } from '../src/common/manifest.ts';
import type { ShardRouting } from '../src/common/routing/shard-routing.ts';
import { routeFiltered } from '../src/router/filter-routing.ts';
import type { RouterSnapshot } from '../src/router/router-snapshot.ts';

const COLUMNS: FilterColumn[] = [
  { name: 'label', type: 'string' },
  { name: 'n', type: 'int' },
  { name: 'price', type: 'float' },
  { name: 'ok', type: 'bool' },
];

function compile(text: string): FilterExpr {
  const f = compileFilter(text, COLUMNS);
  assert.ok(f);
  return f;
}

test('compiles the supported subset; literals on the left are flipped; int literals compare with float columns', () => {
  assert.deepEqual(compile('label == "shirt" && n >= 3'), {
    op: 'and',
    args: [
      { op: 'cmp', column: 'label', cmp: '==', value: 'shirt' },
      { op: 'cmp', column: 'n', cmp: '>=', value: 3 },
    ],
  });
  assert.deepEqual(compile('3 < n'), { op: 'cmp', column: 'n', cmp: '>', value: 3 });
  assert.deepEqual(compile('price > -1'), { op: 'cmp', column: 'price', cmp: '>', value: -1 });
  assert.deepEqual(compile('ok'), { op: 'cmp', column: 'ok', cmp: '==', value: true });
  assert.deepEqual(compile('label in ["a", "b"] || !(price < 1.5)'), {
    op: 'or',
    args: [
      { op: 'in', column: 'label', values: ['a', 'b'] },
      { op: 'not', arg: { op: 'cmp', column: 'price', cmp: '<', value: 1.5 } },
    ],
  });
  assert.deepEqual(compile('n in []'), { op: 'const', value: false });
  assert.equal(compileFilter('   ', COLUMNS), undefined);
});

test('errors name the column or construct and its offset', () => {
  const cases: Array<[string, RegExp]> = [
    ['label == "a" && colour == "red"', /unknown filter column "colour" \(declared filter columns: label \(string\), n \(int\), price \(float\), ok \(bool\)\) at offset 16/],
    ['n == "3"', /column "n" is int but is compared with a string literal at offset 5/],
    ['label == 3', /column "label" is string but is compared with an int literal at offset 9/],
    ['n + 1 > 2', /unsupported construct operator \+ \("n \+ 1"\): a comparison needs a filter column on one side/],
    ['size(label) > 2', /unsupported construct a function call \("size\(label\)"\)/],
    ['n == price', /comparing two columns is not supported/],
    ['ok < true', /column "ok" is bool: only == and != apply/],
    ['label', /column "label" is string; only a bool column can stand alone/],
    ['n ==', /does not parse/],
    ['n == 1.5', /column "n" is int but is compared with a double literal/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => compileFilter(text, COLUMNS), (err: unknown) => err instanceof InvalidQueryError && pattern.test(err.message), text);
  }
  assert.throws(() => compileFilter('n > 1', []), /declares no filter columns \(build it with --filter-columns/);
});

test('evaluation follows SQL three-valued logic: a NULL column matches no comparison, not even != or under !', () => {
  const row = { label: 'shirt', n: 4, price: null, ok: true };
  assert.equal(matchesFilter(compile('label == "shirt" && n > 3'), row), true);
  assert.equal(matchesFilter(compile('price < 10'), row), false);
  assert.equal(matchesFilter(compile('price != 10'), row), false);
  assert.equal(matchesFilter(compile('!(price < 10)'), row), false);
  assert.equal(matchesFilter(compile('price < 10 || ok'), row), true, 'UNKNOWN || TRUE is TRUE');
  assert.equal(matchesFilter(compile('price < 10 && ok'), row), false, 'UNKNOWN && TRUE is UNKNOWN');
  assert.equal(matchesFilter(compile('!(price < 10 && n > 100)'), row), true, 'NOT (UNKNOWN && FALSE) = TRUE');
  assert.equal(matchesFilter(compile('label in ["pants", "shirt"]'), row), true);
  assert.equal(matchesFilter(compile('label in ["pants", "shirt"]'), {}), false);
});

test('payload values are type-checked per column', () => {
  assert.equal(filterValueOf({ n: 3 }, COLUMNS[1]), 3);
  assert.equal(filterValueOf({}, COLUMNS[1]), null);
  assert.throws(() => filterValueOf({ n: 1.5 }, COLUMNS[1]), /filter column "n" is declared int but the payload holds 1.5/);
  assert.throws(() => filterValueOf({ ok: 1 }, COLUMNS[3]), /declared bool/);
});

test('shard statistics rule shards out only when no row can match', () => {
  const b = new FilterStatsBuilder(COLUMNS);
  for (let i = 0; i < 100; i++) b.add({ label: i % 2 ? 'shirt' : 'pants', n: i, price: i < 50 ? null : i / 10, ok: false });
  const stats = b.finish();
  assert.deepEqual(stats.label, { count: 100, nulls: 0, min: 'pants', max: 'shirt', values: ['pants', 'shirt'], value_counts: [50, 50] });
  assert.equal(stats.n.values, undefined, 'more than 64 distinct values keep only min/max');
  assert.deepEqual([stats.n.min, stats.n.max, stats.price.nulls], [0, 99, 50]);
  const may = (t: string): boolean => shardMayMatch(compile(t), stats);
  assert.equal(may('label == "shirt"'), true);
  assert.equal(may('label == "shoe"'), false);
  assert.equal(may('label in ["shoe", "bag"]'), false);
  assert.equal(may('n > 99'), false);
  assert.equal(may('n >= 99'), true);
  assert.equal(may('ok'), false);
  assert.equal(may('label == "shoe" || n < 1'), true);
  assert.equal(may('label == "shoe" && n < 1'), false);
  assert.equal(may('!(label == "shoe")'), true, 'conservative under !');
  assert.equal(shardMayMatch(compile('n > 1000'), undefined), true, 'no statistics: may match');
});

test('filter-aware routing skips shards that cannot match and probes on down the order to num_probes shards', () => {
  const order = [3, 1, 0, 2];
  const routing: ShardRouting = {
    strategy: 'cluster',
    numDbs: 4,
    assign: () => 0,
    route: (q) => (q.shardIds.length > 0 ? [...q.shardIds] : order.slice(0, q.numProbes === 0 ? 2 : q.numProbes)),
  };
  const statsFor = (labels: string[]) => {
    const b = new FilterStatsBuilder(COLUMNS);
    for (const label of labels) b.add({ label, n: 1, price: 1, ok: true });
    return b.finish();
  };
  const manifest = {
    sharding: { strategy: 'cluster' },
    shards: [
      { db_id: 0, vector_count: 10, filter_stats: statsFor(['shirt']) },
      { db_id: 1, vector_count: 10, filter_stats: statsFor(['shoe']) },
      { db_id: 2, vector_count: 10, filter_stats: statsFor(['shirt', 'shoe']) },
      { db_id: 3, vector_count: 10, filter_stats: statsFor(['shoe', 'bag']) },
    ],
  } as unknown as Manifest;
  const snapshot = { manifest, routing } as unknown as RouterSnapshot;
  const q = { vector: new Float32Array(1), numProbes: 0, shardIds: [] as number[] };
  assert.deepEqual(routeFiltered(snapshot, q, undefined), { shardIds: [3, 1], skipped: [] });
  const r = routeFiltered(snapshot, q, compile('label == "shirt"'));
  assert.deepEqual(r.shardIds, [0, 2], 'two shards that can match, in probe order');
  assert.deepEqual(r.skipped.map((s) => s.db_id), [3, 1]);
  assert.match(r.skipped[0].reason, /shard 3 \(db=00003\): the filter cannot match \(label in \["bag","shoe"\]\)/);
  // Explicit shard ids: kept as given, minus the ones that cannot match.
  const e = routeFiltered(snapshot, { ...q, shardIds: [1, 2] }, compile('label == "shirt"'));
  assert.deepEqual(e.shardIds, [2]);
  assert.deepEqual(e.skipped.map((s) => s.db_id), [1]);
});

test('match estimates: exact per-value counts, uniform ranges, independent terms', async () => {
  const { estimateMatches } = await import('../src/common/filter/filter-expr.ts');
  const b = new FilterStatsBuilder(COLUMNS);
  for (let i = 0; i < 1000; i++) b.add({ label: i < 100 ? 'dress' : 'shoe', n: i % 7, price: i / 10, ok: i % 2 === 0 });
  const stats = b.finish();
  const est = (t: string): number => estimateMatches(compile(t), stats, 1000);
  assert.equal(est('label == "dress"'), 100);
  assert.equal(est('n in [0, 1]'), 143 + 143);
  assert.ok(Math.abs(est('price < 10.0') - 100) < 1, String(est('price < 10.0')));
  assert.ok(Math.abs(est('label == "dress" && price < 10.0') - 10) < 0.5, 'independence: 100 x 10%');
  assert.ok(Math.abs(est('!(label == "dress")') - 900) < 1e-9);
  assert.equal(est('label == "hat"'), 0);
});

test('filter-aware routing prefers shards estimated to hold top_k matches, then the others in probe order', () => {
  const order = [3, 1, 0, 2];
  const routing: ShardRouting = { strategy: 'cluster', numDbs: 4, assign: () => 0, route: (q) => order.slice(0, q.numProbes === 0 ? 2 : q.numProbes) };
  const statsFor = (shirts: number) => {
    const b = new FilterStatsBuilder(COLUMNS);
    for (let i = 0; i < 100; i++) b.add({ label: i < shirts ? 'shirt' : 'shoe', n: 1, price: 1, ok: true });
    return b.finish();
  };
  const shirts = [50, 3, 40, 2]; // shard 3 (nearest) holds 2 shirts, shard 1 holds 3
  const manifest = { sharding: { strategy: 'cluster' }, shards: shirts.map((n, db_id) => ({ db_id, vector_count: 100, filter_stats: statsFor(n) })) } as unknown as Manifest;
  const snapshot = { manifest, routing } as unknown as RouterSnapshot;
  const q = { vector: new Float32Array(1), numProbes: 0, shardIds: [] as number[] };
  const r = routeFiltered(snapshot, q, compile('label == "shirt"'), 10);
  assert.deepEqual(r.shardIds, [0, 2], 'the two shards with at least 10 shirts, in probe order');
  assert.deepEqual(r.skipped.map((s) => s.db_id), [3, 1]);
  assert.match(r.skipped[0].reason, /about 2 matching rows, fewer than top_k 10/);
  // With top_k 3 the nearest shard with 3 shirts qualifies; with 60 none does and probe order rules.
  assert.deepEqual(routeFiltered(snapshot, q, compile('label == "shirt"'), 3).shardIds, [1, 0]);
  assert.deepEqual(routeFiltered(snapshot, q, compile('label == "shirt"'), 60).shardIds, [3, 1]);
});
