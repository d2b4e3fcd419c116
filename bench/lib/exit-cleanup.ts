/**
 * Last-resort cleanup for benchmarks that start processes and change the machine (temp folders,
 * network namespaces): synchronous steps registered as they are created, run newest first when
 * the process exits for any reason — normal end, an uncaught error, SIGINT/SIGTERM/SIGHUP.
 * (A SIGKILL of the benchmark itself cannot be caught; its server children still exit when their
 * stdin closes, see spawnCli, unless they are SIGSTOPped at that moment.)
 */
import type { ChildProcess } from 'node:child_process';

const steps: { what: string; run: () => void }[] = [];
const children = new Set<ChildProcess>();
let installed = false;
let ran = false;

function alive(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/**
 * Kills a child for good: SIGCONT first (a SIGSTOPped process does not act on SIGKILL until it
 * runs again on some kernels, and never reads its stdin while stopped), then SIGKILL.
 */
export function killHard(child: ChildProcess): void {
  if (!alive(child) || child.pid === undefined) return;
  try {
    process.kill(child.pid, 'SIGCONT');
  } catch {
    // already gone
  }
  try {
    process.kill(child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Stops `child`: SIGTERM, then {@link killHard} after 5 s; resolves once it exited (at once when
 * it already had).
 */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => killHard(child), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Runs every registered step once (children first, then the other steps newest first). */
export function runCleanup(): void {
  if (ran) return;
  ran = true;
  for (const child of children) killHard(child);
  children.clear();
  for (const step of steps.reverse()) {
    try {
      step.run();
    } catch (err) {
      process.stderr.write(`cleanup: ${step.what} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  steps.length = 0;
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runCleanup);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping every child process and cleaning up\n`);
      runCleanup();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** Kills `child` (SIGCONT, SIGKILL) at exit if it is still running then. @returns the child. */
export function trackChild<T extends ChildProcess>(child: T): T {
  install();
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Registers a synchronous cleanup step (run at exit, newest first). @returns a function that runs it now and unregisters it. */
export function onExit(what: string, run: () => void): () => void {
  install();
  const step = { what, run };
  steps.push(step);
  return () => {
    const i = steps.indexOf(step);
    if (i < 0) return;
    steps.splice(i, 1);
    run();
  };
}
