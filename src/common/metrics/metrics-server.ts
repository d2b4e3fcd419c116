/**
 * Prometheus metrics for a reader process (prom-client): one registry per process with the
 * default Node.js process metrics, served as text over HTTP at `/metrics`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { AddressInUseError, ConfigValidationError } from '../errors.ts';

/**
 * A registry with the default process metrics (`process_*`, `nodejs_*`) and a `component` label
 * (e.g. `router`, `shard-node`) on every series.
 */
export function createMetricsRegistry(component: string, labels: Record<string, string> = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component, ...labels });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** A running `/metrics` HTTP server. */
export interface MetricsServer {
  /** Bound `host:port`. */
  address: string;
  close(): Promise<void>;
}

/**
 * Serves `registry` at `http://<listen>/metrics` (any other path is 404).
 * @param listen `host:port` (port 0 = any free port).
 * @throws ConfigValidationError for a malformed address; AddressInUseError when another socket
 *   holds it; the listen error otherwise.
 */
export async function startMetricsServer(registry: Registry, listen: string): Promise<MetricsServer> {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new ConfigValidationError(`metrics address must be host:port, got ${JSON.stringify(listen)}`);
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end('not found; metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new AddressInUseError(listen, { cause: err }) : err));
    server.listen(Number(m[2]), m[1].replace(/^\[|\]$/g, ''), () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    address: `${m[1]}:${addr.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
