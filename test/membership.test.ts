/**
 * Tests of cluster membership (src/common/membership): spec parsing, the static form, and the DNS
 * forms against a real UDP DNS server on 127.0.0.1 (test/helpers/dns-server.ts) — SRV -> stable
 * pod-name ids, re-resolution on record changes, no notification for identical answers, keeping
 * the last good list on SERVFAIL, a dead server or an empty answer (a fault shown by problem()),
 * dns:<name> through the system resolver (/etc/hosts) — plus placement diffs.
 */
import { waitFor } from './helpers/wait.ts';
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';

import { ConfigValidationError, ReaderStateError } from '../src/common/errors.ts';
import type { Logger } from '../src/common/logger.ts';
import type { NodeEndpoint } from '../src/common/node-list.ts';
import { placeShards, type Placement } from '../src/common/placement.ts';
import { createMembership, type Membership } from '../src/common/membership/membership.ts';
import { parseDnsServer, parseMembershipSpec } from '../src/common/membership/spec.ts';
import { placementChanges, primaryChanges } from '../src/common/membership/placement-diff.ts';
import { QTYPE, RCODE, TestDnsServer } from './helpers/dns-server.ts';

const SVC = 'shardfleet-nodes.default.svc.cluster.local';
const SRV = `_grpc._tcp.${SVC}`;
const REFRESH_MS = 50;

function pod(i: number): string {
  return `shardfleet-node-${i}.${SVC}`;
}

function srvRecords(pods: readonly number[], port = 7001): { srv: { port: number; target: string }[] } {
  return { srv: pods.map((i) => ({ port, target: pod(i) })) };
}

function expectedSrvNodes(pods: readonly number[], port = 7001): NodeEndpoint[] {
  return [...pods].sort().map((i) => ({ id: `shardfleet-node-${i}`, address: `${pod(i)}:${port}` }));
}

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger whose lines are collected in `lines`. */
function captureLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { log, lines };
}

/** Polls `condition` every 10 ms; fails after `timeoutMs` (a safety bound, not a performance assert). */
function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return waitFor(what, condition, { timeoutMs, intervalMs: 10 });
}

/** Records every onChange call. */
function recordChanges(membership: Membership): NodeEndpoint[][] {
  const calls: NodeEndpoint[][] = [];
  membership.onChange((nodes) => calls.push(nodes));
  return calls;
}

describe('membership spec', () => {
  test('parses the static, SRV and address forms', () => {
    assert.deepEqual(parseMembershipSpec('b=h2:2,a=h1:1'), {
      kind: 'static',
      nodes: [
        { id: 'b', address: 'h2:2' },
        { id: 'a', address: 'h1:1' },
      ],
    });
    assert.deepEqual(parseMembershipSpec(`dns+srv:${SRV}.`), { kind: 'srv', name: SRV });
    assert.deepEqual(parseMembershipSpec(`dns:${SVC}:7001`), { kind: 'address', name: SVC, port: 7001 });
    assert.deepEqual(parseMembershipSpec(`dns:${SVC}`, 7002), { kind: 'address', name: SVC, port: 7002 });
    assert.deepEqual(parseMembershipSpec('dns-node=dnshost:7001'), { kind: 'static', nodes: [{ id: 'dns-node', address: 'dnshost:7001' }] });
  });

  test('malformed specs throw ConfigValidationError naming the spec', () => {
    const bad = ['', 'dns:', 'dns+srv:', `dns:${SVC}`, 'dns:bad name:7001', `dns:${SVC}:99999`, `dns:${SVC}:grpc`, 'node-0=host', 'dnssrv:x', 'dns+svc:x', 'http://x:1', 'dns+srv:a..b'];
    for (const spec of bad) {
      assert.throws(
        () => createMembership(spec, { log: captureLogger().log }),
        (err: unknown) => err instanceof ConfigValidationError && err.message.includes(`"${spec}"`),
        `spec ${JSON.stringify(spec)} should be rejected with its text in the message`,
      );
    }
  });

  test('bad options and DNS servers are rejected', () => {
    const { log } = captureLogger();
    assert.throws(() => createMembership(`dns+srv:${SRV}`, { log, refreshMs: 0 }), ConfigValidationError);
    assert.throws(() => createMembership(`dns+srv:${SRV}`, { log, dnsServer: 'dns.example:53' }), /DNS server "dns.example:53"/);
    assert.equal(parseDnsServer('127.0.0.1'), '127.0.0.1:53');
    assert.equal(parseDnsServer('[::1]:5353'), '[::1]:5353');
    assert.throws(() => parseDnsServer('127.0.0.1:70000'), ConfigValidationError);
  });
});

