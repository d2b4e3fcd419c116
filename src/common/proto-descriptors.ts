/**
 * `google.protobuf.FileDescriptorProto`s of .proto files as protoc writes them, built in Node from
 * the sources with protobufjs: what server reflection serves.
 *
 * Why not proto-loader's descriptors (protobufjs `Root#toDescriptor`): they merge every file of a
 * package into one file named after the package (`shardfleet_v1.proto`, so
 * `file_by_filename('shardfleet/v1/router.proto')` finds nothing), and they name a map field's
 * entry type after the field (`Routing_context`) instead of protoc's `RoutingContextEntry`. A
 * protobuf `DescriptorPool` (grpcurl, Python, Java, Go clients) rejects such a file ("map_entry
 * should not be set explicitly" / "incorrect implicit map entry name"), so a reflection client
 * could list services but neither describe nor invoke them.
 *
 * Here each source file gets its own descriptor under its import path, with its real imports as
 * dependencies, fully-qualified type names (`.shardfleet.v1.Hit`), map entries named by
 * protobuf's rule ({@link mapEntryName}), proto3 `optional` fields with their synthetic oneofs
 * after the real ones, and reserved ranges with protoc's exclusive end.
 *
 * Not described (shardfleet's protos use none; {@link buildFileDescriptorProtos} throws on the
 * first three): extensions, groups, editions files, custom options and comments (no
 * `source_code_info`); `import public` and `import weak` are described as plain imports. File-level
 * options (`java_package`, `go_package`, ...) are left out: they steer code generators, not the
 * wire format or the types a client builds.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import descriptorTypes from 'protobufjs/ext/descriptor/index.js';
import type {
  IDescriptorProto,
  IEnumDescriptorProto,
  IFieldDescriptorProto,
  IFileDescriptorProto,
  IMethodDescriptorProto,
  IServiceDescriptorProto,
} from 'protobufjs/ext/descriptor/index.js';

/** One .proto file to describe. */
export interface ProtoSourceFile {
  /** Its name in descriptors and in `import` lines: the path below the include root (`shardfleet/v1/router.proto`). */
  name: string;
  /** Where it is on disk. */
  path: string;
}

/** A built descriptor: the file's name and its encoded `google.protobuf.FileDescriptorProto`. */
export interface EncodedFileDescriptor {
  name: string;
  /** Protobuf wire encoding of the FileDescriptorProto. */
  bytes: Buffer;
}

/** `FieldDescriptorProto.Type` numbers of the scalar types. */
const SCALAR_TYPES: Readonly<Record<string, number>> = {
  double: 1,
  float: 2,
  int64: 3,
  uint64: 4,
  int32: 5,
  fixed64: 6,
  fixed32: 7,
  bool: 8,
  string: 9,
  bytes: 12,
  uint32: 13,
  sfixed32: 15,
  sfixed64: 16,
  sint32: 17,
  sint64: 18,
};
const TYPE_MESSAGE = 11;
const TYPE_ENUM = 14;
const LABEL_OPTIONAL = 1;
const LABEL_REQUIRED = 2;
const LABEL_REPEATED = 3;

/**
 * The name protoc gives a map field's synthesized entry message: the field name in CamelCase
 * (each letter after `_`, and the first, upper-cased; `_` dropped) followed by `Entry`, e.g.
 * `routing_context` -> `RoutingContextEntry` (protobuf's `MapEntryName`, descriptor.cc).
 */
export function mapEntryName(fieldName: string): string {
  let out = '';
  let capNext = true;
  for (const ch of fieldName) {
    if (ch === '_') {
      capNext = true;
    } else if (capNext) {
      out += ch >= 'a' && ch <= 'z' ? ch.toUpperCase() : ch;
      capNext = false;
    } else {
      out += ch;
    }
  }
  return `${out}Entry`;
}

/** What parsing one file alone tells: its package, syntax, imports and top-level definitions. */
interface ParsedFile {
  source: ProtoSourceFile;
  packageName: string;
  syntax: 'proto2' | 'proto3';
  imports: string[];
  /** Fully-qualified names (leading dot) of the file's top-level messages, enums and services, in order. */
  definitions: string[];
}

/**
 * The `syntax = "..."` a file declares ('proto2' when it declares none, as protoc assumes).
 * @throws Error for an editions file (`edition = "2023"`), which this builder does not describe.
 */
