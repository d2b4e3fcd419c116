/**
 * The compiled CLI (`npm run build` -> dist/, issue 23): dist/cli/main.js answers `--version` with
 * package.json's version and `--help` with the command list, and bin/shardfleet.js does too.
 * Skipped, with a line saying so, when dist/ has not been built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST_MAIN = `${ROOT}dist/cli/main.js`;
const BIN = `${ROOT}bin/shardfleet.js`;
const VERSION = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version;
const skip = existsSync(DIST_MAIN) ? false : 'dist/ is absent: run `npm run build` (npm ci runs it through the prepare script)';

test('compiled dist/cli/main.js --version prints package.json version', { skip }, async () => {
  const { stdout } = await run(process.execPath, [DIST_MAIN, '--version']);
  assert.equal(stdout.trim(), VERSION);
});

test('compiled dist/cli/main.js --help lists the commands', { skip }, async () => {
  const { stdout } = await run(process.execPath, [DIST_MAIN, '--help']);
  for (const command of ['build', 'serve', 'local', 'search', 'get', 'info', 'history', 'rollback', 'cleanup']) {
    assert.match(stdout, new RegExp(`^  ${command}\\b`, 'm'), `--help names ${command}`);
  }
});

test('bin/shardfleet.js --version prints package.json version', async () => {
  const { stdout } = await run(process.execPath, [BIN, '--version']);
  assert.equal(stdout.trim(), VERSION);
});
