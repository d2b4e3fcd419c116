/**
 * Writes seeded Parquet datasets the way Spark lays them out (hive-style `key=value/` folders of
 * `part-NNNNN-<uuid>.snappy.parquet` files, `_SUCCESS`, `.crc` side files, a `_temporary/`
 * folder) with hyparquet-writer, for the input and distributed-build tests.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';

/** Rows of a dataset: ids, vectors (dim each) and an integer `label` column. */
export interface DatasetRows {
  ids: string[];
  vectors: number[][];
  labels: number[];
}

/** `n` seeded vectors of `dim` values around `clusters` centres (deterministic). */
export function clusteredRows(n: number, dim: number, clusters: number, seed = 7): DatasetRows {
  let s = seed >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const centres = Array.from({ length: clusters }, () => Array.from({ length: dim }, () => rand() * 20 - 10));
  const rows: DatasetRows = { ids: [], vectors: [], labels: [] };
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rand() * clusters);
    rows.ids.push(`v${i}`);
    rows.vectors.push(centres[c].map((x) => Math.fround(x + (rand() - 0.5) * 2)));
    rows.labels.push(c);
  }
  return rows;
}

const LIST_FLOAT: SchemaElement[] = [
  { name: 'vector', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
];

/**
 * One Parquet file of rows `[from, to)` (columns id, vector as list<float>, label; plus `extra`
 * string column when asked), row groups of `rowGroupSize`.
 */
export function parquetBytes(rows: DatasetRows, from: number, to: number, rowGroupSize: number, extra = false): Uint8Array {
  const columnData = [
    { name: 'id', data: rows.ids.slice(from, to) },
    { name: 'vector', data: rows.vectors.slice(from, to) },
    { name: 'label', data: rows.labels.slice(from, to) },
    ...(extra ? [{ name: 'note', data: rows.ids.slice(from, to).map((id) => `note ${id}`) }] : []),
  ];
  const schema: SchemaElement[] = [
    { name: 'root', num_children: columnData.length },
    { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
    ...LIST_FLOAT,
    { name: 'label', type: 'INT32', repetition_type: 'REQUIRED' },
    ...(extra ? [{ name: 'note', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' } as SchemaElement] : []),
  ];
  return new Uint8Array(parquetWriteBuffer({ columnData, schema, rowGroupSize, codec: 'SNAPPY' }));
}

/** A written dataset: its folder and its data files in read order (relative paths). */
export interface WrittenDataset {
  dir: string;
  files: string[];
}

/**
 * Writes `rows` as `parts` part files of equal size in two hive-style partitions
 * (`day=1/`, `day=2/`), with `_SUCCESS`, a `.crc` file per part and a `_temporary/` folder that a
 * reader must skip. Parts are numbered so that path order is row order.
 */
export async function writeSparkDataset(dir: string, rows: DatasetRows, parts: number, rowGroupSize: number): Promise<WrittenDataset> {
  const files: string[] = [];
  const per = Math.ceil(rows.ids.length / parts);
  for (let p = 0; p < parts; p++) {
    const day = p < parts / 2 ? 1 : 2;
    const name = `part-${String(p).padStart(5, '0')}-3f2a9c1e-c000.snappy.parquet`;
    const rel = `day=${day}/${name}`;
    await mkdir(join(dir, `day=${day}`), { recursive: true });
    const bytes = parquetBytes(rows, p * per, Math.min(rows.ids.length, (p + 1) * per), rowGroupSize);
    await writeFile(join(dir, rel), bytes);
    await writeFile(join(dir, `day=${day}`, `.${name}.crc`), 'crc bytes');
    files.push(rel);
  }
  await writeFile(join(dir, '_SUCCESS'), '');
  await mkdir(join(dir, '_temporary', '0'), { recursive: true });
  await writeFile(join(dir, '_temporary', '0', 'part-99999.parquet'), 'not parquet');
  return { dir, files };
}
