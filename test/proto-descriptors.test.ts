/**
 * buildFileDescriptorProtos (what server reflection serves) on small .proto files written here:
 * the protoc conventions a DescriptorPool checks (map entry names, fully-qualified type names,
 * one descriptor per file with its imports, synthetic oneofs last, exclusive reserved range ends),
 * and the constructs it refuses rather than describe wrongly. The shardfleet protos themselves are
 * compared with protoc's output in test/python-clients.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import descriptorTypes from 'protobufjs/ext/descriptor/index.js';
import type { IDescriptorProto, IFieldDescriptorProto, IFileDescriptorProto } from 'protobufjs/ext/descriptor/index.js';
import { buildFileDescriptorProtos, mapEntryName } from '../src/common/proto-descriptors.ts';
import { tempDir } from './helpers/fixtures.ts';

let dir: { path: string; remove: () => Promise<void> };

const FILES: Record<string, string> = {
  'acme/v1/base.proto': `
    syntax = "proto3";
    package acme.v1;
    enum Color { COLOR_UNSPECIFIED = 0; RED = 1; }
    message Point { double x = 1; double y = 2; }
  `,
  'acme/v1/shapes.proto': `
    // a comment with syntax = "proto2"; in it
    syntax = "proto3";
    package acme.v1;
    import "acme/v1/base.proto";
    service Shapes {
      rpc Get(GetRequest) returns (Shape);
      rpc Watch(GetRequest) returns (stream Shape);
    }
    message GetRequest { string name = 1; }
    message Shape {
      reserved 2 to 5, 9;
      reserved "old_name";
      string name = 1;
      map<string, Point> named_points = 6;
      map<int32, Color> color_by_index = 7;
      optional uint32 sides = 8;
      oneof fill { Color solid = 10; string pattern = 11; }
      Inner inner = 12;
      repeated Color kinds = 13;
      message Inner { map<string, string> tags = 1; }
    }
  `,
};

before(async () => {
  dir = await tempDir('proto-descriptors');
  for (const [name, text] of Object.entries(FILES)) {
    await mkdir(join(dir.path, name, '..'), { recursive: true });
    await writeFile(join(dir.path, name), text);
  }
});
after(() => dir.remove());

function decode(bytes: Buffer): IFileDescriptorProto {
  return descriptorTypes.FileDescriptorProto.toObject(descriptorTypes.FileDescriptorProto.decode(bytes)) as IFileDescriptorProto;
}
function field(m: IDescriptorProto, name: string): IFieldDescriptorProto {
  const f = m.field?.find((x) => x.name === name);
  assert.ok(f, `${m.name}.${name}`);
  return f;
}

test('mapEntryName: CamelCase of the field name (letters after _ upper-cased, _ dropped) + Entry', () => {
  assert.equal(mapEntryName('routing_context'), 'RoutingContextEntry');
  assert.equal(mapEntryName('cel_columns'), 'CelColumnsEntry');
  assert.equal(mapEntryName('tags'), 'TagsEntry');
  assert.equal(mapEntryName('a__b_9c'), 'AB9cEntry');
});

test('one descriptor per file, imports first, with its own name, package, syntax and dependencies', () => {
  const built = buildFileDescriptorProtos([{ name: 'acme/v1/shapes.proto', path: join(dir.path, 'acme/v1/shapes.proto') }], [dir.path]);
  assert.deepEqual(built.map((f) => f.name), ['acme/v1/base.proto', 'acme/v1/shapes.proto']);
  const [base, shapes] = built.map((f) => decode(f.bytes));
  assert.equal(base.name, 'acme/v1/base.proto');
  assert.deepEqual(base.dependency ?? [], []);
  assert.deepEqual(shapes.dependency, ['acme/v1/base.proto']);
  assert.equal(shapes.package, 'acme.v1');
  assert.equal(shapes.syntax, 'proto3');
  assert.deepEqual(base.messageType?.map((m) => m.name), ['Point']);
  assert.deepEqual(base.enumType?.map((e) => e.name), ['Color']);
  assert.deepEqual(shapes.messageType?.map((m) => m.name), ['GetRequest', 'Shape']);

  const svc = shapes.service?.[0];
  assert.equal(svc?.name, 'Shapes');
  assert.deepEqual(svc?.method?.map((m) => [m.name, m.inputType, m.outputType, m.serverStreaming ?? false]), [
    ['Get', '.acme.v1.GetRequest', '.acme.v1.Shape', false],
    ['Watch', '.acme.v1.GetRequest', '.acme.v1.Shape', true],
  ]);

  const shape = shapes.messageType?.[1] as IDescriptorProto;
  // map fields: repeated XxxEntry nested types with map_entry, key/value typed as declared
  assert.equal(field(shape, 'named_points').typeName, '.acme.v1.Shape.NamedPointsEntry');
  assert.equal(field(shape, 'named_points').label, 3);
  const entry = shape.nestedType?.find((n) => n.name === 'NamedPointsEntry');
  assert.equal(entry?.options?.mapEntry, true);
  assert.deepEqual(entry?.field?.map((f) => [f.name, f.number, f.type, f.typeName]), [
    ['key', 1, 9, undefined],
    ['value', 2, 11, '.acme.v1.Point'],
  ]);
  const colorEntry = shape.nestedType?.find((n) => n.name === 'ColorByIndexEntry');
  assert.deepEqual(colorEntry?.field?.map((f) => [f.type, f.typeName]), [[5, undefined], [14, '.acme.v1.Color']]);
  // nested message with its own map
  const inner = shape.nestedType?.find((n) => n.name === 'Inner');
  assert.equal(field(inner as IDescriptorProto, 'tags').typeName, '.acme.v1.Shape.Inner.TagsEntry');
  assert.equal(field(shape, 'inner').typeName, '.acme.v1.Shape.Inner');
  assert.equal(field(shape, 'kinds').typeName, '.acme.v1.Color');
  // oneofs: the real one first, proto3 optional's synthetic one after it
  assert.deepEqual(shape.oneofDecl?.map((o) => o.name), ['fill', '_sides']);
  assert.equal(field(shape, 'solid').oneofIndex, 0);
  assert.equal(field(shape, 'pattern').oneofIndex, 0);
  const sides = field(shape, 'sides') as IFieldDescriptorProto & { proto3Optional?: boolean };
  assert.equal(sides.oneofIndex, 1);
  assert.equal(sides.proto3Optional, true);
  assert.equal(field(shape, 'name').oneofIndex, undefined);
  // reserved: end exclusive, as protoc writes it
  assert.deepEqual(shape.reservedRange?.map((r) => [r.start, r.end]), [[2, 6], [9, 10]]);
  assert.deepEqual(shape.reservedName, ['old_name']);
});

test('a missing import and an extension are errors naming the file, not a wrong descriptor', async () => {
  await writeFile(join(dir.path, 'missing.proto'), 'syntax = "proto3"; package m; import "nope/x.proto"; message A {}');
  assert.throws(() => buildFileDescriptorProtos([{ name: 'missing.proto', path: join(dir.path, 'missing.proto') }], [dir.path]), /missing\.proto: import "nope\/x\.proto" not found/);
  await writeFile(join(dir.path, 'ext.proto'), 'syntax = "proto2"; package e; message A { extensions 100 to 200; } extend A { optional int32 b = 100; }');
  assert.throws(() => buildFileDescriptorProtos([{ name: 'ext.proto', path: join(dir.path, 'ext.proto') }]), /extension/);
});
