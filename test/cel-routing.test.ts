/**
 * Tests of CEL routing (src/common/routing/cel-routing.ts): direct and categorical modes,
 * `shard_hash` against an independent xxh3-64 of the same bytes, compile-time type checking,
 * per-record (InputRecordError) and per-query (InvalidQueryError) errors, and query overrides.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { xxh3 } from '@node-rs/xxhash';

import { ConfigValidationError, InputRecordError, InvalidQueryError } from '../src/common/errors.ts';
import { CelRouting, type CelRoutingSpec, shardHash } from '../src/common/routing/cel-routing.ts';
import type { RoutingContext } from '../src/common/routing/routing-context.ts';

const VEC = new Float32Array([0, 0]);

function compile(celExpr: string, celColumns: CelRoutingSpec['celColumns'], numDbs: number, routingValues: CelRoutingSpec['routingValues'] = null): CelRouting {
  return CelRouting.compile({ celExpr, celColumns, routingValues, numDbs });
}

function assign(r: CelRouting, routingContext: RoutingContext | undefined, location = 'data.jsonl line 7'): number {
  return r.assign({ vector: VEC, routingContext, location });
}

function route(r: CelRouting, routingContext: RoutingContext | undefined, numProbes = 0, shardIds: number[] = []): number[] {
  return r.route({ vector: VEC, numProbes, shardIds, routingContext });
}

/** Asserts assign throws InputRecordError at the location and route throws InvalidQueryError, both matching `pattern`. */
function assertBothReject(r: CelRouting, context: RoutingContext, pattern: RegExp): void {
  assert.throws(
    () => assign(r, context, 'in.jsonl line 42'),
    (err: unknown) => err instanceof InputRecordError && err.location === 'in.jsonl line 42' && err.message.startsWith('in.jsonl line 42: ') && pattern.test(err.message),
  );
  assert.throws(
    () => route(r, context),
    (err: unknown) => err instanceof InvalidQueryError && !(err instanceof ConfigValidationError) && pattern.test(err.message),
  );
}

function le64(v: bigint, signed: boolean): Buffer {
  const b = Buffer.alloc(8);
  if (signed) b.writeBigInt64LE(v);
  else b.writeBigUInt64LE(v);
  return b;
}

describe('shardHash', () => {
  test('equals xxh3-64 of the UTF-8 bytes, raw bytes, and 8-byte LE two\'s complement integers', () => {
    for (const s of ['', 'user-1', 'héllo 🎉', '日本語']) assert.equal(shardHash(s), xxh3.xxh64(Buffer.from(s, 'utf8')));
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    assert.equal(shardHash(bytes), xxh3.xxh64(Buffer.from(bytes)));
    for (const v of [0n, 1n, 5n, -1n, -(2n ** 63n), 2n ** 63n - 1n]) assert.equal(shardHash(v), xxh3.xxh64(le64(v, true)), `int ${v}`);
    for (const v of [2n ** 63n, 2n ** 64n - 1n]) assert.equal(shardHash(v), xxh3.xxh64(le64(v, false)), `uint ${v}`);
    assert.equal(shardHash(-1n), shardHash(2n ** 64n - 1n));
    assert.throws(() => shardHash(2n ** 64n), RangeError);
    assert.throws(() => shardHash(-(2n ** 63n) - 1n), RangeError);
  });

  test('is stable: pinned values (a change would re-shard every published snapshot)', () => {
    assert.equal(shardHash(''), 0x2d06800538d394c2n); // XXH3_64bits("") reference value
    assert.equal(shardHash('user-1'), PINNED_USER_1);
    assert.equal(shardHash(42n), PINNED_INT_42);
    for (let i = 0; i < 3; i++) assert.equal(shardHash('user-1'), PINNED_USER_1);
  });

  test('the CEL function equals shardHash, for every overload', () => {
    const r = compile('shard_hash(s) == sh && shard_hash(b) == bh && shard_hash(i) == ih && shard_hash(u) == uh ? 1 : 0', {
      s: 'string', b: 'bytes', i: 'int', u: 'uint', sh: 'uint', bh: 'uint', ih: 'uint', uh: 'uint',
    }, 2);
    const b = new Uint8Array([9, 8, 7]);
    const ctx = { s: 'ü', b, i: -7n, u: 2n ** 64n - 2n, sh: shardHash('ü'), bh: shardHash(b), ih: shardHash(-7n), uh: shardHash(2n ** 64n - 2n) };
    assert.equal(assign(r, ctx), 1);
    assert.equal(assign(r, { ...ctx, sh: shardHash('u') }), 0);
    const same = compile('shard_hash(5) == shard_hash(5u) ? 1 : 0', {}, 2);
    assert.equal(assign(same, {}), 1);
  });
});

/** xxh3-64 of the bytes "user-1" and of 42 as 8 bytes LE, recorded once (literal, not recomputed). */
const PINNED_USER_1 = 0x7c7615c11438e5c9n;
const PINNED_INT_42 = 0xd5a6f8c838df27c8n;

