/**
 * The OpenTelemetry trace pipeline of one process: a NodeTracerProvider (AsyncLocalStorage
 * context, W3C trace-context + baggage propagators) batching spans to the OTLP/HTTP (JSON)
 * exporter, plus the gRPC instrumentation, which makes client and server spans and carries the
 * `traceparent` in gRPC metadata.
 *
 * Import this only through `otel-register.ts`, before `@grpc/grpc-js` is first imported: grpc-js
 * is imported from ESM here, and ESM imports are patched only through the import-in-the-middle
 * loader hook registered below (require-in-the-middle alone does not see them).
 *
 * Exporter settings come from the standard variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces`
 * is appended) or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is), `OTEL_EXPORTER_OTLP_HEADERS`,
 * `OTEL_BSP_*`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_LOG_LEVEL`.
 */
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { defaultResource, detectResources, envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { tracingServiceName, type TracingComponent, type TracingEnv } from './otel-config.ts';
import { setTracingShutdown, shutdownTracing, tracingStarted } from './tracing-shutdown.ts';

/** Options of {@link startTracing}. */
export interface StartTracingOptions {
  /** Names the service (`shardfleet-<component>`) unless `OTEL_SERVICE_NAME` is set. */
  component: TracingComponent;
  /** Defaults to `process.env`. */
  env?: TracingEnv;
}

/** gRPC methods left untraced: health probes would drown the useful spans. */
const UNTRACED_GRPC_METHODS = ['Check', 'Watch'];

/**
 * Registers import-in-the-middle's loader hook for `@grpc/grpc-js` only, resolved through
 * instrumentation-grpc's own dependency on `@opentelemetry/instrumentation`.
 */
function registerGrpcImportHook(): void {
  const grpcInstrumentationUrl = pathToFileURL(createRequire(import.meta.url).resolve('@opentelemetry/instrumentation-grpc'));
  register('@opentelemetry/instrumentation/hook.mjs', grpcInstrumentationUrl, { data: { include: ['@grpc/grpc-js'] } });
}

/** Sends OpenTelemetry's own diagnostics to the console at `OTEL_LOG_LEVEL` (when set). */
function setDiagLogger(env: TracingEnv): void {
  const name = env.OTEL_LOG_LEVEL?.trim().toUpperCase();
  if (!name || !(name in DiagLogLevel)) return;
  diag.setLogger(new DiagConsoleLogger(), { logLevel: DiagLogLevel[name as keyof typeof DiagLogLevel] });
}

function serviceResource(component: TracingComponent, env: TracingEnv): Resource {
  return defaultResource()
    .merge(resourceFromAttributes({ 'service.name': tracingServiceName(component, env), 'shardfleet.component': component }))
    .merge(detectResources({ detectors: [envDetector] }));
}

/**
 * Starts exporting traces from this process: registers the global tracer provider, propagator
 * and context manager, enables the gRPC instrumentation, and flushes on `beforeExit` (a process
 * that ends with `process.exit` must `await shutdownTracing()` first). A second call does nothing.
 */
export function startTracing(options: StartTracingOptions): void {
  if (tracingStarted()) return;
  const env = options.env ?? process.env;
  setDiagLogger(env);
  registerGrpcImportHook();
  const provider = new NodeTracerProvider({
    resource: serviceResource(options.component, env),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  const grpcInstrumentation = new GrpcInstrumentation({ ignoreGrpcMethods: UNTRACED_GRPC_METHODS });
  grpcInstrumentation.setTracerProvider(provider);
  setTracingShutdown(async () => {
    grpcInstrumentation.disable();
    await provider.shutdown();
  });
  process.once('beforeExit', () => void shutdownTracing());
}
