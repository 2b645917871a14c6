import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * The fake Slack's stand-in for Slack's Socket Mode endpoint (`wss://wss-primary.slack.com/link/`),
 * speaking its protocol (https://docs.slack.dev/apis/events-api/using-socket-mode): a bot that
 * called `apps.connections.open` with its app-level token connects to the one-time URL it got;
 * Slack's side greets it with `hello`, sends each payload in an envelope with an `envelope_id`,
 * and takes the ack that comes back on the socket with the same id. `disconnect` asks the bot to
 * reconnect, as Slack does every few hours.
 */

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

/** What the bot sent back for an envelope: its id and the ack's payload (e.g. a reply text). */
export interface SocketModeAck {
  envelope_id: string;
  payload?: Record<string, unknown>;
}

export interface SocketModeEndpoint {
  /** A fresh one-time `ws://` URL, as `apps.connections.open` answers it. */
  openConnection(): string;
  /** Connections greeted with `hello` and still open. */
  readonly connections: number;
  /** Connections greeted since the start (a reconnect counts again). */
  readonly greeted: number;
  /**
   * Sends one payload to the most recent connection and resolves with the bot's ack; rejects when
   * no connection is open or no ack comes within `ACK_TIMEOUT_MS`.
   */
  send(type: EnvelopeType, payload: Record<string, unknown>): Promise<SocketModeAck>;
  /** Asks every connection to reconnect (`refresh_requested`), as Slack does before recycling one. */
  disconnect(): void;
  close(): void;
}

/** Slack shows the person an error after 3 s without an ack; the fake allows more on a busy machine. */
const ACK_TIMEOUT_MS = 10_000;

export function attachSocketMode(server: Server, baseUrl: string, appId: string): SocketModeEndpoint {
  const wss = new WebSocketServer({ noServer: true });
  const tickets = new Set<string>();
  const open: WebSocket[] = [];
  const waiting = new Map<string, (ack: SocketModeAck) => void>();
  let greeted = 0;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://slack');
    const ticket = url.searchParams.get('ticket') ?? '';
    // A ticket is good for one connection, like the URLs Slack hands out.
    if (url.pathname !== '/link/' || !tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      open.push(ws);
      ws.on('close', () => open.splice(open.indexOf(ws), 1));
      ws.on('message', (data) => {
        const ack = parseAck(data.toString());
        if (ack) waiting.get(ack.envelope_id)?.(ack);
      });
      greeted += 1;
      ws.send(
        JSON.stringify({
          type: 'hello',
          num_connections: open.length,
          debug_info: { host: 'applink-fake', approximate_connection_time: 18_060 },
          connection_info: { app_id: appId },
        }),
      );
    });
  };
  server.on('upgrade', onUpgrade);

  return {
    openConnection: () => {
      const ticket = randomBytes(16).toString('hex');
      tickets.add(ticket);
      return `${baseUrl.replace(/^http/, 'ws')}/link/?ticket=${ticket}&app_id=${appId}`;
    },
    get connections() {
      return open.length;
    },
    get greeted() {
      return greeted;
    },
    send: (type, payload) => {
      const ws = open.at(-1);
      if (!ws) return Promise.reject(new Error('no Socket Mode connection is open'));
      const envelopeId = randomBytes(12).toString('hex');
      return new Promise<SocketModeAck>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(envelopeId);
          reject(new Error(`no ack for the ${type} envelope within ${ACK_TIMEOUT_MS} ms`));
        }, ACK_TIMEOUT_MS);
        waiting.set(envelopeId, (ack) => {
          clearTimeout(timer);
          waiting.delete(envelopeId);
          resolve(ack);
        });
        ws.send(
          JSON.stringify({
            envelope_id: envelopeId,
            type,
            payload,
            accepts_response_payload: type === 'slash_commands',
            ...(type === 'events_api' ? { retry_attempt: 0, retry_reason: '' } : {}),
          }),
        );
      });
    },
    disconnect: () => {
      for (const ws of open) {
        ws.send(
          JSON.stringify({
            type: 'disconnect',
            reason: 'refresh_requested',
            debug_info: { host: 'applink-fake' },
          }),
        );
      }
    },
    close: () => {
      server.off('upgrade', onUpgrade);
      for (const ws of open) ws.terminate();
      wss.close();
    },
  };
}

function parseAck(text: string): SocketModeAck | undefined {
  try {
    const message = JSON.parse(text) as Partial<SocketModeAck>;
    return typeof message.envelope_id === 'string' ? (message as SocketModeAck) : undefined;
  } catch {
    return undefined;
  }
}
