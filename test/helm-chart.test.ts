/**
 * The Helm chart (helm/shardfleet), rendered offline by tools/helm-render (Go text/template +
 * sprig, no helm binary, no cluster): every rendered object validates against the Kubernetes
 * OpenAPI schemas (kubernetes-models), values.yaml against values.schema.json (ajv), and the
 * objects that matter are asserted for the defaults and a few variations.
 */
import { collectCollectionLimit } from '../src/router/collection-limits.ts';
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { CHART, REPO, find, helmRenderBinary, helmRendererMissing, mergedValues, renderChart, renderChartYaml, renderError, renderNotes, type K8sObject } from './helpers/helm-render.ts';
import { generateTestCerts } from './helpers/test-certs.ts';

const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'batch/v1/Job': Job,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
};

/** Validates every object with kubernetes-models; ServiceMonitor (a CRD) gets a structural check. */
function validateAll(objs: K8sObject[]): void {
  assert.ok(objs.length > 0);
  for (const o of objs) {
    const key = `${o.apiVersion}/${o.kind}`;
    if (key === 'monitoring.coreos.com/v1/ServiceMonitor') {
      assert.ok(Array.isArray(o.spec.endpoints) && o.spec.endpoints.length > 0, 'ServiceMonitor endpoints');
      assert.ok(o.spec.selector?.matchLabels, 'ServiceMonitor selector');
      continue;
    }
    const Model = MODELS[key];
    assert.ok(Model, `no model for ${key} (${o.metadata.name})`);
    assert.doesNotThrow(() => new Model(o).validate(), `${key} ${o.metadata.name} is not valid`);
    assert.match(o.metadata.name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `DNS-1123 name: ${o.metadata.name}`);
    assert.ok(o.metadata.name.length <= 63, `name too long: ${o.metadata.name}`);
  }
  const names = objs.map((o) => `${o.kind}/${o.metadata.name}`);
  assert.equal(new Set(names).size, names.length, `duplicate objects: ${names.join(', ')}`);
}

const container = (o: K8sObject, name: string) => {
  const c = o.spec.template.spec.containers.find((x: any) => x.name === name);
  assert.ok(c, `container ${name} in ${o.metadata.name}`);
  return c;
};
const envOf = (c: any): Record<string, any> => Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value ?? e.valueFrom]));
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

const rendererMissing = helmRendererMissing();
if (rendererMissing !== undefined) process.stdout.write(`# skipping the helm chart tests: ${rendererMissing}\n`);

