/**
 * Closed-loop load for the fault benchmark, from its own process (bench/fault-load-client.ts), so
 * the benchmark's own work (polling Health, spawning and killing processes, damaging files) does
 * not delay the clients. Unlike bench/query-client.ts (aggregates for the sweep) it returns every
 * query: when it started (epoch ms), how long it took, its gRPC status, which run answered, and
 * whether the answer was partial, so the benchmark can cut the load at the fault's timestamps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { SearchParams } from '../../src/client/router-client.ts';
import { percentile } from '../../src/eval/recall.ts';
import { trackChild } from './exit-cleanup.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Environment variable that hands the load client its bearer token (auth routers). */
export const LOAD_TOKEN_ENV = 'SHARDFLEET_BENCH_LOAD_TOKEN';

/** One load run the parent asks for. */
export interface LoadStart {
  op: 'start';
  id: number;
  concurrency: number;
  /** Stop after this many queries (0 = until stopped or `maxMs`). */
  maxQueries: number;
  /** Stop after this long at the latest, ms. */
  maxMs: number;
  /** Search parameters except the vector (`timeout_ms` is the per-query deadline). */
  params: Omit<SearchParams, 'vector'>;
  /** Also record each answer's `collection` and result ids (the alias-swap section); default false. */
  recordAnswers?: boolean;
}

/** Stops load run `id` (its reply follows once its in-flight queries finished). */
export interface LoadStop {
  op: 'stop';
  id: number;
}

export type LoadCommand = LoadStart | LoadStop;

/**
 * One query on the wire: [start epoch ms, latency ms, gRPC code, index, partial 0/1]; the index is
 * into `runs` for answered queries (code 0) and into `messages` for failed ones. With
 * {@link LoadStart.recordAnswers}, an answered query also carries [index into `collections`,
 * result ids in rank order].
 */
export type PackedQuery = [number, number, number, number, number] | [number, number, number, number, number, number, string[]];

/** The client's answer to a load run. */
export interface LoadReply {
  id: number;
  queries: PackedQuery[];
  runs: string[];
  messages: string[];
  /** Answering collections (only with {@link LoadStart.recordAnswers}). */
  collections?: string[];
}

/** One query as the benchmark reads it. */
export interface QueryRecord {
  /** Start, epoch ms (performance.timeOrigin + performance.now(), comparable across processes). */
  t: number;
  /** Latency at the client, ms. */
  ms: number;
  /** gRPC status code (0 = answered). */
  code: number;
  /** The run that answered (answered queries). */
  runId?: string;
  /** `CODE_NAME: details` (failed queries). */
  message?: string;
  partial: boolean;
  /** The collection that answered (answered queries of a run with `recordAnswers`). */
  collection?: string;
  /** The answer's result ids in rank order (answered queries of a run with `recordAnswers`). */
  ids?: string[];
}

