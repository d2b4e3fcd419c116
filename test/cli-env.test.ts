/**
 * Every flag of every command reads `SHARDFLEET_<FLAG>` (README "Command line"): the real CLI in a
 * child process, with the variables in its environment. A flag on the command line wins over
 * the variable, which wins over the default; on/off flags take true/false; `--help` names the
 * variables.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { allOptions, envVarForOption, parseOnOffEnv } from '../src/cli/env-options.ts';
import { buildProgram } from '../src/cli/program.ts';
import { ConfigValidationError } from '../src/common/errors.ts';
import { CURRENT_KEY } from '../src/common/manifest.ts';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { tempDir, TINY_JSONL } from './helpers/fixtures.ts';

const BIN = fileURLToPath(new URL('../bin/shardfleet.js', import.meta.url));
const run = promisify(execFile);

/** The environment without any SHARDFLEET_* variable of the caller, plus `env`. */
function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHARDFLEET_')) out[k] = v;
  return { ...out, SHARDFLEET_LOG_LEVEL: 'error', ...env };
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: cleanEnv(env) });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

interface ManifestView {
  sharding: { num_dbs: number; num_probes: number; strategy: string };
  index: { metric: string };
}

async function currentManifest(storePath: string): Promise<ManifestView> {
  const store = new FileObjectStore(storePath);
  const current = JSON.parse((await store.get(CURRENT_KEY)).toString('utf8')) as { manifest_ref: string };
  return JSON.parse((await store.get(current.manifest_ref)).toString('utf8')) as ManifestView;
}

/**
 * The documented exceptions to the rule (README "Command line"): `get --vector` (print stored
 * vectors, on/off) reads SHARDFLEET_GET_VECTOR, since SHARDFLEET_VECTOR is search's query vector.
 */
const ENV_EXCEPTIONS = new Map([['get --vector', 'SHARDFLEET_GET_VECTOR']]);

test('every option of every command reads SHARDFLEET_<FLAG> (long flag upper-cased, dashes to underscores; --no-x reads SHARDFLEET_X)', () => {
  const options = allOptions(buildProgram());
  assert.ok(options.length > 100, `only ${options.length} options found`);
  for (const [path, option] of options) {
    if (path === '' && option.long === '--version') {
      assert.equal(option.envVar, undefined, '--version reads no variable');
      continue;
    }
    assert.ok(option.long, `${path}: ${option.flags} has a long flag`);
    const expected = ENV_EXCEPTIONS.get(`${path} ${option.long}`) ?? envVarForOption(option);
    assert.equal(option.envVar, expected, `shardfleet ${path} ${option.long}`);
  }
  const byFlag = new Map(options.map(([path, o]) => [`${path} ${o.long}`, o.envVar]));
  assert.equal(byFlag.get('build --num-dbs'), 'SHARDFLEET_NUM_DBS');
  assert.equal(byFlag.get('search --no-payload'), 'SHARDFLEET_PAYLOAD');
  assert.equal(byFlag.get('serve router --no-hedge'), 'SHARDFLEET_HEDGE');
  assert.equal(byFlag.get('local --store'), 'SHARDFLEET_STORE');
  assert.equal(byFlag.get('build --s3-force-path-style'), 'SHARDFLEET_S3_FORCE_PATH_STYLE');
  assert.equal(byFlag.get('search --vector'), 'SHARDFLEET_VECTOR');
  assert.equal(byFlag.get('get --vector'), 'SHARDFLEET_GET_VECTOR');
});

