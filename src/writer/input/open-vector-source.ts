/**
 * Opens any supported input file as a {@link VectorSource}, choosing the reader by format or,
 * with `format: 'auto'`, by file name; and passes the column options to the reader.
 */
import { basename } from 'node:path';
import { ConfigValidationError } from '../../common/errors.ts';
import { rejectColumnSelection, type ColumnSelection } from './column-selection.ts';
import { concatSources, openParquetDataset } from './dataset-source.ts';
import { openIdxSource } from './idx-source.ts';
import { resolveInput, type OpenStore } from './input-parts.ts';
import type { InputLimits } from './input-limits.ts';
import { openJsonlSource } from './jsonl-source.ts';
import { openNpySource } from './npy-source.ts';
import { openParquetSource } from './parquet-source.ts';
import { openVecsSource } from './vecs-source.ts';
import type { VectorSource } from './vector-record.ts';

/**
 * Input formats: IDX images (MNIST / Fashion-MNIST), NumPy `.npy` matrix, JSON Lines, the ANN
 * benchmark formats `.fvecs` / `.bvecs` / `.ivecs`, and Parquet.
 */
export type VectorFormat = 'idx' | 'npy' | 'jsonl' | 'fvecs' | 'bvecs' | 'ivecs' | 'parquet';

/** Options of {@link openVectorSource}. */
export interface OpenVectorSourceOptions extends ColumnSelection {
  /** The input format, or `'auto'` to detect it from the file name (see {@link detectVectorFormat}). */
  format: VectorFormat | 'auto';
  /** The input file (IDX images, `.npy`, `.jsonl`, `.fvecs`/`.bvecs`/`.ivecs` or `.parquet`). */
  path: string;
  /** IDX only: labels file, giving the columns `label` and `label_name` (the default payload). */
  labelsPath?: string;
  /** npy and fvecs/bvecs/ivecs only: ids file (`.npy` of integers, or text with one id per line). */
  idsPath?: string;
  /** Parquet only: the vector column (default `vector`). */
  vectorColumn?: string;
  /** Parquet only: the id column (default `id`; without one, ids are row indexes). */
  idColumn?: string;
  /** Parquet only, KV builds: the key column (default: the id is the key). */
  keyColumn?: string;
  /** Parquet only, KV builds: the value column(s) (see ParquetSourceOptions.valueColumns). */
  valueColumns?: string[];
  /** Index (0-based, in file order) of the first record to read; default 0. */
  start?: number;
  /** Maximum number of records to read; default all. */
  limit?: number;
  /**
   * Resource caps checked on every format's header (`maxDim`) and on JSONL lines (`maxLineBytes`,
   * `maxJsonDepth`) before anything is allocated from them; default: input-limits.ts.
   */
  limits?: Partial<InputLimits>;
}

const FORMAT_HELP =
  'supported: idx (*-idx3-ubyte, *-idx3-ubyte.gz, *.idx, *.idx.gz), npy (*.npy), jsonl (*.jsonl, *.ndjson), ' +
  'fvecs (*.fvecs), bvecs (*.bvecs), ivecs (*.ivecs), parquet (*.parquet)';

/**
 * Picks the format from a file name (case-insensitive): `*-idx3-ubyte`, `*-idx3-ubyte.gz`,
 * `*.idx`, `*.idx.gz` -> idx; `*.npy` -> npy; `*.jsonl`, `*.ndjson` -> jsonl; `*.fvecs`,
 * `*.bvecs`, `*.ivecs` -> fvecs, bvecs, ivecs; `*.parquet` -> parquet.
 * @throws ConfigValidationError naming `--format` and listing the supported formats when the name
 *   matches none.
 */
export function detectVectorFormat(path: string): VectorFormat {
  const name = basename(path).toLowerCase();
  if (/-idx3-ubyte(\.gz)?$/.test(name) || /\.idx(\.gz)?$/.test(name)) return 'idx';
  if (name.endsWith('.npy')) return 'npy';
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  const vecs = /\.(fvecs|bvecs|ivecs)$/.exec(name);
  if (vecs) return vecs[1] as VectorFormat;
  if (name.endsWith('.parquet')) return 'parquet';
  throw new ConfigValidationError(`cannot tell the input format of ${path} from its name; pass --format <format> or rename the file (${FORMAT_HELP})`);
}

/** Throws when a format-specific option is given for a format that does not use it. */
function checkOptionFormats(options: OpenVectorSourceOptions, format: VectorFormat): void {
  const { path } = options;
  const misplaced: [string, string | undefined, readonly VectorFormat[]][] = [
    ['a labels file', options.labelsPath, ['idx']],
    ['an ids file', options.idsPath, ['npy', 'fvecs', 'bvecs', 'ivecs']],
    ['vectorColumn', options.vectorColumn, ['parquet']],
    ['idColumn', options.idColumn, ['parquet']],
    ['keyColumn', options.keyColumn, ['parquet']],
    ['valueColumns', options.valueColumns?.join(','), ['parquet']],
  ];
  for (const [what, value, formats] of misplaced) {
    if (value !== undefined && !formats.includes(format)) {
      throw new ConfigValidationError(
        `${what} (${value}) applies only to ${formats.join('/')} input, but ${path} is ${format}`,
      );
    }
  }
}

