/**
 * OpenTelemetry traces end to end: a real OTLP/HTTP collector, a real local cluster (router + 2
 * shard nodes as processes) exporting to it, and searches through the router; the spans must form
 * one trace per search across processes (router server -> router client -> node server), with
 * the W3C traceparent carried in gRPC metadata. Also: with no OTLP endpoint, no SDK is loaded.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ShardfleetClient } from '../src/client/router-client.ts';
import { startLocalCluster, type LocalCluster } from '../src/cli/local-cluster.ts';
import { openObjectStore } from '../src/common/storage/open-object-store.ts';
import type { ObjectStore } from '../src/common/storage/object-store.ts';
import { componentFromArgs, otelImportArgs, OTEL_REGISTER_URL, tracingEnabled, tracingServiceName } from '../src/common/telemetry/otel-config.ts';
import { shutdownTracing } from '../src/common/telemetry/tracing-shutdown.ts';
import { readIdxImages } from '../src/writer/input/idx-source.ts';
import { buildFashionSnapshot, FASHION_IMAGES, tempDir } from './helpers/fixtures.ts';
import { SpanKind, startOtlpCollector, type CollectedSpan, type OtlpCollector } from './helpers/otlp-collector.ts';

const ROUTER = 'shardfleet-router';
const NODE = 'shardfleet-shard-node';
const ROUTER_SEARCH = 'grpc.shardfleet.v1.Router/Search';
const NODE_SEARCH = 'grpc.shardfleet.v1.ShardNode/SearchShards';
const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');
const run = promisify(execFile);
/** Set to false once serve-commands awaits shutdownTracing() before exiting. */
const FLUSH_TODO: string | false = false;

describe('tracing decision (no SDK involved)', () => {
  test('enabled only by an OTLP endpoint, and not when disabled', () => {
    assert.equal(tracingEnabled({}), false);
    assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }), false);
    assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), true);
    assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }), true);
    assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }), false);
    assert.equal(tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }), false);
  });

  test('component and service name follow the subcommand', () => {
    assert.equal(componentFromArgs(['serve', 'router', '--listen', '0.0.0.0:7000']), 'router');
    assert.equal(componentFromArgs(['serve', 'node', '--node-id', 'n1']), 'shard-node');
    assert.equal(componentFromArgs(['build', '--store', 'x']), 'writer');
    assert.equal(componentFromArgs(['search', '--router', 'x']), 'cli');
    assert.equal(componentFromArgs([]), 'cli');
    assert.equal(tracingServiceName('router', {}), ROUTER);
    assert.equal(tracingServiceName('router', { OTEL_SERVICE_NAME: 'search-edge' }), 'search-edge');
  });

  test('child import flags only when enabled', () => {
    assert.deepEqual(otelImportArgs({}), []);
    assert.deepEqual(otelImportArgs({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), ['--import', OTEL_REGISTER_URL]);
  });

  test('shutdownTracing resolves at once when tracing never started', async () => {
    await shutdownTracing();
  });
});

/**
 * Runs `bin/shardfleet.js <args>` (default `--help`) and reports, at exit, which OpenTelemetry SDK
 * modules were loaded (they are CommonJS, so they appear in the require cache) and whether
 * @grpc/grpc-js was patched. A failing command (exit code != 0) is fine: only the probe line counts.
 */
async function loadedOtelModules(env: Record<string, string | undefined>, args: string[] = ['--help']): Promise<{ sdk: string[]; grpcPatched: boolean }> {
  const probe = [
    "import { createRequire } from 'node:module';",
    `const require = createRequire(${JSON.stringify(BIN)});`,
    "process.on('exit', () => {",
    "  const sdk = Object.keys(require.cache).filter((k) => /@opentelemetry[\\\\/](sdk-|exporter-|instrumentation)/.test(k));",
    "  const grpcKey = Object.keys(require.cache).find((k) => /@grpc[\\\\/]grpc-js[\\\\/]build[\\\\/]src[\\\\/]index\\.js$/.test(k));",
    '  const grpcPatched = grpcKey !== undefined && require.cache[grpcKey].exports.Client.prototype.makeUnaryRequest.__wrapped === true;',
    "  process.stderr.write('OTEL-PROBE ' + JSON.stringify({ sdk, grpcPatched }) + '\\n');",
    '});',
  ].join('\n');
  const probeUrl = `data:text/javascript,${encodeURIComponent(probe)}`;
  const stderr = await run(process.execPath, ['--import', probeUrl, BIN, ...args], { env }).then(
    (r) => r.stderr,
    (err: { stderr?: string }) => err.stderr ?? '',
  );
  const line = stderr.split('\n').find((l) => l.startsWith('OTEL-PROBE '));
  assert.ok(line, `probe printed nothing; stderr: ${stderr}`);
  return JSON.parse(line.slice('OTEL-PROBE '.length)) as { sdk: string[]; grpcPatched: boolean };
}

