/**
 * The pure parts of `status` / `shards` / `route` and of `/readyz`: per-node counts, shards under
 * R (with a router that reports R and one that does not), text tables, readiness from Health and
 * its once-per-interval cache.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RouterHealth, ShardDetails } from '../src/client/router-client.ts';
import { nodeViews, replicationOf, renderShards, statusView, underReplicated } from '../src/cli/cluster-view.ts';
import { clip, formatAge, formatBytes, renderTable } from '../src/cli/text-table.ts';
import { cachedReadiness } from '../src/common/metrics/metrics-server.ts';
import { readinessFromHealth } from '../src/router/router-health.ts';

const replica = (node_id: string, state: string, reason = '') => ({ node_id, address: `127.0.0.1:${7000 + Number(node_id.slice(-1))}`, state, reason });
const shard = (db_id: number, replicas: ReturnType<typeof replica>[]) => ({ db_id, vector_count: 10, bytes: 2048, index_type: 'hnsw', replicas, checkpoint_id: '', url: '', source_url: '' });

function details(replication: number): ShardDetails {
  return {
    run_id: 'r1',
    collection: 'default',
    format: 'shardfleet',
    replication_factor: replication,
    shards: [
      shard(0, [replica('n0', 'loaded'), replica('n1', 'loaded')]),
      shard(1, [replica('n1', 'loaded'), replica('n2', 'unreachable', 'Status failed: refused')]),
      shard(2, [replica('n2', 'unreachable', 'Status failed: refused'), replica('n0', 'failed', 'sha256 mismatch')]),
      shard(3, [replica('n0', 'loading', 'not loaded yet'), replica('n1', 'ejected', 'ejected until ...')]),
    ],
  };
}

test('nodeViews counts each node\'s replicas by state and names its state and first reason', () => {
  const v = nodeViews(details(2));
  assert.deepEqual(
    v.map((n) => [n.node_id, n.state, n.shards.loaded, n.shards.loading, n.shards.failed, n.shards.unreachable, n.shards.ejected, n.reason]),
    [
      ['n0', 'failed', 1, 1, 1, 0, 0, 'sha256 mismatch'],
      ['n1', 'ejected', 2, 0, 0, 0, 1, 'ejected until ...'],
      ['n2', 'unreachable', 0, 0, 0, 2, 0, 'Status failed: refused'],
    ],
  );
});

test('underReplicated: shards with fewer loaded replicas than min(R, nodes); R from the router, else the most replicas listed', () => {
  assert.deepEqual(underReplicated(details(2)).map((s) => [s.db_id, s.ready, s.want]), [[1, 1, 2], [2, 0, 2], [3, 0, 2]]);
  assert.equal(replicationOf(details(0)), 2, 'a router without replication_factor: the most replicas any shard lists');
  assert.deepEqual(underReplicated(details(0)).map((s) => s.db_id), [1, 2, 3]);
  assert.deepEqual(underReplicated(details(5)).map((s) => s.want), [3, 3, 3, 3], 'R above the node count is capped at the 3 nodes seen');
  assert.deepEqual(underReplicated(details(1)).map((s) => s.db_id), [2, 3], 'R=1: only shards without a loaded replica');
});

test('statusView picks the pending run\'s reasons; renderShards lists replicas and why they are not loaded', () => {
  const health: RouterHealth = {
    status: 'degraded',
    reasons: ['redundancy lost: ...', 'run r2 has been pending for 90 s: shards 1 have no ready replica yet'],
    run_id: 'r1',
    snapshot_age_seconds: 5,
    coverage: 1,
    last_refresh_error: '',
    pending_run_id: 'r2',
    collections: [],
    default_collection: 'default',
    aliases: [],
    aliases_error: '',
  };
  const v = statusView(health, undefined, details(2), { SnapshotInfo: 'FAILED_PRECONDITION: x' });
  assert.deepEqual(v.health.pending_reasons, ['run r2 has been pending for 90 s: shards 1 have no ready replica yet']);
  assert.equal(v.run, null);
  assert.equal(v.replication_factor, 2);
  const text = renderShards(details(2));
  assert.match(text, /^Run r1 \(shardfleet\), 4 shards, replication 2\nSHARD {2}VECTORS {2}BYTES {4}INDEX {2}REPLICAS\n0 {6}10 {7}2\.0 KiB {2}hnsw {3}n0=loaded n1=loaded\n/);
  assert.match(text, /\nReplicas not loaded:\n {2}shard 1 on n2: unreachable: Status failed: refused\n/);
});

test('renderTable aligns columns without trailing spaces; clip, formatAge, formatBytes', () => {
  assert.equal(renderTable(['A', 'LONG'], [['xyz', '1'], ['', '22']]), 'A    LONG\nxyz  1\n     22');
  assert.equal(clip('abcdef', 4), 'abc…');
  assert.equal(clip('abc', 4), 'abc');
  assert.deepEqual([formatAge(9.4), formatAge(252), formatAge(7500), formatAge(90_000)], ['9s', '4m 12s', '2h 5m', '1d 1h']);
  assert.deepEqual([formatBytes(512), formatBytes(1536), formatBytes(3 * 1024 ** 3)], ['512 B', '1.5 KiB', '3.0 GiB']);
});

test('readinessFromHealth: ready with full coverage (also when degraded), not ready below it or with no run', () => {
  const base = { status: 'healthy', reasons: [], run_id: 'r1', snapshot_age_seconds: 1, coverage: 1, last_refresh_error: '', pending_run_id: '' };
  assert.deepEqual(readinessFromHealth(base), { ready: true, reason: 'serving run r1, every shard has a ready replica; health healthy' });
  assert.equal(readinessFromHealth({ ...base, status: 'degraded', reasons: ['redundancy lost: x'] }).ready, true);
  const partial = readinessFromHealth({ ...base, status: 'degraded', coverage: 0.75, reasons: ['1 of 4 shards ...'] });
  assert.equal(partial.ready, false);
  assert.match(partial.reason, /coverage 0\.750 .*: 1 of 4 shards/);
  assert.deepEqual(readinessFromHealth({ ...base, status: 'unhealthy', run_id: '', coverage: 0, reasons: ['no run is served: no _CURRENT'] }), {
    ready: false,
    reason: 'no run is served: no _CURRENT',
  });
});

test('cachedReadiness computes at most once per interval; a throwing check is "not ready" with its message', () => {
  let calls = 0;
  let t = 1000;
  const check = cachedReadiness(() => ({ ready: ++calls % 2 === 1, reason: `call ${calls}` }), 1000, () => t);
  assert.deepEqual(check(), { ready: true, reason: 'call 1' });
  t += 999;
  assert.deepEqual(check(), { ready: true, reason: 'call 1' });
  t += 1;
  assert.deepEqual(check(), { ready: false, reason: 'call 2' });
  assert.equal(calls, 2);
  const throwing = cachedReadiness(() => {
    throw new Error('boom');
  }, 1000);
  assert.deepEqual(throwing(), { ready: false, reason: 'readiness check failed: boom' });
});
