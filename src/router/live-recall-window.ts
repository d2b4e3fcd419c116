/**
 * Live recall aggregation (issue 24): per (collection, num_probes, filter class), the recall@k of
 * the last sampled queries within a sliding window (at most `maxSamples` per group, none older
 * than `windowMs`), beside the build-time recall the run promised for the same (num_probes, ef)
 * ({@link buildRecallOf}). Pure: no timers, the clock is passed in.
 */
import type { Manifest } from '../common/manifest.ts';

/** Filter class of a sampled query: `none` (no filter) or `filtered`. */
export type FilterClass = 'none' | 'filtered';

/** The group a sample belongs to (the metric labels). */
export interface RecallGroupKey {
  collection: string;
  /** The effective num_probes as text, or `shard_ids` for queries that named their shards. */
  numProbes: string;
  filter: FilterClass;
}

/** One measured sample. */
export interface RecallSample {
  /** When it was measured, ms (the window's clock). */
  at: number;
  /** recall@k of the user's answer against the exact top-k, [0, 1]. */
  recall: number;
  /** The build-time recall of the query's (num_probes, ef), [0, 1]; undefined when the run has none. */
  buildRecall?: number;
}

/** A group's figures over the window. */
export interface RecallGroupSummary extends RecallGroupKey {
  samples: number;
  /** Mean recall@k of the samples. */
  liveRecall: number;
  /** Samples with a build-time figure, and the mean of those figures (undefined when none). */
  buildSamples: number;
  buildRecall?: number;
}

/** Window settings. */
export interface RecallWindowOptions {
  /** Most samples kept per group (>= 1). */
  maxSamples: number;
  /** Oldest sample counted, ms (> 0). */
  windowMs: number;
  /** Most groups kept (>= 1): beyond it the group with the oldest last sample is dropped. */
  maxGroups: number;
}

/** Defaults: 1,000 samples or 10 minutes per group, 256 groups. */
export const DEFAULT_RECALL_WINDOW: RecallWindowOptions = { maxSamples: 1000, windowMs: 600_000, maxGroups: 256 };

interface Group {
  key: RecallGroupKey;
  /** Oldest first; at most maxSamples. */
  samples: RecallSample[];
}

/** The sliding windows of every group. */
export class RecallWindow {
  private readonly groups = new Map<string, Group>();

  /** @throws RangeError for a bound that is not an integer >= 1 or a window that is not > 0. */
  constructor(readonly options: RecallWindowOptions = DEFAULT_RECALL_WINDOW) {
    const { maxSamples, windowMs, maxGroups } = options;
    if (!Number.isSafeInteger(maxSamples) || maxSamples < 1) throw new RangeError(`live recall window samples must be an integer >= 1, got ${maxSamples}`);
    if (!Number.isSafeInteger(maxGroups) || maxGroups < 1) throw new RangeError(`live recall groups must be an integer >= 1, got ${maxGroups}`);
    if (!(windowMs > 0)) throw new RangeError(`live recall window must be > 0 ms, got ${windowMs}`);
  }

  /** Adds a sample to its group (dropping the group's oldest beyond maxSamples). */
  add(key: RecallGroupKey, sample: RecallSample): void {
    const id = `${key.collection}\n${key.numProbes}\n${key.filter}`;
    let group = this.groups.get(id);
    if (group === undefined) {
      group = { key: { ...key }, samples: [] };
      this.groups.set(id, group);
      if (this.groups.size > this.options.maxGroups) this.dropStalest(id);
    }
    group.samples.push(sample);
    if (group.samples.length > this.options.maxSamples) group.samples.splice(0, group.samples.length - this.options.maxSamples);
  }

  /**
   * Every group with samples newer than `now - windowMs`, with its means; groups whose samples
   * all left the window are forgotten. Ordered by collection, filter class (`none` first), then num_probes
   * (numerically, `shard_ids` last).
   */
  summary(now: number): RecallGroupSummary[] {
    const out: RecallGroupSummary[] = [];
    const oldest = now - this.options.windowMs;
    for (const [id, group] of this.groups) {
      const first = group.samples.findIndex((s) => s.at >= oldest);
      if (first < 0) {
        this.groups.delete(id);
        continue;
      }
      if (first > 0) group.samples.splice(0, first);
      let live = 0;
      let build = 0;
      let buildSamples = 0;
      for (const s of group.samples) {
        live += s.recall;
        if (s.buildRecall !== undefined) {
          build += s.buildRecall;
          buildSamples++;
        }
      }
      const n = group.samples.length;
      out.push({ ...group.key, samples: n, liveRecall: live / n, buildSamples, ...(buildSamples > 0 ? { buildRecall: build / buildSamples } : {}) });
    }
    const probesOrder = (p: string): number => (p === 'shard_ids' ? Infinity : Number(p));
    return out.sort((a, b) => a.collection.localeCompare(b.collection) || filterOrder(a.filter) - filterOrder(b.filter) || probesOrder(a.numProbes) - probesOrder(b.numProbes));
  }

  private dropStalest(keep: string): void {
    let stalest: string | undefined;
    let at = Infinity;
    for (const [id, group] of this.groups) {
      const last = group.samples[group.samples.length - 1]?.at ?? -Infinity;
      if (id !== keep && last < at) [stalest, at] = [id, last];
    }
    if (stalest !== undefined) this.groups.delete(stalest);
  }
}

/** Sort order of filter classes: `none` before `filtered`. */
function filterOrder(f: FilterClass): number {
  return f === 'none' ? 0 : 1;
}

/**
 * recall@k of an answer: |returned ∩ exact| / min(k, |exact|), where `exact` is the true top-k
 * (k = `topK`); undefined when `exact` is empty (no row matches: recall is not defined).
 */
export function recallAtK(returned: readonly string[], exact: readonly string[], topK: number): number | undefined {
  const truth = new Set(exact.slice(0, topK));
  if (truth.size === 0) return undefined;
  let hit = 0;
  for (const id of new Set(returned.slice(0, topK))) if (truth.has(id)) hit++;
  return hit / Math.min(topK, truth.size);
}

/**
 * The recall the run measured at build time for a query probing `numProbes` shards at beam `ef`
 * (0 = the run's `ef_search`): the manifest's end-to-end table (`search_recall`: row num_probes,
 * the column of `ef`, or of the largest measured ef below it, the smallest measured when all are
 * above: the reading target_recall uses, recall-target.ts), else the routing recall curve
 * (`routing_recall`, element num_probes - 1: recall@10 of routing alone, what an exact shard
 * search such as float32 sqlite-vec reaches). Both were measured unfiltered at their own k
 * (search_recall.k, 10), so filtered queries and queries naming shard_ids get none.
 * @returns a value in [0, 1], or undefined when the run has no figure for the query.
 */
export function buildRecallOf(manifest: Manifest, numProbes: number, ef: number, filtered: boolean, shardIdsGiven: boolean): number | undefined {
  if (filtered || shardIdsGiven || !(numProbes >= 1)) return undefined;
  const table = manifest.search_recall;
  if (table !== undefined) {
    const row = table.recall[numProbes - 1];
    if (row === undefined) return undefined;
    const efSearch = manifest.index.index_params.ef_search;
    const wanted = ef > 0 ? ef : typeof efSearch === 'number' ? efSearch : table.ef[table.ef.length - 1];
    let j = 0;
    for (let i = 0; i < table.ef.length; i++) if (table.ef[i] <= wanted) j = i;
    return row[j];
  }
  return manifest.routing_recall?.recall_at_probes[numProbes - 1];
}
