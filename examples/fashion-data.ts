/**
 * Shared pieces of the examples (`npm run demo`, `npm run demo:kv`) and of `npm run bench:get`:
 * the bundled Fashion-MNIST files, the demos' output line, and Fashion-MNIST as KV records (a
 * key, a value and a payload per image) for KV + vector snapshots (issue 14).
 *
 * KV record i (image i of the IDX file): key `fm-<i, 5 digits>` (its id is the same text, as for
 * every KV record), value a small JSON product record (`{"sku", "title", "price_cents", "stock"}`,
 * stored as its UTF-8 bytes), payload `{label, label_name}` from the labels file.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { openIdxSource, type IdxSourceOptions } from '../src/writer/input/idx-source.ts';
import type { VectorRecord, VectorSource } from '../src/writer/input/vector-record.ts';

/** The bundled Fashion-MNIST test split (10,000 images). */
export const FASHION_DATA = fileURLToPath(new URL('./data/fashion-mnist/', import.meta.url));
export const FASHION_IMAGES = join(FASHION_DATA, 't10k-images-idx3-ubyte.gz');
export const FASHION_LABELS = join(FASHION_DATA, 't10k-labels-idx1-ubyte.gz');

/** Writes one line to stdout. */
export function line(s = ''): void {
  process.stdout.write(s + '\n');
}

/** The key (and id) of image `i`. */
export function fashionKey(i: number): string {
  return `fm-${String(i).padStart(5, '0')}`;
}

/** The value text of image `i` with label name `labelName` (a small JSON product record). */
export function fashionValue(i: number, labelName: string): string {
  return JSON.stringify({ sku: fashionKey(i), title: `${labelName} #${i}`, price_cents: 999 + ((i * 7919) % 9000), stock: (i * 31) % 97 });
}

const utf8 = new TextEncoder();

/** One IDX record as a KV record (key, value; the id is the key). */
function asKvRecord(r: VectorRecord): VectorRecord {
  const i = Number(r.id);
  const key = fashionKey(i);
  const labelName = String(r.payload?.label_name ?? r.payload?.label ?? 'item');
  return { ...r, id: key, key, value: utf8.encode(fashionValue(i, labelName)) };
}

/**
 * A Fashion-MNIST IDX file as KV records (see the file comment), streamed like any source.
 * @param options the IDX source options (images, labels, slice).
 */
export async function openFashionKvSource(options: IdxSourceOptions): Promise<VectorSource> {
  const idx = await openIdxSource(options);
  return {
    description: `${idx.description} as KV records (key fm-NNNNN)`,
    dim: idx.dim,
    count: idx.count,
    async *records() {
      for await (const r of idx.records()) yield asKvRecord(r);
    },
  };
}

/**
 * Writes the KV records of `options` as JSONL for `shardfleet build --kv`: one
 * `{"key", "value", "vector", "payload"}` object per line (the value as its JSON text's parsed
 * object, which the build stores as compact JSON text, i.e. the same bytes).
 * @returns the number of lines written.
 */
export async function writeFashionKvJsonl(path: string, options: IdxSourceOptions): Promise<number> {
  const source = await openFashionKvSource(options);
  const out = createWriteStream(path);
  let n = 0;
  for await (const r of source.records()) {
    const text = JSON.stringify({
      key: r.key,
      value: JSON.parse(new TextDecoder().decode(r.value)) as unknown,
      vector: Array.from(r.vector),
      payload: r.payload,
    });
    if (!out.write(text + '\n')) await once(out, 'drain');
    n++;
  }
  out.end();
  await once(out, 'finish');
  return n;
}
