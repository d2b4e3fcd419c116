/**
 * The static shard-node list given to routers and nodes (`--nodes`).
 *
 * Syntax: comma-separated entries, each `id=host:port` or just `host:port` (then the address is
 * also the id). The id is the node's name in the placement (e.g. a StatefulSet pod name); keeping
 * ids stable while addresses change keeps shards where they are.
 */
import { ConfigValidationError } from './errors.ts';

/** A shard node: its placement id and gRPC address. */
export interface NodeEndpoint {
  id: string;
  /** `host:port`. */
  address: string;
}

/**
 * Parses a node list.
 * @throws ConfigValidationError on an empty list, a malformed entry or a duplicate id.
 */
export function parseNodeList(spec: string): NodeEndpoint[] {
  const entries = spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (entries.length === 0) throw new ConfigValidationError('the node list is empty; give --nodes id=host:port,...');
  const nodes = entries.map((entry) => {
    const eq = entry.indexOf('=');
    const id = eq >= 0 ? entry.slice(0, eq) : entry;
    const address = eq >= 0 ? entry.slice(eq + 1) : entry;
    if (!/^[^\s:]+:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address)) {
      throw new ConfigValidationError(`node entry "${entry}": address must be host:port`);
    }
    if (id.length === 0) throw new ConfigValidationError(`node entry "${entry}": empty id`);
    return { id, address };
  });
  const seen = new Set<string>();
  for (const n of nodes) {
    if (seen.has(n.id)) throw new ConfigValidationError(`node id "${n.id}" appears twice in the node list`);
    seen.add(n.id);
  }
  return nodes;
}

/** Formats a node list back to its `--nodes` syntax. */
export function formatNodeList(nodes: readonly NodeEndpoint[]): string {
  return nodes.map((n) => (n.id === n.address ? n.address : `${n.id}=${n.address}`)).join(',');
}
