/**
 * Starting and stopping a grpc-js server with the standard health service and server reflection
 * (shared by the router and the shard node), with message size limits and optional TLS.
 */
import type * as http2 from 'node:http2';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { LEAN_CALL_OPTIONS, MAX_MESSAGE_BYTES, PROTO_DIR, SERVICE_PROTO_FILES, loadServicesPackageDefinition } from './proto.ts';
import { buildFileDescriptorProtos, type EncodedFileDescriptor } from './proto-descriptors.ts';
import { HealthImplementation } from './health.ts';
import { AddressInUseError, ConfigValidationError, ShardfleetError, errorMessage } from './errors.ts';
import { boundDetails } from './bounded-text.ts';
import { MalformedRequestError, RequestPrescanner, type WireLimits } from './message-prescan.ts';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, closeStalledHandshakes } from './handshake-timeout.ts';

/** Fully-qualified name of the standard health service every shardfleet server exposes. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

/** A running gRPC server. */
export interface RunningServer {
  server: grpc.Server;
  health: HealthImplementation;
  /** The bound port (useful when listening on port 0). */
  port: number;
  /** `host:port` actually bound. */
  address: string;
}

/** Default most concurrent calls (HTTP/2 streams) per client connection. */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 1000;
/** Default time a connection without calls stays open before the server closes it (GOAWAY), ms (5 min). */
export const DEFAULT_MAX_CONNECTION_IDLE_MS = 300_000;
/** Interval of the server's keepalive PINGs on each connection, ms: a dead peer's connection is closed. */
export const KEEPALIVE_TIME_MS = 60_000;
/** How long the server waits for a keepalive PING's answer before closing the connection, ms. */
export const KEEPALIVE_TIMEOUT_MS = 20_000;

/** HTTP/2 connection limits of a server (CLI: --max-concurrent-streams, --max-connection-idle-ms, --handshake-timeout-ms). */
export interface Http2Limits {
  /**
   * Most concurrent calls (HTTP/2 streams) per client connection (default
   * {@link DEFAULT_MAX_CONCURRENT_STREAMS}); a client's further calls wait for a free stream.
   */
  maxConcurrentStreams?: number;
  /** A connection with no call for this long is closed with GOAWAY, ms (default 300,000; 0 = never). */
  maxConnectionIdleMs?: number;
  /**
   * A new connection that has not completed TLS and sent the HTTP/2 client preface within this
   * is closed, ms (default {@link DEFAULT_HANDSHAKE_TIMEOUT_MS}, 10,000; 0 = no limit).
   */
  handshakeTimeoutMs?: number;
}

/** Options of {@link newServer}. */
export interface NewServerOptions {
  /**
   * Largest request message accepted, bytes (default {@link MAX_MESSAGE_BYTES}, 64 MiB). A larger
   * message fails with RESOURCE_EXHAUSTED before any handler runs.
   */
  maxReceiveMessageBytes?: number;
  /** Largest response message sent, bytes (default {@link MAX_MESSAGE_BYTES}). */
  maxSendMessageBytes?: number;
  /**
   * Server interceptors, run in order before every handler (e.g. `bearerAuthInterceptor` from
   * `src/common/bearer-auth.ts`). They also see health and reflection calls.
   */
  interceptors?: grpc.ServerInterceptor[];
  /**
   * Limits checked on every request message of shardfleet's services BEFORE it is decoded
   * (repeated-field counts, per-method byte sizes; see message-prescan.ts and wire-limits.ts):
   * a request over one fails with INVALID_ARGUMENT (counts) or RESOURCE_EXHAUSTED (bytes) naming
   * the field or method, the limit and what raises it. Unset: no pre-scan.
   */
  wireLimits?: WireLimits;
  /** HTTP/2 connection limits (defaults in {@link Http2Limits}). */
  http2?: Http2Limits;
}

/** Options of {@link bindServer}. */
export interface BindOptions {
  /** Transport credentials (default insecure); see `serverCredentials` in `grpc-security.ts`. */
  credentials?: grpc.ServerCredentials;
  /**
   * Register server reflection (`grpc.reflection.v1` and `v1alpha`) describing `serviceNames`
   * and the health service, so `grpcurl list` works (default true).
   */
  reflection?: boolean;
}

function nonNegativeInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 0) throw new ConfigValidationError(`${name} must be a non-negative integer, got ${v}`);
  return v;
}

function positiveBytes(name: string, value: number | undefined): number {
  const v = value ?? MAX_MESSAGE_BYTES;
  if (!Number.isSafeInteger(v) || v <= 0) {
    throw new ConfigValidationError(`${name} must be a positive integer number of bytes, got ${v}`);
  }
  return v;
}

/**
 * Binds `server` (with a health service added, every service NOT_SERVING, and server reflection)
 * to `listen` (`host:port`, port 0 picks a free one). Credentials default to insecure.
 * Call once per server: the health and reflection services cannot be added twice.
 * @param serviceNames fully-qualified names of the services the caller added
 *   (e.g. `shardfleet.v1.Router`); they get a health status and are listed by reflection.
 * @throws ConfigValidationError when `listen` is malformed; AddressInUseError when another socket
 *   holds it; the bind error otherwise.
 */
