/**
 * Tests of shard placement (src/common/placement.ts): rendezvous hashing with a bounded-load cap
 * and replication factor R. Checks replica counts, the load cap, independence from node order,
 * limited movement when a node joins, agreement across processes, and input validation.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ConfigValidationError } from '../src/common/errors.ts';
import { placeShards, rendezvousWeight, shardBytesOf, shardsOfNode, type Placement } from '../src/common/placement.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';

const execFileAsync = promisify(execFile);

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function nodeNames(n: number, prefix = 'node-'): string[] {
  return range(n).map((i) => `${prefix}${i}`);
}

function shuffled<T>(items: readonly T[], rng: SeededRandom): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Replicas held per node (0 for nodes holding nothing). */
function loads(placement: Placement, nodes: readonly string[]): Map<string, number> {
  const out = new Map<string, number>(nodes.map((n) => [n, 0]));
  for (const owners of placement.values()) for (const o of owners) out.set(o, (out.get(o) ?? 0) + 1);
  return out;
}

/** Checks replica counts, distinctness, membership and the load cap of one placement. */
function checkPlacement(
  placement: Placement,
  dbIds: readonly number[],
  nodes: readonly string[],
  replication: number,
  loadFactor: number,
  label: string,
): void {
  const distinctShards = [...new Set(dbIds)].sort((a, b) => a - b);
  const distinctNodes = new Set(nodes);
  const r = Math.min(replication, distinctNodes.size);
  assert.deepEqual([...placement.keys()].sort((a, b) => a - b), distinctShards, `${label}: shard ids`);
  for (const [dbId, owners] of placement) {
    assert.equal(owners.length, r, `${label}: shard ${dbId} has owners [${owners.join(', ')}], want ${r}`);
    assert.equal(new Set(owners).size, owners.length, `${label}: shard ${dbId} has a repeated owner`);
    for (const o of owners) assert.ok(distinctNodes.has(o), `${label}: unknown owner ${o}`);
  }
  const cap = Math.ceil((loadFactor * distinctShards.length * r) / distinctNodes.size);
  for (const [node, load] of loads(placement, [...distinctNodes])) {
    assert.ok(load <= Math.max(1, cap), `${label}: node ${node} holds ${load} replicas, cap ${cap}`);
  }
}