/** Epoch milliseconds with sub-millisecond resolution, the clock of {@link QueryRecord.t}. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** `DEADLINE_EXCEEDED` for 4, etc. */
export function statusName(code: number): string {
  return (grpcStatus as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}

function unpack(reply: LoadReply): QueryRecord[] {
  return reply.queries.map((q) => {
    const [t, ms, code, index, partial] = q;
    if (code !== 0) return { t, ms, code, message: reply.messages[index], partial: false };
    const record: QueryRecord = { t, ms, code, runId: reply.runs[index], partial: partial === 1 };
    if (q.length === 7) {
      record.collection = reply.collections?.[q[5]] ?? '';
      record.ids = q[6];
    }
    return record;
  });
}

/** A running load: stop it, or wait for it to reach its query budget. */
export interface LoadRun {
  /** Resolves with every query once the run ended by itself. */
  done: Promise<QueryRecord[]>;
  /** Asks the run to stop; resolves with every query. */
  stop(): Promise<QueryRecord[]>;
}

/** The load client child process (one per cluster: it talks to one router address). */
export class LoadClient {
  private readonly pending = new Map<number, (reply: LoadReply) => void>();
  private nextId = 1;
  private readyResolve: (() => void) | undefined;
  private readonly exited: Promise<never>;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) => reject(new Error(`load client exited (code ${code}, signal ${signal})`)));
    });
    this.exited.catch(() => undefined);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.trim()) return;
      const msg = JSON.parse(line) as LoadReply | { ready: true };
      if ('ready' in msg) {
        this.readyResolve?.();
        return;
      }
      const resolve = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      resolve?.(msg);
    });
  }

  /**
   * Starts `bench/fault-load-client.ts` against `routerAddress` with the query vectors in
   * `queriesFile` (raw float32 LE, row-major); with `bearerToken`, every query carries
   * `authorization: Bearer <token>` (passed in the environment, not on the command line).
   */
  static async start(routerAddress: string, queriesFile: string, dim: number, bearerToken?: string): Promise<LoadClient> {
    const env: NodeJS.ProcessEnv = { ...process.env, SHARDFLEET_LOG_LEVEL: 'warn' };
    if (bearerToken !== undefined) env[LOAD_TOKEN_ENV] = bearerToken;
    const child = trackChild(
      spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'fault-load-client.ts'), routerAddress, queriesFile, String(dim)], {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'inherit'],
        env,
      }),
    );
    const client = new LoadClient(child);
    await Promise.race([new Promise<void>((resolve) => (client.readyResolve = resolve)), client.exited]);
    return client;
  }

  /** Starts a load run (see {@link LoadStart}). */
  run(options: Omit<LoadStart, 'op' | 'id'>): LoadRun {
    const id = this.nextId++;
    const reply = new Promise<LoadReply>((resolve) => this.pending.set(id, resolve));
    this.send({ op: 'start', id, ...options });
    const done = Promise.race([reply, this.exited]).then(unpack);
    return {
      done,
      stop: () => {
        this.send({ op: 'stop', id });
        return done;
      },
    };
  }

  /** Runs `maxQueries` queries and returns them. */
  runCount(concurrency: number, maxQueries: number, params: Omit<SearchParams, 'vector'>): Promise<QueryRecord[]> {
    return this.run({ concurrency, maxQueries, maxMs: 120_000, params }).done;
  }

  private send(cmd: LoadCommand): void {
    this.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
  }

  /** Closes its stdin: the client exits. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    await exited;
  }
}

/** What a set of queries shows. */
export interface QueryStats {
  sent: number;
  ok: number;
  /** Failed queries by status name. */
  failedByStatus: Record<string, number>;
  failed: number;
  partial: number;
  /** Answered by a run that is not one of the accepted runs. */
  wrongRun: number;
  /** Answers by run_id. */
  runs: Record<string, number>;
  /** Latency percentiles of the answered queries, ms (NaN when none). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Up to 5 distinct failure messages with their counts. */
  samples: { message: string; count: number }[];
}

/** Counts `queries`; answers from runs not in `acceptRuns` count as wrong (`undefined` = any run). */
export function queryStats(queries: readonly QueryRecord[], acceptRuns?: ReadonlySet<string>): QueryStats {
  const failedByStatus: Record<string, number> = {};
  const runs: Record<string, number> = {};
  const messages = new Map<string, number>();
  const latencies: number[] = [];
  let ok = 0;
  let partial = 0;
  let wrongRun = 0;
  for (const q of queries) {
    if (q.code === 0) {
      ok++;
      latencies.push(q.ms);
      const run = q.runId ?? '';
      runs[run] = (runs[run] ?? 0) + 1;
      if (q.partial) partial++;
      if (acceptRuns !== undefined && !acceptRuns.has(run)) wrongRun++;
    } else {
      const name = statusName(q.code);
      failedByStatus[name] = (failedByStatus[name] ?? 0) + 1;
      const m = q.message ?? name;
      messages.set(m, (messages.get(m) ?? 0) + 1);
    }
  }
  const samples = [...messages]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([message, count]) => ({ message, count }));
  return {
    sent: queries.length,
    ok,
    failedByStatus,
    failed: queries.length - ok,
    partial,
    wrongRun,
    runs,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length ? Math.max(...latencies) : NaN,
    samples,
  };
}

/** True for a query that counts against the goal: failed, partial, or answered by a wrong run. */
export function isBad(q: QueryRecord, acceptRuns?: ReadonlySet<string>): boolean {
  if (q.code !== 0) return true;
  if (q.partial) return true;
  return acceptRuns !== undefined && !acceptRuns.has(q.runId ?? '');
}
