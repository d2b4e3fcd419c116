/**
 * Per-shard row buffers for the assignment pass: rows are appended to their shard's buffer and
 * handed to the shard's writer in large batches, so memory stays bounded whatever the input size
 * and indexes get few, large fragments.
 *
 * Writes overlap with reading: each shard's batches are written in order (one chain per shard),
 * different shards' batches run concurrently (LanceDB writes on its own threads, sqlite-vec in
 * worker threads), and the caller is held back only when the bytes buffered plus in flight exceed
 * `maxBufferedBytes`.
 */
import type { ShardIndexWriter, ShardRows } from './backends/shard-index-writer.ts';

/** Buffering limits. */
export interface ShardBufferLimits {
  /** Hand a shard's rows to its writer once it holds this many rows (default 65,536). */
  flushRows: number;
  /** Bytes buffered plus in flight across all shards before `add` waits (default 256 MiB). */
  maxBufferedBytes: number;
}

/** A row's KV entry (KV + vector builds): canonical key bytes and value bytes. */
export interface KvEntryBytes {
  key: Uint8Array;
  value: Uint8Array;
}

/** Default limits. */
export const DEFAULT_SHARD_BUFFER_LIMITS: ShardBufferLimits = { flushRows: 65_536, maxBufferedBytes: 256 * 1024 * 1024 };

class RowBuffer {
  ids: string[] = [];
  payloads: (string | null)[] = [];
  /** KV builds only: key and value bytes per row. */
  keys: Uint8Array[] | undefined;
  values: Uint8Array[] | undefined;
  vectors: Float32Array;
  bytes = 0;
  constructor(private readonly dim: number) {
    this.vectors = new Float32Array(dim * 256);
  }
  get rows(): number {
    return this.ids.length;
  }
  push(id: string, vector: Float32Array, payload: string | null, kv: KvEntryBytes | undefined): number {
    const need = (this.ids.length + 1) * this.dim;
    if (need > this.vectors.length) {
      const grown = new Float32Array(Math.max(need, this.vectors.length * 2));
      grown.set(this.vectors);
      this.vectors = grown;
    }
    this.vectors.set(vector, this.ids.length * this.dim);
    this.ids.push(id);
    this.payloads.push(payload);
    let kvBytes = 0;
    if (kv !== undefined) {
      (this.keys ??= []).push(kv.key);
      (this.values ??= []).push(kv.value);
      kvBytes = kv.key.length + kv.value.length + 32;
    }
    const added = this.dim * 4 + id.length * 2 + (payload?.length ?? 0) * 2 + 64 + kvBytes;
    this.bytes += added;
    return added;
  }
}

/** Buffers rows per shard and feeds each shard's writer. */
export class ShardBuffers {
  private readonly buffers: RowBuffer[];
  /** Bytes in buffers plus bytes handed to writers and not yet written. */
  private pendingBytes = 0;
  /** Per shard: the promise of its last write (writes of one shard run in order). */
  private readonly chains: Promise<void>[];
  /** Writes in flight, oldest first, with their byte sizes. */
  private inFlight: { done: Promise<void>; settled: boolean }[] = [];
  private failure: unknown;
  /** Rows written or buffered per shard (every shard, owned or not). */
  readonly counts: number[];

  /**
   * @param writers one entry per shard (index = db id): its writer, or undefined for a shard this
   *   process does not build (its rows are counted and dropped).
   * @param dim vector dimension.
   */
  constructor(
    private readonly writers: readonly (ShardIndexWriter | undefined)[],
    private readonly dim: number,
    private readonly limits: ShardBufferLimits = DEFAULT_SHARD_BUFFER_LIMITS,
  ) {
    this.buffers = writers.map(() => new RowBuffer(dim));
    this.chains = writers.map(() => Promise.resolve());
    this.counts = writers.map(() => 0);
  }

  /**
   * Adds one row to shard `dbId`; waits when too much is buffered or in flight.
   * @param vector `Float32Array` of length dim (copied).
   * @param payload JSON object text or null.
   * @param kv KV + vector builds: the row's key and value (kept by reference until written). Either
   *   every row of a build has one or none has.
   * @throws the first writer error (VectorIndexError naming the shard).
   */
  async add(dbId: number, id: string, vector: Float32Array, payload: string | null, kv?: KvEntryBytes): Promise<void> {
    this.counts[dbId]++;
    if (this.writers[dbId] === undefined) return;
    const buffer = this.buffers[dbId];
    this.pendingBytes += buffer.push(id, vector, payload, kv);
    if (buffer.rows >= this.limits.flushRows) this.flush(dbId);
    while (this.pendingBytes > this.limits.maxBufferedBytes) {
      const oldest = this.inFlight.shift();
      if (oldest) {
        await oldest.done;
        continue;
      }
      let largest = 0;
      for (let i = 1; i < this.buffers.length; i++) if (this.buffers[i].bytes > this.buffers[largest].bytes) largest = i;
      this.flush(largest);
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * Hands every non-empty buffer to its writer and waits for all writes.
   * @throws the first writer error.
   */
  async flushAll(): Promise<void> {
    for (let i = 0; i < this.buffers.length; i++) this.flush(i);
    await Promise.all(this.chains);
    if (this.failure !== undefined) throw this.failure;
  }

  private flush(dbId: number): void {
    const buffer = this.buffers[dbId];
    const writer = this.writers[dbId];
    if (buffer.rows === 0 || writer === undefined) return;
    this.buffers[dbId] = new RowBuffer(this.dim);
    // The buffer is dropped here (a new one takes its place), so a worker-thread writer may take
    // its vectors' whole ArrayBuffer instead of a copy of the filled part.
    const rows: ShardRows = { ids: buffer.ids, vectors: buffer.vectors.subarray(0, buffer.rows * this.dim), payloads: buffer.payloads, handOverVectors: true };
    if (buffer.keys !== undefined && buffer.values !== undefined) {
      rows.keys = buffer.keys;
      rows.values = buffer.values;
    }
    const entry = { done: Promise.resolve(), settled: false };
    entry.done = this.chains[dbId]
      .then(() => (this.failure === undefined ? writer.add(rows) : undefined))
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.pendingBytes -= buffer.bytes;
        entry.settled = true;
      });
    this.chains[dbId] = entry.done;
    if (this.inFlight.length >= 64) this.inFlight = this.inFlight.filter((e) => !e.settled);
    this.inFlight.push(entry);
  }
}
