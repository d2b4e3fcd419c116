/**
 * Where a router gets its shard-node endpoints from. A static list never changes; a DNS-backed
 * membership (src/common/membership) calls its listeners when nodes join or leave. The router only
 * needs this two-method shape, so it is declared here rather than imported.
 */
import type { NodeEndpoint } from '../common/node-list.ts';

/** A source of shard-node endpoints that may change at runtime. */
export interface RouterMembership {
  /** The nodes right now (ids are placement names, addresses are `host:port`). */
  current(): NodeEndpoint[];
  /** Registers `listener`, called with the full new node list after every change. */
  onChange(listener: (nodes: NodeEndpoint[]) => void): void;
}

/** A membership over a fixed node list (never changes). */
export function staticMembership(nodes: readonly NodeEndpoint[]): RouterMembership {
  const copy = nodes.map((n) => ({ ...n }));
  return {
    current: () => copy.map((n) => ({ ...n })),
    onChange: () => undefined,
  };
}