test('build reads SHARDFLEET_NUM_DBS, SHARDFLEET_METRIC and SHARDFLEET_STORE; a flag beats the variable', async () => {
  const dir = await tempDir('cli-env-build');
  try {
    const fromEnv = join(dir.path, 'env');
    const out = await cli(['build', '--input', TINY_JSONL, '--num-probes', '1', '--no-progress'], {
      SHARDFLEET_STORE: fromEnv,
      SHARDFLEET_NUM_DBS: '3',
      SHARDFLEET_METRIC: 'cosine',
    });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /40 vectors, 3 shards/);
    const m = await currentManifest(fromEnv);
    assert.equal(m.sharding.num_dbs, 3);
    assert.equal(m.index.metric, 'cosine');
    assert.equal(m.sharding.num_probes, 1);

    const flags = join(dir.path, 'flags');
    const both = await cli(['build', '--store', flags, '--input', TINY_JSONL, '--num-dbs', '2', '--metric', 'l2', '--num-probes', '1'], {
      SHARDFLEET_STORE: join(dir.path, 'not-this-one'),
      SHARDFLEET_NUM_DBS: '3',
      SHARDFLEET_METRIC: 'cosine',
      SHARDFLEET_PROGRESS: 'false',
    });
    assert.equal(both.code, 0, both.stderr);
    const m2 = await currentManifest(flags);
    assert.equal(m2.sharding.num_dbs, 2, '--num-dbs beats SHARDFLEET_NUM_DBS');
    assert.equal(m2.index.metric, 'l2', '--metric beats SHARDFLEET_METRIC');
    assert.equal(await new FileObjectStore(join(dir.path, 'not-this-one')).rootProblem(), `store folder ${join(dir.path, 'not-this-one')} does not exist`);

    const bad = await cli(['build', '--store', flags, '--input', TINY_JSONL], { SHARDFLEET_NUM_DBS: 'eight' });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /option '--num-dbs <n>' value 'eight' from env 'SHARDFLEET_NUM_DBS' is invalid\. "eight" is not a non-negative integer/);
    const badChoice = await cli(['build', '--store', flags, '--input', TINY_JSONL], { SHARDFLEET_METRIC: 'manhattan' });
    assert.equal(badChoice.code, 1);
    assert.match(badChoice.stderr, /from env 'SHARDFLEET_METRIC'/);
  } finally {
    await dir.remove();
  }
});

test('on/off flags read true/false from their variable: SHARDFLEET_JSON=true is --json, a flag still wins, other values are errors', async () => {
  const dir = await tempDir('cli-env-bool');
  try {
    const storePath = join(dir.path, 'store');
    const built = await cli(['build', '--store', storePath, '--input', TINY_JSONL, '--num-dbs', '2', '--num-probes', '1', '--no-progress']);
    assert.equal(built.code, 0, built.stderr);
    const isJson = (s: string): boolean => s.trimStart().startsWith('[');
    for (const value of ['true', 'YES']) {
      const out = await cli(['history', '--store', storePath], { SHARDFLEET_JSON: value });
      assert.equal(out.code, 0, out.stderr);
      assert.ok(isJson(out.stdout), `SHARDFLEET_JSON=${value}: ${out.stdout}`);
    }
    for (const value of ['false', 'Off']) {
      const out = await cli(['history', '--store', storePath], { SHARDFLEET_JSON: value });
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /^\s+run_id\s+created/, `SHARDFLEET_JSON=${value} prints the table`);
    }
    const flagWins = await cli(['history', '--store', storePath, '--json'], { SHARDFLEET_JSON: 'false' });
    assert.ok(isJson(flagWins.stdout), '--json beats SHARDFLEET_JSON=false');
    for (const value of ['maybe', '']) {
      const out = await cli(['history', '--store', storePath], { SHARDFLEET_JSON: value });
      assert.equal(out.code, 1, `SHARDFLEET_JSON=${JSON.stringify(value)}`);
      assert.match(out.stderr, new RegExp(`ConfigValidationError: SHARDFLEET_JSON=${JSON.stringify(value)} \\(--json\\) is not true or false`));
    }
    // A negatable flag: --no-progress is SHARDFLEET_PROGRESS=false; SHARDFLEET_PROGRESS=true keeps the default.
    const negatable = await cli(['build', '--store', storePath, '--input', TINY_JSONL, '--num-dbs', '2', '--num-probes', '1'], { SHARDFLEET_PROGRESS: 'perhaps' });
    assert.equal(negatable.code, 1);
    assert.match(negatable.stderr, /SHARDFLEET_PROGRESS="perhaps" \(--no-progress\) is not true or false/);
  } finally {
    await dir.remove();
  }
});

