/**
 * Configuration shared by the two reader processes, the router and the shard node.
 */
import type { Logger } from 'pino';
import type { TlsFiles } from './grpc-security.ts';
import type { Http2Limits } from './grpc-server.ts';
import type { NodeEndpoint } from './node-list.ts';
import type { ObjectStore } from './storage/object-store.ts';

/** What every reader process needs: the store, the membership, where to listen. */
export interface ReaderProcessConfig {
  /** The snapshot store. */
  store: ObjectStore;
  /** Every shard node: placement membership and addresses. */
  nodes: NodeEndpoint[];
  /** Replication factor R; routers and nodes must agree. */
  replication: number;
  /** `host:port` to listen on (port 0 = any free port). */
  listen: string;
  /** Retry interval while no snapshot can be loaded, ms (default 5000). */
  pollIntervalMs?: number;
  /** Serve over TLS (optionally requiring client certificates); default plaintext. */
  tls?: TlsFiles;
  /** Largest gRPC message received or sent, bytes (default 64 MiB). */
  maxMessageBytes?: number;
  /** HTTP/2 limits of the served port: streams per connection, idle and handshake timeouts (defaults in grpc-server.ts). */
  http2?: Http2Limits;
  log: Logger;
}
