/**
 * `shardfleet serve node` and `shardfleet serve router`: run one long-lived process until SIGINT
 * or SIGTERM, then drain and exit. Every flag also reads an environment variable
 * (`SHARDFLEET_<FLAG>`), which is how the Helm chart configures the processes.
 */
import { hostname } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ConfigValidationError, errorMessage } from '../common/errors.ts';
import { assertCollectionName } from '../common/catalog/collection-name.ts';
import type { ClientTlsFiles, TlsFiles } from '../common/grpc-security.ts';
import type { Http2Limits } from '../common/grpc-server.ts';
import type { Logger } from '../common/logger.ts';
import type { Membership } from '../common/membership/membership.ts';
import { shutdownTracing } from '../common/telemetry/tracing-shutdown.ts';
// The servers, logger, membership and token loader are imported when a command runs, so
// `shardfleet --help` does not load them.
import { fractionArg, intArg, positiveArg } from './arg-parsers.ts';
import { DEFAULT_LIVE_RECALL_FRACTION, DEFAULT_LIVE_RECALL_MAX_PER_SECOND } from '../router/live-recall-defaults.ts';
import { collectCollectionLimit, type CollectionLimits } from '../router/collection-limits.ts';
import { ShardfleetCommand } from './env-options.ts';
import { addRequestLimitOptions, requestLimitsFromFlags, type RequestLimitFlags } from './request-limit-options.ts';
import { addStoreOptions, openStoreFromFlags, type StoreFlags } from './store-options.ts';

interface ServeFlags extends StoreFlags, RequestLimitFlags {
  nodes: string;
  /** `--collections a,b` (issue 24). */
  collections?: string[];
  maxCollections?: number;
  membershipRefreshMs: number;
  dnsServer?: string;
  replication: number;
  listen: string;
  pollIntervalMs: number;
  metricsListen?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsRequireClientCert?: boolean;
  maxMessageBytes?: number;
  maxConcurrentStreams?: number;
  maxConnectionIdleMs?: number;
  handshakeTimeoutMs?: number;
  maxResponseBytes?: number;
}

interface NodeFlags extends ServeFlags {
  nodeId: string;
  cacheDir: string;
  maxCacheBytes: number;
  runGraceMs: number;
  drainTimeoutMs: number;
  leaveTimeoutMs: number;
  loadConcurrency: number;
  authTokenFile?: string;
}

interface RouterFlags extends ServeFlags {
  defaultCollection?: string;
  defaultTimeoutMs: number;
  statusPollMs: number;
  hedge: boolean;
  hedgeDelayMs?: number;
  hedgeMaxDelayMs: number;
  ejectAfterFailures: number;
  ejectBaseMs: number;
  maxEjectionPercent: number;
  nodeCallTimeoutMs?: number;
  nodeTlsCa?: string;
  nodeTlsCert?: string;
  nodeTlsKey?: string;
  nodeTlsServerName?: string;
  authTokenFile?: string;
  nodeAuthTokenFile?: string;
  rateLimitQps?: number;
  maxTopK?: number;
  collectionLimit?: Record<string, CollectionLimits>;
  rateLimitBurst?: number;
  liveRecallFraction: number;
  liveRecallMaxPerSecond: number;
}

/**
 * Runs until SIGINT or SIGTERM (or, when `SHARDFLEET_EXIT_ON_STDIN_CLOSE=1`, until stdin closes:
 * the parent that spawned this process is gone), then stops gracefully, flushes traces and exits.
 */
/**
 * Stops `server` on SIGTERM, SIGINT or (with SHARDFLEET_EXIT_ON_STDIN_CLOSE=1) the end of stdin.
 * Only SIGTERM (a pod leaving, a scale-down) makes a shard node leave placement first and wait
 * until its shards' new owners are ready (--leave-timeout-ms); SIGINT (Ctrl-C, a whole local
 * cluster stopping) and a closed stdin stop at once (in-flight calls still drain).
 */
