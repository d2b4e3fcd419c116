/**
 * HASH routing (shardyfusion's key-hash rule): canonical key bytes, xxh3_64 (seed 0) mod num_dbs
 * against fixed vectors computed independently in Python, the manifest schema, and query routing
 * (every shard, shard_ids override, num_probes and routing_context checks).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InputRecordError, InvalidQueryError } from '../src/common/errors.ts';
import { ShardingSpecSchema } from '../src/common/manifest.ts';
import { shardHash } from '../src/common/routing/cel-routing.ts';
import { canonicalKeyBytes, HashRouting, keyHash, shardOfKey, type ShardKey } from '../src/common/routing/key-hash-routing.ts';

interface KeyVector {
  key: ShardKey;
  /** Canonical bytes, hex. */
  bytes: string;
  /** xxh3_64 (seed 0), unsigned. */
  hash: bigint;
  shard8: number;
  shard13: number;
}

/**
 * Expected values computed once, independently of this code, with Debian's python3-xxhash 3.2.0:
 *   b = k.encode('utf-8')            (strings)
 *   b = struct.pack('<q', k)         (integers: 8-byte signed little-endian)
 *   b = k                            (bytes)
 *   h = xxhash.xxh3_64_intdigest(b, seed=0); shard8 = h % 8; shard13 = h % 13
 */
const VECTORS: KeyVector[] = [
  { key: 'a', bytes: '61', hash: 16629034431890738719n, shard8: 7, shard13: 4 },
  { key: 'user-1', bytes: '757365722d31', hash: 8968379626967066057n, shard8: 1, shard13: 11 },
  { key: 'héllo', bytes: '68c3a96c6c6f', hash: 7657728615535385375n, shard8: 7, shard13: 1 },
  { key: '日本', bytes: 'e697a5e69cac', hash: 3177284604324879296n, shard8: 0, shard13: 1 },
  { key: 0, bytes: '0000000000000000', hash: 14374147212387527897n, shard8: 1, shard13: 7 },
  { key: 1, bytes: '0100000000000000', hash: 3439722301264460078n, shard8: 6, shard13: 10 },
  { key: -1, bytes: 'ffffffffffffffff', hash: 5841669975847748627n, shard8: 3, shard13: 0 },
  { key: 42, bytes: '2a00000000000000', hash: 15395265915043915720n, shard8: 0, shard13: 1 },
  { key: -42, bytes: 'd6ffffffffffffff', hash: 4321076967882013291n, shard8: 3, shard13: 4 },
  { key: 9223372036854775807n, bytes: 'ffffffffffffff7f', hash: 11687913294787043142n, shard8: 6, shard13: 10 },
  { key: -9223372036854775808n, bytes: '0000000000000080', hash: 9407778237848358495n, shard8: 7, shard13: 10 },
  { key: Number.MAX_SAFE_INTEGER, bytes: 'ffffffffffff1f00', hash: 8944503144038156827n, shard8: 3, shard13: 2 },
  { key: Uint8Array.of(0x00), bytes: '00', hash: 14144645293874801883n, shard8: 3, shard13: 8 },
  { key: Uint8Array.of(0x00, 0x01, 0x02, 0xff), bytes: '000102ff', hash: 14589687642539633503n, shard8: 7, shard13: 9 },
  { key: Uint8Array.of(0xde, 0xad, 0xbe, 0xef), bytes: 'deadbeef', hash: 14242259296112702545n, shard8: 1, shard13: 2 },
];

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const describeKey = (k: ShardKey): string => (k instanceof Uint8Array ? `bytes ${hex(k)}` : `${typeof k} ${String(k)}`);

