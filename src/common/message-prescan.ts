/**
 * A pre-scan of a request message's wire bytes that bounds what decoding it would materialise,
 * BEFORE protobufjs decodes it.
 *
 * Why: protobufjs decodes a whole message into objects before any handler can look at it. Two
 * bytes on the wire (`[10, 0]`: an empty element of a repeated message field) become one
 * decoded object with every default filled in (about 430 bytes for a `SearchRequest`), so a
 * 40 MB BatchSearch of 2x10^7 empty queries grew a router to 4.8 GB and killed it before the
 * 1,000-query batch cap could apply.
 *
 * How: a walk of the tags driven by the message descriptors (protobufjs reflection of the
 * .proto files), counting the elements of every repeated and map field at every nesting level
 * (packed scalars counted from their bytes), against a per-message and a per-request limit per
 * field. O(bytes), no allocation per element; it stops at the first limit exceeded. It also
 * refuses what decoding would misread: a known field with another wire type than its declared
 * type's, a length past the message's end, a group wire type (proto3 has none).
 *
 * Limits come from the server (`WireLimits`, see wire-limits.ts); the walk itself knows
 * none.
 */
import { isAbsolute, join } from 'node:path';
import protobuf from 'protobufjs';
import { GrpcCode, ShardfleetError } from './errors.ts';
import { PROTO_DIR, SERVICE_PROTO_FILES } from './proto.ts';

/** The count limit of one repeated or map field. */
export interface RepeatedFieldLimit {
  /** Most elements (map entries) of the field in one message. */
  perMessage: number;
  /** Most elements of the field summed over every message of one request (default: no sum limit). */
  perRequest?: number;
  /**
   * How a caller or operator gets past it, for the error message: the CLI flag that raises it
   * (`--max-get-keys`) or what to do (`a fixed limit: split the batch`).
   */
  raise: string;
}

/** The request limits of one server. */
export interface WireLimits {
  /**
   * Limits of repeated and map fields by full name, `package.Message.field`
   * (e.g. `shardfleet.v1.BatchSearchRequest.queries`).
   */
  fields: Readonly<Record<string, RepeatedFieldLimit>>;
  /** The limit of every repeated or map field not in {@link WireLimits.fields}. */
  defaultField: RepeatedFieldLimit;
  /**
   * Largest request message per method path (`/shardfleet.v1.Router/Health`), bytes, with what
   * raises it; methods not listed have only the server's message size limit.
   */
  maxRequestBytes?: Readonly<Record<string, { bytes: number; raise: string }>>;
}

/** A request over a count limit of {@link WireLimits} (INVALID_ARGUMENT): the caller must change it. */
export class RequestCountLimitError extends ShardfleetError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
}

/** A request message larger than its method's byte limit (RESOURCE_EXHAUSTED, as grpc's own size limit). */
export class RequestSizeLimitError extends ShardfleetError {
  readonly grpcCode = GrpcCode.RESOURCE_EXHAUSTED;
}

/** Request bytes the walk cannot follow (INVALID_ARGUMENT): what decoding would misread or refuse. */
export class MalformedRequestError extends ShardfleetError {
  readonly grpcCode = GrpcCode.INVALID_ARGUMENT;
}

/** Wire types (protobuf encoding). */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;
/** Deepest message nesting followed (shardfleet's requests nest at most 3 deep). */
const MAX_DEPTH = 32;

/** The wire type of each scalar protobuf type. */
const SCALAR_WIRE: Readonly<Record<string, number>> = {
  int32: VARINT, int64: VARINT, uint32: VARINT, uint64: VARINT, sint32: VARINT, sint64: VARINT, bool: VARINT,
  fixed64: FIXED64, sfixed64: FIXED64, double: FIXED64,
  fixed32: FIXED32, sfixed32: FIXED32, float: FIXED32,
  string: LENGTH_DELIMITED, bytes: LENGTH_DELIMITED,
};

