/**
 * Messages between `SqliteVecWorkerPool` (main thread) and `sqlite-vec-worker.ts` (a worker
 * thread running `SqliteVecShardWriter`s). Every request carries a `callId`; the worker answers
 * each request with exactly one reply carrying the same `callId`.
 */
import type { BuiltShard } from './shard-index-writer.ts';
import type { SqliteVecShardWriterOptions } from './sqlite-vec-shard-writer.ts';

/** Main thread -> worker. `writerId` is unique within a pool. */
export type SqliteVecWorkerRequest =
  | { type: 'open'; callId: number; writerId: number; options: SqliteVecShardWriterOptions }
  | {
      type: 'add';
      callId: number;
      writerId: number;
      ids: string[];
      /** `Float32Array` of length ids.length * dim (its buffer is usually transferred). */
      vectors: Float32Array;
      payloads: (string | null)[];
    }
  | { type: 'finish'; callId: number; writerId: number }
  | { type: 'abort'; callId: number; writerId: number };

/** An error as it crosses the thread boundary. */
export interface SqliteVecWorkerError {
  /** Error class name, e.g. `VectorIndexError`, `ConfigValidationError`. */
  name: string;
  message: string;
}

/** Worker -> main thread. */
export type SqliteVecWorkerReply =
  | { type: 'ok'; callId: number; built?: BuiltShard }
  | { type: 'error'; callId: number; error: SqliteVecWorkerError };
