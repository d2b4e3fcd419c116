/**
 * Shard placement by replica count vs by bytes (src/common/placement.ts, issue 22): for shard
 * byte sizes of an unbalanced and a balanced 16-shard build, prints the fullest node's bytes /
 * ideal bytes (total * R / nodes) at 2, 3 and 4 nodes with R = 1 and 2, and the replicas moved
 * when a node joins (N -> N+1) or leaves (N+1 -> N) against the minimum (join: the replicas the
 * new node holds afterwards; leave: the replicas the leaving node held). Node names node-0.. .
 *
 * Usage: npx tsx bench/placement-bytes.ts [--sizes 143,11391,...]
 */
import { parseArgs } from 'node:util';
import { placeShards, type Placement } from '../src/common/placement.ts';
import { SeededRandom } from '../src/writer/seeded-random.ts';

const { values: args } = parseArgs({ options: { sizes: { type: 'string' } } });
const BYTES_PER_VECTOR = 1009;


/** Vector counts per shard: the given list, or seeded lognormal (unbalanced) and +-10% (balanced). */
function distributions(): [string, number[]][] {
  if (args.sizes) return [['given', args.sizes.split(',').map(Number)]];
  const rng = new SeededRandom(22);
  const unbalanced = Array.from({ length: 16 }, () => Math.round(6250 * Math.exp(1.2 * rng.nextGaussian())));
  const balanced = Array.from({ length: 16 }, () => Math.round(6250 * (0.9 + 0.2 * rng.next())));
  return [
    ['unbalanced', unbalanced],
    ['balanced', balanced],
  ];
}

function nodes(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `node-${i}`);
}

function fullestRatio(p: Placement, bytes: Map<number, number>, numNodes: number): number {
  const load = new Map<string, number>();
  let total = 0;
  for (const [db, owners] of p) {
    total += bytes.get(db)! * owners.length;
    for (const o of owners) load.set(o, (load.get(o) ?? 0) + bytes.get(db)!);
  }
  return Math.max(...load.values()) / (total / numNodes);
}

function moved(a: Placement, b: Placement): number {
  let m = 0;
  for (const [db, owners] of b) m += owners.filter((o) => !(a.get(db) ?? []).includes(o)).length;
  return m;
}

for (const [name, counts] of distributions()) {
  const ids = counts.map((_, i) => i);
  const bytes = new Map(counts.map((c, i) => [i, c * BYTES_PER_VECTOR]));
  console.log(`${name}: vectors per shard ${Math.min(...counts)}-${Math.max(...counts)} (max/mean ${(Math.max(...counts) / (counts.reduce((a, b) => a + b) / counts.length)).toFixed(2)})`);
  for (const r of [1, 2]) {
    for (const n of [2, 3, 4]) {
      const line: string[] = [];
      for (const [mode, opts] of [
        ['count', { replication: r }],
        ['bytes', { replication: r, bytes }],
      ] as const) {
        const before = placeShards(ids, nodes(n), opts);
        const after = placeShards(ids, nodes(n + 1), opts);
        const newNode = `node-${n}`;
        const joinMin = [...after.values()].filter((o) => o.includes(newNode)).length;
        const leaveMin = [...after.values()].filter((o) => o.includes(newNode)).length;
        line.push(
          `${mode}: fullest ${fullestRatio(before, bytes, n).toFixed(3)}x, join ${n}->${n + 1} moves ${moved(before, after)} (new node holds ${joinMin}), ` +
            `leave ${n + 1}->${n} moves ${moved(after, before)} (leaver held ${leaveMin})`,
        );
      }
      console.log(`  R=${r} N=${n}  ${line.join(' | ')}`);
    }
  }
}
