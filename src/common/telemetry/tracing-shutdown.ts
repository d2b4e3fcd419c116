/**
 * Flushing traces before the process exits. Imports nothing from OpenTelemetry: servers call
 * {@link shutdownTracing} unconditionally, and it resolves at once when tracing is off.
 */

type ShutdownFn = () => Promise<void>;

/** Shared through globalThis so every copy of this module sees the same registration. */
const SLOT = Symbol.for('shardfleet.telemetry.shutdown');

interface ShutdownSlot {
  fn?: ShutdownFn;
  pending?: Promise<void>;
}

function slot(): ShutdownSlot {
  const g = globalThis as typeof globalThis & { [SLOT]?: ShutdownSlot };
  g[SLOT] ??= {};
  return g[SLOT];
}

/** Registers the tracer provider's shutdown (called once by the tracing start-up). */
export function setTracingShutdown(fn: ShutdownFn): void {
  slot().fn = fn;
}

/** True when a tracer provider is registered (tracing was started in this process). */
export function tracingStarted(): boolean {
  return slot().fn !== undefined;
}

/**
 * Exports every buffered span and stops the tracer provider; idempotent (later calls share the
 * first call's promise), never rejects, and gives up after `timeoutMs` so an unreachable
 * collector cannot hold the process. Call it before `process.exit`.
 */
export function shutdownTracing(timeoutMs = 5000): Promise<void> {
  const s = slot();
  const fn = s.fn;
  if (!fn) return Promise.resolve();
  s.pending ??= new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    fn().then(done, done);
  });
  return s.pending;
}
