/**
 * Placement of several collections (issue 24, src/common/placement.ts placeRun with a collection):
 * each collection is placed on its own, keyed by (collection, db id); the sum over collections
 * stays within the per-collection byte bound, and single-collection mode places as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { placeRun, placeShards, rendezvousWeight, shardBytesOf, type ShardSizes } from '../src/common/placement.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';

const nodes = Array.from({ length: 5 }, (_, i) => `node-${i}`);

/** `n` shards of about `mean` bytes each (+-50%, seeded). */
function manifest(n: number, mean: number, seed: number): { shards: ShardSizes[] } {
  const rng = new SeededRandom(seed);
  return {
    shards: Array.from({ length: n }, (_, db_id) => ({ db_id, vector_count: 100, files: [{ bytes: Math.round(mean * (0.5 + rng.next())) }] })),
  };
}

test('several collections of different sizes: the fullest node holds at most ~1.1x the mean bytes of all', () => {
  const collections = [
    { name: 'items', m: manifest(64, 4_000_000, 1) },
    { name: 'users', m: manifest(16, 1_000_000, 2) },
    { name: 'queries', m: manifest(40, 250_000, 3) },
    { name: 'tiny', m: manifest(8, 50_000, 4) },
  ];
  for (const replication of [1, 2]) {
    const held = new Map(nodes.map((n) => [n, 0]));
    let total = 0;
    for (const { name, m } of collections) {
      const bytes = shardBytesOf(m.shards);
      for (const [dbId, owners] of placeRun(m, nodes, replication, name)) {
        assert.equal(owners.length, replication);
        for (const o of owners) held.set(o, held.get(o)! + bytes.get(dbId)!);
        total += bytes.get(dbId)! * replication;
      }
    }
    const mean = total / nodes.length;
    const fullest = Math.max(...held.values());
    // Figure for the report: fullest / mean per R.
    console.log(`R=${replication}: fullest node / mean bytes = ${(fullest / mean).toFixed(3)} over ${collections.length} collections`);
    assert.ok(fullest / mean <= 1.1 + 0.05, `R=${replication}: fullest ${fullest} vs mean ${mean} (${(fullest / mean).toFixed(3)})`);
  }
});

test('keyed by collection: shard 0 of many single-shard collections spreads over the nodes', () => {
  const m = manifest(1, 1000, 5);
  const firstOwners = new Set<string>();
  for (let i = 0; i < 20; i++) firstOwners.add(placeRun(m, nodes, 1, `c${i}`).get(0)![0]);
  // Unkeyed, all 20 would share one owner.
  assert.ok(firstOwners.size >= 4, `owners of shard 0: ${[...firstOwners].join(', ')}`);
  assert.notEqual(rendezvousWeight(0, 'node-0', 'a'), rendezvousWeight(0, 'node-0'));
  assert.notEqual(rendezvousWeight(0, 'node-0', 'a'), rendezvousWeight(0, 'node-0', 'b'));
});

test('single-collection mode (no collection) places exactly as before', () => {
  const m = manifest(32, 1_000_000, 6);
  const ids = m.shards.map((s) => s.db_id);
  assert.deepEqual(placeRun(m, nodes, 2), placeShards(ids, nodes, { replication: 2, bytes: shardBytesOf(m.shards) }));
  assert.equal(rendezvousWeight(3, 'node-1'), rendezvousWeight(3, 'node-1', undefined));
});
