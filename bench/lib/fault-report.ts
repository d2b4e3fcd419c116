/**
 * The fault benchmark's result rows (one per scenario), computed from the per-query records and
 * the scenario's timestamps, and their text table.
 */
import type { HealthSummary } from './fault-fleet.ts';
import { isBad, queryStats, statusName, type QueryRecord, type QueryStats } from './fault-load.ts';

/** What a scenario did and saw, before it is summarized. */
export interface ScenarioOutcome {
  /** Queries that count (failed / partial / wrong run count against the goal). */
  queries: QueryRecord[];
  /** Failures the scenario provokes on purpose (the storm's DEADLINE_EXCEEDED), reported apart. */
  expected?: { label: string; queries: QueryRecord[] };
  /** Runs whose answers are correct in this scenario. */
  acceptRuns: string[];
  /** When the fault began (epoch ms). */
  faultAt: number;
  /** When the fault was cleared (node restarted, SIGCONT, packets let through), epoch ms. */
  clearedAt: number;
  /** Start of the "during the fault" window for p50/p99 (default: `faultAt`). */
  windowStartAt?: number;
  /** End of that window (default: recovery, else the last query). */
  windowEndAt?: number;
  /** When full redundancy was seen again (epoch ms); null = not within the timeout; undefined = not measured. */
  recoveredAt?: number | null;
  recoverTimeoutMs?: number;
  /** Named moments (epoch ms), reported relative to the scenario start. */
  marks: Record<string, number>;
  healthBefore: HealthSummary;
  healthAfter: HealthSummary;
  /** False when even a correct fleet could lose a shard's every ready replica. */
  goalApplies: boolean;
  notes: string[];
}

/** One row of the result table (also the JSON shape). */
export interface ScenarioRow {
  scenario: string;
  /** Wall time of the scenario, set-up and clean-up included, s. */
  seconds: number;
  /** Why the scenario did not run (then the other fields are empty). */
  skipped?: string;
  goalApplies: boolean;
  /** Goal: 0 failed, 0 partial, 0 wrong-run answers among the counted queries. */
  goalMet: boolean | null;
  acceptRuns: string[];
  /** Counted queries of the whole scenario. */
  stats: QueryStats | null;
  /** The scenario's expected failures, by status (storm deadlines). */
  expected: { label: string; sent: number; byStatus: Record<string, number> } | null;
  /** Queries started between the fault and the end of its window: count and latency (answered only), ms. */
  duringFault: { queries: number; p50Ms: number; p99Ms: number } | null;
  /** Seconds from the fault to the end of the last bad (failed, partial or wrong-run) query; null when none. */
  badUntilS: number | null;
  /** Seconds from clearing the fault to full redundancy; null = not within `recoverTimeoutS`; undefined = not applicable. */
  recoverS?: number | null;
  recoverTimeoutS?: number;
  healthBefore: HealthSummary | null;
  healthAfter: HealthSummary | null;
  /** Named moments, seconds after the scenario started. */
  marks: Record<string, number>;
  /** Counted queries per second of the scenario (by start time): sent, and bad (failed, partial or wrong run). */
  timeline: { sent: number[]; bad: number[] } | null;
  notes: string[];
}

/** Queries per 1 s bucket since `startedAt`: all of them, and the bad ones. */
function timelineOf(queries: readonly QueryRecord[], startedAt: number, accept: ReadonlySet<string>): { sent: number[]; bad: number[] } {
  const sent: number[] = [];
  const bad: number[] = [];
  for (const q of queries) {
    const i = Math.max(0, Math.floor((q.t - startedAt) / 1000));
    while (sent.length <= i) {
      sent.push(0);
      bad.push(0);
    }
    sent[i]++;
    if (isBad(q, accept)) bad[i]++;
  }
  return { sent, bad };
}

/** Builds the row of a finished scenario. */
export function scenarioRow(scenario: string, startedAt: number, o: ScenarioOutcome): ScenarioRow {
  const accept = new Set(o.acceptRuns);
  const stats = queryStats(o.queries, accept);
  const endOf = (q: QueryRecord): number => q.t + q.ms;
  const lastQuery = o.queries.reduce((m, q) => Math.max(m, endOf(q)), o.faultAt);
  const windowEnd = o.windowEndAt ?? (o.recoveredAt ?? lastQuery);
  const windowStart = o.windowStartAt ?? o.faultAt;
  const during = o.queries.filter((q) => q.t >= windowStart && q.t <= windowEnd);
  const duringStats = queryStats(during);
  const bad = o.queries.filter((q) => isBad(q, accept));
  const lastBad = bad.reduce((m, q) => Math.max(m, endOf(q)), -Infinity);
  const byStatus: Record<string, number> = {};
  for (const q of o.expected?.queries ?? []) {
    if (q.code === 0) continue;
    const name = statusName(q.code);
    byStatus[name] = (byStatus[name] ?? 0) + 1;
  }
  const marks: Record<string, number> = {};
  for (const [k, v] of Object.entries(o.marks)) marks[k] = round((v - startedAt) / 1000, 2);
  return {
    scenario,
    seconds: round((Date.now() - startedAt) / 1000, 1),
    goalApplies: o.goalApplies,
    goalMet: stats.failed === 0 && stats.partial === 0 && stats.wrongRun === 0,
    acceptRuns: o.acceptRuns,
    stats,
    expected: o.expected ? { label: o.expected.label, sent: o.expected.queries.length, byStatus } : null,
    duringFault: { queries: during.length, p50Ms: round(duringStats.p50Ms, 2), p99Ms: round(duringStats.p99Ms, 2) },
    badUntilS: bad.length ? round(Math.max(0, lastBad - o.faultAt) / 1000, 2) : null,
    recoverS: o.recoveredAt === undefined ? undefined : o.recoveredAt === null ? null : round(Math.max(0, o.recoveredAt - o.clearedAt) / 1000, 2),
    recoverTimeoutS: o.recoverTimeoutMs === undefined ? undefined : o.recoverTimeoutMs / 1000,
    healthBefore: o.healthBefore,
    healthAfter: o.healthAfter,
    marks,
    timeline: timelineOf(o.queries, startedAt, accept),
    notes: o.notes,
  };
}

