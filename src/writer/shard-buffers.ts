/**
 * Per-shard row buffers for the assignment pass: rows are appended to their shard's buffer and
 * flushed to the shard's LanceDB table in large batches, so memory stays bounded by
 * `maxBufferedBytes` whatever the input size, and tables get few, large fragments.
 */
import type { LanceShardWriter } from './backends/lancedb-shard-writer.ts';

/** Buffering limits. */
export interface ShardBufferLimits {
  /** Flush a shard once it holds this many rows (default 65,536). */
  flushRows: number;
  /** Flush the largest shard buffer when all buffers together exceed this many bytes (default 256 MiB). */
  maxBufferedBytes: number;
}

class RowBuffer {
  ids: string[] = [];
  payloads: (string | null)[] = [];
  vectors: Float32Array;
  bytes = 0;
  constructor(private readonly dim: number) {
    this.vectors = new Float32Array(dim * 256);
  }
  get rows(): number {
    return this.ids.length;
  }
  push(id: string, vector: Float32Array, payload: string | null): number {
    const need = (this.ids.length + 1) * this.dim;
    if (need > this.vectors.length) {
      const grown = new Float32Array(Math.max(need, this.vectors.length * 2));
      grown.set(this.vectors);
      this.vectors = grown;
    }
    this.vectors.set(vector, this.ids.length * this.dim);
    this.ids.push(id);
    this.payloads.push(payload);
    const added = this.dim * 4 + id.length * 2 + (payload?.length ?? 0) * 2 + 64;
    this.bytes += added;
    return added;
  }
}

/** Buffers rows per shard and flushes them to each shard's writer. */
export class ShardBuffers {
  private readonly buffers: RowBuffer[];
  private bufferedBytes = 0;
  /** Rows written or buffered per shard. */
  readonly counts: number[];

  /**
   * @param writers one writer per shard, index = db id.
   * @param dim vector dimension.
   */
  constructor(
    private readonly writers: LanceShardWriter[],
    private readonly dim: number,
    private readonly limits: ShardBufferLimits = { flushRows: 65_536, maxBufferedBytes: 256 * 1024 * 1024 },
  ) {
    this.buffers = writers.map(() => new RowBuffer(dim));
    this.counts = writers.map(() => 0);
  }

  /** Adds one row to shard `dbId`, flushing when a limit is reached. */
  async add(dbId: number, id: string, vector: Float32Array, payload: string | null): Promise<void> {
    const buffer = this.buffers[dbId];
    this.bufferedBytes += buffer.push(id, vector, payload);
    this.counts[dbId]++;
    if (buffer.rows >= this.limits.flushRows) await this.flush(dbId);
    while (this.bufferedBytes > this.limits.maxBufferedBytes) {
      let largest = 0;
      for (let i = 1; i < this.buffers.length; i++) if (this.buffers[i].bytes > this.buffers[largest].bytes) largest = i;
      await this.flush(largest);
    }
  }

  /** Flushes every non-empty buffer. */
  async flushAll(): Promise<void> {
    for (let i = 0; i < this.buffers.length; i++) await this.flush(i);
  }

  private async flush(dbId: number): Promise<void> {
    const buffer = this.buffers[dbId];
    if (buffer.rows === 0) return;
    this.buffers[dbId] = new RowBuffer(this.dim);
    this.bufferedBytes -= buffer.bytes;
    await this.writers[dbId].add({
      ids: buffer.ids,
      vectors: buffer.vectors.subarray(0, buffer.rows * this.dim),
      payloads: buffer.payloads,
    });
  }
}
