#!/usr/bin/env node
// The shardfleet CLI.
//
// It runs the compiled JavaScript in dist/ (`npm run build`; `npm ci` runs it through the
// `prepare` script, the Docker image builds it in its build stage). It falls back to running the
// TypeScript sources through tsx (a runtime dependency, 3-5 s of compiling per call) when dist/ is
// missing, or when a file under src/ is newer than dist/cli/main.js (a developer editing sources
// without rebuilding): the bin never runs compiled code older than the sources next to it. The
// fallback prints nothing; `npm run build` makes calls fast again.
//
// When OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, OpenTelemetry
// tracing is started first, before @grpc/grpc-js is imported, so the gRPC instrumentation can
// patch it; otherwise no OpenTelemetry SDK module is loaded.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const compiledEntry = new URL('dist/cli/main.js', root);

/** Newest modification time (ms) of the files under `dir`, 0 when it does not exist. */
function newestMtimeMs(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const mtime = statSync(`${entry.parentPath ?? entry.path}/${entry.name}`).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

/** True when dist/ holds a build at least as new as every file under src/. */
function compiledIsCurrent() {
  const entryPath = fileURLToPath(compiledEntry);
  if (!existsSync(entryPath)) return false;
  return newestMtimeMs(fileURLToPath(new URL('src', root))) <= statSync(entryPath).mtimeMs;
}

let base;
let ext;
if (compiledIsCurrent()) {
  base = new URL('dist/', root);
  ext = 'js';
} else {
  const { register } = await import('tsx/esm/api');
  register();
  base = new URL('src/', root);
  ext = 'ts';
}
const { tracingEnabled } = await import(new URL(`common/telemetry/otel-config.${ext}`, base).href);
if (tracingEnabled(process.env)) await import(new URL(`common/telemetry/otel-register.${ext}`, base).href);
await import(new URL(`cli/main.${ext}`, base).href);
