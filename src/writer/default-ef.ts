/**
 * The run's default `ef_search` from its measured end-to-end recall (issue 22's follow-up): a
 * usearch run built without `--ef-search` gets the smallest measured beam width whose recall@k at
 * the run's default num_probes is within {@link DEFAULT_EF_TOLERANCE} of the best beam width
 * measured, never below the configured default. Inside shards of 100k-300k vectors a beam of 64
 * lost up to 0.07 of recall@10 (4M vectors, 16 shards: 0.914 at ef 64 against 0.980 at ef 256),
 * so a query that names only num_probes got far less than the table promised for larger beams.
 */
import type { Logger } from 'pino';
import type { Manifest, SearchRecall } from '../common/manifest.ts';
import type { BuildPlan } from './build-plan.ts';

/** Most recall@k a default ef may leave below the table's best beam width at the default num_probes. */
export const DEFAULT_EF_TOLERANCE = 0.005;

/**
 * The default ef for `numProbes` from `table`.
 * @param table the run's `search_recall` (ef ascending; row i = num_probes i + 1).
 * @param numProbes the run's default num_probes (>= 1).
 * @param configuredEf the ef the build was configured with (the floor of the answer).
 * @returns `configuredEf` when the table has no row for `numProbes` or `configuredEf` already
 *   meets the tolerance; else the smallest measured ef above it that does.
 */
export function defaultEfFromRecall(table: SearchRecall, numProbes: number, configuredEf: number, tolerance = DEFAULT_EF_TOLERANCE): number {
  const row = table.recall[numProbes - 1];
  if (row === undefined || row.length === 0) return configuredEf;
  const best = Math.max(...row);
  // Recall at the configured ef: the largest measured ef not above it (a lower bound).
  let atConfigured = -1;
  table.ef.forEach((ef, i) => {
    if (ef <= configuredEf) atConfigured = row[i];
  });
  if (atConfigured >= best - tolerance) return configuredEf;
  const i = table.ef.findIndex((ef, j) => ef > configuredEf && row[j] >= best - tolerance);
  return i < 0 ? configuredEf : table.ef[i];
}

/**
 * `index` with `ef_search` raised by {@link defaultEfFromRecall} when the run asked for it
 * (`efSearchAuto`: a usearch build without `--ef-search`) and measured `search_recall`; else
 * `index` unchanged.
 */
export function withMeasuredDefaultEf(index: Manifest['index'], numProbes: number, efSearchAuto: boolean | undefined, table: SearchRecall | undefined): Manifest['index'] {
  const configured = index.index_params.ef_search;
  if (!efSearchAuto || table === undefined || index.backend !== 'usearch' || typeof configured !== 'number') return index;
  const ef = defaultEfFromRecall(table, numProbes, configured);
  return ef === configured ? index : { ...index, index_params: { ...index.index_params, ef_search: ef } };
}

/** Logs (info) the published default ef when it differs from the configured one. */
export function logDefaultEf(plan: BuildPlan, manifest: Manifest, log: Logger): void {
  const configured = plan.index.index_params.ef_search;
  const published = manifest.index.index_params.ef_search;
  if (configured === published) return;
  const row = manifest.search_recall?.recall[manifest.sharding.num_probes - 1];
  const at = (ef: unknown): number | undefined => row?.[manifest.search_recall?.ef.findIndex((e) => e === ef) ?? -1];
  log.info(
    { run_id: manifest.run_id, ef_search: published, configured_ef_search: configured, num_probes: manifest.sharding.num_probes, recall_at_configured: at(configured), recall_at_published: at(published) },
    `default ef_search raised from ${String(configured)} to ${String(published)}: the measured recall@k at the default num_probes needs it (pass --ef-search to fix it yourself)`,
  );
}
