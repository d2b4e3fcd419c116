/**
 * `shardfleet search` and `shardfleet info`: query a router from the command line.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { ConfigValidationError } from '../common/errors.ts';
import type { ClientTlsFiles } from '../common/grpc-security.ts';
// The gRPC client and the token loader are imported when a command runs (`--help` stays fast).
import { assertCollectionName } from '../common/catalog/collection-name.ts';
import type { ShardfleetClient, SearchResponse } from '../client/router-client.ts';
import { intArg, recallArg } from './arg-parsers.ts';
import { ShardfleetCommand } from './env-options.ts';
import { addQueryInputOptions, queryVector, routingParams, type QueryInputFlags } from './query-options.ts';

export { parseRoutingContext, parseVectorJson } from './query-options.ts';

/** Flags of every command that calls a router (`search`, `info`). */
export interface RouterClientFlags {
  router: string;
  /** `--collection` (issue 24); unset = the router's default collection. */
  collection?: string;
  authTokenFile?: string;
  tls?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServerName?: string;
}

/**
 * Parses `--collection`. @throws ConfigValidationError naming `--collection` for an invalid name.
 */
function collectionArg(value: string): string {
  assertCollectionName(value, '--collection');
  return value;
}

/**
 * Adds `--router` and the client's credential flags: a bearer token (the router's
 * `--auth-token-file`) and TLS / mTLS to the router.
 */
export function addRouterClientOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--router <host:port>', 'router address')
    .option(
      '--auth-token-file <file|env:NAME>',
      'send "authorization: Bearer <token>" (for a router started with --auth-token-file); a file (trimmed) or env:NAME; use with TLS, it is clear text otherwise',
    )
    .option('--tls', 'TLS to the router, verified against the system CA roots (implied by every other --tls-* flag)')
    .option('--tls-ca <file>', 'TLS to the router: CA bundle (PEM) its certificate must chain to, instead of the system roots')
    .option('--tls-cert <file>', 'mTLS: client certificate (PEM) for a router started with --tls-require-client-cert')
    .option('--tls-key <file>', 'mTLS: private key (PEM) of --tls-cert')
    .option('--tls-server-name <name>', "TLS: name checked against the router's certificate instead of the --router host")
    .option('--collection <name>', "the collection to ask, of a router serving a catalog root (default: the router's default collection)", collectionArg);
}

/**
 * The client's TLS settings from the flags.
 * @returns undefined (plaintext) when no --tls* flag is given.
 * @throws ConfigValidationError naming the flags when only one of --tls-cert/--tls-key is given.
 */
function clientTls(f: RouterClientFlags): ClientTlsFiles | undefined {
  if (Boolean(f.tlsCert) !== Boolean(f.tlsKey)) throw new ConfigValidationError('--tls-cert and --tls-key must be given together');
  if (!f.tls && !f.tlsCa && !f.tlsCert && !f.tlsServerName) return undefined;
  return { caFile: f.tlsCa || undefined, certFile: f.tlsCert || undefined, keyFile: f.tlsKey || undefined, serverNameOverride: f.tlsServerName || undefined };
}

/**
 * A client of the router the flags name, with their token and TLS settings.
 * @throws ConfigValidationError naming the flag when the token source or a TLS file cannot be
 *   read or is invalid.
 */
export async function routerClient(f: RouterClientFlags): Promise<ShardfleetClient> {
  const { loadBearerToken } = await import('../common/bearer-auth.ts');
  const { ShardfleetClient } = await import('../client/router-client.ts');
  const bearerToken = loadBearerToken(f.authTokenFile, process.env, '--auth-token-file');
  return new ShardfleetClient(f.router, { tls: clientTls(f), bearerToken });
}

/**
 * Runs `fn` with a client of the router the flags name ({@link routerClient}) and closes the
 * client when `fn` settles. What `fn` throws on failing to connect becomes one sentence naming the
 * address and `--router` (explainRouterError in router-reach.ts); any other error passes through.
 * @returns what `fn` resolves to.
 * @throws ConfigValidationError from routerClient (token source or TLS files), RouterUnreachableError,
 *   or `fn`'s own error.
 */