test('on/off variable values: true/1/yes/on and false/0/no/off in any case; anything else names the variable and the flag', () => {
  for (const v of ['true', '1', 'yes', 'on', 'TRUE', ' On ']) assert.equal(parseOnOffEnv('SHARDFLEET_JSON', v, '--json'), true, v);
  for (const v of ['false', '0', 'no', 'off', 'False', 'OFF']) assert.equal(parseOnOffEnv('SHARDFLEET_JSON', v, '--json'), false, v);
  for (const v of ['', ' ', '2', 'y', 'enabled']) {
    assert.throws(() => parseOnOffEnv('SHARDFLEET_JSON', v, '--json'), (err: Error) => err instanceof ConfigValidationError && err.message.startsWith(`SHARDFLEET_JSON=${JSON.stringify(v)} (--json) is not true or false`));
  }
});

/**
 * The help of `shardfleet <cmd...>`, whitespace collapsed (commander wraps it to the terminal
 * width). In-process, from the same command tree the CLI parses; `search --help` is also run as
 * a real process below.
 */
function helpOf(...cmd: string[]): string {
  let c: Command = buildProgram();
  for (const name of cmd) {
    const sub = c.commands.find((s) => s.name() === name);
    assert.ok(sub, `no command ${cmd.join(' ')}`);
    c = sub;
  }
  return c.helpInformation().replace(/\s+/g, ' ');
}

test('--help of every command names each variable; on/off ones with the value that equals the flag', async () => {
  const help = async (...cmd: string[]): Promise<string> => helpOf(...cmd);
  const real = await cli(['search', '--help']);
  assert.equal(real.code, 0, real.stderr);
  assert.equal(real.stdout.replace(/\s+/g, ' '), helpOf('search'), 'the real CLI prints the same help');
  const build = await help('build');
  assert.match(build, /--num-dbs <n> number of shards .*?\(env: SHARDFLEET_NUM_DBS\)/);
  assert.match(build, /--metric <metric> distance metric \(choices: .*?, default: "l2", env: SHARDFLEET_METRIC\)/);
  assert.match(build, /--store <url> .*?\(env: SHARDFLEET_STORE\)/);
  assert.match(build, /--no-progress no progress bars \(env: SHARDFLEET_PROGRESS=false\)/);
  assert.match(build, /--plan .*?\(env: SHARDFLEET_PLAN=true\)/);
  const search = await help('search');
  assert.match(search, /--router <host:port> router address \(env: SHARDFLEET_ROUTER\)/);
  assert.match(search, /--top-k <n> results \(default: 10, env: SHARDFLEET_TOP_K\)/);
  assert.match(search, /--no-payload omit payloads \(env: SHARDFLEET_PAYLOAD=false\)/);
  assert.match(search, /--auth-token-file <file\|env:NAME> .*?\(env: SHARDFLEET_AUTH_TOKEN_FILE\)/);
  assert.match(search, /--tls-server-name <name> .*?\(env: SHARDFLEET_TLS_SERVER_NAME\)/);
  assert.match(search, /-h, --help display help for command( |$)/, '--help reads no variable');
  assert.match(await help('info'), /--tls-ca <file> .*?\(env: SHARDFLEET_TLS_CA\)/);
  assert.match(await help('history'), /--json print JSON instead of a table \(env: SHARDFLEET_JSON=true\)/);
  assert.match(await help('rollback'), /--offset <n> .*?\(env: SHARDFLEET_OFFSET\)/);
  assert.match(await help('cleanup'), /--keep-runs <n> .*?\(env: SHARDFLEET_KEEP_RUNS\)/);
  assert.match(await help('publish'), /--run-id <id> the planned run \(env: SHARDFLEET_RUN_ID\)/);
  const local = await help('local');
  assert.match(local, /--num-nodes <n> shard nodes \(default: 2, env: SHARDFLEET_NUM_NODES\)/);
  assert.match(local, /--store <url> .*?\(env: SHARDFLEET_STORE\)/);
  assert.match(await help('serve', 'router'), /--no-hedge do not hedge slow node calls to a second replica \(env: SHARDFLEET_HEDGE=false\)/);
  const root = await help();
  assert.match(root, /-V, --version output the version number -h, --help/, '--version reads no variable');
});
