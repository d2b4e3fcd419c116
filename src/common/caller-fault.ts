/**
 * Which failed calls are the caller's fault rather than the callee's: the request itself is
 * wrong (INVALID_ARGUMENT) or too large for the callee's bounds (RESOURCE_EXHAUSTED: an estimate
 * over `--max-response-bytes`, or gRPC's own "message larger than max"). Sending the same request
 * to another replica cannot succeed, so the router neither retries nor hedges it, and it says
 * nothing about the node's health (never counted for outlier ejection).
 */
import * as grpc from '@grpc/grpc-js';
import { isGrpcError } from './grpc-status.ts';

/** Status codes that mean "the request is at fault, not the node". */
const CALLER_FAULT_CODES: ReadonlySet<number> = new Set([grpc.status.INVALID_ARGUMENT, grpc.status.RESOURCE_EXHAUSTED]);

/** True when `err` is a gRPC error whose status says the request, not the node, is at fault. */
export function isCallerFault(err: unknown): boolean {
  return callerFaultCode(err) !== undefined;
}

/** The status code of `err` when it is a caller's-fault gRPC error (see {@link isCallerFault}), else undefined. */
export function callerFaultCode(err: unknown): number | undefined {
  return isGrpcError(err) && CALLER_FAULT_CODES.has(err.code) ? err.code : undefined;
}
