/**
 * Optional bearer-token authentication at the router: when a token is configured, every call
 * must carry `authorization: Bearer <token>` metadata, or it fails with UNAUTHENTICATED.
 *
 * The token is a shared secret, typically a Kubernetes Secret mounted as a file. Send it only
 * over TLS: on an insecure channel it travels in clear text.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ConfigValidationError, GrpcCode, ShardfleetError, errorMessage } from '../common/errors.ts';

/**
 * The call carries no valid bearer token (UNAUTHENTICATED, gRPC code 16).
 */
export class UnauthenticatedError extends ShardfleetError {
  readonly grpcCode = GrpcCode.UNAUTHENTICATED;
}

/** Method paths that never need a token: Kubernetes gRPC probes and `grpcurl list`. */
export const DEFAULT_AUTH_EXEMPT_PREFIXES: readonly string[] = ['/grpc.health.v1.Health/', '/grpc.reflection.'];

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

function digest(s: string | Buffer): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Checks the `authorization` metadata of a call against the configured token.
 * Comparison is constant-time: both sides are hashed with SHA-256 to equal-length buffers and
 * compared with `crypto.timingSafeEqual`, so neither the content nor the length leaks.
 * @param expectedToken the configured token; undefined disables authentication (no-op).
 *   An empty string fails closed (every call refused).
 * @throws UnauthenticatedError when the header is missing, repeated, not `Bearer <token>`, or
 *   the token is wrong (the message never echoes the token).
 */
export function checkBearer(metadata: grpc.Metadata, expectedToken: string | undefined): void {
  if (expectedToken === undefined) return;
  if (expectedToken.length === 0) throw new UnauthenticatedError('the server has an empty bearer token configured; refusing every call');
  const values = metadata.get('authorization');
  if (values.length === 0) throw new UnauthenticatedError('missing "authorization: Bearer <token>" metadata');
  if (values.length > 1) throw new UnauthenticatedError('more than one "authorization" metadata value');
  const header = values[0];
  const m = BEARER.exec(typeof header === 'string' ? header : header.toString('utf8'));
  if (!m) throw new UnauthenticatedError('"authorization" metadata is not of the form "Bearer <token>"');
  if (!timingSafeEqual(digest(m[1]), digest(expectedToken))) throw new UnauthenticatedError('invalid bearer token');
}

/**
 * A server interceptor refusing calls without the right bearer token (see {@link checkBearer})
 * before the handler runs. Pass it to `newServer({ interceptors: [...] })`.
 * @param expectedToken the configured token; undefined lets every call through.
 * @param exemptPrefixes method paths (`/package.Service/Method`) starting with one of these are not
 *   checked (default: the health and reflection services, so probes and grpcurl work).
 */
export function bearerAuthInterceptor(
  expectedToken: string | undefined,
  exemptPrefixes: readonly string[] = DEFAULT_AUTH_EXEMPT_PREFIXES,
): grpc.ServerInterceptor {
  return (methodDescriptor, call) => {
    if (expectedToken === undefined || exemptPrefixes.some((p) => methodDescriptor.path.startsWith(p))) {
      return new grpc.ServerInterceptingCall(call);
    }
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        try {
          checkBearer(metadata, expectedToken);
        } catch (err) {
          call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: errorMessage(err) });
          return;
        }
        next(metadata);
      })
      .build();
    const responder = new grpc.ResponderBuilder().withStart((next) => next(listener)).build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}

/**
 * Loads the router's bearer token.
 * @param source a file path (e.g. a Kubernetes Secret mount; content trimmed), or `env:NAME` to
 *   read environment variable NAME; undefined = authentication disabled.
 * @param env environment used for `env:NAME` (default `process.env`).
 * @returns the token, or undefined when `source` is undefined or empty.
 * @throws ConfigValidationError naming the file or variable when it is missing, unreadable, empty,
 *   or holds whitespace or non-printable characters inside the token.
 */
export function loadBearerToken(source: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (source === undefined || source === '') return undefined;
  let raw: string;
  let where: string;
  if (source.startsWith('env:')) {
    const name = source.slice(4);
    where = `environment variable ${name}`;
    const v = env[name];
    if (v === undefined) throw new ConfigValidationError(`bearer token ${where} is not set`);
    raw = v;
  } else {
    where = `file ${source}`;
    try {
      raw = readFileSync(source, 'utf8');
    } catch (err) {
      throw new ConfigValidationError(`cannot read bearer token file ${source}: ${errorMessage(err)}`, { cause: err });
    }
  }
  const token = raw.trim();
  if (token.length === 0) throw new ConfigValidationError(`bearer token ${where} is empty`);
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new ConfigValidationError(`bearer token ${where} must be one line of printable ASCII without spaces`);
  }
  return token;
}