describe('static membership', () => {
  test('lists the nodes sorted by id and never changes', async () => {
    const m = createMembership('node-2=10.0.0.2:7001, node-0=10.0.0.0:7001,node-1=10.0.0.1:7001', { log: captureLogger().log });
    const calls = recordChanges(m);
    await m.start();
    assert.deepEqual(
      m.current().map((n) => n.id),
      ['node-0', 'node-1', 'node-2'],
    );
    assert.equal(m.current()[0].address, '10.0.0.0:7001');
    m.current()[0].id = 'mutated';
    assert.equal(m.current()[0].id, 'node-0', 'current() returns a copy');
    m.stop();
    assert.equal(calls.length, 0);
  });

  test('host:port entries use the address as id', async () => {
    const m = createMembership('h2:1,h1:1', { log: captureLogger().log });
    await m.start();
    assert.deepEqual(m.current(), [
      { id: 'h1:1', address: 'h1:1' },
      { id: 'h2:1', address: 'h2:1' },
    ]);
  });
});

describe('DNS membership', () => {
  let dns: TestDnsServer;
  const running: Membership[] = [];

  before(async () => {
    dns = await TestDnsServer.start();
  });
  after(async () => {
    await dns.close();
  });
  afterEach(() => {
    for (const m of running.splice(0)) m.stop();
    dns.records.clear();
    dns.failWith = undefined;
  });

  function srvMembership(log: Logger, server = dns.address): Membership {
    const m = createMembership(`dns+srv:${SRV}`, { log, refreshMs: REFRESH_MS, dnsServer: server, dnsTimeoutMs: 200 });
    running.push(m);
    return m;
  }

  test('SRV gives pod-name ids and target:port addresses, sorted by id', async () => {
    dns.set(SRV, srvRecords([2, 0, 1]));
    const m = srvMembership(captureLogger().log);
    await m.start();
    assert.deepEqual(m.current(), expectedSrvNodes([0, 1, 2]));
  });

  test('a node joining or leaving fires onChange once with the new list; identical answers do not', async () => {
    dns.set(SRV, srvRecords([0, 1]));
    const m = srvMembership(captureLogger().log);
    const calls = recordChanges(m);
    await m.start();
    assert.equal(calls.length, 0, 'the first resolution inside start() does not notify');

    dns.set(SRV, srvRecords([0, 1, 2]));
    await waitUntil(() => calls.length >= 1, 'onChange after a node joined');
    assert.deepEqual(calls[0], expectedSrvNodes([0, 1, 2]));
    assert.deepEqual(m.current(), expectedSrvNodes([0, 1, 2]));

    const seen = dns.count(SRV, QTYPE.SRV);
    await waitUntil(() => dns.count(SRV, QTYPE.SRV) >= seen + 4, 'several re-resolutions with the same answer');
    assert.equal(calls.length, 1, 'the same answer again must not notify');

    dns.set(SRV, srvRecords([0, 2]));
    await waitUntil(() => calls.length >= 2, 'onChange after a node left');
    assert.deepEqual(calls[1], expectedSrvNodes([0, 2]));
    const seenAfterLeave = dns.count(SRV, QTYPE.SRV);
    await waitUntil(() => dns.count(SRV, QTYPE.SRV) >= seenAfterLeave + 3, 'more re-resolutions');
    assert.equal(calls.length, 2);
  });

  test('a restarted pod with a new IP keeps its id and address (no change)', async () => {
    dns.set(SRV, srvRecords([0, 1]));
    dns.set(pod(0), { a: ['10.0.0.10'] });
    const m = srvMembership(captureLogger().log);
    const calls = recordChanges(m);
    await m.start();
    dns.set(pod(0), { a: ['10.0.0.99'] });
    const seen = dns.count(SRV, QTYPE.SRV);
    await waitUntil(() => dns.count(SRV, QTYPE.SRV) >= seen + 3, 're-resolutions after the pod moved');
    assert.equal(calls.length, 0);
    assert.deepEqual(m.current(), expectedSrvNodes([0, 1]));
  });

  test('SERVFAIL keeps the last good list and logs a warning; recovery applies new records', async () => {
    dns.set(SRV, srvRecords([0, 1, 2]));
    const { log, lines } = captureLogger();
    const m = srvMembership(log);
    const calls = recordChanges(m);
    await m.start();

    dns.failWith = RCODE.SERVFAIL;
    dns.set(SRV, undefined); // would be NXDOMAIN, but SERVFAIL comes first
    await waitUntil(() => lines.filter((l) => l.msg.includes('DNS lookup failed')).length >= 3, 'three failed lookups logged');
    assert.deepEqual(m.current(), expectedSrvNodes([0, 1, 2]));
    assert.equal(calls.length, 0);
    assert.ok(lines.some((l) => l.level === 40 && l.msg.includes('keeping the last good list')));

    dns.failWith = undefined;
    dns.set(SRV, srvRecords([1, 2, 3]));
    await waitUntil(() => calls.length >= 1, 'onChange after DNS recovered');
    assert.deepEqual(calls[0], expectedSrvNodes([1, 2, 3]));
  });

  test('a stopped DNS server keeps the last good list; a restarted one is used again', async () => {
    const own = await TestDnsServer.start();
    const port = own.port;
    own.set(SRV, srvRecords([0, 1]));
    const { log, lines } = captureLogger();
    const m = srvMembership(log, own.address);
    const calls = recordChanges(m);
    await m.start();
    assert.deepEqual(m.current(), expectedSrvNodes([0, 1]));

    await own.close();
    await waitUntil(() => lines.filter((l) => l.msg.includes('DNS lookup failed')).length >= 2, 'failed lookups logged');
    assert.deepEqual(m.current(), expectedSrvNodes([0, 1]));
    assert.equal(calls.length, 0);

    const revived = await TestDnsServer.start(port);
    try {
      revived.set(SRV, srvRecords([0, 1, 5]));
      await waitUntil(() => calls.length >= 1, 'onChange after the server came back');
      assert.deepEqual(calls[0], expectedSrvNodes([0, 1, 5]));
    } finally {
      m.stop();
      await revived.close();
    }
  });

  test('an empty answer is a fault: the last good list stays, a warning is logged and problem() says why', async () => {
    dns.set(SRV, srvRecords([0, 1]));
    const { log, lines } = captureLogger();
    const m = srvMembership(log);
    const calls = recordChanges(m);
    await m.start();
    assert.equal(m.problem?.(), '');

    dns.set(SRV, undefined); // NXDOMAIN
    const seen = dns.count(SRV, QTYPE.SRV);
    await waitUntil(() => dns.count(SRV, QTYPE.SRV) >= seen + 4, 'several empty answers');
    assert.equal(calls.length, 0, 'an empty answer must not drop every member');
    assert.deepEqual(m.current(), expectedSrvNodes([0, 1]));
    assert.match(m.problem?.() ?? '', /resolves to no node; keeping the last good list of 2 node\(s\)/);
    assert.ok(lines.some((l) => l.level === 40 && l.msg.includes('resolves to no node')), 'logged at warn');

    dns.set(SRV, srvRecords([1]));
    await waitUntil(() => calls.length >= 1, 'the next non-empty answer');
    assert.deepEqual(calls[0], expectedSrvNodes([1]));
    assert.equal(m.problem?.(), '');
  });

  test('an empty answer between two non-empty ones changes nothing', async () => {
    dns.set(SRV, srvRecords([0, 1]));
    const { log, lines } = captureLogger();
    const m = srvMembership(log);
    const calls = recordChanges(m);
    await m.start();
    dns.set(SRV, { srv: [] }); // NODATA
    await waitUntil(() => lines.some((l) => l.msg.includes('resolves to no node')), 'an empty answer');
    dns.set(SRV, srvRecords([0, 1]));
    const seen = dns.count(SRV, QTYPE.SRV);
    await waitUntil(() => dns.count(SRV, QTYPE.SRV) >= seen + 3, 'more re-resolutions');
    assert.equal(calls.length, 0);
  });

  test('zero members at start: start() resolves empty (a fault) and polling picks up new pods', async () => {
    const m = srvMembership(captureLogger().log);
    const calls = recordChanges(m);
    await m.start();
    assert.deepEqual(m.current(), []);
    assert.match(m.problem?.() ?? '', /resolves to no node/);
    dns.set(SRV, srvRecords([0]));
    await waitUntil(() => calls.length >= 1, 'onChange after the first pod appeared');
    assert.deepEqual(calls[0], expectedSrvNodes([0]));
  });

  test('SRV targets sharing a first label keep the smallest address and warn', async () => {
    dns.set(SRV, { srv: [{ port: 7001, target: `n.b.${SVC}` }, { port: 7001, target: `n.a.${SVC}` }] });
    const { log, lines } = captureLogger();
    const m = srvMembership(log);
    await m.start();
    assert.deepEqual(m.current(), [{ id: 'n', address: `n.a.${SVC}:7001` }]);
    assert.ok(lines.some((l) => l.msg.includes('share a node id')));
  });

  test('stop() ends re-resolution and start() afterwards throws', async () => {
    dns.set(SRV, srvRecords([0]));
    const m = srvMembership(captureLogger().log);
    await m.start();
    await waitUntil(() => dns.count(SRV, QTYPE.SRV) >= 2, 'a re-resolution');
    m.stop();
    await new Promise((resolve) => setTimeout(resolve, REFRESH_MS * 2)); // let an in-flight lookup finish
    const seen = dns.count(SRV, QTYPE.SRV);
    await new Promise((resolve) => setTimeout(resolve, REFRESH_MS * 4));
    assert.equal(dns.count(SRV, QTYPE.SRV), seen);
    await assert.rejects(m.start(), ReaderStateError);
  });

  test('dns:<name>:<port> uses A and AAAA records with ip:port ids and warns about it', async () => {
    dns.set(SVC, { a: ['10.0.0.2', '10.0.0.1'], aaaa: ['fd00::1'] });
    const { log, lines } = captureLogger();
    const m = createMembership(`dns:${SVC}:7001`, { log, refreshMs: REFRESH_MS, dnsServer: dns.address, dnsTimeoutMs: 200 });
    running.push(m);
    const calls = recordChanges(m);
    await m.start();
    assert.deepEqual(m.current(), [
      { id: '10.0.0.1:7001', address: '10.0.0.1:7001' },
      { id: '10.0.0.2:7001', address: '10.0.0.2:7001' },
      { id: '[fd00::1]:7001', address: '[fd00::1]:7001' },
    ]);
    assert.ok(lines.some((l) => l.level === 40 && l.msg.includes('prefer dns+srv')));

    dns.set(SVC, { a: ['10.0.0.1', '10.0.0.3'] });
    await waitUntil(() => calls.length >= 1, 'onChange after the A records changed');
    assert.deepEqual(
      calls[0].map((n) => n.id),
      ['10.0.0.1:7001', '10.0.0.3:7001'],
    );
  });

  test('dns:<name> without --dns-server resolves as the system resolver does (/etc/hosts: localhost)', async () => {
    const m = createMembership('dns:localhost:7001', { log: captureLogger().log, refreshMs: REFRESH_MS });
    running.push(m);
    await m.start();
    const ids = m.current().map((n) => n.id);
    assert.ok(ids.includes('127.0.0.1:7001') || ids.includes('[::1]:7001'), `localhost gave ${JSON.stringify(ids)}`);
    assert.equal(m.problem?.(), '');
  });

  test('dns:<name> through the system resolver: a name that stops resolving keeps the last list', async () => {
    let answer: Array<{ address: string; family: number }> = [{ address: '10.0.0.7', family: 4 }];
    const systemLookup = async (): Promise<Array<{ address: string; family: number }>> => {
      if (answer.length === 0) throw Object.assign(new Error('getaddrinfo ENOTFOUND nodes.example'), { code: 'ENOTFOUND' });
      return answer;
    };
    const m = createMembership('dns:nodes.example:7001', { log: captureLogger().log, refreshMs: REFRESH_MS, systemLookup });
    running.push(m);
    await m.start();
    assert.deepEqual(m.current(), [{ id: '10.0.0.7:7001', address: '10.0.0.7:7001' }]);
    answer = [];
    await waitUntil(() => (m.problem?.() ?? '') !== '', 'the fault');
    assert.deepEqual(m.current(), [{ id: '10.0.0.7:7001', address: '10.0.0.7:7001' }]);
  });

  test('dns:<name> takes defaultPort', async () => {
    dns.set(SVC, { a: ['10.1.2.3'] });
    const m = createMembership(`dns:${SVC}`, { log: captureLogger().log, defaultPort: 7100, dnsServer: dns.address, refreshMs: REFRESH_MS });
    running.push(m);
    await m.start();
    assert.deepEqual(m.current(), [{ id: '10.1.2.3:7100', address: '10.1.2.3:7100' }]);
  });
});

