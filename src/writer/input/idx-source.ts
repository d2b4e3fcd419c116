/**
 * Vector source over MNIST / Fashion-MNIST IDX files (plain or gzip): each image becomes one
 * float32 vector of rows*cols raw pixel values (0..255, not normalised); an optional labels file
 * gives the columns `label` (int) and `label_name` (string), by default the payload
 * `{ label, label_name }`, and selectable as payload, routing or shard id columns.
 */
import { ConfigValidationError, InputRecordError } from '../../common/errors.ts';
import { applyColumnSelection, requireKnownColumns, type ColumnSelection } from './column-selection.ts';
import { type IdxHeader, iterateIdxRecords, readIdxHeader } from './idx-format.ts';
import type { InputLimits } from './input-limits.ts';
import { resolveSlice, type ResolvedSlice, type SliceOptions } from './slice.ts';
import type { Payload, VectorRecord, VectorSource } from './vector-record.ts';

/** Fashion-MNIST class names, indexed by label (0 = T-shirt/top ... 9 = Ankle boot). */
export const FASHION_MNIST_LABEL_NAMES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/**
 * Options of {@link openIdxSource}. `start`/`limit` select records by index in the file.
 * The column options may name `label` and `label_name` (only `label` when `labelNames` is null),
 * and only with a labels file; e.g. `routingColumns: ['label']` gives `routingContext.label`.
 */
export interface IdxSourceOptions extends SliceOptions, ColumnSelection {
  /** Path of the IDX images file (magic 2051), plain or gzip. */
  imagesPath: string;
  /** Optional IDX labels file (magic 2049) with one label per image. */
  labelsPath?: string;
  /** Added to the record index to form the id: id = String(idOffset + index in file). Default 0. */
  idOffset?: number;
  /**
   * Names for labels, indexed by label value, stored as `label_name`. Default
   * {@link FASHION_MNIST_LABEL_NAMES}; `null` stores only `label`.
   */
  labelNames?: readonly string[] | null;
  /** Header caps (`maxDim`: rows x cols); default: input-limits.ts DEFAULT_INPUT_LIMITS. */
  limits?: Partial<InputLimits>;
}

/** Headers and slice of an IDX input, checked against each other. */
interface IdxPlan {
  images: IdxHeader;
  labels: IdxHeader | undefined;
  dim: number;
  slice: ResolvedSlice;
}

/** Reads both headers, checks that they agree and resolves the slice. */
async function planIdx(imagesPath: string, labelsPath: string | undefined, slice: SliceOptions, limits: Partial<InputLimits> | undefined): Promise<IdxPlan> {
  const images = await readIdxHeader(imagesPath, 'images', limits);
  const labels = labelsPath === undefined ? undefined : await readIdxHeader(labelsPath, 'labels', limits);
  const count = images.sizes[0];
  if (labels && labels.sizes[0] !== count) {
    throw new ConfigValidationError(
      `${labelsPath} has ${labels.sizes[0]} labels but ${imagesPath} has ${count} images; the counts must match`,
    );
  }
  if (images.recordBytes === 0) throw new ConfigValidationError(`${imagesPath}: IDX images have 0 pixels`);
  return { images, labels, dim: images.recordBytes, slice: resolveSlice(slice, count, imagesPath) };
}

/** Converts raw uint8 pixels to float32 values 0..255 into `out` at `offset`. */
function copyPixels(pixels: Uint8Array, out: Float32Array, offset: number): void {
  for (let i = 0; i < pixels.length; i++) out[offset + i] = pixels[i];
}

/**
 * Opens an IDX images file (and optional labels file) as a streaming vector source.
 * Records: id = String(idOffset + index in file); vector = `Float32Array` of rows*cols raw pixel
 * values (0..255); payload `{ label: number, label_name: string }` when a labels file is given
 * (`{ label }` only when `labelNames` is null), or the `payloadColumns` among them;
 * routingContext / shardId from `routingColumns` / `shardIdColumn`; location
 * `<imagesPath> record <index in file>`.
 * `dim` = rows*cols and `count` = number of records in the slice, both from the headers.
 * @throws ConfigValidationError naming the file for an unreadable file, a wrong magic number,
 *   rows x cols over `limits.maxDim` (naming `--max-dim`), a plain file shorter than its header
 *   claims, a count mismatch between images and labels, a bad slice / idOffset, or a column option naming
 *   a column other than `label` / `label_name` (or any column without a labels file; the message
 *   lists the available columns).
 * During a pass, `records()` throws InputRecordError naming the file and record for a truncated
 * or corrupt file, or a label without a name in `labelNames`.
 */
