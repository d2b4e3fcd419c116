/**
 * Client-side CLI commands (`search`, `info`, `get`, ...): a call that never reached the router
 * becomes one sentence naming the address and the flag, instead of grpc-js's
 * `UNAVAILABLE: No connection established. Last error: ... Resolution note: `.
 *
 * Only failures to connect are rewritten: grpc-js's pick-first "No connection established",
 * a DNS "Name resolution failed", and DEADLINE_EXCEEDED while still "Waiting for LB pick" (no
 * connection before the deadline). A status the router itself sent (e.g. UNAVAILABLE when too
 * few shards answered) passes through unchanged.
 */
import * as grpc from '@grpc/grpc-js';
import { GrpcCode, ShardfleetError } from '../common/errors.ts';
import { isGrpcError } from '../common/grpc-status.ts';

/** The router a client command names could not be reached (UNAVAILABLE). */
export class RouterUnreachableError extends ShardfleetError {
  readonly grpcCode = GrpcCode.UNAVAILABLE;
}

/**
 * Why a connection failed, in words, from grpc-js's details, or undefined when `details` does not
 * describe a connection failure. Recognised: ECONNREFUSED, ENOTFOUND / EAI_AGAIN / name
 * resolution, EHOSTUNREACH / ENETUNREACH, ETIMEDOUT, TLS failures; any other "No connection
 * established" keeps grpc-js's last error text with a hint about the address and TLS. Only details
 * that start with grpc-js's text count: a router's own status quoting a node's connection error
 * is not a failure to reach the router.
 */
export function connectFailureCause(code: number, details: string): string | undefined {
  // grpc-js's own texts start the details; a router's status may quote them further in (a node it
  // could not reach), and is not a failure to reach the router.
  if (code === grpc.status.DEADLINE_EXCEEDED) {
    return details.startsWith('Deadline exceeded after') && details.includes('Waiting for LB pick')
      ? 'no connection before the deadline (--timeout-ms); is the address right and the port open?'
      : undefined;
  }
  if (code !== grpc.status.UNAVAILABLE) return undefined;
  const nameFailed = details.startsWith('Name resolution failed');
  if (!/^(\w+: )?No connection established/.test(details) && !nameFailed) return undefined;
  if (/ECONNREFUSED/.test(details)) return 'connection refused; is it running?';
  if (nameFailed || /ENOTFOUND|EAI_AGAIN/.test(details)) return 'the host name does not resolve; is the address right?';
  if (/EHOSTUNREACH|ENETUNREACH/.test(details)) return 'no route to the host; is the address right?';
  if (/ETIMEDOUT/.test(details)) return 'connecting timed out; is the address right and the port open?';
  if (/certificate|SSL|TLS|handshake|self.signed/i.test(details)) return `TLS handshake failed (${lastError(details)}); check --tls-ca, --tls-cert / --tls-key and --tls-server-name, or drop the --tls flags for a plain-text router`;
  return `${lastError(details)}; is the address right, and does the router use TLS (the --tls flags) or not?`;
}

/** grpc-js's "Last error: ..." text, without the empty "Resolution note:". */
function lastError(details: string): string {
  const m = /Last error: (?:Error: )?(.*?)(?:\. Resolution note: .*)?$/s.exec(details);
  return (m ? m[1] : details).trim() || details;
}

/**
 * `err` rewritten as a {@link RouterUnreachableError} when it is a failure to connect to the
 * router at `address` (named by `flag`, default `--router`); any other value is returned as is.
 * Message: `cannot reach the router at 127.0.0.1:1 (--router): connection refused; is it running?`.
 */
export function explainRouterError(err: unknown, address: string, flag = '--router'): unknown {
  if (!isGrpcError(err)) return err;
  const cause = connectFailureCause(err.code, err.details || err.message);
  return cause === undefined ? err : new RouterUnreachableError(`cannot reach the router at ${address} (${flag}): ${cause}`, { cause: err });
}