describe('placeShards', () => {
  test('every shard gets min(R, nodes) distinct owners and no node exceeds the default cap', () => {
    for (const numNodes of [1, 2, 3, 4, 5, 7, 10, 16]) {
      for (const replication of [1, 2, 3, 4, 6, 20]) {
        for (const numShards of [1, 2, 3, 8, 31, 64, 200]) {
          const nodes = nodeNames(numNodes);
          const dbIds = range(numShards);
          const placement = placeShards(dbIds, nodes, { replication });
          checkPlacement(placement, dbIds, nodes, replication, 1.25, `N=${numNodes} R=${replication} S=${numShards}`);
        }
      }
    }
  });

  test('replica counts and the cap also hold for tight load factors (1 <= c < 1.25)', () => {
    for (const loadFactor of [1, 1.05, 1.1, 1.5, 3]) {
      for (const numNodes of [2, 3, 4, 5, 6, 8, 11]) {
        for (let replication = 1; replication <= numNodes; replication++) {
          for (const numShards of [1, 2, 3, 5, 8, 16, 64, 100]) {
            const nodes = nodeNames(numNodes, 'sn-');
            const dbIds = range(numShards);
            const placement = placeShards(dbIds, nodes, { replication, loadFactor });
            checkPlacement(
              placement,
              dbIds,
              nodes,
              replication,
              loadFactor,
              `c=${loadFactor} N=${numNodes} R=${replication} S=${numShards}`,
            );
          }
        }
      }
    }
  });

  test('without a binding cap, owners are the top-R nodes by rendezvous weight (naive reference)', () => {
    const nodes = nodeNames(9, '10.0.0.');
    const dbIds = range(40);
    for (const replication of [1, 2, 3]) {
      // Load factor so large that the cap (>= number of shards) never binds.
      const placement = placeShards(dbIds, nodes, { replication, loadFactor: 1000 });
      for (const dbId of dbIds) {
        const ranked = nodes
          .map((node) => ({ node, w: rendezvousWeight(dbId, node) }))
          .sort((a, b) => (a.w > b.w ? -1 : a.w < b.w ? 1 : a.node < b.node ? -1 : 1))
          .slice(0, replication)
          .map((x) => x.node);
        assert.deepEqual(placement.get(dbId), ranked, `shard ${dbId} R=${replication}`);
      }
    }
  });

  test('rendezvousWeight is a 64-bit value that depends on both the shard and the node', () => {
    const w = rendezvousWeight(3, 'node-1');
    assert.equal(typeof w, 'bigint');
    assert.ok(w >= 0n && w < 2n ** 64n);
    assert.equal(rendezvousWeight(3, 'node-1'), w);
    assert.notEqual(rendezvousWeight(4, 'node-1'), w);
    assert.notEqual(rendezvousWeight(3, 'node-2'), w);
  });

  test('the result does not depend on the order of the node list (or duplicates in it)', () => {
    const rng = new SeededRandom(31);
    const dbIds = range(50);
    for (const replication of [1, 2, 3]) {
      const nodes = nodeNames(7);
      const reference = placeShards(dbIds, nodes, { replication });
      for (let trial = 0; trial < 10; trial++) {
        const order = shuffled(nodes, rng);
        if (trial % 2 === 1) order.push(order[0], order[3]); // duplicates are ignored
        const placement = placeShards(shuffled(dbIds, rng), order, { replication });
        assert.deepEqual([...placement.entries()].sort((a, b) => a[0] - b[0]), [...reference.entries()].sort((a, b) => a[0] - b[0]));
      }
    }
  });

  test('duplicate and unordered shard ids are placed once each, in ascending order', () => {
    const placement = placeShards([5, 1, 5, 3, 1], nodeNames(3), { replication: 1 });
    assert.deepEqual([...placement.keys()], [1, 3, 5]);
  });

  test('adding a fifth node to four (64 shards, R=1) moves only a minority of shards, to the new node', () => {
    const dbIds = range(64);
    const before = placeShards(dbIds, nodeNames(4), { replication: 1 });
    const after = placeShards(dbIds, nodeNames(5), { replication: 1 });
    checkPlacement(after, dbIds, nodeNames(5), 1, 1.25, '5 nodes');
    const moved = dbIds.filter((id) => before.get(id)?.[0] !== after.get(id)?.[0]);
    assert.ok(moved.length > 0, 'the new node received no shard');
    assert.ok(moved.length < 0.4 * dbIds.length, `${moved.length} of 64 shards moved`);
    // Every shard that is not on the new node stayed with its previous owner, and every moved shard
    // went to the new node (no churn between existing nodes for this configuration).
    for (const id of dbIds) {
      const owner = after.get(id)?.[0];
      if (owner !== 'node-4') assert.equal(owner, before.get(id)?.[0], `shard ${id} moved between old nodes`);
    }
    assert.deepEqual(shardsOfNode(after, 'node-4'), moved);
  });

  test('node joins move few replicas for other node names and R=2 too', () => {
    const dbIds = range(64);
    for (const prefix of ['node-', 'sn-', '10.1.0.']) {
      for (const replication of [1, 2]) {
        const old = nodeNames(4, prefix);
        const grown = nodeNames(5, prefix);
        const newNode = grown[4];
        const before = placeShards(dbIds, old, { replication });
        const after = placeShards(dbIds, grown, { replication });
        let lostReplicas = 0;
        let churn = 0; // replicas moved to an old node rather than to the new one
        for (const id of dbIds) {
          const was = before.get(id) ?? [];
          const now = after.get(id) ?? [];
          const lost = was.filter((o) => !now.includes(o));
          const gained = now.filter((o) => !was.includes(o));
          lostReplicas += lost.length;
          churn += gained.filter((o) => o !== newNode).length;
        }
        const total = dbIds.length * replication;
        const label = `${prefix} R=${replication}`;
        assert.ok(lostReplicas < 0.4 * total, `${label}: ${lostReplicas} of ${total} replicas moved`);
        assert.ok(churn <= 0.1 * total, `${label}: ${churn} replicas moved between old nodes`);
      }
    }
  });

  test('a second Node process computes exactly the same placement', async () => {
    const helper = fileURLToPath(new URL('./helpers/placement-print.ts', import.meta.url));
    const cases = [
      { dbIds: range(64), nodeIds: nodeNames(5), replication: 1 },
      { dbIds: range(100), nodeIds: ['10.0.0.7:7001', '10.0.0.3:7001', 'a', 'b', 'node-x', 'z'], replication: 2 },
      { dbIds: [9, 2, 7, 40, 3], nodeIds: nodeNames(3, 'sn-'), replication: 3, loadFactor: 1.5 },
    ];
    await Promise.all(
      cases.map(async (args) => {
        const { stdout } = await execFileAsync(process.execPath, ['--import', import.meta.resolve('tsx'), helper, JSON.stringify(args)], {
          timeout: 30_000,
        });
        const theirs = JSON.parse(stdout) as Array<[number, string[]]>;
        const ours = placeShards(args.dbIds, args.nodeIds, {
          replication: args.replication,
          ...(args.loadFactor === undefined ? {} : { loadFactor: args.loadFactor }),
        });
        assert.deepEqual(theirs, [...ours.entries()]);
        assert.equal(theirs.length, new Set(args.dbIds).size);
      }),
    );
  });

  test('bad inputs throw ConfigValidationError', () => {
    const ids = range(4);
    assert.throws(() => placeShards(ids, [], { replication: 1 }), ConfigValidationError);
    assert.throws(() => placeShards(ids, nodeNames(2), { replication: 0 }), ConfigValidationError);
    assert.throws(() => placeShards(ids, nodeNames(2), { replication: -1 }), ConfigValidationError);
    assert.throws(() => placeShards(ids, nodeNames(2), { replication: 1.5 }), ConfigValidationError);
    assert.throws(() => placeShards(ids, nodeNames(2), { replication: 1, loadFactor: 0.99 }), ConfigValidationError);
    assert.throws(() => placeShards(ids, nodeNames(2), { replication: 1, loadFactor: Number.NaN }), ConfigValidationError);
    // Boundary values are accepted.
    assert.equal(placeShards(ids, nodeNames(2), { replication: 1, loadFactor: 1 }).size, 4);
  });

  test('no shards gives an empty placement', () => {
    assert.equal(placeShards([], nodeNames(3), { replication: 2 }).size, 0);
  });
});

