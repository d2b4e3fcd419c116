#!/usr/bin/env python3
"""A small Python client of a shardfleet router: Search, BatchSearch and Health, printing JSON.

It uses stubs generated from proto/ with grpc_tools.protoc (see README.md next to this file):

  python3 -m grpc_tools.protoc -I proto --python_out=examples/python/gen \\
      --grpc_python_out=examples/python/gen proto/shardfleet/v1/common.proto proto/shardfleet/v1/router.proto

Examples (a cluster from `shardfleet local --store ...`, router address as it prints):

  shardfleet_client.py --router 127.0.0.1:50051 health
  shardfleet_client.py --router 127.0.0.1:50051 search --vector '[0.1, 0.2, ...]' --top-k 5
  shardfleet_client.py --router 127.0.0.1:50051 batch-search --vectors '[[0.1, ...], [0.3, ...]]'

Each command prints one JSON object on stdout. A failed call prints `error: CODE: details` on
stderr and exits 1 (a failed query of a batch is reported in its result instead).
"""
import argparse
import base64
import json
import os
import struct
import sys


def load_stubs(stubs_dir):
    """Imports router_pb2 and router_pb2_grpc from `stubs_dir` (the --python_out folder)."""
    if not os.path.isfile(os.path.join(stubs_dir, "shardfleet", "v1", "router_pb2.py")):
        raise SystemExit("no generated stubs in %s: generate them first (see examples/python/README.md)" % stubs_dir)
    sys.path.insert(0, stubs_dir)
    from shardfleet.v1 import router_pb2, router_pb2_grpc  # noqa: E402 (generated code)

    return router_pb2, router_pb2_grpc


def encode_vector(vector):
    """A query vector as the router expects it: little-endian float32, 4 bytes per value."""
    return struct.pack("<%df" % len(vector), *vector)


class ShardfleetClient:
    """A connection to one router.

    address: router host:port. ca_file: PEM root certificate for TLS (plaintext when None).
    token: sent as `authorization: Bearer <token>`. timeout_s: deadline of each call, seconds.
    Every method raises grpc.RpcError with the router's status when the call fails.
    """

    def __init__(self, address, stubs, ca_file=None, token=None, timeout_s=10.0):
        import grpc

        self._pb2, grpc_stubs = stubs
        if ca_file:
            with open(ca_file, "rb") as fh:
                self._channel = grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=fh.read()))
        else:
            self._channel = grpc.insecure_channel(address)
        self._stub = grpc_stubs.RouterStub(self._channel)
        self._metadata = [("authorization", "Bearer " + token)] if token else None
        self._timeout_s = timeout_s

    def _request(self, vector, top_k, num_probes, include_payload, filter=""):
        return self._pb2.SearchRequest(query=encode_vector(vector), top_k=top_k, num_probes=num_probes, include_payload=include_payload, filter=filter)

    def search(self, vector, top_k=10, num_probes=0, include_payload=False, filter=""):
        """Nearest neighbours of `vector` (a list of dim numbers); see search_json for the result's shape.

        filter: a CEL expression over the snapshot's filter columns (e.g. 'label == 3'); "" = none.
        """
        res = self._stub.Search(self._request(vector, top_k, num_probes, include_payload, filter), timeout=self._timeout_s, metadata=self._metadata)
        return search_json(res)

    def multi_get(self, keys, include_vector=False):
        """Point lookups (MultiGet), results in key order.

        keys: str (string keys, or record ids of a vector-only snapshot), int (int keys, sent as
        int_key_decimal, exact over int64) or bytes (bytes keys). Each result: {"key", "found",
        "value" (UTF-8 text when it decodes, else base64; see "value_encoding"), "payload_json",
        "id", "db_id", "error" ("" unless the key's shard could not answer)}.
        """
        def key(k):
            if isinstance(k, bool):
                raise TypeError("a key is str, int or bytes, not bool")
            if isinstance(k, int):
                return self._pb2.Key(int_key_decimal=str(k))
            if isinstance(k, bytes):
                return self._pb2.Key(bytes_key=k)
            return self._pb2.Key(string_key=k)

        req = self._pb2.MultiGetRequest(keys=[key(k) for k in keys], include_vector=include_vector)
        res = self._stub.MultiGet(req, timeout=self._timeout_s, metadata=self._metadata)
        out = []
        for k, r in zip(keys, res.results):
            try:
                value, encoding = r.value.decode("utf-8"), "utf8"
            except UnicodeDecodeError:
                value, encoding = base64.b64encode(r.value).decode("ascii"), "base64"
            out.append({"key": k if not isinstance(k, bytes) else base64.b64encode(k).decode("ascii"), "found": r.found, "value": value,
                        "value_encoding": encoding, "payload_json": r.payload_json, "id": r.id, "db_id": r.db_id, "error": r.error})
        return {"run_id": res.run_id, "partial": res.partial, "results": out}

    def batch_search(self, vectors, top_k=10, num_probes=0, include_payload=False):
        """Many queries in one call: {"run_id", "results": [{"error_code", "error_message", "response"}]}, in order.

        error_code is the gRPC status code of a query that failed on its own (0 when it succeeded;
        response is then a search_json object, otherwise None).
        """
        req = self._pb2.BatchSearchRequest(queries=[self._request(v, top_k, num_probes, include_payload) for v in vectors])
        res = self._stub.BatchSearch(req, timeout=self._timeout_s, metadata=self._metadata)
        return {
            "run_id": res.run_id,
            "results": [
                {
                    "error_code": r.error_code,
                    "error_message": r.error_message,
                    "response": search_json(r.response) if r.HasField("response") else None,
                }
                for r in res.results
            ],
        }

    def health(self):
        """The router's health: status ("healthy", "degraded", "unhealthy"), reasons, run_id, coverage (0..1), ..."""
        res = self._stub.Health(self._pb2.HealthRequest(), timeout=self._timeout_s, metadata=self._metadata)
        return {
            "status": res.status,
            "reasons": list(res.reasons),
            "run_id": res.run_id,
            "snapshot_age_seconds": res.snapshot_age_seconds,
            "coverage": res.coverage,
            "last_refresh_error": res.last_refresh_error,
            "pending_run_id": res.pending_run_id,
        }

    def close(self):
        self._channel.close()


