/**
 * Which replicas of a shard can answer for a run, from the node views (Status) and the outlier
 * ejection state. A replica is READY for (run, shard) when its node answered its last Status, is
 * not ejected, and lists the shard in `runs[run].shards_loaded`. Queries go to ready replicas:
 * placement owners first (the fan-out picks the least loaded of them, see replica-choice.ts), then
 * any other node that reports the shard loaded.
 *
 * Panic rule (after Envoy's panic threshold, which ignores host health once too few hosts are
 * healthy: https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/panic_threshold):
 * ejection never removes the last ready replicas of a shard. When every replica that would be
 * ready but for ejection is ejected, those replicas are ready for that shard (in panic), so the
 * shard is still asked instead of failing "ejected"; other shards of the same nodes keep skipping
 * them while they have a replica that is not ejected.
 */
import type { Placement } from '../common/placement.ts';
import type { NodeView } from './node-status-poller.ts';
import type { OutlierEjection } from './outlier-ejection.ts';

/** State names of a replica, as in the ShardDetails RPC. */
export type ReplicaStateName = 'loaded' | 'loading' | 'failed' | 'unreachable' | 'ejected';

/** One replica's state and why (reason is "" when loaded). */
export interface ReplicaStatus {
  nodeId: string;
  state: ReplicaStateName;
  reason: string;
  /** The node's address, when it is in the membership. */
  address?: string;
}

/** The node views a {@link ReplicaState} reads (a NodeStatusPoller). */
export interface NodeViewSource {
  view(id: string): NodeView | undefined;
  views(): NodeView[];
}

/** Where the fan-out may send one shard. */
export interface ShardCandidates {
  /** Nodes to try, in order. */
  nodes: string[];
  /** True when `nodes` are ready replicas; false for the last-resort list (see candidates()). */
  ready: boolean;
  /**
   * How many leading `nodes` are ready placement owners, interchangeable for a first call (see
   * replica-choice.ts); the nodes after them (other nodes with the shard cached, or the
   * last-resort list) are only for retries and hedges, in order.
   */
  owners: number;
  /** Why no ready replica exists (per node), "" when some is ready. */
  why: string;
}

/** Coverage of a run's shards by ready replicas. */
export interface Coverage {
  /** Fraction of the shards with at least one ready replica (1 for a run without shards). */
  fraction: number;
  /** Shards without a ready replica, ascending. */
  missing: number[];
}

/** Computes replica states; cheap enough to call per request. */
export class ReplicaState {
  constructor(
    private readonly nodes: NodeViewSource,
    private readonly ejection: OutlierEjection,
  ) {}

  /**
   * The state of `nodeId` as a replica of shard `dbId` of run `runId`. An ejected replica still
   * asked under the panic rule is `ejected`, its reason saying so.
   */
  status(nodeId: string, runId: string, dbId: number, owners?: readonly string[]): ReplicaStatus {
    const ejection = this.ejection.ejection(nodeId);
    if (ejection) {
      const panic = owners !== undefined && this.isLoaded(nodeId, runId, dbId) && this.inPanic(runId, dbId, owners);
      const note = panic ? '; still asked: every other ready replica of this shard is ejected too (panic rule)' : '';
      return { nodeId, state: 'ejected', reason: `ejected until ${new Date(ejection.until).toISOString()} after ${ejection.reason}${note}` };
    }
    const view = this.nodes.view(nodeId);
    if (!view) return { nodeId, state: 'unreachable', reason: 'not in the node membership' };
    const address = view.address;
    if (view.reachable === undefined) return { nodeId, address, state: 'loading', reason: 'no Status answer yet' };
    if (!view.reachable) return { nodeId, address, state: 'unreachable', reason: `Status failed: ${view.error}` };
    const run = view.runs.get(runId);
    if (!run) {
      const held = [...view.runs.keys()];
      const detail = view.loadError ? `; load error: ${view.loadError}` : '';
      return { nodeId, address, state: 'loading', reason: `does not hold run ${runId} (holds: ${held.length ? held.join(', ') : 'none'})${detail}` };
    }
    if (run.loaded.has(dbId)) return { nodeId, address, state: 'loaded', reason: '' };
    const failure = run.failed.get(dbId);
    if (failure !== undefined) return { nodeId, address, state: 'failed', reason: failure };
    // No shard id in the text: Health groups identical reasons across shards (router-health.ts).
    return { nodeId, address, state: 'loading', reason: `run ${runId} not loaded yet` };
  }

  /** True when `nodeId` answered its last Status and reports shard `dbId` of run `runId` loaded (ejected or not). */
  private isLoaded(nodeId: string, runId: string, dbId: number): boolean {
    const view = this.nodes.view(nodeId);
    return view?.reachable === true && (view.runs.get(runId)?.loaded.has(dbId) ?? false);
  }

