#!/usr/bin/env node
// The shardfleet CLI. Runs the TypeScript sources through tsx (a runtime dependency).
// When OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, OpenTelemetry
// tracing is started first, before @grpc/grpc-js is imported, so the gRPC instrumentation can
// patch it; otherwise no OpenTelemetry SDK module is loaded.
import { register } from 'tsx/esm/api';

register();
const { tracingEnabled } = await import('../src/common/telemetry/otel-config.ts');
if (tracingEnabled(process.env)) await import('../src/common/telemetry/otel-register.ts');
await import('../src/cli/main.ts');