def search_json(res):
    """A SearchResponse as JSON-ready data.

    results: [{"id", "score" (lower is better), "payload_json" ("" unless requested)}], best first;
    shard_ids: the shards searched, nearest centroid first; latency_ms: time in the router.
    """
    return {
        "run_id": res.run_id,
        "results": [{"id": h.id, "score": h.score, "payload_json": h.payload_json} for h in res.results],
        "shard_ids": list(res.shard_ids),
        "num_shards_queried": res.num_shards_queried,
        "num_shards_answered": res.num_shards_answered,
        "partial": res.partial,
        "failed_shards": [{"db_id": f.db_id, "reason": f.reason} for f in res.failed_shards],
        "latency_ms": res.latency_ms,
    }


def _vector(text):
    value = json.loads(text)
    if not isinstance(value, list) or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
        raise argparse.ArgumentTypeError("expected a JSON array of numbers")
    return value


def _vectors(text):
    value = json.loads(text)
    if not isinstance(value, list):
        raise argparse.ArgumentTypeError("expected a JSON array of arrays of numbers")
    return [_vector(json.dumps(v)) for v in value]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Search, BatchSearch, Get and Health against a shardfleet router; prints JSON.")
    parser.add_argument("--router", required=True, help="router host:port")
    parser.add_argument("--stubs", default=os.environ.get("SHARDFLEET_STUBS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen")),
                        help="folder of the generated stubs (default: $SHARDFLEET_STUBS or gen/ next to this script)")
    parser.add_argument("--ca-file", help="PEM root certificate: use TLS")
    parser.add_argument("--token", default=os.environ.get("SHARDFLEET_TOKEN"), help="bearer token (default $SHARDFLEET_TOKEN)")
    parser.add_argument("--timeout", type=float, default=10.0, help="deadline of the call, seconds (default 10)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("health", help="the router's health")
    get = commands.add_parser("get", help="look keys up (MultiGet)")
    get.add_argument("--key", action="append", required=True, help="a key (repeat for more); string keys / record ids")
    for name, flag, kind, what in (("search", "--vector", _vector, "the query, a JSON array of dim numbers"),
                                   ("batch-search", "--vectors", _vectors, "the queries, a JSON array of arrays")):
        cmd = commands.add_parser(name, help=what)
        cmd.add_argument(flag, required=True, type=kind, help=what)
        cmd.add_argument("--top-k", type=int, default=10, help="results per query (1..1000, default 10)")
        cmd.add_argument("--num-probes", type=int, default=0, help="shards to probe (0 = the snapshot's default)")
        cmd.add_argument("--include-payload", action="store_true", help="return each hit's payload (JSON text)")
        cmd.add_argument("--filter", default="", help="CEL filter over the snapshot's filter columns, e.g. 'label == 3'")
    args = parser.parse_args(argv)

    import grpc

    client = ShardfleetClient(args.router, load_stubs(args.stubs), ca_file=args.ca_file, token=args.token, timeout_s=args.timeout)
    try:
        if args.command == "health":
            out = client.health()
        elif args.command == "search":
            out = client.search(args.vector, args.top_k, args.num_probes, args.include_payload, args.filter)
        elif args.command == "get":
            out = client.multi_get(args.key)
        else:
            out = client.batch_search(args.vectors, args.top_k, args.num_probes, args.include_payload)
    except grpc.RpcError as e:
        sys.stderr.write("error: %s: %s\n" % (e.code().name, e.details()))
        return 1
    finally:
        client.close()
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
