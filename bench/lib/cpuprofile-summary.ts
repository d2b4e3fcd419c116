/**
 * Summarises V8 `.cpuprofile` files (as written by `node --cpu-prof`): per thread (file), the
 * sampled CPU time and the functions with the most self time, aggregated by function name and
 * source location. Self time of a node = its sample count x the profile's mean sample interval
 * (V8's own time deltas, microseconds), the way Chrome DevTools' "Bottom-up" view computes it.
 *
 * Usage as a script: `tsx bench/lib/cpuprofile-summary.ts [--top N] <file-or-folder> ...`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { parseArgs } from 'node:util';

/** The parts of a V8 CPU profile this module reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; hitCount?: number }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** One function's self time within a thread. */
export interface FunctionSelfTime {
  /** `name (file:line)`, or V8's pseudo-nodes `(garbage collector)`, `(program)`, `(idle)`. */
  label: string;
  /** Self time, milliseconds. */
  selfMs: number;
}

/** One profile file (one thread). */
export interface ThreadProfile {
  file: string;
  /** Profiled wall time (endTime - startTime), milliseconds. */
  wallMs: number;
  /** Sampled time excluding `(idle)`, milliseconds. */
  busyMs: number;
  /** Every function, most self time first. */
  functions: FunctionSelfTime[];
}

function frameLabel(frame: CpuProfile['nodes'][number]['callFrame'], root: string): string {
  const name = frame.functionName || '(anonymous)';
  if (frame.url === '') return name;
  let url = frame.url.replace(/^file:\/\//, '');
  if (url.startsWith(root)) url = relative(root, url);
  url = url.replace(/^.*node_modules\//, 'node_modules/');
  return `${name} (${url}:${frame.lineNumber + 1})`;
}

/**
 * Reads one `.cpuprofile` and aggregates self time by function label.
 * @param root paths under it are printed relative to it.
 * @throws SyntaxError when the file is not JSON.
 */
export function summariseProfile(file: string, root: string): ThreadProfile {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  const selfUs = new Map<number, number>();
  // Sample i's duration: delta of the next sample (the last one gets the mean).
  const meanUs = samples.length > 0 ? (p.endTime - p.startTime) / samples.length : 0;
  for (let i = 0; i < samples.length; i++) {
    const us = i + 1 < deltas.length ? deltas[i + 1] : meanUs;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + us);
  }
  const byLabel = new Map<string, number>();
  let busyUs = 0;
  for (const node of p.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    const label = frameLabel(node.callFrame, root);
    byLabel.set(label, (byLabel.get(label) ?? 0) + us);
    if (label !== '(idle)') busyUs += us;
  }
  const functions = [...byLabel].map(([label, us]) => ({ label, selfMs: us / 1000 })).sort((a, b) => b.selfMs - a.selfMs);
  return { file, wallMs: (p.endTime - p.startTime) / 1000, busyMs: busyUs / 1000, functions };
}

/** The `.cpuprofile` files among `paths` (folders are listed, not recursively), sorted by name. */
export function profileFiles(paths: string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) out.push(...readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(p, f)));
    else out.push(p);
  }
  return out.sort();
}

/** Text report: per thread its busy time and its top `top` functions by self time (idle excluded). */
export function formatProfiles(profiles: ThreadProfile[], top: number): string {
  const lines: string[] = [];
  for (const t of profiles) {
    lines.push(`## ${basename(t.file)}: ${(t.wallMs / 1000).toFixed(1)} s profiled, ${(t.busyMs / 1000).toFixed(1)} s busy`);
    for (const f of t.functions.filter((x) => x.label !== '(idle)').slice(0, top)) {
      lines.push(`${(f.selfMs / 1000).toFixed(2).padStart(8)} s ${((100 * f.selfMs) / Math.max(1, t.busyMs)).toFixed(1).padStart(5)}%  ${f.label}`);
    }
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '10' } } });
  const root = join(import.meta.dirname, '..', '..');
  console.log(formatProfiles(profileFiles(positionals).map((f) => summariseProfile(f, root)), Number(values.top)));
}
