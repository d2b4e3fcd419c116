/**
 * Builds shards with synchronous writers (sqlite-vec files, usearch indexes) concurrently in
 * worker threads. better-sqlite3 and usearch are synchronous, so such a writer on the main thread
 * would block it for the whole build; the pool runs the writers in `concurrency` worker threads
 * instead (shard `dbId` goes to worker `dbId % concurrency`) and hands out proxies implementing
 * `ShardIndexWriter`.
 *
 * Each proxy call posts one message and resolves when the worker has done the work (so a caller
 * awaiting `add()` gets back-pressure). A worker that crashes or exits rejects every pending and
 * later call of its writers with a VectorIndexError naming the shard and file; a writer created
 * afterwards for the same slot gets a fresh worker.
 *
 * Workers load TypeScript through `writer-worker-bootstrap.mjs`, which registers tsx itself,
 * so the pool works under `node --import tsx` and under bin/shardfleet.js (programmatic tsx
 * registration, which worker threads do not inherit). When this module runs compiled (`.js`), the
 * compiled `writer-worker.js` is loaded directly.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { ConfigValidationError, VectorIndexError, errorMessage } from '../../common/errors.ts';
import type { BuiltShard, ShardIndexWriter, ShardRows } from './shard-index-writer.ts';
import { checkSqliteVecWriterOptions, removeSqliteVecShardFiles, sqliteVecShardFile } from './sqlite-vec-shard-writer.ts';
import type { WorkerWriterSpec, WriterWorkerReply, WriterWorkerRequest } from './writer-worker-protocol.ts';
import { checkUsearchWriterOptions, removeUsearchShardFiles } from './usearch-shard-writer.ts';

const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('./writer-worker-bootstrap.mjs', import.meta.url)
  : new URL('./writer-worker.js', import.meta.url);

/** Options of {@link WriterWorkerPool}. */
export interface WriterWorkerPoolOptions {
  /** Number of worker threads (shards built at the same time), an integer >= 1. */
  concurrency: number;
  /** Optional V8 heap limits per worker (Node `ResourceLimits`, megabytes). */
  resourceLimits?: ResourceLimits;
}

/**
 * Node flags a worker accepts and needs to load and run modules the way its parent does (module
 * hooks, resolution conditions, source maps, warnings) or to be profiled with it (`--cpu-prof`,
 * `--heap-prof`), in both `--flag=value` and `--flag value` forms. The flag takes a value when true.
 */
const WORKER_FLAGS = new Map<string, boolean>([
  ['--import', true],
  ['--require', true],
  ['-r', true],
  ['--loader', true],
  ['--experimental-loader', true],
  ['--conditions', true],
  ['-C', true],
  ['--enable-source-maps', false],
  ['--no-warnings', false],
  ['--no-deprecation', false],
  // Profiling: `node --cpu-prof [--cpu-prof-dir d] ...` profiles the writer workers too (each
  // thread writes its own CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile). Not --cpu-prof-name:
  // every thread would write the same file.
  ['--cpu-prof', false],
  ['--cpu-prof-dir', true],
  ['--cpu-prof-interval', true],
  ['--heap-prof', false],
  ['--heap-prof-dir', true],
  ['--heap-prof-interval', true],
]);

/**
 * The parent's Node flags a worker should get: only those in {@link WORKER_FLAGS}. Passing the
 * parent's whole `process.execArgv` fails `new Worker()` (ERR_WORKER_INVALID_EXEC_ARGV) as soon as
 * it holds a per-process or V8 flag (`node --stack-trace-limit=20 ...`, `--use-largepages`, and
 * every default Node 26's test runner hands its children), and inheriting it unchanged breaks on
 * `--input-type` (valid only with `--eval` / stdin).
 */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const takesValue = WORKER_FLAGS.get(name);
    if (takesValue === undefined) continue;
    out.push(a);
    if (takesValue && eq < 0 && i + 1 < argv.length) out.push(argv[++i]);
  }
  return out;
}

/** A request without its call id (assigned when posted). */
type Request = WriterWorkerRequest extends infer R ? (R extends { callId: number } ? Omit<R, 'callId'> : never) : never;

/** A call waiting for its reply. */
interface Pending {
  resolve: (built: BuiltShard | undefined) => void;
  reject: (err: Error) => void;
  dbId: number;
  file: string;
  what: string;
}

/** Rebuilds a worker-side error on the main thread, naming the shard and file. */
function rebuildError(error: { name: string; message: string }, dbId: number, file: string): Error {
  if (error.name === 'ConfigValidationError') return new ConfigValidationError(error.message);
  const named = error.message.includes(`shard ${dbId}`) ? error.message : `shard ${dbId} (${file}): ${error.message}`;
  return new VectorIndexError(named);
}

