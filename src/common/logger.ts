/**
 * Structured JSON logging (pino) to stderr, so stdout stays free for command output.
 * Level from `SHARDFLEET_LOG_LEVEL` (default `info`).
 *
 * Every logger made here writes through one {@link LogLineSink}, by default the process's
 * {@link stderrLogSink}. A progress display (writer/build-progress.ts) diverts that sink while its
 * bars are on screen, so log lines print above the bars instead of through them.
 */
import pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { ConfigValidationError } from './errors.ts';

export type { Logger } from 'pino';

/** The levels `SHARDFLEET_LOG_LEVEL` accepts, most verbose first (pino's levels plus `silent`). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The log level named by `SHARDFLEET_LOG_LEVEL` (trimmed, case-insensitive; unset or empty = `info`).
 * @throws ConfigValidationError naming the variable and the allowed levels for any other value
 *   (pino's own error, `unknown level verbose`, names neither).
 */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): LogLevel {
  const raw = env.SHARDFLEET_LOG_LEVEL?.trim().toLowerCase();
  if (raw === undefined || raw === '') return 'info';
  const level = LOG_LEVELS.find((l) => l === raw);
  if (level === undefined) {
    throw new ConfigValidationError(`SHARDFLEET_LOG_LEVEL=${env.SHARDFLEET_LOG_LEVEL} is not a log level; use one of ${LOG_LEVELS.join(', ')}`);
  }
  return level;
}

/** Where a logger's lines go: each call is one complete line ending in `\n`. */
export interface LogLineSink extends DestinationStream {
  write(line: string): void;
}

/**
 * The process's stderr as a log sink: lines go to fd 2 synchronously (pino's sonic-boom
 * destination, which retries EAGAIN on a non-blocking pipe), unless diverted.
 */
export class DivertableLogSink implements LogLineSink {
  private diverted: ((line: string) => void) | undefined;
  private fallback: DestinationStream | undefined;

  /** @param target where undiverted lines go (default: fd 2, opened on first use). */
  constructor(target?: DestinationStream) {
    this.fallback = target;
  }

  write(line: string): void {
    if (this.diverted !== undefined) {
      this.diverted(line);
      return;
    }
    this.fallback ??= pino.destination({ dest: 2, sync: true });
    this.fallback.write(line);
  }

  /**
   * Sends every line to `to` until the returned function is called (which restores the previous
   * target; diversions nest).
   */
  divert(to: (line: string) => void): () => void {
    const previous = this.diverted;
    this.diverted = to;
    return () => {
      this.diverted = previous;
    };
  }
}

/** The sink every {@link createLogger} logger writes to unless given another. */
export const stderrLogSink = new DivertableLogSink();

/**
 * Creates the process logger; `component` is added to every line (e.g. `router`, `shard-node`).
 * @throws ConfigValidationError when `SHARDFLEET_LOG_LEVEL` is not a level (see {@link logLevelFromEnv}).
 */
export function createLogger(component: string, bindings: Record<string, unknown> = {}, sink: LogLineSink = stderrLogSink): Logger {
  return pino({ level: logLevelFromEnv(), base: { component, pid: process.pid, ...bindings } }, sink);
}