function declaredSyntax(name: string, text: string): 'proto2' | 'proto3' {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
  if (/^\s*edition\s*=/m.test(code)) throw new Error(`${name}: editions files cannot be described`);
  const m = /^\s*syntax\s*=\s*["'](proto[23])["']\s*;/m.exec(code);
  return m ? (m[1] as 'proto2' | 'proto3') : 'proto2';
}

function parseAlone(source: ProtoSourceFile): ParsedFile {
  const text = readFileSync(source.path, 'utf8');
  const parsed = protobuf.parse(text, new protobuf.Root(), { keepCase: true });
  const packageName = parsed.package ?? '';
  const ns = packageName === '' ? parsed.root : parsed.root.lookup(packageName);
  if (!(ns instanceof protobuf.Namespace)) throw new Error(`${source.name}: package ${packageName} not found after parsing`);
  const definitions: string[] = [];
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type || nested instanceof protobuf.Enum || nested instanceof protobuf.Service) {
      definitions.push(nested.fullName);
    } else if (nested instanceof protobuf.Field) {
      throw new Error(`${source.name}: extension ${nested.fullName} cannot be described (extensions are not supported)`);
    }
  }
  return {
    source,
    packageName,
    syntax: declaredSyntax(source.name, text),
    imports: [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])],
    definitions,
  };
}

/** `.pkg.Type` for a resolved reflection object (protobufjs full names already start with a dot). */
function qualified(obj: protobuf.ReflectionObject): string {
  return obj.fullName;
}

/** Type number and (for messages and enums) type name of a field's value type. */
function valueType(field: protobuf.Field, typeName: string): { type: number; typeName?: string } {
  const scalar = SCALAR_TYPES[typeName];
  if (scalar !== undefined) return { type: scalar };
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) return { type: TYPE_ENUM, typeName: qualified(resolved) };
  if (resolved instanceof protobuf.Type) {
    if (field.delimited) throw new Error(`${field.fullName}: groups cannot be described`);
    return { type: TYPE_MESSAGE, typeName: qualified(resolved) };
  }
  throw new Error(`${field.fullName}: type ${typeName} is not resolved`);
}

function isSyntheticOneof(oneof: protobuf.OneOf): boolean {
  return oneof.fieldsArray.length === 1 && oneof.fieldsArray[0].options?.proto3_optional === true;
}

function fieldOptions(field: protobuf.Field): IFieldDescriptorProto['options'] | undefined {
  const packed: unknown = field.options?.packed;
  return typeof packed === 'boolean' ? { packed } : undefined;
}

function describeEnum(e: protobuf.Enum): IEnumDescriptorProto {
  const out: IEnumDescriptorProto = { name: e.name, value: Object.entries(e.values).map(([name, number]) => ({ name, number })) };
  if (e.options?.allow_alias === true) out.options = { allowAlias: true };
  return out;
}

function describeMessage(type: protobuf.Type, syntax: string): IDescriptorProto {
  // Real oneofs first, then proto3 `optional`'s synthetic ones, as protoc orders them.
  const oneofs = [...type.oneofsArray.filter((o) => !isSyntheticOneof(o)), ...type.oneofsArray.filter(isSyntheticOneof)];
  const fields: IFieldDescriptorProto[] = [];
  const mapEntries: IDescriptorProto[] = [];
  for (const field of type.fieldsArray) {
    if (field instanceof protobuf.MapField) {
      const entryName = mapEntryName(field.name);
      const keyType = SCALAR_TYPES[field.keyType];
      if (keyType === undefined) throw new Error(`${field.fullName}: map key type ${field.keyType} is not a scalar`);
      mapEntries.push({
        name: entryName,
        field: [
          { name: 'key', number: 1, label: LABEL_OPTIONAL, type: keyType },
          { name: 'value', number: 2, label: LABEL_OPTIONAL, ...valueType(field, field.type) },
        ],
        options: { mapEntry: true },
      });
      fields.push({ name: field.name, number: field.id, label: LABEL_REPEATED, type: TYPE_MESSAGE, typeName: `${qualified(type)}.${entryName}` });
      continue;
    }
    const out: IFieldDescriptorProto & { proto3Optional?: boolean } = {
      name: field.name,
      number: field.id,
      label: field.repeated ? LABEL_REPEATED : field.required && syntax === 'proto2' ? LABEL_REQUIRED : LABEL_OPTIONAL,
      ...valueType(field, field.type),
    };
    const defaultValue: unknown = field.options?.default;
    if (defaultValue !== undefined) out.defaultValue = String(defaultValue);
    if (field.partOf) out.oneofIndex = oneofs.indexOf(field.partOf);
    if (field.options?.proto3_optional === true) out.proto3Optional = true;
    const options = fieldOptions(field);
    if (options) out.options = options;
    fields.push(out);
  }
  const nestedTypes: IDescriptorProto[] = [...mapEntries];
  const enums: IEnumDescriptorProto[] = [];
  for (const nested of type.nestedArray) {
    if (nested instanceof protobuf.Type) nestedTypes.push(describeMessage(nested, syntax));
    else if (nested instanceof protobuf.Enum) enums.push(describeEnum(nested));
    else if (nested instanceof protobuf.Field) throw new Error(`${nested.fullName}: extensions cannot be described`);
  }
  const out: IDescriptorProto = { name: type.name, field: fields, nestedType: nestedTypes, enumType: enums, oneofDecl: oneofs.map((o) => ({ name: o.name })) };
  const ranges = (type.reserved ?? []).filter((r): r is number[] => Array.isArray(r));
  const names = (type.reserved ?? []).filter((r): r is string => typeof r === 'string');
  // protobufjs keeps `reserved 2 to 8` as [2, 8]; a descriptor's range end is exclusive.
  if (ranges.length > 0) out.reservedRange = ranges.map(([start, end]) => ({ start, end: end + 1 }));
  if (names.length > 0) out.reservedName = names;
  if (type.extensions && type.extensions.length > 0) throw new Error(`${type.fullName}: extension ranges cannot be described`);
  return out;
}

