/**
 * Whether and how this process exports OpenTelemetry traces, decided from the environment and the
 * CLI arguments alone. This module imports nothing from OpenTelemetry, so the decision costs
 * nothing when tracing is off.
 */

/** The process roles that name a service (`shardfleet-<component>`). */
export type TracingComponent = 'router' | 'shard-node' | 'writer' | 'cli';

/** The environment variables read here (a subset of `process.env`). */
export type TracingEnv = Readonly<Record<string, string | undefined>>;

/**
 * URL of the module that starts tracing; load it with `node --import` (after tsx when running the
 * sources). Compiled (this module is `.js` under dist/), it is the compiled `otel-register.js`.
 */
export const OTEL_REGISTER_URL = new URL(import.meta.url.endsWith('.ts') ? './otel-register.ts' : './otel-register.js', import.meta.url).href;

const WRITER_COMMANDS = new Set(['build', 'publish', 'cleanup', 'rollback', 'history']);

function isSet(value: string | undefined): boolean {
  return value !== undefined && value.trim() !== '';
}

/**
 * True when traces should be exported: `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, and neither `OTEL_SDK_DISABLED=true` nor
 * `OTEL_TRACES_EXPORTER=none` turns it off.
 */
export function tracingEnabled(env: TracingEnv = process.env): boolean {
  if (!isSet(env.OTEL_EXPORTER_OTLP_ENDPOINT) && !isSet(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) return false;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  return env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() !== 'none';
}

/**
 * The component a `shardfleet` invocation runs, from its arguments (without node and the script):
 * `serve router` -> router, `serve node` -> shard-node, build / publish / history commands ->
 * writer, anything else (search, info, local, --help) -> cli.
 */
export function componentFromArgs(args: readonly string[]): TracingComponent {
  const positional = args.filter((a) => !a.startsWith('-'));
  const [command, sub] = positional;
  if (command === 'serve' && sub === 'router') return 'router';
  if (command === 'serve' && sub === 'node') return 'shard-node';
  if (command !== undefined && WRITER_COMMANDS.has(command)) return 'writer';
  return 'cli';
}

/** `OTEL_SERVICE_NAME` when set, else `shardfleet-<component>`. */
export function tracingServiceName(component: TracingComponent, env: TracingEnv = process.env): string {
  const fromEnv = env.OTEL_SERVICE_NAME?.trim();
  return fromEnv ? fromEnv : `shardfleet-${component}`;
}

/**
 * Node flags that start tracing in a child process running the CLI through tsx: append them after
 * `--import tsx` when spawning. Empty when `env` does not enable tracing.
 */
export function otelImportArgs(env: TracingEnv = process.env): string[] {
  return tracingEnabled(env) ? ['--import', OTEL_REGISTER_URL] : [];
}