function untilSignal(log: Logger, membership: Membership, server: { stop(options?: { leave?: boolean }): Promise<void> }): void {
  let stopping = false;
  const onSignal = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    membership.stop();
    server.stop({ leave: signal === 'SIGTERM' }).then(
      () => shutdownTracing().then(() => process.exit(0)),
      () => shutdownTracing().then(() => process.exit(1)),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (process.env.SHARDFLEET_EXIT_ON_STDIN_CLOSE === '1') {
    process.stdin.on('end', () => onSignal('stdin closed'));
    process.stdin.on('error', () => onSignal('stdin closed'));
    process.stdin.resume();
  }
}

/**
 * Parses `--collections a,b,c`: comma-separated collection names, each checked.
 * @throws ConfigValidationError naming `--collections` for an empty list or an invalid name.
 */
function collectionListArg(value: string): string[] {
  const names = value.split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (names.length === 0) throw new ConfigValidationError('--collections is empty: give comma-separated collection names');
  for (const n of names) assertCollectionName(n, '--collections name');
  return names;
}

/** An option that also reads `SHARDFLEET_<NAME>` from the environment. */
function opt(flags: string, description: string, env: string): Option {
  return new Option(flags, description).env(`SHARDFLEET_${env}`);
}

function addServeOptions(cmd: Command, defaultListen: string): Command {
  return addStoreOptions(cmd)
    .addOption(
      opt(
        '--nodes <spec>',
        'shard nodes: id=host:port,... | dns+srv:_grpc._tcp.<headless-service> (ids = pod names) | dns:<name>:<port>',
        'NODES',
      ).makeOptionMandatory(),
    )
    .addOption(opt('--membership-refresh-ms <ms>', 'DNS membership: re-resolve interval', 'MEMBERSHIP_REFRESH_MS').argParser(intArg).default(5000))
    .addOption(
      opt(
        '--dns-server <ip[:port]>',
        'DNS membership: resolver to ask, also for dialling the SRV targets (set GRPC_NODE_USE_ALTERNATIVE_RESOLVER=true); default: the system resolver',
        'DNS_SERVER',
      ),
    )
    .addOption(opt('--replication <n>', 'replicas per shard (R); routers and nodes must agree', 'REPLICATION').argParser(intArg).default(1))
    .addOption(
      opt(
        '--collections <a,b,...>',
        'catalog root (a --store whose child prefixes hold _CURRENT): serve only these collections (default: every child with a _CURRENT, rescanned every --poll-interval-ms; a --store holding _CURRENT itself is served as collection "default")',
        'COLLECTIONS',
      ).argParser(collectionListArg),
    )
    .addOption(opt('--max-collections <n>', 'most collections served from a catalog root (more are logged and skipped; default 64, at most 1024)', 'MAX_COLLECTIONS').argParser(intArg))
    .addOption(opt('--listen <host:port>', 'gRPC address to listen on', 'LISTEN').default(defaultListen))
    .addOption(opt('--poll-interval-ms <ms>', '_CURRENT poll interval (and retry interval while nothing loads)', 'POLL_INTERVAL_MS').argParser(intArg).default(5000))
    .addOption(opt('--metrics-listen <host:port>', 'serve Prometheus metrics at http://<host:port>/metrics', 'METRICS_LISTEN'))
    .addOption(opt('--tls-cert <file>', 'serve TLS with this certificate (PEM)', 'TLS_CERT'))
    .addOption(opt('--tls-key <file>', 'private key of --tls-cert (PEM)', 'TLS_KEY'))
    .addOption(opt('--tls-ca <file>', 'CA bundle that client certificates must chain to (mTLS)', 'TLS_CA'))
    .addOption(opt('--tls-require-client-cert', 'require a client certificate signed by --tls-ca (mTLS)', 'TLS_REQUIRE_CLIENT_CERT'))
    .addOption(opt('--max-message-bytes <n>', 'largest gRPC message received or sent (default 64 MiB)', 'MAX_MESSAGE_BYTES').argParser(intArg))
    .addOption(opt('--max-concurrent-streams <n>', 'most concurrent calls (HTTP/2 streams) per client connection (default 1000)', 'MAX_CONCURRENT_STREAMS').argParser(intArg))
    .addOption(opt('--max-connection-idle-ms <ms>', 'close a client connection without calls after this long (default 300000; 0 = never)', 'MAX_CONNECTION_IDLE_MS').argParser(intArg))
    .addOption(
      opt('--handshake-timeout-ms <ms>', 'close a connection that has not completed TLS and the HTTP/2 preface after this long (default 10000; 0 = never)', 'HANDSHAKE_TIMEOUT_MS').argParser(intArg),
    )
    .addOption(
      opt(
        '--max-response-bytes <n>',
        'largest estimated answer of one call (results x (dims x 4 + payload estimate)): a router refuses larger Search/BatchSearch, a node larger SearchShards, with RESOURCE_EXHAUSTED; give routers and nodes the same value (default 64 MiB)',
        'MAX_RESPONSE_BYTES',
      ).argParser(intArg),
    );
}

/** The HTTP/2 limit flags (unset ones keep the defaults of grpc-server.ts). */
function http2Limits(f: ServeFlags): Http2Limits {
  return { maxConcurrentStreams: f.maxConcurrentStreams, maxConnectionIdleMs: f.maxConnectionIdleMs, handshakeTimeoutMs: f.handshakeTimeoutMs };
}

/**
 * The server TLS flags. @throws ConfigValidationError naming the flags when --tls-ca or
 * --tls-require-client-cert is given without --tls-cert/--tls-key (the port would otherwise serve
 * plaintext and check no client certificate), or only one of --tls-cert/--tls-key is given.
 */
function serverTls(f: ServeFlags): TlsFiles | undefined {
  if (!f.tlsCert && !f.tlsKey) {
    if (f.tlsCa || f.tlsRequireClientCert) {
      throw new ConfigValidationError('--tls-ca and --tls-require-client-cert need --tls-cert and --tls-key (the port serves plaintext without them)');
    }
    return undefined;
  }
  if (!f.tlsCert || !f.tlsKey) throw new ConfigValidationError('--tls-cert and --tls-key must be given together');
  if (f.tlsRequireClientCert && !f.tlsCa) throw new ConfigValidationError('--tls-require-client-cert needs --tls-ca (the CA that client certificates must chain to)');
  return { certFile: f.tlsCert ?? '', keyFile: f.tlsKey ?? '', caFile: f.tlsCa, requireClientCert: f.tlsRequireClientCert };
}

/**
 * The router's TLS flags for its channels to the nodes. @throws ConfigValidationError naming the
 * flags when only one of --node-tls-cert/--node-tls-key is given.
 */
function nodeClientTls(f: RouterFlags): ClientTlsFiles | undefined {
  if (Boolean(f.nodeTlsCert) !== Boolean(f.nodeTlsKey)) throw new ConfigValidationError('--node-tls-cert and --node-tls-key must be given together');
  if (!f.nodeTlsCa && !f.nodeTlsCert) return undefined;
  return { caFile: f.nodeTlsCa, certFile: f.nodeTlsCert, keyFile: f.nodeTlsKey, serverNameOverride: f.nodeTlsServerName };
}

async function openMembership(f: ServeFlags, log: Logger): Promise<Membership> {
  const { createMembership } = await import('../common/membership/membership.ts');
  const membership = createMembership(f.nodes, { refreshMs: f.membershipRefreshMs, dnsServer: f.dnsServer, dialViaDnsServer: true, log });
  await membership.start();
  log.info({ nodes: membership.current().map((n) => `${n.id}=${n.address}`) }, 'membership');
  return membership;
}

/** The `serve` command group. */
export function serveCommand(): Command {
  const serve = new ShardfleetCommand('serve').description('run a shard node or a router');
  const node = addRequestLimitOptions(addServeOptions(new ShardfleetCommand('node').description('serve the shards placement assigns to this node'), '0.0.0.0:7001'), 'node')
    .addOption(opt('--node-id <id>', "this node's id in --nodes (default: the host name, i.e. the pod name)", 'NODE_ID').default(hostname()))
    .addOption(opt('--cache-dir <dir>', 'local shard cache folder', 'CACHE_DIR').default('.shardfleet/cache'))
    .addOption(opt('--max-cache-bytes <n>', 'cache budget in bytes (0 = unbounded); assigned shards are never evicted', 'MAX_CACHE_BYTES').argParser(intArg).default(0))
    .addOption(opt('--run-grace-ms <ms>', 'keep a superseded run loaded this long after the new one is ready', 'RUN_GRACE_MS').argParser(intArg).default(60_000))
    .addOption(opt('--drain-timeout-ms <ms>', 'on shutdown, wait this long for in-flight searches', 'DRAIN_TIMEOUT_MS').argParser(intArg).default(10_000))
    .addOption(
      opt(
        '--leave-timeout-ms <ms>',
        'on SIGTERM, first leave placement and keep serving the shards whose new owners are not ready yet, at most this long (0 = stop at once)',
        'LEAVE_TIMEOUT_MS',
      )
        .argParser(intArg)
        .default(120_000),
    )
    .addOption(opt('--load-concurrency <n>', 'shards downloaded and opened at once', 'LOAD_CONCURRENCY').argParser(intArg).default(2))
    .addOption(
      opt(
        '--auth-token-file <file|env:NAME>',
        'require "authorization: Bearer <token>" on ShardNode calls (routers send it with --node-auth-token-file); without it or --tls-require-client-cert the port answers anyone',
        'AUTH_TOKEN_FILE',
      ),
    )
    .action(async (flags: NodeFlags) => {
      const { createLogger } = await import('../common/logger.ts');
      const { loadBearerToken } = await import('../common/bearer-auth.ts');
      const { startShardNode } = await import('../shard-node/shard-node-server.ts');
      const log = createLogger('shard-node', { node_id: flags.nodeId });
      const membership = await openMembership(flags, log);
      const handle = await startShardNode({
        store: await openStoreFromFlags(flags),
        nodeId: flags.nodeId,
        membership,
        replication: flags.replication,
        cacheDir: flags.cacheDir,
        listen: flags.listen,
        pollIntervalMs: flags.pollIntervalMs,
        maxCacheBytes: flags.maxCacheBytes,
        runGraceMs: flags.runGraceMs,
        drainTimeoutMs: flags.drainTimeoutMs,
        leaveTimeoutMs: flags.leaveTimeoutMs,
        loadConcurrency: flags.loadConcurrency,
        metricsListen: flags.metricsListen,
        tls: serverTls(flags),
        maxMessageBytes: flags.maxMessageBytes,
        http2: http2Limits(flags),
        maxResponseBytes: flags.maxResponseBytes,
        authToken: loadBearerToken(flags.authTokenFile, process.env, '--auth-token-file'),
        requestLimits: requestLimitsFromFlags(flags),
        collections: flags.collections,
        maxCollections: flags.maxCollections,
        log,
      });
      untilSignal(log, membership, handle);
    });
  const router = addRequestLimitOptions(addServeOptions(new ShardfleetCommand('router').description('serve the Router API over the shard nodes'), '0.0.0.0:7000'), 'router')
    .addOption(
      opt('--default-collection <name>', 'the collection a request without one is answered from (default: the only served collection)', 'DEFAULT_COLLECTION'),
    )
    .addOption(opt('--default-timeout-ms <ms>', 'deadline for calls that carry none', 'DEFAULT_TIMEOUT_MS').argParser(intArg).default(10_000))
    .addOption(opt('--status-poll-ms <ms>', 'how often to ask every node what it has loaded', 'STATUS_POLL_MS').argParser(intArg).default(1000))
    .addOption(opt('--no-hedge', 'do not hedge slow node calls to a second replica', 'HEDGE'))
    .addOption(opt('--hedge-delay-ms <ms>', "hedge after this delay (default: the node's observed p95, 10..500 ms)", 'HEDGE_DELAY_MS').argParser(intArg))
    .addOption(opt('--hedge-max-delay-ms <ms>', 'upper bound of the p95-based hedge delay', 'HEDGE_MAX_DELAY_MS').argParser(intArg).default(500))
    .addOption(opt('--eject-after-failures <n>', 'consecutive failures that eject a node', 'EJECT_AFTER_FAILURES').argParser(intArg).default(5))
    .addOption(opt('--eject-base-ms <ms>', 'first ejection time (doubles on each repeat, up to 60 s)', 'EJECT_BASE_MS').argParser(intArg).default(5000))
    .addOption(opt('--max-ejection-percent <n>', 'most nodes ejected at once, percent of the membership (at least one)', 'MAX_EJECTION_PERCENT').argParser(intArg).default(50))
    .addOption(opt('--node-call-timeout-ms <ms>', "the router's own limit on a node call (a call cut off by it is the node's failure; 0 = none: callers' deadlines only)", 'NODE_CALL_TIMEOUT_MS').argParser(intArg))
    .addOption(opt('--node-tls-ca <file>', 'TLS to the nodes: CA bundle that node certificates chain to', 'NODE_TLS_CA'))
    .addOption(opt('--node-tls-cert <file>', 'mTLS to the nodes: client certificate (PEM)', 'NODE_TLS_CERT'))
    .addOption(opt('--node-tls-key <file>', 'mTLS to the nodes: client key (PEM)', 'NODE_TLS_KEY'))
    .addOption(opt('--node-tls-server-name <name>', 'TLS to the nodes: expected server name', 'NODE_TLS_SERVER_NAME'))
    .addOption(opt('--auth-token-file <file|env:NAME>', 'require "authorization: Bearer <token>" on Router calls', 'AUTH_TOKEN_FILE'))
    .addOption(
      opt('--node-auth-token-file <file|env:NAME>', 'send "authorization: Bearer <token>" on every call to the nodes (their --auth-token-file)', 'NODE_AUTH_TOKEN_FILE'),
    )
    .addOption(opt('--max-get-keys <n>', 'most keys one MultiGet may carry (more: INVALID_ARGUMENT; default 1000; give the nodes the same value)', 'MAX_GET_KEYS').argParser(intArg))
    .addOption(opt('--max-top-k <n>', 'largest top_k of a query (more: INVALID_ARGUMENT; default 1000)', 'MAX_TOP_K').argParser(intArg))
    .addOption(opt('--rate-limit-qps <n>', 'token-bucket rate limit per router (0 = off); BatchSearch costs one per query', 'RATE_LIMIT_QPS').argParser(intArg))
    .addOption(opt('--rate-limit-burst <n>', 'token-bucket size (default: ceil(qps))', 'RATE_LIMIT_BURST').argParser(intArg))
    .addOption(
      opt(
        '--collection-limit <collection:key=value,...>',
        'limits of one collection on top of the router-wide ones (repeatable, or several separated by ";"): qps, burst, max_top_k, e.g. items:qps=200,burst=400,max_top_k=100',
        'COLLECTION_LIMIT',
      ).argParser((value: string, previous: Record<string, CollectionLimits> | undefined) => {
        try {
          return collectCollectionLimit(value, previous);
        } catch (err) {
          throw new InvalidArgumentError(errorMessage(err));
        }
      }),
    )
    .addOption(
      opt('--live-recall-fraction <f>', 'fraction of answered queries re-run as an exact search over every shard, off the request path, to measure live recall@k (0 = off)', 'LIVE_RECALL_FRACTION')
        .argParser(fractionArg)
        .default(DEFAULT_LIVE_RECALL_FRACTION),
    )
    .addOption(
      opt('--live-recall-max-per-second <n>', 'most live recall samples a second (more are skipped, never queued)', 'LIVE_RECALL_MAX_PER_SECOND')
        .argParser(positiveArg)
        .default(DEFAULT_LIVE_RECALL_MAX_PER_SECOND),
    )
    .action(async (flags: RouterFlags) => {
      const { createLogger } = await import('../common/logger.ts');
      const { loadBearerToken } = await import('../common/bearer-auth.ts');
      const { startRouter } = await import('../router/router-server.ts');
      const log = createLogger('router');
      const membership = await openMembership(flags, log);
      const handle = await startRouter({
        store: await openStoreFromFlags(flags),
        membership,
        replication: flags.replication,
        listen: flags.listen,
        defaultTimeoutMs: flags.defaultTimeoutMs,
        pollIntervalMs: flags.pollIntervalMs,
        statusPollIntervalMs: flags.statusPollMs,
        hedging: flags.hedge,
        hedgeDelayMs: flags.hedgeDelayMs,
        hedgeMaxDelayMs: flags.hedgeMaxDelayMs,
        ejectAfterFailures: flags.ejectAfterFailures,
        ejectBaseMs: flags.ejectBaseMs,
        maxEjectionPercent: flags.maxEjectionPercent,
        nodeCallTimeoutMs: flags.nodeCallTimeoutMs,
        metricsListen: flags.metricsListen,
        tls: serverTls(flags),
        nodeTls: nodeClientTls(flags),
        authToken: loadBearerToken(flags.authTokenFile, process.env, '--auth-token-file'),
        nodeAuthToken: loadBearerToken(flags.nodeAuthTokenFile, process.env, '--node-auth-token-file'),
        rateLimitQps: flags.rateLimitQps,
        maxGetKeys: flags.maxGetKeys,
        rateLimitBurst: flags.rateLimitBurst,
        maxMessageBytes: flags.maxMessageBytes,
        requestLimits: requestLimitsFromFlags(flags),
        http2: http2Limits(flags),
        maxResponseBytes: flags.maxResponseBytes,
        maxTopK: flags.maxTopK,
        collectionLimits: flags.collectionLimit,
        collections: flags.collections,
        maxCollections: flags.maxCollections,
        defaultCollection: flags.defaultCollection,
        liveRecallFraction: flags.liveRecallFraction,
        liveRecallMaxPerSecond: flags.liveRecallMaxPerSecond,
        log,
      });
      untilSignal(log, membership, handle);
    });
  return serve.addCommand(node).addCommand(router);
}
