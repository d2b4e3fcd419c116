/**
 * What `shardfleet status`, `shards` and `route` show, computed from the router's own answers
 * (Health, SnapshotInfo, ShardDetails, Route) as plain data (the `--json` output) and rendered as
 * text tables for people. Pure functions: no I/O, so the views are tested without a cluster.
 */
import type { RouteResponse, RouterHealth, ShardDetails, SnapshotInfo } from '../client/router-client.ts';
import { clip, formatAge, formatBytes, renderTable } from './text-table.ts';

/** Replica state names as ShardDetails reports them. */
export const REPLICA_STATES = ['loaded', 'loading', 'failed', 'unreachable', 'ejected'] as const;
type ReplicaStateName = (typeof REPLICA_STATES)[number];

/** One node as seen through the replicas it holds of the served run. */
export interface NodeView {
  node_id: string;
  address: string;
  /** Replicas of the served run's shards on this node, by state. */
  shards: Record<ReplicaStateName, number>;
  /**
   * `ready` (every replica loaded), `unreachable` (its Status failed), `ejected` (outlier
   * ejection), `failed` (some shard failed to load), `loading` (some shard not loaded yet).
   */
  state: string;
  /** The first reason a replica on this node is not loaded ("" when all are). */
  reason: string;
}

/** A shard of the served run with fewer ready replicas than it should have. */
export interface UnderReplicatedShard {
  db_id: number;
  /** Replicas in state `loaded`. */
  ready: number;
  /** Ready replicas it should have: min(R, nodes seen). */
  want: number;
  replicas: Array<{ node_id: string; state: string; reason: string }>;
}

/** The `status` view (also its `--json` output). */
export interface StatusView {
  /** The collection the run details describe ('' when the router named none). */
  collection: string;
  /** Every collection the router serves (issue 24), with its health; one entry for a single snapshot prefix. */
  collections: Array<{ name: string; status: string; run_id: string; coverage: number; pending_run_id: string; reasons: string[] }>;
  /** The catalog root's aliases (alias -> collection), and why the router's last read of `_ALIASES` failed ('' when it did not). */
  aliases: { entries: Array<{ alias: string; collection: string }>; error: string };
  health: {
    status: string;
    reasons: string[];
    coverage: number;
    run_id: string;
    snapshot_age_seconds: number;
    last_refresh_error: string;
    pending_run_id: string;
    /** Health reasons that name the pending run (why it is not served yet). */
    pending_reasons: string[];
  };
  /** The served run (SnapshotInfo), or null when the router serves none. */
  run: {
    run_id: string;
    published_at: string;
    format: string;
    strategy: string;
    num_dbs: number;
    default_num_probes: number;
    /** The run's default ef (0: the backend has none). */
    default_ef: number;
    total_vectors: number;
    dim: number;
    metric: string;
    backend: string;
    index_type: string;
    store_url: string;
  } | null;
  /** The router's replication factor R (ShardDetails), or the most replicas any shard has when the router does not say. */
  replication_factor: number;
  nodes: NodeView[];
  under_replicated: UnderReplicatedShard[];
  /** Build-time routing recall: element p-1 is recall@10 when probing p shards (empty without a curve). */
  recall_at_probes: number[];
  /**
   * Build-time end-to-end recall (issue 22): `recall[p - 1][j]` is recall@k with p shards probed,
   * each searched at beam width ef[j]; absent for runs without it.
   */
  search_recall?: { k: number; sample_queries: number; ground_truth_vectors: number; ef: number[]; recall: number[][] };
  /**
   * Live recall (SnapshotInfo `live_recall`, issue 24): recall@k of sampled answered queries
   * against an exact search, per (collection, num_probes, filter class), beside the build-time
   * figure of the same queries; absent when the router samples none (`--live-recall-fraction 0`).
   */
  live_recall?: LiveRecallView;
  /** Why SnapshotInfo or ShardDetails could not be read (e.g. no run served), by call. */
  errors: Record<string, string>;
}

/** The live recall part of the `status` view. */
export interface LiveRecallView {
  fraction: number;
  max_per_second: number;
  window_samples: number;
  window_seconds: number;
  measured: number;
  skipped: Record<string, number>;
  groups: Array<{ collection: string; num_probes: string; filter: string; samples: number; live_recall: number; build_recall: number | null; build_samples: number }>;
}

/**
 * The replication factor to judge shards by: the router's (ShardDetails.replication_factor), or,
 * from a router that does not report it (0), the most replicas any shard lists.
 */
export function replicationOf(details: ShardDetails): number {
  if (details.replication_factor > 0) return details.replication_factor;
  return Math.max(0, ...details.shards.map((s) => s.replicas.length));
}

