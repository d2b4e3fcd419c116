/**
 * The IDX file format of MNIST / Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a big-endian
 * header (magic `0x0000TTNN`: type code TT, 0x08 = unsigned byte, and NN dimensions; then NN
 * uint32 dimension sizes) followed by the elements in row-major order. Files may be gzip-compressed;
 * compression is detected from the gzip magic bytes, not the file name.
 *
 * Images files: magic 2051 (0x00000803), sizes [count, rows, cols], uint8 pixels.
 * Labels files: magic 2049 (0x00000801), sizes [count], uint8 labels.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ConfigValidationError, InputRecordError, errorMessage } from '../../common/errors.ts';
import { ByteReader } from './byte-reader.ts';
import { checkDimension, resolveInputLimits, type InputLimits } from './input-limits.ts';

/** Magic number of an IDX images file (uint8, 3 dimensions). */
export const IDX_IMAGES_MAGIC = 2051;
/** Magic number of an IDX labels file (uint8, 1 dimension). */
export const IDX_LABELS_MAGIC = 2049;

/** Parsed header of a uint8 IDX file. */
export interface IdxHeader {
  /** The file path, as given. */
  path: string;
  /** True when the file is gzip-compressed. */
  gzip: boolean;
  /** The magic number (2051 images, 2049 labels). */
  magic: number;
  /** Dimension sizes: `[count, rows, cols]` for images, `[count]` for labels. */
  sizes: number[];
  /** Header length in bytes (of the uncompressed data): 4 + 4 * sizes.length. */
  headerBytes: number;
  /** Bytes per record: rows * cols for images, 1 for labels. */
  recordBytes: number;
}

