/**
 * Checks and derivations of `shardfleet local`'s flags that do not start anything: the cluster's
 * shape (`--num-nodes`, `--replication`) and one `/metrics` address per process
 * (`--metrics-listen`).
 */
import { ConfigValidationError } from '../common/errors.ts';

/**
 * Checks the cluster's shape before anything starts.
 * @param numNodes `--num-nodes`.
 * @param replication `--replication` (R).
 * @throws ConfigValidationError naming `--num-nodes` when it is below 1, `--replication` when it
 *   is below 1, and both when R exceeds the node count (a shard's R replicas live on R distinct
 *   nodes, so R > nodes could never be reached and the cluster would stay under-replicated).
 */
export function checkLocalLayout(numNodes: number, replication: number): void {
  if (!Number.isInteger(numNodes) || numNodes < 1) throw new ConfigValidationError(`--num-nodes must be at least 1 (got ${numNodes}): the cluster needs a shard node to serve`);
  if (!Number.isInteger(replication) || replication < 1) throw new ConfigValidationError(`--replication must be at least 1 (got ${replication})`);
  if (replication > numNodes) {
    throw new ConfigValidationError(
      `--replication ${replication} is more than --num-nodes ${numNodes}: each shard's replicas live on distinct nodes; give --num-nodes ${replication} or more, or a smaller --replication`,
    );
  }
}

/** A parsed `--metrics-listen`: a free port per process, or consecutive ports from `basePort`. */
export type MetricsListenSpec = { host: string; auto: true } | { host: string; auto: false; basePort: number };

/** Host of the `/metrics` servers when `--metrics-listen` names none. */
const DEFAULT_METRICS_HOST = '127.0.0.1';

/**
 * Parses `--metrics-listen`: `auto`, `<port>`, `<host>:auto` or `<host>:<port>` (IPv6 hosts in
 * brackets). A port is the base: the router gets it, node-i gets base + 1 + i.
 * @throws ConfigValidationError naming `--metrics-listen` for anything else, or a base port that
 *   is 0 or above 65535.
 */
export function parseMetricsListen(value: string): MetricsListenSpec {
  const v = value.trim();
  const m = /^(?:(.+):)?(auto|\d+)$/.exec(v);
  if (!m) throw new ConfigValidationError(`--metrics-listen must be auto, <port> or <host>:<port|auto> (a base port: router on it, node-i on port+1+i), got ${JSON.stringify(value)}`);
  const host = m[1] ?? DEFAULT_METRICS_HOST;
  if (m[2] === 'auto') return { host, auto: true };
  const basePort = Number(m[2]);
  if (basePort < 1 || basePort > 65535) throw new ConfigValidationError(`--metrics-listen port must be in 1..65535, got ${m[2]}`);
  return { host, auto: false, basePort };
}

/**
 * One `host:port` per process name, in the order given (router first, then the nodes).
 * @param pickPort gives a free port (for `auto`).
 * @throws ConfigValidationError naming `--metrics-listen` when base + count - 1 exceeds 65535.
 */
export async function metricsAddresses(spec: MetricsListenSpec, names: readonly string[], pickPort: () => Promise<number>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!spec.auto && spec.basePort + names.length - 1 > 65535) {
    throw new ConfigValidationError(`--metrics-listen ${spec.basePort} leaves no room for ${names.length} ports (one per process) below 65536`);
  }
  for (let i = 0; i < names.length; i++) {
    const port = spec.auto ? await pickPort() : spec.basePort + i;
    out.set(names[i], `${spec.host}:${port}`);
  }
  return out;
}
