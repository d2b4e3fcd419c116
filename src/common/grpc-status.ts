/**
 * The one place where errors become gRPC statuses (service edge) and back (client side).
 */
import * as grpc from '@grpc/grpc-js';
import { boundDetails } from './bounded-text.ts';
import { ShardfleetError, errorMessage } from './errors.ts';

/** A gRPC error as passed to a unary callback. */
export type ServiceErrorLike = Partial<grpc.StatusObject> & { code: grpc.status; details: string; message: string };

/**
 * Maps any thrown value to a gRPC status error: a {@link ShardfleetError} keeps its `grpcCode`
 * and message; anything else becomes INTERNAL. The message is cut to
 * MAX_STATUS_DETAILS_BYTES (1 KiB) with `…(N more bytes)` (see bounded-text.ts).
 */
export function toServiceError(err: unknown): ServiceErrorLike {
  const code = err instanceof ShardfleetError ? (err.grpcCode as grpc.status) : grpc.status.INTERNAL;
  const details = boundDetails(errorMessage(err));
  return { code, details, message: details, metadata: new grpc.Metadata() };
}

/** True when `err` is a gRPC client error (has a numeric `code`). */
export function isGrpcError(err: unknown): err is grpc.ServiceError {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number';
}

/** Human-readable form of a gRPC client error: `UNAVAILABLE: details`. */
export function describeGrpcError(err: unknown): string {
  if (isGrpcError(err)) return `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`;
  return errorMessage(err);
}

/** Promise wrapper around a grpc-js unary client method. */
export function unaryCall<Req, Res>(
  call: (req: Req, metadata: grpc.Metadata, options: grpc.CallOptions, cb: grpc.requestCallback<Res>) => unknown,
  request: Req,
  options: grpc.CallOptions = {},
  metadata: grpc.Metadata = new grpc.Metadata(),
): Promise<Res> {
  return new Promise((resolve, reject) => {
    call(request, metadata, options, (err, res) => {
      if (err) reject(err);
      else if (res === undefined) reject(new Error('empty gRPC response'));
      else resolve(res);
    });
  });
}