export async function withRouterClient<T>(flags: RouterClientFlags, fn: (client: ShardfleetClient) => Promise<T>): Promise<T> {
  const client = await routerClient(flags);
  try {
    return await fn(client);
  } catch (err) {
    throw (await import('./router-reach.ts')).explainRouterError(err, flags.router);
  } finally {
    client.close();
  }
}

interface SearchFlags extends RouterClientFlags, QueryInputFlags {
  topK: number;
  targetRecall?: number;
  nprobes: number;
  ef: number;
  refineFactor: number;
  payload: boolean;
  minCoverage: number;
  timeoutMs: number;
}

/** Parses `--min-coverage`: a fraction in [0, 1] (0 = every probed shard). @throws InvalidArgumentError otherwise. */
export function fractionArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`"${value}" is not a fraction between 0 and 1`);
  return n;
}

/**
 * What `search` prints: the response without its encoded fields, payloads parsed, and the
 * coverage of the answer (shards answered, the failed ones with why, `partial`).
 */
function searchOutput(res: SearchResponse): Record<string, unknown> {
  const results = res.results.map((h) => ({ id: h.id, score: h.score, payload: h.payload_json ? (JSON.parse(h.payload_json) as unknown) : undefined }));
  return {
    run_id: res.run_id,
    shard_ids: res.shard_ids,
    num_shards_answered: res.num_shards_answered,
    failed_shards: res.failed_shards.map((f) => ({ db_id: f.db_id, reason: f.reason })),
    partial: res.partial,
    latency_ms: +res.latency_ms.toFixed(3),
    results,
  };
}

/** The `search` command. */
export function searchCommand(): Command {
  const cmd = new ShardfleetCommand('search').description(
    'search through a router and print the results as JSON (with the shards that answered, the failed ones and partial; a partial answer is also noted on stderr)',
  );
  return addQueryInputOptions(addRouterClientOptions(cmd), (c) =>
    c.option(
      '--target-recall <r>',
      'probe the fewest shards whose build-time routing recall@10 reaches r (0 < r <= 1; see info recall_at_probes); --num-probes / --shard-ids win',
      recallArg,
    ),
  )
    .option('--top-k <n>', 'results', intArg, 10)
    .option('--nprobes <n>', 'IVF partitions to probe per shard (0 = default)', intArg, 0)
    .option('--ef <n>', 'HNSW beam width per shard (0 = default)', intArg, 0)
    .option('--refine-factor <n>', 're-rank top-k * n candidates exactly (0 = default)', intArg, 0)
    .option('--no-payload', 'omit payloads')
    .option(
      '--min-coverage <fraction>',
      'fraction (0..1] of the probed shards that must answer; below it the search fails UNAVAILABLE, above it a missing shard makes the answer partial (0 = every probed shard)',
      fractionArg,
      0,
    )
    .option('--timeout-ms <ms>', 'call deadline', intArg, 10_000)
    .action(async (flags: SearchFlags) => {
      await withRouterClient(flags, async (client) => {
        const res = await client.search({
          vector: await queryVector(flags),
          top_k: flags.topK,
          target_recall: flags.targetRecall,
          ...routingParams(flags),
          nprobes: flags.nprobes,
          ef: flags.ef,
          refine_factor: flags.refineFactor,
          include_payload: flags.payload,
          min_coverage: flags.minCoverage,
          timeout_ms: flags.timeoutMs,
          collection: flags.collection,
        });
        process.stdout.write(JSON.stringify(searchOutput(res), null, 2) + '\n');
        if (res.partial) {
          const failed = res.failed_shards.map((f) => `shard ${f.db_id}: ${f.reason}`).join('; ');
          process.stderr.write(`shardfleet: partial answer: ${res.num_shards_answered} of ${res.shard_ids.length} shards answered; ${failed}\n`);
        }
      });
    });
}

/** The `info` command. */
export function infoCommand(): Command {
  return addRouterClientOptions(new ShardfleetCommand('info').description('print the snapshot a router serves'))
    .option('--timeout-ms <ms>', 'call deadline', intArg, 10_000)
    .action(async (flags: RouterClientFlags & { timeoutMs: number }) => {
      await withRouterClient(flags, async (client) => {
        process.stdout.write(JSON.stringify(await client.snapshotInfo(flags.timeoutMs, flags.collection), null, 2) + '\n');
      });
    });
}