/** How the walk treats one field of a message type. */
interface FieldPlan {
  /** `Message.field` for messages. */
  label: string;
  /** Wire type of one (unpacked) element: a message or map entry is LENGTH_DELIMITED. */
  wire: number;
  /** Repeated or map: its elements are counted. */
  counted: boolean;
  /** The count limit (counted fields only). */
  limit: RepeatedFieldLimit;
  /** Index of this field in the per-request totals. */
  slot: number;
  /** Index of this field among its message's counted fields. */
  local: number;
  /** A message field: its type's plan. */
  message?: TypePlan;
  /** A map field whose values are messages: the value type's plan. */
  mapValue?: TypePlan;
}

/** How the walk treats one message type. */
interface TypePlan {
  name: string;
  fields: Map<number, FieldPlan>;
  /** Number of counted (repeated or map) fields. */
  countedFields: number;
}

/** Walk state of one request. */
interface WalkState {
  bytes: Uint8Array;
  /** Read position in `bytes`. */
  pos: number;
  /** Elements per counted field summed over the request, by slot. */
  totals: Float64Array;
  /** Per-message counters, one array per nesting depth (reused, zeroed on entry). */
  scratch: Float64Array[];
}

/** Plans of every message type of shardfleet's services under one set of limits. */
class Planner {
  readonly plans = new Map<string, TypePlan>();
  slots = 0;
  maxCounted = 0;

  constructor(private readonly limits: WireLimits) {}

  plan(type: protobuf.Type): TypePlan {
    const name = type.fullName.replace(/^\./, '');
    const known = this.plans.get(name);
    if (known) return known;
    const plan: TypePlan = { name, fields: new Map(), countedFields: 0 };
    // Registered before the fields, so a recursive type refers to itself.
    this.plans.set(name, plan);
    for (const field of type.fieldsArray) {
      field.resolve();
      const isMap = field instanceof protobuf.MapField;
      const counted = field.repeated || isMap;
      const resolved = field.resolvedType;
      const isMessage = !isMap && resolved instanceof protobuf.Type;
      const wire = isMap || isMessage ? LENGTH_DELIMITED : resolved instanceof protobuf.Enum ? VARINT : (SCALAR_WIRE[field.type] ?? LENGTH_DELIMITED);
      const fp: FieldPlan = {
        label: `${type.name}.${field.name}`,
        wire,
        counted,
        limit: this.limits.fields[`${name}.${field.name}`] ?? this.limits.defaultField,
        slot: counted ? this.slots++ : -1,
        local: counted ? plan.countedFields++ : -1,
      };
      if (isMessage) fp.message = this.plan(resolved);
      if (isMap && resolved instanceof protobuf.Type) fp.mapValue = this.plan(resolved);
      plan.fields.set(field.id, fp);
    }
    this.maxCounted = Math.max(this.maxCounted, plan.countedFields);
    return plan;
  }
}

let servicesRoot: protobuf.Root | undefined;

/** shardfleet's services as protobufjs reflection (router.proto and shard_node.proto), loaded once. */
function loadServicesRoot(): protobuf.Root {
  if (!servicesRoot) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(PROTO_DIR, target));
    root.loadSync([...SERVICE_PROTO_FILES], { keepCase: true });
    root.resolveAll();
    servicesRoot = root;
  }
  return servicesRoot;
}

/** The request type of method `path` (`/shardfleet.v1.Router/Search`), or undefined when it is not one of shardfleet's. */
function requestTypeOf(path: string): protobuf.Type | undefined {
  const m = /^\/([^/]+)\/([^/]+)$/.exec(path);
  if (!m) return undefined;
  const service = loadServicesRoot().lookup(m[1]);
  if (!(service instanceof protobuf.Service)) return undefined;
  const method = service.methods[m[2]];
  return method?.resolvedRequestType ?? undefined;
}

/**
 * Reads a varint of at most 10 bytes at `state.pos` (below `end`), as a float (exact below 2^53),
 * and moves `state.pos` past it. No allocation.
 * @throws MalformedRequestError when it runs past `end` or is longer than 10 bytes.
 */