describe('canonicalKeyBytes / shardOfKey (shardyfusion key-hash rule)', () => {
  for (const v of VECTORS) {
    test(`${describeKey(v.key)} -> ${v.hash} -> shard ${v.shard8} of 8, ${v.shard13} of 13`, () => {
      const bytes = canonicalKeyBytes(v.key);
      assert.equal(hex(bytes), v.bytes);
      assert.equal(keyHash(bytes), v.hash);
      assert.equal(shardOfKey(bytes, 8), v.shard8);
      assert.equal(shardOfKey(bytes, 13), v.shard13);
      assert.equal(shardOfKey(bytes, 1), 0);
    });
  }

  test('an integer as number or bigint has the same bytes; the hash is CEL shard_hash', () => {
    for (const n of [0, 1, -1, 42, -42, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      assert.deepEqual(canonicalKeyBytes(n), canonicalKeyBytes(BigInt(n)));
      assert.equal(keyHash(canonicalKeyBytes(n)), shardHash(BigInt(n)));
    }
    assert.equal(keyHash(canonicalKeyBytes('user-1')), shardHash('user-1'));
    assert.deepEqual(canonicalKeyBytes(-0), canonicalKeyBytes(0));
  });

  test('a string key and the bytes of its UTF-8 land on the same shard; "1" and 1 do not share bytes', () => {
    assert.deepEqual(canonicalKeyBytes('héllo'), canonicalKeyBytes(new TextEncoder().encode('héllo')));
    assert.notDeepEqual(canonicalKeyBytes('1'), canonicalKeyBytes(1));
  });

  test('binary keys are copied, not aliased', () => {
    const key = Uint8Array.of(1, 2, 3);
    const bytes = canonicalKeyBytes(key);
    key[0] = 9;
    assert.equal(hex(bytes), '010203');
  });

  test('bad keys are RangeErrors saying why', () => {
    assert.throws(() => canonicalKeyBytes(''), { name: 'RangeError', message: /key is empty/ });
    assert.throws(() => canonicalKeyBytes(new Uint8Array(0)), { name: 'RangeError', message: /key is empty/ });
    assert.throws(() => canonicalKeyBytes('a\uD800b'), { name: 'RangeError', message: /unpaired UTF-16 surrogate/ });
    assert.throws(() => canonicalKeyBytes('\uDC00'), { name: 'RangeError', message: /unpaired UTF-16 surrogate/ });
    assert.equal(hex(canonicalKeyBytes('\uD83D\uDE00')), 'f09f9880'); // a paired surrogate is fine
    assert.throws(() => canonicalKeyBytes(1.5), { name: 'RangeError', message: /integer key 1.5 is not a safe integer/ });
    assert.throws(() => canonicalKeyBytes(Number.NaN), { name: 'RangeError', message: /not a safe integer/ });
    assert.throws(() => canonicalKeyBytes(Infinity), { name: 'RangeError', message: /not a safe integer/ });
    assert.throws(() => canonicalKeyBytes(2 ** 53), { name: 'RangeError', message: /pass larger 64-bit integers as bigint/ });
    assert.throws(() => canonicalKeyBytes(2n ** 63n), { name: 'RangeError', message: /outside the signed 64-bit range/ });
    assert.throws(() => canonicalKeyBytes(-(2n ** 63n) - 1n), { name: 'RangeError', message: /outside the signed 64-bit range/ });
    assert.throws(() => shardOfKey(Uint8Array.of(1), 0), { name: 'RangeError', message: /num_dbs must be an integer >= 1/ });
    assert.throws(() => shardOfKey(Uint8Array.of(1), 2.5), { name: 'RangeError' });
  });
});

describe('HashRouting', () => {
  const routing = new HashRouting(13);
  const vector = new Float32Array(4);

  test('a record goes to the shard of its id (UTF-8 bytes)', () => {
    assert.equal(routing.strategy, 'hash');
    assert.equal(routing.assign({ id: 'user-1', vector, location: 'x line 1' }), 11);
    assert.equal(routing.assign({ id: '日本', vector, location: 'x line 2' }), 1);
    assert.equal(new HashRouting(8).assign({ id: 'a', vector, location: 'x line 3' }), 7);
    // A numeric source's id is its decimal string: hashed as a string, not as an integer.
    assert.equal(routing.assign({ id: '42', vector, location: 'x' }), shardOfKey(new TextEncoder().encode('42'), 13));
  });

  test('a record without an id, or with an empty id, is an InputRecordError naming it', () => {
    assert.throws(() => routing.assign({ vector, location: 'data.jsonl line 7' }), (err) => {
      assert.ok(err instanceof InputRecordError);
      assert.match(err.message, /^data\.jsonl line 7: has no id/);
      return true;
    });
    assert.throws(() => routing.assign({ id: '', vector, location: 'data.jsonl line 8' }), (err) => {
      assert.ok(err instanceof InputRecordError);
      assert.match(err.message, /^data\.jsonl line 8: id cannot be hash-routed: key is empty/);
      return true;
    });
  });

  test('a query probes every shard in db order when num_probes is 0 or num_dbs', () => {
    const all = Array.from({ length: 13 }, (_, i) => i);
    assert.deepEqual(routing.route({ vector, numProbes: 0, shardIds: [] }), all);
    assert.deepEqual(routing.route({ vector, numProbes: 13, shardIds: [] }), all);
    assert.deepEqual(new HashRouting(1).route({ vector, numProbes: 1, shardIds: [] }), [0]);
  });

  test('other num_probes values are INVALID_ARGUMENT saying that every shard is probed', () => {
    for (const n of [1, 2, 12, 14, -1]) {
      assert.throws(() => routing.route({ vector, numProbes: n, shardIds: [] }), (err) => {
        assert.ok(err instanceof InvalidQueryError);
        assert.match(err.message, new RegExp(`num_probes ${n} is not supported by the hash strategy: a hash-sharded snapshot probes every shard \\(leave num_probes 0 or set it to 13`));
        return true;
      });
    }
  });

  test('shard_ids override the routing, checked as for the other strategies', () => {
    assert.deepEqual(routing.route({ vector, numProbes: 0, shardIds: [5, 2] }), [5, 2]);
    assert.throws(() => routing.route({ vector, numProbes: 0, shardIds: [13] }), (err) => err instanceof InvalidQueryError && /shard id 13 does not exist/.test(err.message));
    assert.throws(() => routing.route({ vector, numProbes: 0, shardIds: [1, 1] }), (err) => err instanceof InvalidQueryError && /shard id 1 is listed twice/.test(err.message));
  });

  test('a routing_context is INVALID_ARGUMENT; an empty one is fine', () => {
    assert.throws(() => routing.route({ vector, numProbes: 0, shardIds: [], routingContext: { user: 'a' } }), (err) => {
      assert.ok(err instanceof InvalidQueryError);
      assert.match(err.message, /routing_context \(column "user"\) is only read by CEL-sharded snapshots; this snapshot uses hash sharding/);
      return true;
    });
    assert.equal(routing.route({ vector, numProbes: 0, shardIds: [], routingContext: {} }).length, 13);
  });

  test('num_dbs must be a positive integer', () => {
    assert.throws(() => new HashRouting(0), RangeError);
  });
});

describe('the hash sharding spec in a manifest', () => {
  const spec = { strategy: 'hash', num_dbs: 8, num_probes: 8, hash: { algorithm: 'xxh3_64', seed: 0 } };

  test('parses with num_probes = num_dbs and the xxh3_64 seed-0 hash', () => {
    assert.deepEqual(ShardingSpecSchema.parse(spec), spec);
  });

  test('rejects num_probes != num_dbs, another hash algorithm or seed, a missing hash', () => {
    assert.throws(() => ShardingSpecSchema.parse({ ...spec, num_probes: 2 }), /num_probes must equal num_dbs \(8\) for the hash strategy/);
    assert.throws(() => ShardingSpecSchema.parse({ ...spec, hash: { algorithm: 'xxh64', seed: 0 } }));
    assert.throws(() => ShardingSpecSchema.parse({ ...spec, hash: { algorithm: 'xxh3_64', seed: 1 } }));
    const { hash: _hash, ...noHash } = spec;
    assert.throws(() => ShardingSpecSchema.parse(noHash));
  });
});
