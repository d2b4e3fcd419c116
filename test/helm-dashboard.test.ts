/**
 * The Helm chart's Grafana dashboard (helm/shardfleet/dashboards/shardfleet.json, shipped as a
 * sidecar ConfigMap) and PrometheusRule alerts: every PromQL expression names only metrics a real
 * router and a real shard node export (their `/metrics` scraped on 127.0.0.1), the checker itself
 * catches wrong names, the ConfigMap carries the sidecar label and the dashboard verbatim, and the
 * rules have the PrometheusRule shape with the thresholds from values.yaml. Where Prometheus'
 * promtool is installed (Debian package `prometheus`), every dashboard query and every rule is also
 * parsed by Prometheus itself (`promtool check rules`) and the alerts are run on synthetic series
 * (`promtool test rules`). Router series carry a `collection` label (issue 24): every alert
 * aggregates by it and names it (the synthetic series hold two collections, one degraded, and each
 * alert fires for that one only), and the dashboard filters them by its Collection variable.
 * Rendering needs Go (see test/helpers/helm-render.ts); the dashboard file and the checker are
 * tested without it.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { ConfigMap } from 'kubernetes-models/v1';
import { FileObjectStore } from '../src/common/storage/file-object-store.ts';
import { quietLogger, tempDir } from './helpers/fixtures.ts';
import { CHART, find, helmRenderBinary, helmRendererMissing, mergedValues, renderChart, type K8sObject } from './helpers/helm-render.ts';
import { exportedFamilies, metricNamesOf, unknownMetrics, type MetricType } from './helpers/promql-names.ts';
import { FakeShardNode, publishFakeRun, startTestRouter } from './helpers/router-fakes.ts';
import { startTestNode } from './helpers/shard-node-harness.ts';

const DASHBOARD_FILE = join(CHART, 'dashboards', 'shardfleet.json');

interface Target {
  expr: string;
  refId: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}

/** Every PromQL expression of a dashboard (panel targets and query variables), named by where it is. */
function dashboardExpressions(d: Dashboard): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  const walk = (panels: Panel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" target ${t.refId}`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating.list) {
    if (v.type !== 'query' || v.query === undefined) continue;
    out.push({ where: `variable ${v.name}`, expr: typeof v.query === 'string' ? v.query : v.query.query });
  }
  return out;
}

/** Problems of every expression, as `<where>: <why>` lines (empty = every name is exported). */
function problemsOf(exprs: Array<{ where: string; expr: string }>, exported: ReadonlyMap<string, MetricType>): string[] {
  return exprs.flatMap(({ where, expr }) => unknownMetrics(expr, exported).map((why) => `${where}: ${why}`));
}

/** The metric families a real router and a real shard node serve at /metrics. */
let exported: Map<string, MetricType>;

before(async () => {
  const dir = await tempDir('helm-dashboard');
  const store = new FileObjectStore(join(dir.path, 'store'));
  await publishFakeRun(store, 'run-d', 2, 1);
  const fake = await FakeShardNode.start('a');
  fake.runs.set('run-d', { loaded: [0, 1] });
  // liveRecallFraction > 0 registers the live recall metrics (the fakes' default turns it off).
  const router = await startTestRouter(store, [fake], { metricsListen: '127.0.0.1:0', liveRecallFraction: 0.01 });
  const node = await startTestNode({ store: new FileObjectStore(join(dir.path, 'empty-store')), cacheDir: join(dir.path, 'cache'), log: quietLogger(), metricsListen: '127.0.0.1:0' });
  try {
    const scrape = async (address: string | undefined): Promise<string> => {
      assert.ok(address, 'the metrics endpoint is listening');
      const res = await fetch(`http://${address}/metrics`);
      assert.equal(res.status, 200);
      return res.text();
    };
    exported = new Map([...exportedFamilies(await scrape(router.router.metricsAddress)), ...exportedFamilies(await scrape(node.handle.metricsAddress))]);
  } finally {
    await router.stop();
    fake.stop();
    await node.stop();
    await dir.remove();
  }
});