describe('helm chart helm/shardfleet', { skip: rendererMissing }, () => {
  before(() => {
    helmRenderBinary(); // first Go build (cached in the temp folder afterwards)
  });

  test('values.yaml validates against values.schema.json and the schema rejects bad values', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')));
    const defaults = mergedValues();
    assert.ok(validate(defaults), JSON.stringify(validate.errors));
    const tls = mergedValues({ store: { url: 's3://b/p' }, tls: { enabled: true, existingSecret: 'certs' }, build: { enabled: true, runId: 'r1', input: '/data/x.npy' } });
    assert.ok(validate(tls), JSON.stringify(validate.errors));
    assert.equal(validate(mergedValues({ node: { cache: { type: 'hostPath' } } })), false);
    assert.equal(validate(mergedValues({ replication: 0 })), false);
    assert.equal(validate(mergedValues({ router: { replicas: 'two' } })), false);
    assert.equal(validate(mergedValues({ typoKey: true })), false);
    assert.equal(validate(mergedValues({ store: { url: 'http://not-a-store' } })), false);
  });

  test('every value in values.yaml has a comment', () => {
    const lines = readFileSync(join(CHART, 'values.yaml'), 'utf8').split('\n');
    const missing: string[] = [];
    lines.forEach((line, i) => {
      const m = /^(\s*)([A-Za-z][\w]*):\s*(\S.*)?$/.exec(line);
      if (!m || !m[3]) return; // maps (no inline value) are documented by their children
      const prev = lines[i - 1] ?? '';
      if (!/^\s*#/.test(prev) && !/#/.test(m[3])) missing.push(`${i + 1}: ${line.trim()}`);
    });
    // continuation lines of a multi-line comment belong to the next value: allow lists under a commented key
    assert.deepEqual(missing.filter((l) => !/^\d+: (runAsNonRoot|runAsUser|runAsGroup|fsGroup|type|allowPrivilegeEscalation|readOnlyRootFilesystem|drop|cpu|memory):/.test(l)), []);
  });

  test('store.url is required; replication may not exceed node replicas', () => {
    assert.match(renderError(), /store\.url is required/);
    assert.match(renderError({ store: { url: 's3://b/p' }, replication: 4, node: { replicas: 3 } }), /replication \(4\) must not exceed node\.replicas \(3\)/);
    assert.match(renderError({ store: { url: 's3://b/p' }, auth: { enabled: true } }), /auth\.token/);
  });

  test('defaults: objects validate, routers and nodes share one membership spec and replication', () => {
    const objs = renderChart();
    validateAll(objs);
    const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    assert.deepEqual(kinds, [
      'ConfigMap/demo-shardfleet-config',
      'Deployment/demo-shardfleet-router',
      'HorizontalPodAutoscaler/demo-shardfleet-router',
      'PodDisruptionBudget/demo-shardfleet-node',
      'PodDisruptionBudget/demo-shardfleet-router',
      'Service/demo-shardfleet-node-headless',
      'Service/demo-shardfleet-router',
      'Service/demo-shardfleet-router-headless',
      'ServiceAccount/demo-shardfleet',
      'StatefulSet/demo-shardfleet-node',
    ]);
    for (const o of objs) assert.equal(o.metadata.namespace, 'search');
    const cm = find(objs, 'ConfigMap', 'demo-shardfleet-config');
    assert.equal(cm.data!.SHARDFLEET_NODES, 'dns+srv:_grpc._tcp.demo-shardfleet-node-headless.search.svc.cluster.local');
    assert.equal(cm.data!.SHARDFLEET_STORE, 's3://vectors/fashion');
    assert.equal(cm.data!.AWS_REGION, 'eu-west-1');
    assert.equal(cm.data!.SHARDFLEET_REPLICATION, '2');
    assert.equal(cm.data!.AWS_ENDPOINT_URL_S3, undefined);
    assert.equal(cm.data!.OTEL_EXPORTER_OTLP_ENDPOINT, undefined);
    for (const w of [find(objs, 'Deployment', 'demo-shardfleet-router'), find(objs, 'StatefulSet', 'demo-shardfleet-node')]) {
      const c = w.spec.template.spec.containers[0];
      assert.deepEqual(c.envFrom, [{ configMapRef: { name: 'demo-shardfleet-config' } }], 'no credentials Secret by default (IRSA)');
      assert.equal(w.spec.template.spec.serviceAccountName, 'demo-shardfleet');
      assert.equal(w.spec.template.spec.securityContext.runAsNonRoot, true);
      assert.match(w.spec.template.metadata.annotations['checksum/config'], /^[0-9a-f]{64}$/);
    }
  });

  test('router: Deployment, probes, preStop, grace period, spread, services, HPA, PDB', () => {
    const objs = renderChart();
    const dep = find(objs, 'Deployment', 'demo-shardfleet-router');
    const podLabels = dep.spec.template.metadata.labels;
    assert.ok(matches(dep.spec.selector.matchLabels, podLabels));
    assert.equal(podLabels['app.kubernetes.io/component'], 'router');
    assert.equal(dep.spec.replicas, undefined, 'the HPA owns the replica count');
    const c = container(dep, 'router');
    assert.deepEqual(c.args, ['serve', 'router']);
    assert.deepEqual(c.ports.map((p: any) => [p.name, p.containerPort]), [['grpc', 7000], ['metrics', 9464]]);
    assert.deepEqual(c.readinessProbe.grpc, { port: 7000 }, 'router readiness stays gRPC health (SERVING at any coverage; /readyz wants full coverage)');
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(c.lifecycle.preStop.exec.command, ['sleep', '5']);
    const env = envOf(c);
    assert.equal(env.SHARDFLEET_LISTEN, '0.0.0.0:7000');
    assert.equal(env.SHARDFLEET_METRICS_LISTEN, '0.0.0.0:9464');
    assert.equal(env.SHARDFLEET_TLS_CERT, undefined);
    assert.equal(dep.spec.template.spec.terminationGracePeriodSeconds, 30);
    const spread = dep.spec.template.spec.topologySpreadConstraints;
    assert.deepEqual(spread.map((s: any) => s.topologyKey), ['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
    for (const s of spread) assert.ok(matches(s.labelSelector.matchLabels, podLabels));
    assert.ok(c.resources.requests.cpu, 'the CPU HPA needs a CPU request');

    const svc = find(objs, 'Service', 'demo-shardfleet-router');
    assert.ok(matches(svc.spec.selector, podLabels));
    assert.deepEqual(svc.spec.ports[0], { name: 'grpc', port: 7000, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' });
    const headless = find(objs, 'Service', 'demo-shardfleet-router-headless');
    assert.equal(headless.spec.clusterIP, 'None');
    assert.equal(headless.spec.publishNotReadyAddresses, false);
    assert.ok(matches(headless.spec.selector, podLabels));

    const hpa = find(objs, 'HorizontalPodAutoscaler', 'demo-shardfleet-router');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'demo-shardfleet-router' });
    assert.equal(hpa.spec.metrics[0].resource.name, 'cpu');
    assert.equal(hpa.spec.metrics[0].resource.target.averageUtilization, 70);
    const pdb = find(objs, 'PodDisruptionBudget', 'demo-shardfleet-router');
    assert.equal(pdb.spec.minAvailable, 1);
    assert.ok(matches(pdb.spec.selector.matchLabels, podLabels));
  });

  test('shard nodes: StatefulSet, headless membership Service, PVC cache, probes, PDB', () => {
    const objs = renderChart();
    const sts = find(objs, 'StatefulSet', 'demo-shardfleet-node');
    const podLabels = sts.spec.template.metadata.labels;
    assert.ok(matches(sts.spec.selector.matchLabels, podLabels));
    assert.equal(sts.spec.podManagementPolicy, 'Parallel');
    assert.equal(sts.spec.replicas, 3);
    const headless = find(objs, 'Service', sts.spec.serviceName);
    assert.equal(headless.metadata.name, 'demo-shardfleet-node-headless');
    assert.equal(headless.spec.clusterIP, 'None');
    assert.equal(headless.spec.publishNotReadyAddresses, true);
    assert.ok(matches(headless.spec.selector, podLabels));
    assert.equal(headless.spec.ports.find((p: any) => p.name === 'grpc').port, 7001, 'SRV _grpc._tcp needs the port named grpc');
    const c = container(sts, 'node');
    assert.deepEqual(c.args, ['serve', 'node']);
    assert.deepEqual(c.ports.map((p: any) => [p.name, p.containerPort]), [['grpc', 7001], ['metrics', 9464]]);
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'metrics' });
    assert.deepEqual(c.startupProbe.httpGet, { path: '/readyz', port: 'metrics' });
    assert.equal(c.startupProbe.failureThreshold, 360);
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'metrics' }, 'a loading node is alive but not ready');
    const env = envOf(c);
    assert.deepEqual(env.SHARDFLEET_NODE_ID, { fieldRef: { fieldPath: 'metadata.name' } });
    assert.equal(env.SHARDFLEET_LISTEN, '0.0.0.0:7001');
    assert.equal(env.SHARDFLEET_CACHE_DIR, '/var/cache/shardfleet');
    assert.equal(env.SHARDFLEET_DRAIN_TIMEOUT_MS, '10000');
    const grace = sts.spec.template.spec.terminationGracePeriodSeconds;
    assert.equal(env.SHARDFLEET_LEAVE_TIMEOUT_MS, '120000');
    assert.ok(
      grace * 1000 > Number(env.SHARDFLEET_LEAVE_TIMEOUT_MS) + Number(env.SHARDFLEET_DRAIN_TIMEOUT_MS) + 5000,
      'grace covers preStop + leave (new owners load) + drain',
    );
    assert.deepEqual(c.lifecycle.preStop.exec.command, ['sleep', '5']);
    assert.equal(sts.spec.volumeClaimTemplates[0].metadata.name, 'cache');
    assert.equal(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '20Gi');
    assert.ok(!sts.spec.template.spec.volumes.some((v: any) => v.name === 'cache'));
    assert.ok(c.volumeMounts.some((m: any) => m.name === 'cache' && m.mountPath === '/var/cache/shardfleet'));
    const pdb = find(objs, 'PodDisruptionBudget', 'demo-shardfleet-node');
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.ok(matches(pdb.spec.selector.matchLabels, podLabels));
    for (const s of sts.spec.template.spec.topologySpreadConstraints) assert.ok(matches(s.labelSelector.matchLabels, podLabels));
  });

  test('request limits: requestLimits.* reach routers and nodes alike through the ConfigMap; unset = the process defaults', () => {
    const objs = renderChart({ requestLimits: { maxFilterLength: 8192, maxFilterDepth: 100, maxFilterTerms: 2048, maxFilterInValues: 5000, maxKeyBytes: 131072, maxRunLeases: 32 } });
    validateAll(objs);
    const data = find(objs, 'ConfigMap', 'demo-shardfleet-config').data!;
    assert.deepEqual(
      [data.SHARDFLEET_MAX_FILTER_LENGTH, data.SHARDFLEET_MAX_FILTER_DEPTH, data.SHARDFLEET_MAX_FILTER_TERMS, data.SHARDFLEET_MAX_FILTER_IN_VALUES, data.SHARDFLEET_MAX_KEY_BYTES, data.SHARDFLEET_MAX_RUN_LEASES],
      ['8192', '100', '2048', '5000', '131072', '32'],
    );
    const defaults = find(renderChart(), 'ConfigMap', 'demo-shardfleet-config').data!;
    assert.equal(Object.keys(defaults).filter((k) => /^SHARDFLEET_MAX_(FILTER|KEY|RUN|GET)/.test(k)).length, 0);
  });

  test('replicas and scaling values: fixed routers, more nodes, emptyDir cache, strict host spread', () => {
    const objs = renderChart({
      replication: 3,
      router: { replicas: 4, autoscaling: { enabled: false }, pdb: { minAvailable: 2 }, hostSpreadPolicy: 'DoNotSchedule', maxGetKeys: 250 },
      node: { replicas: 8, cache: { type: 'emptyDir', size: '5Gi', maxBytes: 1000000 }, pdb: { enabled: false } },
    });
    validateAll(objs);
    assert.equal(find(objs, 'Deployment', 'demo-shardfleet-router').spec.replicas, 4);
    assert.equal(envOf(container(find(objs, 'Deployment', 'demo-shardfleet-router'), 'router')).SHARDFLEET_MAX_GET_KEYS, '250');
    assert.equal(envOf(container(find(renderChart(), 'Deployment', 'demo-shardfleet-router'), 'router')).SHARDFLEET_MAX_GET_KEYS, undefined, 'default: the router default');
    // The nodes get the same key limit (the ConfigMap both read), so they accept what the routers send.
    assert.equal(find(objs, 'ConfigMap', 'demo-shardfleet-config').data!.SHARDFLEET_MAX_GET_KEYS, '250');
    assert.ok(!objs.some((o) => o.kind === 'HorizontalPodAutoscaler'));
    assert.equal(find(objs, 'PodDisruptionBudget', 'demo-shardfleet-router').spec.minAvailable, 2);
    assert.ok(!objs.some((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'demo-shardfleet-node'));
    const sts = find(objs, 'StatefulSet', 'demo-shardfleet-node');
    assert.equal(sts.spec.replicas, 8);
    assert.equal(sts.spec.volumeClaimTemplates, undefined);
    assert.deepEqual(sts.spec.template.spec.volumes.find((v: any) => v.name === 'cache'), { name: 'cache', emptyDir: { sizeLimit: '5Gi' } });
    assert.equal(envOf(container(sts, 'node')).SHARDFLEET_MAX_CACHE_BYTES, '1000000');
    assert.equal(find(objs, 'ConfigMap', 'demo-shardfleet-config').data!.SHARDFLEET_REPLICATION, '3');
    const spread = find(objs, 'Deployment', 'demo-shardfleet-router').spec.template.spec.topologySpreadConstraints;
    assert.equal(spread[1].whenUnsatisfiable, 'DoNotSchedule');
  });

  test('work bounds: maxResponseBytes reaches routers and nodes (config map), router.maxTopK the router; unset = the process defaults', () => {
    const objs = renderChart({ maxResponseBytes: 33554432, router: { maxTopK: 2000 } });
    validateAll(objs);
    assert.equal(find(objs, 'ConfigMap', 'demo-shardfleet-config').data!.SHARDFLEET_MAX_RESPONSE_BYTES, '33554432');
    assert.equal(envOf(container(find(objs, 'Deployment', 'demo-shardfleet-router'), 'router')).SHARDFLEET_MAX_TOP_K, '2000');
    const defaults = renderChart();
    assert.equal(find(defaults, 'ConfigMap', 'demo-shardfleet-config').data!.SHARDFLEET_MAX_RESPONSE_BYTES, undefined);
    assert.equal(envOf(container(find(defaults, 'Deployment', 'demo-shardfleet-router'), 'router')).SHARDFLEET_MAX_TOP_K, undefined);
  });

  test('live recall: router.liveRecallFraction (0 = off included) and liveRecallMaxPerSecond reach the router; unset = the router defaults', () => {
    const objs = renderChart({ router: { liveRecallFraction: 0, liveRecallMaxPerSecond: 5 } });
    validateAll(objs);
    const env = envOf(container(find(objs, 'Deployment', 'demo-shardfleet-router'), 'router'));
    assert.equal(env.SHARDFLEET_LIVE_RECALL_FRACTION, '0');
    assert.equal(env.SHARDFLEET_LIVE_RECALL_MAX_PER_SECOND, '5');
    const defaults = envOf(container(find(renderChart(), 'Deployment', 'demo-shardfleet-router'), 'router'));
    assert.equal(defaults.SHARDFLEET_LIVE_RECALL_FRACTION, undefined);
    assert.equal(defaults.SHARDFLEET_LIVE_RECALL_MAX_PER_SECOND, undefined);
  });

  test('per-collection limits: router.collectionLimits becomes one SHARDFLEET_COLLECTION_LIMIT the router parses; unset = none', () => {
    const objs = renderChart({ router: { collectionLimits: { users: { maxTopK: 50 }, items: { qps: 200, burst: 400, maxTopK: 100 } } } });
    validateAll(objs);
    const value = envOf(container(find(objs, 'Deployment', 'demo-shardfleet-router'), 'router')).SHARDFLEET_COLLECTION_LIMIT;
    assert.equal(value, 'items:qps=200,burst=400,max_top_k=100;users:max_top_k=50');
    assert.deepEqual(collectCollectionLimit(value!), { items: { rateLimitQps: 200, rateLimitBurst: 400, maxTopK: 100 }, users: { maxTopK: 50 } });
    assert.equal(envOf(container(find(renderChart(), 'Deployment', 'demo-shardfleet-router'), 'router')).SHARDFLEET_COLLECTION_LIMIT, undefined);
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')));
    assert.ok(validate(mergedValues({ router: { collectionLimits: { items: { qps: 0.5, maxTopK: 10 } } } })), JSON.stringify(validate.errors));
    assert.equal(validate(mergedValues({ router: { collectionLimits: { items: { qps: 0 } } } })), false, 'qps must be > 0');
    assert.equal(validate(mergedValues({ router: { collectionLimits: { items: { rps: 1 } } } })), false, 'unknown key');
    assert.equal(validate(mergedValues({ router: { collectionLimits: { '../x': { qps: 1 } } } })), false, 'not a collection name');
  });

  test('collections: store.collections and store.maxCollections reach routers and nodes, router.defaultCollection the router; unset = serve every collection', () => {
    const objs = renderChart({ store: { collections: ['items', 'users'], maxCollections: 8 }, router: { defaultCollection: 'items' } });
    validateAll(objs);
    const data = find(objs, 'ConfigMap', 'demo-shardfleet-config').data!;
    assert.deepEqual([data.SHARDFLEET_COLLECTIONS, data.SHARDFLEET_MAX_COLLECTIONS], ['items,users', '8']);
    assert.equal(envOf(container(find(objs, 'Deployment', 'demo-shardfleet-router'), 'router')).SHARDFLEET_DEFAULT_COLLECTION, 'items');
    const defaults = renderChart();
    const dd = find(defaults, 'ConfigMap', 'demo-shardfleet-config').data!;
    assert.deepEqual([dd.SHARDFLEET_COLLECTIONS, dd.SHARDFLEET_MAX_COLLECTIONS], [undefined, undefined]);
    assert.equal(envOf(container(find(defaults, 'Deployment', 'demo-shardfleet-router'), 'router')).SHARDFLEET_DEFAULT_COLLECTION, undefined);
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')));
    assert.ok(validate(mergedValues({ store: { collections: ['items', 'users'], maxCollections: 8 }, router: { defaultCollection: 'items' } })), JSON.stringify(validate.errors));
    assert.equal(validate(mergedValues({ store: { collections: ['../x'] } })), false, 'not a collection name');
    assert.equal(validate(mergedValues({ store: { maxCollections: 2000 } })), false, 'over the CLI bound (1024)');
    assert.equal(validate(mergedValues({ router: { defaultCollection: 'a b' } })), false, 'not a collection name');
  });

  test('TLS, mTLS and auth: secrets mounted, env set, probes switch to exec Health/Check over TLS', () => {
    const objs = renderChart({
      tls: { enabled: true, cert: 'CERT', key: 'KEY', ca: 'CA', requireClientCert: true, nodeServerName: 'nodes.internal' },
      auth: { enabled: true, token: 's3cret' },
    });
    validateAll(objs);
    const tls = find(objs, 'Secret', 'demo-shardfleet-tls');
    assert.equal(tls.type, 'kubernetes.io/tls');
    assert.equal(Buffer.from(tls.data!['tls.crt'], 'base64').toString(), 'CERT');
    assert.equal(Buffer.from(tls.data!['ca.crt'], 'base64').toString(), 'CA');
    assert.equal(find(objs, 'Secret', 'demo-shardfleet-auth').stringData!.token, 's3cret');
    const router = container(find(objs, 'Deployment', 'demo-shardfleet-router'), 'router');
    const renv = envOf(router);
    assert.equal(renv.SHARDFLEET_TLS_CERT, '/etc/shardfleet/tls/tls.crt');
    assert.equal(renv.SHARDFLEET_TLS_REQUIRE_CLIENT_CERT, 'true');
    assert.equal(renv.SHARDFLEET_NODE_TLS_CA, '/etc/shardfleet/tls/ca.crt');
    assert.equal(renv.SHARDFLEET_NODE_TLS_CERT, '/etc/shardfleet/tls/tls.crt');
    assert.equal(renv.SHARDFLEET_NODE_TLS_SERVER_NAME, 'nodes.internal');
    assert.equal(renv.SHARDFLEET_AUTH_TOKEN_FILE, 'env:SHARDFLEET_AUTH_TOKEN');
    assert.deepEqual(renv.SHARDFLEET_AUTH_TOKEN, { secretKeyRef: { name: 'demo-shardfleet-auth', key: 'token' } });
    assert.equal(router.readinessProbe.grpc, undefined, 'the kubelet grpc probe cannot speak TLS');
    assert.deepEqual(router.readinessProbe.exec.command.slice(0, 2), ['node', '-e']);
    const sts = find(objs, 'StatefulSet', 'demo-shardfleet-node');
    const node = container(sts, 'node');
    assert.deepEqual(node.readinessProbe.httpGet, { path: '/readyz', port: 'metrics' }, 'the metrics port is plain HTTP under TLS: no exec probe');
    const grpcProbes = container(find(renderChart({ tls: { enabled: true, existingSecret: 'c' }, metrics: { httpProbes: false } }), 'StatefulSet', 'demo-shardfleet-node'), 'node');
    assert.deepEqual(grpcProbes.readinessProbe.exec.command.slice(0, 2), ['node', '-e'], 'httpProbes: false keeps the exec Health/Check over TLS');
    assert.equal(envOf(node).SHARDFLEET_TLS_CA, '/etc/shardfleet/tls/ca.crt');
    assert.equal(envOf(node).SHARDFLEET_AUTH_TOKEN_FILE, undefined, 'auth is a Router API concern');
    assert.ok(node.volumeMounts.some((m: any) => m.name === 'tls' && m.mountPath === '/etc/shardfleet/tls' && m.readOnly));
    assert.deepEqual(sts.spec.template.spec.volumes.find((v: any) => v.name === 'tls'), { name: 'tls', secret: { secretName: 'demo-shardfleet-tls' } });
    assert.match(renderNotes({ tls: { enabled: true, existingSecret: 'x' } }), /grpcurl -cacert ca\.crt/);
  });

  test('nodeAuth: nodes require and routers send the same token from one Secret (created or existing)', () => {
    const objs = renderChart({ auth: { enabled: true, token: 'router-side' }, nodeAuth: { enabled: true, token: 'n0de' } });
    validateAll(objs);
    assert.equal(find(objs, 'Secret', 'demo-shardfleet-node-auth').stringData!.token, 'n0de');
    const ref = { secretKeyRef: { name: 'demo-shardfleet-node-auth', key: 'token' } };
    const renv = envOf(container(find(objs, 'Deployment', 'demo-shardfleet-router'), 'router'));
    assert.equal(renv.SHARDFLEET_NODE_AUTH_TOKEN_FILE, 'env:SHARDFLEET_NODE_AUTH_TOKEN');
    assert.deepEqual(renv.SHARDFLEET_NODE_AUTH_TOKEN, ref);
    assert.equal(renv.SHARDFLEET_AUTH_TOKEN_FILE, 'env:SHARDFLEET_AUTH_TOKEN', 'the Router API token is separate');
    assert.deepEqual(renv.SHARDFLEET_AUTH_TOKEN, { secretKeyRef: { name: 'demo-shardfleet-auth', key: 'token' } });
    const nenv = envOf(container(find(objs, 'StatefulSet', 'demo-shardfleet-node'), 'node'));
    assert.equal(nenv.SHARDFLEET_AUTH_TOKEN_FILE, 'env:SHARDFLEET_AUTH_TOKEN');
    assert.deepEqual(nenv.SHARDFLEET_AUTH_TOKEN, ref, 'the node checks the token the routers send');

    const existing = renderChart({ nodeAuth: { enabled: true, existingSecret: 'fleet-node-token', secretKey: 'bearer' } });
    validateAll(existing);
    assert.ok(!existing.some((o) => o.kind === 'Secret'), 'an existing Secret is not created');
    const want = { secretKeyRef: { name: 'fleet-node-token', key: 'bearer' } };
    assert.deepEqual(envOf(container(find(existing, 'Deployment', 'demo-shardfleet-router'), 'router')).SHARDFLEET_NODE_AUTH_TOKEN, want);
    assert.deepEqual(envOf(container(find(existing, 'StatefulSet', 'demo-shardfleet-node'), 'node')).SHARDFLEET_AUTH_TOKEN, want);

    const off = renderChart();
    assert.equal(envOf(container(find(off, 'StatefulSet', 'demo-shardfleet-node'), 'node')).SHARDFLEET_AUTH_TOKEN_FILE, undefined);
    assert.equal(envOf(container(find(off, 'Deployment', 'demo-shardfleet-router'), 'router')).SHARDFLEET_NODE_AUTH_TOKEN_FILE, undefined);
    assert.match(renderError({ store: { url: 's3://b/p' }, nodeAuth: { enabled: true } }), /nodeAuth\.token \(or nodeAuth\.existingSecret\) is required/);
  });

  test('networkPolicy: node gRPC port admits only router pods, metrics port its scrapers; off by default', () => {
    assert.ok(!renderChart().some((o) => o.kind === 'NetworkPolicy'));
    const objs = renderChart({ networkPolicy: { enabled: true } });
    validateAll(objs);
    const np = find(objs, 'NetworkPolicy', 'demo-shardfleet-node');
    const nodePods = find(objs, 'StatefulSet', 'demo-shardfleet-node').spec.template.metadata.labels;
    const routerPods = find(objs, 'Deployment', 'demo-shardfleet-router').spec.template.metadata.labels;
    assert.ok(matches(np.spec.podSelector.matchLabels, nodePods), 'selects the node pods');
    assert.ok(!matches(np.spec.podSelector.matchLabels, routerPods), 'not the router pods');
    assert.deepEqual(np.spec.policyTypes, ['Ingress']);
    const [grpcRule, metricsRule, ...more] = np.spec.ingress;
    assert.deepEqual(more, []);
    assert.deepEqual(grpcRule.ports, [{ port: 7001, protocol: 'TCP' }]);
    assert.equal(grpcRule.from.length, 1);
    assert.equal(grpcRule.from[0].namespaceSelector, undefined, 'routers of this namespace only');
    assert.ok(matches(grpcRule.from[0].podSelector.matchLabels, routerPods), 'router pods may connect');
    assert.ok(!matches(grpcRule.from[0].podSelector.matchLabels, nodePods), 'node pods may not');
    const nodeContainer = container(find(objs, 'StatefulSet', 'demo-shardfleet-node'), 'node');
    assert.equal(nodeContainer.ports.find((p: any) => p.name === 'grpc').containerPort, 7001);
    assert.deepEqual(metricsRule, { ports: [{ port: 9464, protocol: 'TCP' }] }, 'no from: any scraper');

    const scoped = renderChart({
      node: { port: 7100 },
      metrics: { port: 9500 },
      networkPolicy: {
        enabled: true,
        metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        extraNodeFrom: [{ podSelector: { matchLabels: { app: 'debug' } } }],
      },
    });
    validateAll(scoped);
    const sp = find(scoped, 'NetworkPolicy', 'demo-shardfleet-node');
    assert.deepEqual(sp.spec.ingress[0].ports, [{ port: 7100, protocol: 'TCP' }]);
    assert.deepEqual(sp.spec.ingress[0].from[1], { podSelector: { matchLabels: { app: 'debug' } } });
    assert.deepEqual(sp.spec.ingress[1], {
      ports: [{ port: 9500, protocol: 'TCP' }],
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
    });
    const noMetrics = find(renderChart({ metrics: { enabled: false }, networkPolicy: { enabled: true } }), 'NetworkPolicy', 'demo-shardfleet-node');
    assert.equal(noMetrics.spec.ingress.length, 1, 'no metrics port to open');
    assert.ok(!renderChart({ node: { enabled: false }, networkPolicy: { enabled: true } }).some((o) => o.kind === 'NetworkPolicy'));
  });

  test('NOTES warn while node ports are unprotected; the schema knows nodeAuth and networkPolicy', () => {
    assert.match(renderNotes(), /WARNING: the shard-node gRPC port \(7001\) answers any pod that can reach it/);
    for (const protectedBy of [{ nodeAuth: { enabled: true, token: 't' } }, { networkPolicy: { enabled: true } }, { tls: { enabled: true, existingSecret: 'c', requireClientCert: true } }]) {
      assert.doesNotMatch(renderNotes(protectedBy), /WARNING/, JSON.stringify(protectedBy));
    }
    assert.match(renderNotes({ tls: { enabled: true, existingSecret: 'c' } }), /WARNING/, 'TLS without client certificates does not protect the port');
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')));
    assert.ok(validate(mergedValues({ nodeAuth: { enabled: true, token: 't' }, networkPolicy: { enabled: true, metricsFrom: [{ podSelector: {} }] } })), JSON.stringify(validate.errors));
    assert.equal(validate(mergedValues({ networkPolicy: { enabled: 'yes' } })), false);
    assert.equal(validate(mergedValues({ nodeAuth: { tokn: 'typo' } })), false);
  });

  test('the TLS exec probe script really checks grpc.health.v1 over mTLS', async () => {
    const objs = renderChart({ tls: { enabled: true, existingSecret: 'certs', requireClientCert: true }, metrics: { httpProbes: false } });
    const script: string = container(find(objs, 'StatefulSet', 'demo-shardfleet-node'), 'node').readinessProbe.exec.command[2];
    const certs = await generateTestCerts();
    const health = new HealthImplementation({ '': 'NOT_SERVING' });
    const server = new grpc.Server();
    health.addToServer(server);
    try {
      copyFileSync(certs.caCert, join(certs.dir, 'ca.crt'));
      copyFileSync(certs.clientCert, join(certs.dir, 'tls.crt'));
      copyFileSync(certs.clientKey, join(certs.dir, 'tls.key'));
      const creds = grpc.ServerCredentials.createSsl(readFileSync(certs.caCert), [{ cert_chain: readFileSync(certs.serverCert), private_key: readFileSync(certs.serverKey) }], true);
      const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? rej(e) : res(p))));
      const local = script.replace("'/etc/shardfleet/tls/'", JSON.stringify(certs.dir + '/')).replace('127.0.0.1:7001', `127.0.0.1:${port}`);
      assert.notEqual(local, script);
      const probe = () =>
        new Promise<number>((res) => spawn(process.execPath, ['-e', local], { cwd: REPO, stdio: 'inherit' }).on('exit', (code) => res(code ?? -1)));
      assert.equal(await probe(), 1, 'NOT_SERVING fails the probe');
      health.setStatus('', 'SERVING');
      assert.equal(await probe(), 0, 'SERVING passes the probe');
    } finally {
      server.forceShutdown();
      await certs.remove();
    }
  });

  test('store credentials: existing Secret, created Secret, IRSA annotations; endpoint and OTLP in the ConfigMap', () => {
    const existing = renderChart({ store: { s3: { endpoint: 'http://minio:9000' }, credentials: { existingSecret: 'minio-creds' } }, otel: { endpoint: 'http://otel:4318' } });
    validateAll(existing);
    assert.ok(!existing.some((o) => o.kind === 'Secret'), 'an existing Secret is not created');
    for (const w of [find(existing, 'Deployment', 'demo-shardfleet-router'), find(existing, 'StatefulSet', 'demo-shardfleet-node')]) {
      assert.deepEqual(w.spec.template.spec.containers[0].envFrom[1], { secretRef: { name: 'minio-creds' } });
    }
    const cm = find(existing, 'ConfigMap', 'demo-shardfleet-config');
    assert.equal(cm.data!.AWS_ENDPOINT_URL_S3, 'http://minio:9000');
    assert.equal(cm.data!.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://otel:4318');

    const created = renderChart({ store: { credentials: { create: true, accessKeyId: 'AK', secretAccessKey: 'SK' } } });
    validateAll(created);
    const secret = find(created, 'Secret', 'demo-shardfleet-store-creds');
    assert.deepEqual(secret.stringData, { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' });
    assert.deepEqual(container(find(created, 'Deployment', 'demo-shardfleet-router'), 'router').envFrom[1], { secretRef: { name: 'demo-shardfleet-store-creds' } });

    const irsa = renderChart({ serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/sf' } } });
    assert.equal(find(irsa, 'ServiceAccount', 'demo-shardfleet').metadata.annotations!['eks.amazonaws.com/role-arn'], 'arn:aws:iam::1:role/sf');
    const byo = renderChart({ serviceAccount: { create: false, name: 'platform-sa' } });
    assert.ok(!byo.some((o) => o.kind === 'ServiceAccount'));
    assert.equal(find(byo, 'StatefulSet', 'demo-shardfleet-node').spec.template.spec.serviceAccountName, 'platform-sa');
  });

  test('build on: plan -> Indexed worker Job -> publish, ordered by Helm hook weights', () => {
    const objs = renderChart({ build: { enabled: true, runId: 'r42', input: '/data/vectors.parquet', workers: 8, args: ['--num-dbs', '64'], workerArgs: ['--concurrency', '4'] } });
    validateAll(objs);
    const plan = find(objs, 'Job', 'demo-shardfleet-build-plan');
    const workers = find(objs, 'Job', 'demo-shardfleet-build-workers');
    const publish = find(objs, 'Job', 'demo-shardfleet-build-publish');
    const weights = [plan, workers, publish].map((j) => Number(j.metadata.annotations!['helm.sh/hook-weight']));
    assert.deepEqual(weights, [-10, 0, 10]);
    for (const j of [plan, workers, publish]) {
      assert.equal(j.metadata.annotations!['helm.sh/hook'], 'post-install,post-upgrade');
      assert.equal(j.spec.template.spec.restartPolicy, 'Never');
      assert.deepEqual(j.spec.template.spec.containers[0].envFrom, [{ configMapRef: { name: 'demo-shardfleet-config' } }]);
    }
    assert.deepEqual(container(plan, 'plan').args, ['build', '--input', '/data/vectors.parquet', '--run-id', 'r42', '--plan', '--no-progress', '--num-dbs', '64']);
    assert.equal(workers.spec.completionMode, 'Indexed');
    assert.equal(workers.spec.completions, 8);
    assert.equal(workers.spec.parallelism, 8, 'every worker at once: they exchange partitions');
    const w = container(workers, 'worker');
    assert.deepEqual(w.args, ['build', '--input', '/data/vectors.parquet', '--run-id', 'r42', '--worker', '$(JOB_COMPLETION_INDEX)/8', '--no-progress', '--concurrency', '4']);
    assert.deepEqual(envOf(w).JOB_COMPLETION_INDEX, { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } });
    assert.deepEqual(container(publish, 'publish').args, ['publish', '--run-id', 'r42', '--verify', 'sha256']);

    const single = renderChart({ router: { enabled: false }, node: { enabled: false }, build: { enabled: true, mode: 'single', runId: 'r1', input: 's3://raw/x.npy' } });
    validateAll(single);
    assert.deepEqual(single.filter((o) => o.kind !== 'ConfigMap' && o.kind !== 'ServiceAccount').map((o) => `${o.kind}/${o.metadata.name}`), ['Job/demo-shardfleet-build-single']);
    assert.match(renderError({ store: { url: 's3://b/p' }, build: { enabled: true, input: 'x' } }), /build\.runId is required/);
    assert.match(renderError({ store: { url: 's3://b/p' }, build: { enabled: true, runId: 'r1', input: 'x', workers: 8, parallelism: 4 } }), /build\.parallelism \(4\) must be 0 or build\.workers \(8\)/);
  });

  test('build.collection: the build Jobs write <store.url>/<collection> under a catalog root; required with store.collections', () => {
    const objs = renderChart({ store: { url: 's3://vectors/catalog/', collections: ['items'] }, build: { enabled: true, runId: 'r7', input: '/data/x.npy', collection: 'items' } });
    validateAll(objs);
    for (const [job, name] of [['plan', 'plan'], ['workers', 'worker'], ['publish', 'publish']] as const) {
      assert.equal(envOf(container(find(objs, 'Job', `demo-shardfleet-build-${job}`), name)).SHARDFLEET_STORE, 's3://vectors/catalog/items', job);
    }
    assert.equal(find(objs, 'ConfigMap', 'demo-shardfleet-config').data!.SHARDFLEET_STORE, 's3://vectors/catalog/', 'routers and nodes serve the root');
    const plain = renderChart({ build: { enabled: true, runId: 'r7', input: '/data/x.npy' } });
    assert.equal(envOf(container(find(plain, 'Job', 'demo-shardfleet-build-plan'), 'plan')).SHARDFLEET_STORE, undefined, 'no collection: store.url itself');
    assert.match(renderError({ store: { url: 's3://b/root', collections: ['items'] }, build: { enabled: true, runId: 'r1', input: 'x' } }), /build\.collection is required when store\.collections is set/);
  });

  test('ServiceMonitor when enabled selects the metrics Services; metrics off removes ports', () => {
    const objs = renderChart({ metrics: { serviceMonitor: { enabled: true, labels: { release: 'prom' } } } });
    validateAll(objs);
    const sm = find(objs, 'ServiceMonitor', 'demo-shardfleet');
    assert.equal(sm.metadata.labels!.release, 'prom');
    assert.deepEqual(sm.spec.endpoints.map((e: any) => [e.port, e.path]), [['metrics', '/metrics']]);
    const selected = objs.filter((o) => o.kind === 'Service' && matches(sm.spec.selector.matchLabels, o.metadata.labels!)).map((o) => o.metadata.name).sort();
    assert.deepEqual(selected, ['demo-shardfleet-node-headless', 'demo-shardfleet-router']);
    for (const name of selected) assert.ok(find(objs, 'Service', name).spec.ports.some((p: any) => p.name === 'metrics'));
    assert.ok(!renderChart().some((o) => o.kind === 'ServiceMonitor'));
    const off = renderChart({ metrics: { enabled: false, serviceMonitor: { enabled: true } } });
    assert.ok(!off.some((o) => o.kind === 'ServiceMonitor'));
    assert.equal(envOf(container(find(off, 'StatefulSet', 'demo-shardfleet-node'), 'node')).SHARDFLEET_METRICS_LISTEN, undefined);
    // Without the metrics port the probes fall back to gRPC health and a TCP connect.
    const offNode = container(find(off, 'StatefulSet', 'demo-shardfleet-node'), 'node');
    assert.deepEqual(offNode.readinessProbe.grpc, { port: 7001 });
    assert.deepEqual(offNode.startupProbe.grpc, { port: 7001 });
    assert.deepEqual(offNode.livenessProbe.tcpSocket, { port: 'grpc' });
    assert.deepEqual(container(find(off, 'Deployment', 'demo-shardfleet-router'), 'router').livenessProbe.tcpSocket, { port: 'grpc' });
    const grpcOnly = container(find(renderChart({ metrics: { httpProbes: false } }), 'StatefulSet', 'demo-shardfleet-node'), 'node');
    assert.deepEqual(grpcOnly.readinessProbe.grpc, { port: 7001 });
  });

  test('YAML stream and NOTES.txt', () => {
    const yaml = renderChartYaml();
    assert.equal((yaml.match(/^# Source: shardfleet\/templates\//gm) ?? []).length, renderChart().length);
    const notes = renderNotes({ auth: { enabled: true, token: 't' } });
    assert.match(notes, /port-forward svc\/demo-shardfleet-router 7000:7000/);
    assert.match(notes, /grpcurl -plaintext -H "authorization: Bearer \$TOKEN" localhost:7000 shardfleet\.v1\.Router\/SnapshotInfo/);
    assert.match(notes, /dns:\/\/\/demo-shardfleet-router-headless\.search\.svc\.cluster\.local:7000/);
  });

  test('Dockerfile: multi-stage (compile, then Node 20 slim runtime), non-root, compiled CLI entry point; .dockerignore keeps the sources', () => {
    const df = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
    assert.equal((df.match(/^FROM /gm) ?? []).length, 2);
    assert.match(df, /^ARG NODE_VERSION=20$/m);
    assert.match(df, /FROM node:\$\{NODE_VERSION\}-bookworm-slim AS build/);
    assert.match(df, /python3 make g\+\+/);
    // the build stage compiles src/ and drops the dev dependencies; the runtime runs dist/
    assert.match(df, /^COPY src \.\/src$/m);
    assert.match(df, /npm run build/);
    assert.match(df, /npm prune --omit=dev/);
    assert.match(df, /^COPY --from=build .*\/app\/dist \.\/dist$/m);
    assert.match(df, /^USER 10001:10001$/m);
    assert.match(df, /ENTRYPOINT \[.*"node", "bin\/shardfleet\.js"\]/);
    for (const dir of ['bin', 'proto']) assert.match(df, new RegExp(`^COPY .*\\b${dir} \\./${dir}$`, 'm'));
    const ignored = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const keep of ['src', 'bin', 'proto', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      assert.ok(!ignored.includes(keep), `${keep} must reach the image build`);
    }
    assert.ok(ignored.includes('node_modules'));
    // the chart runs the image's user
    assert.equal(mergedValues().podSecurityContext.runAsUser, 10001);
  });
});
