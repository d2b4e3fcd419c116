/**
 * A memory cgroup with a hard limit, for benchmarks that show a process fits a memory budget
 * (bench/scale-out-bench.ts `--memory-limit-mib`): a process placed in it is OOM-killed by the
 * kernel when its charged memory (anonymous + page cache it cannot reclaim) exceeds the limit.
 *
 * Works on cgroup v1 (the `memory` controller: memory.limit_in_bytes, memory.max_usage_in_bytes,
 * `oom_kill` in memory.oom_control) and v2 (memory.max, memory.peak, `oom_kill` in
 * memory.events), below this process's own cgroup, which must be writable (root in a container).
 * Linux only.
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where this process's memory cgroup lives, and which version it is. */
function ownMemoryCgroup(): { dir: string; v2: boolean } {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  const v1 = lines.map((l) => l.split(':')).find(([, controllers]) => controllers.split(',').includes('memory'));
  if (v1) return { dir: join('/sys/fs/cgroup/memory', v1.slice(2).join(':')), v2: false };
  const unified = lines.map((l) => l.split(':')).find(([id, controllers]) => id === '0' && controllers === '');
  if (unified) return { dir: join('/sys/fs/cgroup', unified.slice(2).join(':')), v2: true };
  throw new Error('no memory cgroup in /proc/self/cgroup');
}

/** One child memory cgroup; {@link remove} it when its processes have exited. */
export class MemoryCgroup {
  private constructor(
    readonly dir: string,
    private readonly v2: boolean,
  ) {}

  /**
   * Creates `<own cgroup>/<name>` with a hard limit of `limitBytes`.
   * @throws Error (EACCES, EROFS, ENOENT) when the hierarchy is not writable here.
   */
  static create(name: string, limitBytes: number): MemoryCgroup {
    const own = ownMemoryCgroup();
    const dir = join(own.dir, name);
    mkdirSync(dir);
    const group = new MemoryCgroup(dir, own.v2);
    writeFileSync(join(dir, own.v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(Math.floor(limitBytes)));
    if (!own.v2) {
      // No swap: without this the kernel would swap instead of enforcing the limit where swap exists.
      try {
        writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(Math.floor(limitBytes)));
      } catch {
        // memsw accounting is off on this kernel (no swap accounting): nothing to limit.
      }
    }
    return group;
  }

  /** `argv` prefixed so that it runs inside this cgroup (a shell moves itself in, then execs). */
  wrap(argv: readonly string[]): string[] {
    return ['/bin/sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', this.dir, ...argv];
  }

  /** Peak memory charged to the group so far, bytes. */
  peakBytes(): number {
    return Number(readFileSync(join(this.dir, this.v2 ? 'memory.peak' : 'memory.max_usage_in_bytes'), 'utf8').trim());
  }

  /** Processes the kernel OOM-killed in this group. */
  oomKills(): number {
    const text = readFileSync(join(this.dir, this.v2 ? 'memory.events' : 'memory.oom_control'), 'utf8');
    const m = /^oom_kill (\d+)$/m.exec(text);
    return m ? Number(m[1]) : 0;
  }

  /** Removes the group (its processes must have exited); errors are ignored. */
  remove(): void {
    try {
      rmdirSync(this.dir);
    } catch {
      // still busy or already gone
    }
  }
}