/** One worker thread and its calls in flight. */
class PoolWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextCallId = 1;
  /** Why the worker is gone (crash, exit, pool closed); undefined while it runs. */
  deadReason: string | undefined;

  constructor(
    readonly index: number,
    resourceLimits: ResourceLimits | undefined,
  ) {
    this.worker = new Worker(WORKER_URL, { execArgv: workerExecArgv(), ...(resourceLimits ? { resourceLimits } : {}) });
    this.worker.unref();
    this.worker.on('message', (reply: WriterWorkerReply) => this.onReply(reply));
    this.worker.on('error', (err: Error) => this.die(`crashed (${errorMessage(err)})`));
    this.worker.on('messageerror', (err: Error) => this.die(`could not decode a message (${errorMessage(err)})`));
    this.worker.on('exit', (code: number) => this.die(`exited with code ${code}`));
  }

  /**
   * Posts a request. Throws synchronously (nothing pending) when the message cannot be cloned or
   * transferred; otherwise returns the promise of the reply.
   */
  post(request: Request, transfer: ArrayBuffer[], dbId: number, file: string): Promise<BuiltShard | undefined> {
    if (this.deadReason !== undefined) {
      return Promise.reject(new VectorIndexError(`shard ${dbId} (${file}): writer worker ${this.index} ${this.deadReason}; cannot ${request.type}`));
    }
    const callId = this.nextCallId++;
    this.worker.postMessage({ ...request, callId }, transfer);
    if (this.pending.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => this.pending.set(callId, { resolve, reject, dbId, file, what: request.type }));
  }

  private onReply(reply: WriterWorkerReply): void {
    const call = this.pending.get(reply.callId);
    if (call === undefined) return;
    this.pending.delete(reply.callId);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.type === 'ok') call.resolve(reply.built);
    else call.reject(rebuildError(reply.error, call.dbId, call.file));
  }

  /** Marks the worker dead and rejects every pending call. Idempotent. */
  die(reason: string): void {
    if (this.deadReason !== undefined) return;
    this.deadReason = reason;
    for (const call of this.pending.values()) {
      call.reject(new VectorIndexError(`shard ${call.dbId} (${call.file}): writer worker ${this.index} ${reason} during ${call.what}`));
    }
    this.pending.clear();
    void this.worker.terminate();
  }

  /** Terminates the thread, rejecting pending calls with `reason`. */
  async terminate(reason: string): Promise<void> {
    this.die(reason);
    await this.worker.terminate();
  }
}

/**
 * The vectors of a batch ready to post: their buffer transferred when the array covers all of it
 * or the caller hands it over (`handOver`, ShardRows.handOverVectors: the worker then receives
 * the same view, offset and length, of the transferred buffer), copied when a view.
 */
export function vectorsForTransfer(vectors: Float32Array, handOver = false): { vectors: Float32Array; transfer: ArrayBuffer[] } {
  const buffer = vectors.buffer;
  // A SharedArrayBuffer is shared, not copied; the caller awaits add() before reusing it.
  if (!(buffer instanceof ArrayBuffer)) return { vectors, transfer: [] };
  if (handOver || (vectors.byteOffset === 0 && vectors.byteLength === buffer.byteLength)) return { vectors, transfer: [buffer] };
  const copy = vectors.slice();
  return { vectors: copy, transfer: [copy.buffer] };
}

/** How errors name a shard's files: the sqlite-vec file, or the usearch shard's folder. */
function shardLabel(spec: WorkerWriterSpec): string {
  return spec.backend === 'sqlite-vec' ? sqliteVecShardFile(spec.options.dir) : spec.options.dir;
}

/** A `ShardIndexWriter` whose work runs in a pool worker. */
class WorkerShardWriter implements ShardIndexWriter {
  readonly file: string;
  private readonly opened: Promise<unknown>;
  private state: 'open' | 'finished' | 'aborted' = 'open';

  constructor(
    readonly dbId: number,
    private readonly worker: PoolWorker,
    private readonly writerId: number,
    private readonly spec: WorkerWriterSpec,
  ) {
    this.file = shardLabel(spec);
    this.opened = this.call({ type: 'open', writerId, spec }, []);
    // The error surfaces from the next add() / finish(); avoid an unhandled rejection meanwhile.
    this.opened.catch(() => undefined);
  }

  private call(request: Request, transfer: ArrayBuffer[]): Promise<BuiltShard | undefined> {
    try {
      return this.worker.post(request, transfer, this.dbId, this.file);
    } catch (err) {
      return Promise.reject(new VectorIndexError(`shard ${this.dbId} (${this.file}): cannot post ${request.type} to writer worker ${this.worker.index}: ${errorMessage(err)}`, { cause: err }));
    }
  }

