/**
 * gRPC clients of the shard nodes, one channel per node, keyed by node id.
 */
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS, loadShardNodeProto, type ShardNodeClient } from '../common/proto.ts';
import type { NodeEndpoint } from '../common/node-list.ts';

/** Clients of every shard node in the membership. */
export class NodePool {
  private readonly clients = new Map<string, { endpoint: NodeEndpoint; client: ShardNodeClient }>();

  /** @param nodes the membership (ids and addresses). */
  constructor(nodes: readonly NodeEndpoint[]) {
    const Ctor = loadShardNodeProto().shardfleet.v1.ShardNode;
    for (const endpoint of nodes) {
      this.clients.set(endpoint.id, { endpoint, client: new Ctor(endpoint.address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) });
    }
  }

  /** Node ids, in membership order. */
  get nodeIds(): string[] {
    return [...this.clients.keys()];
  }

  /** The client of node `id`; undefined when the node is not a member. */
  client(id: string): ShardNodeClient | undefined {
    return this.clients.get(id)?.client;
  }

  /** The address of node `id`. */
  address(id: string): string | undefined {
    return this.clients.get(id)?.endpoint.address;
  }

  /** Closes every channel. */
  close(): void {
    for (const { client } of this.clients.values()) client.close();
  }
}
