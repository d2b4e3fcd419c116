#!/usr/bin/python3
"""A gRPC server reflection client, as grpcurl's `list`, `describe` and invoke work, run by
test/python-clients.test.ts against a real shardfleet router and shard node.

It knows nothing of shardfleet's protos: everything it calls it learns from the server. For each
reflection version (v1, v1alpha) it lists the services of the router and the node and, for each
service, fetches the file containing it (file_containing_symbol) plus any missing import
(file_by_filename) and adds them to a fresh protobuf DescriptorPool, imports first, as a
reflection client must. Then it describes the services and map fields from that pool, builds
request messages dynamically (message_factory) and invokes Router.Search, Router.SnapshotInfo,
ShardNode.Status and grpc.health.v1.Health.Check.

With --protoc-set FILE (a FileDescriptorSet written by `protoc --descriptor_set_out`), the served
descriptor of every file in the set must equal protoc's, json_name and file options aside.

Prints one JSON object on stdout. Exits 1 with the reason on stderr when the server's descriptors
cannot be built into a pool, a reflection request fails or a check does not hold.

Needs Python gRPC and protobuf only (Debian: python3-grpcio python3-protobuf).
"""
import argparse
import json
import struct
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

TIMEOUT_S = 10.0


class CheckFailed(Exception):
    """A check of this script did not hold."""


def _message_class(descriptor):
    """The generated class of a message descriptor (protobuf >= 4.22 GetMessageClass, older MessageFactory)."""
    get = getattr(message_factory, "GetMessageClass", None)
    if get is not None:
        return get(descriptor)
    return message_factory.MessageFactory(descriptor.file.pool).GetPrototype(descriptor)


def _reflection_file(version):
    """The FileDescriptorProto of grpc/reflection/<version>/reflection.proto (v1 and v1alpha have the same shape)."""
    pkg = "grpc.reflection." + version
    f = descriptor_pb2.FileDescriptorProto(name="grpc/reflection/%s/reflection.proto" % version, package=pkg, syntax="proto3")
    T = descriptor_pb2.FieldDescriptorProto

    def message(name, fields, oneof=None):
        m = f.message_type.add(name=name)
        if oneof:
            m.oneof_decl.add(name=oneof)
        for fname, number, ftype, type_name, repeated, in_oneof in fields:
            fd = m.field.add(name=fname, number=number, type=ftype, label=T.LABEL_REPEATED if repeated else T.LABEL_OPTIONAL)
            if type_name:
                fd.type_name = ".%s.%s" % (pkg, type_name)
            if in_oneof:
                fd.oneof_index = 0

    S, I32, B, M = T.TYPE_STRING, T.TYPE_INT32, T.TYPE_BYTES, T.TYPE_MESSAGE
    message("ServerReflectionRequest", [
        ("host", 1, S, None, False, False),
        ("file_by_filename", 3, S, None, False, True),
        ("file_containing_symbol", 4, S, None, False, True),
        ("file_containing_extension", 5, M, "ExtensionRequest", False, True),
        ("all_extension_numbers_of_type", 6, S, None, False, True),
        ("list_services", 7, S, None, False, True),
    ], oneof="message_request")
    message("ExtensionRequest", [("containing_type", 1, S, None, False, False), ("extension_number", 2, I32, None, False, False)])
    message("ServerReflectionResponse", [
        ("valid_host", 1, S, None, False, False),
        ("original_request", 2, M, "ServerReflectionRequest", False, False),
        ("file_descriptor_response", 4, M, "FileDescriptorResponse", False, True),
        ("all_extension_numbers_response", 5, M, "ExtensionNumberResponse", False, True),
        ("list_services_response", 6, M, "ListServiceResponse", False, True),
        ("error_response", 7, M, "ErrorResponse", False, True),
    ], oneof="message_response")
    message("FileDescriptorResponse", [("file_descriptor_proto", 1, B, None, True, False)])
    message("ExtensionNumberResponse", [("base_type_name", 1, S, None, False, False), ("extension_number", 2, I32, None, True, False)])
    message("ListServiceResponse", [("service", 1, M, "ServiceResponse", True, False)])
    message("ServiceResponse", [("name", 1, S, None, False, False)])
    message("ErrorResponse", [("error_code", 1, I32, None, False, False), ("error_message", 2, S, None, False, False)])
    return f


