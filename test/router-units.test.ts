/**
 * Unit tests of the router's pure parts: latency window, hedge delay, outlier ejection timing,
 * replica choice, Status parsing, and the Health decision.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { ExplicitRouting } from '../src/common/routing/explicit-routing.ts';
import { HedgePolicy, DEFAULT_HEDGE } from '../src/router/hedge-policy.ts';
import { LatencyWindow } from '../src/router/latency-window.ts';
import { runViewsOf } from '../src/router/node-status-poller.ts';
import { OutlierEjection, isNodeFailure } from '../src/router/outlier-ejection.ts';
import { CALL_COST, NodeLoad, orderReplicas, type RequestPlan } from '../src/router/replica-choice.ts';
import { computeHealth, groupShardProblems, type HealthInput } from '../src/router/router-health.ts';
import type { ReplicaStatus } from '../src/router/replica-state.ts';
import type { RouterSnapshot } from '../src/router/router-snapshot.ts';
import { fakeManifest } from './helpers/router-fakes.ts';

describe('LatencyWindow', () => {
  test('quantiles over the last `size` samples only', () => {
    const w = new LatencyWindow(20);
    assert.equal(w.quantile(0.95), undefined);
    for (let i = 1; i <= 20; i++) w.record(i);
    assert.equal(w.quantile(0.95), 19);
    assert.equal(w.quantile(0.5), 10);
    for (let i = 0; i < 20; i++) w.record(1000); // the old samples roll out
    assert.equal(w.count, 20);
    assert.equal(w.quantile(0.05), 1000);
    assert.throws(() => new LatencyWindow(0), RangeError);
  });

  test('the incremental quantiles equal a nearest-rank sort of the last `size` samples at every step', () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (const size of [1, 2, 5, 100]) {
      const w = new LatencyWindow(size);
      const all: number[] = [];
      for (let i = 0; i < 400; i++) {
        // Many ties (whole ms) and some repeated extremes, as real latencies have.
        const ms = i % 37 === 0 ? 500 : Math.floor(random() * 20);
        w.record(ms);
        all.push(ms);
        const held = all.slice(-size).sort((a, b) => a - b);
        for (const q of [0, 0.05, 0.5, 0.95, 1]) {
          const want = held[Math.min(held.length - 1, Math.max(0, Math.ceil(q * held.length) - 1))];
          assert.equal(w.quantile(q), want, `size ${size}, after ${i + 1} samples, q ${q}`);
        }
      }
      assert.equal(w.count, size);
    }
  });

  test('non-finite and negative samples are ignored', () => {
    const w = new LatencyWindow(3);
    for (const ms of [Number.NaN, -1, Infinity, 4]) w.record(ms);
    assert.equal(w.count, 1);
    assert.equal(w.quantile(0.95), 4);
  });
});

describe('HedgePolicy', () => {
  test('adaptive delay is the p95 clamped to [min, max], max until enough samples', () => {
    const h = new HedgePolicy({ ...DEFAULT_HEDGE, minDelayMs: 10, maxDelayMs: 200, minSamples: 5 });
    assert.equal(h.delayMs('n'), 200);
    for (let i = 0; i < 4; i++) h.record('n', 1);
    assert.equal(h.delayMs('n'), 200, 'fewer than minSamples');
    h.record('n', 1);
    assert.equal(h.delayMs('n'), 10, 'floor');
    for (let i = 0; i < 100; i++) h.record('slow', 1000);
    assert.equal(h.delayMs('slow'), 200, 'ceiling');
    for (let i = 0; i < 100; i++) h.record('mid', 40 + (i % 10));
    assert.equal(h.delayMs('mid'), 49);
  });

  test('fixed delay and disabled hedging', () => {
    assert.equal(new HedgePolicy({ ...DEFAULT_HEDGE, fixedDelayMs: 50 }).delayMs('x'), 50);
    assert.equal(new HedgePolicy({ ...DEFAULT_HEDGE, enabled: false }).delayMs('x'), undefined);
    const off = new HedgePolicy({ ...DEFAULT_HEDGE, enabled: false, minDelayMs: 10, maxDelayMs: 200, minSamples: 1 });
    assert.equal(off.slowCallMs('x'), 200, 'the slow-call threshold exists with hedging off');
    off.record('x', 30);
    assert.equal(off.slowCallMs('x'), 30);
    assert.throws(() => new HedgePolicy({ ...DEFAULT_HEDGE, minDelayMs: 100, maxDelayMs: 10 }), RangeError);
  });
});

describe('OutlierEjection', () => {
  test('N consecutive failures eject; the time doubles with repeats up to max; a Status success after it re-admits', () => {
    let now = 1_000_000;
    const e = new OutlierEjection({ consecutiveFailures: 3, baseMs: 100, maxMs: 300, maxEjectionPercent: 100 }, () => now);
    assert.equal(e.recordFailure('n', 'boom'), false);
    e.recordSuccess('n'); // resets the count
    assert.equal(e.recordFailure('n', 'boom'), false);
    assert.equal(e.recordFailure('n', 'boom'), false);
    assert.equal(e.recordFailure('n', 'UNAVAILABLE: gone'), true);
    assert.ok(e.isEjected('n'));
    assert.equal(e.ejection('n')!.until - now, 100);
    assert.match(e.ejection('n')!.reason, /3 consecutive failed calls \(last: UNAVAILABLE: gone\)/);
    now += 50;
    assert.equal(e.readmitIfDue('n'), false, 'too early');
    now += 60;
    assert.ok(e.isEjected('n'), 'stays ejected after its time until a probe succeeds');
    assert.equal(e.readmitIfDue('n'), true);
    assert.ok(!e.isEjected('n'));
    const durations: number[] = [];
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < 3; i++) e.recordFailure('n', 'boom');
      const ej = e.ejection('n')!;
      durations.push(ej.until - ej.since);
      now = ej.until;
      e.readmitIfDue('n');
    }
    assert.deepEqual(durations, [200, 300, 300]);
    now += 301; // back for longer than max: the streak restarts
    for (let i = 0; i < 3; i++) e.recordFailure('n', 'boom');
    assert.equal(e.ejection('n')!.until - now, 100);
    assert.deepEqual(e.ejectedNodes(), ['n']);
  });

  test('request errors, our own cancellations and callers\' expired deadlines are not node failures', () => {
    const err = (code: grpc.status): grpc.ServiceError => Object.assign(new Error('x'), { code, details: 'x', metadata: new grpc.Metadata() });
    const failed = (code: grpc.status): boolean => isNodeFailure({ outcome: 'error', error: err(code) });
    assert.equal(failed(grpc.status.UNAVAILABLE), true);
    assert.equal(failed(grpc.status.INTERNAL), true);
    assert.equal(failed(grpc.status.DEADLINE_EXCEEDED), true, "an error report's timeout is the router's own call timeout or the node's");
    assert.equal(isNodeFailure({ outcome: 'error', error: new Error('answered from run b, expected run a') }), true);
    assert.equal(isNodeFailure({ outcome: 'expired', error: err(grpc.status.DEADLINE_EXCEEDED) }), false, "the callers' deadline passed");
    assert.equal(isNodeFailure({ outcome: 'cancelled' }), false);
    assert.equal(isNodeFailure({ outcome: 'ok' }), false);
    assert.equal(failed(grpc.status.CANCELLED), false);
    assert.equal(failed(grpc.status.INVALID_ARGUMENT), false);
    assert.equal(failed(grpc.status.FAILED_PRECONDITION), false);
    assert.equal(failed(grpc.status.RESOURCE_EXHAUSTED), false, 'a call too large for the node (--max-response-bytes, message limit) is the request\'s fault');
  });

  test('at most maxEjectionPercent of the fleet is ejected at once (at least one node); a re-admission makes room', () => {
    let now = 1_000_000;
    let fleet = 4;
    const e = new OutlierEjection({ consecutiveFailures: 1, baseMs: 100, maxMs: 100, maxEjectionPercent: 50 }, () => now, () => fleet);
    assert.equal(e.maxEjected(), 2);
    assert.equal(e.recordFailure('a', 'boom'), true);
    assert.equal(e.recordFailure('b', 'boom'), true);
    assert.equal(e.recordFailure('c', 'boom'), false, 'half of 4 nodes are ejected already');
    assert.deepEqual(e.ejectedNodes(), ['a', 'b']);
    assert.equal(e.blockedEjections, 1);
    now += 100;
    assert.equal(e.readmitIfDue('a'), true);
    assert.equal(e.recordFailure('c', 'boom'), true, 'its failures were kept; the next one ejects it');
    fleet = 1;
    assert.equal(e.maxEjected(), 1, 'one node may always be ejected');
    assert.throws(() => new OutlierEjection({ consecutiveFailures: 1, baseMs: 1, maxMs: 1, maxEjectionPercent: 101 }), RangeError);
  });
});

describe('replica choice (orderReplicas, NodeLoad)', () => {
  const plan = (assigned: Record<string, number> = {}, owns: Record<string, number> = {}): RequestPlan => ({
    assigned: (n) => assigned[n] ?? 0,
    owns: (n) => owns[n] ?? 0,
  });

  test('idle and nothing assigned: placement order is kept', () => {
    assert.deepEqual(orderReplicas(['a', 'b', 'c'], 3, new NodeLoad(), plan()), ['a', 'b', 'c']);
  });

  test('the least outstanding owner goes first; the others keep their order for retries and hedges', () => {
    const load = new NodeLoad();
    load.add('a', 3);
    load.add('b', 1);
    assert.deepEqual(orderReplicas(['a', 'b', 'c'], 3, load, plan()), ['c', 'a', 'b']);
    load.add('c', 2);
    assert.deepEqual(orderReplicas(['a', 'b', 'c'], 3, load, plan()), ['b', 'a', 'c']);
  });

  test('only the first `choices` candidates (ready owners) compete; nodes after them stay last', () => {
    const load = new NodeLoad();
    load.add('a', 5);
    load.add('b', 5);
    assert.deepEqual(orderReplicas(['a', 'b', 'x'], 2, load, plan()), ['a', 'b', 'x'], 'x (a cached copy, not an owner) is never first');
    assert.deepEqual(orderReplicas(['a', 'b'], 1, load, plan()), ['a', 'b']);
    assert.deepEqual(orderReplicas(['a', 'b'], 0, load, plan()), ['a', 'b']);
  });

  test('a node this request already calls costs no new call, so equal costs go to it', () => {
    // b: 1 search assigned + 0 outstanding = 1; a: 0 + CALL_COST = 1. Tie -> the node already called.
    assert.equal(CALL_COST, 1);
    assert.deepEqual(orderReplicas(['a', 'b'], 2, new NodeLoad(), plan({ b: 1 })), ['b', 'a']);
    // With 2 searches on b, a new call to a is cheaper: the third shard runs in parallel.
    assert.deepEqual(orderReplicas(['a', 'b'], 2, new NodeLoad(), plan({ b: 2 })), ['a', 'b']);
  });

  test('among equal new calls, the node owning more of the request\'s shards wins', () => {
    assert.deepEqual(orderReplicas(['a', 'b'], 2, new NodeLoad(), plan({}, { a: 1, b: 2 })), ['b', 'a']);
  });

  test('NodeLoad adds and removes per node and never goes below zero', () => {
    const load = new NodeLoad();
    load.add('a', 2);
    load.add('a', 1);
    assert.equal(load.of('a'), 3);
    load.remove('a', 2);
    assert.equal(load.of('a'), 1);
    load.remove('a', 5);
    assert.equal(load.of('a'), 0);
    assert.equal(load.of('never'), 0);
  });
});

describe('runViewsOf', () => {
  test('reads runs[], or the top-level fields of a node that does not fill runs', () => {
    const base = { node_id: 'n', load_error: '', cache_bytes: 0, max_cache_bytes: 0, draining: false, status_seq: 1 };
    const multi = runViewsOf({
      ...base,
      run_id: 'b',
      shards_loaded: [],
      shards_failed: [],
      shards_assigned: [],
      runs: [
        { run_id: 'a', shards_loaded: [0, 1], shards_failed: [], shards_assigned: [0, 1], ready: true, current: false, leased: false, shards_releasing: [], collection: 'default' },
        { run_id: 'b', shards_loaded: [0], shards_failed: [{ db_id: 1, reason: 'bad' }], shards_assigned: [0, 1], ready: false, current: true, leased: false, shards_releasing: [], collection: 'default' },
      ],
    });
    assert.deepEqual([...multi.keys()], ['a', 'b']);
    assert.deepEqual([...multi.get('b')!.loaded], [0]);
    assert.equal(multi.get('b')!.failed.get(1), 'bad');
    const legacy = runViewsOf({ ...base, run_id: 'a', shards_loaded: [2], shards_failed: [], shards_assigned: [2], runs: [] });
    assert.deepEqual([...legacy.get('a')!.loaded], [2]);
    assert.equal(legacy.get('a')!.ready, true);
    assert.equal(runViewsOf({ ...base, run_id: '', shards_loaded: [], shards_failed: [], shards_assigned: [], runs: [] }).size, 0);
  });
});

describe('computeHealth', () => {
  const now = Date.parse('2026-01-10T00:00:00Z');
  const snapshot = (runId: string, publishedAt: string): RouterSnapshot => ({
    manifest: fakeManifest(runId, 4, new Date(publishedAt)),
    manifestKey: `manifests/${runId}/manifest.json`,
    publishedAt,
    routing: new ExplicitRouting(4),
    placement: new Map(),
  });
  const served = snapshot('a', '2026-01-09T23:00:00Z');
  const input = (over: Partial<HealthInput>): HealthInput => ({
    served,
    pending: undefined,
    coverage: { fraction: 1, missing: [] },
    missingReplicas: [],
    lastRefreshError: '',
    lastLoadError: '',
    lastCheckAt: now - 1000,
    pendingMissing: [],
    pendingFailed: [],
    replication: 2,
    underReplicated: [],
    fallbackRunId: '',
    now,
    ...over,
  });
  const options = { staleAfterMs: 60_000, pendingRunWarnMs: 30_000, maxSnapshotAgeMs: 0 };

  test('healthy with full coverage and a fresh check', () => {
    const h = computeHealth(input({}), options);
    assert.equal(h.status, 'healthy');
    assert.deepEqual(h.reasons, []);
    assert.equal(h.snapshot_age_seconds, 3600);
  });

  test('degraded: stale check, long-pending run, old snapshot; unhealthy: nothing served or no coverage', () => {
    assert.match(computeHealth(input({ lastCheckAt: now - 120_000 }), options).reasons!.join(), /stale: _CURRENT was last read successfully 120 s ago/);
    const pending = { snapshot: snapshot('b', '2026-01-09T23:59:00Z'), since: now - 40_000 };
    const p = computeHealth(input({ pending, pendingMissing: [2, 3] }), options);
    assert.equal(p.status, 'degraded');
    assert.equal(p.pending_run_id, 'b');
    assert.match(p.reasons!.join(), /run b has been pending for 40 s: shards 2, 3 have no ready replica yet/);
    assert.equal(computeHealth(input({ pending: { ...pending, since: now - 1000 } }), options).status, 'healthy', 'a recent pending run is normal');
    assert.match(computeHealth(input({}), { ...options, maxSnapshotAgeMs: 60_000 }).reasons!.join(), /published 3600 s ago/);
    const none = computeHealth(input({ served: undefined, lastLoadError: 'no _CURRENT' }), options);
    assert.equal(none.status, 'unhealthy');
    assert.match(none.reasons!.join(), /no run is served: no _CURRENT/);
    assert.equal(computeHealth(input({ coverage: { fraction: 0, missing: [0, 1, 2, 3] } }), options).status, 'unhealthy');
  });

  test('degraded at once: shards below R ready replicas, a pending run whose shard failed everywhere, a fallback', () => {
    const u = computeHealth(input({ underReplicated: [{ dbId: 1, ready: 1, problems: [{ nodeId: 'n2', state: 'unreachable', reason: 'Status failed' }] }] }), options);
    assert.equal(u.status, 'degraded');
    assert.match(u.reasons!.join(), /redundancy lost: 1 of 4 shards of run a have fewer than 2 ready replicas: 1 \| node n2 unreachable: Status failed \(shard 1\)/);
    const pending = { snapshot: snapshot('b', '2026-01-09T23:59:00Z'), since: now - 1000 };
    const f = computeHealth(input({ pending, pendingMissing: [3], pendingFailed: [{ dbId: 3, problems: [{ nodeId: 'n1', state: 'failed', reason: 'sha256 mismatch' }] }] }), options);
    assert.equal(f.status, 'degraded', 'a run that cannot load is reported before pendingRunWarnMs');
    assert.match(f.reasons!.join(), /run b \(_CURRENT\) cannot be served: 1 shard\(s\) failed to load on every replica; still serving run a: node n1 failed: sha256 mismatch \(shard 3\)/);
    assert.match(computeHealth(input({ fallbackRunId: 'z' }), options).reasons!.join(), /while the nodes load run z/);
  });

  test('reasons group identical replica texts across shards and count every shard (issue 23)', () => {
    const down = (nodeId: string, address: string): ReplicaStatus => ({ nodeId, address, state: 'unreachable', reason: 'Status failed: UNAVAILABLE: No connection established' });
    const many = snapshot('m', '2026-01-09T23:00:00Z');
    many.manifest.shards = Array.from({ length: 40 }, (_, i) => ({ ...many.manifest.shards[0], db_id: i }));
    // 40 shards, each on n1 (down) and n2 (down); shard 39 also on n3 (failed).
    const missing = Array.from({ length: 40 }, (_, dbId) => ({
      dbId,
      problems: [down('n1', '127.0.0.1:7001'), down('n2', '127.0.0.1:7002'), ...(dbId === 39 ? [{ nodeId: 'n3', state: 'failed' as const, reason: 'sha256 mismatch' }] : [])],
    }));
    const h = computeHealth(input({ served: many, coverage: { fraction: 0.5, missing: missing.map((m) => m.dbId) }, missingReplicas: missing }), options);
    const text = h.reasons!.join('\n');
    assert.equal(text.split('Status failed: UNAVAILABLE: No connection established').length - 1, 2, `each node's text once: ${text}`);
    assert.match(text, /node n1 \(127\.0\.0\.1:7001\) unreachable: Status failed: UNAVAILABLE: No connection established \(shards 0, 1, 2, 3, 4, 5, 6, 7 and 32 more shards\)/);
    assert.match(text, /node n2 \(127\.0\.0\.1:7002\) unreachable: .* \(shards 0, 1, 2, 3, 4, 5, 6, 7 and 32 more shards\)/);
    assert.match(text, /node n3 failed: sha256 mismatch \(shard 39\)/, 'a shard past the fifth is still explained');
    // More distinct reasons than shown: the rest are counted.
    const distinct = Array.from({ length: 9 }, (_, dbId) => ({ dbId, problems: [{ nodeId: `n${dbId}`, state: 'failed' as const, reason: `bad file ${dbId}` }] }));
    assert.match(groupShardProblems(distinct), /\| and 4 more reasons for 4 shards$/);
    assert.equal(groupShardProblems([{ dbId: 2, problems: [] }]), 'no node holds this shard (no shard node in the membership) (shard 2)');
  });
});
