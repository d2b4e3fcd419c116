/**
 * Checks every input record during the writer's first pass: dimension, finite elements,
 * duplicate ids; and at the end, that there is input at all and enough vectors for the shards.
 *
 * Two-pass use with `onDuplicate: 'last'` (the writer reads the source twice, and every
 * {@link VectorSource} yields the same records in the same order on each pass):
 *
 * ```ts
 * const validator = new RecordValidator({ description: source.description, dim: source.dim, onDuplicate: 'last' });
 * for await (const r of source.records()) { validator.check(r); sample(r); }   // pass 1
 * const summary = validator.finish();            // throws on empty input
 * validator.ensureAtLeast(numShards);            // throws when summary.count < numShards
 * const keep = validator.createSecondPassFilter();
 * for await (const r of source.records()) { if (keep(r)) assignAndWrite(r); }  // pass 2
 * ```
 *
 * The filter counts records in pass order and drops every occurrence of a duplicated id except
 * the last one, so pass 2 writes exactly `summary.count` records. (Equivalently, count the
 * records of pass 2 yourself and call {@link RecordValidator.keepInSecondPass}.) Note that pass-1 consumers
 * (e.g. a k-means sample) still see the superseded occurrences; they were valid vectors.
 */
import { ConfigValidationError, InputRecordError } from '../../common/errors.ts';
import type { VectorRecord } from './vector-record.ts';

/** What to do when an id occurs more than once: fail, or keep the last occurrence. */
export type DuplicatePolicy = 'error' | 'last';

/** Options of {@link RecordValidator}. */
export interface RecordValidatorOptions {
  /** Description of the source (file names) for messages such as `no vectors in <description>`; default `the input`. */
  description?: string;
  /** Expected vector dimension; default: the first record's dimension. */
  dim?: number;
  /** Duplicate id policy; default `'error'`. */
  onDuplicate?: DuplicatePolicy;
}

/** Result of {@link RecordValidator.finish}. */
export interface ValidationSummary {
  /** Records checked (every occurrence, including superseded duplicates). */
  records: number;
  /** Distinct ids, i.e. vectors the second pass writes (records minus dropped duplicates). */
  count: number;
  /** Vector dimension. */
  dim: number;
  /** Earlier occurrences of duplicated ids that the second pass must drop (0 with 'error'). */
  duplicatesDropped: number;
}

/** Number of prefix slots in an encoded location (2^12); numbers up to 2^40 fit in 2^52. */
const PREFIX_SLOTS = 4096;
const MAX_LOCATION_NUMBER = 2 ** 40;

/**
 * Stores record locations as numbers: a location `<prefix><n>` (e.g. `data.jsonl line 17`) is
 * encoded as n * 4096 + index of the interned prefix; other locations fall back to the record's
 * ordinal in the pass, encoded as -(ordinal + 1).
 */
class LocationCodec {
  private readonly prefixIndex = new Map<string, number>();
  private readonly prefixes: string[] = [];

  constructor(private readonly description: string) {}

  encode(location: string, ordinal: number): number {
    const m = /^(.*?)(\d+)$/.exec(location);
    if (m) {
      const n = Number(m[2]);
      if (String(n) === m[2] && n < MAX_LOCATION_NUMBER) {
        let index = this.prefixIndex.get(m[1]);
        if (index === undefined && this.prefixes.length < PREFIX_SLOTS) {
          index = this.prefixes.length;
          this.prefixes.push(m[1]);
          this.prefixIndex.set(m[1], index);
        }
        if (index !== undefined) return n * PREFIX_SLOTS + index;
      }
    }
    return -(ordinal + 1);
  }

  decode(code: number): string {
    if (code < 0) return `record ${-code - 1} (0-based, in read order) of ${this.description}`;
    return `${this.prefixes[code % PREFIX_SLOTS]}${Math.floor(code / PREFIX_SLOTS)}`;
  }
}

/** Number of Maps ids are spread over: a V8 Map holds at most 2^24 entries. */
const ID_BUCKETS = 32;

/** A string -> number map split over several Maps by a hash of the key, to exceed 2^24 keys. */
class BucketedIdMap {
  private readonly buckets = Array.from({ length: ID_BUCKETS }, () => new Map<string, number>());

  private bucket(id: string): Map<string, number> {
    let h = 0x811c9dc5;
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    return this.buckets[(h >>> 0) % ID_BUCKETS];
  }

  get(id: string): number | undefined {
    return this.bucket(id).get(id);
  }

  set(id: string, value: number): void {
    this.bucket(id).set(id, value);
  }
}

/**
 * Validates records in read order. Memory: one map entry per distinct id (id -> first location,
 * encoded as a number), plus one entry per duplicated id with `onDuplicate: 'last'`.
 */
export class RecordValidator {
  private readonly description: string;
  private readonly policy: DuplicatePolicy;
  private expectedDim: number | undefined;
  private readonly firstSeen = new BucketedIdMap();
  private readonly locations: LocationCodec;
  /** For ids seen more than once ('last' policy): id -> ordinal of the latest occurrence. */
  private readonly lastOrdinal = new Map<string, number>();
  private records = 0;
  private dropped = 0;