class ReflectionClient:
    """Server reflection over one channel, one request per stream."""

    def __init__(self, channel, version):
        pool = descriptor_pool.DescriptorPool()
        pool.Add(_reflection_file(version))
        pkg = "grpc.reflection." + version
        self._request = _message_class(pool.FindMessageTypeByName(pkg + ".ServerReflectionRequest"))
        response = _message_class(pool.FindMessageTypeByName(pkg + ".ServerReflectionResponse"))
        self._call = channel.stream_stream(
            "/%s.ServerReflection/ServerReflectionInfo" % pkg,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response.FromString,
        )
        self.version = version

    def _ask(self, **request):
        responses = self._call(iter([self._request(**request)]), timeout=TIMEOUT_S)
        res = next(responses)
        if res.HasField("error_response"):
            raise CheckFailed("reflection %s %r: error %d %s" % (self.version, request, res.error_response.error_code, res.error_response.error_message))
        return res

    def list_services(self):
        return [s.name for s in self._ask(list_services="*").list_services_response.service]

    def _files(self, res):
        return [descriptor_pb2.FileDescriptorProto.FromString(b) for b in res.file_descriptor_response.file_descriptor_proto]

    def file_by_filename(self, name):
        return self._files(self._ask(file_by_filename=name))

    def file_containing_symbol(self, symbol):
        return self._files(self._ask(file_containing_symbol=symbol))

    def pool_for(self, symbol):
        """A DescriptorPool holding the file that defines `symbol` and everything it imports."""
        known = {f.name: f for f in self.file_containing_symbol(symbol)}
        pool = descriptor_pool.DescriptorPool()
        added = set()

        def add(name, chain):
            if name in added:
                return
            if name in chain:
                raise CheckFailed("import cycle: %s" % " -> ".join(chain + [name]))
            if name not in known:
                for f in self.file_by_filename(name):
                    known.setdefault(f.name, f)
                if name not in known:
                    raise CheckFailed("file_by_filename(%r) did not return that file" % name)
            for dep in known[name].dependency:
                add(dep, chain + [name])
            try:
                pool.Add(known[name])
            except Exception as e:  # TypeError from the C++/upb pool, others from the Python one
                raise CheckFailed("DescriptorPool rejects %s served by %s reflection (for %s): %s" % (name, self.version, symbol, e))
            added.add(name)

        for name in list(known):
            add(name, [])
        return pool, sorted(added)


def unary(channel, pool, method_full_name, **fields):
    """Invokes a unary method found in `pool` with a request built from `fields`; returns the response message."""
    service_name, method_name = method_full_name.rsplit(".", 1)
    method = pool.FindServiceByName(service_name).methods_by_name[method_name]
    request_class = _message_class(method.input_type)
    response_class = _message_class(method.output_type)
    call = channel.unary_unary(
        "/%s/%s" % (service_name, method_name),
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=response_class.FromString,
    )
    return call(request_class(**fields), timeout=TIMEOUT_S)


def map_fields(pool, file_name):
    """Every map field of the messages in `file_name`: field full name -> its entry type's full name."""
    out = {}

    def walk(message):
        for field in message.fields:
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                out[field.full_name] = field.message_type.full_name
        for nested in message.nested_types:
            walk(nested)

    for message in pool.FindFileByName(file_name).message_types_by_name.values():
        walk(message)
    return out


def describe_service(pool, name):
    service = pool.FindServiceByName(name)
    return {m.name: [m.input_type.full_name, m.output_type.full_name] for m in service.methods}


def _normalized(fdp):
    out = descriptor_pb2.FileDescriptorProto()
    out.CopyFrom(fdp)
    out.ClearField("options")
    out.ClearField("source_code_info")

    def strip(message):
        for field in message.field:
            field.ClearField("json_name")
        for nested in message.nested_type:
            strip(nested)

    for message in out.message_type:
        strip(message)
    return out


