/**
 * The alias-swap section's figures (issue 24; bench/lib/fault-alias-swap.ts runs it): which
 * answers of a load that names an alias are MIXED (not wholly from one collection's current run),
 * how long each switch took to become visible, which answers were STALE (from the collection the
 * alias left, although the new one was already visible), and the section's table.
 *
 * Pure functions of the load's per-query records (bench/lib/fault-load.ts, recorded with
 * `recordAnswers`) and the switches' timestamps, so they can be tested without a cluster.
 */
import { percentile } from '../../src/eval/recall.ts';
import { queryStats, type QueryRecord, type QueryStats } from './fault-load.ts';

/** What a collection of the section holds: its one run and its ids (decimal row numbers `firstId .. firstId + count - 1`). */
export interface CollectionTruth {
  /** The collection's current (and only) run. */
  runId: string;
  /** First id (row number of the input). */
  firstId: number;
  /** How many rows (ids) the collection holds. */
  count: number;
}

/**
 * Why an answered query is MIXED, or undefined when it is wholly from one collection's current
 * run: answered by a collection that is none of `truth`'s (not a target of the alias), a
 * `run_id` that is not the current run of the answering collection, or a result id outside the
 * answering collection's id set. Failed queries (code != 0) are never mixed (they are counted as
 * failed).
 * @param truth the alias's possible targets by collection name.
 */
export function mixedReason(q: QueryRecord, truth: Readonly<Record<string, CollectionTruth>>): string | undefined {
  if (q.code !== 0) return undefined;
  const name = q.collection ?? '';
  if (!Object.hasOwn(truth, name)) return `answered by collection ${JSON.stringify(name)}, which is not a target of the alias (${Object.keys(truth).join(', ')})`;
  const t = truth[name];
  if (q.runId !== t.runId) return `run_id ${JSON.stringify(q.runId ?? '')} is not the current run ${JSON.stringify(t.runId)} of collection ${JSON.stringify(name)}`;
  for (const id of q.ids ?? []) {
    const n = /^\d+$/.test(id) ? Number(id) : NaN;
    if (!(n >= t.firstId && n < t.firstId + t.count)) {
      return `id ${JSON.stringify(id)} is not in collection ${JSON.stringify(name)} (ids ${t.firstId}..${t.firstId + t.count - 1})`;
    }
  }
  return undefined;
}

/** One switch of the alias, as the section made it (epoch ms). */
export interface SwitchMark {
  /** The collection the alias left. */
  from: string;
  /** The collection the alias points at after the write. */
  to: string;
  /** Just before the write was started (updateAliases called). */
  startedAt: number;
  /** When the write had landed (updateAliases returned). */
  writtenAt: number;
  /** When the router's Refresh (empty collection) returned, for switches followed by one. */
  refreshedAt?: number;
  /** End of this switch's window: the next switch's `startedAt`, or the end of the load. */
  endAt: number;
}

/** What one switch showed. */
export interface SwitchFigures {
  from: string;
  to: string;
  /**
   * ms from the write (`writtenAt`) to the end of the first answer from `to` among the queries
   * started after the write began; null when no query of the window was answered by `to`.
   */
  lagMs: number | null;
  /** ms the Refresh call took (switches followed by one). */
  refreshMs?: number;
  /**
   * Answers from `from` to queries started after `to` was visible: after the first answer from
   * `to` ended, or after the Refresh returned, within the window. 0 in a correct router.
   */
  stale: number;
}

/** The figures of one switch from the queries of the whole load (see {@link SwitchFigures}). */
export function switchFigures(queries: readonly QueryRecord[], mark: SwitchMark): SwitchFigures {
  let firstNewEnd = Infinity;
  for (const q of queries) {
    if (q.code !== 0 || q.collection !== mark.to || q.t < mark.startedAt || q.t >= mark.endAt) continue;
    firstNewEnd = Math.min(firstNewEnd, q.t + q.ms);
  }
  const visibleAt = Math.min(firstNewEnd, mark.refreshedAt ?? Infinity);
  let stale = 0;
  for (const q of queries) {
    if (q.code === 0 && q.collection === mark.from && q.t >= visibleAt && q.t < mark.endAt) stale++;
  }
  return {
    from: mark.from,
    to: mark.to,
    lagMs: Number.isFinite(firstNewEnd) ? round(firstNewEnd - mark.writtenAt, 1) : null,
    ...(mark.refreshedAt !== undefined ? { refreshMs: round(mark.refreshedAt - mark.writtenAt, 1) } : {}),
    stale,
  };
}

/** One row of the section's table (also its JSON shape). */
export interface AliasSwapRow {
  scenario: string;
  /** Wall time of the phase, s. */
  seconds: number;
  /** Whether each write was followed by a Refresh (empty collection) or left to the router's poll. */
  refresh: boolean;
  /** Queries of the phase (from the first switch's start to the end of the load). */
  stats: QueryStats;
  /** Answered queries by collection. */
  collections: Record<string, number>;
  mixed: number;
  /** Up to 5 distinct reasons of mixed answers with their counts. */
  mixedSamples: { reason: string; count: number }[];
  switches: SwitchFigures[];
  /** Sum of the switches' stale answers. */
  stale: number;
  /** Switches never seen answering from their new collection within their window. */
  unseen: number;
  /** Latency of answered queries with no switch going on (the load before the first switch), ms. */
  before: { queries: number; p50Ms: number; p99Ms: number };
  /** Latency of answered queries of the phase, ms. */
  during: { queries: number; p50Ms: number; p99Ms: number };
  /** Switch-to-visible lag over the seen switches, ms (NaN when none was seen). */
  lag: { p50Ms: number; maxMs: number };
  /** 0 failed, 0 partial, 0 mixed, 0 stale, every switch seen. */
  goalMet: boolean;
  notes: string[];
}