export async function openIdxSource(options: IdxSourceOptions): Promise<VectorSource> {
  const { imagesPath, labelsPath, idOffset = 0 } = options;
  const labelNames = options.labelNames === undefined ? FASHION_MNIST_LABEL_NAMES : options.labelNames;
  if (!Number.isSafeInteger(idOffset) || idOffset < 0) {
    throw new ConfigValidationError(`idOffset must be a non-negative integer, got ${idOffset}`);
  }
  const plan = await planIdx(imagesPath, labelsPath, options, options.limits);
  const { images, labels, dim, slice } = plan;
  const selection: ColumnSelection = {
    payloadColumns: options.payloadColumns,
    routingColumns: options.routingColumns,
    shardIdColumn: options.shardIdColumn,
  };
  const description = labelsPath === undefined ? imagesPath : `${imagesPath} (labels ${labelsPath})`;
  const available = labelsPath === undefined ? [] : labelNames === null ? ['label'] : ['label', 'label_name'];
  const hint = labelsPath === undefined ? 'IDX columns come from a labels file; none was given' : undefined;
  requireKnownColumns(selection, available, description, hint);
  async function* records(): AsyncGenerator<VectorRecord> {
    for await (const rec of iterateIdxRecords(images, labels, slice.start, slice.end)) {
      const location = `${imagesPath} record ${rec.index}`;
      const vector = new Float32Array(dim);
      copyPixels(rec.pixels, vector, 0);
      const record: VectorRecord = { id: String(idOffset + rec.index), vector, location };
      if (rec.label !== undefined) {
        const columns: Payload = { label: rec.label };
        if (labelNames !== null) {
          const name = labelNames[rec.label];
          if (name === undefined) {
            throw new InputRecordError(
              `${labelsPath} record ${rec.index}`,
              `label ${rec.label} has no name (${labelNames.length} label names given)`,
            );
          }
          columns.label_name = name;
        }
        record.payload = columns;
        applyColumnSelection(record, (column) => (Object.hasOwn(columns, column) ? { value: columns[column] } : undefined), selection);
      }
      yield record;
    }
  }
  return {
    description,
    dim,
    count: slice.end - slice.start,
    records,
  };
}

/** IDX images loaded into memory by {@link readIdxImages}. */
export interface IdxImages {
  /** Row-major `Float32Array` of length count*dim with raw pixel values 0..255. */
  vectors: Float32Array;
  /** Values per image (rows*cols, e.g. 784). */
  dim: number;
  /** Number of images loaded (honours start/limit). */
  count: number;
  /** One label per image (`Uint8Array` of length count) when `labelsPath` was given. */
  labels?: Uint8Array;
}

/**
 * Loads a slice of an IDX images file into memory, e.g. a query set.
 * @param path IDX images file (plain or gzip).
 * @param options `start`/`limit` select images by index in the file; `labelsPath` also loads labels.
 * @returns the vectors (count*dim float32, row-major), dim, count and optional labels.
 * @throws ConfigValidationError for a bad file header, count mismatch or bad slice;
 *   InputRecordError naming file and record for a truncated or corrupt file.
 */
export async function readIdxImages(
  path: string,
  options: SliceOptions & { labelsPath?: string; limits?: Partial<InputLimits> } = {},
): Promise<IdxImages> {
  const { images, labels, dim, slice } = await planIdx(path, options.labelsPath, options, options.limits);
  const count = slice.end - slice.start;
  // A gzip file's count is only the header's claim: grow with the records actually read.
  let capacity = images.gzip ? Math.min(count, 1024) : count;
  let vectors = new Float32Array(capacity * dim);
  let labelArray = labels ? new Uint8Array(capacity) : undefined;
  let row = 0;
  for await (const rec of iterateIdxRecords(images, labels, slice.start, slice.end)) {
    if (row === capacity) {
      capacity = Math.min(count, capacity * 2);
      const grown = new Float32Array(capacity * dim);
      grown.set(vectors);
      vectors = grown;
      if (labelArray) {
        const grownLabels = new Uint8Array(capacity);
        grownLabels.set(labelArray);
        labelArray = grownLabels;
      }
    }
    copyPixels(rec.pixels, vectors, row * dim);
    if (labelArray && rec.label !== undefined) labelArray[row] = rec.label;
    row++;
  }
  return labelArray ? { vectors, dim, count, labels: labelArray } : { vectors, dim, count };
}
