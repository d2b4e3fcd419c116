/**
 * Converts the values hyparquet decodes from a row (JS arrays of numbers / bigints, Uint8Array
 * for binary, strings, bigints for INT64) to a record's vector and id.
 */
import { InputRecordError } from '../../common/errors.ts';
import { describeType } from './column-selection.ts';

/** Bytes per float32 element of a binary vector. */
const FLOAT32_BYTES = 4;

/**
 * The number of dimensions of one vector value: the list length, or bytes / 4 for binary.
 * @throws InputRecordError at `location` naming the column when the value is null, not a list or
 *   binary, or binary whose length is not a multiple of 4.
 */
export function vectorLength(value: unknown, column: string, location: string): number {
  if (value instanceof Uint8Array) {
    if (value.length % FLOAT32_BYTES !== 0) {
      throw new InputRecordError(
        location,
        `vector column ${JSON.stringify(column)} holds ${value.length} bytes, not a multiple of 4 (little-endian float32)`,
      );
    }
    return value.length / FLOAT32_BYTES;
  }
  if (Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView))) {
    return (value as ArrayLike<unknown>).length;
  }
  throw new InputRecordError(
    location,
    `vector column ${JSON.stringify(column)} is ${describeType(value)}; expected a list of numbers or float32 bytes`,
  );
}

/**
 * Converts one vector value to a `Float32Array` of length dim: list elements (numbers or bigints)
 * are narrowed to float32; binary is read as `dim` little-endian float32 values (4 * dim bytes).
 * @param value the decoded cell; @param dim the source's dimension; @param column its name.
 * @param location `<file> row <n>` for errors.
 * @throws InputRecordError at `location` when the value is null or of another type, its length
 *   differs from dim (binary: 4 * dim bytes), or a list element is null or not a number.
 */
export function toVector(value: unknown, dim: number, column: string, location: string): Float32Array {
  const length = vectorLength(value, column, location);
  if (length !== dim) {
    const unit = value instanceof Uint8Array ? ` (${length * FLOAT32_BYTES} bytes; expected ${dim * FLOAT32_BYTES})` : '';
    throw new InputRecordError(location, `vector has ${length} dimensions, expected ${dim}${unit}`);
  }
  const out = new Float32Array(dim);
  if (value instanceof Uint8Array) {
    // The bytes may sit at any offset of a shared buffer: read through a DataView.
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    for (let i = 0; i < dim; i++) out[i] = view.getFloat32(i * FLOAT32_BYTES, true);
    return out;
  }
  const list = value as ArrayLike<unknown>;
  for (let i = 0; i < dim; i++) {
    const element = list[i];
    if (typeof element === 'number') out[i] = element;
    else if (typeof element === 'bigint') out[i] = Number(element);
    else throw new InputRecordError(location, `vector element ${i} is ${describeType(element)}; expected a number`);
  }
  return out;
}

/**
 * Converts one id value to the record id: strings as is, integers (number or bigint) in decimal.
 * @throws InputRecordError at `location` naming the column when the value is null, a
 *   non-integer number, or of another type.
 */
export function toId(value: unknown, column: string, location: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  const shown = typeof value === 'number' ? String(value) : describeType(value);
  throw new InputRecordError(location, `id column ${JSON.stringify(column)} is ${shown}; expected a string or an integer`);
}
