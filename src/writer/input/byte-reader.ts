/**
 * Exact-length reads over a stream of byte chunks (a file or gunzip stream), for binary formats
 * parsed record by record. Only the chunks not yet consumed are held in memory.
 */

/**
 * Pulls exact byte counts from an async iterable of chunks (e.g. a `fs.ReadStream` or a
 * `zlib.Gunzip`). Errors of the underlying stream (I/O, corrupt gzip) surface from
 * {@link read} / {@link skip}.
 */
export class ByteReader {
  private readonly iterator: AsyncIterator<Buffer>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private done = false;
  /** Total bytes consumed so far (returned by `read` or skipped). */
  position = 0;

  /** @param source async iterable of `Buffer` chunks; consumed lazily. */
  constructor(source: AsyncIterable<Buffer>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Buffers until at least `n` bytes are available or the stream ends; returns bytes available. */
  private async fill(n: number): Promise<number> {
    while (this.buffered < n && !this.done) {
      const next = await this.iterator.next();
      if (next.done) {
        this.done = true;
      } else if (next.value.length > 0) {
        this.chunks.push(next.value);
        this.buffered += next.value.length;
      }
    }
    return Math.min(n, this.buffered);
  }

  /**
   * Reads exactly `n` bytes, or fewer only when the stream ends first (a result shorter than `n`
   * means end of data; an empty result means the stream was already at its end).
   * The returned Buffer may share memory with the stream's chunk: copy it before the next call
   * if it must be kept.
   */
  async read(n: number): Promise<Buffer> {
    const take = await this.fill(n);
    let out: Buffer;
    if (take === 0) {
      out = Buffer.alloc(0);
    } else if (this.chunks[0].length >= take) {
      out = this.chunks[0].subarray(0, take);
      this.consume(take);
    } else {
      out = Buffer.alloc(take);
      let copied = 0;
      while (copied < take) {
        const chunk = this.chunks[0];
        const part = Math.min(chunk.length, take - copied);
        chunk.copy(out, copied, 0, part);
        copied += part;
        this.consume(part);
      }
    }
    this.position += take;
    return out;
  }

  /** Discards up to `n` bytes; returns the number discarded (less than `n` at end of stream). */
  async skip(n: number): Promise<number> {
    let skipped = 0;
    while (skipped < n) {
      const available = await this.fill(1);
      if (available === 0) break;
      const part = Math.min(this.chunks[0].length, n - skipped);
      this.consume(part);
      skipped += part;
    }
    this.position += skipped;
    return skipped;
  }

  /** Drops `n` bytes from the front of the first chunk (n <= its length). */
  private consume(n: number): void {
    const first = this.chunks[0];
    if (n >= first.length) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
  }

  /** Stops reading and releases the underlying stream (safe to call more than once). */
  async close(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    if (!this.done) {
      this.done = true;
      await this.iterator.return?.();
    }
  }
}
