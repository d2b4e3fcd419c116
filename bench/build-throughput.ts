/**
 * `npm run bench:build-throughput`: CPU per vector of `shardfleet build` (issue 22, item 4), this
 * tree against a baseline git ref, side by side in one run.
 *
 * Each build runs the CLI (`node --import tsx src/cli/main.ts build`) in its own process, at
 * `nice -n <--nice>`, into a fresh file:// store, on the same clustered 128-d data (seeded,
 * bench/lib/clustered-data.ts; or `--input <file>`) with the CLI defaults (16 shards, cluster,
 * balanced, usearch, recall measurements on). Builds alternate between the variants (A B, B A, A B, ...), so load
 * drift on a shared machine hits both alike. Per build: CPU seconds of the whole process (user +
 * system, every thread including the writer workers: getrusage RUSAGE_SELF at exit, from
 * bench/report-rss.mjs), µs of CPU per vector, wall seconds, peak RSS, and the build's stage
 * seconds (wall). The baseline is checked out as a git worktree under bench/.cache (its
 * node_modules linked to this tree's).
 *
 * Options: `--n` vectors (default 200,000), `--reps` builds per variant (default 2), `--baseline`
 * git ref (default none: this tree only), `--nice` (default 5), `--cpu-prof <dir>` (profile every
 * build's threads into <dir>/<variant>-<rep>/; summarise with bench/lib/cpuprofile-summary.ts),
 * `--build-arg <arg>` (repeatable, appended to every build), `--json <file>`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CLUSTERED_SPEC, ensureClusteredData } from './lib/clustered-data.ts';
import { ROOT } from './lib/dataset.ts';
import { parseBuildReport } from './lib/build-report.ts';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '200000' },
    reps: { type: 'string', default: '2' },
    baseline: { type: 'string' },
    nice: { type: 'string', default: '5' },
    input: { type: 'string' },
    'cpu-prof': { type: 'string' },
    'build-arg': { type: 'string', multiple: true, default: [] },
    json: { type: 'string' },
    cache: { type: 'string', default: join(ROOT, 'bench', '.cache') },
  },
});

const N = Number(args.n);
const REPS = Number(args.reps);
if (!Number.isInteger(N) || N < 1000) throw new Error(`--n: expected an integer >= 1000, got ${args.n}`);
if (!Number.isInteger(REPS) || REPS < 1) throw new Error(`--reps: expected an integer >= 1, got ${args.reps}`);
const log = (line: string): void => void process.stderr.write(`[build-throughput ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** One variant: a source tree whose CLI is run. */
interface Variant {
  name: string;
  root: string;
}

/** What one build measured. */
interface BuildRun {
  variant: string;
  rep: number;
  cpuSeconds: number;
  userSeconds: number;
  systemSeconds: number;
  microsPerVector: number;
  wallSeconds: number;
  peakRssMb: number;
  stages: Record<string, number>;
}

/** A worktree of `ref` under the cache (reused when it is already at that commit). */
function baselineTree(ref: string): Variant {
  const sha = execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: ROOT, encoding: 'utf8' }).trim();
  const dir = join(args.cache, 'build-throughput', `baseline-${sha.slice(0, 12)}`);
  if (!existsSync(join(dir, 'src', 'cli', 'main.ts'))) {
    rmSync(dir, { recursive: true, force: true });
    execFileSync('git', ['worktree', 'prune'], { cwd: ROOT });
    execFileSync('git', ['worktree', 'add', '--detach', dir, sha], { cwd: ROOT, stdio: 'ignore' });
  }
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return { name: `baseline ${ref} (${sha.slice(0, 8)})`, root: dir };
}

