/**
 * `shardfleet search` and `shardfleet info`: query a router from the command line.
 */
import { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigValidationError, errorMessage } from '../common/errors.ts';
import type { RoutingContext } from '../common/routing/routing-context.ts';
import { ShardfleetClient } from '../client/router-client.ts';
import { readIdxImages } from '../writer/input/idx-source.ts';
import { intArg } from './arg-parsers.ts';

const VectorJson = z.array(z.number());

interface SearchFlags {
  router: string;
  vector?: string;
  vectorFile?: string;
  idx?: string;
  idxIndex: number;
  topK: number;
  numProbes: number;
  shardIds?: string;
  routingContext?: string;
  nprobes: number;
  ef: number;
  refineFactor: number;
  payload: boolean;
  timeoutMs: number;
}

async function queryVector(flags: SearchFlags): Promise<Float32Array> {
  if (flags.idx !== undefined) {
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
function parseRoutingContext(text: string): RoutingContext {
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

/** The `search` command. */
export function searchCommand(): Command {
  return new Command('search')
    .description('search through a router and print the results as JSON')
    .requiredOption('--router <host:port>', 'router address')
    .option('--vector <json>', 'query vector as a JSON array')
    .option('--vector-file <path>', 'file holding the query vector as a JSON array')
    .option('--idx <path>', 'take the query from an IDX images file (e.g. Fashion-MNIST t10k)')
    .option('--idx-index <n>', 'record of --idx to use', intArg, 0)
    .option('--top-k <n>', 'results', intArg, 10)
    .option('--num-probes <n>', 'shards to probe (0 = snapshot default)', intArg, 0)
    .option('--shard-ids <list>', 'comma-separated shard ids (required for explicit sharding; overrides routing otherwise)')
    .option('--routing-context <json>', 'cel sharding: routing context as a JSON object, e.g. \'{"region":"eu"}\'')
    .option('--nprobes <n>', 'IVF partitions to probe per shard (0 = default)', intArg, 0)
    .option('--ef <n>', 'HNSW beam width per shard (0 = default)', intArg, 0)
    .option('--refine-factor <n>', 're-rank top-k * n candidates exactly (0 = default)', intArg, 0)
    .option('--no-payload', 'omit payloads')
    .option('--timeout-ms <ms>', 'call deadline', intArg, 10_000)
    .action(async (flags: SearchFlags) => {
      const client = new ShardfleetClient(flags.router);
      try {
        const res = await client.search({
          vector: await queryVector(flags),
          topK: flags.topK,
          numProbes: flags.numProbes,
          shardIds: flags.shardIds?.split(',').map((s) => intArg(s)),
          routingContext: flags.routingContext === undefined ? undefined : parseRoutingContext(flags.routingContext),
          nprobes: flags.nprobes,
          ef: flags.ef,
          refineFactor: flags.refineFactor,
          includePayload: flags.payload,
          timeoutMs: flags.timeoutMs,
        });
        const results = res.results.map((h) => ({ id: h.id, score: h.score, payload: h.payload_json ? JSON.parse(h.payload_json) : undefined }));
        process.stdout.write(
          JSON.stringify({ run_id: res.run_id, shard_ids: res.shard_ids, latency_ms: +res.latency_ms.toFixed(3), results }, null, 2) + '\n',
        );
      } finally {
        client.close();
      }
    });
}

/** The `info` command. */
export function infoCommand(): Command {
  return new Command('info')
    .description('print the snapshot a router serves')
    .requiredOption('--router <host:port>', 'router address')
    .action(async (flags: { router: string }) => {
      const client = new ShardfleetClient(flags.router);
      try {
        process.stdout.write(JSON.stringify(await client.snapshotInfo(), null, 2) + '\n');
      } finally {
        client.close();
      }
    });
}
