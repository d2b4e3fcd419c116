/**
 * Cluster membership: the current list of shard nodes, from a static list or from DNS (a
 * Kubernetes headless service), re-resolved periodically. Routers and nodes feed the list to
 * `placeShards`; rendezvous placement then moves only the shards whose owners change when a node
 * joins or leaves (see `placementChanges`).
 *
 * Spec syntax (see `spec.ts`): `id=host:port,...` | `host:port,...` | `dns+srv:<name>` |
 * `dns:<name>[:<port>]`. Prefer `dns+srv:` in Kubernetes: ids are pod names, stable across pod
 * restarts, and equal to the `--node-id` a node gives itself (its pod name, `os.hostname()`).
 * Give the headless service `publishNotReadyAddresses: true`, or a node that is loading shards
 * (not ready) leaves the list and its shards move away while it loads them.
 *
 * Behaviour of the DNS forms:
 * - `dns:<name>` resolves as the system resolver does (getaddrinfo through `dns.lookup`:
 *   /etc/hosts, then DNS) unless `dnsServer` names a server, which is then asked for A and AAAA
 *   records directly. `dns+srv:` always asks DNS servers (SRV records are not in /etc/hosts).
 * - `start()` resolves once, then re-resolves every `refreshMs` (no overlapping lookups). It
 *   never rejects on DNS: a failed or empty first lookup is logged and polling goes on.
 * - A failed lookup (SERVFAIL, timeout, refused) and an empty answer (NXDOMAIN, no records) are
 *   faults: the last good list is kept (an empty list stays empty), a warning is logged, and
 *   `problem()` says why until a lookup gives members again (routers show it in Health). A
 *   cluster has no use for an empty node list; a name that stops resolving is a DNS or
 *   configuration fault, not a scale-down to zero.
 * - An answer missing a member removes it at once (no debounce): headless-service DNS is built
 *   from the endpoints, so a missing member is gone, and only its shards move.
 * - Listeners run after each change of the (id, address) set, never for an identical answer and
 *   not for the first resolution inside `start()` (read `current()` after `start()`).
 */
import { lookup } from 'node:dns/promises';
import { ConfigValidationError, ReaderStateError, errorMessage } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { NodeEndpoint } from '../node-list.ts';
import { createDnsResolver, lookupAddressNodes, lookupSrvNodes, lookupSystemNodes, type DnsResolverLike, type SystemLookup } from './dns-lookup.ts';
import { parseDnsServer, parseMembershipSpec, type MembershipSpec } from './spec.ts';

export type { DnsResolverLike } from './dns-lookup.ts';

/** The read side of a membership, all a router or shard node needs: the list and its changes. */
export interface MembershipView {
  /** Current members, sorted by id (a copy). */
  current(): NodeEndpoint[];
  /** Called after every change with the new list (not called when a re-resolve gives the same set). */
  onChange(listener: (nodes: NodeEndpoint[]) => void): void;
  /** Why the list cannot be resolved now ("" = fine; the last good list is kept meanwhile). */
  problem?(): string;
}

/** A membership source: a static list, or DNS re-resolved periodically. */
export interface Membership extends MembershipView {
  /**
   * Resolves once (DNS) and starts periodic re-resolution. Never rejects because of DNS: with
   * no member or a failed lookup the list is empty and polling continues. Static lists: no-op.
   * @throws ReaderStateError when called after `stop()`.
   */
  start(): Promise<void>;
  /** Stops re-resolution; final (a stopped membership cannot be started again). */
  stop(): void;
}

