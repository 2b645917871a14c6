import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import type { FakeSlack, FakeSlackMessage, FakeSlackView } from '../src/devtools/fake-slack.js';
import {
  type SlackPeer,
  sendButtonClick,
  sendSlashCommand,
  sendViewSubmission,
} from '../src/devtools/slack-requests.js';
import { excerpt } from '../src/slack/mrkdwn.js';
import { BOT, CHANNEL, USERS } from './people.js';
import { isScenario, SCENARIOS, type Scenario } from './scenarios.js';
import type { Example } from './vendors.js';

/**
 * The chat page and its small JSON API. The page reads the channel from the fake Slack (a
 * snapshot, then every change as Server-Sent Events, the modals the bot opens for its user among
 * them) and turns what a person does into the requests Slack would send the bot: slash commands,
 * button clicks and modal submissions, signed with the bot's signing secret.
 */

export interface ScenarioControl {
  current(): Scenario;
  set(scenario: Scenario): void;
  onChange(listener: (scenario: Scenario) => void): () => void;
  /** Called before each slash command is sent. */
  beforeCommand(): void;
}

export interface PageServerOptions {
  port: number;
  host: string;
  slack: FakeSlack;
  bot: SlackPeer;
  /** The slash command's name, `/ops`. */
  command: string;
  examples: Example[];
  scenario: ScenarioControl;
}

export interface PageServer {
  url: string;
  close(): Promise<void>;
}

/** A message as the page gets it: what Slack clients see, nothing of the bot's metadata. */
interface PageMessage {
  ts: string;
  threadTs: string | undefined;
  user: string;
  text: string;
  blocks: unknown[];
  edited: boolean;
  ephemeral: boolean;
  broadcast: boolean;
  /** Sent to this user by direct message (the app's Messages tab), not in the channel. */
  dm: boolean;
}

const PUBLIC_DIR = new URL('./public/', import.meta.url);
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
const MAX_BODY = 16 * 1024;