function readVarint(state: WalkState, end: number, what: string): number {
  const { bytes } = state;
  let pos = state.pos;
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new MalformedRequestError(`${what}: a varint runs past the end of its message`);
    const b = bytes[pos++];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      state.pos = pos;
      return value;
    }
    scale *= 128;
  }
  throw new MalformedRequestError(`${what}: a varint is longer than 10 bytes`);
}

/**
 * Bounds a request before it is decoded: `check(bytes)` throws when decoding `bytes` as the
 * method's request type would exceed a limit.
 */
export class RequestPrescanner {
  private readonly planner: Planner;

  /** @param limits the server's limits (see wire-limits.ts for shardfleet's). */
  constructor(private readonly limits: WireLimits) {
    this.planner = new Planner(limits);
  }

  /**
   * The check of method `path` (`/shardfleet.v1.Router/BatchSearch`), or undefined for a method
   * that is not one of shardfleet's services (health, reflection: only its byte limit, if any).
   * The returned function takes the request message's bytes and throws RequestSizeLimitError
   * (over the method's byte limit), RequestCountLimitError (a repeated field over its count
   * limit, naming the field, the limit and what raises it) or MalformedRequestError.
   * @throws Error when the .proto files cannot be loaded.
   */
  forMethod(path: string): ((bytes: Uint8Array) => void) | undefined {
    const maxBytes = this.limits.maxRequestBytes?.[path];
    const type = requestTypeOf(path);
    const plan = type ? this.planner.plan(type) : undefined;
    if (!plan && !maxBytes) return undefined;
    return (bytes: Uint8Array): void => {
      if (maxBytes && bytes.length > maxBytes.bytes) {
        throw new RequestSizeLimitError(`${path}: the request message is ${bytes.length} bytes; this method accepts at most ${maxBytes.bytes} (${maxBytes.raise})`);
      }
      if (plan) this.walk(plan, bytes);
    };
  }

  private walk(plan: TypePlan, bytes: Uint8Array): void {
    const scratch: Float64Array[] = [];
    const state: WalkState = { bytes, pos: 0, totals: new Float64Array(this.planner.slots), scratch };
    this.walkMessage(plan, state, 0, bytes.length, 0);
  }

  private walkMessage(plan: TypePlan, state: WalkState, start: number, end: number, depth: number): void {
    if (depth > MAX_DEPTH) throw new MalformedRequestError(`${plan.name}: messages nest deeper than ${MAX_DEPTH}`);
    const { bytes } = state;
    let counts = state.scratch[depth];
    if (!counts || counts.length < this.planner.maxCounted) counts = state.scratch[depth] = new Float64Array(Math.max(1, this.planner.maxCounted));
    counts.fill(0, 0, plan.countedFields);
    state.pos = start;
    while (state.pos < end) {
      const tag = readVarint(state, end, plan.name);
      const wire = tag % 8;
      const id = Math.floor(tag / 8);
      const field = plan.fields.get(id);
      if (wire === 3 || wire === 4) throw new MalformedRequestError(`${plan.name}: field ${id} uses the group wire type, which proto3 messages never carry`);
      // The extent of this field's value.
      let valueStart = state.pos;
      let valueEnd: number;
      if (wire === VARINT) {
        readVarint(state, end, plan.name);
        valueEnd = state.pos;
      } else if (wire === FIXED64) valueEnd = valueStart + 8;
      else if (wire === FIXED32) valueEnd = valueStart + 4;
      else if (wire === LENGTH_DELIMITED) {
        const len = readVarint(state, end, plan.name);
        valueStart = state.pos;
        valueEnd = valueStart + len;
      } else throw new MalformedRequestError(`invalid wire type ${wire} at field ${id} of ${plan.name}`);
      if (valueEnd > end) throw new MalformedRequestError(`${plan.name}: field ${id} runs past the end of its message`);
      if (field) {
        let elements = 1;
        if (wire !== field.wire) {
          // Only a repeated scalar may also come packed (length-delimited).
          if (!(field.counted && wire === LENGTH_DELIMITED && field.wire !== LENGTH_DELIMITED)) {
            throw new MalformedRequestError(`${field.label} (field ${id}) has wire type ${wire}; its type is encoded with wire type ${field.wire}`);
          }
          elements = this.packedCount(field, bytes, valueStart, valueEnd);
        }
        if (field.counted) this.count(field, counts, state.totals, elements);
        if (field.message) this.walkMessage(field.message, state, valueStart, valueEnd, depth + 1);
        else if (field.mapValue) this.walkMapEntry(field, field.mapValue, state, valueStart, valueEnd, depth + 1);
      }
      // Unknown fields: decoding skips them without allocating.
      state.pos = valueEnd;
    }
  }

