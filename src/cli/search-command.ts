/**
 * `shardfleet search` and `shardfleet info`: query a router from the command line.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { loadBearerToken } from '../common/bearer-auth.ts';
import { ConfigValidationError, errorMessage } from '../common/errors.ts';
import type { ClientTlsFiles } from '../common/grpc-security.ts';
import type { RoutingContext } from '../common/routing/routing-context.ts';
import { ShardfleetClient, type SearchResponse } from '../client/router-client.ts';
import { readIdxHeader } from '../writer/input/idx-format.ts';
import { readIdxImages } from '../writer/input/idx-source.ts';
import { intArg, recallArg } from './arg-parsers.ts';
import { explainRouterError } from './router-reach.ts';
import { ShardfleetCommand } from './env-options.ts';

const VectorJson = z.array(z.number());

/** Flags of every command that calls a router (`search`, `info`). */
export interface RouterClientFlags {
  router: string;
  authTokenFile?: string;
  tls?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServerName?: string;
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
    .option('--tls-server-name <name>', "TLS: name checked against the router's certificate instead of the --router host");
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
export function routerClient(f: RouterClientFlags): ShardfleetClient {
  const bearerToken = loadBearerToken(f.authTokenFile, process.env, '--auth-token-file');
  return new ShardfleetClient(f.router, { tls: clientTls(f), bearerToken });
}

interface SearchFlags extends RouterClientFlags {
  vector?: string;
  vectorFile?: string;
  idx?: string;
  idxIndex: number;
  topK: number;
  numProbes: number;
  targetRecall?: number;
  shardIds?: string;
  routingContext?: string;
  filter?: string;
  nprobes: number;
  ef: number;
  refineFactor: number;
  payload: boolean;
  minCoverage: number;
  timeoutMs: number;
}

async function queryVector(flags: SearchFlags): Promise<Float32Array> {
  if (flags.idx !== undefined) {
    const records = (await readIdxHeader(flags.idx, 'images')).sizes[0];
    if (flags.idxIndex >= records) {
      throw new ConfigValidationError(`--idx-index ${flags.idxIndex} is past the end of --idx ${flags.idx}, which has ${records} records (0..${records - 1})`);
    }
    const images = await readIdxImages(flags.idx, { start: flags.idxIndex, limit: 1 });
    return images.vectors;
  }
  if (flags.vector !== undefined) return parseVectorJson(flags.vector, '--vector');
  if (flags.vectorFile !== undefined) {
    let text: string;
    try {
      text = await readFile(flags.vectorFile, 'utf8');
    } catch (err) {
      throw new ConfigValidationError(`--vector-file ${flags.vectorFile} cannot be read: ${errorMessage(err)}`, { cause: err });
    }
    return parseVectorJson(text, `--vector-file ${flags.vectorFile}`);
  }
  throw new ConfigValidationError('give the query with --vector, --vector-file or --idx');
}

/**
 * Parses a query vector given as a JSON array of finite numbers.
 * @param where the flag (and file) it came from, named in every error (e.g. `--vector`).
 * @returns the vector as float32.
 * @throws ConfigValidationError naming `where` when the text is not JSON (e.g. `[1,NaN]`: NaN and
 *   Infinity are not JSON), not a non-empty array of numbers, or an element is not finite as a
 *   float32 (e.g. 1e39).
 */
export function parseVectorJson(text: string, where: string): Float32Array {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const hint = /\b(NaN|-?Infinity)\b/.test(text) ? ' (NaN and Infinity are not JSON numbers, and a query must be finite)' : '';
    throw new ConfigValidationError(`${where} is not a JSON array of numbers${hint}: ${errorMessage(err)}`, { cause: err });
  }
  const parsed = VectorJson.safeParse(raw);
  if (!parsed.success || parsed.data.length === 0) throw new ConfigValidationError(`${where} must be a non-empty JSON array of numbers, e.g. [0.1, 0.2]`);
  const vector = Float32Array.from(parsed.data);
  const bad = vector.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new ConfigValidationError(`${where}: element ${bad} (${parsed.data[bad]}) is not a finite float32`);
  return vector;
}

const RoutingContextJson = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

/** Parses `--routing-context` (a JSON object of scalars). @throws ConfigValidationError. */
export function parseRoutingContext(text: string): RoutingContext {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigValidationError(`--routing-context is not JSON: ${text}`);
  }
  const parsed = RoutingContextJson.safeParse(raw);
  if (!parsed.success) throw new ConfigValidationError('--routing-context must be a JSON object of strings, numbers and booleans');
  return parsed.data;
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
  return addRouterClientOptions(cmd)
    .option('--vector <json>', 'query vector as a JSON array')
    .option('--vector-file <path>', 'file holding the query vector as a JSON array')
    .option('--idx <path>', 'take the query from an IDX images file (e.g. Fashion-MNIST t10k)')
    .option('--idx-index <n>', 'record of --idx to use', intArg, 0)
    .option('--top-k <n>', 'results', intArg, 10)
    .option('--num-probes <n>', 'shards to probe (0 = snapshot default)', intArg, 0)
    .option('--target-recall <r>', 'probe the fewest shards whose build-time routing recall@10 reaches r (0 < r <= 1; see info recall_at_probes); --num-probes / --shard-ids win', recallArg)
    .option('--shard-ids <list>', 'comma-separated shard ids (required for explicit sharding; overrides routing otherwise)')
    .option('--routing-context <json>', 'cel sharding: routing context as a JSON object, e.g. \'{"region":"eu"}\'')
    .option('--filter <cel>', 'pre-filter over the snapshot\'s filter columns (see `shardfleet info`), e.g. \'label_name == "Shirt" && label < 5\'')
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
      const client = routerClient(flags);
      try {
        const res = await client.search({
          vector: await queryVector(flags),
          top_k: flags.topK,
          num_probes: flags.numProbes,
          target_recall: flags.targetRecall,
          shard_ids: flags.shardIds?.split(',').map((s) => intArg(s)),
          routing_context: flags.routingContext === undefined ? undefined : parseRoutingContext(flags.routingContext),
          filter: flags.filter,
          nprobes: flags.nprobes,
          ef: flags.ef,
          refine_factor: flags.refineFactor,
          include_payload: flags.payload,
          min_coverage: flags.minCoverage,
          timeout_ms: flags.timeoutMs,
        });
        process.stdout.write(JSON.stringify(searchOutput(res), null, 2) + '\n');
        if (res.partial) {
          const failed = res.failed_shards.map((f) => `shard ${f.db_id}: ${f.reason}`).join('; ');
          process.stderr.write(`shardfleet: partial answer: ${res.num_shards_answered} of ${res.shard_ids.length} shards answered; ${failed}\n`);
        }
      } catch (err) {
        throw explainRouterError(err, flags.router);
      } finally {
        client.close();
      }
    });
}

/** The `info` command. */
export function infoCommand(): Command {
  return addRouterClientOptions(new ShardfleetCommand('info').description('print the snapshot a router serves'))
    .option('--timeout-ms <ms>', 'call deadline', intArg, 10_000)
    .action(async (flags: RouterClientFlags & { timeoutMs: number }) => {
      const client = routerClient(flags);
      try {
        process.stdout.write(JSON.stringify(await client.snapshotInfo(flags.timeoutMs), null, 2) + '\n');
      } catch (err) {
        throw explainRouterError(err, flags.router);
      } finally {
        client.close();
      }
    });
}
