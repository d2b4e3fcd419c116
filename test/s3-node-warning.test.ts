/**
 * Issue 23, Found 6: creating an S3 store on Node < 22 printed the AWS SDK's 8-line
 * NodeVersionSupportWarning. shardfleet sets the SDK's own switch
 * (AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED) unless the environment sets it; `false` brings
 * the warning back. Each case is a fresh Node process (the SDK warns once per process).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const STORE_MODULE = new URL('../src/common/storage/open-object-store.ts', import.meta.url).href;
const SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** stderr of a process that opens an s3:// store (no request is sent). */
async function stderrOfOpeningS3(env: Record<string, string | undefined>): Promise<string> {
  const script = `const { openObjectStore } = await import(${JSON.stringify(STORE_MODULE)}); await openObjectStore('s3://bucket/prefix', { region: 'us-east-1' }).close();`;
  const { stderr } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env });
  return stderr;
}

test('opening an S3 store prints no AWS SDK Node version warning', async () => {
  const env = { ...process.env };
  delete env[SWITCH];
  const stderr = await stderrOfOpeningS3(env);
  assert.doesNotMatch(stderr, /NodeVersionSupportWarning|require node >=/);
});

test(`${SWITCH}=false brings the warning back (Node < 22 only)`, { skip: NODE_MAJOR >= 22 ? 'the SDK warns on Node < 22 only' : false }, async () => {
  const stderr = await stderrOfOpeningS3({ ...process.env, [SWITCH]: 'false' });
  assert.match(stderr, /NodeVersionSupportWarning/);
});