describe('PromQL metric-name checker', () => {
  test('the scrape holds the router, node and process families', () => {
    assert.equal(exported.get('shardfleet_router_request_duration_seconds'), 'histogram');
    assert.equal(exported.get('shardfleet_node_cache_bytes'), 'gauge');
    assert.equal(exported.get('shardfleet_router_under_replicated_shards'), 'gauge');
    assert.equal(exported.get('process_cpu_seconds_total'), 'counter');
  });

  test('extracts series names, not functions, keywords, labels, strings or variables', () => {
    assert.deepEqual(
      metricNamesOf('histogram_quantile(0.99, sum by (le, node) (rate(a_bucket{namespace=~"$namespace",outcome="ok"}[$__rate_interval]))) > on(job) group_left(x) b offset 5m'),
      ['a_bucket', 'b'],
    );
    assert.deepEqual(metricNamesOf('sum(rate(x_total[5m])) / clamp_min(sum without (pod) (y), 1e-9) > 30 * 60 and bool z'), ['x_total', 'y', 'z']);
    assert.deepEqual(metricNamesOf('label_values(shardfleet_router_current_run, namespace)'), ['shardfleet_router_current_run']);
    assert.deepEqual(metricNamesOf('count by (run_id) (m{a="sum(q)"} == 1)'), ['m']);
  });

  test('a wrong metric name is caught: unknown name, _bucket of a gauge, a histogram by its bare name', () => {
    assert.deepEqual(unknownMetrics('sum(rate(shardfleet_router_request_duration_seconds_count[5m]))', exported), []);
    const wrong = unknownMetrics(
      'sum(rate(shardfleet_router_requests_total[5m])) + shardfleet_router_snapshot_age_seconds_bucket + shardfleet_router_request_duration_seconds + shardfleet_node_cache_bytes_count',
      exported,
    );
    assert.equal(wrong.length, 4, wrong.join('\n'));
    assert.match(wrong[0], /shardfleet_router_requests_total is not a metric the code exports/);
    assert.match(wrong[1], /shardfleet_router_snapshot_age_seconds is a gauge, it has no _bucket series/);
    assert.match(wrong[2], /is a histogram: select/);
    assert.match(wrong[3], /shardfleet_node_cache_bytes is a gauge/);
  });
});