async function runBuild(v: Variant, rep: number, input: string, profDir: string | undefined): Promise<BuildRun> {
  const store = mkdtempSync(join(resolve(args.cache), 'build-throughput', 'store-'));
  const prof = profDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profDir];
  const buildArgs = ['build', '--input', input, '--store', store, '--num-dbs', '16', '--strategy', 'cluster', '--no-progress', ...args['build-arg']];
  const started = performance.now();
  const child = spawn('nice', ['-n', args.nice, process.execPath, ...prof, '--import', 'tsx', '--import', join(ROOT, 'bench', 'report-rss.mjs'), join(v.root, 'src', 'cli', 'main.ts'), ...buildArgs], {
    cwd: v.root,
    env: { ...process.env, SHARDFLEET_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const wallSeconds = (performance.now() - started) / 1000;
  rmSync(store, { recursive: true, force: true });
  if (code !== 0) throw new Error(`${v.name}: shardfleet ${buildArgs.join(' ')} exited with code ${code}:\n${stderr.slice(-4000)}`);
  const r = parseBuildReport(stderr);
  const cpuSeconds = r.userSeconds + r.systemSeconds;
  const stages = { ...r.stages };
  // The end-to-end recall's exact ground truth runs inside assign+write (wall seconds).
  if (r.groundTruthSeconds !== undefined) stages['  ground truth (in assign+write)'] = r.groundTruthSeconds;
  const run: BuildRun = { variant: v.name, rep, cpuSeconds, userSeconds: r.userSeconds, systemSeconds: r.systemSeconds, microsPerVector: (cpuSeconds * 1e6) / N, wallSeconds, peakRssMb: r.peakRssMb, stages };
  return run;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

function table(variants: Variant[], runs: BuildRun[]): string {
  const stageNames = [...new Set(runs.flatMap((r) => Object.keys(r.stages)))];
  const rows: string[][] = [['', ...variants.map((v) => v.name)]];
  const per = (f: (r: BuildRun) => number, digits: number): string[] =>
    variants.map((v) => {
      const xs = runs.filter((r) => r.variant === v.name).map(f);
      return `${mean(xs).toFixed(digits)} (${xs.map((x) => x.toFixed(digits)).join(', ')})`;
    });
  rows.push(['CPU µs per vector', ...per((r) => r.microsPerVector, 0)]);
  rows.push(['CPU s (user + system)', ...per((r) => r.cpuSeconds, 1)]);
  rows.push(['  system s', ...per((r) => r.systemSeconds, 1)]);
  rows.push(['wall s', ...per((r) => r.wallSeconds, 1)]);
  rows.push(['peak RSS MB', ...per((r) => r.peakRssMb, 0)]);
  for (const s of stageNames) rows.push([`stage ${s} (wall s)`, ...per((r) => r.stages[s] ?? NaN, 1)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => `| ${r.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`).join('\n');
}

async function main(): Promise<void> {
  mkdirSync(join(args.cache, 'build-throughput'), { recursive: true });
  const input = args.input !== undefined ? resolve(args.input) : ensureClusteredData(join(args.cache, 'scale'), { ...DEFAULT_CLUSTERED_SPEC, n: N }, log).basePath;
  const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
  const variants: Variant[] = [{ name: `this tree (${head}${dirty ? '+changes' : ''})`, root: ROOT }];
  if (args.baseline !== undefined) variants.unshift(baselineTree(args.baseline));
  log(`n ${N.toLocaleString('en')}, input ${relative(ROOT, input)}, ${REPS} rep(s) of ${variants.map((v) => v.name).join(' / ')}, nice ${args.nice}, node ${process.version}, ${cpus().length} cores`);
  const runs: BuildRun[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    const order = rep % 2 === 0 ? variants : [...variants].reverse();
    for (const [vi, v] of order.entries()) {
      const profDir = args['cpu-prof'] === undefined ? undefined : join(args['cpu-prof'], `${v === variants[0] && variants.length > 1 ? 'before' : 'after'}-${rep}`);
      if (profDir !== undefined) mkdirSync(profDir, { recursive: true });
      const r = await runBuild(v, rep, input, profDir);
      runs.push(r);
      log(`rep ${rep + 1}.${vi + 1} ${v.name}: ${r.cpuSeconds.toFixed(1)} s CPU (${r.systemSeconds.toFixed(1)} s system) = ${r.microsPerVector.toFixed(0)} µs/vector, ${r.wallSeconds.toFixed(1)} s wall, peak RSS ${r.peakRssMb.toFixed(0)} MB`);
    }
  }
  console.log(`# shardfleet build throughput: ${N.toLocaleString('en')} clustered 128-d vectors, 16 shards, CLI defaults, nice ${args.nice}, ${cpus().length} cores`);
  console.log('mean (each build)\n');
  console.log(table(variants, runs));
  if (args.json !== undefined) writeFileSync(args.json, `${JSON.stringify({ n: N, input: relative(ROOT, input), nice: Number(args.nice), cores: cpus().length, node: process.version, variants, runs }, null, 2)}\n`);
}

await main();
