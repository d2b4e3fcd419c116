/**
 * The router's Health answer: `healthy` (serving a run with full coverage and a fresh refresh),
 * `degraded` (serving, with reasons) or `unhealthy` (cannot serve), as a pure function of the
 * router's state so it is easy to test.
 */
import type { HealthResponse } from '../common/proto-gen/shardfleet/v1/HealthResponse.ts';
import type { Coverage } from './replica-state.ts';
import type { PendingRun } from './snapshot-watcher.ts';
import type { RouterSnapshot } from './router-snapshot.ts';
import { listShards } from './snapshot-watcher.ts';

/** Health thresholds. */
export interface HealthOptions {
  /** Degraded when `_CURRENT` was last read successfully longer ago than this, ms. */
  staleAfterMs: number;
  /** Degraded when a newer run has been pending (loading on the nodes) longer than this, ms. */
  pendingRunWarnMs: number;
  /** Degraded when the served run was published longer ago than this, ms; 0 = never. */
  maxSnapshotAgeMs: number;
}

/** The state Health reads. */
export interface HealthInput {
  served: RouterSnapshot | undefined;
  pending: PendingRun | undefined;
  /** Coverage of the served run (ignored when nothing is served). */
  coverage: Coverage;
  /** Why the shards in `coverage.missing` have no ready replica (first few), for the reasons. */
  missingReasons: string[];
  lastRefreshError: string;
  /** Why nothing is served ("" when a run is). */
  lastLoadError: string;
  /** Last successful read of `_CURRENT`, ms since epoch (0 = never). */
  lastCheckAt: number;
  /** Shards of the pending run without a ready replica. */
  pendingMissing: number[];
  /** Now, ms since epoch. */
  now: number;
}

/** Seconds since `publishedAt` (RFC 3339) at `now` (ms), never negative; 0 when unparsable. */
export function snapshotAgeSeconds(publishedAt: string, now: number): number {
  const t = Date.parse(publishedAt);
  return Number.isFinite(t) ? Math.max(0, (now - t) / 1000) : 0;
}

/** Computes the Health response. */
export function computeHealth(input: HealthInput, options: HealthOptions): HealthResponse {
  const { served, pending, coverage, now } = input;
  const base = {
    last_refresh_error: input.lastRefreshError,
    pending_run_id: pending?.snapshot.manifest.run_id ?? '',
  };
  if (!served) {
    return {
      ...base,
      status: 'unhealthy',
      reasons: [`no run is served: ${input.lastLoadError || 'no snapshot loaded yet'}`],
      run_id: '',
      snapshot_age_seconds: 0,
      coverage: 0,
    };
  }
  const runId = served.manifest.run_id;
  const age = snapshotAgeSeconds(served.publishedAt, now);
  const reasons: string[] = [];
  const numDbs = served.manifest.shards.length;
  if (coverage.missing.length > 0) {
    reasons.push(
      `${coverage.missing.length} of ${numDbs} shards of run ${runId} have no ready replica (coverage ${coverage.fraction.toFixed(3)}): ` +
        `${listShards(coverage.missing)}${input.missingReasons.length ? ` | ${input.missingReasons.join(' | ')}` : ''}`,
    );
  }
  if (input.lastRefreshError) reasons.push(`last refresh failed: ${input.lastRefreshError}`);
  if (pending && now - pending.since > options.pendingRunWarnMs) {
    reasons.push(
      `run ${pending.snapshot.manifest.run_id} has been pending for ${Math.round((now - pending.since) / 1000)} s: ` +
        `shards ${listShards(input.pendingMissing)} have no ready replica yet`,
    );
  }
  const sinceCheck = now - input.lastCheckAt;
  if (input.lastCheckAt > 0 && sinceCheck > options.staleAfterMs) {
    reasons.push(`snapshot may be stale: _CURRENT was last read successfully ${Math.round(sinceCheck / 1000)} s ago`);
  }
  if (options.maxSnapshotAgeMs > 0 && age * 1000 > options.maxSnapshotAgeMs) {
    reasons.push(`run ${runId} was published ${Math.round(age)} s ago (limit ${Math.round(options.maxSnapshotAgeMs / 1000)} s)`);
  }
  const status = numDbs > 0 && coverage.missing.length === numDbs ? 'unhealthy' : reasons.length > 0 ? 'degraded' : 'healthy';
  return { ...base, status, reasons, run_id: runId, snapshot_age_seconds: age, coverage: coverage.fraction };
}
