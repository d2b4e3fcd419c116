/**
 * The request-limit flags (src/common/request-limits.ts) of `serve router` and `serve node`: the
 * same flags on both, so an operator raising a limit sets one value (Helm: `requestLimits.*`,
 * passed to routers and nodes alike). Each also reads `SHARDFLEET_<FLAG>`.
 */
import { Option, type Command } from 'commander';
import { DEFAULT_REQUEST_LIMITS, REQUEST_LIMIT_FLAGS, type RequestLimits } from '../common/request-limits.ts';
import { intArg } from './arg-parsers.ts';

/** The flag values (undefined = the default). */
export type RequestLimitFlags = Partial<RequestLimits>;

const DESCRIPTIONS: Record<keyof RequestLimits, string> = {
  maxFilterLength: 'longest filter text, characters (its compiled form: up to 64 x)',
  maxFilterDepth: 'deepest filter nesting: brackets, ! and -, and / or / not levels',
  maxFilterTerms: 'most terms of one compiled filter',
  maxFilterInValues: 'most values over all "in" lists of one filter',
  maxGetKeys: 'most keys one MultiGet may carry (nodes: keys per shard lookup)',
  maxKeyBytes: 'longest Get / MultiGet key, bytes',
  maxRunLeases: 'most run leases one Status / Refresh call may carry',
};

/**
 * Adds the request-limit flags to `cmd`: every one for a node; a router skips `--max-run-leases`
 * (only nodes check it) and `--max-get-keys` (the router defines it with its MultiGet wording).
 * Over a limit, a request is INVALID_ARGUMENT naming the limit and the flag.
 */
export function addRequestLimitOptions(cmd: Command, role: 'router' | 'node'): Command {
  for (const key of Object.keys(DESCRIPTIONS) as Array<keyof RequestLimits>) {
    if (role === 'router' && (key === 'maxRunLeases' || key === 'maxGetKeys')) continue;
    const flag = REQUEST_LIMIT_FLAGS[key];
    const shared = key === 'maxRunLeases' ? '' : '; set routers and nodes alike';
    cmd.addOption(new Option(`${flag} <n>`, `${DESCRIPTIONS[key]} (more: INVALID_ARGUMENT; default ${DEFAULT_REQUEST_LIMITS[key]}${shared})`).argParser(intArg));
  }
  return cmd;
}

/** The request limits given on the command line (commander's camel-case option names). */
export function requestLimitsFromFlags(flags: RequestLimitFlags): Partial<RequestLimits> {
  const out: Partial<RequestLimits> = {};
  for (const key of Object.keys(DESCRIPTIONS) as Array<keyof RequestLimits>) {
    const v = flags[key];
    if (v !== undefined) out[key] = v;
  }
  return out;
}