describe('shardsOfNode', () => {
  test('lists each node\'s shards ascending; together they cover every replica exactly once', () => {
    const nodes = nodeNames(6);
    const dbIds = shuffled(range(45), new SeededRandom(4));
    for (const replication of [1, 2, 3]) {
      const placement = placeShards(dbIds, nodes, { replication });
      const seen = new Map<number, number>();
      for (const node of nodes) {
        const mine = shardsOfNode(placement, node);
        assert.deepEqual(mine, [...mine].sort((a, b) => a - b));
        // Naive reference: filter the placement.
        const naive = range(45).filter((id) => (placement.get(id) ?? []).includes(node));
        assert.deepEqual(mine, naive);
        for (const id of mine) seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      for (const id of range(45)) assert.equal(seen.get(id), replication, `shard ${id}`);
    }
  });

  test('a node outside the placement holds nothing', () => {
    const placement = placeShards(range(10), nodeNames(3), { replication: 1 });
    assert.deepEqual(shardsOfNode(placement, 'node-99'), []);
    assert.deepEqual(shardsOfNode(new Map(), 'node-0'), []);
  });
});

/** Vector counts per shard: seeded lognormal (an unbalanced build) and +-10% (a balanced one), x 1,009 bytes. */
function byteDistributions(): [string, Map<number, number>][] {
  const rng = new SeededRandom(22);
  const gaussian = (): number => Math.sqrt(-2 * Math.log(Math.max(rng.next(), 1e-12))) * Math.cos(2 * Math.PI * rng.next());
  const out: [string, Map<number, number>][] = [];
  for (const numShards of [16, 64]) {
    const unbalanced = range(numShards).map(() => Math.round(6250 * Math.exp(1.2 * gaussian())));
    const balanced = range(numShards).map(() => Math.round(6250 * (0.9 + 0.2 * rng.next())));
    out.push([`unbalanced S=${numShards}`, new Map(unbalanced.map((c, i) => [i, c * 1009]))]);
    out.push([`balanced S=${numShards}`, new Map(balanced.map((c, i) => [i, c * 1009]))]);
  }
  return out;
}

function bytesPerNode(placement: Placement, bytes: ReadonlyMap<number, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [db, owners] of placement) for (const o of owners) out.set(o, (out.get(o) ?? 0) + (bytes.get(db) ?? 0));
  return out;
}

function replicasMoved(before: Placement, after: Placement): number {
  let moved = 0;
  for (const [db, owners] of after) moved += owners.filter((o) => !(before.get(db) ?? []).includes(o)).length;
  return moved;
}