def compare_with_protoc(reflection, protoc_set_path):
    with open(protoc_set_path, "rb") as fh:
        protoc_set = descriptor_pb2.FileDescriptorSet.FromString(fh.read())
    compared = []
    for expected in protoc_set.file:
        served = [f for f in reflection.file_by_filename(expected.name) if f.name == expected.name]
        if not served:
            raise CheckFailed("file_by_filename(%r) returned no file of that name" % expected.name)
        if _normalized(served[0]) != _normalized(expected):
            raise CheckFailed("served descriptor of %s differs from protoc's:\n--- protoc\n%s\n--- served\n%s" % (expected.name, _normalized(expected), _normalized(served[0])))
        compared.append(expected.name)
    return compared


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--router", required=True, help="router host:port")
    parser.add_argument("--node", required=True, help="shard node host:port")
    parser.add_argument("--vector", required=True, help="query vector as a JSON array of numbers")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--protoc-set", help="FileDescriptorSet from protoc --descriptor_set_out to compare the served files with")
    args = parser.parse_args()
    vector = json.loads(args.vector)

    out = {"versions": {}}
    router_channel = grpc.insecure_channel(args.router)
    node_channel = grpc.insecure_channel(args.node)
    pools = {}
    for version in ("v1", "v1alpha"):
        report = {}
        for role, channel, service in (("router", router_channel, "shardfleet.v1.Router"), ("node", node_channel, "shardfleet.v1.ShardNode")):
            reflection = ReflectionClient(channel, version)
            services = reflection.list_services()
            files = {}
            for name in services:
                pool, added = reflection.pool_for(name)
                files[name] = added
                pools[(version, role, name)] = pool
            if service not in services:
                raise CheckFailed("%s %s lists %s, not %s" % (role, version, services, service))
            main_file = "shardfleet/v1/%s.proto" % ("router" if role == "router" else "shard_node")
            by_name = [f.name for f in reflection.file_by_filename(main_file)]
            report[role] = {"services": services, "files": files, "file_by_filename": by_name}
        out["versions"][version] = report

    pool = pools[("v1", "router", "shardfleet.v1.Router")]
    out["describe"] = {"router": describe_service(pool, "shardfleet.v1.Router"), "router_maps": map_fields(pool, "shardfleet/v1/router.proto")}
    search = unary(router_channel, pool, "shardfleet.v1.Router.Search", query=struct.pack("<%df" % len(vector), *vector), top_k=args.top_k)
    out["search"] = {
        "run_id": search.run_id,
        "shard_ids": list(search.shard_ids),
        "results": [{"id": h.id, "score": h.score} for h in search.results],
    }
    info = unary(router_channel, pool, "shardfleet.v1.Router.SnapshotInfo")
    out["snapshot_info"] = {"run_id": info.run_id, "dim": info.dim, "metric": info.metric, "cel_columns": dict(info.cel_columns)}

    node_pool = pools[("v1", "node", "shardfleet.v1.ShardNode")]
    out["describe"]["node"] = describe_service(node_pool, "shardfleet.v1.ShardNode")
    status = unary(node_channel, node_pool, "shardfleet.v1.ShardNode.Status")
    out["node_status"] = {"node_id": status.node_id, "run_id": status.run_id, "shards_loaded": list(status.shards_loaded)}
    health_pool = pools[("v1", "node", "grpc.health.v1.Health")]
    out["describe"]["health_maps"] = map_fields(health_pool, health_pool.FindServiceByName("grpc.health.v1.Health").file.name)
    check = unary(node_channel, health_pool, "grpc.health.v1.Health.Check", service="shardfleet.v1.ShardNode")
    out["node_health"] = health_pool.FindEnumTypeByName("grpc.health.v1.HealthCheckResponse.ServingStatus").values_by_number[check.status].name

    if args.protoc_set:
        out["protoc_equal"] = compare_with_protoc(ReflectionClient(router_channel, "v1"), args.protoc_set)
    router_channel.close()
    node_channel.close()
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    try:
        main()
    except CheckFailed as e:
        sys.stderr.write("reflection check failed: %s\n" % e)
        sys.exit(1)
    except grpc.RpcError as e:
        sys.stderr.write("reflection check failed: RPC error %s: %s\n" % (e.code(), e.details()))
        sys.exit(1)
