/**
 * A minimal authoritative DNS server over UDP on 127.0.0.1 for tests (RFC 1035 wire format).
 *
 * Answers A, AAAA and SRV queries from a mutable record table: NXDOMAIN for an unknown name,
 * NODATA (NOERROR, no answer) for a known name without records of the asked type. Names in answers
 * are written uncompressed; TTLs are 0 so resolvers do not cache. `failWith` makes every answer
 * carry that RCODE (e.g. {@link RCODE.SERVFAIL}). Every query is recorded in `queries`.
 */
import dgram from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

/** DNS response codes used here. */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** Query types used here. */
export const QTYPE = { A: 1, AAAA: 28, SRV: 33 } as const;

/** One SRV answer. */
export interface SrvAnswer {
  priority?: number;
  weight?: number;
  port: number;
  target: string;
}

/** Records of one name. */
export interface DnsRecords {
  a?: string[];
  aaaa?: string[];
  srv?: SrvAnswer[];
}

/** A query the server received. */
export interface DnsQuery {
  name: string;
  type: number;
}

/** A running test DNS server. */
export class TestDnsServer {
  /** Record table, keyed by lower-case name without trailing dot. */
  readonly records = new Map<string, DnsRecords>();
  /** Queries received, in order. */
  readonly queries: DnsQuery[] = [];
  /** When set, every response carries this RCODE and no answer. */
  failWith: number | undefined;

  private constructor(
    private readonly socket: dgram.Socket,
    /** UDP port on 127.0.0.1. */
    readonly port: number,
  ) {
    socket.on('message', (msg, rinfo) => {
      const reply = this.answer(msg);
      if (reply !== undefined) socket.send(reply, rinfo.port, rinfo.address);
    });
  }

  /** Starts a server on 127.0.0.1 (`port` 0 = any free port). */
  static async start(port = 0): Promise<TestDnsServer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new TestDnsServer(socket, socket.address().port);
  }

  /** `127.0.0.1:<port>`, for `Resolver.setServers`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Replaces the records of `name` (`undefined` deletes the name). */
  set(name: string, records: DnsRecords | undefined): void {
    const key = normalize(name);
    if (records === undefined) this.records.delete(key);
    else this.records.set(key, records);
  }

  /** Number of queries of `type` for `name` received so far. */
  count(name: string, type: number): number {
    const key = normalize(name);
    return this.queries.filter((q) => q.name === key && q.type === type).length;
  }

  /** Stops the server. */
  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private answer(msg: Buffer): Buffer | undefined {
    if (msg.length < 12) return undefined;
    const id = msg.readUInt16BE(0);
    const flags = msg.readUInt16BE(2);
    if (flags & 0x8000) return undefined; // a response, not a query
    const qdcount = msg.readUInt16BE(4);
    const parsed = qdcount === 1 ? readQuestion(msg, 12) : undefined;
    if (parsed === undefined) return header(id, flags, RCODE.FORMERR, 0, 0);
    const { name, type, end } = parsed;
    this.queries.push({ name, type });
    const question = msg.subarray(12, end);
    const rcodeOverride = this.failWith;
    if (rcodeOverride !== undefined) return Buffer.concat([header(id, flags, rcodeOverride, 1, 0), question]);
    const records = this.records.get(name);
    if (records === undefined) return Buffer.concat([header(id, flags, RCODE.NXDOMAIN, 1, 0), question]);
    const answers = encodeAnswers(name, type, records);
    return Buffer.concat([header(id, flags, RCODE.NOERROR, 1, answers.length), question, ...answers]);
  }
}

function normalize(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Response header: QR, AA and RA set; opcode and RD copied from the query. */
function header(id: number, queryFlags: number, rcode: number, qdcount: number, ancount: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(0x8000 | (queryFlags & 0x7800) | 0x0400 | (queryFlags & 0x0100) | 0x0080 | (rcode & 0xf), 2);
  out.writeUInt16BE(qdcount, 4);
  out.writeUInt16BE(ancount, 6);
  return out; // NSCOUNT and ARCOUNT stay 0
}

/** Reads the (uncompressed) question at `offset`; undefined when malformed. */
function readQuestion(msg: Buffer, offset: number): { name: string; type: number; end: number } | undefined {
  const labels: string[] = [];
  let at = offset;
  for (;;) {
    if (at >= msg.length) return undefined;
    const len = msg[at];
    if (len === 0) break;
    if (len > 63 || at + 1 + len > msg.length) return undefined; // compression is not used in questions
    labels.push(msg.toString('latin1', at + 1, at + 1 + len));
    at += 1 + len;
  }
  at += 1;
  if (at + 4 > msg.length) return undefined;
  return { name: normalize(labels.join('.')), type: msg.readUInt16BE(at), end: at + 4 };
}

function encodeName(name: string): Buffer {
  const parts = normalize(name)
    .split('.')
    .filter((l) => l.length > 0)
    .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'latin1')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function encodeAnswers(name: string, type: number, records: DnsRecords): Buffer[] {
  switch (type) {
    case QTYPE.A:
      return (records.a ?? []).map((ip) => record(name, type, ipv4Bytes(ip)));
    case QTYPE.AAAA:
      return (records.aaaa ?? []).map((ip) => record(name, type, ipv6Bytes(ip)));
    case QTYPE.SRV:
      return (records.srv ?? []).map((srv) => {
        const fixed = Buffer.alloc(6);
        fixed.writeUInt16BE(srv.priority ?? 0, 0);
        fixed.writeUInt16BE(srv.weight ?? 1, 2);
        fixed.writeUInt16BE(srv.port, 4);
        return record(name, type, Buffer.concat([fixed, encodeName(srv.target)]));
      });
    default:
      return [];
  }
}

/** One resource record: name, type, class IN, TTL 0, rdata. */
function record(name: string, type: number, rdata: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([encodeName(name), fixed, rdata]);
}

function ipv4Bytes(ip: string): Buffer {
  if (!isIPv4(ip)) throw new Error(`test DNS server: "${ip}" is not an IPv4 address`);
  return Buffer.from(ip.split('.').map(Number));
}

function ipv6Bytes(ip: string): Buffer {
  if (!isIPv6(ip) || ip.includes('.')) throw new Error(`test DNS server: "${ip}" is not a plain IPv6 address`);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const headGroups = head.length > 0 ? head.split(':') : [];
  const tailGroups = tail !== undefined && tail.length > 0 ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const out = Buffer.alloc(16);
  [...headGroups, ...zeros, ...tailGroups].forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), i * 2));
  return out;
}
