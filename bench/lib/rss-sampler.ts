/**
 * Samples the resident set size (VmRSS) of named processes every 100 ms while a benchmark case
 * runs, keeping each one's first, peak and last reading, and guards the machine: a process whose
 * RSS passes the cap is SIGKILLed at once (a request that makes a server allocate gigabytes must
 * not take the benchmark machine down with it).
 */
import { rssMb } from './proc-stats.ts';

/** One process's RSS over a sampling window, MB (NaN when never readable). */
export interface RssTrace {
  beforeMb: number;
  peakMb: number;
  /** Last reading while it was alive. */
  lastMb: number;
  /** Set when the sampler killed it: its RSS at that moment, MB. */
  killedAtMb?: number;
}

/** Samples VmRSS of a fixed set of pids until stopped. */
export class RssSampler {
  private readonly traces = new Map<string, RssTrace>();
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param pids process name -> pid (processes that exit keep their last reading).
   * @param capMb SIGKILL a process whose RSS exceeds this, MB (0 = never).
   * @param intervalMs sampling period, ms.
   */
  constructor(
    private readonly pids: ReadonlyMap<string, number>,
    private readonly capMb: number,
    private readonly intervalMs = 100,
  ) {
    for (const [name, pid] of pids) {
      const mb = rssMb(pid);
      this.traces.set(name, { beforeMb: mb, peakMb: mb, lastMb: mb });
    }
  }

  /** Starts sampling. */
  start(): this {
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** True when the sampler killed `name` for its RSS. */
  killed(name: string): boolean {
    return this.traces.get(name)?.killedAtMb !== undefined;
  }

  /** Reads every process once now. */
  sample(): void {
    for (const [name, pid] of this.pids) {
      const trace = this.traces.get(name);
      if (!trace || trace.killedAtMb !== undefined) continue;
      const mb = rssMb(pid);
      if (!Number.isFinite(mb)) continue;
      trace.lastMb = mb;
      if (!(mb <= trace.peakMb)) trace.peakMb = mb;
      if (this.capMb > 0 && mb > this.capMb) {
        try {
          process.kill(pid, 'SIGKILL');
          trace.killedAtMb = mb;
        } catch {
          // already gone
        }
      }
    }
  }

  /** Stops sampling (after one last reading). @returns every process's trace. */
  stop(): Map<string, RssTrace> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return this.traces;
  }
}