/** Every node that holds a replica of the served run, with its replicas counted by state, by node id. */
export function nodeViews(details: ShardDetails): NodeView[] {
  const byId = new Map<string, NodeView>();
  for (const shard of details.shards) {
    for (const r of shard.replicas) {
      let v = byId.get(r.node_id);
      if (v === undefined) {
        v = { node_id: r.node_id, address: r.address, shards: { loaded: 0, loading: 0, failed: 0, unreachable: 0, ejected: 0 }, state: 'ready', reason: '' };
        byId.set(r.node_id, v);
      }
      if (v.address === '') v.address = r.address;
      const state = (REPLICA_STATES as readonly string[]).includes(r.state) ? (r.state as ReplicaStateName) : 'loading';
      v.shards[state]++;
      if (state !== 'loaded' && v.reason === '') v.reason = r.reason;
    }
  }
  for (const v of byId.values()) {
    const c = v.shards;
    v.state = c.unreachable > 0 ? 'unreachable' : c.ejected > 0 ? 'ejected' : c.failed > 0 ? 'failed' : c.loading > 0 ? 'loading' : 'ready';
  }
  return [...byId.values()].sort((a, b) => a.node_id.localeCompare(b.node_id, 'en', { numeric: true }));
}

/**
 * Shards with fewer `loaded` replicas than min(R, nodes seen), ascending by db id, each with every
 * replica's state and reason (a shard with none ready is listed too: it has no coverage).
 */
export function underReplicated(details: ShardDetails): UnderReplicatedShard[] {
  const nodes = new Set(details.shards.flatMap((s) => s.replicas.map((r) => r.node_id))).size;
  const want = Math.min(replicationOf(details), nodes);
  const out: UnderReplicatedShard[] = [];
  for (const s of details.shards) {
    const ready = s.replicas.filter((r) => r.state === 'loaded').length;
    if (ready >= want) continue;
    out.push({ db_id: s.db_id, ready, want, replicas: s.replicas.map((r) => ({ node_id: r.node_id, state: r.state, reason: r.reason })) });
  }
  return out.sort((a, b) => a.db_id - b.db_id);
}

/**
 * The `status` view from the router's answers; `info` / `details` are undefined when their call
 * failed (the reason is in `errors`).
 */
export function statusView(health: RouterHealth, info: SnapshotInfo | undefined, details: ShardDetails | undefined, errors: Record<string, string>): StatusView {
  const pending = health.pending_run_id;
  return {
    collection: info?.collection ?? details?.collection ?? '',
    collections: (health.collections ?? []).map((c) => ({
      name: c.name,
      status: c.status,
      run_id: c.run_id,
      coverage: c.coverage,
      pending_run_id: c.pending_run_id,
      reasons: c.reasons,
    })),
    aliases: { entries: (health.aliases ?? []).map((a) => ({ alias: a.alias, collection: a.collection })), error: health.aliases_error ?? '' },
    health: {
      status: health.status,
      reasons: health.reasons,
      coverage: health.coverage,
      run_id: health.run_id,
      snapshot_age_seconds: health.snapshot_age_seconds,
      last_refresh_error: health.last_refresh_error,
      pending_run_id: pending,
      pending_reasons: pending === '' ? [] : health.reasons.filter((r) => r.includes(pending)),
    },
    run:
      info === undefined
        ? null
        : {
            run_id: info.run_id,
            published_at: info.published_at,
            format: info.format,
            strategy: info.strategy,
            num_dbs: info.num_dbs,
            default_num_probes: info.default_num_probes,
            default_ef: info.default_ef,
            total_vectors: info.total_vectors,
            dim: info.dim,
            metric: info.metric,
            backend: info.backend,
            index_type: info.index_type,
            store_url: info.store_url,
          },
    replication_factor: details === undefined ? 0 : replicationOf(details),
    nodes: details === undefined ? [] : nodeViews(details),
    under_replicated: details === undefined ? [] : underReplicated(details),
    recall_at_probes: info?.recall_at_probes ?? [],
    ...(info?.search_recall ? { search_recall: searchRecallView(info.search_recall) } : {}),
    ...(info?.live_recall ? { live_recall: liveRecallView(info.live_recall) } : {}),
    errors,
  };
}

/** SnapshotInfo's row-major table as rows (one per num_probes). */
function searchRecallView(t: { k: number; sample_queries: number; ground_truth_vectors: number; ef: number[]; probes: number; recall: number[] }): NonNullable<StatusView['search_recall']> {
  const width = t.ef.length;
  const recall = Array.from({ length: t.probes }, (_, p) => t.recall.slice(p * width, (p + 1) * width));
  return { k: t.k, sample_queries: t.sample_queries, ground_truth_vectors: t.ground_truth_vectors, ef: t.ef, recall };
}