export async function bindServer(
  server: grpc.Server,
  listen: string,
  serviceNames: string[],
  options: BindOptions = {},
): Promise<RunningServer> {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new ConfigValidationError(`listen address "${listen}" must be host:port`);
  const health = new HealthImplementation(Object.fromEntries(['', ...serviceNames].map((s) => [s, 'NOT_SERVING' as const])));
  health.addToServer(server);
  if (options.reflection ?? true) reflectionService(serviceNames).addToServer(server);
  const credentials = options.credentials ?? grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(listen, credentials, (err, p) => {
      if (!err) resolve(p);
      // grpc-js folds the per-address listen errors into the message text; it keeps no error code.
      else reject(/\bEADDRINUSE\b/.test(err.message) ? new AddressInUseError(listen, { cause: err }) : err);
    });
  });
  return { server, health, port, address: `${m[1]}:${port}` };
}

let reflectedDefinition: protoLoader.PackageDefinition | undefined;
let reflectedFiles: EncodedFileDescriptor[] | undefined;

/**
 * The descriptors server reflection serves: `shardfleet/v1/common.proto`, `router.proto`,
 * `shard_node.proto` and `grpc/health/v1/health.proto`, each under its own name and as protoc
 * writes it (see `proto-descriptors.ts`), dependencies first. Built once.
 * @throws Error when a .proto file cannot be read or parsed.
 */
export function reflectedFileDescriptors(): readonly EncodedFileDescriptor[] {
  reflectedFiles ??= buildFileDescriptorProtos(
    [
      ...SERVICE_PROTO_FILES.map((name) => ({ name, path: join(PROTO_DIR, name) })),
      { name: 'grpc/health/v1/health.proto', path: healthProtoPath },
    ],
    [PROTO_DIR],
  );
  return reflectedFiles;
}

/** A message or enum definition (these carry `fileDescriptorProtos`; a service definition does not). */
function isTypeDefinition(def: protoLoader.AnyDefinition): def is protoLoader.MessageTypeDefinition<object, object> | protoLoader.EnumTypeDefinition {
  return typeof def.format === 'string';
}

/**
 * A reflection service describing `serviceNames` (those found in shardfleet's protos) and the
 * standard health service: the router lists `shardfleet.v1.Router`, a node `shardfleet.v1.ShardNode`.
 *
 * @grpc/reflection reads the file descriptors off the package definition it is given; those
 * proto-loader makes are unusable by protobuf's own descriptor pools (all files of a package merged
 * into one, map entry types misnamed), so every entry's `fileDescriptorProtos` is replaced by
 * {@link reflectedFileDescriptors}.
 */
export function reflectionService(serviceNames: readonly string[]): ReflectionService {
  if (!reflectedDefinition) {
    const loaded: protoLoader.PackageDefinition = {
      ...loadServicesPackageDefinition(),
      ...protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true }),
    };
    const files = reflectedFileDescriptors().map((f) => f.bytes);
    const replaced: protoLoader.PackageDefinition = {};
    for (const [name, def] of Object.entries(loaded)) {
      replaced[name] = isTypeDefinition(def) ? { ...def, fileDescriptorProtos: files } : def;
    }
    reflectedDefinition = replaced;
  }
  return new ReflectionService(reflectedDefinition, { services: [...serviceNames, HEALTH_SERVICE] });
}

/**
 * What a wrapped request deserializer returns instead of throwing when the request bytes are
 * refused by the pre-scan or do not decode: grpc-js answers a throwing deserializer with INTERNAL
 * ("Error deserializing request"), a server fault, when the client's bytes are at fault.
 */
class UndecodableRequest {
  constructor(readonly status: Partial<grpc.StatusObject> & { code: grpc.status; details: string }) {}
}

/** The status of request bytes of method `path` that the pre-scan refused or the decoder threw on. */
function refusedRequest(path: string, err: unknown): UndecodableRequest {
  // A pre-scan limit names its field or method itself; bytes that do not decode need the context.
  if (err instanceof ShardfleetError && !(err instanceof MalformedRequestError)) return new UndecodableRequest({ code: err.grpcCode as grpc.status, details: boundDetails(err.message) });
  return new UndecodableRequest({ code: grpc.status.INVALID_ARGUMENT, details: boundDetails(`cannot decode the request message of ${path}: ${errorMessage(err)}`) });
}

/**
 * A status error passed to a unary callback with its message cut to 1 KiB (bounded-text.ts): a
 * long `grpc-message` trailer broke the HTTP/2 session and every call in flight on it.
 */
function boundedError(err: grpc.ServerErrorResponse | Partial<grpc.StatusObject>): grpc.ServerErrorResponse | Partial<grpc.StatusObject> {
  // What grpc-js sends: `details` when the error has a numeric code, else the Error's message.
  const hasCode = typeof err.code === 'number';
  const details = hasCode && typeof err.details === 'string' ? err.details : err instanceof Error ? err.message : undefined;
  if (details === undefined) return err;
  const bounded = boundDetails(details);
  if (bounded === details) return err;
  return { code: hasCode ? err.code : grpc.status.UNKNOWN, details: bounded, metadata: err.metadata ?? new grpc.Metadata() };
}

