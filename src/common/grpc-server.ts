/**
 * Starting and stopping a grpc-js server with the standard health service (shared by the router
 * and the shard node).
 */
import * as grpc from '@grpc/grpc-js';
import { CHANNEL_OPTIONS } from './proto.ts';
import { HealthImplementation } from './health.ts';
import { ConfigValidationError } from './errors.ts';

/** A running gRPC server. */
export interface RunningServer {
  server: grpc.Server;
  health: HealthImplementation;
  /** The bound port (useful when listening on port 0). */
  port: number;
  /** `host:port` actually bound. */
  address: string;
}

/**
 * Binds `server` (with a health service added, every service NOT_SERVING) to `listen` (`host:port`,
 * port 0 picks a free one), insecure credentials.
 * @throws ConfigValidationError when `listen` is malformed; the bind error otherwise.
 */
export async function bindServer(server: grpc.Server, listen: string, serviceNames: string[]): Promise<RunningServer> {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new ConfigValidationError(`listen address "${listen}" must be host:port`);
  const health = new HealthImplementation(Object.fromEntries(['', ...serviceNames].map((s) => [s, 'NOT_SERVING' as const])));
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(listen, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { server, health, port, address: `${m[1]}:${port}` };
}

/** Creates a grpc-js server with shardfleet's message size limits. */
export function newServer(): grpc.Server {
  return new grpc.Server(CHANNEL_OPTIONS);
}

/**
 * Stops a server gracefully: stops accepting calls, lets in-flight calls finish for up to
 * `graceMs`, then cancels the rest.
 */
export async function shutdownServer(server: grpc.Server, graceMs = 5000): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Sets every listed service (and the server as a whole, '') to SERVING or NOT_SERVING. */
export function setServing(health: HealthImplementation, serviceNames: string[], serving: boolean): void {
  for (const s of ['', ...serviceNames]) health.setStatus(s, serving ? 'SERVING' : 'NOT_SERVING');
}
