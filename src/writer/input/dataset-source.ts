/**
 * A {@link VectorSource} over the parts of a dataset (input-parts.ts): the parts' records one
 * after the other, in part order. Parquet parts must agree on their columns, the vector column's
 * storage and the dimension; a dataset of Parquet parts can be read by record range
 * (`recordsIn`), touching only the parts and row groups in the range, and gives its split points
 * (part and row-group starts) so a distributed build can hand each worker a disjoint slice.
 */
import pLimit from 'p-limit';
import { ConfigValidationError } from '../../common/errors.ts';
import { objectAsyncBuffer, type InputPart, type ResolvedInput } from './input-parts.ts';
import { openParquetFile, openParquetSource, type ParquetSourceOptions, type ParquetVectorSource } from './parquet-source.ts';
import { resolveSlice } from './slice.ts';
import type { VectorRecord, VectorSource } from './vector-record.ts';

/** Parts whose footers are read at once. */
const OPEN_CONCURRENCY = 8;

/** A part with its source and the position of its first record in the dataset. */
interface OpenPart {
  part: InputPart;
  source: ParquetVectorSource;
  offset: number;
}

/**
 * Opens a dataset of Parquet parts (local files or store objects, read by byte ranges).
 * @param input the resolved `--input` (every part Parquet).
 * @param options the Parquet options (columns, limits), applied to every part; `start`/`limit`
 *   select records of the whole dataset (0-based, in part order).
 * @returns a source; `count` is the sum of the parts' rows (within the slice); ids made from row
 *   indexes (no id column) are positions in the dataset, so they are distinct across parts.
 * @throws ConfigValidationError naming `--input` and the parts that differ: columns, vector storage
 *   (list / binary) or dimension; as openParquetSource for each part (naming the part).
 */
export async function openParquetDataset(
  input: ResolvedInput,
  options: Omit<ParquetSourceOptions, 'path' | 'file' | 'metadata' | 'rowIdOffset'>,
): Promise<VectorSource> {
  const limit = pLimit(OPEN_CONCURRENCY);
  const footers = await Promise.all(
    input.parts.map((part) =>
      limit(() => openParquetFile(part.name, part.location.kind === 'object' ? objectAsyncBuffer({ ...part, location: part.location }) : undefined)),
    ),
  );
  const offsets: number[] = [];
  let total = 0;
  for (const f of footers) {
    offsets.push(total);
    total += Number(f.metadata.num_rows);
  }
  const partOptions = { ...options, start: undefined, limit: undefined };
  // Opening a part reads its footer only (list vectors: the dimension comes with the first row
  // read), so a worker of a distributed build reads no data outside its slice.
  const opened: OpenPart[] = await Promise.all(
    input.parts.map((part, i) =>
      limit(async () => ({
        part,
        offset: offsets[i],
        source: await openParquetSource({ ...partOptions, path: part.name, file: footers[i].file, metadata: footers[i].metadata, rowIdOffset: offsets[i], lazyDim: true }),
      })),
    ),
  );
  checkSameSchema(input.given, opened);
  const dim = opened.find((p) => p.source.dim !== undefined)?.source.dim;
  const slice = resolveSlice(options, total, `--input ${input.given}`);
  const count = slice.end - slice.start;

  async function* recordsIn(from: number, to: number): AsyncGenerator<VectorRecord> {
    const start = slice.start + Math.max(0, from);
    const end = Math.min(slice.end, slice.start + to);
    for (const p of opened) {
      const a = Math.max(start, p.offset) - p.offset;
      const b = Math.min(end, p.offset + p.source.count) - p.offset;
      if (a < b) yield* p.source.recordsIn(a, b);
    }
  }

  function splitPoints(): number[] {
    const points = new Set<number>([0]);
    for (const p of opened) {
      for (const s of p.source.splitPoints()) {
        const at = p.offset + s - slice.start;
        if (at > 0 && at < count) points.add(at);
      }
    }
    return [...points].sort((a, b) => a - b);
  }

  return {
    description: `${input.given} (${input.parts.length} Parquet part${input.parts.length === 1 ? '' : 's'})`,
    dim,
    count,
    records: () => recordsIn(0, count),
    recordsIn,
    splitPoints,
  };
}

/**
 * @throws ConfigValidationError naming `--input` and two parts when their columns, vector storage
 *   or dimension differ.
 */
function checkSameSchema(given: string, parts: OpenPart[]): void {
  const first = parts[0];
  const columns = (p: OpenPart) => [...p.source.columns].sort().join(', ');
  const withDim = parts.find((p) => p.source.dim !== undefined);
  for (const p of parts) {
    if (columns(p) !== columns(first)) {
      throw new ConfigValidationError(
        `--input ${given}: the parts have different columns: ${first.part.name} has [${columns(first)}], ${p.part.name} has [${columns(p)}]`,
      );
    }
    if (p.source.vectorShape !== first.source.vectorShape) {
      throw new ConfigValidationError(
        `--input ${given}: the parts store vectors differently: ${first.part.name} as ${first.source.vectorShape}, ${p.part.name} as ${p.source.vectorShape}`,
      );
    }
    if (withDim !== undefined && p.source.dim !== undefined && p.source.dim !== withDim.source.dim) {
      throw new ConfigValidationError(
        `--input ${given}: the parts have different vector dimensions: ${withDim.part.name} has ${withDim.source.dim}, ${p.part.name} has ${p.source.dim}`,
      );
    }
  }
}

/**
 * A source that reads other sources one after the other (JSON Lines parts: their records carry
 * their own ids). No ranges: a distributed worker reads all of it.
 */
export function concatSources(given: string, sources: VectorSource[]): VectorSource {
  const counts = sources.map((s) => s.count);
  const dims = new Set(sources.map((s) => s.dim).filter((d) => d !== undefined));
  if (dims.size > 1) throw new ConfigValidationError(`--input ${given}: the parts have different vector dimensions: ${[...dims].join(', ')}`);
  return {
    description: `${given} (${sources.length} parts)`,
    dim: [...dims][0],
    count: counts.every((c) => c !== undefined) ? counts.reduce((a, b) => a! + b!, 0) : undefined,
    async *records() {
      for (const s of sources) yield* s.records();
    },
  };
}
