/**
 * Parses a membership spec: where the list of shard nodes comes from.
 *
 * Three forms:
 * - static list: `id=host:port,...` or `host:port,...` (see `parseNodeList`);
 * - `dns+srv:<name>` — SRV records of `<name>`, e.g.
 *   `dns+srv:_grpc._tcp.shardfleet-nodes.default.svc.cluster.local` (a Kubernetes headless service
 *   with a port named `grpc`). Each SRV target `<pod>.<svc>.<ns>.svc.cluster.local` gives a node
 *   with id `<pod>` (the target's first label, i.e. the pod name, stable across restarts) and
 *   address `<target>:<srv port>`. This is the recommended DNS form;
 * - `dns:<name>[:<port>]` — A and AAAA records of `<name>`; each address gives a node with
 *   id = address = `<ip>:<port>` (`[<ip6>]:<port>`). The port defaults to the `defaultPort` option.
 *   Ids then change whenever a pod gets a new IP, which moves its shards: prefer `dns+srv:`.
 */
import { ConfigValidationError } from '../errors.ts';
import { parseNodeList, type NodeEndpoint } from '../node-list.ts';

/** A parsed membership spec. */
export type MembershipSpec =
  | { kind: 'static'; nodes: NodeEndpoint[] }
  | { kind: 'srv'; name: string }
  | { kind: 'address'; name: string; port: number };

const SRV_PREFIX = 'dns+srv:';
const DNS_PREFIX = 'dns:';

/** One DNS label: letters, digits, `-` and `_` (SRV service/protocol labels start with `_`). */
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/;

/**
 * Parses `spec` (see the module comment for the syntax).
 * @param defaultPort port for `dns:<name>` without a port.
 * @throws ConfigValidationError naming the spec when it is malformed.
 */
export function parseMembershipSpec(spec: string, defaultPort?: number): MembershipSpec {
  const text = spec.trim();
  if (text.startsWith(SRV_PREFIX)) {
    const name = stripTrailingDot(text.slice(SRV_PREFIX.length));
    checkDnsName(name, spec);
    return { kind: 'srv', name };
  }
  if (text.startsWith(DNS_PREFIX)) {
    const rest = text.slice(DNS_PREFIX.length);
    const colon = rest.lastIndexOf(':');
    const name = stripTrailingDot(colon >= 0 ? rest.slice(0, colon) : rest);
    checkDnsName(name, spec);
    let port = defaultPort;
    if (colon >= 0) {
      const portText = rest.slice(colon + 1);
      if (!/^\d{1,5}$/.test(portText)) throw new ConfigValidationError(`membership spec "${spec}": port "${portText}" is not a number`);
      port = Number(portText);
    }
    if (port === undefined) {
      throw new ConfigValidationError(`membership spec "${spec}": no port; write dns:<name>:<port> or use dns+srv:<name>`);
    }
    checkPort(port, `membership spec "${spec}"`);
    return { kind: 'address', name, port };
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(text) || /^dns\+/i.test(text)) {
    throw new ConfigValidationError(
      `membership spec "${spec}": unknown scheme; use a list id=host:port,..., dns+srv:<name> or dns:<name>[:<port>]`,
    );
  }
  try {
    return { kind: 'static', nodes: parseNodeList(text) };
  } catch (err) {
    if (err instanceof ConfigValidationError) {
      throw new ConfigValidationError(`membership spec "${spec}": ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/**
 * Parses a DNS server `host[:port]` / `[ip6][:port]` for `Resolver.setServers` (port default 53).
 * @throws ConfigValidationError when malformed.
 */
export function parseDnsServer(server: string): string {
  const text = server.trim();
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(text);
  const v4 = /^([0-9]{1,3}(?:\.[0-9]{1,3}){3})(?::(\d{1,5}))?$/.exec(text);
  const match = v6 ?? v4;
  if (match === null) throw new ConfigValidationError(`DNS server "${server}": expected an IP address with an optional :port`);
  const port = match[2] === undefined ? 53 : Number(match[2]);
  checkPort(port, `DNS server "${server}"`);
  return v6 !== null ? `[${match[1]}]:${port}` : `${match[1]}:${port}`;
}

function stripTrailingDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function checkDnsName(name: string, spec: string): void {
  if (name.length === 0 || name.length > 253 || !name.split('.').every((label) => LABEL.test(label))) {
    throw new ConfigValidationError(`membership spec "${spec}": "${name}" is not a valid DNS name`);
  }
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigValidationError(`${what}: port ${port} is outside 1..65535`);
  }
}