/** Inputs of {@link aliasSwapRow}. */
export interface AliasSwapPhase {
  scenario: string;
  seconds: number;
  refresh: boolean;
  /** Queries with no switch going on (latency baseline). */
  before: readonly QueryRecord[];
  /** Queries of the phase. */
  queries: readonly QueryRecord[];
  marks: readonly SwitchMark[];
  truth: Readonly<Record<string, CollectionTruth>>;
  notes: string[];
}

/** Summarizes one phase of switches (see {@link AliasSwapRow}). */
export function aliasSwapRow(p: AliasSwapPhase): AliasSwapRow {
  const stats = queryStats(p.queries);
  const collections: Record<string, number> = {};
  const reasons = new Map<string, number>();
  let mixed = 0;
  for (const q of p.queries) {
    if (q.code !== 0) continue;
    const c = q.collection ?? '';
    collections[c] = (collections[c] ?? 0) + 1;
    const why = mixedReason(q, p.truth);
    if (why !== undefined) {
      mixed++;
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
    }
  }
  const switches = p.marks.map((m) => switchFigures(p.queries, m));
  const lags = switches.map((s) => s.lagMs).filter((x): x is number => x !== null);
  const stale = switches.reduce((sum, s) => sum + s.stale, 0);
  const unseen = switches.length - lags.length;
  const beforeStats = queryStats(p.before);
  return {
    scenario: p.scenario,
    seconds: round(p.seconds, 1),
    refresh: p.refresh,
    stats,
    collections,
    mixed,
    mixedSamples: [...reasons]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([reason, count]) => ({ reason, count })),
    switches,
    stale,
    unseen,
    before: { queries: p.before.length, p50Ms: round(beforeStats.p50Ms, 2), p99Ms: round(beforeStats.p99Ms, 2) },
    during: { queries: p.queries.length, p50Ms: round(stats.p50Ms, 2), p99Ms: round(stats.p99Ms, 2) },
    lag: { p50Ms: round(percentile(lags, 50), 1), maxMs: lags.length ? Math.max(...lags) : NaN },
    goalMet: stats.failed === 0 && stats.partial === 0 && mixed === 0 && stale === 0 && unseen === 0 && switches.length > 0,
    notes: p.notes,
  };
}

const HEADER = [
  'scenario',
  'time s',
  'requests',
  'failed (by status)',
  'partial',
  'mixed',
  'stale',
  'switches',
  'p50 / p99 ms before',
  'p50 / p99 ms switching',
  'switch-to-visible lag p50 / max ms',
  'answered by (collection: queries)',
  'goal',
];

function fmtMs(x: number): string {
  return Number.isFinite(x) ? x.toFixed(x < 100 ? 1 : 0) : '-';
}

/** The section's table as Markdown. */
export function formatAliasSwapTable(rows: readonly AliasSwapRow[]): string {
  const out = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map((_, i) => (i === 0 || i >= 11 ? '---' : '---:')).join('|')}|`];
  for (const r of rows) {
    const failed = Object.entries(r.stats.failedByStatus)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    out.push(
      `| ${[
        r.scenario,
        r.seconds.toFixed(0),
        String(r.stats.sent),
        failed || '0',
        String(r.stats.partial),
        String(r.mixed),
        String(r.stale),
        `${r.switches.length}${r.unseen ? ` (${r.unseen} never seen)` : ''}`,
        `${fmtMs(r.before.p50Ms)} / ${fmtMs(r.before.p99Ms)}`,
        `${fmtMs(r.during.p50Ms)} / ${fmtMs(r.during.p99Ms)}`,
        `${fmtMs(r.lag.p50Ms)} / ${fmtMs(r.lag.maxMs)}`,
        Object.entries(r.collections)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ') || '-',
        r.goalMet ? 'met' : 'MISSED',
      ].join(' | ')} |`,
    );
  }
  return out.join('\n');
}

/** Per-row details under the table: each switch's lag (and Refresh time), failure and mixed samples, notes. */
export function formatAliasSwapDetails(rows: readonly AliasSwapRow[]): string {
  const out: string[] = [];
  for (const r of rows) {
    out.push(`- ${r.scenario}:`);
    out.push(
      `    switches: ${r.switches
        .map((s) => `${s.from}->${s.to} ${s.lagMs === null ? 'never seen' : `${s.lagMs.toFixed(0)} ms`}${s.refreshMs !== undefined ? ` (Refresh ${s.refreshMs.toFixed(0)} ms)` : ''}${s.stale ? `, ${s.stale} stale` : ''}`)
        .join('; ')}`,
    );
    for (const s of r.stats.samples) out.push(`    ${s.count} x ${s.message}`);
    for (const m of r.mixedSamples) out.push(`    mixed: ${m.count} x ${m.reason}`);
    for (const n of r.notes) out.push(`    note: ${n}`);
  }
  return out.join('\n');
}

function round(x: number, digits: number): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
