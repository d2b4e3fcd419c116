/**
 * Starts a real S3-protocol server (s3rver, see `./s3rver-process.ts`) in a child process for
 * integration tests.
 *
 * ```ts
 * const s3 = await startS3rver();
 * const store = openObjectStore(s3.url('run-1'), s3.connection);   // in this process
 * spawn(cmd, args, { env: { ...process.env, ...s3.env } });          // in a child process
 * await s3.stop();
 * ```
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { S3ConnectionOptions } from '../../src/common/storage/s3-object-store.ts';

/** A running s3rver. */
export interface S3rverHandle {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** The bucket that exists at start-up (`shardfleet-test`). */
  bucket: string;
  /** `s3://<bucket>/<prefix>` (or `s3://<bucket>` for an empty prefix). */
  url(prefix: string): string;
  /**
   * AWS environment for child processes: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (`S3RVER`),
   * AWS_REGION (`us-east-1`) and AWS_ENDPOINT_URL_S3 (= endpoint). With an endpoint from the
   * environment, S3ObjectStore defaults to path-style URLs, which s3rver needs.
   */
  env: Record<string, string>;
  /** Connection options for an in-process S3ObjectStore / openObjectStore (path-style). */
  connection: S3ConnectionOptions;
  /** Kills the server (SIGTERM, then SIGKILL after 5 s) and removes its data folder. */
  stop(): Promise<void>;
}

const BUCKET = 'shardfleet-test';
const START_TIMEOUT_MS = 30_000;

/**
 * Creates a temp data folder and starts `s3rver-process.ts` in a child Node process (with the tsx
 * loader resolved from this repo, so it works from any cwd, and `--openssl-legacy-provider` in
 * NODE_OPTIONS for list pagination). Resolves once the server listens.
 * @throws Error when the process exits or prints nothing within 30 s (stderr is included).
 */
export async function startS3rver(): Promise<S3rverHandle> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'shardfleet-s3rver-'));
  const script = fileURLToPath(new URL('./s3rver-process.ts', import.meta.url));
  const tsxLoader = import.meta.resolve('tsx');
  const nodeOptions = [process.env.NODE_OPTIONS ?? '', '--openssl-legacy-provider'].join(' ').trim();
  const child = spawn(process.execPath, ['--import', tsxLoader, script, dataDir], {
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let port: number;
  try {
    port = await waitForPort(child);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  // Drain the pipes, and let a test that forgets stop() still exit: the child then sees its
  // stdin close and exits by itself.
  child.stdout?.resume();
  child.stderr?.resume();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as { unref?: () => void } | null)?.unref?.();
  child.unref();
  const endpoint = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    bucket: BUCKET,
    url: (prefix) => {
      const p = prefix.replace(/^\/+|\/+$/g, '');
      return p === '' ? `s3://${BUCKET}` : `s3://${BUCKET}/${p}`;
    },
    env: {
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_S3: endpoint,
    },
    connection: {
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
    },
    stop: () => {
      stopped ??= (async () => {
        await killAndWait(child);
        await rm(dataDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/** Resolves with the port from the child's `{"port": N}` line. */
function waitForPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => fail(new Error(`s3rver did not start within ${START_TIMEOUT_MS} ms\n${stderr}`)), START_TIMEOUT_MS);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onStdout);
      child.stderr?.off('data', onStderr);
      child.off('exit', onExit);
      child.off('error', fail);
    };
    function fail(err: Error): void {
      cleanup();
      reject(err);
    }
    function onStdout(chunk: Buffer): void {
      stdout += chunk.toString('utf8');
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      try {
        const parsed: unknown = JSON.parse(stdout.slice(0, nl));
        const p = (parsed as { port?: unknown }).port;
        if (typeof p !== 'number') throw new Error('no port');
        cleanup();
        resolve(p);
      } catch {
        fail(new Error(`s3rver printed an unexpected line: ${stdout.slice(0, nl)}\n${stderr}`));
      }
    }
    function onStderr(chunk: Buffer): void {
      stderr += chunk.toString('utf8');
    }
    function onExit(code: number | null, signal: NodeJS.Signals | null): void {
      fail(new Error(`s3rver exited before listening (code ${code}, signal ${signal})\n${stderr}`));
    }
    child.stdout?.on('data', onStdout);
    child.stderr?.on('data', onStderr);
    child.on('exit', onExit);
    child.on('error', fail);
  });
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. */
function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
