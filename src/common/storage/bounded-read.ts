/**
 * Byte-bounded reading and copying of store objects, shared by the object store backends: never
 * more than `maxBytes + 1` bytes are read (the extra byte only tells "more than maxBytes").
 */
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigValidationError, ObjectTooLargeError } from '../errors.ts';

/** What the bounded helpers need to name an oversized object: its key and the store's URL. */
export interface BoundedObject {
  key: string;
  storeUrl: string;
  /** Largest accepted size, bytes. */
  maxBytes: number;
}

/**
 * Checks a read limit.
 * @throws ConfigValidationError when `maxBytes` is not a non-negative safe integer.
 */
export function assertValidMaxBytes(maxBytes: number): void {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new ConfigValidationError(`read limit must be a non-negative integer number of bytes, got ${maxBytes}`);
  }
}

/**
 * Reads `stream` into one buffer, destroying it (and throwing) as soon as more than `maxBytes`
 * bytes arrived.
 * @throws ObjectTooLargeError (seenBytes undefined) past the limit; the stream's own error.
 */
export async function readStreamAtMost(stream: Readable, object: BoundedObject): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += buf.length;
      if (total > object.maxBytes) throw new ObjectTooLargeError(object.key, object.maxBytes, undefined, object.storeUrl);
      chunks.push(buf);
    }
  } finally {
    if (!stream.destroyed) stream.destroy();
  }
  return Buffer.concat(chunks, total);
}

/**
 * Copies `source` to a new file at `localPath`, failing once more than `maxBytes` bytes passed
 * (the chunk that crosses the limit is not written). A failed copy removes the partial file.
 * @returns the bytes written.
 * @throws ObjectTooLargeError (seenBytes undefined) past the limit; the streams' errors.
 */
export async function copyStreamAtMost(source: Readable, localPath: string, object: BoundedObject): Promise<number> {
  let total = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      total += chunk.length;
      if (total > object.maxBytes) callback(new ObjectTooLargeError(object.key, object.maxBytes, undefined, object.storeUrl));
      else callback(null, chunk);
    },
  });
  try {
    await pipeline(source, limiter, createWriteStream(localPath));
  } catch (err) {
    await unlink(localPath).catch(() => undefined);
    throw err;
  }
  return total;
}
