/**
 * Python for the cross-language tests: Debian's `/usr/bin/python3` with Debian's gRPC packages
 * (a pyenv or venv `python3` on PATH does not see them). Tells which packages are missing, so a
 * test can skip with a line naming what to install, and runs scripts with a clean environment.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The interpreter the tests use. */
export const PYTHON = '/usr/bin/python3';

/** A Python module a test needs, and the Debian package that installs it. */
export interface PythonModule {
  module: string;
  debian: string;
}

/** grpcio and protobuf: enough for a reflection client that builds its types at run time. */
export const GRPC_RUNTIME: readonly PythonModule[] = [
  { module: 'grpc', debian: 'python3-grpcio' },
  { module: 'google.protobuf', debian: 'python3-protobuf' },
];

/** The runtime plus grpc_tools (protoc and the gRPC Python plugin) to generate stubs. */
export const GRPC_CODEGEN: readonly PythonModule[] = [...GRPC_RUNTIME, { module: 'grpc_tools.protoc', debian: 'python3-grpc-tools' }];

/**
 * Why `modules` cannot be imported by {@link PYTHON}, as a line naming the Debian packages to
 * install; undefined when they all can.
 */
export function pythonModulesMissing(modules: readonly PythonModule[]): string | undefined {
  const missing = existsSync(PYTHON)
    ? modules.filter((m) => spawnSync(PYTHON, ['-I', '-c', `import ${m.module}`], { stdio: 'ignore' }).status !== 0).map((m) => m.debian)
    : ['python3', ...modules.map((m) => m.debian)];
  if (missing.length === 0) return undefined;
  return `apt-get install ${missing.join(' ')} (Debian packages; .ci/run installs them) to run this`;
}

/**
 * The environment for a Python child: this one without proxy settings (gRPC's C core would send
 * 127.0.0.1 traffic to an HTTP proxy named there) and without PYTHON* variables.
 */
function pythonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(https?_proxy|all_proxy|grpc_proxy|no_proxy|python.*)$/i.test(k)) env[k] = v;
  }
  return env;
}

/** What a finished Python run printed. */
export interface PythonRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `PYTHON -I ...args` (isolated: no user site, no PYTHON* variables; e.g. `[script, ...]` or
 * `['-m', 'grpc_tools.protoc', ...]`) and resolves when it exits, whatever its exit code.
 * @param timeoutMs kill it after this long (default 60,000 ms); it then resolves with code null.
 */
export function runPython(args: readonly string[], timeoutMs = 60_000): Promise<PythonRun> {
  return new Promise((resolve) => {
    execFile(PYTHON, ['-I', ...args], { env: pythonEnv(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}
