/**
 * Progress bars on stderr for the writer's stages (sampling, training, recall measurement,
 * assignment, index build, upload), with cli-progress. When stderr is not a terminal, or progress
 * is off, each stage is logged once when it ends instead.
 *
 * While a bar is on screen, log lines are printed above it through cli-progress's
 * `MultiBar.log` (the logger's sink is diverted, see common/logger.ts), never through the bar's
 * line. Callers set a stage's real total when it differs from the announced one (k-means that
 * converged before its maximum iterations, an input without a record count), so every bar ends
 * full.
 */
import cliProgress from 'cli-progress';
import type { Logger } from 'pino';
import { stderrLogSink, type DivertableLogSink } from '../common/logger.ts';

/** One stage's progress. */
export interface StageProgress {
  /** Advances by `n` units (default 1). */
  increment(n?: number): void;
  /** Sets the total when it becomes known. */
  setTotal(total: number): void;
  /** Ends the stage (logs `<name> done` with the units done and the seconds taken). */
  stop(): void;
}

/** A finished stage, as recorded by {@link BuildProgress.finished}. */
export interface FinishedStage {
  name: string;
  unit: string;
  /** Units done. */
  done: number;
  /** The total the bar ended at (the announced one, or the last setTotal). */
  total: number;
  seconds: number;
}

/** Where bars and diverted log lines go (tests pass a fake TTY). */
export interface ProgressOutput {
  /** The bars' stream (default process.stderr); bars are drawn only when `isTTY` is true. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** The log sink diverted above the bars while one is shown (default the process's stderr sink). */
  logSink?: DivertableLogSink;
}

/** Creates stage progress reporters. */
export class BuildProgress {
  private readonly enabled: boolean;
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly logSink: DivertableLogSink;
  private readonly stages: FinishedStage[] = [];
  /** Closes the bars of stages started and not stopped (see {@link abort}). */
  private readonly active = new Set<() => void>();

  /** @param enabled show bars (they are shown only when the output stream is a TTY). */
  constructor(
    enabled: boolean,
    private readonly log: Logger,
    output: ProgressOutput = {},
  ) {
    this.stream = output.stream ?? process.stderr;
    this.logSink = output.logSink ?? stderrLogSink;
    this.enabled = enabled && this.stream.isTTY === true;
  }

  /** Whether bars are drawn. */
  get showsBars(): boolean {
    return this.enabled;
  }

  /** The stages ended so far, in the order they ended. */
  finished(): readonly FinishedStage[] {
    return this.stages;
  }

  /**
   * After a failure: takes down every bar still shown (printing log lines buffered above it) and
   * gives the log sink back, so the error and the lines logged while cleaning up reach stderr.
   * The stages stay unfinished (not in {@link finished}, no `done` line). Idempotent.
   */
  abort(): void {
    for (const close of [...this.active].reverse()) close();
    this.active.clear();
  }

  /** Starts a stage named `name` with `total` units (0 when unknown). */
  stage(name: string, total: number, unit = 'vectors'): StageProgress {
    const started = performance.now();
    let currentTotal = total;
    let done = 0;
    let stopped = false;
    const multi = this.enabled
      ? new cliProgress.MultiBar(
          {
            stream: this.stream as NodeJS.WritableStream,
            format: `${name.padEnd(22)} [{bar}] {percentage}% | {value}/{total} ${unit} | {duration_formatted}`,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
    const bar = multi?.create(total, 0);
    const restoreLog = multi ? this.logSink.divert((line) => multi.log(line.endsWith('\n') ? line : `${line}\n`)) : undefined;
    let closed = false;
    const close = (): void => {
      if (closed) return;
      closed = true;
      this.active.delete(close);
      if (multi) {
        multi.update(); // prints log lines still buffered above the bar, then the bar
        multi.stop();
      }
      restoreLog?.();
    };
    this.active.add(close);
    return {
      increment: (n = 1) => {
        done += n;
        bar?.increment(n);
      },
      setTotal: (t) => {
        currentTotal = t;
        bar?.setTotal(t);
      },
      stop: () => {
        if (stopped || closed) return;
        stopped = true;
        bar?.update(done);
        close();
        const seconds = +((performance.now() - started) / 1000).toFixed(3);
        this.stages.push({ name, unit, done, total: currentTotal, seconds });
        this.log.info({ stage: name, done, unit, seconds }, `${name} done`);
      },
    };
  }
}