/** A row for a scenario that could not run. */
export function skippedRow(scenario: string, reason: string): ScenarioRow {
  return {
    scenario,
    seconds: 0,
    skipped: reason,
    goalApplies: true,
    goalMet: null,
    acceptRuns: [],
    stats: null,
    expected: null,
    duringFault: null,
    badUntilS: null,
    healthBefore: null,
    healthAfter: null,
    marks: {},
    timeline: null,
    notes: [],
  };
}

function round(x: number, digits: number): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function fmtMs(x: number): string {
  return Number.isFinite(x) ? x.toFixed(x < 100 ? 1 : 0) : '-';
}

function byStatusText(m: Record<string, number>): string {
  const parts = Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(', ') : '0';
}

function healthText(h: HealthSummary | null): string {
  if (!h) return '-';
  const cov = h.coverage < 1 && h.status !== 'unhealthy' ? ` cov ${h.coverage.toFixed(2)}` : '';
  return `${h.status.startsWith('error') ? 'error' : h.status} ${h.run_id || '(none)'}${cov}`;
}

const HEADER = [
  'scenario',
  'time s',
  'sent',
  'ok',
  'failed (by status)',
  'partial',
  'wrong run',
  'p50 ms*',
  'p99 ms*',
  'bad until s',
  'recover s',
  'answered by (run: queries)',
  'health before -> after',
  'goal',
];

/** The table as Markdown (readable in a terminal, pastes into the issue). */
export function formatTable(rows: readonly ScenarioRow[]): string {
  const lines: string[][] = rows.map((r) => {
    if (r.skipped || !r.stats) return [r.scenario, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', `SKIPPED: ${r.skipped ?? ''}`, '-', '-'];
    const s = r.stats;
    const expected = r.expected && Object.keys(r.expected.byStatus).length ? ` (+ expected ${r.expected.label}: ${byStatusText(r.expected.byStatus)})` : '';
    const recover =
      r.recoverS === undefined ? 'n/a' : r.recoverS === null ? `never (>${r.recoverTimeoutS ?? '?'})` : r.recoverS.toFixed(1);
    const runs = Object.entries(s.runs)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
    return [
      r.scenario,
      r.seconds.toFixed(0),
      String(s.sent),
      String(s.ok),
      `${byStatusText(s.failedByStatus)}${expected}`,
      String(s.partial),
      String(s.wrongRun),
      fmtMs(r.duringFault?.p50Ms ?? NaN),
      fmtMs(r.duringFault?.p99Ms ?? NaN),
      r.badUntilS === null ? '-' : r.badUntilS.toFixed(1),
      recover,
      runs || '-',
      `${healthText(r.healthBefore)} -> ${healthText(r.healthAfter)}`,
      r.goalMet ? 'met' : r.goalApplies ? 'MISSED' : 'missed (n/a)',
    ];
  });
  const out = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map((_, i) => (i === 0 || i >= 11 ? '---' : '---:')).join('|')}|`];
  for (const l of lines) out.push(`| ${l.join(' | ')} |`);
  return out.join('\n');
}

/** Per-scenario details under the table: failure messages, notes, moments, Health reasons. */
export function formatDetails(rows: readonly ScenarioRow[]): string {
  const out: string[] = [];
  for (const r of rows) {
    if (r.skipped) {
      out.push(`- ${r.scenario}: skipped: ${r.skipped}`);
      continue;
    }
    out.push(`- ${r.scenario} (accepted runs: ${r.acceptRuns.join(', ') || 'any'}):`);
    const marks = Object.entries(r.marks)
      .map(([k, v]) => `${k} ${v.toFixed(1)}s`)
      .join(', ');
    if (marks) out.push(`    moments: ${marks}`);
    for (const s of r.stats?.samples ?? []) out.push(`    ${s.count} x ${s.message}`);
    for (const n of r.notes) out.push(`    note: ${n}`);
    const reasons = [...new Set([...(r.healthBefore?.reasons ?? []), ...(r.healthAfter?.reasons ?? [])])];
    if (r.healthAfter && (r.healthAfter.reasons.length || r.healthAfter.last_refresh_error)) {
      out.push(`    health after: ${r.healthAfter.status}; ${r.healthAfter.reasons.join(' | ')}${r.healthAfter.pending_run_id ? `; pending ${r.healthAfter.pending_run_id}` : ''}`);
    } else if (reasons.length) {
      out.push(`    health before: ${r.healthBefore?.status}; ${r.healthBefore?.reasons.join(' | ')}`);
    }
  }
  return out.join('\n');
}
