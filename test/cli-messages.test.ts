/**
 * Messages a user meets on the command line (issue 23, Found 7): each names the flag, variable,
 * file or address it concerns. The CLI cases run the real `shardfleet` binary; the rest are
 * in-process.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../src/cli/free-port.ts';
import { connectFailureCause, explainRouterError, RouterUnreachableError } from '../src/cli/router-reach.ts';
import { ConfigValidationError } from '../src/common/errors.ts';
import { createLogger, logLevelFromEnv } from '../src/common/logger.ts';
import { detectVectorFormat } from '../src/writer/input/open-vector-source.ts';
import { runCli } from './helpers/run-cli.ts';
import { tempDir } from './helpers/fixtures.ts';

const cli = runCli;

describe('a router that cannot be reached', () => {
  test('search, info, get, status, shards and route say so, naming the address and --router', async () => {
    const port = await freePort(); // free, so nothing listens: connection refused
    const address = `127.0.0.1:${port}`;
    const expected = `cannot reach the router at ${address} (--router): connection refused; is it running?`;
    for (const args of [
      ['search', '--router', address, '--vector', '[1, 2]'],
      ['info', '--router', address],
      ['get', '--router', address, '--key', 'a'],
      ['status', '--router', address],
      ['shards', '--router', address],
      ['route', '--router', address, '--vector', '[1, 2]'],
    ]) {
      // SHARDFLEET_VECTOR is search's query vector; `get` has its own variable and must not read it.
      const out = await cli(args, { SHARDFLEET_VECTOR: '[1, 2]' });
      assert.equal(out.code, 1, `${args[0]}: ${out.stderr}`);
      assert.equal(out.stderr.trim(), `shardfleet: RouterUnreachableError: ${expected}`, args[0]);
    }
  });

  test('only failures to connect are rewritten', () => {
    const refused = { code: grpc.status.UNAVAILABLE, details: 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ', message: '' };
    assert.ok(explainRouterError(refused, '127.0.0.1:1') instanceof RouterUnreachableError);
    assert.equal(connectFailureCause(grpc.status.UNAVAILABLE, 'Name resolution failed for target dns:nowhere.invalid:5'), 'the host name does not resolve; is the address right?');
    assert.match(connectFailureCause(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded after 1.001s,Waiting for LB pick')!, /no connection before the deadline \(--timeout-ms\)/);
    // Sent by a router that was reached: passed through unchanged.
    const served = { code: grpc.status.UNAVAILABLE, details: 'only 1 of 4 probed shards answered (min_coverage 1)', message: '' };
    assert.equal(explainRouterError(served, '127.0.0.1:1'), served);
    assert.equal(connectFailureCause(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded after 1.001s,LB pick: 0.002s,remote_addr=127.0.0.1:5'), undefined);
    // A router's own UNAVAILABLE quoting a node it could not reach is the router's answer.
    const quoting = 'coverage 3/4 is below min_coverage 1: shard 1 (db=00001): node node-1 unreachable: Status failed: UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:9';
    assert.equal(connectFailureCause(grpc.status.UNAVAILABLE, quoting), undefined);
  });
});

describe('flags and variables named in messages', () => {
  test('SHARDFLEET_LOG_LEVEL: a bad level names the variable and the levels', async () => {
    assert.equal(logLevelFromEnv({}), 'info');
    assert.equal(logLevelFromEnv({ SHARDFLEET_LOG_LEVEL: ' Debug ' }), 'debug');
    const saved = process.env.SHARDFLEET_LOG_LEVEL;
    process.env.SHARDFLEET_LOG_LEVEL = 'verbose';
    try {
      assert.throws(() => createLogger('test', {}, { write: () => undefined }), /SHARDFLEET_LOG_LEVEL=verbose/);
    } finally {
      if (saved === undefined) delete process.env.SHARDFLEET_LOG_LEVEL;
      else process.env.SHARDFLEET_LOG_LEVEL = saved;
    }
    assert.throws(() => logLevelFromEnv({ SHARDFLEET_LOG_LEVEL: 'verbose' }), (err: Error) => {
      assert.ok(err instanceof ConfigValidationError);
      assert.equal(err.message, 'SHARDFLEET_LOG_LEVEL=verbose is not a log level; use one of trace, debug, info, warn, error, fatal, silent');
      return true;
    });
    const dir = await tempDir('log-level');
    try {
      const out = await cli(['build', '--store', dir.path, '--input', join(dir.path, 'in.jsonl')], { SHARDFLEET_LOG_LEVEL: 'verbose' });
      assert.equal(out.code, 1);
      assert.match(out.stderr, /SHARDFLEET_LOG_LEVEL=verbose is not a log level; use one of trace, debug, info/);
    } finally {
      await dir.remove();
    }
  });

  test('an input name of no known format names --format', () => {
    assert.throws(() => detectVectorFormat('/data/vectors.csv'), /cannot tell the input format of \/data\/vectors\.csv from its name; pass --format <format> or rename the file \(supported: idx/);
  });

  test('--idx-index past the end names the flag and the record count', async () => {
    const dir = await tempDir('idx-index');
    try {
      const header = Buffer.alloc(16);
      header.writeUInt32BE(2051, 0); // images magic
      header.writeUInt32BE(3, 4); // 3 records
      header.writeUInt32BE(2, 8);
      header.writeUInt32BE(2, 12);
      const images = join(dir.path, 'q-idx3-ubyte');
      await writeFile(images, Buffer.concat([header, Buffer.alloc(12, 1)]));
      for (const index of ['99999', '3']) {
        const out = await cli(['search', '--router', '127.0.0.1:1', '--idx', images, '--idx-index', index]);
        assert.equal(out.code, 1);
        assert.match(out.stderr, new RegExp(`--idx-index ${index} is past the end of --idx \\S+q-idx3-ubyte, which has 3 records \\(0\\.\\.2\\)`));
      }
    } finally {
      await dir.remove();
    }
  });
});