function describeService(service: protobuf.Service): IServiceDescriptorProto {
  const method = service.methodsArray.map((m): IMethodDescriptorProto => {
    if (!m.resolvedRequestType || !m.resolvedResponseType) throw new Error(`${m.fullName}: request or response type not resolved`);
    const out: IMethodDescriptorProto = { name: m.name, inputType: qualified(m.resolvedRequestType), outputType: qualified(m.resolvedResponseType) };
    if (m.requestStream) out.clientStreaming = true;
    if (m.responseStream) out.serverStreaming = true;
    return out;
  });
  return { name: service.name, method };
}

/**
 * Builds the FileDescriptorProtos of `files` and of every file they import, as protoc would write
 * them (see the module comment for what is and is not described).
 * @param files the files to describe, each under its import path.
 * @param includeDirs folders where an `import "a/b.proto"` not among `files` is looked up (as `dir/a/b.proto`).
 * @returns one descriptor per file, every file after the files it imports (a valid
 *   `FileDescriptorSet` order, the order a `DescriptorPool` must be given them).
 * @throws Error when a file or an import cannot be read or parsed, a type does not resolve, or a
 *   file uses something that cannot be described (extensions, groups).
 */
export function buildFileDescriptorProtos(files: readonly ProtoSourceFile[], includeDirs: readonly string[] = []): EncodedFileDescriptor[] {
  const parsed = new Map<string, ParsedFile>();
  const order: string[] = [];
  const visit = (source: ProtoSourceFile, chain: readonly string[]): void => {
    if (chain.includes(source.name)) throw new Error(`import cycle: ${[...chain, source.name].join(' -> ')}`);
    if (parsed.has(source.name)) return;
    const file = parseAlone(source);
    for (const imp of file.imports) {
      const known = files.find((f) => f.name === imp);
      const dir = known ? undefined : includeDirs.find((d) => existsSync(join(d, imp)));
      if (!known && dir === undefined) throw new Error(`${source.name}: import "${imp}" not found in ${includeDirs.join(', ') || 'no include folder'}`);
      visit(known ?? { name: imp, path: join(dir as string, imp) }, [...chain, source.name]);
    }
    parsed.set(source.name, file);
    order.push(source.name);
  };
  for (const f of files) visit(f, []);

  // One root holding every file, so cross-file references resolve.
  const root = new protobuf.Root();
  for (const name of order) {
    const file = parsed.get(name) as ParsedFile;
    protobuf.parse(readFileSync(file.source.path, 'utf8'), root, { keepCase: true });
  }
  root.resolveAll();

  return order.map((name) => {
    const file = parsed.get(name) as ParsedFile;
    const fdp: IFileDescriptorProto = { name, dependency: file.imports, messageType: [], enumType: [], service: [] };
    if (file.packageName !== '') fdp.package = file.packageName;
    // protoc leaves syntax unset for proto2 files.
    if (file.syntax !== 'proto2') fdp.syntax = file.syntax;
    for (const fullName of file.definitions) {
      const obj = root.lookup(fullName);
      if (obj instanceof protobuf.Type) fdp.messageType?.push(describeMessage(obj, file.syntax));
      else if (obj instanceof protobuf.Enum) fdp.enumType?.push(describeEnum(obj));
      else if (obj instanceof protobuf.Service) fdp.service?.push(describeService(obj));
      else throw new Error(`${name}: ${fullName} not found in the combined root`);
    }
    const message = descriptorTypes.FileDescriptorProto.fromObject(fdp);
    return { name, bytes: Buffer.from(descriptorTypes.FileDescriptorProto.encode(message).finish()) };
  });
}