  /** Elements of a packed repeated scalar: one per varint (a byte without its high bit), or fixed-size. */
  private packedCount(field: FieldPlan, bytes: Uint8Array, start: number, end: number): number {
    if (field.wire === FIXED32 || field.wire === FIXED64) {
      const size = field.wire === FIXED32 ? 4 : 8;
      if ((end - start) % size !== 0) throw new MalformedRequestError(`${field.label}: packed length ${end - start} is not a multiple of ${size}`);
      return (end - start) / size;
    }
    let n = 0;
    for (let i = start; i < end; i++) if ((bytes[i] & 0x80) === 0) n++;
    if (end > start && (bytes[end - 1] & 0x80) !== 0) throw new MalformedRequestError(`${field.label}: a packed varint runs past the end of its field`);
    return n;
  }

  private count(field: FieldPlan, counts: Float64Array, totals: Float64Array, elements: number): void {
    const { limit } = field;
    const inMessage = (counts[field.local] += elements);
    if (inMessage > limit.perMessage) {
      throw new RequestCountLimitError(
        `${field.label} has more than ${limit.perMessage} entries in one message (refused before decoding, at entry ${inMessage}); ` +
          `the limit is ${limit.perMessage} (${limit.raise})`,
      );
    }
    const inRequest = (totals[field.slot] += elements);
    if (limit.perRequest !== undefined && inRequest > limit.perRequest) {
      throw new RequestCountLimitError(
        `the request's ${field.label} entries add up to more than ${limit.perRequest} (refused before decoding, at entry ${inRequest}); ` +
          `the limit is ${limit.perRequest} per request (${limit.raise})`,
      );
    }
  }

  /** A map entry (`key = 1`, `value = 2`): follows a message value. */
  private walkMapEntry(field: FieldPlan, value: TypePlan, state: WalkState, start: number, end: number, depth: number): void {
    state.pos = start;
    while (state.pos < end) {
      const tag = readVarint(state, end, field.label);
      const wire = tag % 8;
      const id = Math.floor(tag / 8);
      // Decoding reads a value (field 2) as a length-delimited message whatever its wire type.
      if (id === 2 && wire !== LENGTH_DELIMITED) throw new MalformedRequestError(`${field.label}: a map value has wire type ${wire}; a message value has wire type 2`);
      let next: number;
      if (wire === VARINT) {
        readVarint(state, end, field.label);
        next = state.pos;
      } else if (wire === FIXED64 || wire === FIXED32) {
        next = state.pos + (wire === FIXED64 ? 8 : 4);
      } else if (wire === LENGTH_DELIMITED) {
        const len = readVarint(state, end, field.label);
        const valueStart = state.pos;
        next = valueStart + len;
        if (next <= end && id === 2) this.walkMessage(value, state, valueStart, next, depth);
      } else {
        throw new MalformedRequestError(`${field.label}: a map entry has wire type ${wire}`);
      }
      if (next > end) throw new MalformedRequestError(`${field.label}: a map entry runs past its end`);
      state.pos = next;
    }
  }
}