/** SnapshotInfo's live recall as plain data (a group without a build-time figure gets null). */
function liveRecallView(l: NonNullable<SnapshotInfo['live_recall']>): LiveRecallView {
  return {
    fraction: l.fraction,
    max_per_second: l.max_per_second,
    window_samples: l.window_samples,
    window_seconds: l.window_seconds,
    measured: l.measured,
    skipped: { ...l.skipped },
    groups: l.groups.map((g) => ({
      collection: g.collection,
      num_probes: g.num_probes,
      filter: g.filter,
      samples: g.samples,
      live_recall: g.live_recall,
      build_recall: g.has_build_recall ? g.build_recall : null,
      build_samples: g.build_samples,
    })),
  };
}

/** The live recall lines of `status`: the settings, counts, and one row per group, live beside build-time. */
function renderLiveRecall(l: LiveRecallView): string[] {
  const skipped = Object.entries(l.skipped)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${n}`);
  const out = [
    '',
    `Live recall@k (${Number((l.fraction * 100).toFixed(4))}% of answered queries, at most ${l.max_per_second}/s, against an exact search over every shard; ` +
      `window: last ${l.window_samples} samples or ${l.window_seconds} s; ${l.measured} measured, skipped: ${skipped.length > 0 ? skipped.join(', ') : 'none'}):`,
  ];
  if (l.groups.length === 0) {
    out.push('  no samples in the window yet');
    return out;
  }
  const rows = l.groups.map((g) => [
    g.collection,
    g.num_probes,
    g.filter,
    String(g.samples),
    g.live_recall.toFixed(3),
    g.build_recall === null ? '-' : g.build_recall.toFixed(3),
    g.build_recall === null ? '-' : (g.live_recall - g.build_recall >= 0 ? '+' : '') + (g.live_recall - g.build_recall).toFixed(3),
  ]);
  out.push(renderTable(['COLLECTION', 'PROBES', 'FILTER', 'SAMPLES', 'LIVE', 'BUILD-TIME', 'DRIFT'], rows));
  return out;
}

/** Longest reason shown in a table cell (the `--json` output has them whole). */
const REASON_CHARS = 90;
/** Probe counts per line of the recall table. */
const RECALL_COLUMNS = 12;

/** The `status` view as text: health, served run, pending run, nodes, shards under R, recall curve. */
export function renderStatus(v: StatusView): string {
  const h = v.health;
  const out: string[] = [];
  out.push(`Health:       ${h.status}   coverage ${h.coverage.toFixed(3)}`);
  for (const r of h.reasons) out.push(`  - ${r}`);
  if (v.collections.length > 1 || (v.collections.length === 1 && v.collections[0].name !== 'default')) {
    out.push('', `Collections (${v.collections.length}):`);
    const rows = v.collections.map((c) => [c.name, c.status, c.run_id || '-', c.coverage.toFixed(3), c.pending_run_id || '-', clip(c.reasons[0] ?? '', REASON_CHARS)]);
    out.push(renderTable(['COLLECTION', 'HEALTH', 'RUN', 'COVERAGE', 'PENDING', 'REASON'], rows), '');
    if (v.aliases.entries.length > 0) out.push(`Aliases:      ${v.aliases.entries.map((a) => `${a.alias} -> ${a.collection}`).join(', ')}`);
    if (v.aliases.error !== '') out.push(`Aliases:      last read failed (the router keeps its last good table): ${clip(v.aliases.error, REASON_CHARS)}`);
    if (v.collection !== '') out.push(`Collection:   ${v.collection}`);
  }
  if (v.run !== null) {
    const r = v.run;
    out.push(`Served run:   ${r.run_id}   published ${r.published_at} (${formatAge(h.snapshot_age_seconds)} ago)`);
    out.push(
      `              ${r.format}, ${r.strategy} sharding, ${r.num_dbs} shards, default num_probes ${r.default_num_probes}${r.default_ef > 0 ? `, default ef ${r.default_ef}` : ''}, ` +
        `${r.total_vectors.toLocaleString('en-US')} vectors (dim ${r.dim}, ${r.metric}), ${r.backend}${r.index_type ? ` ${r.index_type}` : ''}`,
    );
    out.push(`              store ${r.store_url}`);
  } else {
    out.push(`Served run:   none${v.errors.SnapshotInfo ? ` (${v.errors.SnapshotInfo})` : ''}`);
  }
  if (h.pending_run_id === '') out.push('Pending run:  none');
  else out.push(`Pending run:  ${h.pending_run_id}: ${h.pending_reasons.length > 0 ? h.pending_reasons.join(' | ') : 'loading on the nodes'}`);
  out.push(`Refresh:      ${h.last_refresh_error === '' ? 'ok' : `last refresh failed: ${h.last_refresh_error}`}`);
  if (v.errors.ShardDetails !== undefined && v.run !== null) out.push(`(shard details unavailable: ${v.errors.ShardDetails})`);
  if (v.nodes.length > 0) {
    out.push('', `Nodes (${v.nodes.length}, replication ${v.replication_factor}):`);
    const rows = v.nodes.map((n) => [
      n.node_id,
      n.address,
      n.state,
      ...REPLICA_STATES.map((s) => String(n.shards[s])),
      clip(n.reason, REASON_CHARS),
    ]);
    out.push(renderTable(['NODE', 'ADDRESS', 'STATE', 'LOADED', 'LOADING', 'FAILED', 'UNREACHABLE', 'EJECTED', 'REASON'], rows));
  }
  if (v.run !== null && v.errors.ShardDetails === undefined) {
    const total = v.run.num_dbs;
    if (v.under_replicated.length === 0) out.push('', `Shards under R=${v.replication_factor}: none (every shard has its ready replicas)`);
    else {
      out.push('', `Shards under R=${v.replication_factor}: ${v.under_replicated.length} of ${total}`);
      const rows = v.under_replicated.map((s) => [
        String(s.db_id),
        `${s.ready}/${s.want}`,
        s.replicas.map((r) => `${r.node_id} ${r.state}${r.reason ? ` (${clip(r.reason, 60)})` : ''}`).join('; '),
      ]);
      out.push(renderTable(['SHARD', 'READY', 'REPLICAS'], rows));
    }
  }
  if (v.recall_at_probes.length > 0) {
    out.push('', 'Routing recall@10 by shards probed (build-time sample):');
    for (let i = 0; i < v.recall_at_probes.length; i += RECALL_COLUMNS) {
      const part = v.recall_at_probes.slice(i, i + RECALL_COLUMNS);
      out.push(renderTable(['PROBES', ...part.map((_, j) => String(i + j + 1))], [['RECALL', ...part.map((x) => x.toFixed(3))]]));
    }
  }
  const sr = v.search_recall;
  if (sr !== undefined && sr.recall.length > 0) {
    out.push(
      '',
      `End-to-end recall@${sr.k} by shards probed and ef (build-time, ${sr.sample_queries} held-out sample queries, exact over ${sr.ground_truth_vectors.toLocaleString('en-US')} vectors; target_recall picks from it):`,
    );
    out.push(renderTable(['PROBES', ...sr.ef.map((e) => `ef ${e}`)], sr.recall.map((row, p) => [String(p + 1), ...row.map((x) => x.toFixed(3))])));
  }
  if (v.live_recall !== undefined) out.push(...renderLiveRecall(v.live_recall));
  return out.join('\n');
}

/** The `shards` output as text: one row per shard with its replicas and their states. */
export function renderShards(d: ShardDetails): string {
  const rows = d.shards.map((s) => [
    String(s.db_id),
    s.vector_count.toLocaleString('en-US'),
    formatBytes(s.bytes),
    s.index_type,
    s.replicas.map((r) => `${r.node_id}=${r.state}`).join(' ') || '-',
  ]);
  const head = `Run ${d.run_id} (${d.format}), ${d.shards.length} shards, replication ${replicationOf(d)}`;
  const reasons = d.shards.flatMap((s) => s.replicas.filter((r) => r.state !== 'loaded' && r.reason !== '').map((r) => `  shard ${s.db_id} on ${r.node_id}: ${r.state}: ${clip(r.reason, 160)}`));
  return [head, renderTable(['SHARD', 'VECTORS', 'BYTES', 'INDEX', 'REPLICAS'], rows), ...(reasons.length > 0 ? ['', 'Replicas not loaded:', ...reasons] : [])].join('\n');
}

/** The `route` output as text: the shards in routing order with their ready replicas, skipped shards, note. */
export function renderRoute(r: RouteResponse): string {
  const rows = r.shards.map((s, i) => [
    String(i + 1),
    String(s.db_id),
    s.node_ids.length === 0 ? '(no ready replica)' : s.node_ids.map((n, j) => `${n}@${s.addresses[j] ?? ''}`).join(' '),
  ]);
  const out = [`Run ${r.run_id}: ${r.shards.length} shards`, renderTable(['ORDER', 'SHARD', 'READY REPLICAS (preferred first)'], rows)];
  if (r.skipped.length > 0) {
    out.push('', 'Skipped by the filter:');
    out.push(renderTable(['SHARD', 'WHY'], r.skipped.map((s) => [String(s.db_id), s.reason])));
  }
  if (r.note !== '') out.push('', `Note: ${r.note}`);
  return out.join('\n');
}
