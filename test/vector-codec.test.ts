/**
 * Tests of the wire vector codec (src/common/vector-codec.ts): little-endian float32 bytes,
 * unaligned input buffers, length and finiteness checks.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { InvalidQueryError } from '../src/common/errors.ts';
import { decodeVector, encodeVector } from '../src/common/vector-codec.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';

/** Independent reference encoding: DataView writes with explicit little-endian byte order. */
function referenceBytes(values: readonly number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

function randomValues(n: number, rng: SeededRandom): number[] {
  return Array.from({ length: n }, () => Math.fround((rng.next() * 2 - 1) * 10 ** (rng.nextInt(8) - 4)));
}

describe('encodeVector', () => {
  test('writes little-endian float32, from a Float32Array or a number array', () => {
    const rng = new SeededRandom(4);
    const values = randomValues(17, rng);
    const want = referenceBytes(values);
    assert.deepEqual(encodeVector(values), want);
    assert.deepEqual(encodeVector(Float32Array.from(values)), want);
    assert.deepEqual(encodeVector([1]), Buffer.from([0x00, 0x00, 0x80, 0x3f]));
    assert.equal(encodeVector([]).length, 0);
  });

  test('encodes only the viewed part of a Float32Array subarray', () => {
    const whole = Float32Array.from([9, 1.5, -2.25, 9]);
    const part = whole.subarray(1, 3);
    assert.deepEqual(encodeVector(part), referenceBytes([1.5, -2.25]));
  });

  test('the encoded bytes do not alias the input vector', () => {
    const v = Float32Array.from([1, 2, 3]);
    const bytes = encodeVector(v);
    v[0] = 100;
    assert.deepEqual(bytes, referenceBytes([1, 2, 3]));
  });
});

describe('decodeVector', () => {
  test('round trip: decode(encode(v)) equals v element-wise, for many random vectors', () => {
    const rng = new SeededRandom(11);
    for (let trial = 0; trial < 200; trial++) {
      const dim = 1 + rng.nextInt(64);
      const values = randomValues(dim, rng);
      const decoded = decodeVector(encodeVector(values), dim);
      assert.ok(decoded instanceof Float32Array);
      assert.equal(decoded.length, dim);
      for (let i = 0; i < dim; i++) assert.ok(Object.is(decoded[i], values[i]), `trial ${trial} element ${i}`);
    }
    // -0 and extreme finite values survive.
    const edge = [-0, 3.4028234663852886e38, -3.4028234663852886e38, 1.401298464324817e-45];
    const decoded = decodeVector(referenceBytes(edge), edge.length);
    edge.forEach((v, i) => assert.ok(Object.is(decoded[i], v), `edge element ${i}`));
  });

  test('decodes from an unaligned Buffer (byte offset 1) and returns a copy', () => {
    const values = [0.5, -1.25, 3, 1e-3, 42];
    const encoded = referenceBytes(values);
    const big = Buffer.alloc(encoded.length + 3, 0xaa);
    encoded.copy(big, 1);
    const unaligned = big.subarray(1, 1 + encoded.length);
    assert.equal(unaligned.byteOffset % 4 === 0, false, 'test setup: the view must be unaligned');
    // An in-place Float32Array view would be rejected on this offset.
    assert.throws(() => new Float32Array(unaligned.buffer, unaligned.byteOffset, values.length), RangeError);
    const decoded = decodeVector(unaligned, values.length);
    assert.deepEqual([...decoded], values.map((v) => Math.fround(v)));
    // A copy: later changes to the source do not show through, and vice versa.
    big.fill(0);
    assert.deepEqual([...decoded], values.map((v) => Math.fround(v)));
    decoded[0] = 7;
    assert.equal(big[1], 0);
    assert.notEqual(decoded.buffer, big.buffer);
  });

  test('decoding an aligned Buffer also returns a copy', () => {
    const bytes = referenceBytes([1, 2]);
    const decoded = decodeVector(bytes, 2);
    bytes.fill(0);
    assert.deepEqual([...decoded], [1, 2]);
  });

  test('wrong byte length -> InvalidQueryError naming the dimensions', () => {
    const three = referenceBytes([1, 2, 3]);
    assert.throws(
      () => decodeVector(three, 4),
      (err: unknown) =>
        err instanceof InvalidQueryError && /3 dimensions/.test(err.message) && /expected 4 dimensions/.test(err.message),
    );
    assert.throws(
      () => decodeVector(Buffer.alloc(13), 4),
      (err: unknown) => err instanceof InvalidQueryError && /13 bytes/.test(err.message) && /4 dimensions/.test(err.message),
    );
    assert.throws(() => decodeVector(Buffer.alloc(0), 2), InvalidQueryError);
    assert.throws(
      () => decodeVector(referenceBytes([1, 2, 3, 4, 5]), 4, 'vector 7'),
      (err: unknown) => err instanceof InvalidQueryError && err.message.startsWith('vector 7') && /5 dimensions/.test(err.message),
    );
  });

  test('NaN or Infinity element -> InvalidQueryError naming the element index', () => {
    for (const [bad, index] of [
      [Number.NaN, 0],
      [Number.POSITIVE_INFINITY, 3],
      [Number.NEGATIVE_INFINITY, 5],
    ] as const) {
      const values = [1, 2, 3, 4, 5, 6];
      values[index] = bad;
      assert.throws(
        () => decodeVector(referenceBytes(values), values.length),
        (err: unknown) => err instanceof InvalidQueryError && new RegExp(`element ${index} is ${bad}`).test(err.message),
        `${bad} at ${index}`,
      );
    }
    // A NaN with a non-canonical bit pattern, at an unaligned offset.
    const raw = Buffer.alloc(1 + 8);
    raw.writeFloatLE(1, 1);
    raw.writeUInt32LE(0x7fc00001, 5);
    assert.throws(
      () => decodeVector(raw.subarray(1), 2),
      (err: unknown) => err instanceof InvalidQueryError && /element 1\b/.test(err.message),
    );
  });
});
