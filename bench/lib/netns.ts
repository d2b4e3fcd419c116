/**
 * Linux network namespaces for the fault benchmark's partition scenario: one namespace per shard
 * node, joined to the root namespace by a veth pair on a private /30 (10.77.<b>.<4i+1> on the
 * host side, .<4i+2> inside), so every node listens on its own address and the router (in the
 * root namespace) reaches it over a real link. A partition drops every packet on both ends of a
 * node's link (a `pfifo` qdisc of length 0: the sender sees silence, not a refused connection);
 * healing removes the qdiscs. Needs root, `ip` (iproute2) and `tc`; {@link netnsUnavailable}
 * says why not when they are missing. Namespaces and links are named `sfb<pid>...` and removed at
 * exit (also on failure, see exit-cleanup.ts); ones left by a benchmark process that no longer
 * exists are removed first.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { otelImportArgs } from '../../src/common/telemetry/otel-config.ts';
import { onExit, trackChild } from './exit-cleanup.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI_ENTRY = join(ROOT, 'src', 'cli', 'main.ts');
const TSX_LOADER = import.meta.resolve('tsx');

/** One node's namespace and link. */
export interface NetnsSlot {
  ns: string;
  /** Host-side and namespace-side veth names. */
  hostIf: string;
  nsIf: string;
  hostIp: string;
  nsIp: string;
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function tryRun(cmd: string, args: string[]): string | undefined {
  try {
    return run(cmd, args);
  } catch {
    return undefined;
  }
}

function stderrOf(err: unknown): string {
  const e = err as { stderr?: Buffer | string; message?: string };
  const text = e.stderr?.toString().trim();
  return text || e.message || String(err);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `sfb<pid>n<i>` namespaces and `sfb<pid>h<i>` links of benchmark processes that are gone. */
function removeStale(): void {
  const list = tryRun('ip', ['netns', 'list']) ?? '';
  for (const line of list.split('\n')) {
    const name = line.trim().split(/\s+/)[0];
    const m = /^sfb(\d+)n(\d+)$/.exec(name ?? '');
    if (!m || alive(Number(m[1]))) continue;
    tryRun('ip', ['link', 'del', `sfb${m[1]}h${m[2]}`]);
    tryRun('ip', ['netns', 'del', name]);
  }
}

/**
 * Why namespaces cannot be used here (undefined when they can): not root, no `ip` or `tc`, or
 * `ip netns add` fails (e.g. in an unprivileged container).
 */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (ip netns needs CAP_SYS_ADMIN and CAP_NET_ADMIN)';
  if (tryRun('ip', ['-V']) === undefined) return '`ip` (iproute2) is not installed';
  if (tryRun('tc', ['-V']) === undefined) return '`tc` (iproute2) is not installed';
  const probe = `sfb${process.pid}probe`;
  try {
    run('ip', ['netns', 'add', probe]);
  } catch (err) {
    return `ip netns add failed: ${stderrOf(err)}`;
  } finally {
    tryRun('ip', ['netns', 'del', probe]);
  }
  return undefined;
}

/** Namespaces for `count` nodes, with their links up; removed by {@link NetnsSet.remove} or at exit. */
export class NetnsSet {
  private constructor(
    readonly slots: NetnsSlot[],
    private readonly removeNow: () => void,
  ) {}

