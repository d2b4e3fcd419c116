/**
 * Starts OpenTelemetry tracing when the environment asks for it (`OTEL_EXPORTER_OTLP_ENDPOINT`
 * or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), and does nothing otherwise: the SDK is imported only
 * when enabled. It must run before `@grpc/grpc-js` is imported, so it is loaded ahead of the CLI:
 * `bin/shardfleet.js` does it, or by hand
 * `node --import tsx --import ./src/common/telemetry/otel-register.ts src/cli/main.ts ...`.
 * The service name follows the CLI subcommand (see `componentFromArgs`).
 */
import { componentFromArgs, tracingEnabled } from './otel-config.ts';

if (tracingEnabled(process.env)) {
  const { startTracing } = await import('./otel-sdk.ts');
  startTracing({ component: componentFromArgs(process.argv.slice(2)) });
}
