/**
 * DNS lookups that turn a membership spec into shard-node endpoints.
 *
 * An answer with no records (NXDOMAIN / NODATA — e.g. a headless service with no ready pod) is a
 * valid empty answer. Any other failure (SERVFAIL, timeout, refused) is thrown as a
 * {@link DnsLookupError}, so the caller can keep its last good list.
 */
import type { SrvRecord } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { StorageError } from '../errors.ts';
import type { NodeEndpoint } from '../node-list.ts';

/** The subset of `node:dns/promises` Resolver used here (inject a fake or a configured one). */
export interface DnsResolverLike {
  resolveSrv(hostname: string): Promise<SrvRecord[]>;
  resolve4(hostname: string): Promise<string[]>;
  resolve6(hostname: string): Promise<string[]>;
}

/** A DNS lookup failed for a reason other than "no such records" (maps to UNAVAILABLE). */
export class DnsLookupError extends StorageError {}

/** Error codes meaning "the name or record type does not exist": an empty, valid answer. */
const EMPTY_ANSWER_CODES = new Set(['ENODATA', 'ENOTFOUND']);

/** Options of {@link createDnsResolver}. */
export interface DnsResolverOptions {
  /** DNS server `ip:port` (already validated); default: the system's servers. */
  server?: string;
  /** Timeout of one query attempt, ms. Default 2000. */
  timeoutMs?: number;
  /** Attempts per server. Default 2. */
  tries?: number;
}

/** Creates a `node:dns/promises` Resolver, optionally pointed at one server. */
export function createDnsResolver(options: DnsResolverOptions = {}): Resolver {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
  if (options.server !== undefined) resolver.setServers([options.server]);
  return resolver;
}

/**
 * Nodes from the SRV records of `name`: id = first label of the target (the pod name), address =
 * `<target>:<port>`, or `dns://<dialVia>/<target>:<port>` when `dialVia` (a DNS server `ip:port`)
 * is given, so that gRPC resolves the target through the same server (grpc-js honours that
 * authority when GRPC_NODE_USE_ALTERNATIVE_RESOLVER=true). When two targets share a first label,
 * the lexicographically smallest address wins and `onConflict` is told.
 * @throws DnsLookupError on a failed lookup.
 */
export async function lookupSrvNodes(
  resolver: DnsResolverLike,
  name: string,
  onConflict?: (id: string, kept: string, dropped: string) => void,
  dialVia?: string,
): Promise<NodeEndpoint[]> {
  const records = await emptyOnNoData(() => resolver.resolveSrv(name), name, 'SRV');
  const candidates = records
    .map((record) => {
      const target = record.name.endsWith('.') ? record.name.slice(0, -1) : record.name;
      const address = dialVia === undefined ? `${target}:${record.port}` : `dns://${dialVia}/${target}:${record.port}`;
      return { id: target.split('.')[0], address, target };
    })
    .filter((c) => c.target.length > 0) // a "." target means "no service here"
    .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  const byId = new Map<string, string>();
  for (const { id, address } of candidates) {
    const kept = byId.get(id);
    if (kept === undefined) byId.set(id, address);
    else if (kept !== address) onConflict?.(id, kept, address);
  }
  return [...byId].map(([id, address]) => ({ id, address }));
}

/**
 * Nodes from the A and AAAA records of `name`: id = address = `<ip>:<port>` (`[ip6]:port`).
 * @throws DnsLookupError on a failed lookup.
 */
export async function lookupAddressNodes(resolver: DnsResolverLike, name: string, port: number): Promise<NodeEndpoint[]> {
  const [v4, v6] = await Promise.all([
    emptyOnNoData(() => resolver.resolve4(name), name, 'A'),
    emptyOnNoData(() => resolver.resolve6(name), name, 'AAAA'),
  ]);
  const addresses = new Set([...v4.map((ip) => `${ip}:${port}`), ...v6.map((ip) => `[${ip}]:${port}`)]);
  return [...addresses].map((address) => ({ id: address, address }));
}

/** The system resolver's `lookup(name, { all: true })` (getaddrinfo: /etc/hosts, then DNS). */
export type SystemLookup = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

/**
 * Nodes from the system resolver's addresses of `name` (as {@link lookupAddressNodes}: id =
 * address = `<ip>:<port>` or `[ip6]:<port>`, deduplicated). "No such name" (ENOTFOUND, ENODATA)
 * is an empty answer.
 * @throws DnsLookupError on any other failure.
 */
export async function lookupSystemNodes(lookup: SystemLookup, name: string, port: number): Promise<NodeEndpoint[]> {
  const answers = await emptyOnNoData(() => lookup(name), name, 'address');
  const addresses = new Set(answers.map((a) => (a.family === 6 ? `[${a.address}]:${port}` : `${a.address}:${port}`)));
  return [...addresses].sort().map((address) => ({ id: address, address }));
}

async function emptyOnNoData<T>(lookup: () => Promise<T[]>, name: string, type: string): Promise<T[]> {
  try {
    return await lookup();
  } catch (err) {
    const code = errorCode(err);
    if (code !== undefined && EMPTY_ANSWER_CODES.has(code)) return [];
    const reason = err instanceof Error ? err.message : String(err);
    throw new DnsLookupError(`DNS ${type} lookup of ${name} failed: ${reason}`, { cause: err });
  }
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
