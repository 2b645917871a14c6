import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * The HTTP plumbing every vendor simulator shares: a real server on 127.0.0.1 (HTTP, or HTTPS
 * with a freshly made self-signed certificate), a route table, a log of every request received,
 * and scripted faults (any status, body, delay or a hang) that tests and the sandbox inject in
 * front of the simulator's normal behaviour.
 */

export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: string;
  receivedAt: number;
}

export interface SimReply {
  status?: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings as they are (set content-type yourself for HTML). */
  body?: unknown;
}

export type SimHandler = (req: SimRequest, params: Record<string, string>) => SimReply | Promise<SimReply>;

export interface SimRoute {
  method: string;
  /** `/admin/jobs/:jobId` style; `:name` matches one segment. */
  path: string;
  handler: SimHandler;
}

export interface ScriptedFault {
  method?: string;
  /** Matches when the request path contains this text or matches this pattern. */
  path?: string | RegExp;
  /** How many matching requests get this fault (default 1). */
  times?: number;
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Wait this long, then answer with the fault (or, with no status, with the normal answer). */
  delayMs?: number;
  /** Never answer (the client's timeout must fire). */
  hang?: boolean;
  /** Destroy the socket without answering. */
  reset?: boolean;
  /** Do the work, then destroy the socket instead of answering: the caller cannot tell it happened. */
  loseAnswer?: boolean;
  /** Answer (with `status`, default 200) a body of this many bytes instead; see HugeBody. */
  hugeBody?: HugeBody;
}

/**
 * A runaway answer (a proxy streaming a file, a list with no paging): JSON-looking bytes sent in
 * chunks as fast as the client reads them, with no Content-Length, never held whole here.
 */
export interface HugeBody {
  bytes: number;
  /** Called once the answer is over: how much went out, and whether all of it did. */
  onEnd?: (outcome: { bytesWritten: number; complete: boolean }) => void;
}

export interface SimServerOptions {
  port?: number;
  tls?: boolean;
}

export interface SimServer {
  url: string;
  /** PEM of the self-signed certificate when `tls` is on (trust it as the target's CA file). */
  certificatePem: string | undefined;
  requests: SimRequest[];
  /** Adds scripted faults in front of the normal behaviour; they are used up in order. */
  inject(fault: ScriptedFault): void;
  clearFaults(): void;
  close(): Promise<void>;
}

export async function startSimServer(routes: SimRoute[], options: SimServerOptions = {}): Promise<SimServer> {
  const faults: Array<ScriptedFault & { left: number }> = [];
  const requests: SimRequest[] = [];
  const compiled = routes.map((route) => ({ ...route, match: compilePath(route.path) }));

  const handle = async (incoming: IncomingMessage, res: ServerResponse) => {
    const url = new URL(incoming.url ?? '/', 'http://sim');
    const req: SimRequest = {
      method: incoming.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: Object.fromEntries(
        Object.entries(incoming.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
      ),
      body: await readBody(incoming),
      receivedAt: Date.now(),
    };
    if (requests.length > 10_000) requests.splice(0, 5_000);
    requests.push(req);

    const fault = takeFault(faults, req);
    if (fault?.hang) return;
    if (fault?.reset) {
      res.socket?.destroy();
      return;
    }
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault?.hugeBody) return streamHugeBody(res, fault.status ?? 200, fault.hugeBody);
    if (fault?.status !== undefined && !fault.loseAnswer) {
      return send(res, { status: fault.status, headers: fault.headers, body: fault.body ?? '' });
    }
    for (const route of compiled) {
      if (route.method !== req.method) continue;
      const params = route.match(req.path);
      if (params) {
        try {
          const answer = await route.handler(req, params);
          if (fault?.loseAnswer) {
            res.socket?.destroy();
            return;
          }
          return send(res, answer);
        } catch (error) {
          return send(res, { status: 500, body: { simulatorError: String(error) } });
        }
      }
    }
    send(res, { status: 404, body: { error: `simulator has no route for ${req.method} ${req.path}` } });
  };

  let certificatePem: string | undefined;
  let server: Server;
  if (options.tls) {
    const { generate } = await import('selfsigned');
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      extensions: [
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
          ],
        },
      ],
    } as never);
    certificatePem = pems.cert;
    server = createHttpsServer({ key: pems.private, cert: pems.cert }, (req, res) => void handle(req, res));
  } else {
    server = createHttpServer((req, res) => void handle(req, res));
  }
  const sockets = new Set<import('node:net').Socket>();
  server.on(options.tls ? 'secureConnection' : 'connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://${options.tls ? 'localhost' : '127.0.0.1'}:${port}`,
    certificatePem,
    requests,
    inject: (fault) => faults.push({ ...fault, left: fault.times ?? 1 }),
    clearFaults: () => faults.splice(0),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function takeFault(faults: Array<ScriptedFault & { left: number }>, req: SimRequest) {
  const index = faults.findIndex(
    (f) =>
      (!f.method || f.method === req.method) &&
      (!f.path || (typeof f.path === 'string' ? req.path.includes(f.path) : f.path.test(req.path))),
  );
  if (index < 0) return undefined;
  const fault = faults[index]!;
  fault.left -= 1;
  if (fault.left <= 0) faults.splice(index, 1);
  return fault;
}

function compilePath(pattern: string): (path: string) => Record<string, string> | undefined {
  const names: string[] = [];
  const regex = new RegExp(
    `^${pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\/:([A-Za-z_]+)/g, (_, name: string) => {
      names.push(name);
      return '/([^/]+)';
    })}/?$`,
  );
  return (path) => {
    const match = regex.exec(path);
    if (!match) return undefined;
    return Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]));
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, reply: SimReply): void {
  if (res.headersSent || res.destroyed) return;
  const isText = typeof reply.body === 'string';
  const body = isText ? (reply.body as string) : JSON.stringify(reply.body ?? {});
  res.writeHead(reply.status ?? 200, {
    'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json',
    ...reply.headers,
  });
  res.end(body);
}

const FILLER = Buffer.from(`{"padding":"${'x'.repeat(64 * 1024 - 16)}"},\n`);

async function streamHugeBody(res: ServerResponse, status: number, huge: HugeBody): Promise<void> {
  res.writeHead(status, { 'content-type': 'application/json' });
  let bytesWritten = 0;
  // Until the client hangs up, waiting for it to read each chunk before sending the next.
  while (bytesWritten < huge.bytes && !res.destroyed) {
    const chunk = FILLER.subarray(0, Math.min(FILLER.length, huge.bytes - bytesWritten));
    bytesWritten += chunk.length;
    if (!res.write(chunk)) await drainedOrClosed(res);
  }
  if (!res.destroyed) res.end();
  await new Promise((resolve) => (res.closed ? resolve(undefined) : res.once('close', resolve)));
  huge.onEnd?.({ bytesWritten, complete: res.writableFinished });
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Parses a form-encoded body (ArcGIS) into a plain object. */
export function formFields(req: SimRequest): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(req.body));
}
