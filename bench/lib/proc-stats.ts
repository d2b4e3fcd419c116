/**
 * Linux process statistics from /proc: CPU time (utime + stime, all threads) and peak resident
 * set size (VmHWM). Used to charge every process of a benchmark point (router, nodes, client).
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every mainstream Linux). */
export const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system) from the text of /proc/<pid>/stat. The command name (field 2) may
 * contain spaces and parentheses, so fields are counted after the last ')'.
 * @throws Error when the text is not a stat line.
 */
export function parseStatCpuSeconds(stat: string): number {
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new Error('not a /proc/<pid>/stat line');
  const fields = stat.slice(close + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('stat line lacks utime/stime');
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/** Peak RSS in MB from the text of /proc/<pid>/status (`VmHWM: N kB`); NaN when absent. */
export function parseStatusPeakRssMb(status: string): number {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Current RSS in MB from the text of /proc/<pid>/status (`VmRSS: N kB`); NaN when absent. */
export function parseStatusRssMb(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Current RSS of `pid` in MB (VmRSS); NaN when it cannot be read (e.g. the process exited). */
export function rssMb(pid: number): number {
  try {
    return parseStatusRssMb(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return NaN;
  }
}

/** CPU seconds used so far by process `pid` (all its threads); NaN when it cannot be read. */
export function cpuSeconds(pid: number): number {
  try {
    return parseStatCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return NaN;
  }
}

/** Peak RSS of `pid` in MB (since start or the last {@link resetPeakRss}); NaN when unreadable. */
export function peakRssMb(pid: number): number {
  try {
    return parseStatusPeakRssMb(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return NaN;
  }
}

/**
 * Resets the peak RSS of `pid` to its current RSS (writes 5 to /proc/<pid>/clear_refs; allowed for
 * our own children). Returns false when the kernel refused, in which case VmHWM stays since start.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds of several named processes, read at one moment. */
export function snapshotCpu(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
}

/** CPU seconds per process between two {@link snapshotCpu} readings (NaN for a process missing from `after`). */
export function cpuDeltaByProcess(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(before).map((name) => [name, (after[name] ?? NaN) - before[name]]));
}

/**
 * RssAnon of this process, bytes, after two forced GCs (when run with `--expose-gc`; otherwise
 * without them); NaN when /proc/self/status is unreadable.
 */
export function ownRssAnonAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}
