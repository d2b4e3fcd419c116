/**
 * Messages between `WriterWorkerPool` (main thread) and `writer-worker.ts` (a worker thread
 * running synchronous shard writers: sqlite-vec files, usearch indexes). Every request carries a
 * `callId`; the worker answers each request with exactly one reply carrying the same `callId`.
 */
import type { BuiltShard } from './shard-index-writer.ts';
import type { SqliteVecShardWriterOptions } from './sqlite-vec-shard-writer.ts';
import type { UsearchShardWriterOptions } from './usearch-shard-writer.ts';

/** Which writer a worker opens, with its options (plain data, cloned into the worker). */
export type WorkerWriterSpec = { backend: 'sqlite-vec'; options: SqliteVecShardWriterOptions } | { backend: 'usearch'; options: UsearchShardWriterOptions };

/** Main thread -> worker. `writerId` is unique within a pool. */
export type WriterWorkerRequest =
  | { type: 'open'; callId: number; writerId: number; spec: WorkerWriterSpec }
  | {
      type: 'add';
      callId: number;
      writerId: number;
      ids: string[];
      /** `Float32Array` of length ids.length * dim (its buffer is usually transferred). */
      vectors: Float32Array;
      payloads: (string | null)[];
      /** KV + vector builds: key / value bytes per row (see ShardRows). */
      keys?: Uint8Array[];
      values?: Uint8Array[];
    }
  | { type: 'finish'; callId: number; writerId: number }
  | { type: 'abort'; callId: number; writerId: number };

/** An error as it crosses the thread boundary. */
export interface WriterWorkerError {
  /** Error class name, e.g. `VectorIndexError`, `ConfigValidationError`. */
  name: string;
  message: string;
}

/** Worker -> main thread. */
export type WriterWorkerReply =
  | { type: 'ok'; callId: number; built?: BuiltShard }
  | { type: 'error'; callId: number; error: WriterWorkerError };
