/**
 * Prometheus metrics for a reader process (prom-client): one registry per process with the
 * default Node.js process metrics, served as text over HTTP at `/metrics`, beside two probes for
 * load balancers and orchestrators that do not speak gRPC health:
 * - `/healthz` (liveness): 200 `ok` whenever the process's event loop answers HTTP;
 * - `/readyz` (readiness): 200 `ready: <detail>` when the process's {@link ReadinessCheck} says so,
 *   else 503 with the reason as text (at most {@link MAX_READYZ_BYTES} bytes).
 * Both do a fixed, small amount of work per request (no store or node call).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { boundDetails } from '../bounded-text.ts';
import { AddressInUseError, ConfigValidationError } from '../errors.ts';

/** Longest `/readyz` body, UTF-8 bytes (reasons are cut with a marker beyond it). */
export const MAX_READYZ_BYTES = 4096;

/** A process's readiness: ready or not, and a one-line reason / detail for the `/readyz` body. */
export interface Readiness {
  ready: boolean;
  /** Why not ready (or what is served when ready); plain text. */
  reason: string;
}

/**
 * Computes readiness from in-memory state only (called once per `/readyz` request; it must not
 * block or do I/O). A throw answers 503 with the error's message.
 */
export type ReadinessCheck = () => Readiness;

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

const TEXT = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };

/**
 * Serves `registry` at `http://<listen>/metrics`, and `/healthz` and `/readyz` (see the module
 * comment; without `readiness`, `/readyz` answers as `/healthz`). GET and HEAD only; any other
 * path is 404, any other method 405.
 * @param listen `host:port` (port 0 = any free port).
 * @throws ConfigValidationError for a malformed address; AddressInUseError when another socket
 *   holds it; the listen error otherwise.
 */
export async function startMetricsServer(registry: Registry, listen: string, readiness?: ReadinessCheck): Promise<MetricsServer> {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new ConfigValidationError(`metrics address must be host:port, got ${JSON.stringify(listen)}`);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') {
      res.writeHead(404, TEXT).end('not found; this port serves /metrics, /healthz and /readyz\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...TEXT, allow: 'GET, HEAD' }).end(`${req.method} not allowed; use GET\n`);
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, TEXT).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const r = readinessOf(readiness);
      res.writeHead(r.ready ? 200 : 503, TEXT).end(boundDetails(`${r.ready ? 'ready' : 'not ready'}: ${r.reason}`, MAX_READYZ_BYTES) + '\n');
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

/**
 * `check` computed at most once per `ttlMs` (later calls within it get the same answer), so a
 * flood of `/readyz` requests costs at most one computation per `ttlMs` whatever its rate.
 * @param now clock, ms (tests inject one).
 */
export function cachedReadiness(check: ReadinessCheck, ttlMs: number, now: () => number = Date.now): ReadinessCheck {
  let last: { at: number; value: Readiness } | undefined;
  return () => {
    const t = now();
    if (last === undefined || t - last.at >= ttlMs || t < last.at) last = { at: t, value: readinessOf(check) };
    return last.value;
  };
}

/** The check's answer; ready when there is no check; a throw is "not ready" with its message. */
function readinessOf(check: ReadinessCheck | undefined): Readiness {
  if (check === undefined) return { ready: true, reason: 'the process serves' };
  try {
    return check();
  } catch (err) {
    return { ready: false, reason: `readiness check failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}
