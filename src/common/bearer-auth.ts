/**
 * Optional bearer-token authentication of gRPC calls, shared by the router and the shard node:
 *
 * - server side ({@link bearerAuthInterceptor}, {@link checkBearer}): when a token is configured,
 *   every call must carry `authorization: Bearer <token>` metadata, or it fails with
 *   UNAUTHENTICATED. The router checks it on Router calls (`serve router --auth-token-file`), a
 *   shard node on ShardNode calls (`serve node --auth-token-file`);
 * - client side ({@link bearerTokenClientInterceptor}): the router sends its node token
 *   (`serve router --node-auth-token-file`) on every call to a node;
 * - {@link loadBearerToken}: the one token file format of every `*-auth-token-file` flag.
 *
 * The token is a shared secret, typically a Kubernetes Secret mounted as a file or passed as an
 * environment variable. Send it only over TLS: on an insecure channel it travels in clear text.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ConfigValidationError, GrpcCode, ShardfleetError, errorMessage } from './errors.ts';

/**
 * The call carries no valid bearer token (UNAUTHENTICATED, gRPC code 16).
 */
export class UnauthenticatedError extends ShardfleetError {
  readonly grpcCode = GrpcCode.UNAUTHENTICATED;
}

/** Method paths that never need a token: Kubernetes gRPC probes and `grpcurl list`. */
export const DEFAULT_AUTH_EXEMPT_PREFIXES: readonly string[] = ['/grpc.health.v1.Health/', '/grpc.reflection.'];

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
/** What a token may hold: one word of printable ASCII (it travels in an HTTP/2 header). */
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

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
  if (values.length === 0) {
    // HTTP/2 (nghttp2) silently drops a header value that starts or ends with a space or tab, so a
    // client sending a token with trailing whitespace arrives here without the header.
    throw new UnauthenticatedError('missing "authorization: Bearer <token>" metadata (a header value ending in a space or tab is dropped in transit)');
  }
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
 * Normalises a bearer token given in code or configuration: surrounding whitespace is removed
 * (HTTP/2 would drop a header value ending in a space, and the server would then report the
 * header as missing).
 * @param where what holds the token, for the error message (e.g. `file /etc/token`,
 *   `the bearerToken option`).
 * @returns the trimmed token.
 * @throws ConfigValidationError naming `where` when the token is empty or holds whitespace or
 *   non-printable characters inside it.
 */
export function normalizeBearerToken(raw: string, where: string): string {
  const token = raw.trim();
  if (token.length === 0) throw new ConfigValidationError(`bearer token ${where} is empty`);
  if (!TOKEN_CHARS.test(token)) {
    throw new ConfigValidationError(`bearer token ${where} must be one line of printable ASCII without spaces`);
  }
  return token;
}

/**
 * Loads a bearer token (the format of `--auth-token-file` on routers and nodes and of
 * `--node-auth-token-file` on routers).
 * @param source a file path (e.g. a Kubernetes Secret mount; content trimmed), or `env:NAME` to
 *   read environment variable NAME (trimmed); undefined = authentication disabled.
 * @param env environment used for `env:NAME` (default `process.env`).
 * @param flag the flag `source` came from, named in error messages (e.g. `--auth-token-file`).
 * @returns the token, or undefined when `source` is undefined or empty.
 * @throws ConfigValidationError naming the flag and the file or variable when it is missing,
 *   unreadable, empty, or holds whitespace or non-printable characters inside the token.
 */
export function loadBearerToken(source: string | undefined, env: NodeJS.ProcessEnv = process.env, flag?: string): string | undefined {
  if (source === undefined || source === '') return undefined;
  const of = flag === undefined ? '' : ` (${flag})`;
  let raw: string;
  let where: string;
  if (source.startsWith('env:')) {
    const name = source.slice(4);
    where = `environment variable ${name}${of}`;
    const v = env[name];
    if (v === undefined) throw new ConfigValidationError(`bearer token ${where} is not set`);
    raw = v;
  } else {
    where = `file ${source}${of}`;
    try {
      raw = readFileSync(source, 'utf8');
    } catch (err) {
      throw new ConfigValidationError(`cannot read bearer token file ${source}${of}: ${errorMessage(err)}`, { cause: err });
    }
  }
  return normalizeBearerToken(raw, where);
}

/**
 * A client interceptor that sends `authorization: Bearer <token>` on every call of the channel
 * (replacing any `authorization` the caller set). Pass it in the client's options
 * (`new Client(address, credentials, { interceptors: [...] })`).
 * @param token the token (as returned by {@link loadBearerToken}); surrounding whitespace is removed.
 * @param where what holds the token, for the error message (default `given to the client`).
 * @throws ConfigValidationError when the token is empty or not one word of printable ASCII.
 */
export function bearerTokenClientInterceptor(token: string, where = 'given to the client'): grpc.Interceptor {
  const value = `Bearer ${normalizeBearerToken(token, where)}`;
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set('authorization', value);
        next(metadata, listener);
      },
    });
}
