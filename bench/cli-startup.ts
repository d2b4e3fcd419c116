/**
 * `npm run bench:cli`: start-up time of a CLI call that does no work (`--version`, `--help`).
 *
 * Each case is a fresh `node` process, run `--runs` times (default 10) one after another; printed:
 * median and p90 wall milliseconds per case (spawn to exit). Cases:
 * - `node -e 0`: Node's own start-up, the floor;
 * - `compiled`: `node bin/shardfleet.js <args>` running dist/ (skipped, with a line saying so,
 *   when dist/ is missing or older than src/: run `npm run build` first);
 * - `tsx`: `node --import tsx src/cli/main.ts <args>`, the sources compiled at run time (what
 *   bin/shardfleet.js falls back to, and what it always did before the compiled build).
 * Options: `--runs <n>`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'shardfleet.js');
const SRC_MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const DIST_MAIN = join(ROOT, 'dist', 'cli', 'main.js');

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Number(args.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${args.runs}: give an integer >= 1`);

/** True when dist/cli/main.js exists and no file under src/ is newer (what the bin checks). */
function compiledIsCurrent(): boolean {
  if (!existsSync(DIST_MAIN)) return false;
  const built = statSync(DIST_MAIN).mtimeMs;
  return readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true }).every(
    (e) => !e.isFile() || statSync(join(e.parentPath, e.name)).mtimeMs <= built,
  );
}

/** The q-quantile (0..1) of `sorted` (ascending), nearest rank. */
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

/**
 * Runs `node <argv>` `runs` times; returns the wall times in ms, ascending.
 * @throws Error when a run exits with a code other than 0.
 */
function timeRuns(argv: string[]): number[] {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, argv, { cwd: ROOT, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`node ${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
    times.push(ms);
  }
  return times.sort((a, b) => a - b);
}

function report(label: string, argv: string[]): void {
  const t = timeRuns(argv);
  process.stdout.write(`${label.padEnd(34)} median ${quantile(t, 0.5).toFixed(0).padStart(6)} ms   p90 ${quantile(t, 0.9).toFixed(0).padStart(6)} ms\n`);
}

process.stdout.write(`CLI start-up, ${runs} runs per case, Node ${process.version}\n`);
report('node -e 0 (Node alone)', ['-e', '0']);
const compiled = compiledIsCurrent();
if (!compiled) process.stdout.write('compiled: skipped (dist/ missing or older than src/; run `npm run build`)\n');
for (const cliArgs of [['--version'], ['--help']]) {
  if (compiled) report(`compiled  shardfleet ${cliArgs.join(' ')}`, [BIN, ...cliArgs]);
  report(`tsx       shardfleet ${cliArgs.join(' ')}`, ['--import', 'tsx', SRC_MAIN, ...cliArgs]);
}
