/**
 * Keeps `shardfleet local`'s processes running: a child that exits while the cluster is up is
 * started again (same flags, address and cache folder) after a back-off, and each step is said on
 * stderr. A child that keeps dying soon after its start is given up on, with why.
 */
import type { ChildProcess } from 'node:child_process';
import { waitForServing } from '../common/health.ts';
import type { LocalCluster } from './local-cluster.ts';

/** Options of {@link superviseLocalCluster}. */
export interface SupervisorOptions {
  /** Writes one human line (no newline) to the user, e.g. to stderr. */
  say(line: string): void;
  /** Called once when `name` is given up on; `reason` is the line already said. */
  onGiveUp(name: string, reason: string): void;
  /** A death within this long of the child's start is a quick death, ms (default 30,000). */
  quickDeathMs?: number;
  /** Give up after this many quick deaths in a row (default 3). */
  maxQuickDeaths?: number;
  /** Back-off before the first restart, ms; doubles with each quick death (default 1,000). */
  backoffMs?: number;
  /** How long a restarted child may take to report SERVING before that is said, ms (default 120,000). */
  readyTimeoutMs?: number;
}

/** A running supervisor. */
export interface Supervisor {
  /** Stops restarting (call before stopping the cluster, so its exits are not deaths). */
  stop(): void;
}

/** How a child ended, as said on stderr: `code 1`, `signal SIGKILL`. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `signal ${signal}` : `code ${code}`;
}

/**
 * Watches every process of `cluster` and restarts one that exits: after `backoffMs` x 2^(n-1)
 * for its n-th quick death in a row (a death after a longer life counts as the first), giving up
 * at `maxQuickDeaths`. Says `<name> exited (<code|signal>); restarting it in <s> s (restart <k>)`,
 * then `<name> restarted (pid <pid>)` and `<name> is SERVING again` (or why not), or
 * `<name> died <n> times within <s> s of starting; not restarting it again`.
 */
export function superviseLocalCluster(cluster: LocalCluster, options: SupervisorOptions): Supervisor {
  const quickDeathMs = options.quickDeathMs ?? 30_000;
  const maxQuickDeaths = options.maxQuickDeaths ?? 3;
  const backoffMs = options.backoffMs ?? 1000;
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const quickDeaths = new Map<string, number>();
  const restarts = new Map<string, number>();

  const addressOf = (name: string): string | undefined => (name === 'router' ? cluster.routerAddress : cluster.nodes.find((n) => n.id === name)?.address);

  const watch = (name: string, child: ChildProcess): void => {
    const startedAt = Date.now();
    child.once('exit', (code, signal) => {
      if (stopped || cluster.processes.get(name) !== child) return;
      const quick = Date.now() - startedAt < quickDeathMs;
      const deaths = quick ? (quickDeaths.get(name) ?? 0) + 1 : 1;
      quickDeaths.set(name, deaths);
      const how = describeExit(code, signal);
      if (quick && deaths >= maxQuickDeaths) {
        const reason = `${name} exited (${how}); it died ${deaths} times within ${Math.round(quickDeathMs / 1000)} s of starting, so it is not restarted again (its log lines above say why)`;
        options.say(reason);
        options.onGiveUp(name, reason);
        return;
      }
      const delay = backoffMs * 2 ** (deaths - 1);
      const k = (restarts.get(name) ?? 0) + 1;
      restarts.set(name, k);
      options.say(`${name} exited (${how}); restarting it in ${(delay / 1000).toFixed(1)} s (restart ${k})`);
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (stopped) return;
        void restart(name);
      }, delay);
      timers.add(timer);
    });
  };

  const restart = async (name: string): Promise<void> => {
    try {
      if (name === 'router') await cluster.restartRouter('SIGTERM', false);
      else await cluster.restartNode(name, false);
    } catch (err) {
      options.say(`${name} could not be restarted: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const child = cluster.processes.get(name);
    if (!child || stopped) return;
    watch(name, child);
    options.say(`${name} restarted (pid ${child.pid})`);
    const address = addressOf(name);
    if (address === undefined) return;
    const gone = new AbortController();
    child.once('exit', () => gone.abort(new Error('exited')));
    try {
      await waitForServing(address, readyTimeoutMs, '', 'serving', gone.signal);
      if (!stopped) options.say(`${name} is SERVING again at ${address}`);
    } catch (err) {
      if (!stopped && !gone.signal.aborted) options.say(`${name} restarted but is not SERVING yet: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  for (const [name, child] of cluster.processes) watch(name, child);
  return {
    stop: () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