describe('Grafana dashboard dashboards/shardfleet.json', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;

  test('parses, has unique panel ids, and covers the panels the operators need', () => {
    assert.equal(dashboard.uid, 'shardfleet-overview');
    const all: Panel[] = [];
    const walk = (ps: Panel[]): void => ps.forEach((p) => (all.push(p), walk(p.panels ?? [])));
    walk(dashboard.panels);
    assert.equal(new Set(all.map((p) => p.id)).size, all.length, 'panel ids are unique');
    const exprs = dashboardExpressions(dashboard).map((x) => x.expr).join('\n');
    for (const needed of [
      'shardfleet_router_request_duration_seconds_count', // QPS and error ratio
      'shardfleet_router_request_duration_seconds_bucket', // latency percentiles
      'shardfleet_router_query_shards_bucket', // fan-out width
      'shardfleet_router_shard_coverage_ratio',
      'shardfleet_router_partial_responses_total',
      'shardfleet_router_node_inflight_searches', // node load
      'shardfleet_node_search_calls_in_progress',
      'process_cpu_seconds_total',
      'shardfleet_node_cache_bytes',
      'shardfleet_node_shard_load_seconds_count', // cache hits / misses and loads
      'shardfleet_router_snapshot_age_seconds',
      'shardfleet_router_current_run',
      'shardfleet_router_live_recall', // live vs build recall per collection
      'shardfleet_router_build_recall',
    ]) {
      assert.ok(exprs.includes(needed), `a panel queries ${needed}`);
    }
    for (const q of ['0.5', '0.9', '0.99']) assert.ok(exprs.includes(`histogram_quantile(${q}, sum by (le, rpc) (rate(shardfleet_router_request_duration_seconds_bucket`), `p${q}`);
  });

  test('every query names only metrics a real router and shard node export', () => {
    const exprs = dashboardExpressions(dashboard);
    assert.ok(exprs.length >= 30, `${exprs.length} expressions`);
    assert.deepEqual(problemsOf(exprs, exported), []);
  });

  test('router series with a collection label are filtered by the Collection variable; their gauges stay per collection', () => {
    const perCollection = ['request_duration_seconds', 'partial_responses_total', 'coverage_failures_total', 'current_run', 'snapshot_age_seconds', 'shard_coverage_ratio', 'under_replicated_shards', 'pending_run_seconds', 'live_recall', 'build_recall', 'live_recall_window_samples'].map((n) => `shardfleet_router_${n}`);
    const gauges = perCollection.slice(3);
    assert.ok(dashboard.templating.list.some((v) => v.name === 'collection'), 'a collection variable');
    const problems: string[] = [];
    for (const { where, expr } of dashboardExpressions(dashboard).filter((x) => !x.where.startsWith('variable '))) {
      const names = metricNamesOf(expr).map((n) => n.replace(/_(bucket|count|sum)$/, ''));
      if (!names.some((n) => perCollection.includes(n))) continue;
      for (const m of expr.matchAll(/(shardfleet_router_[a-z_]+)\{([^}]*)\}/g)) {
        if (perCollection.includes(m[1].replace(/_(bucket|count|sum)$/, '')) && !m[2].includes('collection=~"$collection"')) problems.push(`${where}: ${m[1]} without collection=~"$collection"`);
      }
      if (names.some((n) => gauges.includes(n)) && !/\bby \((?:[a-z_]+, )*collection\b/.test(expr)) problems.push(`${where}: a per-collection gauge aggregated over collections`);
    }
    assert.deepEqual(problems, []);
  });

  test('a typo in one panel query is reported with the panel', () => {
    const broken = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8').replace('shardfleet_node_cache_bytes{', 'shardfleet_node_cache_byte{')) as Dashboard;
    assert.deepEqual(problemsOf(dashboardExpressions(broken), exported), ['panel "Cache bytes" target A: shardfleet_node_cache_byte is not a metric the code exports']);
  });
});

/** Why promtool cannot run here (undefined when it can). */
const promtoolMissing = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error !== undefined ? 'promtool is missing: apt-get install prometheus' : undefined;
if (promtoolMissing !== undefined) process.stdout.write(`# skipping the promtool checks: ${promtoolMissing}\n`);

/** Runs promtool with `files` (name -> text) written to a temp folder; returns its output, throws on failure. */
function promtool(args: (dir: string) => string[], files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'shardfleet-promtool-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const r = spawnSync('promtool', args(dir), { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`promtool ${args(dir).join(' ')} failed:\n${r.stdout}${r.stderr}`);
    return r.stdout + r.stderr;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A dashboard query as plain PromQL: Grafana's variables replaced by what they stand for. */
function plainPromQL(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$namespace', '.*').replaceAll('$collection', '.*');
}

describe('Prometheus parses every dashboard query (promtool check rules)', { skip: promtoolMissing }, () => {
  test('each panel query, as a recording rule, is valid PromQL', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
    const exprs = dashboardExpressions(dashboard).filter((x) => !x.where.startsWith('variable '));
    const rules = { groups: [{ name: 'dashboard', rules: exprs.map((x, i) => ({ record: `dashboard:query_${i}`, expr: plainPromQL(x.expr) })) }] };
    const out = promtool((dir) => ['check', 'rules', join(dir, 'rules.json')], { 'rules.json': JSON.stringify(rules) });
    assert.match(out, new RegExp(`SUCCESS: ${exprs.length} rules found`));
  });

  test('a malformed query fails the check (the check itself can fail)', () => {
    const rules = { groups: [{ name: 'dashboard', rules: [{ record: 'dashboard:bad', expr: 'sum by (le (rate(x[1m]))' }] }] };
    assert.throws(() => promtool((dir) => ['check', 'rules', join(dir, 'rules.json')], { 'rules.json': JSON.stringify(rules) }), /failed/);
  });
});

const rendererMissing = helmRendererMissing();
if (rendererMissing !== undefined) process.stdout.write(`# skipping the dashboard and alert rendering tests: ${rendererMissing}\n`);

describe('helm chart: dashboard ConfigMap and PrometheusRule', { skip: rendererMissing }, () => {
  before(() => {
    helmRenderBinary();
  });
  const ON = { metrics: { grafanaDashboard: { enabled: true }, prometheusRule: { enabled: true } } };

  test('both are off by default, and off with metrics off', () => {
    const kinds = (objs: K8sObject[]) => objs.map((o) => `${o.kind}/${o.metadata.name}`);
    assert.ok(!kinds(renderChart()).some((k) => k.startsWith('PrometheusRule/') || k.endsWith('-dashboard')));
    const off = kinds(renderChart(ON, { metrics: { enabled: false } }));
    assert.ok(!off.some((k) => k.startsWith('PrometheusRule/') || k.endsWith('-dashboard')), off.join(', '));
  });

  test('the dashboard ConfigMap carries the sidecar label and the dashboard file verbatim', () => {
    const cm = find(renderChart(ON), 'ConfigMap', 'demo-shardfleet-dashboard');
    assert.doesNotThrow(() => new ConfigMap(cm as ConstructorParameters<typeof ConfigMap>[0]).validate());
    assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
    assert.equal(cm.metadata.labels?.['app.kubernetes.io/instance'], 'demo');
    assert.equal(cm.metadata.namespace, 'search');
    const text = cm.data?.['shardfleet.json'] ?? '';
    assert.equal(text, readFileSync(DASHBOARD_FILE, 'utf8').trimEnd());
    assert.equal((JSON.parse(text) as Dashboard).uid, 'shardfleet-overview');

    const custom = find(
      renderChart({ metrics: { grafanaDashboard: { enabled: true, labels: { grafana_dashboard: null, team_dashboards: 'yes' }, annotations: { grafana_folder: 'search' }, namespace: 'monitoring' } } }),
      'ConfigMap',
      'demo-shardfleet-dashboard',
    );
    assert.deepEqual([custom.metadata.labels?.grafana_dashboard, custom.metadata.labels?.team_dashboards], [undefined, 'yes']);
    assert.equal(custom.metadata.annotations?.grafana_folder, 'search');
    assert.equal(custom.metadata.namespace, 'monitoring');
  });

  test('the PrometheusRule has the prometheus-operator shape, the seven alerts, and names only exported metrics', () => {
    const rule = find(renderChart(ON), 'PrometheusRule', 'demo-shardfleet');
    assert.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(rule.metadata.namespace, 'search');
    const groups = rule.spec?.groups as Array<{ name: string; rules: Array<Record<string, unknown>> }>;
    assert.ok(Array.isArray(groups) && groups.length > 0, 'spec.groups');
    const duration = /^([0-9]+(ms|s|m|h|d|w|y))+$/;
    const names: string[] = [];
    const problems: string[] = [];
    for (const g of groups) {
      assert.equal(typeof g.name, 'string');
      assert.ok(Array.isArray(g.rules) && g.rules.length > 0, `group ${g.name} has rules`);
      for (const r of g.rules) {
        assert.deepEqual(
          Object.keys(r).filter((k) => !['alert', 'expr', 'for', 'labels', 'annotations'].includes(k)),
          [],
          `rule ${String(r.alert)} has only PrometheusRule alerting-rule fields`,
        );
        assert.match(String(r.alert), /^[A-Za-z_][A-Za-z0-9_]*$/);
        assert.equal(typeof r.expr, 'string');
        const expr = r.expr as string;
        for (const [open, close] of [['(', ')'], ['{', '}'], ['[', ']']]) {
          assert.equal(expr.split(open).length, expr.split(close).length, `${String(r.alert)}: balanced ${open}${close} in ${expr}`);
        }
        if (r.for !== undefined) assert.match(String(r.for), duration);
        for (const field of ['labels', 'annotations']) {
          for (const [k, v] of Object.entries((r[field] ?? {}) as Record<string, unknown>)) assert.equal(typeof v, 'string', `${String(r.alert)} ${field}.${k}`);
        }
        const annotations = Object.values((r.annotations ?? {}) as Record<string, string>).join(' ');
        assert.equal(annotations.split('{{').length, annotations.split('}}').length, `${String(r.alert)}: balanced Prometheus templates`);
        assert.ok(((r.annotations ?? {}) as Record<string, string>).description, `${String(r.alert)} has a description`);
        // Every router series is per collection: each alert fires per collection and says which.
        assert.match(expr, /\bby \((?:[a-z_]+, )*collection\b/, `${String(r.alert)} aggregates by collection`);
        assert.match(((r.annotations ?? {}) as Record<string, string>).description, /\{\{ \$labels\.collection \}\}/, `${String(r.alert)} names the collection`);
        names.push(String(r.alert));
        problems.push(...unknownMetrics(expr, exported).map((why) => `${String(r.alert)}: ${why}`));
      }
    }
    assert.deepEqual(names, ['ShardfleetRedundancyLost', 'ShardfleetShardsUnavailable', 'ShardfleetPendingRunStuck', 'ShardfleetPartialAnswers', 'ShardfleetErrorRate', 'ShardfleetSnapshotTooOld', 'ShardfleetLiveRecallDrift']);
    assert.deepEqual(problems, []);
  });

  test('Prometheus parses the rendered rules and fires each alert on synthetic series (promtool)', { skip: promtoolMissing }, () => {
    const spec = find(renderChart(ON), 'PrometheusRule', 'demo-shardfleet').spec as { groups: Array<{ name: string; rules: Array<Record<string, unknown>> }> };
    // check rules: PromQL and the annotation templates, as Prometheus loads them.
    assert.match(promtool((dir) => ['check', 'rules', join(dir, 'rules.json')], { 'rules.json': JSON.stringify(spec) }), /SUCCESS: 7 rules found/);
    // test rules: the alerts on series of this release (namespace search) and of another namespace
    // that the default selector must ignore. Annotations are left out (their values are humanized).
    const bare = { groups: spec.groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _a, ...r }) => r) })) };
    const mine = (name: string, labels = ''): string => `${name}{namespace="search",job="demo-shardfleet-router"${labels}}`;
    const requests = 'shardfleet_router_request_duration_seconds_count';
    const tests = {
      rule_files: ['rules.json'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            // Two collections behind two router pods: "items" is degraded, "users" healthy; each
            // alert fires for items only, named by its collection label. The error ratio over
            // both collections (60 / 1260 = 4.8%) is below the 5% limit: only a per-collection
            // ratio (60 / 660 = 9.1%) sees items failing.
            { series: mine('shardfleet_router_under_replicated_shards', ',collection="items",pod="r0"'), values: '0 0 2x40' },
            { series: mine('shardfleet_router_under_replicated_shards', ',collection="items",pod="r1"'), values: '0x42' },
            { series: mine('shardfleet_router_under_replicated_shards', ',collection="users",pod="r0"'), values: '0x42' },
            { series: mine('shardfleet_router_shard_coverage_ratio', ',collection="items",pod="r0"'), values: '1x5 0.5x40' },
            { series: mine('shardfleet_router_shard_coverage_ratio', ',collection="items",pod="r1"'), values: '1x45' },
            { series: mine('shardfleet_router_shard_coverage_ratio', ',collection="users",pod="r0"'), values: '1x45' },
            { series: 'shardfleet_router_shard_coverage_ratio{namespace="other",job="demo-shardfleet-router",collection="users"}', values: '0x45' },
            { series: mine('shardfleet_router_pending_run_seconds', ',collection="items",run_id="r2"'), values: '0+60x40' },
            { series: mine('shardfleet_router_pending_run_seconds', ',collection="users",run_id="r3"'), values: '0+1x40' },
            { series: mine(requests, ',rpc="Search",outcome="ok",collection="items"'), values: '0+600x40' },
            { series: mine(requests, ',rpc="Search",outcome="unavailable",collection="items"'), values: '0+60x40' },
            { series: mine(requests, ',rpc="Search",outcome="ok",collection="users"'), values: '0+600x40' },
            { series: mine('shardfleet_router_partial_responses_total', ',rpc="Search",collection="items"'), values: '0+30x40' },
            // "tiny": half its requests fail and half its answers are partial, but it serves 2 a
            // minute, under minRequestsPerSecond (0.1): neither ratio alert fires for it.
            { series: mine(requests, ',rpc="Search",outcome="ok",collection="tiny"'), values: '0+1x40' },
            { series: mine(requests, ',rpc="Search",outcome="unavailable",collection="tiny"'), values: '0+1x40' },
            { series: mine('shardfleet_router_partial_responses_total', ',rpc="Search",collection="tiny"'), values: '0+1x40' },
            { series: mine('shardfleet_router_snapshot_age_seconds', ',collection="items"'), values: '172000+60x40' },
            { series: mine('shardfleet_router_snapshot_age_seconds', ',collection="users"'), values: '3600+60x40' },
            // Live recall: "items" 0.05 below its build figure with enough samples (fires); "users"
            // 0.01 below (no alert); "kv" far below but with 20 samples only (no alert).
            ...['items', 'users', 'kv'].flatMap((c) => {
              const g = `,collection="${c}",num_probes="2",filter="none"`;
              const live = { items: '0.90x40', users: '0.94x40', kv: '0.5x40' }[c];
              return [
                { series: mine('shardfleet_router_build_recall', g), values: '0.95x40' },
                { series: mine('shardfleet_router_live_recall', g), values: live },
                { series: mine('shardfleet_router_live_recall_window_samples', g), values: c === 'kv' ? '20x40' : '150x40' },
              ];
            }),
          ],
          alert_rule_test: [
            { eval_time: '5m', alertname: 'ShardfleetRedundancyLost', exp_alerts: [] },
            { eval_time: '13m', alertname: 'ShardfleetRedundancyLost', exp_alerts: [{ exp_labels: { severity: 'warning', collection: 'items' } }] },
            { eval_time: '4m', alertname: 'ShardfleetShardsUnavailable', exp_alerts: [] },
            { eval_time: '30m', alertname: 'ShardfleetShardsUnavailable', exp_alerts: [{ exp_labels: { severity: 'critical', collection: 'items' } }] },
            { eval_time: '29m', alertname: 'ShardfleetPendingRunStuck', exp_alerts: [] },
            { eval_time: '31m', alertname: 'ShardfleetPendingRunStuck', exp_alerts: [{ exp_labels: { severity: 'warning', collection: 'items', run_id: 'r2' } }] },
            { eval_time: '20m', alertname: 'ShardfleetErrorRate', exp_alerts: [{ exp_labels: { severity: 'warning', collection: 'items' } }] },
            { eval_time: '20m', alertname: 'ShardfleetPartialAnswers', exp_alerts: [{ exp_labels: { severity: 'warning', collection: 'items' } }] },
            { eval_time: '10m', alertname: 'ShardfleetSnapshotTooOld', exp_alerts: [] },
            { eval_time: '30m', alertname: 'ShardfleetSnapshotTooOld', exp_alerts: [{ exp_labels: { severity: 'warning', collection: 'items' } }] },
            { eval_time: '20m', alertname: 'ShardfleetLiveRecallDrift', exp_alerts: [] },
            { eval_time: '35m', alertname: 'ShardfleetLiveRecallDrift', exp_alerts: [{ exp_labels: { severity: 'warning', collection: 'items', num_probes: '2', filter: 'none' } }] },
          ],
        },
      ],
    };
    assert.match(promtool((dir) => ['test', 'rules', join(dir, 'tests.json')], { 'rules.json': JSON.stringify(bare), 'tests.json': JSON.stringify(tests) }), /SUCCESS/);
    // The same series under a threshold above them: nothing fires where it fired above (the
    // two alerts without a threshold, redundancy and coverage, are left out).
    const quiet = find(
      renderChart(ON, { metrics: { prometheusRule: { errorRate: { ratio: 0.5 }, partialAnswers: { ratio: 0.5 }, pendingRunStuck: { minutes: 60 }, snapshotTooOld: { hours: 100 }, liveRecallDrift: { drop: 0.6 } } } }),
      'PrometheusRule',
      'demo-shardfleet',
    ).spec as typeof spec;
    const quietBare = { groups: quiet.groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _a, ...r }) => r) })) };
    const quietTests = { ...tests, tests: [{ ...tests.tests[0], alert_rule_test: tests.tests[0].alert_rule_test.filter((t) => t.alertname !== 'ShardfleetRedundancyLost' && t.alertname !== 'ShardfleetShardsUnavailable').map((t) => ({ ...t, exp_alerts: [] })) }] };
    assert.match(promtool((dir) => ['test', 'rules', join(dir, 'tests.json')], { 'rules.json': JSON.stringify(quietBare), 'tests.json': JSON.stringify(quietTests) }), /SUCCESS/);
  });

  test('thresholds, windows, severities and the selector come from values; alerts can be switched off one by one', () => {
    const rulesOf = (...o: object[]) =>
      Object.fromEntries(
        (find(renderChart(...o), 'PrometheusRule', 'demo-shardfleet').spec.groups[0].rules as Array<{ alert: string; expr: string; for?: string; labels: Record<string, string> }>).map((r) => [r.alert, r]),
      );
    const d = rulesOf(ON);
    assert.match(d.ShardfleetRedundancyLost.expr, /^max by \(collection\) \(shardfleet_router_under_replicated_shards\{namespace="search",job=~"demo-shardfleet-router\|demo-shardfleet-node-headless"\}\) > 0$/);
    assert.equal(d.ShardfleetRedundancyLost.for, '10m');
    assert.match(d.ShardfleetPendingRunStuck.expr, /shardfleet_router_pending_run_seconds\{.*\}\) > 30 \* 60$/);
    assert.match(d.ShardfleetErrorRate.expr, /outcome!~"ok\|partial"\}\[5m\]\)\) \/ clamp_min\(sum by \(collection\) \(rate\(shardfleet_router_request_duration_seconds_count\{.*\}\[5m\]\)\), 1e-9\) > 0.05 and sum by \(collection\) \(rate\(shardfleet_router_request_duration_seconds_count\{.*\}\[5m\]\)\) >= 0.1$/);
    assert.match(rulesOf(ON, { metrics: { prometheusRule: { errorRate: { minRequestsPerSecond: 0 } } } }).ShardfleetErrorRate.expr, /> 0.05$/, 'minRequestsPerSecond 0: any traffic');
    assert.match(d.ShardfleetSnapshotTooOld.expr, /> 48 \* 3600$/);
    assert.equal(d.ShardfleetShardsUnavailable.labels.severity, 'critical');

    const c = rulesOf(ON, {
      metrics: {
        prometheusRule: {
          selector: 'cluster="eu"',
          rateWindow: '10m',
          labels: { release: 'kps' },
          pendingRunStuck: { minutes: 90 },
          partialAnswers: { ratio: 0.2, for: '1h', severity: 'page' },
          errorRate: { enabled: false },
          snapshotTooOld: { hours: 168 },
        },
      },
    });
    assert.equal(c.ShardfleetErrorRate, undefined, 'errorRate.enabled=false drops the alert');
    // Each alert's block stands alone (the live recall one used to sit inside snapshotTooOld's).
    const noAge = rulesOf(ON, { metrics: { prometheusRule: { snapshotTooOld: null } } });
    assert.deepEqual([noAge.ShardfleetSnapshotTooOld, typeof noAge.ShardfleetLiveRecallDrift], [undefined, 'object']);
    assert.match(c.ShardfleetPendingRunStuck.expr, /\{cluster="eu"\}\) > 90 \* 60$/);
    assert.match(c.ShardfleetPartialAnswers.expr, /shardfleet_router_partial_responses_total\{cluster="eu"\}\[10m\].* > 0.2 and sum by \(collection\) \(rate\(shardfleet_router_request_duration_seconds_count\{cluster="eu"\}\[10m\]\)\) >= 0.1$/);
    assert.deepEqual([c.ShardfleetPartialAnswers.for, c.ShardfleetPartialAnswers.labels.severity], ['1h', 'page']);
    assert.match(c.ShardfleetSnapshotTooOld.expr, /> 168 \* 3600$/);
    assert.equal(find(renderChart(ON, { metrics: { prometheusRule: { labels: { release: 'kps' } } } }), 'PrometheusRule', 'demo-shardfleet').metadata.labels?.release, 'kps');
  });

  test('values.schema.json accepts the new values and rejects bad thresholds', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')));
    assert.ok(validate(mergedValues(ON)), JSON.stringify(validate.errors));
    for (const bad of [
      { metrics: { prometheusRule: { errorRate: { ratio: 5 } } } },
      { metrics: { prometheusRule: { snapshotTooOld: { hours: 0 } } } },
      { metrics: { prometheusRule: { redundancyLost: { for: 'ten minutes' } } } },
      { metrics: { grafanaDashboard: { labels: { grafana_dashboard: 1 } } } },
      { metrics: { prometheusRule: { unknownAlert: {} } } },
    ]) {
      assert.equal(validate(mergedValues(bad)), false, JSON.stringify(bad));
    }
  });
});
