/**
 * Every flag of every `shardfleet` command also reads an environment variable,
 * `SHARDFLEET_<FLAG>`: the long flag name without its dashes, upper-cased, inner dashes as
 * underscores (`--num-dbs` -> `SHARDFLEET_NUM_DBS`; a negatable `--no-payload` ->
 * `SHARDFLEET_PAYLOAD`). commander's precedence applies: a flag on the command line wins over the
 * variable, which wins over the default. `--help` lists each variable (`(env: SHARDFLEET_...)`).
 *
 * Commands are built as {@link ShardfleetCommand}s, which give every option that has no
 * variable yet its `SHARDFLEET_<FLAG>` variable when the option is added. It has to be then:
 * commander registers an option's environment listener in `addOption`, so an `.env()` set on an
 * option afterwards is shown in `--help` but never read.
 *
 * On/off flags: commander itself treats a boolean option's variable as "set = flag given" whatever
 * its value (so `SHARDFLEET_HEDGE=true` would turn hedging off). Here the value counts instead:
 * `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off` (any case) set the option's value, so
 * `--json` is `SHARDFLEET_JSON=true` and `--no-payload` is `SHARDFLEET_PAYLOAD=false`; `--help`
 * shows the setting that equals the flag. Any other value (also an empty one) is an error naming
 * the variable and the flag.
 */
import { Command, Help, Option } from 'commander';
import { ConfigValidationError } from '../common/errors.ts';

/** Prefix of every variable. */
export const ENV_PREFIX = 'SHARDFLEET_';

const TRUE_VALUES = new Set(['true', '1', 'yes', 'on']);
const FALSE_VALUES = new Set(['false', '0', 'no', 'off']);

/**
 * The environment variable of a long flag: `--num-dbs` -> `SHARDFLEET_NUM_DBS`; a negatable
 * `--no-payload` -> `SHARDFLEET_PAYLOAD` (set it to `false` for the flag's effect).
 * @returns undefined for an option without a long flag (nothing to name the variable after).
 */
export function envVarForOption(option: Option): string | undefined {
  if (option.long === undefined) return undefined;
  const name = option.negate ? option.long.replace(/^--no-/, '') : option.long.replace(/^--/, '');
  return ENV_PREFIX + name.toUpperCase().replace(/-/g, '_');
}

/** True for an option that takes no value (`--json`, `--no-payload`). */
function isOnOff(option: Option): boolean {
  return !option.required && !option.optional;
}

/**
 * Parses the value of an on/off flag's variable.
 * @param variable the variable's name and `flag` the flag, both named in the error.
 * @returns true for `true`/`1`/`yes`/`on`, false for `false`/`0`/`no`/`off` (any case, surrounding
 *   whitespace ignored).
 * @throws ConfigValidationError naming the variable and the flag for any other value, also an
 *   empty one.
 */
export function parseOnOffEnv(variable: string, value: string, flag: string): boolean {
  const v = value.trim().toLowerCase();
  if (TRUE_VALUES.has(v)) return true;
  if (FALSE_VALUES.has(v)) return false;
  throw new ConfigValidationError(
    `${variable}=${JSON.stringify(value)} (${flag}) is not true or false (also accepted: 1/0, yes/no, on/off); unset it for the default`,
  );
}

/**
 * Replaces commander's "variable set = flag given" for the on/off options of `cmd` whose value
 * came from their variable by the value the variable holds (see the module comment).
 * @throws ConfigValidationError naming the variable and the flag for a value that is not a boolean.
 */
export function applyOnOffEnv(cmd: Command, env: NodeJS.ProcessEnv = process.env): void {
  for (const option of cmd.options) {
    if (option.envVar === undefined || !isOnOff(option)) continue;
    const key = option.attributeName();
    if (cmd.getOptionValueSource(key) !== 'env') continue;
    cmd.setOptionValueWithSource(key, parseOnOffEnv(option.envVar, env[option.envVar] ?? '', option.long ?? option.flags), 'env');
  }
}

/** Help that shows an on/off flag's variable with the value that equals the flag. */
class ShardfleetHelp extends Help {
  override optionDescription(option: Option): string {
    const text = super.optionDescription(option);
    if (option.envVar === undefined || !isOnOff(option)) return text;
    return text.replace(`env: ${option.envVar})`, `env: ${option.envVar}=${option.negate ? 'false' : 'true'})`);
  }
}

/**
 * A commander Command whose options all read `SHARDFLEET_<FLAG>` (see the module comment).
 * Options that already name a variable keep it. `--help` and `--version` are not options of this
 * kind (commander handles them itself) and read no variable.
 */
export class ShardfleetCommand extends Command {
  constructor(name?: string) {
    super(name);
    // Each command fixes its own on/off options (commander runs the hooks of the action's
    // command and of every ancestor, each with itself as the first argument).
    this.hook('preAction', (self) => applyOnOffEnv(self));
  }

  /** Adds `option`, first giving it its `SHARDFLEET_<FLAG>` variable when it has none. */
  override addOption(option: Option): this {
    if (option.envVar === undefined) {
      const variable = envVarForOption(option);
      if (variable !== undefined) option.env(variable);
    }
    return super.addOption(option);
  }

  /** Subcommands made with `.command(name)` are ShardfleetCommands too. */
  override createCommand(name?: string): Command {
    return new ShardfleetCommand(name);
  }

  /** Help that shows on/off variables as `SHARDFLEET_JSON=true` / `SHARDFLEET_PAYLOAD=false`. */
  override createHelp(): Help {
    return Object.assign(new ShardfleetHelp(), this.configureHelp());
  }
}

/**
 * Every option of `program` and its subcommands (recursively) with the command path that has it,
 * e.g. `['serve router', Option]`; for checks that every option reads its variable.
 */
export function allOptions(program: Command): [string, Option][] {
  const out: [string, Option][] = [];
  const walk = (cmd: Command, path: string): void => {
    for (const option of cmd.options) out.push([path, option]);
    for (const sub of cmd.commands) walk(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
  };
  walk(program, '');
  return out;
}
