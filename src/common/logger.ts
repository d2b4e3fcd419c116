/**
 * Structured JSON logging (pino) to stderr, so stdout stays free for command output.
 * Level from `SHARDFLEET_LOG_LEVEL` (default `info`).
 */
import pino from 'pino';
import type { Logger } from 'pino';

export type { Logger } from 'pino';

/** Creates the process logger; `component` is added to every line (e.g. `router`, `shard-node`). */
export function createLogger(component: string, bindings: Record<string, unknown> = {}): Logger {
  return pino(
    { level: process.env.SHARDFLEET_LOG_LEVEL ?? 'info', base: { component, pid: process.pid, ...bindings } },
    pino.destination({ dest: 2, sync: true }),
  );
}
