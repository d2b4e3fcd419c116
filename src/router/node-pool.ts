/**
 * gRPC clients of the shard nodes, one channel per node, keyed by node id, each with the
 * {@link NodeCallCoalescer} that every fan-out of the router sends its SearchShards calls to that
 * node through. The set of nodes can change at runtime ({@link NodePool.update}): new nodes get a
 * channel, removed ones are closed (and their queued calls answered UNAVAILABLE). With a
 * `bearerToken`, every call on these channels (SearchShards, Status, Refresh) carries
 * `authorization: Bearer <token>`, what nodes started with `--auth-token-file` require.
 */
import * as grpc from '@grpc/grpc-js';
import { bearerTokenClientInterceptor } from '../common/bearer-auth.ts';
import { CHANNEL_OPTIONS, MAX_MESSAGE_BYTES, loadShardNodeProto, type ShardNodeClient } from '../common/proto.ts';
import type { NodeEndpoint } from '../common/node-list.ts';
import { DEFAULT_COALESCING, NodeCallCoalescer, type CoalescerOptions, type NodeCaller } from './node-call-coalescer.ts';

/**
 * Channel options of node clients: shardfleet's message limits, and a reconnect backoff capped at
 * 1 s (grpc-js grows it to 120 s by default), so a node that was down before it started listening
 * is reachable again within about a second instead of minutes.
 *
 * grpc-js retries are off on these internal channels (`grpc.enable_retries: 0`): the fan-out
 * retries and hedges on another replica itself, so grpc-js's retry layer (which wraps and buffers
 * every call for transparent retries even without a retry policy) only costs CPU, about 11% of a
 * call's at concurrency 16. A call that would have been retried transparently fails UNAVAILABLE
 * and the fan-out sends its shards to the next replica. The public client (src/client) keeps the
 * grpc-js default: an application calling a router has no replica to fall back on, so the
 * transparent retry of a call that never reached the router is worth its cost there.
 */
export const NODE_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  ...CHANNEL_OPTIONS,
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.enable_retries': 0,
};

/** What {@link NodePool.update} changed (node ids). */
export interface PoolChange {
  added: string[];
  removed: string[];
  /** Same id, new address: the channel was replaced. */
  moved: string[];
}

/** Options of a {@link NodePool}. */
export interface NodePoolOptions {
  /** Channel credentials (default insecure); see `channelCredentials` in grpc-security.ts. */
  credentials?: grpc.ChannelCredentials;
  /**
   * Token sent as `authorization: Bearer <token>` on every call to every node (a client
   * interceptor); unset = no `authorization` metadata. Surrounding whitespace is removed.
   */
  bearerToken?: string;
  /** Largest message sent or received, bytes (default 64 MiB). */
  maxMessageBytes?: number;
  /**
   * Coalescing of SearchShards calls per node (defaults: DEFAULT_COALESCING, with batches of at
   * most a quarter of the message limit) and the observer of every call.
   */
  coalescing?: Partial<CoalescerOptions>;
}

/** Clients of every shard node in the membership. */
export class NodePool {
  private readonly clients = new Map<string, { endpoint: NodeEndpoint; client: ShardNodeClient; caller: NodeCallCoalescer }>();
  private readonly credentials: grpc.ChannelCredentials;
  private readonly clientOptions: grpc.ClientOptions;
  private readonly coalescing: Partial<CoalescerOptions>;

  /**
   * @param nodes the membership (ids and addresses).
   * @throws ConfigValidationError when `bearerToken` is empty or not one word of printable ASCII.
   */
  constructor(nodes: readonly NodeEndpoint[], options: NodePoolOptions = {}) {
    this.credentials = options.credentials ?? grpc.credentials.createInsecure();
    const channelOptions: grpc.ChannelOptions =
      options.maxMessageBytes === undefined
        ? NODE_CHANNEL_OPTIONS
        : { ...NODE_CHANNEL_OPTIONS, 'grpc.max_receive_message_length': options.maxMessageBytes, 'grpc.max_send_message_length': options.maxMessageBytes };
    // Interceptors are client options, not channel options: only set when there is a token, so a
    // channel without one keeps grpc-js's interceptor-free call path.
    this.clientOptions =
      options.bearerToken === undefined
        ? channelOptions
        : { ...channelOptions, interceptors: [bearerTokenClientInterceptor(options.bearerToken, 'for the shard nodes (nodeAuthToken / --node-auth-token-file)')] };
    // A combined call must stay well within the message limit however the estimate errs.
    const maxBatchBytes = Math.max(1, Math.floor((options.maxMessageBytes ?? MAX_MESSAGE_BYTES) / 4));
    this.coalescing = { maxBatchBytes: Math.min(maxBatchBytes, DEFAULT_COALESCING.maxBatchBytes), ...options.coalescing };
    this.update(nodes);
  }

  /** Node ids, in membership order. */
  get nodeIds(): string[] {
    return [...this.clients.keys()];
  }

  /** The current endpoints, in membership order. */
  endpoints(): NodeEndpoint[] {
    return [...this.clients.values()].map(({ endpoint }) => ({ ...endpoint }));
  }

  /** The client of node `id`; undefined when the node is not a member. */
  client(id: string): ShardNodeClient | undefined {
    return this.clients.get(id)?.client;
  }

  /** The coalesced SearchShards caller of node `id`; undefined when the node is not a member. */
  caller(id: string): NodeCaller | undefined {
    return this.clients.get(id)?.caller;
  }

  /** The address of node `id`. */
  address(id: string): string | undefined {
    return this.clients.get(id)?.endpoint.address;
  }

  /**
   * Replaces the membership: opens channels for new nodes (and for nodes whose address changed)
   * and closes the channels of nodes no longer listed. Calls in flight on a closed channel fail
   * with CANCELLED/UNAVAILABLE and are retried by the fan-out on another replica.
   */
  update(nodes: readonly NodeEndpoint[]): PoolChange {
    const Ctor = loadShardNodeProto().shardfleet.v1.ShardNode;
    const change: PoolChange = { added: [], removed: [], moved: [] };
    const wanted = new Map(nodes.map((n) => [n.id, n]));
    for (const [id, entry] of this.clients) {
      if (!wanted.has(id)) {
        entry.caller.close();
        entry.client.close();
        this.clients.delete(id);
        change.removed.push(id);
      }
    }
    for (const endpoint of wanted.values()) {
      const existing = this.clients.get(endpoint.id);
      if (existing && existing.endpoint.address === endpoint.address) continue;
      existing?.caller.close(`node ${endpoint.id} moved to ${endpoint.address}`);
      existing?.client.close();
      const client = new Ctor(endpoint.address, this.credentials, this.clientOptions);
      const caller = new NodeCallCoalescer(endpoint.id, client, this.coalescing);
      this.clients.set(endpoint.id, { endpoint: { ...endpoint }, client, caller });
      (existing ? change.moved : change.added).push(endpoint.id);
    }
    return change;
  }

  /** Closes every channel. */
  close(): void {
    for (const { client, caller } of this.clients.values()) {
      caller.close('the router is stopping');
      client.close();
    }
    this.clients.clear();
  }
}