/**
 * A grpc-js server whose unary and server-streaming methods (every Router, ShardNode and health
 * method) check a request message against the server's request limits before decoding it
 * (message-prescan.ts) and answer one that does not decode with INVALID_ARGUMENT naming the
 * method and the decoder's reason, before the handler runs. Every unary error status's message
 * is cut to 1 KiB. Client- and bidi-streaming methods (server reflection) keep grpc-js's INTERNAL.
 */
class ShardfleetServer extends grpc.Server {
  private readonly prescanner: RequestPrescanner | undefined;

  constructor(options: grpc.ServerOptions, wireLimits: WireLimits | undefined, handshakeTimeoutMs: number) {
    super(options);
    this.prescanner = wireLimits ? new RequestPrescanner(wireLimits) : undefined;
    if (handshakeTimeoutMs > 0) {
      // grpc-js creates one Node HTTP/2 server per bound address in createHttp2Server (a private
      // method, hence the cast) and offers no hook for its sockets; wrap it.
      const self = this as unknown as { createHttp2Server?: (credentials: grpc.ServerCredentials) => http2.Http2Server };
      const create = self.createHttp2Server;
      if (typeof create !== 'function') throw new Error('@grpc/grpc-js has no Server.createHttp2Server: the HTTP/2 handshake timeout cannot be installed');
      self.createHttp2Server = (credentials: grpc.ServerCredentials): http2.Http2Server => {
        const server = create.call(this, credentials);
        closeStalledHandshakes(server, handshakeTimeoutMs);
        return server;
      };
    }
  }

  override addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
    const definition: Record<string, grpc.MethodDefinition<object, object>> = {};
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(service)) {
      const found = implementation[name] ?? (typeof method.originalName === 'string' ? implementation[method.originalName] : undefined);
      if (method.requestStream) {
        definition[name] = method;
        if (found !== undefined) handlers[name] = found.bind(implementation);
        continue;
      }
      const deserialize = method.requestDeserialize;
      const check = this.prescanner?.forMethod(method.path);
      definition[name] = {
        ...method,
        requestDeserialize: (bytes: Buffer): object => {
          try {
            check?.(bytes);
            return deserialize(bytes);
          } catch (err) {
            return refusedRequest(method.path, err);
          }
        },
      };
      if (found === undefined) continue;
      if (method.responseStream) {
        const handler = found as grpc.handleServerStreamingCall<unknown, unknown>;
        handlers[name] = (call: grpc.ServerWritableStream<unknown, unknown>): void => {
          if (call.request instanceof UndecodableRequest) call.emit('error', call.request.status);
          else handler.call(implementation, call);
        };
      } else {
        const handler = found as grpc.handleUnaryCall<unknown, unknown>;
        handlers[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>): void => {
          if (call.request instanceof UndecodableRequest) callback(call.request.status);
          else handler.call(implementation, call, (err, value, trailer, flags) => (err ? callback(boundedError(err), value, trailer, flags) : callback(err, value, trailer, flags)));
        };
      }
    }
    super.addService(definition, handlers);
  }
}

/**
 * Creates a grpc-js server with shardfleet's message size limits (64 MiB each way unless
 * configured), request limits checked before decoding (when given), HTTP/2 limits (streams per
 * connection, idle connections, keepalive, a handshake timeout; see {@link Http2Limits}) and
 * optional interceptors. A unary or server-streaming call whose request message does not decode
 * fails with INVALID_ARGUMENT (grpc-js alone answers INTERNAL).
 * @throws ConfigValidationError when a size limit is not a positive integer or an HTTP/2 limit
 *   is negative (or max concurrent streams 0).
 */
export function newServer(options: NewServerOptions = {}): grpc.Server {
  const h = options.http2 ?? {};
  const streams = nonNegativeInt('--max-concurrent-streams', h.maxConcurrentStreams, DEFAULT_MAX_CONCURRENT_STREAMS);
  if (streams < 1) throw new ConfigValidationError('--max-concurrent-streams must be at least 1, got 0');
  const idleMs = nonNegativeInt('--max-connection-idle-ms', h.maxConnectionIdleMs, DEFAULT_MAX_CONNECTION_IDLE_MS);
  const handshakeMs = nonNegativeInt('--handshake-timeout-ms', h.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS);
  return new ShardfleetServer(
    {
      'grpc.max_receive_message_length': positiveBytes('max receive message size', options.maxReceiveMessageBytes),
      'grpc.max_send_message_length': positiveBytes('max send message size', options.maxSendMessageBytes),
      'grpc.max_concurrent_streams': streams,
      ...(idleMs > 0 ? { 'grpc.max_connection_idle_ms': idleMs } : {}),
      'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
      ...LEAN_CALL_OPTIONS,
      ...(options.interceptors ? { interceptors: options.interceptors } : {}),
    },
    options.wireLimits,
    handshakeMs,
  );
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
