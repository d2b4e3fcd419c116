/**
 * Reading samples out of a Prometheus text exposition (what `/metrics` serves), for tests and
 * benchmarks that scrape a router or node. Only plain `name{labels} value` sample lines are read;
 * label values must not contain `}` (shardfleet's never do).
 */

/** One sample line: metric name, labels and value. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample of `name` in `text` whose labels include every `labels` pair, in text order. */
export function promSamples(text: string, name: string, labels: Record<string, string> = {}): PromSample[] {
  const out: PromSample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) out.push({ name, labels: have, value: Number(m[4]) });
  }
  return out;
}

/** The value of the first sample of `name` whose labels include every `labels` pair. */
export function promSample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  return promSamples(text, name, labels)[0]?.value;
}
