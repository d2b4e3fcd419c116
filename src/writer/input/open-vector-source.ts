/**
 * Opens any supported input file as a {@link VectorSource}, choosing the reader by format or,
 * with `format: 'auto'`, by file name.
 */
import { basename } from 'node:path';
import { ConfigValidationError } from '../../common/errors.ts';
import { openIdxSource } from './idx-source.ts';
import { openJsonlSource } from './jsonl-source.ts';
import { openNpySource } from './npy-source.ts';
import type { VectorSource } from './vector-record.ts';

/** Input formats: IDX images (MNIST / Fashion-MNIST), NumPy `.npy` matrix, JSON Lines. */
export type VectorFormat = 'idx' | 'npy' | 'jsonl';

/** Options of {@link openVectorSource}. */
export interface OpenVectorSourceOptions {
  /** The input format, or `'auto'` to detect it from the file name (see {@link detectVectorFormat}). */
  format: VectorFormat | 'auto';
  /** The input file (IDX images file, `.npy` matrix or `.jsonl` file). */
  path: string;
  /** IDX only: labels file, giving payload `{ label, label_name }`. */
  labelsPath?: string;
  /** npy only: ids file (`.npy` of integers, or text with one id per line). */
  idsPath?: string;
  /** Index (0-based, in file order) of the first record to read; default 0. */
  start?: number;
  /** Maximum number of records to read; default all. */
  limit?: number;
}

const FORMAT_HELP =
  "supported: idx (*-idx3-ubyte, *-idx3-ubyte.gz, *.idx, *.idx.gz), npy (*.npy), jsonl (*.jsonl, *.ndjson)";

/**
 * Picks the format from a file name (case-insensitive): `*-idx3-ubyte`, `*-idx3-ubyte.gz`,
 * `*.idx`, `*.idx.gz` -> idx; `*.npy` -> npy; `*.jsonl`, `*.ndjson` -> jsonl.
 * @throws ConfigValidationError listing the supported formats when the name matches none.
 */
export function detectVectorFormat(path: string): VectorFormat {
  const name = basename(path).toLowerCase();
  if (/-idx3-ubyte(\.gz)?$/.test(name) || /\.idx(\.gz)?$/.test(name)) return 'idx';
  if (name.endsWith('.npy')) return 'npy';
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  throw new ConfigValidationError(`cannot tell the input format of ${path} from its name; pass a format (${FORMAT_HELP})`);
}

/**
 * Opens an input file as a streaming vector source.
 * @param options format (or 'auto'), path, format-specific side files, and an optional slice.
 * @returns the source; `dim`/`count` are known up front for idx and npy, undefined for jsonl.
 * @throws ConfigValidationError when the format is unknown or cannot be detected, a side file is
 *   given for a format that does not use it (labelsPath is idx-only, idsPath is npy-only), or the
 *   chosen reader rejects the file (see openIdxSource / openNpySource / openJsonlSource).
 */
export async function openVectorSource(options: OpenVectorSourceOptions): Promise<VectorSource> {
  const { path, labelsPath, idsPath, start, limit } = options;
  const format = options.format === 'auto' ? detectVectorFormat(path) : options.format;
  if (labelsPath !== undefined && format !== 'idx') {
    throw new ConfigValidationError(`a labels file (${labelsPath}) applies only to idx input, but ${path} is ${format}`);
  }
  if (idsPath !== undefined && format !== 'npy') {
    throw new ConfigValidationError(`an ids file (${idsPath}) applies only to npy input, but ${path} is ${format}`);
  }
  switch (format) {
    case 'idx':
      return openIdxSource({ imagesPath: path, labelsPath, start, limit });
    case 'npy':
      return openNpySource({ path, idsPath, start, limit });
    case 'jsonl':
      return openJsonlSource({ path, start, limit });
    default:
      throw new ConfigValidationError(`unknown input format ${JSON.stringify(format)} (${FORMAT_HELP})`);
  }
}
