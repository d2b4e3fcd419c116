/**
 * Standard `grpc.health.v1` health checking: the server side (grpc-health-check) and a client that
 * waits for a server to report SERVING (used by `shardfleet local` and tests).
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation, protoPath } from 'grpc-health-check';

export { HealthImplementation };

interface HealthCheckResponse {
  status: string;
}
interface HealthClient extends grpc.Client {
  Check(
    req: { service: string },
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: HealthCheckResponse) => void,
  ): grpc.ClientUnaryCall;
}
type HealthClientCtor = new (address: string, creds: grpc.ChannelCredentials) => HealthClient;

let healthCtor: HealthClientCtor | undefined;
function healthClientCtor(): HealthClientCtor {
  if (!healthCtor) {
    const def = protoLoader.loadSync(protoPath, { keepCase: true, enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: HealthClientCtor } } } };
    healthCtor = pkg.grpc.health.v1.Health;
  }
  return healthCtor;
}

/**
 * Asks `address` for the health of `service` ('' = the whole server) once.
 * @returns the status name (`SERVING`, `NOT_SERVING`, `UNKNOWN`, `SERVICE_UNKNOWN`), or the gRPC
 *   error text when the server cannot be reached.
 */
export async function checkHealth(address: string, service = '', timeoutMs = 1000): Promise<string> {
  const Client = healthClientCtor();
  const client = new Client(address, grpc.credentials.createInsecure());
  try {
    return await new Promise<string>((resolve) => {
      client.Check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) => {
        resolve(err ? `error: ${err.details || err.message}` : (res?.status ?? 'UNKNOWN'));
      });
    });
  } finally {
    client.close();
  }
}

/**
 * Polls `address` every 100 ms until it reports SERVING (or, with `accept: 'any'`, until it answers
 * the health check at all, e.g. NOT_SERVING while it loads).
 * @param signal stops the polling early (the promise then rejects with the abort reason).
 * @throws Error naming the address and the last status after `timeoutMs`.
 */
export async function waitForServing(
  address: string,
  timeoutMs: number,
  service = '',
  accept: 'serving' | 'any' = 'serving',
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    last = await checkHealth(address, service);
    if (last === 'SERVING' || (accept === 'any' && !last.startsWith('error:'))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${address} did not become ${accept === 'any' ? 'reachable' : 'SERVING'} within ${timeoutMs} ms (last status: ${last})`);
}
