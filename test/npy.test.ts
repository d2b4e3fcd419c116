/**
 * Tests of the `.npy` reader/writer (src/common/npy.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigValidationError } from '../src/common/errors.ts';
import { decodeNpy, encodeNpy, encodeNpyFloat32, readNpyHeader } from '../src/common/npy.ts';

/** Builds a `.npy` file by hand with the given version, header dict text and data bytes. */
function handMadeNpy(major: 1 | 2 | 3, dict: string, data: Buffer): Buffer {
  const preamble = major === 1 ? 10 : 12;
  let headerLen = dict.length + 1;
  headerLen += (64 - ((preamble + headerLen) % 64)) % 64;
  const head = Buffer.alloc(preamble + headerLen, 0x20);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]).copy(head);
  if (major === 1) head.writeUInt16LE(headerLen, 8);
  else head.writeUInt32LE(headerLen, 8);
  head.write(dict, preamble, 'latin1');
  head[head.length - 1] = 0x0a;
  return Buffer.concat([head, data]);
}

test('float32 round trip keeps shape and values; header is numpy format 1.0, 64-byte aligned', () => {
  const data = new Float32Array([1.5, -2, 3.25, 0, 1e-7, 65504, -0.5, 7]);
  const buf = encodeNpyFloat32(data, [2, 4]);
  assert.deepEqual([...buf.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLen = buf.readUInt16LE(8);
  assert.equal((10 + headerLen) % 64, 0);
  assert.equal(buf.length, 10 + headerLen + 32);
  assert.match(buf.subarray(10, 10 + headerLen).toString('latin1'), /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 4\), \} *\n$/);
  const out = decodeNpy(buf, 'x.npy');
  assert.equal(out.dtype, '<f4');
  assert.deepEqual(out.shape, [2, 4]);
  assert.ok(out.data instanceof Float32Array);
  assert.deepEqual([...out.data], [...data]);
});

test('encodeNpyFloat32 rejects a shape that does not match the data length', () => {
  assert.throws(() => encodeNpyFloat32(new Float32Array(5), [2, 3]), ConfigValidationError);
});

test('a version 2.0 header with a 1-D int32 array is read', () => {
  const ints = new Int32Array([7, -1, 2147483647]);
  const buf = handMadeNpy(2, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", Buffer.from(ints.buffer));
  assert.equal(buf[6], 2);
  const out = decodeNpy(buf, 'v2.npy');
  assert.deepEqual(out.shape, [3]);
  assert.ok(out.data instanceof Int32Array);
  assert.deepEqual([...out.data], [7, -1, 2147483647]);
});

test('a version 3.0 (utf-8 header) uint8 array and big-endian int32 are read', () => {
  const v3 = decodeNpy(handMadeNpy(3, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", Buffer.from([1, 2, 250, 255])), 'v3.npy');
  assert.deepEqual([...v3.data], [1, 2, 250, 255]);
  const be = Buffer.alloc(8);
  be.writeInt32BE(258, 0);
  be.writeInt32BE(-3, 4);
  const out = decodeNpy(handMadeNpy(1, "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", be), 'be.npy');
  assert.deepEqual([...out.data], [258, -3]);
});

test('a float64 file is converted to Float32Array', () => {
  const buf = encodeNpy(new Float64Array([0.1, 2.5, -3, 1e10, 4, 5]), [3, 2]);
  const out = decodeNpy(buf, 'f8.npy');
  assert.equal(out.dtype, '<f8');
  assert.deepEqual(out.shape, [3, 2]);
  assert.ok(out.data instanceof Float32Array);
  assert.deepEqual([...out.data], [Math.fround(0.1), 2.5, -3, Math.fround(1e10), 4, 5]);
});

test('int64 ids decode to BigInt64Array', () => {
  const out = decodeNpy(encodeNpy(new BigInt64Array([1n, -5n, 9007199254740993n]), [3]), 'ids.npy');
  assert.ok(out.data instanceof BigInt64Array);
  assert.deepEqual([...out.data], [1n, -5n, 9007199254740993n]);
});

test('fortran order is rejected with an error naming the file', () => {
  const buf = handMadeNpy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", Buffer.alloc(16));
  assert.throws(() => decodeNpy(buf, 'fortran.npy'), (err: Error) => {
    assert.ok(err instanceof ConfigValidationError);
    assert.match(err.message, /fortran\.npy/);
    assert.match(err.message, /Fortran/);
    return true;
  });
});

test('a truncated file is rejected with an error naming the file', () => {
  const buf = encodeNpyFloat32(new Float32Array(12), [3, 4]);
  assert.throws(() => decodeNpy(buf.subarray(0, buf.length - 4), 'short.npy'), /short\.npy: truncated \.npy file/);
  assert.throws(() => decodeNpy(buf.subarray(0, 40), 'head.npy'), /head\.npy: truncated \.npy header/);
  assert.throws(() => decodeNpy(Buffer.from('hello world'), 'text.npy'), /text\.npy: not a \.npy file/);
});

test('unsupported dtypes are rejected', () => {
  const buf = handMadeNpy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", Buffer.alloc(8));
  assert.throws(() => decodeNpy(buf, 'complex.npy'), /complex\.npy: unsupported \.npy dtype '<c8'/);
});

test('readNpyHeader reads only the header from a path, a FileHandle and an fd', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'npy-test-'));
  try {
    const path = join(dir, 'm.npy');
    await writeFile(path, encodeNpyFloat32(new Float32Array(6 * 5), [6, 5]));
    const header = await readNpyHeader(path);
    assert.equal(header.dtype, '<f4');
    assert.deepEqual(header.shape, [6, 5]);
    assert.equal(header.dataOffset, 128);
    assert.equal(header.dataBytes, 120);
    const handle = await open(path, 'r');
    try {
      assert.deepEqual((await readNpyHeader(handle, 'm.npy')).shape, [6, 5]);
      assert.deepEqual((await readNpyHeader(handle.fd, 'm.npy')).dataOffset, 128);
    } finally {
      await handle.close();
    }
    await assert.rejects(readNpyHeader(join(dir, 'missing.npy')), /missing\.npy: cannot open/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
