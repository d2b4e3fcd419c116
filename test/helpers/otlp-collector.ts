/**
 * A minimal real OTLP/HTTP trace collector for tests: a node:http server on 127.0.0.1 accepting
 * `POST /v1/traces` with the JSON encoding (what `@opentelemetry/exporter-trace-otlp-http`
 * sends), keeping every span received. Protobuf bodies are refused with 415 so a misconfigured
 * exporter fails loudly instead of silently.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** OTLP span kinds (`SPAN_KIND_*`). */
export const SpanKind = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;

/** One received span, flattened with its resource's service name. */
export interface CollectedSpan {
  serviceName: string;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
}

/** A running collector. */
export interface OtlpCollector {
  /** Base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter appends `/v1/traces`). */
  url: string;
  /** Every span received so far. */
  spans(): CollectedSpan[];
  /** Requests refused (wrong path, method or content type), for diagnostics. */
  rejected(): string[];
  /** Resolves with the spans once `predicate` holds for them; rejects after `timeoutMs`. */
  waitFor(predicate: (spans: CollectedSpan[]) => boolean, timeoutMs?: number): Promise<CollectedSpan[]>;
  close(): Promise<void>;
}

interface OtlpAnyValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}

interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpKeyValue[];
}

interface OtlpTraceRequest {
  resourceSpans?: { resource?: { attributes?: OtlpKeyValue[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

function attributeValue(v: OtlpAnyValue | undefined): string | number | boolean {
  if (!v) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  return '';
}

function attributeMap(kvs: OtlpKeyValue[] | undefined): Record<string, string | number | boolean> {
  return Object.fromEntries((kvs ?? []).map((kv) => [kv.key, attributeValue(kv.value)]));
}

/** Flattens one OTLP JSON `ExportTraceServiceRequest` into spans. */
export function flattenTraceRequest(body: OtlpTraceRequest): CollectedSpan[] {
  const out: CollectedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const serviceName = String(attributeMap(rs.resource?.attributes)['service.name'] ?? '');
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          serviceName,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind,
          attributes: attributeMap(s.attributes),
        });
      }
    }
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts a collector on a free port of 127.0.0.1. */
export async function startOtlpCollector(): Promise<OtlpCollector> {
  const received: CollectedSpan[] = [];
  const rejected: string[] = [];
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const contentType = req.headers['content-type'] ?? '';
    if (req.method !== 'POST' || req.url !== '/v1/traces' || !contentType.startsWith('application/json')) {
      rejected.push(`${req.method} ${req.url} ${contentType}`);
      await readBody(req);
      res.writeHead(req.url === '/v1/traces' ? 415 : 404).end();
      return;
    }
    try {
      received.push(...flattenTraceRequest(JSON.parse(await readBody(req)) as OtlpTraceRequest));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    } catch (err) {
      rejected.push(`unparsable body: ${String(err)}`);
      res.writeHead(400).end();
    }
  };
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans: () => [...received],
    rejected: () => [...rejected],
    async waitFor(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate([...received])) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for spans; have ${received.map((s) => `${s.serviceName}:${s.name}`).join(', ') || 'none'}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return [...received];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