/** True when the file starts with the gzip magic bytes 1f 8b. */
async function isGzip(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new ConfigValidationError(`${path}: cannot open IDX file: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await handle.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/**
 * Opens a streaming reader over the uncompressed bytes of an IDX file, starting at byte
 * `offset` of the uncompressed data (plain files seek; gzip files decompress and discard).
 * @returns a ByteReader; close it when done. Reads past the end return short buffers.
 */
export function openIdxBytes(path: string, gzip: boolean, offset: number): Promise<ByteReader> {
  if (!gzip) return Promise.resolve(new ByteReader(createReadStream(path, { start: offset, highWaterMark: 1 << 16 })));
  // pipeline() destroys the file stream when the gunzip stream is destroyed or fails.
  const gunzip = pipeline(createReadStream(path, { highWaterMark: 1 << 16 }), createGunzip(), () => {});
  const reader = new ByteReader(gunzip);
  return reader.skip(offset).then(() => reader);
}

/**
 * Reads and checks the header of a uint8 IDX file.
 * @param path file path (plain or gzip).
 * @param expect `images` (magic 2051, 3 dims) or `labels` (magic 2049, 1 dim).
 * @param limits `maxDim` caps rows x cols of an images file (default: input-limits.ts).
 * @returns the header, checked before anything is allocated from it: images have rows, cols >= 1
 *   and rows x cols <= `maxDim`; a plain (not gzip) file is at least as long as its header says
 *   (a gzip file cannot be checked up front: its records are read one at a time, and a short
 *   stream fails at the record where it ends).
 * @throws ConfigValidationError naming the file when it cannot be opened or decompressed, is too
 *   short for a header, has the wrong magic number, 0 rows or cols, rows x cols over `maxDim`
 *   (naming `--max-dim`), or is shorter than its header's count says.
 */
export async function readIdxHeader(path: string, expect: 'images' | 'labels', limits?: Partial<InputLimits>): Promise<IdxHeader> {
  const bounds = resolveInputLimits(limits);
  const gzip = await isGzip(path);
  const reader = await openIdxBytes(path, gzip, 0);
  const expected = expect === 'images' ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
  try {
    const head = Buffer.from(await reader.read(4));
    if (head.length < 4) throw new ConfigValidationError(`${path}: too short for an IDX header (truncated file?)`);
    const magic = head.readUInt32BE(0);
    const ndims = head[3];
    if (magic !== expected) {
      const what =
        magic === IDX_IMAGES_MAGIC ? ' (an IDX images file)' : magic === IDX_LABELS_MAGIC ? ' (an IDX labels file)' : '';
      throw new ConfigValidationError(
        `${path}: wrong IDX magic number ${magic}${what}; expected ${expected} for an IDX ${expect} file`,
      );
    }
    const dims = Buffer.from(await reader.read(4 * ndims));
    if (dims.length < 4 * ndims) throw new ConfigValidationError(`${path}: IDX header is truncated`);
    const sizes = Array.from({ length: ndims }, (_, i) => dims.readUInt32BE(4 * i));
    const recordBytes = sizes.slice(1).reduce((a, b) => a * b, 1);
    const headerBytes = 4 + 4 * ndims;
    if (expect === 'images') {
      const shape = sizes.slice(1).join(' x ');
      if (recordBytes === 0) throw new ConfigValidationError(`${path}: IDX header gives images of ${shape} pixels; rows and cols must be >= 1`);
      checkDimension(recordBytes, bounds, path, `IDX header rows x cols (${shape})`);
    }
    if (!gzip) {
      const needed = headerBytes + sizes[0] * recordBytes;
      const size = (await stat(path)).size;
      if (size < needed) {
        throw new ConfigValidationError(
          `${path}: IDX header claims ${sizes[0]} records of ${recordBytes} bytes (${needed} bytes with the header), the file has ${size}; truncated file?`,
        );
      }
    }
    return { path, gzip, magic, sizes, headerBytes, recordBytes };
  } catch (err) {
    if (err instanceof ConfigValidationError) throw err;
    throw new ConfigValidationError(`${path}: cannot read IDX header: ${errorMessage(err)}`, { cause: err });
  } finally {
    await reader.close();
  }
}

/** One record of an images file, with its label when a labels file is read alongside. */
export interface IdxRecord {
  /** 0-based index of the record in the file. */
  index: number;
  /** The record's bytes (rows*cols pixels); a view valid only until the next record is read. */
  pixels: Buffer;
  /** The record's label (0..255) when a labels file is read, else undefined. */
  label: number | undefined;
}

/**
 * Streams records `start .. end-1` of an images file, in lockstep with its labels file.
 * @param images images header; @param labels labels header or undefined.
 * @param start first record index; @param end one past the last record index (<= count).
 * @throws InputRecordError naming the file and record when a file ends early or cannot be read
 *   (I/O error, corrupt gzip data).
 */
export async function* iterateIdxRecords(
  images: IdxHeader,
  labels: IdxHeader | undefined,
  start: number,
  end: number,
): AsyncGenerator<IdxRecord> {
  const readers: ByteReader[] = [];
  let index = start;
  let current = images.path;
  try {
    const imageReader = await openIdxBytes(images.path, images.gzip, images.headerBytes + start * images.recordBytes);
    readers.push(imageReader);
    let labelReader: ByteReader | undefined;
    if (labels) {
      current = labels.path;
      labelReader = await openIdxBytes(labels.path, labels.gzip, labels.headerBytes + start);
      readers.push(labelReader);
    }
    for (; index < end; index++) {
      current = images.path;
      const pixels = await imageReader.read(images.recordBytes);
      if (pixels.length < images.recordBytes) {
        throw new InputRecordError(
          `${images.path} record ${index}`,
          `file ends early (expected ${images.sizes[0]} images of ${images.recordBytes} bytes; truncated file?)`,
        );
      }
      let label: number | undefined;
      if (labelReader && labels) {
        current = labels.path;
        const byte = await labelReader.read(1);
        if (byte.length < 1) {
          throw new InputRecordError(
            `${labels.path} record ${index}`,
            `file ends early (expected ${labels.sizes[0]} labels; truncated file?)`,
          );
        }
        label = byte[0];
      }
      yield { index, pixels, label };
    }
  } catch (err) {
    if (err instanceof ConfigValidationError) throw err;
    throw new InputRecordError(`${current} record ${index}`, `cannot read IDX data: ${errorMessage(err)}`);
  } finally {
    for (const reader of readers) await reader.close();
  }
}
