/**
 * Positional reads of an exact byte count from an open file, for the fixed-record formats
 * (npy, fvecs/bvecs/ivecs) that read batches of rows at computed offsets.
 */
import type { FileHandle } from 'node:fs/promises';
import { InputRecordError } from '../../common/errors.ts';

/**
 * Reads exactly `length` bytes at byte `position` of the file.
 * @returns a new Buffer of `length` bytes whose `byteOffset` is 0 (not from the shared pool), so
 *   4-byte-aligned offsets inside it can be viewed as 32-bit typed arrays.
 * @throws InputRecordError at `location` (e.g. `data.npy row 17`) when the file ends first.
 */
export async function readExact(handle: FileHandle, length: number, position: number, location: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafeSlow(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) throw new InputRecordError(location, 'file ends early (was it truncated after opening?)');
    filled += bytesRead;
  }
  return buf;
}