describe('bin/shardfleet.js loads OpenTelemetry only when asked', () => {
  const baseEnv = { ...process.env };
  for (const k of Object.keys(baseEnv)) if (k.startsWith('OTEL_')) delete baseEnv[k];

  test('without OTEL_EXPORTER_OTLP_ENDPOINT no SDK module is loaded', async () => {
    const loaded = await loadedOtelModules(baseEnv);
    assert.deepEqual(loaded.sdk, []);
    assert.equal(loaded.grpcPatched, false);
  });

  // `info` loads @grpc/grpc-js (`--help` no longer does: the commands import it when they run);
  // nothing listens on port 9, so the call fails at once.
  test('with OTEL_EXPORTER_OTLP_ENDPOINT the SDK is loaded and @grpc/grpc-js is patched', async () => {
    const env = { ...baseEnv, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' };
    const loaded = await loadedOtelModules(env, ['info', '--router', '127.0.0.1:9', '--timeout-ms', '2000']);
    assert.ok(loaded.sdk.some((k) => k.includes('sdk-trace-node')), JSON.stringify(loaded.sdk));
    assert.equal(loaded.grpcPatched, true);
  });
});

/** The spans matching `pred`. */
function spansWhere(spans: CollectedSpan[], pred: (s: CollectedSpan) => boolean): CollectedSpan[] {
  return spans.filter(pred);
}

/**
 * Environment of cluster children exporting to `collector` every `scheduleDelayMs`.
 * spawnCli starts `node --import tsx src/cli/main.ts`, not bin/shardfleet.js, so the registration
 * is loaded through NODE_OPTIONS here (once spawnCli adds `otelImportArgs()` itself, the second
 * import of the same URL is a no-op).
 */
function tracedEnv(collector: OtlpCollector, scheduleDelayMs: number): Record<string, string> {
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: String(scheduleDelayMs) };
  const nodeOptions = [process.env.NODE_OPTIONS ?? '', '--import', TSX_LOADER, ...otelImportArgs(otel)].join(' ').trim();
  return { ...otel, NODE_OPTIONS: nodeOptions };
}

/** Sends `count` searches (Fashion-MNIST test images 9000...) through the router. */
async function search(routerAddress: string, count: number): Promise<void> {
  const queries = await readIdxImages(FASHION_IMAGES, { start: 9000, limit: count });
  const client = new ShardfleetClient(routerAddress);
  try {
    for (let i = 0; i < count; i++) {
      const res = await client.search({ vector: queries.vectors.subarray(i * queries.dim, (i + 1) * queries.dim), top_k: 5 });
      assert.equal(res.results.length, 5);
    }
  } finally {
    client.close();
  }
}

