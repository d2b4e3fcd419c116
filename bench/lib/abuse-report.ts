/**
 * The abuse section's result rows (one per abuse case: what was sent, what came back, whether
 * the target survived, its memory, and how the normal load fared meanwhile) and their text table.
 */

/** RSS of one process over a case, MB. */
export interface RssFigures {
  beforeMb: number;
  peakMb: number;
  afterMb: number;
}

/** The normal closed-loop load during a case. */
export interface AbuseLoadFigures {
  /** The router the load was sent to. */
  router: string;
  sent: number;
  failed: number;
  failedByStatus: Record<string, number>;
  /** Worst latency of the normal queries, answered or not, ms. */
  worstMs: number;
  p99Ms: number;
}

/** One abuse case's result (also the JSON shape). */
export interface AbuseRow {
  name: string;
  /** The process the request was sent to (`router`, `auth router`, `node-0`, ...). */
  target: string;
  /** What was sent, with its size. */
  request: string;
  /** Why the case did not run (then the measurement fields are empty). */
  skipped?: string;
  /** Wall time of the case, recovery wait included, s. */
  seconds: number;
  /** Status name(s) the request got, e.g. `RESOURCE_EXHAUSTED` or `INTERNAL x12`. */
  status: string;
  /** The (first) status message, cut short. */
  details: string;
  /** Longest status message received, characters (the echo of input shows here). */
  detailsChars: number;
  /** The request's latency at the caller, ms. */
  callMs: number | null;
  /** A Health / Status call sent on the same HTTP/2 connection right after it, e.g. `OK in 3 ms`. */
  probe: string | null;
  /** Whether the target process was alive after the case. */
  targetAlive: boolean | null;
  /** Processes of the fleets that exited during the case, with how. */
  lost: string[];
  /** The target's RSS. */
  rss: RssFigures | null;
  /** Peak RSS of every process of the fleets during the case, MB. */
  peakRssMb: Record<string, number>;
  load: AbuseLoadFigures | null;
  /** The router's Health after the case (`healthy run-a`, `unhealthy cov 0.00`, ...). */
  healthAfter: string;
  /** Seconds from the end of the case to full redundancy again; null = not within the wait; undefined = not measured. */
  recoverS?: number | null;
  /** Goal: target alive, no process lost, 0 failed normal queries. */
  goalMet: boolean | null;
  /** Case-specific measurements (stream counts, connections held, ejections ...). */
  measured: Record<string, unknown>;
  notes: string[];
}

/** A row for a case that could not run. */
export function skippedAbuseRow(name: string, target: string, request: string, reason: string): AbuseRow {
  return {
    name,
    target,
    request,
    skipped: reason,
    seconds: 0,
    status: '-',
    details: '',
    detailsChars: 0,
    callMs: null,
    probe: null,
    targetAlive: null,
    lost: [],
    rss: null,
    peakRssMb: {},
    load: null,
    healthAfter: '-',
    goalMet: null,
    measured: {},
    notes: [],
  };
}

/** The goal of a row: the target survived, no process was lost, every normal query answered. */
export function abuseGoalMet(row: Pick<AbuseRow, 'targetAlive' | 'lost' | 'load'>): boolean {
  return row.targetAlive === true && row.lost.length === 0 && (row.load?.failed ?? 0) === 0;
}

function mb(x: number): string {
  return Number.isFinite(x) ? x.toFixed(0) : '?';
}

function ms(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(x < 100 ? 1 : 0);
}

/** Table cells must not break the Markdown row. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s+/g, ' ');
}

const HEADER = [
  'case',
  'target',
  'request',
  'answer',
  'call ms',
  'same-connection probe',
  'target alive',
  'processes lost',
  'target RSS MB before / peak / after',
  'normal queries sent / failed',
  'worst normal ms',
  'health after',
  'goal',
];

/** The abuse table as Markdown (one row per case). */
export function formatAbuseTable(rows: readonly AbuseRow[]): string {
  const lines = rows.map((r) => {
    if (r.skipped) return [r.name, r.target, r.request, `SKIPPED: ${r.skipped}`, '-', '-', '-', '-', '-', '-', '-', '-', '-'];
    const answer = r.details ? `${r.status}: ${r.details}` : r.status;
    const load = r.load ? `${r.load.sent} / ${r.load.failed}${r.load.failed ? ` (${Object.entries(r.load.failedByStatus).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}` : '-';
    return [
      r.name,
      r.target,
      r.request,
      answer,
      ms(r.callMs),
      r.probe ?? '-',
      r.targetAlive === null ? '-' : r.targetAlive ? 'yes' : 'NO',
      r.lost.length ? r.lost.join('; ') : 'none',
      r.rss ? `${mb(r.rss.beforeMb)} / ${mb(r.rss.peakMb)} / ${mb(r.rss.afterMb)}` : '-',
      load,
      ms(r.load?.worstMs),
      r.healthAfter,
      r.goalMet === null ? '-' : r.goalMet ? 'met' : 'MISSED',
    ];
  });
  const out = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map((h) => (/ms|MB|sent/.test(h) ? '---:' : '---')).join('|')}|`];
  for (const l of lines) out.push(`| ${l.map(cell).join(' | ')} |`);
  return out.join('\n');
}

/** Per-case details under the table: measurements, every process's peak RSS, notes. */
export function formatAbuseDetails(rows: readonly AbuseRow[]): string {
  const out: string[] = [];
  for (const r of rows) {
    if (r.skipped) {
      out.push(`- ${r.name}: skipped: ${r.skipped}`);
      continue;
    }
    const peaks = Object.entries(r.peakRssMb)
      .map(([k, v]) => `${k} ${mb(v)}`)
      .join(', ');
    out.push(`- ${r.name} (${r.seconds.toFixed(1)} s; status message ${r.detailsChars} chars${r.recoverS === undefined ? '' : `; full redundancy again ${r.recoverS === null ? 'not within the wait' : `after ${r.recoverS.toFixed(1)} s`}`}):`);
    if (peaks) out.push(`    peak RSS MB: ${peaks}`);
    for (const [k, v] of Object.entries(r.measured)) out.push(`    ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    for (const n of r.notes) out.push(`    note: ${n}`);
  }
  return out.join('\n');
}
