/**
 * Progress bars on stderr for the writer's stages (sampling, training, assignment, index build,
 * upload), with cli-progress. When stderr is not a terminal, or progress is off, each stage is
 * logged once when it ends instead.
 */
import cliProgress from 'cli-progress';
import type { Logger } from 'pino';

/** One stage's progress. */
export interface StageProgress {
  /** Advances by `n` units (default 1). */
  increment(n?: number): void;
  /** Sets the total when it becomes known. */
  setTotal(total: number): void;
  /** Ends the stage. */
  stop(): void;
}

/** Creates stage progress reporters. */
export class BuildProgress {
  private readonly enabled: boolean;
  /** @param enabled show bars (they are shown only when stderr is a TTY). */
  constructor(
    enabled: boolean,
    private readonly log: Logger,
  ) {
    this.enabled = enabled && process.stderr.isTTY === true;
  }

  /** Starts a stage named `name` with `total` units (0 when unknown). */
  stage(name: string, total: number, unit = 'vectors'): StageProgress {
    const started = performance.now();
    let done = 0;
    const bar = this.enabled
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: `${name.padEnd(16)} [{bar}] {percentage}% | {value}/{total} ${unit} | {duration_formatted}`,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
    bar?.start(total, 0);
    return {
      increment: (n = 1) => {
        done += n;
        bar?.increment(n);
      },
      setTotal: (t) => bar?.setTotal(t),
      stop: () => {
        bar?.stop();
        this.log.info({ stage: name, done, unit, seconds: +((performance.now() - started) / 1000).toFixed(3) }, `${name} done`);
      },
    };
  }
}
