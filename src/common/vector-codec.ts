/**
 * Vectors on the wire: float32 little-endian `bytes` (DESIGN.md "Vectors on the wire").
 */
import { endianness } from 'node:os';
import { InvalidQueryError } from './errors.ts';

if (endianness() !== 'LE') {
  // Float32Array views use host byte order; the wire format is little-endian.
  throw new Error('shardfleet requires a little-endian host');
}

/** Encodes a vector as little-endian float32 bytes (a Buffer of 4 * vector.length bytes). */
export function encodeVector(vector: Float32Array | readonly number[]): Buffer {
  const f32 = vector instanceof Float32Array ? vector : Float32Array.from(vector);
  return Buffer.from(f32.buffer.slice(f32.byteOffset, f32.byteOffset + f32.byteLength));
}

/**
 * Decodes little-endian float32 bytes into a fresh `Float32Array` of length `dim`, checking the
 * length and that every element is finite. The bytes are copied: a decoded protobuf Buffer may
 * be unaligned and must not be viewed as a Float32Array in place.
 * @throws InvalidQueryError when the byte length is not 4 * dim or an element is NaN/Inf.
 */
export function decodeVector(bytes: Uint8Array, dim: number, what = 'query'): Float32Array {
  if (bytes.byteLength !== dim * 4) {
    const got = bytes.byteLength % 4 === 0 ? `${bytes.byteLength / 4} dimensions` : `${bytes.byteLength} bytes`;
    throw new InvalidQueryError(
      `${what} has ${got}, expected ${dim} dimensions (${dim * 4} bytes of little-endian float32)`,
    );
  }
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const vector = new Float32Array(copy.buffer);
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i])) {
      throw new InvalidQueryError(`${what} element ${i} is ${vector[i]}; vectors must be finite`);
    }
  }
  return vector;
}