/** Options of {@link createMembership}. */
export interface MembershipOptions {
  /** Re-resolution period of the DNS forms, ms. Default 5000. */
  refreshMs?: number;
  /** Port for `dns:<name>` without one. */
  defaultPort?: number;
  /** Resolver for the DNS forms; default a `node:dns` Resolver (see `dnsServer`). */
  resolver?: DnsResolverLike;
  /**
   * The system resolver used by `dns:<name>` when neither `resolver` nor `dnsServer` is given;
   * default `dns.promises.lookup` with `all: true` (getaddrinfo: /etc/hosts, then DNS).
   */
  systemLookup?: SystemLookup;
  /** DNS server `ip[:port]` (e.g. `127.0.0.1:5353`) for the default resolver; default: the system's. */
  dnsServer?: string;
  /**
   * With `dnsServer`: make SRV addresses `dns://<dnsServer>/<target>:<port>`, so gRPC resolves
   * the targets through that server too (needs GRPC_NODE_USE_ALTERNATIVE_RESOLVER=true in the
   * environment; for clusters whose names the system resolver does not know). Default false.
   */
  dialViaDnsServer?: boolean;
  /** Timeout of one DNS query attempt of the default resolver, ms. Default 2000. */
  dnsTimeoutMs?: number;
  log: Logger;
}

/**
 * Creates a membership from `spec`.
 * @throws ConfigValidationError naming the spec (or option) when it is malformed.
 */
export function createMembership(spec: string, options: MembershipOptions): Membership {
  const parsed = parseMembershipSpec(spec, options.defaultPort);
  if (parsed.kind === 'static') return new StaticMembership(parsed.nodes);
  const refreshMs = options.refreshMs ?? 5000;
  if (!Number.isFinite(refreshMs) || refreshMs < 1) throw new ConfigValidationError(`membership refreshMs must be >= 1 ms, got ${refreshMs}`);
  const useSystem = parsed.kind === 'address' && options.resolver === undefined && options.dnsServer === undefined;
  let resolver = options.resolver;
  let cancel: (() => void) | undefined;
  if (resolver === undefined) {
    const server = options.dnsServer === undefined ? undefined : parseDnsServer(options.dnsServer);
    const own = createDnsResolver({ server, timeoutMs: options.dnsTimeoutMs });
    resolver = own;
    cancel = () => own.cancel();
  }
  if (parsed.kind === 'address') {
    options.log.warn({ spec }, 'membership: dns: gives ip:port node ids, which change when a pod moves (its shards move too); prefer dns+srv:');
  }
  const dialVia = options.dnsServer !== undefined && options.dialViaDnsServer ? parseDnsServer(options.dnsServer) : undefined;
  const systemLookup = useSystem ? (options.systemLookup ?? defaultSystemLookup) : undefined;
  return new DnsMembership(spec, parsed, resolver, { refreshMs, log: options.log, cancel, dialVia, systemLookup });
}

/** A membership over a fixed node list (never changes). */
export function staticMembership(nodes: readonly NodeEndpoint[]): Membership {
  return new StaticMembership(nodes);
}

/** A fixed list. */
class StaticMembership implements Membership {
  private readonly nodes: NodeEndpoint[];
  constructor(nodes: readonly NodeEndpoint[]) {
    this.nodes = sortById(nodes);
  }
  current(): NodeEndpoint[] {
    return copy(this.nodes);
  }
  onChange(): void {
    // a static list never changes
  }
  problem(): string {
    return '';
  }
  async start(): Promise<void> {}
  stop(): void {}
}

interface DnsMembershipConfig {
  refreshMs: number;
  /** Set for `dns:<name>` resolved by the system resolver. */
  systemLookup?: SystemLookup;
  log: Logger;
  /** Cancels in-flight queries of a resolver this module created. */
  cancel?: () => void;
  /** DNS server `ip:port` that SRV targets are dialled through (the `dnsServer` option). */
  dialVia?: string;
}

/** A list re-resolved from DNS every `refreshMs`. */
class DnsMembership implements Membership {
  private nodes: NodeEndpoint[] = [];
  private readonly listeners: Array<(nodes: NodeEndpoint[]) => void> = [];
  private state: 'new' | 'running' | 'stopped' = 'new';
  private timer: NodeJS.Timeout | undefined;
  private fault = '';

  constructor(
    private readonly spec: string,
    private readonly parsed: Exclude<MembershipSpec, { kind: 'static' }>,
    private readonly resolver: DnsResolverLike,
    private readonly config: DnsMembershipConfig,
  ) {}

  current(): NodeEndpoint[] {
    return copy(this.nodes);
  }