  /**
   * Creates the namespaces and links, and checks that a partition can be made (adds and removes
   * the drop qdisc once).
   * @throws Error with the failing command's message (whatever was created is removed).
   */
  static create(count: number): NetnsSet {
    removeStale();
    const used = tryRun('ip', ['-4', '-o', 'addr', 'show']) ?? '';
    let octet = (process.pid % 250) + 1;
    while (used.includes(`10.77.${octet}.`)) octet = (octet % 250) + 1;
    const slots: NetnsSlot[] = [];
    for (let i = 0; i < count; i++) {
      slots.push({
        ns: `sfb${process.pid}n${i}`,
        hostIf: `sfb${process.pid}h${i}`,
        nsIf: `sfb${process.pid}p${i}`,
        hostIp: `10.77.${octet}.${4 * i + 1}`,
        nsIp: `10.77.${octet}.${4 * i + 2}`,
      });
    }
    const teardown = (): void => {
      for (const s of slots) {
        tryRun('ip', ['link', 'del', s.hostIf]);
        tryRun('ip', ['netns', 'del', s.ns]);
      }
    };
    const removeNow = onExit('remove network namespaces', teardown);
    try {
      for (const s of slots) {
        run('ip', ['netns', 'add', s.ns]);
        run('ip', ['link', 'add', s.hostIf, 'type', 'veth', 'peer', 'name', s.nsIf]);
        run('ip', ['link', 'set', s.nsIf, 'netns', s.ns]);
        run('ip', ['addr', 'add', `${s.hostIp}/30`, 'dev', s.hostIf]);
        run('ip', ['link', 'set', s.hostIf, 'up']);
        run('ip', ['netns', 'exec', s.ns, 'ip', 'addr', 'add', `${s.nsIp}/30`, 'dev', s.nsIf]);
        run('ip', ['netns', 'exec', s.ns, 'ip', 'link', 'set', s.nsIf, 'up']);
        run('ip', ['netns', 'exec', s.ns, 'ip', 'link', 'set', 'lo', 'up']);
      }
      const set = new NetnsSet(slots, removeNow);
      set.partition(0);
      set.heal(0);
      return set;
    } catch (err) {
      removeNow();
      throw new Error(stderrOf(err));
    }
  }

  /** Drops every packet on both ends of node `i`'s link (silently: no RST, no ICMP). */
  partition(i: number): void {
    const s = this.slots[i];
    run('tc', ['qdisc', 'replace', 'dev', s.hostIf, 'root', 'pfifo', 'limit', '0']);
    run('ip', ['netns', 'exec', s.ns, 'tc', 'qdisc', 'replace', 'dev', s.nsIf, 'root', 'pfifo', 'limit', '0']);
  }

  /** Lets node `i`'s packets through again. */
  heal(i: number): void {
    const s = this.slots[i];
    tryRun('tc', ['qdisc', 'del', 'dev', s.hostIf, 'root']);
    tryRun('ip', ['netns', 'exec', s.ns, 'tc', 'qdisc', 'del', 'dev', s.nsIf, 'root']);
  }

  /** Packets dropped so far on node `i`'s host-side link (from `tc -s qdisc`), or undefined. */
  droppedPackets(i: number): number | undefined {
    const out = tryRun('tc', ['-s', 'qdisc', 'show', 'dev', this.slots[i].hostIf]);
    const m = out === undefined ? null : /dropped (\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  }

  /** Removes the namespaces and links now (kill the processes inside first). */
  remove(): void {
    this.removeNow();
  }
}

/**
 * Spawns `shardfleet <args>` inside namespace `ns` (`ip netns exec` replaces itself with the
 * Node process, so the child's pid is the server's). Like spawnCli: stdin is a pipe and
 * `SHARDFLEET_EXIT_ON_STDIN_CLOSE=1`, so the server exits with this process; tracked for exit
 * cleanup.
 */
export function spawnCliInNetns(ns: string, args: string[], env: Record<string, string>, stderr: 'inherit' | 'ignore'): ChildProcess {
  const nodeArgs = ['--import', TSX_LOADER, ...otelImportArgs({ ...process.env, ...env }), CLI_ENTRY, ...args];
  return trackChild(
    spawn('ip', ['netns', 'exec', ns, process.execPath, ...nodeArgs], {
      env: { ...process.env, ...env, SHARDFLEET_EXIT_ON_STDIN_CLOSE: '1' },
      stdio: ['pipe', 'ignore', stderr],
    }),
  );
}
