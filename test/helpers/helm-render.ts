/**
 * Offline Helm rendering for the chart tests: builds tools/helm-render (Go, GOPATH mode, Debian's
 * sprig + yaml.v3 under /usr/share/gocode) once into a temp folder keyed by the source hash, then
 * renders helm/shardfleet with values overrides (JSON objects, deep-merged like `--set-json`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const CHART = join(REPO, 'helm', 'shardfleet');
const SRC = join(REPO, 'tools', 'helm-render');

/** A rendered Kubernetes object (with the template that produced it). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  [key: string]: any;
}

let binary: string | undefined;

/** Go packages the renderer imports, with the Debian package that installs each. */
const GO_DEPENDENCIES: [dir: string, debian: string][] = [
  ['/usr/share/gocode/src/github.com/Masterminds/sprig', 'golang-github-masterminds-sprig-dev'],
  ['/usr/share/gocode/src/gopkg.in/yaml.v3', 'golang-gopkg-yaml.v3-dev'],
];

/**
 * Why the renderer cannot be built here (Go or its packages missing), naming what to install;
 * undefined when it can.
 */
export function helmRendererMissing(): string | undefined {
  const missing: string[] = [];
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).error !== undefined) missing.push('golang-go');
  for (const [dir, debian] of GO_DEPENDENCIES) if (!existsSync(dir)) missing.push(debian);
  if (missing.length === 0) return undefined;
  return `the offline Helm renderer needs Go: apt-get install ${missing.join(' ')} (.ci/run installs them)`;
}

/** Builds (or reuses) the renderer binary and returns its path. */
export function helmRenderBinary(): string {
  if (binary) return binary;
  const hash = createHash('sha256').update(readFileSync(join(SRC, 'main.go'))).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `shardfleet-helm-render-${hash}`);
  const out = join(dir, 'helm-render');
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    const gopath = [join(dir, 'gopath'), '/usr/share/gocode'].join(':');
    execFileSync('go', ['build', '-o', out, '.'], {
      cwd: SRC,
      env: { ...process.env, GO111MODULE: 'off', GOPATH: gopath, GOFLAGS: '', GOCACHE: process.env.GOCACHE ?? join(dir, 'gocache') },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  }
  binary = out;
  return out;
}

function args(overrides: object[], output: string, release = 'demo', namespace = 'search'): string[] {
  return ['-chart', CHART, '-name', release, '-namespace', namespace, '-output', output, ...overrides.flatMap((o) => ['-set-json', JSON.stringify(o)])];
}

/** Minimal values every install needs. */
export const BASE = { store: { url: 's3://vectors/fashion', s3: { region: 'eu-west-1' } } };

/** Renders the chart; every override object is merged over values.yaml in order. */
export function renderChart(...overrides: object[]): K8sObject[] {
  const out = execFileSync(helmRenderBinary(), args([BASE, ...overrides], 'json'), { encoding: 'utf8', maxBuffer: 64 << 20 });
  return (JSON.parse(out) as { source: string; object: K8sObject }[]).map((d) => d.object);
}

/** Renders the chart as a YAML stream (like `helm template`). */
export function renderChartYaml(...overrides: object[]): string {
  return execFileSync(helmRenderBinary(), args([BASE, ...overrides], 'yaml'), { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** Renders NOTES.txt. */
export function renderNotes(...overrides: object[]): string {
  return execFileSync(helmRenderBinary(), args([BASE, ...overrides], 'notes'), { encoding: 'utf8' });
}

/** The merged values (values.yaml + overrides), as the templates see them. */
export function mergedValues(...overrides: object[]): any {
  return JSON.parse(execFileSync(helmRenderBinary(), args(overrides, 'values'), { encoding: 'utf8' }));
}

/** Renders expecting a failure; returns stderr. */
export function renderError(...overrides: object[]): string {
  const r = spawnSync(helmRenderBinary(), args(overrides, 'json'), { encoding: 'utf8' });
  if (r.status === 0) throw new Error('rendering succeeded, expected an error');
  return r.stderr;
}

/** The object of a kind and name (throws when absent). */
export function find(objs: K8sObject[], kind: string, name: string): K8sObject {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name} in [${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}]`);
  return o;
}
