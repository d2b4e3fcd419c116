/**
 * The router's Health answer: `healthy` (serving a run whose every shard has R ready replicas, with
 * a fresh refresh and no run that cannot load), `degraded` (serving, with reasons: shards without a
 * ready replica, shards below R ready replicas, a pending run with shards that failed to load on
 * every replica (at once) or still loading after `pendingRunWarnMs`, refresh errors, staleness) or
 * `unhealthy` (cannot serve), as a pure function of the router's state so it is easy to test.
 */
import type { HealthResponse } from '../common/proto-gen/shardfleet/v1/HealthResponse.ts';
import type { Coverage, ReplicaStatus } from './replica-state.ts';
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
  /** Every shard in `coverage.missing` with its owners' statuses (why none is ready). */
  missingReplicas: ShardReplicaProblems[];
  lastRefreshError: string;
  /** Why nothing is served ("" when a run is). */
  lastLoadError: string;
  /** Last successful read of `_CURRENT`, ms since epoch (0 = never). */
  lastCheckAt: number;
  /** Shards of the pending run without a ready replica. */
  pendingMissing: number[];
  /**
   * Shards of the pending run that failed to load on every replica, each with its replicas'
   * statuses (e.g. a sha256 mismatch): the run cannot be served until a new one is published or
   * the file is repaired.
   */
  pendingFailed: ShardReplicaProblems[];
  /** The replication factor R. */
  replication: number;
  /**
   * Shards of the served run with at least one but fewer than R ready replicas (R capped at the
   * node count): `ready` replicas, `problems` the statuses of the others.
   */
  underReplicated: Array<ShardReplicaProblems & { ready: number }>;
  /** The earlier run leased as a fallback ("" = none). */
  fallbackRunId: string;
  /** Why the node membership cannot be resolved now ("" = fine); the last good list is kept. */
  membershipProblem?: string;
  /** Now, ms since epoch. */
  now: number;
}

/** One shard and the statuses of its replicas that are not ready (empty: no node holds it). */
export interface ShardReplicaProblems {
  dbId: number;
  problems: ReplicaStatus[];
}

/** Distinct reasons a Health reason lists before `and N more reasons`. */
export const MAX_REASON_GROUPS = 5;
/** Shard ids listed per reason before `and N more shards`. */
export const MAX_SHARDS_PER_REASON = 8;

/**
 * Why shards are not ready, with identical replica reasons grouped across shards:
 * `node n1 (127.0.0.1:7001) unreachable: Status failed: ... (shards 0, 3, 5 and 12 more shards)`,
 * groups joined by ` | `, the groups with most shards first, at most {@link MAX_REASON_GROUPS}
 * groups (then `and N more reasons for M shards`). Every shard is counted, however many.
 */
export function groupShardProblems(shards: readonly ShardReplicaProblems[]): string {
  const groups = new Map<string, number[]>();
  for (const { dbId, problems } of shards) {
    const texts = problems.length === 0 ? ['no node holds this shard (no shard node in the membership)'] : problems.map(describeProblem);
    for (const text of new Set(texts)) {
      const ids = groups.get(text);
      if (ids) ids.push(dbId);
      else groups.set(text, [dbId]);
    }
  }
  const sorted = [...groups].sort((a, b) => b[1].length - a[1].length);
  const shown = sorted.slice(0, MAX_REASON_GROUPS).map(([text, ids]) => `${text} (${shardWord(ids.length)} ${listBounded(ids, MAX_SHARDS_PER_REASON)})`);
  const rest = sorted.slice(MAX_REASON_GROUPS);
  if (rest.length > 0) {
    const restShards = new Set(rest.flatMap(([, ids]) => ids)).size;
    shown.push(`and ${rest.length} more reason${rest.length === 1 ? '' : 's'} for ${restShards} ${restShards === 1 ? 'shard' : 'shards'}`);
  }
  return shown.join(' | ');
}

function describeProblem(p: ReplicaStatus): string {
  return `node ${p.nodeId}${p.address ? ` (${p.address})` : ''} ${p.state}${p.reason ? `: ${p.reason}` : ''}`;
}

