/**
 * Prints the placement of shards on nodes as JSON, so a test can compare the placement computed
 * in another process with its own (cross-process determinism of src/common/placement.ts):
 *
 *   node --import tsx test/helpers/placement-print.ts '{"dbIds":[0,1],"nodeIds":["a","b"],"replication":1}'
 *
 * Input: one JSON argument `{ dbIds: number[], nodeIds: string[], replication: number,
 * loadFactor?: number }`. Output: one line, a JSON array of `[dbId, owners]` pairs in the
 * placement's iteration order.
 */
import { placeShards } from '../../src/common/placement.ts';

interface PrintArgs {
  dbIds: number[];
  nodeIds: string[];
  replication: number;
  loadFactor?: number;
}

const raw = process.argv[2];
if (raw === undefined) {
  process.stderr.write('usage: placement-print.ts <json args>\n');
  process.exit(2);
}
const args = JSON.parse(raw) as PrintArgs;
const placement = placeShards(args.dbIds, args.nodeIds, {
  replication: args.replication,
  ...(args.loadFactor === undefined ? {} : { loadFactor: args.loadFactor }),
});
process.stdout.write(`${JSON.stringify([...placement.entries()])}\n`);