describe('CelRouting direct mode', () => {
  test('int(label) % 4 and label % 4 pick the shard; 7 / 2 is integer division', () => {
    const fromString = compile('int(label) % 4', { label: 'string' }, 4);
    assert.equal(fromString.mode, 'direct');
    assert.equal(fromString.resultType, 'int');
    assert.equal(assign(fromString, { label: '13' }), 1);
    assert.deepEqual(route(fromString, { label: '14' }), [2]);
    const fromInt = compile('label % 4', { label: 'int' }, 4);
    for (let i = 0; i < 20; i++) assert.equal(assign(fromInt, { label: i }), i % 4);
    assert.equal(assign(fromInt, { label: 10n }), 2);
    const div = compile('label / 2', { label: 'int' }, 4);
    assert.equal(assign(div, { label: 7 }), 3); // 7/2 = 3 (a CEL int), not 3.5
    assert.equal(assign(compile('7 / 2', {}, 4), {}), 3);
  });

  test('shard_hash(user) % 8u equals xxh3-64(utf8(user)) mod 8 and spreads over all shards', () => {
    const r = compile('shard_hash(user) % 8u', { user: 'string' }, 8);
    assert.equal(r.resultType, 'uint');
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const user = `user-${i}`;
      const expected = Number(xxh3.xxh64(Buffer.from(user, 'utf8')) % 8n);
      assert.equal(assign(r, { user }), expected);
      assert.deepEqual(route(r, { user }), [expected]);
      seen.add(expected);
    }
    assert.equal(seen.size, 8);
  });

  test('uint columns: bigint, number and decimal string inputs; -1 and 1.5 rejected', () => {
    const r = compile('u % 4u', { u: 'uint' }, 4);
    assert.equal(assign(r, { u: 2n ** 64n - 1n }), 3);
    assert.equal(assign(r, { u: 6 }), 2);
    assert.equal(assign(r, { u: '18446744073709551614' }), 2);
    assertBothReject(r, { u: -1 }, /column "u" \(uint\).*-1.*uint64 range/);
    assertBothReject(r, { u: 1.5 }, /column "u" \(uint\).*not a uint/);
    assertBothReject(r, { u: 2n ** 64n }, /uint64 range/);
  });

  test('extra undeclared context keys are ignored', () => {
    const r = compile('label % 4', { label: 'int' }, 4);
    assert.equal(assign(r, { label: 5, other: 'x', more: 3.5 }), 1);
  });

  test('bytes columns take a Uint8Array or canonical base64, and the two agree', () => {
    const r = compile('shard_hash(key) % 16u', { key: 'bytes' }, 16);
    const raw = new Uint8Array([104, 105, 255]);
    const expected = Number(xxh3.xxh64(Buffer.from(raw)) % 16n);
    assert.equal(assign(r, { key: raw }), expected);
    assert.equal(assign(r, { key: Buffer.from(raw).toString('base64') }), expected);
    assertBothReject(r, { key: 'not base64!' }, /column "key" \(bytes\).*base64/);
    assertBothReject(r, { key: 12 }, /column "key" \(bytes\)/);
  });

  test('out-of-range results, wrong-type results and evaluation failures are errors', () => {
    const r = compile('label', { label: 'int' }, 4);
    assert.equal(assign(r, { label: 3 }), 3);
    assertBothReject(r, { label: 4 }, /returned shard id 4, outside 0\.\.3/);
    assertBothReject(r, { label: -1 }, /returned shard id -1, outside 0\.\.3/);
    const dyn = compile('dyn(x)', { x: 'double' }, 4);
    assert.equal(dyn.resultType, 'dyn');
    assertBothReject(dyn, { x: 1.5 }, /not an int or uint shard id/);
    const div0 = compile('4 / label', { label: 'int' }, 4);
    assertBothReject(div0, { label: 0 }, /failed: division by zero/);
  });
});

describe('CelRouting categorical mode', () => {
  test('string tokens: shard i holds routing_values[i]', () => {
    const regions = ['eu', 'us', 'ap'];
    const r = compile('region', { region: 'string' }, 3, regions);
    assert.equal(r.mode, 'categorical');
    regions.forEach((region, i) => {
      assert.equal(assign(r, { region }), i);
      assert.deepEqual(route(r, { region }), [i]);
    });
    assertBothReject(r, { region: 'sa' }, /returned "sa", which is not one of routing_values \["eu", "us", "ap"\]/);
  });

  test('int and uint results match JSON number tokens; string "3" does not', () => {
    const r = compile('bucket / 10', { bucket: 'int' }, 3, [20, 0, 10]);
    assert.equal(assign(r, { bucket: 5 }), 1);
    assert.equal(assign(r, { bucket: 105 }), 2);
    assert.equal(assign(r, { bucket: 209 }), 0);
    assertBothReject(r, { bucket: 300 }, /returned 30, which is not one of routing_values/);
    const u = compile('b % 3u', { b: 'uint' }, 3, [2, 1, 0]);
    assert.equal(assign(u, { b: 7 }), 1);
    const mixed = compile('dyn(s == "n" ? dyn(3) : dyn("3"))', { s: 'string' }, 2, ['3', 3]);
    assert.equal(assign(mixed, { s: 'n' }), 1);
    assert.equal(assign(mixed, { s: 'x' }), 0);
  });

  test('bool tokens', () => {
    const r = compile('score > 0.5', { score: 'double' }, 2, [false, true]);
    assert.equal(assign(r, { score: 0.9 }), 1);
    assert.equal(assign(r, { score: 0.1 }), 0);
  });
});

