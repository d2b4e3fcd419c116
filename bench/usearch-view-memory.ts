/**
 * usearch's own anonymous memory for a set of shard indexes: the part of a node's memory that the
 * index library needs whatever reader wraps it (issue 22, item 2: "<= 16 B per vector anonymous
 * beyond the index mapping"). bench/scale-bench.ts runs it once per served node, on the
 * `index.usearch` files in that node's cache folder, and subtracts it from the node's growth.
 *
 * Run as a child with `--expose-gc`: imports usearch, takes RssAnon (after two forced GCs), then
 * memory-maps every file with `Index.view` (as the shard node does) and runs a few searches on
 * each (per-thread search contexts), and takes RssAnon again. Prints one JSON line:
 * `{ files, vectors, anonBeforeBytes, anonAfterBytes }` (bytes; vectors = sum of `Index.size()`).
 *
 *   node --expose-gc --import tsx bench/usearch-view-memory.ts --dim 128 --metric l2 <index.usearch>...
 *
 * The index parameters are the build defaults (DEFAULT_USEARCH_PARAMS); a build with other
 * `--m`/`--quantization` flags needs the same here (not needed by bench:scale, which builds with
 * the defaults).
 */
import { parseArgs } from 'node:util';
import type { Metric } from '../src/common/distance.ts';
import { DEFAULT_USEARCH_PARAMS, newUsearchIndex } from '../src/common/usearch-layout.ts';
import { ownRssAnonAfterGc as rssAnon } from './lib/proc-stats.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { dim: { type: 'string' }, metric: { type: 'string', default: 'l2' } } });
const dim = Number(values.dim);
if (!Number.isInteger(dim) || dim < 1) throw new Error(`--dim: expected a positive integer, got ${String(values.dim)}`);
const metric = values.metric as Metric;

const probe = newUsearchIndex(dim, metric, DEFAULT_USEARCH_PARAMS, 64); // loads the addon before the baseline
void probe;
const query = Float32Array.from({ length: dim }, (_, i) => Math.sin(i));
const anonBeforeBytes = rssAnon();
const held = positionals.map((file) => {
  const index = newUsearchIndex(dim, metric, DEFAULT_USEARCH_PARAMS, 64);
  index.view(file);
  for (let i = 0; i < 20; i++) index.search(query, 10, 1);
  return index;
});
const anonAfterBytes = rssAnon();
const vectors = held.reduce((a, index) => a + Number(index.size()), 0);
console.log(JSON.stringify({ files: positionals.length, vectors, anonBeforeBytes, anonAfterBytes }));
