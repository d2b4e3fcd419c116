/**
 * Runs the real CLI (`bin/shardfleet.js`) as a child process, as a user would: no SHARDFLEET_*
 * variable of the test's own environment leaks in, logs at `error` unless `env` says otherwise.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The CLI entry point. */
export const CLI_BIN = fileURLToPath(new URL('../../bin/shardfleet.js', import.meta.url));
const run = promisify(execFile);

/** What a CLI run printed and its exit code (0 on success). */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `shardfleet <args>` with `env` added (60 s timeout) and returns its exit code and output;
 * a non-zero exit is returned, not thrown.
 */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SHARDFLEET_')) base[k] = v;
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_BIN, ...args], { env: { ...base, SHARDFLEET_LOG_LEVEL: 'error', ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