describe('CelRouting.compile rejects bad specs with ConfigValidationError', () => {
  const rejects = (spec: Partial<CelRoutingSpec>, pattern: RegExp): void => {
    assert.throws(
      () => CelRouting.compile({ celExpr: 'x % 2', celColumns: { x: 'int' }, routingValues: null, numDbs: 2, ...spec }),
      (err: unknown) => err instanceof ConfigValidationError && pattern.test(err.message),
    );
  };

  test('unknown column, syntax error, type error', () => {
    rejects({ celExpr: 'y % 2' }, /CEL expression "y % 2" references unknown CEL column "y".*declared cel_columns: x \(int\)/);
    rejects({ celExpr: 'x %' }, /CEL expression "x %" does not parse: .*offset/);
    rejects({ celExpr: 'x + "a"' }, /CEL expression "x \+ \\"a\\"" does not type-check/);
    rejects({ celExpr: 'shard_hash(d) % 2u', celColumns: { d: 'double' } }, /does not type-check: .*shard_hash\(double\)/);
  });

  test('result types the mode cannot use', () => {
    rejects({ celExpr: 'r', celColumns: { r: 'string' } }, /returns string; direct mode .* needs an int or uint shard id/);
    rejects({ celExpr: 'x * 1.5', celColumns: { x: 'double' } }, /returns double; direct mode/);
    rejects({ celExpr: '[x]', routingValues: [1, 2] }, /returns list<int>; categorical mode needs/);
  });

  test('routing_values: count, duplicates, unreachable tokens, unsafe integers', () => {
    rejects({ routingValues: [0, 1, 2] }, /routing_values has 3 entries but num_dbs is 2/);
    rejects({ routingValues: [1, 1] }, /routing_values\[1\] = 1 repeats routing_values\[0\]/);
    rejects({ routingValues: [0, 'one'] }, /routing_values\[1\] = "one" can never be selected: .* returns int/);
    rejects({ celExpr: 'x', routingValues: [0, 2 ** 60] }, /beyond 2\^53-1/);
  });

  test('bad column declarations and num_dbs', () => {
    rejects({ celColumns: { x: 'int', in: 'int' } }, /"in" is a CEL reserved word/);
    rejects({ celColumns: { x: 'int', 'a-b': 'int' } }, /is not an identifier/);
    rejects({ celColumns: { x: 'int', int: 'int' } }, /column "int" cannot be declared/);
    rejects({ numDbs: 0 }, /num_dbs must be a positive integer/);
  });
});

describe('CelRouting record and query errors', () => {
  const r = compile('shard_hash(user) % 4u + uint(tier)', { user: 'string', tier: 'int' }, 8);

  test('a missing column or context', () => {
    assertBothReject(r, { user: 'a' }, /missing column "tier" \(int\)/);
    assert.throws(() => assign(r, undefined, 'x.jsonl line 3'), (e: unknown) => e instanceof InputRecordError && e.location === 'x.jsonl line 3' && /no routing_context/.test(e.message));
    assert.throws(() => route(r, undefined), (e: unknown) => e instanceof InvalidQueryError && /pass routing_context with user \(string\), tier \(int\)/.test(e.message));
  });

  test('values that cannot be coerced to the declared type', () => {
    assertBothReject(r, { user: 'a', tier: 3.5 }, /column "tier" \(int\): 3\.5 \(number\) is not an int/);
    assertBothReject(r, { user: 7, tier: 1 }, /column "user" \(string\): 7 \(number\) is not a string/);
    assertBothReject(r, { user: 'a', tier: 'one' }, /column "tier" \(int\).*not an int/);
    assertBothReject(r, { user: 'a', tier: true }, /column "tier" \(int\)/);
    assertBothReject(r, { user: 'a', tier: 2 ** 60 }, /beyond 2\^53-1/);
  });

  test('num_probes 2 is rejected; 0 and 1 route to one shard', () => {
    const ctx = { user: 'a', tier: 0 };
    const shard = assign(r, ctx);
    assert.deepEqual(route(r, ctx, 0), [shard]);
    assert.deepEqual(route(r, ctx, 1), [shard]);
    assert.throws(() => route(r, ctx, 2), (e: unknown) => e instanceof InvalidQueryError && /num_probes 2 is not supported by the cel strategy/.test(e.message));
  });

  test('non-empty shard_ids override routing (no routing_context needed) and are validated', () => {
    assert.deepEqual(route(r, undefined, 0, [5, 1]), [5, 1]);
    assert.deepEqual(route(r, { user: 'a', tier: 3.5 }, 0, [7]), [7]);
    assert.throws(() => route(r, undefined, 0, [8]), InvalidQueryError);
    assert.throws(() => route(r, undefined, 0, [1, 1]), InvalidQueryError);
  });
});
