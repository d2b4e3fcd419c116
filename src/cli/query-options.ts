/**
 * The query-input flags shared by the commands that route or search a query (`search`, `route`):
 * where the query vector comes from (`--vector`, `--vector-file`, `--idx` + `--idx-index`) and how
 * it is routed (`--num-probes`, `--shard-ids`, `--routing-context`, `--filter`), with their
 * parsers. Each flag reads `SHARDFLEET_<FLAG>` like every other (env-options.ts).
 */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { ConfigValidationError, errorMessage } from '../common/errors.ts';
import type { RoutingContext } from '../common/routing/routing-context.ts';
import { intArg } from './arg-parsers.ts';

// Checked by hand rather than with zod, and the IDX reader imported when used, so that
// `shardfleet --help` loads neither (bench:cli).

/** Values of the query-input flags (commander's camelCase names). */
export interface QueryInputFlags {
  vector?: string;
  vectorFile?: string;
  idx?: string;
  idxIndex: number;
  numProbes: number;
  shardIds?: string;
  routingContext?: string;
  filter?: string;
}

/**
 * Adds the query-vector flags (`--vector`, `--vector-file`, `--idx`, `--idx-index`) and the
 * routing flags (`--num-probes`, `--shard-ids`, `--routing-context`, `--filter`) to `cmd`.
 * @param between options added after `--num-probes` and before `--shard-ids` (search adds
 *   `--target-recall` there, so `--help` lists the routing flags together).
 */
export function addQueryInputOptions(cmd: Command, between: (cmd: Command) => Command = (c) => c): Command {
  cmd
    .option('--vector <json>', 'query vector as a JSON array')
    .option('--vector-file <path>', 'file holding the query vector as a JSON array')
    .option('--idx <path>', 'take the query from an IDX images file (e.g. Fashion-MNIST t10k)')
    .option('--idx-index <n>', 'record of --idx to use', intArg, 0)
    .option('--num-probes <n>', 'shards to probe (0 = snapshot default)', intArg, 0);
  return between(cmd)
    .option('--shard-ids <list>', 'comma-separated shard ids (required for explicit sharding; overrides routing otherwise)')
    .option('--routing-context <json>', 'cel sharding: routing context as a JSON object, e.g. \'{"region":"eu"}\'')
    .option('--filter <cel>', 'pre-filter over the snapshot\'s filter columns (see `shardfleet info`), e.g. \'label_name == "Shirt" && label < 5\'');
}

/**
 * The query vector the flags name: record `--idx-index` of `--idx`, else `--vector`, else the
 * JSON array in `--vector-file`.
 * @throws ConfigValidationError naming the flag when none is given, the file cannot be read or
 *   the JSON is not a finite vector (see {@link parseVectorJson}); the IDX reader's error for a
 *   bad `--idx`.
 */
export async function queryVector(flags: QueryInputFlags): Promise<Float32Array> {
  if (flags.idx !== undefined) {
    const { readIdxHeader } = await import('../writer/input/idx-format.ts');
    const records = (await readIdxHeader(flags.idx, 'images')).sizes[0];
    if (flags.idxIndex >= records) {
      throw new ConfigValidationError(`--idx-index ${flags.idxIndex} is past the end of --idx ${flags.idx}, which has ${records} records (0..${records - 1})`);
    }
    const { readIdxImages } = await import('../writer/input/idx-source.ts');
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
 * The routing part of the flags as client parameters: `num_probes`, `shard_ids` (parsed from
 * `--shard-ids`), `routing_context` (parsed from `--routing-context`) and `filter`.
 * @throws InvalidArgumentError for a shard id that is not an integer; ConfigValidationError for
 *   a bad `--routing-context`.
 */
export function routingParams(flags: QueryInputFlags): { num_probes: number; shard_ids?: number[]; routing_context?: RoutingContext; filter?: string } {
  return {
    num_probes: flags.numProbes,
    shard_ids: flags.shardIds?.split(',').map((s) => intArg(s)),
    routing_context: flags.routingContext === undefined ? undefined : parseRoutingContext(flags.routingContext),
    filter: flags.filter,
  };
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
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every((x) => typeof x === 'number')) {
    throw new ConfigValidationError(`${where} must be a non-empty JSON array of numbers, e.g. [0.1, 0.2]`);
  }
  const numbers = raw as number[];
  const vector = Float32Array.from(numbers);
  const bad = vector.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new ConfigValidationError(`${where}: element ${bad} (${numbers[bad]}) is not a finite float32`);
  return vector;
}

/** Parses `--routing-context` (a JSON object of scalars). @throws ConfigValidationError. */
export function parseRoutingContext(text: string): RoutingContext {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigValidationError(`--routing-context is not JSON: ${text}`);
  }
  const scalar = (v: unknown): boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !Object.values(raw).every(scalar)) {
    throw new ConfigValidationError('--routing-context must be a JSON object of strings, numbers and booleans');
  }
  return raw as RoutingContext;
}