describe('placeShards by bytes', () => {
  test('the fullest node holds at most max(1.1 x ideal, ideal + largest shard) bytes (R=1; the weaker R>1 bound), balanced shards within 1.12x', () => {
    for (const [label, bytes] of byteDistributions()) {
      const ids = [...bytes.keys()];
      const total = [...bytes.values()].reduce((a, b) => a + b, 0);
      const largest = Math.max(...bytes.values());
      for (const replication of [1, 2]) {
        for (const numNodes of [2, 3, 4, 5]) {
          const placement = placeShards(ids, nodeNames(numNodes), { replication, bytes });
          checkPlacement(placement, ids, nodeNames(numNodes), replication, 1000, `${label} R=${replication} N=${numNodes}`);
          const ideal = (total * replication) / numNodes;
          const fullest = Math.max(...bytesPerNode(placement, bytes).values());
          // Largest-first list scheduling with a 1.1 cap: the bound of the module comment.
          const weaker = replication === 1 ? 1 : numNodes / (numNodes - replication + 1);
          assert.ok(fullest <= weaker * Math.max(1.1 * ideal, ideal + largest) + 1e-6, `${label} R=${replication} N=${numNodes}: fullest ${fullest / ideal}x`);
          // Balanced shards with at least 5 replicas per node: within 1.12x (fewer: one shard is a
          // coarse unit, e.g. 16 shards on 5 nodes cannot beat 4 / 3.2 = 1.25x).
          if (label.startsWith('balanced') && (ids.length * replication) / numNodes >= 5) {
            assert.ok(fullest / ideal <= 1.12, `${label} R=${replication} N=${numNodes}: fullest ${(fullest / ideal).toFixed(3)}x of ideal`);
          }
        }
      }
    }
  });

  test('balanced shards: fuller nodes than by replica count are avoided (R=2, 3 and 4 nodes)', () => {
    const bytes = byteDistributions()[1][1];
    const ids = [...bytes.keys()];
    const total = [...bytes.values()].reduce((a, b) => a + b, 0);
    for (const numNodes of [3, 4]) {
      const ideal = (total * 2) / numNodes;
      const byCount = Math.max(...bytesPerNode(placeShards(ids, nodeNames(numNodes), { replication: 2 }), bytes).values()) / ideal;
      const byBytes = Math.max(...bytesPerNode(placeShards(ids, nodeNames(numNodes), { replication: 2, bytes }), bytes).values()) / ideal;
      assert.ok(byBytes < byCount, `N=${numNodes}: by bytes ${byBytes.toFixed(3)}x, by count ${byCount.toFixed(3)}x`);
    }
  });

  test('a node joining or leaving moves at most 2 replicas beyond those the joiner takes or the leaver held (balanced shards; a quarter of them when skewed)', () => {
    for (const [label, bytes] of byteDistributions()) {
      const ids = [...bytes.keys()];
      for (const replication of [1, 2]) {
        for (const numNodes of [2, 3, 4]) {
          const small = placeShards(ids, nodeNames(numNodes), { replication, bytes });
          const grown = placeShards(ids, nodeNames(numNodes + 1), { replication, bytes });
          const joiner = `node-${numNodes}`;
          const taken = shardsOfNode(grown, joiner).length;
          // Skewed sizes: the cap shrinks as a node joins and the largest-first packing reshuffles more.
          const slack = label.startsWith('balanced') ? 2 : Math.ceil((ids.length * replication) / 4);
          const moved = replicasMoved(small, grown);
          assert.ok(moved <= taken + slack, `${label} R=${replication} ${numNodes}->${numNodes + 1}: ${moved} moved, the new node took ${taken}`);
          const back = replicasMoved(grown, small);
          assert.ok(back <= taken + slack, `${label} R=${replication} ${numNodes + 1}->${numNodes}: ${back} moved, the leaver held ${taken}`);
        }
      }
    }
  });

  test('is independent of node order and duplicates; all-zero bytes fall back to replica counts', () => {
    const bytes = byteDistributions()[0][1];
    const ids = [...bytes.keys()];
    const rng = new SeededRandom(8);
    const reference = placeShards(ids, nodeNames(5), { replication: 2, bytes });
    for (let trial = 0; trial < 5; trial++) {
      const order = shuffled(nodeNames(5), rng);
      order.push(order[1]);
      assert.deepEqual([...placeShards(shuffled(ids, rng), order, { replication: 2, bytes }).entries()], [...reference.entries()]);
    }
    const zeros = new Map(ids.map((id) => [id, 0]));
    assert.deepEqual(placeShards(ids, nodeNames(3), { replication: 2, bytes: zeros }), placeShards(ids, nodeNames(3), { replication: 2 }));
    assert.throws(() => placeShards(ids, nodeNames(3), { replication: 1, bytes: new Map([[0, -1]]) }), ConfigValidationError);
  });

  test('shardBytesOf sums file sizes, estimates unknown sizes from vector counts, and weighs empty shards 0', () => {
    const weights = shardBytesOf([
      { db_id: 0, vector_count: 100, files: [{ bytes: 60_000 }, { bytes: 40_000 }] },
      { db_id: 1, vector_count: 50, files: [{ bytes: 0 }] },
      { db_id: 2, vector_count: 0, files: [] },
    ]);
    assert.deepEqual([...weights.entries()], [[0, 100_000], [1, 50_000], [2, 0]]);
    // No size known anywhere: vector counts.
    assert.deepEqual([...shardBytesOf([{ db_id: 3, vector_count: 7, files: [] }]).entries()], [[3, 7]]);
  });
});