function shardWord(n: number): string {
  return n === 1 ? 'shard' : 'shards';
}

/** `0, 3, 5` or `0, 3, 5, ... and 12 more shards` (the first `max` ids, ascending input order). */
function listBounded(ids: readonly number[], max: number): string {
  if (ids.length <= max) return ids.join(', ');
  const more = ids.length - max;
  return `${ids.slice(0, max).join(', ')} and ${more} more ${shardWord(more)}`;
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
  const membershipReason = input.membershipProblem ? `node membership: ${input.membershipProblem}` : '';
  if (!served) {
    return {
      ...base,
      status: 'unhealthy',
      reasons: [`no run is served: ${input.lastLoadError || 'no snapshot loaded yet'}`, ...(membershipReason ? [membershipReason] : [])],
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
        `${listShards(coverage.missing)}${input.missingReplicas.length ? ` | ${groupShardProblems(input.missingReplicas)}` : ''}`,
    );
  }
  if (input.underReplicated.length > 0) {
    const u = input.underReplicated;
    reasons.push(
      `redundancy lost: ${u.length} of ${numDbs} shards of run ${runId} have fewer than ${input.replication} ready replicas: ` +
        `${listShards(u.map((x) => x.dbId))} | ${groupShardProblems(u)}`,
    );
  }
  if (input.lastRefreshError) reasons.push(`last refresh failed: ${input.lastRefreshError}`);
  if (membershipReason) reasons.push(membershipReason);
  if (pending && input.pendingFailed.length > 0) {
    reasons.push(
      `run ${pending.snapshot.manifest.run_id} (_CURRENT) cannot be served: ${input.pendingFailed.length} shard(s) failed to load on every replica; ` +
        `still serving run ${runId}: ${groupShardProblems(input.pendingFailed)}`,
    );
  } else if (pending && now - pending.since > options.pendingRunWarnMs) {
    reasons.push(
      `run ${pending.snapshot.manifest.run_id} has been pending for ${Math.round((now - pending.since) / 1000)} s: ` +
        `shards ${listShards(input.pendingMissing)} have no ready replica yet`,
    );
  }
  const sinceCheck = now - input.lastCheckAt;
  if (input.lastCheckAt > 0 && sinceCheck > options.staleAfterMs) {
    reasons.push(`snapshot may be stale: _CURRENT was last read successfully ${Math.round(sinceCheck / 1000)} s ago`);
  }
  if (input.fallbackRunId !== '') {
    reasons.push(`no run is complete on the nodes; serving run ${runId} with partial coverage while the nodes load run ${input.fallbackRunId}, an earlier run`);
  }
  if (options.maxSnapshotAgeMs > 0 && age * 1000 > options.maxSnapshotAgeMs) {
    reasons.push(`run ${runId} was published ${Math.round(age)} s ago (limit ${Math.round(options.maxSnapshotAgeMs / 1000)} s)`);
  }
  const status = numDbs > 0 && coverage.missing.length === numDbs ? 'unhealthy' : reasons.length > 0 ? 'degraded' : 'healthy';
  return { ...base, status, reasons, run_id: runId, snapshot_age_seconds: age, coverage: coverage.fraction };
}

/**
 * Router readiness for the HTTP `/readyz` probe, from its Health: ready when a run is served and
 * every shard of it has a ready replica (coverage 1; `degraded` for other reasons, e.g. lost
 * redundancy or a stuck pending run, is still ready), else not ready with Health's reasons.
 * Stricter than gRPC health, which is SERVING as soon as a run is served at any coverage.
 */
export function readinessFromHealth(h: HealthResponse): { ready: boolean; reason: string } {
  const reasons = (h.reasons ?? []).join(' | ');
  const coverage = Number(h.coverage ?? 0);
  if (!h.run_id) return { ready: false, reason: reasons || 'no run is served' };
  if (coverage < 1) return { ready: false, reason: `run ${h.run_id} is served with coverage ${coverage.toFixed(3)} (not every shard has a ready replica): ${reasons}` };
  return { ready: true, reason: `serving run ${h.run_id}, every shard has a ready replica; health ${h.status}${reasons ? `: ${reasons}` : ''}` };
}