  /**
   * @throws ConfigValidationError when `dim` is given and is not a positive integer.
   */
  constructor(options: RecordValidatorOptions) {
    this.description = options.description ?? 'the input';
    this.policy = options.onDuplicate ?? 'error';
    this.locations = new LocationCodec(this.description);
    if (options.dim !== undefined && (!Number.isSafeInteger(options.dim) || options.dim <= 0)) {
      throw new ConfigValidationError(`dimension must be a positive integer, got ${options.dim}`);
    }
    this.expectedDim = options.dim;
  }

  /** The expected dimension: as given, or the first record's; undefined before any record. */
  get dim(): number | undefined {
    return this.expectedDim;
  }

  /** Distinct ids seen so far (vectors that will be written). */
  get vectorCount(): number {
    return this.records - this.dropped;
  }

  /**
   * Checks one record (call for every record of the first pass, in order).
   * @throws InputRecordError at `record.location` when the id is empty, the vector length differs
   *   from the expected dimension (`vector has 783 dimensions, expected 784`), an element is NaN
   *   or ±Infinity (names the first such index), or (policy 'error') the id was seen before
   *   (names the location of the first occurrence).
   */
  check(record: VectorRecord): void {
    const { id, vector, location } = record;
    if (id === '') throw new InputRecordError(location, 'empty id');
    if (this.expectedDim === undefined) {
      if (vector.length === 0) throw new InputRecordError(location, 'vector is empty');
      this.expectedDim = vector.length;
    } else if (vector.length !== this.expectedDim) {
      throw new InputRecordError(location, `vector has ${vector.length} dimensions, expected ${this.expectedDim}`);
    }
    for (let i = 0; i < vector.length; i++) {
      if (!Number.isFinite(vector[i])) {
        throw new InputRecordError(location, `vector element ${i} is ${vector[i]}; vectors must be finite`);
      }
    }
    const ordinal = this.records;
    const first = this.firstSeen.get(id);
    if (first === undefined) {
      this.firstSeen.set(id, this.locations.encode(location, ordinal));
    } else if (this.policy === 'error') {
      throw new InputRecordError(
        location,
        `duplicate id ${JSON.stringify(id)} (first seen at ${this.locations.decode(first)}); ` +
          `pass --on-duplicate last to shardfleet build (onDuplicate: 'last' in the build API) to keep the last occurrence`,
      );
    } else {
      this.lastOrdinal.set(id, ordinal);
      this.dropped++;
    }
    this.records++;
  }

  /**
   * Ids that occurred more than once (policy 'last'), each mapped to the 0-based ordinal (position
   * in read order, counting every record) of the occurrence that is kept: the last one. All other
   * occurrences of these ids must be skipped in the second pass; see {@link createSecondPassFilter}.
   */
  duplicatesKeptLast(): ReadonlyMap<string, number> {
    return this.lastOrdinal;
  }

  /**
   * Whether the second pass should keep a record: false only for an earlier occurrence of an id
   * that occurs again later (policy 'last').
   * @param record the record read in the second pass.
   * @param ordinal its 0-based position in the second pass, counting every record read (kept or
   *   not); the second pass must yield the same records in the same order as the first.
   */
  keepInSecondPass(record: VectorRecord, ordinal: number): boolean {
    const kept = this.lastOrdinal.get(record.id);
    return kept === undefined || kept === ordinal;
  }

  /**
   * Returns a predicate for the second pass: call it on every record of the second pass, in
   * order; it returns false for earlier occurrences of duplicated ids and true otherwise. It relies
   * on the second pass yielding the same records in the same order as the first. Create a new one
   * for each pass.
   */
  createSecondPassFilter(): (record: VectorRecord) => boolean {
    let ordinal = 0;
    return (record) => this.keepInSecondPass(record, ordinal++);
  }

  /**
   * Ends the first pass.
   * @returns counts and dimension (see {@link ValidationSummary}).
   * @throws ConfigValidationError `no vectors in <source>` when no record was checked.
   */
  finish(): ValidationSummary {
    if (this.records === 0 || this.expectedDim === undefined) {
      throw new ConfigValidationError(`no vectors in ${this.description}`);
    }
    return { records: this.records, count: this.vectorCount, dim: this.expectedDim, duplicatesDropped: this.dropped };
  }

  /**
   * Checks that the distinct vectors seen can give every shard at least one vector.
   * @param numShards number of shards (positive integer).
   * @throws ConfigValidationError `N vectors cannot fill M shards` when fewer vectors than shards,
   *   or when `numShards` is not a positive integer.
   */
  ensureAtLeast(numShards: number): void {
    if (!Number.isSafeInteger(numShards) || numShards <= 0) {
      throw new ConfigValidationError(`number of shards must be a positive integer, got ${numShards}`);
    }
    const n = this.vectorCount;
    if (n < numShards) {
      throw new ConfigValidationError(
        `${n} vectors cannot fill ${numShards} shards (input: ${this.description})` +
          (n > 0 ? `; use at most ${n} shards` : ''),
      );
    }
  }
}