describe('traces across a local cluster exported to a real OTLP/HTTP collector', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let storeUrl: string;
  let store: ObjectStore;
  const clusters: LocalCluster[] = [];
  const collectors: OtlpCollector[] = [];

  /** A collector and a router + 2 nodes exporting to it. */
  async function tracedCluster(scheduleDelayMs: number): Promise<{ collector: OtlpCollector; cluster: LocalCluster }> {
    const collector = await startOtlpCollector();
    collectors.push(collector);
    const cacheDir = join(dir.path, `cache-${clusters.length}`);
    const cluster = await startLocalCluster({ store: storeUrl, numNodes: 2, cacheDir, env: tracedEnv(collector, scheduleDelayMs), stderr: 'ignore' });
    clusters.push(cluster);
    return { collector, cluster };
  }

  before(async () => {
    dir = await tempDir('tracing');
    storeUrl = join(dir.path, 'store');
    store = openObjectStore(storeUrl);
    await buildFashionSnapshot(store, { limit: 600, numDbs: 4, numProbes: 2 });
  });

  after(async () => {
    await Promise.all(clusters.map((c) => c.stop()));
    await Promise.all(collectors.map((c) => c.close()));
    await store?.close();
    await dir?.remove();
  });

  describe('while serving (spans exported every 100 ms)', () => {
    let collector: OtlpCollector;
    let spans: CollectedSpan[];
    const SEARCHES = 3;

    before(async () => {
      const traced = await tracedCluster(100);
      collector = traced.collector;
      await search(traced.cluster.routerAddress, SEARCHES);
      spans = await collector.waitFor(
        (all) =>
          all.filter((s) => s.serviceName === ROUTER && s.name === ROUTER_SEARCH).length >= SEARCHES &&
          all.some((s) => s.serviceName === NODE && s.name === NODE_SEARCH),
      );
      await traced.cluster.stop();
      spans = collector.spans();
    });

    test('spans arrive from the router and the shard nodes, as OTLP JSON', () => {
      const services = new Set(spans.map((s) => s.serviceName));
      assert.ok(services.has(ROUTER), [...services].join(','));
      assert.ok(services.has(NODE), [...services].join(','));
      assert.deepEqual(collector.rejected(), []);
    });

    test('health probes are not traced', () => {
      assert.deepEqual(spansWhere(spans, (s) => s.name.startsWith('grpc.grpc.health')), []);
    });

    test('each search is one trace: router server -> router client -> node server', () => {
      const routerServers = spansWhere(spans, (s) => s.serviceName === ROUTER && s.name === ROUTER_SEARCH && s.kind === SpanKind.SERVER);
      assert.equal(routerServers.length, SEARCHES);
      for (const server of routerServers) {
        assert.equal(server.parentSpanId, '', 'the test client is not traced: the router span is the root');
        const clients = spansWhere(spans, (s) => s.traceId === server.traceId && s.serviceName === ROUTER && s.kind === SpanKind.CLIENT && s.name === NODE_SEARCH);
        assert.ok(clients.length >= 1, 'the router calls at least one node');
        for (const client of clients) {
          assert.ok(isDescendant(spans, client, server.spanId), 'router client span descends from the router server span');
          const nodeServers = spansWhere(spans, (s) => s.serviceName === NODE && s.kind === SpanKind.SERVER && s.parentSpanId === client.spanId);
          assert.equal(nodeServers.length, 1, 'the node server span is the child of the router client span (traceparent in metadata)');
          assert.equal(nodeServers[0].traceId, server.traceId);
          assert.equal(nodeServers[0].name, NODE_SEARCH);
        }
      }
    });

    test("'router.search' and 'shard.search' spans sit inside the gRPC server spans", (t) => {
      const routerSearch = spansWhere(spans, (s) => s.name === 'router.search');
      const shardSearch = spansWhere(spans, (s) => s.name === 'shard.search');
      if (routerSearch.length === 0 && shardSearch.length === 0) {
        t.skip('no router.search / shard.search spans emitted (withSpan not wired in the servers yet)');
        return;
      }
      assert.ok(routerSearch.length >= SEARCHES, `router.search spans: ${routerSearch.length}`);
      assert.ok(shardSearch.length >= 1, 'shard.search spans');
      for (const s of routerSearch) {
        assert.equal(s.serviceName, ROUTER);
        assert.ok(ancestorNamed(spans, s, ROUTER_SEARCH), 'router.search descends from the router server span');
      }
      for (const s of shardSearch) {
        assert.equal(s.serviceName, NODE);
        assert.ok(ancestorNamed(spans, s, NODE_SEARCH), 'shard.search descends from the node server span');
      }
    });
  });

  // Needs `await shutdownTracing()` before process.exit in serve-commands' untilSignal.
  test('SIGTERM flushes buffered spans (export timer never fires)', { todo: FLUSH_TODO }, async () => {
    const { collector, cluster } = await tracedCluster(600_000);
    await search(cluster.routerAddress, 1);
    assert.deepEqual(collector.spans(), [], 'nothing exported before shutdown');
    await cluster.stop();
    const names = new Set(collector.spans().map((s) => `${s.serviceName} ${s.name}`));
    assert.ok(names.has(`${ROUTER} ${ROUTER_SEARCH}`), [...names].join(', '));
    assert.ok(names.has(`${NODE} ${NODE_SEARCH}`), [...names].join(', '));
  });
});

function parentOf(spans: CollectedSpan[], span: CollectedSpan): CollectedSpan | undefined {
  return span.parentSpanId ? spans.find((s) => s.traceId === span.traceId && s.spanId === span.parentSpanId) : undefined;
}

function isDescendant(spans: CollectedSpan[], span: CollectedSpan, ancestorId: string): boolean {
  for (let p = parentOf(spans, span); p; p = parentOf(spans, p)) if (p.spanId === ancestorId) return true;
  return false;
}

function ancestorNamed(spans: CollectedSpan[], span: CollectedSpan, name: string): boolean {
  for (let p = parentOf(spans, span); p; p = parentOf(spans, p)) if (p.name === name) return true;
  return false;
}