  /** True when `nodeId` can answer shard `dbId` of run `runId` now and is not ejected (panic aside). */
  isReady(nodeId: string, runId: string, dbId: number): boolean {
    return !this.ejection.isEjected(nodeId) && this.isLoaded(nodeId, runId, dbId);
  }

  /** Replicas reporting the shard loaded, ejected or not: owners (placement order), then others (by id). */
  private loadedReplicas(runId: string, dbId: number, owners: readonly string[]): string[] {
    const out = owners.filter((n) => this.isLoaded(n, runId, dbId));
    const others = this.nodes
      .views()
      .filter((v) => !owners.includes(v.id) && this.isLoaded(v.id, runId, dbId))
      .map((v) => v.id)
      .sort();
    return [...out, ...others];
  }

  /** True when the shard has loaded replicas and every one of them is ejected (the panic rule applies). */
  private inPanic(runId: string, dbId: number, owners: readonly string[]): boolean {
    const loaded = this.loadedReplicas(runId, dbId, owners);
    return loaded.length > 0 && loaded.every((n) => this.ejection.isEjected(n));
  }

  /**
   * Ready replicas of a shard: placement owners that are ready (placement order), then every
   * other reachable, non-ejected node reporting the shard loaded for the run (by id). Panic rule:
   * when each of those nodes is ejected, all of them, in the same order (see the module comment).
   */
  readyReplicas(runId: string, dbId: number, owners: readonly string[]): string[] {
    return this.readyOf(this.loadedReplicas(runId, dbId, owners));
  }

  /** The ready ones of a shard's `loaded` replicas (the non-ejected ones, or all under the panic rule). */
  private readyOf(loaded: readonly string[]): string[] {
    const notEjected = loaded.filter((n) => !this.ejection.isEjected(n));
    return notEjected.length > 0 ? notEjected : [...loaded];
  }

  /**
   * Where to send a shard: its ready replicas, then (for retries and hedges only) the ejected
   * replicas that report it loaded, so a failing ready replica falls back to an ejected one rather
   * than failing the shard (ejection lowers a node's priority; it never leaves a shard with no
   * one to ask). When no replica is ready, as a last resort, the placement owners that are not
   * ejected and did not report the shard failed (reachable ones first). A node asked for a shard
   * it has not loaded loads it on demand when it knows the run, and a node whose Status is merely
   * stale (just started) answers; otherwise the call fails and the shard is reported failed with
   * every replica's reason.
   */
  candidates(runId: string, dbId: number, owners: readonly string[]): ShardCandidates {
    const loaded = this.loadedReplicas(runId, dbId, owners);
    const ready = this.readyOf(loaded);
    if (ready.length > 0) {
      const ejected = loaded.filter((n) => !ready.includes(n));
      return { nodes: [...ready, ...ejected], ready: true, owners: ready.filter((n) => owners.includes(n)).length, why: '' };
    }
    const statuses = owners.map((n) => this.status(n, runId, dbId, owners));
    const usable = statuses.filter((s) => s.state === 'loading' || s.state === 'unreachable');
    const nodes = [...usable.filter((s) => s.state === 'loading'), ...usable.filter((s) => s.state === 'unreachable')].map((s) => s.nodeId);
    return { nodes, ready: false, owners: 0, why: describeStatuses(statuses) };
  }

  /** Every replica of a shard with its state: owners first, then other nodes that have it loaded. */
  replicas(runId: string, dbId: number, owners: readonly string[]): ReplicaStatus[] {
    const out = owners.map((n) => this.status(n, runId, dbId, owners));
    for (const n of this.readyReplicas(runId, dbId, owners)) if (!owners.includes(n)) out.push(this.status(n, runId, dbId, owners));
    return out;
  }

  /** Coverage of `dbIds` of run `runId` by ready replicas. */
  coverage(runId: string, dbIds: readonly number[], placement: Placement): Coverage {
    const missing = dbIds.filter((db) => this.readyReplicas(runId, db, placement.get(db) ?? []).length === 0).sort((a, b) => a - b);
    return { fraction: dbIds.length === 0 ? 1 : (dbIds.length - missing.length) / dbIds.length, missing };
  }
}

/** `node a: failed: <reason>; node b: unreachable: <reason>` (or a note when there is no owner). */
export function describeStatuses(statuses: readonly ReplicaStatus[]): string {
  if (statuses.length === 0) return 'no node holds this shard (no shard node in the membership)';
  return statuses.map((s) => `node ${s.nodeId}: ${s.state}${s.reason ? `: ${s.reason}` : ''}`).join('; ');
}