describe('placementChanges', () => {
  const shards = Array.from({ length: 600 }, (_, i) => i);
  const nodes = (n: number): string[] => Array.from({ length: n }, (_, i) => `node-${i}`);

  test('lists exactly the shards whose owner list differs, in order', () => {
    const a: Placement = new Map([
      [0, ['n1', 'n2']],
      [1, ['n2', 'n3']],
      [2, ['n3', 'n1']],
      [3, ['n1']],
    ]);
    const b: Placement = new Map([
      [0, ['n1', 'n2']],
      [1, ['n3', 'n2']], // same set, swapped preference
      [2, ['n3', 'n4']],
      [4, ['n1']], // 3 gone, 4 new
    ]);
    assert.deepEqual(placementChanges(a, b), [1, 2, 3, 4]);
    assert.deepEqual(primaryChanges(a, b), [1, 3, 4]);
    assert.deepEqual(placementChanges(a, a), []);
  });

  test('adding a sixth node to five moves about 1/6 of primaries, all to the new node', () => {
    const before = placeShards(shards, nodes(5), { replication: 1 });
    const after = placeShards(shards, nodes(6), { replication: 1 });
    const moved = primaryChanges(before, after);
    const fraction = moved.length / shards.length;
    assert.ok(fraction > 0.1 && fraction < 0.25, `moved fraction ${fraction} should be near 1/6`);
    const toNewNode = moved.filter((db) => after.get(db)?.[0] === 'node-5').length;
    assert.ok(toNewNode / moved.length > 0.9, `most moved shards go to the new node (${toNewNode}/${moved.length})`);
    const diff = new Set(placementChanges(before, after));
    for (const db of shards) {
      const changed = JSON.stringify(before.get(db)) !== JSON.stringify(after.get(db));
      assert.equal(diff.has(db), changed, `shard ${db}`);
    }
  });

  test('with R = 2, a leaving node changes essentially only the shards it held', () => {
    const before = placeShards(shards, nodes(6), { replication: 2 });
    const after = placeShards(shards, nodes(6).filter((n) => n !== 'node-3'), { replication: 2 });
    const changed = placementChanges(before, after);
    const heldByLeaver = shards.filter((db) => before.get(db)?.includes('node-3'));
    for (const db of heldByLeaver) assert.ok(changed.includes(db), `shard ${db} lost a replica`);
    // Only the leaver's shards (about R/n = 1/3) should move, plus the few the load cap pushes.
    assert.ok(changed.length <= heldByLeaver.length + shards.length * 0.05, `${changed.length} changed, ${heldByLeaver.length} held by the leaver`);
    const untouched = shards.filter((db) => !changed.includes(db));
    for (const db of untouched) assert.deepEqual(after.get(db), before.get(db));
  });
});