/**
 * Opens an input file as a streaming vector source.
 * @param options format (or 'auto'), path, format-specific side files and columns, column
 *   selection (payload / routing / shard id columns) and an optional slice.
 * @returns the source; `dim`/`count` are known up front for idx, npy, vecs and Parquet, undefined
 *   for jsonl.
 * @throws ConfigValidationError when the format is unknown or cannot be detected; a side file or
 *   column option is given for a format that does not use it (labelsPath: idx; idsPath: npy and
 *   vecs; vectorColumn / idColumn / keyColumn / valueColumns: parquet; payload / routing / shard id columns: not npy or
 *   vecs, which have no named columns); a header or record over `limits` (naming the file, the
 *   value, the limit and its `build` flag); or the chosen reader rejects the file or a column (see
 *   openIdxSource / openNpySource / openJsonlSource / openVecsSource / openParquetSource).
 */
export async function openVectorSource(options: OpenVectorSourceOptions): Promise<VectorSource> {
  const { path, labelsPath, idsPath, start, limit, limits } = options;
  const format = options.format === 'auto' ? detectVectorFormat(path) : options.format;
  checkOptionFormats(options, format);
  const selection: ColumnSelection = {
    payloadColumns: options.payloadColumns,
    routingColumns: options.routingColumns,
    shardIdColumn: options.shardIdColumn,
  };
  switch (format) {
    case 'idx':
      return openIdxSource({ imagesPath: path, labelsPath, start, limit, limits, ...selection });
    case 'npy':
      rejectColumnSelection(selection, format, path);
      return openNpySource({ path, idsPath, start, limit, limits });
    case 'jsonl':
      return openJsonlSource({ path, start, limit, limits, ...selection });
    case 'fvecs':
    case 'bvecs':
    case 'ivecs':
      rejectColumnSelection(selection, format, path);
      return openVecsSource({ path, kind: format, idsPath, start, limit, limits });
    case 'parquet':
      return openParquetSource({
        path,
        vectorColumn: options.vectorColumn,
        idColumn: options.idColumn,
        keyColumn: options.keyColumn,
        valueColumns: options.valueColumns,
        start,
        limit,
        limits,
        ...selection,
      });
    default:
      throw new ConfigValidationError(`unknown input format ${JSON.stringify(format)} (${FORMAT_HELP})`);
  }
}

/** Options of {@link openInputSource}: those of {@link openVectorSource} with `--input` as given. */
export interface OpenInputSourceOptions extends Omit<OpenVectorSourceOptions, 'path'> {
  /** `--input`: a file, folder, glob, `file://` or `s3://` URL (see input-parts.ts). */
  input: string;
  /** Opens `s3://bucket` with the build's S3 flags (`--s3-endpoint`, ...). */
  openStore: OpenStore;
}

/**
 * Opens `--input` as a streaming vector source: one local file as {@link openVectorSource} does;
 * a folder, glob or `s3://` location of Parquet parts as one dataset (dataset-source.ts: read by
 * byte ranges from S3, sliceable by part and row group); a folder or glob of JSON Lines parts as
 * their concatenation.
 * @throws ConfigValidationError naming `--input`: a missing file, an empty folder or a glob that
 *   matches nothing (input-parts.ts); parts of different formats; parts of a format other than
 *   Parquet or JSONL (npy, vecs and IDX parts carry no ids; read them one file at a time); a
 *   non-Parquet object in S3; `--labels` / `--ids` with several parts; parts whose columns, vector
 *   storage or dimension differ; as openVectorSource.
 */
export async function openInputSource(options: OpenInputSourceOptions): Promise<VectorSource> {
  const { input: given, openStore, ...rest } = options;
  const input = await resolveInput(given, openStore);
  const first = input.parts[0];
  if (!input.dataset && first.location.kind === 'local') return openVectorSource({ ...rest, path: first.location.path });
  let format: VectorFormat | undefined = options.format === 'auto' ? undefined : options.format;
  for (const part of input.parts) {
    let detected: VectorFormat;
    try {
      detected = options.format === 'auto' ? detectVectorFormat(part.name) : options.format;
    } catch (err) {
      throw new ConfigValidationError(`--input ${given}: ${(err as Error).message}`, { cause: err });
    }
    if (format !== undefined && detected !== format) {
      throw new ConfigValidationError(`--input ${given}: the parts have different formats: ${first.name} is ${format}, ${part.name} is ${detected}`);
    }
    format = detected;
  }
  if (format === 'parquet') {
    checkOptionFormats({ ...options, path: given }, format);
    return openParquetDataset(input, {
      vectorColumn: options.vectorColumn,
      idColumn: options.idColumn,
      keyColumn: options.keyColumn,
      valueColumns: options.valueColumns,
      payloadColumns: options.payloadColumns,
      routingColumns: options.routingColumns,
      shardIdColumn: options.shardIdColumn,
      start: options.start,
      limit: options.limit,
      limits: options.limits,
    });
  }
  const remote = input.parts.find((p) => p.location.kind === 'object');
  if (remote !== undefined) {
    throw new ConfigValidationError(`--input ${given}: ${remote.name} is ${format}; only Parquet is read from S3 (copy other formats to a local file first)`);
  }
  if (format !== 'jsonl') {
    throw new ConfigValidationError(
      `--input ${given}: ${input.parts.length} ${format} part(s) in a folder or glob; datasets of several parts are read for Parquet and JSONL only (${format} parts carry no ids): pass one file`,
    );
  }
  if (options.start !== undefined || options.limit !== undefined) {
    throw new ConfigValidationError(`--input ${given}: --start / --limit apply to one JSONL file, not to a folder or glob of parts`);
  }
  const sources: VectorSource[] = [];
  for (const part of input.parts) {
    if (part.location.kind !== 'local') continue;
    sources.push(await openVectorSource({ ...rest, format: 'jsonl', path: part.location.path }));
  }
  return concatSources(given, sources);
}
