/**
 * Tracing spans through the OpenTelemetry API. Without a registered SDK (no
 * OTEL_EXPORTER_OTLP_ENDPOINT, see otel-register) the API is a no-op and this costs nothing.
 */
import { SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';

const tracer = trace.getTracer('shardfleet');

/**
 * Runs `fn` inside an active span named `name` (child of the current context, e.g. the gRPC
 * server span), records an exception and ERROR status when `fn` throws, and ends the span.
 */
export async function withSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err instanceof Error ? err : new Error(String(err)));
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}