export async function startPageServer(options: PageServerOptions): Promise<PageServer> {
  const { slack, scenario } = options;
  const streams = new Set<{ user: string; res: ServerResponse }>();

  const session = () => ({
    channel: CHANNEL,
    command: options.command,
    bot: BOT,
    users: USERS,
    scenario: scenario.current(),
    scenarios: Object.entries(SCENARIOS).map(([name, description]) => ({ name, description })),
    examples: options.examples,
  });

  const visibleTo = (user: string) => (message: FakeSlackMessage) =>
    (message.channel === CHANNEL.id && (!message.ephemeralTo || message.ephemeralTo === user)) ||
    message.channel === slack.imChannel(user);
  // What a Slack client shows when it opens: the channel and the user's direct messages, but no
  // earlier ephemeral message, as Slack keeps those only in the client that received them, until
  // it is reloaded.
  const onOpening = (user: string) => (message: FakeSlackMessage) =>
    (message.channel === CHANNEL.id && !message.ephemeralTo) || message.channel === slack.imChannel(user);

  const send = (res: ServerResponse, event: string, data: unknown) => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  const stopWatching = slack.onChange((message) => {
    const shown = toPageMessage(message);
    for (const stream of streams) if (visibleTo(stream.user)(message)) send(stream.res, 'message', shown);
  });
  // A modal is shown to the person whose click opened it, as Slack does.
  const stopViews = slack.onView((view) => {
    for (const stream of streams) if (stream.user === view.user) send(stream.res, 'view', toPageView(view));
  });
  const stopScenario = scenario.onChange((name) => {
    for (const stream of streams) send(stream.res, 'scenario', { scenario: name });
  });
  const heartbeat = setInterval(() => {
    for (const stream of streams) stream.res.write(': keep-alive\n\n');
  }, 15_000);
  heartbeat.unref();

  const events = (url: URL, req: IncomingMessage, res: ServerResponse) => {
    const user = knownUser(url.searchParams.get('user'));
    if (!user) return reply(res, 400, { error: 'unknown user' });
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write('retry: 1000\n\n');
    const stream = { user, res };
    streams.add(stream);
    send(res, 'snapshot', {
      scenario: scenario.current(),
      messages: slack.messages.filter(onOpening(user)).map(toPageMessage),
    });
    req.on('close', () => streams.delete(stream));
  };

  const command = async (body: Record<string, unknown>, res: ServerResponse) => {
    const user = knownUser(body.user);
    const line = typeof body.text === 'string' ? body.text.trim() : '';
    if (!user) return reply(res, 400, { error: 'unknown user' });
    const [name = ''] = line.split(/\s/, 1);
    if (name !== options.command) {
      return reply(res, 400, {
        // The page shows this as mrkdwn, like every message: what was typed is quoted escaped.
        error: `${name ? `"${excerpt(name)}"` : 'That'} is not a command here: the sandbox knows ${options.command} only.`,
      });
    }
    scenario.beforeCommand();
    const sent = await sendSlashCommand(options.bot, {
      command: options.command,
      text: line.slice(name.length).trim(),
      userId: user,
      userName: USERS.find((u) => u.id === user)?.name.toLowerCase(),
      channelId: CHANNEL.id,
      responseUrl: slack.responseUrl(user, CHANNEL.id),
    });
    if (sent.status !== 200) return reply(res, 502, { error: `opsbot answered HTTP ${sent.status}` });
    return reply(res, 200, { ok: true });
  };

  const click = async (body: Record<string, unknown>, res: ServerResponse) => {
    const user = knownUser(body.user);
    if (!user) return reply(res, 400, { error: 'unknown user' });
    const message = slack.messages.find(
      (m) => m.channel === CHANNEL.id && m.ts === body.ts && !m.ephemeralTo,
    );
    const button = message && findButton(message.blocks, body.actionId, body.value);
    // Only a button the message shows now can be clicked (as in Slack, once a message is updated).
    if (!message || !button) return reply(res, 409, { error: 'This button is no longer on the message.' });
    const sent = await sendButtonClick(options.bot, {
      actionId: button.action_id,
      value: button.value ?? '',
      userId: user,
      channelId: CHANNEL.id,
      messageTs: message.ts,
      responseUrl: slack.responseUrl(user, CHANNEL.id),
      triggerId: slack.triggerId(user),
    });
    if (sent.status !== 200) return reply(res, 502, { error: `opsbot answered HTTP ${sent.status}` });
    return reply(res, 200, { ok: true });
  };

  /** A modal's submission: closed, or still open with the errors the bot answered (by block id). */
  const submit = async (body: Record<string, unknown>, res: ServerResponse) => {
    const user = knownUser(body.user);
    if (!user) return reply(res, 400, { error: 'unknown user' });
    const view = slack.views.find((v) => v.id === body.viewId && v.user === user && !v.closed);
    if (!view) return reply(res, 409, { error: 'This dialog is no longer open.' });
    const values = Object.fromEntries(
      Object.entries((body.values ?? {}) as Record<string, unknown>).map(([block, text]) => [
        block,
        typeof text === 'string' ? text : '',
      ]),
    );
    const sent = await sendViewSubmission(options.bot, { userId: user, view, values });
    if (sent.status !== 200) return reply(res, 502, { error: `opsbot answered HTTP ${sent.status}` });
    const answer = (sent.body ? JSON.parse(sent.body) : {}) as {
      response_action?: string;
      errors?: Record<string, string>;
    };
    if (answer.response_action === 'errors')
      return reply(res, 200, { closed: false, errors: answer.errors ?? {} });
    slack.closeView(view.id);
    return reply(res, 200, { closed: true });
  };

  const changeScenario = (body: Record<string, unknown>, res: ServerResponse) => {
    if (!isScenario(body.scenario)) return reply(res, 400, { error: 'unknown scenario' });
    scenario.set(body.scenario);
    return reply(res, 200, { scenario: body.scenario });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    if (req.method === 'GET') {
      if (url.pathname === '/api/session') return reply(res, 200, session());
      if (url.pathname === '/api/events') return events(url, req, res);
      const file = publicFile(url.pathname);
      if (file) {
        res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS });
        return res.end(file.body);
      }
      return reply(res, 404, { error: 'not found' });
    }
    if (req.method !== 'POST') return reply(res, 405, { error: 'method not allowed' });
    // JSON only: a page on another origin cannot send that without a preflight this server refuses.
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return reply(res, 415, { error: 'send application/json' });
    }
    const body = await readJson(req);
    if (!body) return reply(res, 400, { error: 'the body must be a JSON object' });
    if (url.pathname === '/api/command') return command(body, res);
    if (url.pathname === '/api/click') return click(body, res);
    if (url.pathname === '/api/submit') return submit(body, res);
    if (url.pathname === '/api/scenario') return changeScenario(body, res);
    return reply(res, 404, { error: 'not found' });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => reply(res, 500, { error: error.message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    url: `http://${shownHost}:${port}`,
    close: async () => {
      clearInterval(heartbeat);
      stopWatching();
      stopViews();
      stopScenario();
      for (const stream of streams) stream.res.end();
      streams.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function toPageMessage(message: FakeSlackMessage): PageMessage {
  return {
    ts: message.ts,
    threadTs: message.thread_ts,
    user: message.user,
    text: message.text,
    blocks: Array.isArray(message.blocks) ? message.blocks : [],
    edited: message.edited === true,
    ephemeral: message.ephemeralTo !== undefined,
    broadcast: message.reply_broadcast === true,
    // Only the channel and the user's own DM conversation reach the page.
    dm: message.channel !== CHANNEL.id,
  };
}

/** A modal as the page gets it: its id (to submit it by) and what Slack draws of it. */
function toPageView(opened: FakeSlackView) {
  const { title, submit, close, blocks } = opened.view;
  return { id: opened.id, title, submit, close, blocks: Array.isArray(blocks) ? blocks : [] };
}

function knownUser(id: unknown): string | undefined {
  return USERS.find((user) => user.id === id)?.id;
}

interface Button {
  action_id: string;
  value?: string;
}

/** The button with this action id and value in a message's blocks (actions or section accessory). */
function findButton(blocks: unknown[] | undefined, actionId: unknown, value: unknown): Button | undefined {
  for (const block of (blocks ?? []) as Array<{ elements?: unknown[]; accessory?: unknown }>) {
    for (const element of [...(block.elements ?? []), block.accessory] as Array<
      Partial<Button> & { type?: string }
    >) {
      if (
        element?.type === 'button' &&
        element.action_id === actionId &&
        (element.value ?? '') === (value ?? '')
      ) {
        return element as Button;
      }
    }
  }
  return undefined;
}

/** One of the page's files (read on each request, so editing the page needs no restart). */
function publicFile(pathname: string): { type: string; body: Buffer } | undefined {
  const name = pathname === '/' ? 'index.html' : pathname.slice(1);
  // One plain file name: no folders, no dots but the extension's.
  const type = /^[a-z0-9-]+\.[a-z]+$/.test(name) ? CONTENT_TYPES[extname(name)] : undefined;
  if (!type) return undefined;
  try {
    return { type, body: readFileSync(new URL(name, PUBLIC_DIR)) };
  } catch {
    return undefined;
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...SECURITY_HEADERS,
  });
  res.end(JSON.stringify(body));
}
