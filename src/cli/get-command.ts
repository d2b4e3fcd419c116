/**
 * `shardfleet get`: point lookups through a router (MultiGet), one JSON object per key on stdout,
 * in the order of the `--key` flags.
 */
import { Option, type Command } from 'commander';
import { ConfigValidationError } from '../common/errors.ts';
import type { GetResult, LookupKey } from '../client/router-client.ts';
import { intArg } from './arg-parsers.ts';
import { ShardfleetCommand } from './env-options.ts';
import { addRouterClientOptions, fractionArg, parseRoutingContext, withRouterClient, type RouterClientFlags } from './search-command.ts';

interface GetFlags extends RouterClientFlags {
  key: string[];
  routingContext?: string;
  vector: boolean;
  minCoverage: number;
  timeoutMs: number;
}

/** One line of `get` output. */
export interface GetOutputLine {
  /** The key as given on the command line. */
  key: string;
  found: boolean;
  /** The value: UTF-8 text when it is valid UTF-8, else base64 (see `value_encoding`); null when not found. */
  value: string | null;
  value_encoding?: 'utf8' | 'base64';
  /** The record's payload (parsed JSON), or null. */
  payload: unknown;
  id?: string;
  db_id: number;
  vector?: number[];
  /** Why the key could not be looked up (its shard had no answering replica). */
  error?: string;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The value of a result as text: UTF-8 when the bytes are valid UTF-8, else base64.
 */
export function valueText(bytes: Uint8Array): { value: string; value_encoding: 'utf8' | 'base64' } {
  try {
    return { value: fatalUtf8.decode(bytes), value_encoding: 'utf8' };
  } catch {
    return { value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'), value_encoding: 'base64' };
  }
}

/**
 * A `--key` value as the snapshot's key type wants it: a string as is, an int in decimal, bytes in
 * base64 (the text form a KV record's id has).
 * @throws ConfigValidationError naming --key for an int key that is not a decimal integer or a
 *   bytes key that is not base64.
 */
export function parseKeyFlag(text: string, keyType: string): LookupKey {
  if (keyType === 'int') {
    if (!/^-?\d{1,20}$/.test(text)) throw new ConfigValidationError(`--key ${JSON.stringify(text)}: this snapshot's keys are integers; give a decimal integer`);
    return BigInt(text);
  }
  if (keyType === 'bytes') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0 || text.length === 0) {
      throw new ConfigValidationError(`--key ${JSON.stringify(text)}: this snapshot's keys are bytes; give them in base64`);
    }
    return Buffer.from(text, 'base64');
  }
  return text;
}

/** The output line of one result. */
export function getOutputLine(given: string, r: GetResult, withVector: boolean): GetOutputLine {
  const line: GetOutputLine = { key: given, found: r.found, value: null, payload: null, db_id: r.db_id };
  if (r.error !== '') return { ...line, found: false, error: r.error };
  if (!r.found) return line;
  Object.assign(line, valueText(r.value));
  line.payload = r.payload_json === '' ? null : (JSON.parse(r.payload_json) as unknown);
  line.id = r.id;
  if (withVector && r.vector.length > 0) {
    const v = Buffer.from(r.vector);
    line.vector = Array.from(new Float32Array(v.buffer, v.byteOffset, v.byteLength / 4));
  }
  return line;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The `get` command. */
export function getCommand(): Command {
  const cmd = new ShardfleetCommand('get').description(
    'look keys up through a router (MultiGet) and print one JSON object per key, in --key order: {"key", "found", "value", "value_encoding", "payload", ...}; a KV snapshot looks up its keys (int keys in decimal, bytes keys in base64), a vector-only snapshot its record ids',
  );
  return addRouterClientOptions(cmd)
    .requiredOption('--key <key>', 'a key to look up (repeat for more)', collect)
    .option('--routing-context <json>', 'cel sharding: routing context of the keys as a JSON object, e.g. \'{"region":"eu"}\'')
    // Its own variable: SHARDFLEET_VECTOR is search's query vector (a JSON array), not an on/off flag.
    .addOption(new Option('--vector', "also print each found record's stored vector").env('SHARDFLEET_GET_VECTOR'))
    .option('--min-coverage <fraction>', 'fraction (0..1] of the keys that must be answered; above it, keys whose shard could not answer print with "error" (0 = every key)', fractionArg, 0)
    .option('--timeout-ms <ms>', 'call deadline', intArg, 10_000)
    .action(async (flags: GetFlags) => {
      await withRouterClient(flags, async (client) => {
        const info = await client.snapshotInfo(flags.timeoutMs, flags.collection);
        const keys = flags.key.map((k) => parseKeyFlag(k, info.kv_key_type));
        const res = await client.multiGet({
          keys,
          routing_context: flags.routingContext === undefined ? undefined : parseRoutingContext(flags.routingContext),
          include_vector: flags.vector ?? false,
          min_coverage: flags.minCoverage,
          timeout_ms: flags.timeoutMs,
          collection: flags.collection,
        });
        const out = res.results.map((r, i) => JSON.stringify(getOutputLine(flags.key[i], r, flags.vector ?? false)));
        process.stdout.write(out.join('\n') + '\n');
        if (res.partial) {
          const failed = res.results.filter((r) => r.error !== '').length;
          process.stderr.write(`shardfleet: partial answer: ${failed} of ${res.results.length} keys could not be looked up (see "error")\n`);
        }
      });
    });
}