  onChange(listener: (nodes: NodeEndpoint[]) => void): void {
    this.listeners.push(listener);
  }

  problem(): string {
    return this.fault;
  }

  async start(): Promise<void> {
    if (this.state === 'stopped') throw new ReaderStateError(`membership ${this.spec} was stopped and cannot start again`);
    if (this.state === 'running') return;
    this.state = 'running';
    await this.refresh(true);
    this.schedule();
  }

  stop(): void {
    this.state = 'stopped';
    clearTimeout(this.timer);
    this.timer = undefined;
    this.config.cancel?.();
  }

  private schedule(): void {
    if (this.state !== 'running') return;
    this.timer = setTimeout(() => {
      void this.refresh(false).finally(() => this.schedule());
    }, this.config.refreshMs);
    this.timer.unref(); // the process's servers keep it alive, not this poll
  }

  private lookup(): Promise<NodeEndpoint[]> {
    const { log } = this.config;
    if (this.parsed.kind === 'srv') {
      return lookupSrvNodes(
        this.resolver,
        this.parsed.name,
        (id, kept, dropped) => log.warn({ spec: this.spec, id, kept, dropped }, 'membership: two SRV targets share a node id; keeping one'),
        this.config.dialVia,
      );
    }
    if (this.config.systemLookup !== undefined) return lookupSystemNodes(this.config.systemLookup, this.parsed.name, this.parsed.port);
    return lookupAddressNodes(this.resolver, this.parsed.name, this.parsed.port);
  }

  /** One resolution; applies the answer unless it failed or is a not-yet-confirmed empty list. */
  private async refresh(initial: boolean): Promise<void> {
    const { log } = this.config;
    let next: NodeEndpoint[];
    try {
      next = sortById(await this.lookup());
    } catch (err) {
      if (this.state === 'running') {
        this.fault = `${errorMessage(err)}; keeping the last good list of ${this.nodes.length} node(s)`;
        log.warn({ spec: this.spec, err: errorMessage(err), members: this.nodes.length }, 'membership: DNS lookup failed; keeping the last good list');
      }
      return;
    }
    if (this.state !== 'running') return;
    if (next.length === 0) {
      this.fault = `${this.spec} resolves to no node; keeping the last good list of ${this.nodes.length} node(s)`;
      log.warn({ spec: this.spec, members: this.nodes.length }, 'membership: the name resolves to no node; keeping the last good list');
      return;
    }
    if (this.fault !== '') log.info({ spec: this.spec, members: next.length }, 'membership: resolves again');
    this.fault = '';
    if (sameMembers(next, this.nodes)) return;
    const before = new Set(this.nodes.map((n) => n.id));
    const after = new Set(next.map((n) => n.id));
    log.info(
      {
        spec: this.spec,
        added: next.filter((n) => !before.has(n.id)).map((n) => n.id),
        removed: this.nodes.filter((n) => !after.has(n.id)).map((n) => n.id),
        members: next.length,
      },
      'membership changed',
    );
    this.nodes = next;
    if (initial) return;
    for (const listener of this.listeners) {
      try {
        listener(copy(next));
      } catch (err) {
        log.error({ spec: this.spec, err: errorMessage(err) }, 'membership: a change listener threw');
      }
    }
  }
}

/** `dns.promises.lookup(name, { all: true })`: the system resolver (getaddrinfo). */
function defaultSystemLookup(name: string): Promise<Array<{ address: string; family: number }>> {
  return lookup(name, { all: true });
}

function sortById(nodes: readonly NodeEndpoint[]): NodeEndpoint[] {
  return copy(nodes).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function copy(nodes: readonly NodeEndpoint[]): NodeEndpoint[] {
  return nodes.map((n) => ({ id: n.id, address: n.address }));
}

/** Whether two id-sorted lists hold the same (id, address) pairs. */
function sameMembers(a: readonly NodeEndpoint[], b: readonly NodeEndpoint[]): boolean {
  return a.length === b.length && a.every((n, i) => n.id === b[i].id && n.address === b[i].address);
}
