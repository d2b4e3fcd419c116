/**
 * Metric names in PromQL expressions, checked against the metric families a process exports: the
 * dashboard and alert tests use it so that no query of the Helm chart names a series the code does
 * not produce.
 *
 * The extraction is lexical, not a full PromQL parser: it drops string literals, Grafana variables
 * (`$x`, `${x}`), label matchers (`{...}`), range and subquery selectors (`[...]`) and grouping
 * label lists (`by (...)`, `without`, `on`, `ignoring`, `group_left`, `group_right`), then takes
 * every remaining identifier that is not a keyword or operator word and is not followed by `(` (a
 * function or aggregation). Grafana's `label_values(metric, label)` yields its metric.
 */

/** A metric family as `# TYPE <name> <type>` announces it in the Prometheus text format. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

/** PromQL words that are not series names (binary operators, modifiers, literals). */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'atan2']);

/** Series names of a histogram or summary family: `_bucket` (histograms only), `_sum`, `_count`. */
const SUFFIXES: Array<[suffix: string, types: MetricType[]]> = [
  ['_bucket', ['histogram']],
  ['_sum', ['histogram', 'summary']],
  ['_count', ['histogram', 'summary']],
];

/**
 * The metric names `expr` selects (distinct, in order of appearance).
 * @example metricNamesOf('sum by (le) (rate(a_bucket{x="y"}[5m])) / b') → ['a_bucket', 'b']
 */
export function metricNamesOf(expr: string): string[] {
  let s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\blabel_values\s*\(\s*([A-Za-z_:][\w:]*)\s*(?:\{[^}]*\})?\s*,[^)]*\)/g, ' $1 ')
    .replace(/\$\{[^}]*\}|\$\w+/g, '0');
  s = s.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  const tokens = s.match(/[A-Za-z_:][\w:]*|\d[\w.]*|\S/g) ?? [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!/^[A-Za-z_:]/.test(t) || KEYWORDS.has(t.toLowerCase()) || tokens[i + 1] === '(') continue;
    if (!names.includes(t)) names.push(t);
  }
  return names;
}

/**
 * Why `name` is not a series of the exported families, or undefined when it is: a counter, gauge
 * or untyped family by its own name, or a histogram's `_bucket` / `_sum` / `_count` (a summary's
 * `_sum` / `_count`). A histogram's bare name is not a series.
 */
export function whyUnknown(name: string, exported: ReadonlyMap<string, MetricType>): string | undefined {
  const type = exported.get(name);
  if (type !== undefined) {
    return type === 'histogram' || type === 'summary' ? `${name} is a ${type}: select ${name}_bucket, _sum or _count` : undefined;
  }
  for (const [suffix, types] of SUFFIXES) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const baseType = exported.get(base);
    if (baseType !== undefined && types.includes(baseType)) return undefined;
    if (baseType !== undefined) return `${name}: ${base} is a ${baseType}, it has no ${suffix} series`;
  }
  return `${name} is not a metric the code exports`;
}

/** The problems of `expr`: one line per metric name it selects that is not exported (empty = fine). */
export function unknownMetrics(expr: string, exported: ReadonlyMap<string, MetricType>): string[] {
  return metricNamesOf(expr).flatMap((name) => {
    const why = whyUnknown(name, exported);
    return why === undefined ? [] : [why];
  });
}

/** The families a Prometheus text exposition announces (`# TYPE <name> <type>` lines). */
export function exportedFamilies(text: string): Map<string, MetricType> {
  const out = new Map<string, MetricType>();
  for (const m of text.matchAll(/^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/gm)) out.set(m[1], m[2] as MetricType);
  return out;
}