  /**
   * Posts the rows to the worker and resolves once they are written. When `rows.vectors` covers
   * its whole ArrayBuffer, or `rows.handOverVectors` is set, that buffer is TRANSFERRED (the
   * caller's array becomes empty); otherwise a view into a larger buffer is copied first and the
   * caller's array is left intact.
   * @throws VectorIndexError naming the shard and file when the worker rejects the rows (e.g. a
   *   wrong vector length), crashed or exited.
   */
  async add(rows: ShardRows): Promise<void> {
    if (this.state !== 'open') throw new VectorIndexError(`shard ${this.dbId} (${this.file}): add() after the writer was ${this.state}`);
    await this.opened;
    const { vectors, transfer } = vectorsForTransfer(rows.vectors, rows.handOverVectors === true);
    const kv = rows.keys !== undefined && rows.values !== undefined ? { keys: rows.keys, values: rows.values } : {};
    await this.call({ type: 'add', writerId: this.writerId, ids: rows.ids, vectors, payloads: rows.payloads, ...kv }, transfer);
  }

  /**
   * Finishes the shard in the worker (see `SqliteVecShardWriter.finish`, `UsearchShardWriter.finish`).
   * @throws VectorIndexError naming the shard and file (no rows, backend failure, worker crash).
   */
  async finish(): Promise<BuiltShard> {
    if (this.state !== 'open') throw new VectorIndexError(`shard ${this.dbId} (${this.file}): finish() after the writer was ${this.state}`);
    this.state = 'finished';
    await this.opened;
    const built = await this.call({ type: 'finish', writerId: this.writerId }, []);
    if (built === undefined) throw new VectorIndexError(`shard ${this.dbId} (${this.file}): the writer worker returned no result`);
    return built;
  }

  /** Aborts the shard in the worker and deletes its file (also when the worker is gone). Never throws. */
  async abort(): Promise<void> {
    if (this.state === 'open') this.state = 'aborted';
    try {
      await this.opened;
      await this.call({ type: 'abort', writerId: this.writerId }, []);
    } catch {
      try {
        if (this.spec.backend === 'sqlite-vec') removeSqliteVecShardFiles(this.spec.options.dir);
        else removeUsearchShardFiles(this.spec.options.dir);
      } catch {
        // abort never throws
      }
    }
  }
}

/** Runs synchronous shard writers in worker threads. Close it with {@link close}. */
export class WriterWorkerPool {
  /** Number of worker threads. */
  readonly concurrency: number;
  private readonly resourceLimits: ResourceLimits | undefined;
  private readonly workers: (PoolWorker | undefined)[];
  private nextWriterId = 1;
  private closed = false;

  /**
   * Workers start lazily, on the first writer of their slot.
   * @param options the pool options, or just the concurrency (number of worker threads).
   * @throws ConfigValidationError when `concurrency` is not an integer >= 1.
   */
  constructor(optionsOrConcurrency: WriterWorkerPoolOptions | number) {
    const options = typeof optionsOrConcurrency === 'number' ? { concurrency: optionsOrConcurrency } : optionsOrConcurrency;
    if (!Number.isSafeInteger(options.concurrency) || options.concurrency < 1) {
      throw new ConfigValidationError(`--concurrency (shards built at once) must be an integer >= 1, got ${options.concurrency}`);
    }
    this.concurrency = options.concurrency;
    this.resourceLimits = options.resourceLimits;
    this.workers = new Array<PoolWorker | undefined>(options.concurrency).fill(undefined);
  }

  /**
   * A writer for one shard, running in worker `spec.options.dbId % concurrency`.
   * @param spec the backend and its writer options (checked here, synchronously).
   * @returns a `ShardIndexWriter` proxy; its `add()` transfers the vectors' buffer when the array
   *   covers all of it.
   * @throws ConfigValidationError for invalid options; VectorIndexError after {@link close}.
   */
  createWriter(spec: WorkerWriterSpec): ShardIndexWriter {
    if (spec.backend === 'sqlite-vec') checkSqliteVecWriterOptions(spec.options);
    else checkUsearchWriterOptions(spec.options);
    const { dbId } = spec.options;
    if (this.closed) throw new VectorIndexError(`shard ${dbId} (${shardLabel(spec)}): the shard writer worker pool is closed`);
    const slot = dbId % this.concurrency;
    let worker = this.workers[slot];
    if (worker === undefined || worker.deadReason !== undefined) {
      worker = new PoolWorker(slot, this.resourceLimits);
      this.workers[slot] = worker;
    }
    return new WorkerShardWriter(dbId, worker, this.nextWriterId++, { ...spec, options: { ...spec.options } } as WorkerWriterSpec);
  }

  /** Terminates the workers; calls still pending reject with a VectorIndexError. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.filter((w): w is PoolWorker => w !== undefined);
    this.workers.fill(undefined);
    await Promise.all(workers.map((w) => w.terminate('stopped because the pool was closed')));
  }
}
