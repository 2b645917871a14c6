import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { attachSocketMode, type SocketModeEndpoint } from './fake-slack-socket-mode.js';

/**
 * A local stand-in for the Slack Web API, used by the tests, the sandbox and the benchmarks. It
 * answers like Slack (form or JSON bodies, `blocks` as a JSON string, `ok:false` errors, 429 with
 * Retry-After), checks what it receives (token, channel, block limits, thread roots, trigger ids),
 * records every call, and keeps channels with their threads and the modals it opened so a page or
 * a test can read them back. Scripted faults (`fail`) make it misbehave like Slack on a bad day:
 * 429s, 5xx, `ok:false` errors and dropped connections, for a number of calls or for a while. With
 * an app-level token it is also Slack's Socket Mode endpoint (`socketMode`, see
 * fake-slack-socket-mode.ts).
 */

export interface FakeSlackMessage {
  ts: string;
  channel: string;
  thread_ts?: string | undefined;
  user: string;
  text: string;
  blocks?: unknown[] | undefined;
  metadata?: unknown;
  reply_broadcast?: boolean | undefined;
  edited?: boolean;
  /** Ephemeral messages (response_url) are shown to one user only. */
  ephemeralTo?: string | undefined;
}

export interface FakeSlackCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
  /** Whether Slack did what was asked (true for a call whose answer was then dropped). */
  ok: boolean;
  /** Slack's error (`http_500` for a bare HTTP error), or `dropped` / `answer_dropped` (see `FakeSlackFault.drop`). */
  error?: string | undefined;
}

/** A modal opsbot opened with `views.open`, as it sent it, for the person whose trigger it used. */
export interface FakeSlackView {
  /** Slack's view id (`V…`), which a view_submission carries. */
  id: string;
  user: string;
  /** The view object opsbot sent (type, callback_id, title, blocks, private_metadata…). */
  view: Record<string, unknown>;
  openedAt: number;
  /** Set once a submission's answer closed it (see `FakeSlack.closeView`). */
  closed: boolean;
}

/** A scripted failure (see `FakeSlack.fail`). */
export interface FakeSlackFault {
  /** The Web API method(s) that fail; default every method. */
  method?: string | string[];
  /** How many matching calls fail. Default 1, or no limit when `forMs` is set. */
  times?: number;
  /**
   * Fail every matching call for this long, counted from the first call the fault hits (so on a
   * loaded machine the window cannot pass before any traffic arrives). With `times`, whichever
   * runs out first ends the fault.
   */
  forMs?: number;
  /** 429 answers `ratelimited` with Retry-After; any other status answers `internal_error`. Default 500. */
  status?: number;
  /** Answer HTTP 200 with `{ ok: false, error }` (e.g. `fatal_error`) instead. */
  error?: string;
  /** Retry-After of a 429, in seconds. Default 1. */
  retryAfterSeconds?: number;
  /**
   * Drop the connection without answering: `before` the call takes effect (Slack unreachable), or
   * `after` it took effect (the message is posted, the answer is lost: a retry must not post twice).
   */
  drop?: 'before' | 'after';
  /** Answer normally, but only after this long (a slow Slack): no failure is recorded. */
  delayMs?: number;
}

export interface FakeSlackOptions {
  port?: number;
  botToken: string;
  /** App-level token (xapp-…): `apps.connections.open` takes only this one (see `socketMode`). */
  appToken?: string;
  botUserId?: string;
  /** user group id → member user ids */
  userGroups?: Record<string, string[]>;
  /**
   * Enforce Slack's write limits with 429s: chat.postMessage per channel (messages per second,
   * burst), and chat.update at its Tier 3 rate (about 50 a minute).
   */
  rateLimit?: { perSecond: number; burst: number } | undefined;
  /**
   * Whether the app's App Home has its Messages tab on (`features.app_home.messages_tab_enabled`
   * in the manifest; default true, as opsbot's manifest has it). Off, a post to a user id (a DM)
   * is refused with `messages_tab_disabled`, as Slack refuses it.
   */
  messagesTab?: boolean;
}

export interface FakeSlack {
  url: string;
  /** Base for `slackApiUrl` (`…/api/`). */
  apiUrl: string;
  calls: FakeSlackCall[];
  messages: FakeSlackMessage[];
  /**
   * A response_url for a new slash command or click; messages sent to it become ephemerals. Shaped
   * like Slack's (`…/commands/<team>/<number>/<secret>`, about 80 characters), so what opsbot
   * stores for one is as long as in production.
   */
  responseUrl(user: string, channel: string): string;
  /**
   * A trigger_id for a new slash command or click by `user`, shaped like Slack's: good for one
   * `views.open` within 3 s of `issuedAt` (default now). Otherwise `views.open` answers as Slack
   * does: `expired_trigger_id` after 3 s, `exchanged_trigger_id` the second time, and
   * `invalid_trigger_id` for one it never issued.
   */
  triggerId(user: string, issuedAt?: number): string;
  /** Every modal opened, oldest first. */
  views: FakeSlackView[];
  /** Marks a modal closed, as Slack does when a submission is answered without errors. */
  closeView(id: string): void;
  /** Subscribe to every modal opened (the sandbox page shows it to its user). */
  onView(listener: (view: FakeSlackView) => void): () => void;
  /**
   * Makes matching calls fail like Slack does, for `times` calls or `forMs` milliseconds. Faults
   * queue up: a call meets the first unfinished fault for its method, so several faults given at
   * once play one after the other (429s for a while, then 500s, then dropped connections).
   */
  fail(fault: FakeSlackFault): void;
  /** Ends every scripted fault at once: Slack is back. */
  clearFaults(): void;
  thread(channel: string, rootTs: string): FakeSlackMessage[];
  /** The messages the app sent a user by DM (chat.postMessage with the user's id as `channel`). */
  dms(user: string): FakeSlackMessage[];
  /** The id (`D…`) of the app's DM conversation with a user: the `channel` of its DMs to them. */
  imChannel(user: string): string;
  /** Subscribe to every change (used by the sandbox page to stream updates). */
  onChange(listener: (message: FakeSlackMessage) => void): () => void;
  setRateLimit(limit: FakeSlackOptions['rateLimit']): void;
  /** Slack's Socket Mode endpoint, for a bot started with `appToken`. */
  socketMode: SocketModeEndpoint;
  close(): Promise<void>;
}

export async function startFakeSlack(options: FakeSlackOptions): Promise<FakeSlack> {
  const calls: FakeSlackCall[] = [];
  const messages: FakeSlackMessage[] = [];
  const listeners = new Set<(message: FakeSlackMessage) => void>();
  const faults: Array<FakeSlackFault & { left: number; until?: number }> = [];
  /** The fault this call meets, if any; used-up and elapsed faults are removed on the way. */
  const takeFault = (method: string) => {
    const now = Date.now();
    for (let i = 0; i < faults.length; i += 1) {
      const fault = faults[i]!;
      const methods = fault.method === undefined ? undefined : [fault.method].flat();
      if (methods && !methods.includes(method)) continue;
      if (fault.until !== undefined && now >= fault.until) {
        faults.splice(i, 1);
        i -= 1;
        continue;
      }
      if (fault.forMs !== undefined) fault.until ??= now + fault.forMs;
      fault.left -= 1;
      if (fault.left <= 0) faults.splice(i, 1);
      return fault;
    }
    return undefined;
  };
  const responseTargets = new Map<string, { user: string; channel: string; uses: number }>();
  const triggers = new Map<string, { user: string; issuedAt: number; used: boolean }>();
  const views: FakeSlackView[] = [];
  const viewListeners = new Set<(view: FakeSlackView) => void>();
  let triggerSeq = 0;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let rateLimit = options.rateLimit;
  let clock = 1_700_000_000_000;
  let responseSeq = 0;
  const botUserId = options.botUserId ?? 'UOPSBOT01';
  /** The app's DM conversation (`D…`) with each user it has written to. */
  const ims = new Map<string, string>();
  const imOf = (user: string) => {
    if (!ims.has(user)) ims.set(user, `D${user.slice(1)}`);
    return ims.get(user)!;
  };
  // Attached once the server listens (its URL is part of every connection URL).
  let socketMode: SocketModeEndpoint;

  const nextTs = () => {
    clock = Math.max(clock + 1, Date.now() * 1000);
    const micros = String(clock);
    return `${micros.slice(0, -6)}.${micros.slice(-6)}`;
  };
  const emit = (message: FakeSlackMessage) => {
    for (const listener of listeners) listener(message);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://slack');
    const body = await readBody(req);
    if (url.pathname.startsWith('/commands/'))
      return handleResponseUrl(url.pathname.slice('/commands/'.length), body, res);
    if (!url.pathname.startsWith('/api/')) return json(res, 404, { ok: false, error: 'unknown_method' });
    const method = url.pathname.slice('/api/'.length);
    const args = parseArgs(req.headers['content-type'] ?? '', body);
    const record = (ok: boolean, error?: string) => calls.push({ method, args, at: Date.now(), ok, error });

    const auth = req.headers.authorization ?? (args.token ? `Bearer ${args.token}` : '');
    // The token is the credential, not content: keep it out of the recorded call.
    delete args.token;
    // apps.connections.open takes the app-level token only, every other method the bot token.
    const [wanted, other] =
      method === 'apps.connections.open'
        ? [options.appToken, options.botToken]
        : [options.botToken, options.appToken];
    if (wanted === undefined || auth !== `Bearer ${wanted}`) {
      const error =
        other !== undefined && auth === `Bearer ${other}` ? 'not_allowed_token_type' : 'invalid_auth';
      record(false, error);
      return json(res, 200, { ok: false, error });
    }
    let fault = takeFault(method);
    if (fault?.delayMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, fault!.delayMs));
      fault = undefined;
    }
    if (fault?.drop === 'before') {
      record(false, 'dropped');
      req.socket.destroy();
      return;
    }
    if (fault?.drop === 'after') {
      record(api(method, args).ok === true, 'answer_dropped');
      req.socket.destroy();
      return;
    }
    if (fault) {
      const limited = fault.status === 429 || fault.error === 'ratelimited';
      record(false, limited ? 'ratelimited' : (fault.error ?? `http_${fault.status ?? 500}`));
      if (limited) {
        return json(
          res,
          429,
          { ok: false, error: 'ratelimited' },
          { 'retry-after': String(fault.retryAfterSeconds ?? 1) },
        );
      }
      if (fault.error) return json(res, 200, { ok: false, error: fault.error });
      return json(res, fault.status ?? 500, { ok: false, error: 'internal_error' });
    }
    if (
      (method === 'chat.postMessage' || method === 'chat.update') &&
      rateLimit &&
      typeof args.channel === 'string'
    ) {
      // Like Slack: posts are limited per channel; updates are a Tier 3 method (~50 a minute).
      const wait =
        method === 'chat.postMessage'
          ? takeToken(buckets, args.channel, rateLimit)
          : takeToken(buckets, ' updates', UPDATE_LIMIT);
      if (wait > 0) {
        record(false, 'ratelimited');
        return json(
          res,
          429,
          { ok: false, error: 'ratelimited' },
          { 'retry-after': String(Math.ceil(wait / 1000)) },
        );
      }
    }
    const answer = api(method, args);
    record(answer.ok === true, answer.error as string | undefined);
    return json(res, 200, answer);
  };

  const api = (method: string, args: Record<string, unknown>): Record<string, unknown> => {
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://sandbox.slack.local/',
          team: 'Sandbox',
          user: 'opsbot',
          team_id: 'T0SANDBOX',
          user_id: botUserId,
          bot_id: 'B0OPSBOT1',
        };
      case 'chat.postMessage': {
        const problem = checkMessage(args);
        if (problem) return { ok: false, error: problem };
        // A user id as the channel is a DM, posted in the app's conversation with that user (its
        // App Home's Messages tab): Slack refuses it while that tab is off.
        const toUser = /^[UW][A-Z0-9]+$/.test(String(args.channel));
        if (toUser && options.messagesTab === false) return { ok: false, error: 'messages_tab_disabled' };
        const channel = toUser ? imOf(String(args.channel)) : String(args.channel);
        const threadTs = args.thread_ts ? String(args.thread_ts) : undefined;
        if (threadTs && !messages.some((m) => m.channel === channel && m.ts === threadTs && !m.thread_ts)) {
          return { ok: false, error: 'thread_not_found' };
        }
        const message: FakeSlackMessage = {
          ts: nextTs(),
          channel,
          thread_ts: threadTs,
          user: botUserId,
          text: String(args.text ?? ''),
          blocks: args.blocks as unknown[] | undefined,
          metadata: args.metadata,
          reply_broadcast: args.reply_broadcast === true || args.reply_broadcast === 'true',
        };
        messages.push(message);
        emit(message);
        return { ok: true, channel, ts: message.ts, message };
      }
      case 'chat.update': {
        const problem = checkMessage(args);
        if (problem) return { ok: false, error: problem };
        const message = messages.find((m) => m.channel === args.channel && m.ts === args.ts);
        if (!message) return { ok: false, error: 'message_not_found' };
        message.text = String(args.text ?? '');
        message.blocks = args.blocks as unknown[] | undefined;
        message.edited = true;
        emit(message);
        return { ok: true, channel: message.channel, ts: message.ts };
      }
      case 'chat.postEphemeral': {
        const problem = checkMessage(args);
        if (problem) return { ok: false, error: problem };
        if (typeof args.user !== 'string' || args.user === '')
          return { ok: false, error: 'user_not_in_channel' };
        const message: FakeSlackMessage = {
          ts: nextTs(),
          channel: String(args.channel),
          thread_ts: args.thread_ts ? String(args.thread_ts) : undefined,
          user: botUserId,
          text: String(args.text ?? ''),
          blocks: args.blocks as unknown[] | undefined,
          ephemeralTo: args.user,
        };
        messages.push(message);
        emit(message);
        return { ok: true, message_ts: message.ts };
      }
      case 'views.open': {
        const trigger = triggers.get(String(args.trigger_id ?? ''));
        if (!trigger) return { ok: false, error: 'invalid_trigger_id' };
        if (trigger.used) return { ok: false, error: 'exchanged_trigger_id' };
        if (Date.now() - trigger.issuedAt > TRIGGER_LIFETIME_MS)
          return { ok: false, error: 'expired_trigger_id' };
        const problem = checkModal(args.view);
        if (problem)
          return { ok: false, error: 'invalid_arguments', response_metadata: { messages: [problem] } };
        trigger.used = true;
        const opened: FakeSlackView = {
          id: `V${randomBytes(5).toString('hex').toUpperCase()}`,
          user: trigger.user,
          view: args.view as Record<string, unknown>,
          openedAt: Date.now(),
          closed: false,
        };
        views.push(opened);
        for (const listener of viewListeners) listener(opened);
        return {
          ok: true,
          view: {
            ...opened.view,
            id: opened.id,
            team_id: 'T0SANDBOX',
            state: { values: {} },
            hash: `${Math.floor(opened.openedAt / 1000)}.${randomBytes(4).toString('hex')}`,
            root_view_id: opened.id,
            previous_view_id: null,
            app_id: 'A0OPSBOT1',
            bot_id: 'B0OPSBOT1',
          },
        };
      }
      case 'apps.connections.open':
        return { ok: true, url: socketMode.openConnection() };
      case 'chat.getPermalink':
        return {
          ok: true,
          permalink: `https://sandbox.slack.local/archives/${args.channel}/p${String(args.message_ts).replace('.', '')}`,
        };
      case 'usergroups.users.list':
        return { ok: true, users: options.userGroups?.[String(args.usergroup)] ?? [] };
      case 'conversations.history': {
        const oldest = Number(args.oldest ?? 0);
        const history = messages
          .filter(
            (m) => m.channel === args.channel && !m.thread_ts && !m.ephemeralTo && Number(m.ts) >= oldest,
          )
          .reverse();
        return { ok: true, messages: history, has_more: false };
      }
      case 'conversations.replies': {
        const replies = messages.filter(
          (m) => m.channel === args.channel && (m.ts === args.ts || m.thread_ts === args.ts),
        );
        return { ok: true, messages: replies, has_more: false };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  };

  const handleResponseUrl = (id: string, body: string, res: ServerResponse) => {
    const target = responseTargets.get(id);
    if (!target) return json(res, 404, { ok: false, error: 'expired_url' });
    if (++target.uses > 5) return json(res, 404, { ok: false, error: 'used_url' });
    const payload = JSON.parse(body || '{}') as Record<string, unknown>;
    const message: FakeSlackMessage = {
      ts: nextTs(),
      channel: target.channel,
      user: botUserId,
      text: String(payload.text ?? ''),
      blocks: payload.blocks as unknown[] | undefined,
      ephemeralTo: payload.response_type === 'in_channel' ? undefined : target.user,
    };
    calls.push({ method: 'response_url', args: payload, at: Date.now(), ok: true });
    messages.push(message);
    emit(message);
    return json(res, 200, { ok: true });
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  socketMode = attachSocketMode(server, url, 'A0OPSBOT1');
  return {
    url,
    apiUrl: `${url}/api/`,
    calls,
    messages,
    responseUrl: (user, channel) => {
      const id = `T0SANDBOX/${Date.now()}${++responseSeq}/${randomBytes(12).toString('hex')}`;
      responseTargets.set(id, { user, channel, uses: 0 });
      return `${url}/commands/${id}`;
    },
    triggerId: (user, issuedAt = Date.now()) => {
      const id = `${Math.floor(issuedAt / 1000)}.${++triggerSeq}.${randomBytes(16).toString('hex')}`;
      triggers.set(id, { user, issuedAt, used: false });
      return id;
    },
    views,
    closeView: (id) => {
      const view = views.find((v) => v.id === id);
      if (view) view.closed = true;
    },
    onView: (listener) => {
      viewListeners.add(listener);
      return () => viewListeners.delete(listener);
    },
    fail: (fault) =>
      faults.push({
        ...fault,
        left: fault.times ?? (fault.forMs === undefined ? 1 : Number.POSITIVE_INFINITY),
      }),
    clearFaults: () => {
      faults.length = 0;
    },
    thread: (channel, rootTs) => messages.filter((m) => m.channel === channel && m.thread_ts === rootTs),
    dms: (user) => messages.filter((m) => m.channel === ims.get(user)),
    imChannel: imOf,
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    setRateLimit: (limit) => {
      rateLimit = limit;
    },
    socketMode,
    close: () =>
      new Promise<void>((resolve) => {
        socketMode.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Rejects what Slack rejects: missing channel or content, too many blocks, oversized sections. */
function checkMessage(args: Record<string, unknown>): string | undefined {
  if (typeof args.channel !== 'string' || args.channel === '') return 'channel_not_found';
  const blocks = args.blocks;
  if (!args.text && !blocks) return 'no_text';
  if (blocks !== undefined) {
    if (!Array.isArray(blocks) || blocks.length > 50) return 'invalid_blocks';
    for (const block of blocks as Array<{ type?: unknown; text?: { text?: unknown }; fields?: unknown }>) {
      if (typeof block.type !== 'string') return 'invalid_blocks';
      const text = block.text?.text;
      if (block.type === 'section' && typeof text === 'string' && text.length > 3000) return 'invalid_blocks';
      if (block.type === 'section' && Array.isArray(block.fields) && block.fields.length > 10)
        return 'invalid_blocks';
    }
  }
  return undefined;
}

function parseArgs(contentType: string, body: string): Record<string, unknown> {
  if (contentType.includes('application/json')) return JSON.parse(body || '{}') as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(body)) {
    // The Web API client sends nested values (blocks, metadata, a view) as JSON strings inside the form.
    out[key] = JSON_FIELDS.has(key) && value ? JSON.parse(value) : value;
  }
  return out;
}

const JSON_FIELDS = new Set(['blocks', 'metadata', 'attachments', 'view']);

/** A trigger_id is good for 3 seconds (https://docs.slack.dev/interactivity/handling-user-interaction). */
const TRIGGER_LIFETIME_MS = 3_000;

/**
 * Refuses what Slack refuses in a modal (https://docs.slack.dev/reference/views/modal-views): a
 * title, submit or close label over 24 characters, more than 100 blocks, private_metadata over
 * 3,000 characters, callback_id over 255, input blocks without a label or an element.
 */
function checkModal(view: unknown): string | undefined {
  if (!view || typeof view !== 'object') return 'view is missing';
  const modal = view as {
    type?: unknown;
    title?: { text?: unknown };
    submit?: { text?: unknown };
    close?: { text?: unknown };
    blocks?: unknown;
    private_metadata?: unknown;
    callback_id?: unknown;
  };
  if (modal.type !== 'modal') return 'view.type must be modal';
  for (const key of ['title', 'submit', 'close'] as const) {
    const text = modal[key]?.text;
    if (key === 'title' && typeof text !== 'string') return 'view.title is missing';
    if (text !== undefined && (typeof text !== 'string' || text.length > 24))
      return `view.${key} must be at most 24 characters`;
  }
  if (!Array.isArray(modal.blocks) || modal.blocks.length > 100) return 'view.blocks must be 1 to 100 blocks';
  if (typeof modal.private_metadata === 'string' && modal.private_metadata.length > 3000)
    return 'view.private_metadata must be at most 3000 characters';
  if (typeof modal.callback_id === 'string' && modal.callback_id.length > 255)
    return 'view.callback_id must be at most 255 characters';
  const inputs = (modal.blocks as Array<{ type?: unknown; label?: unknown; element?: unknown }>).filter(
    (block) => block.type === 'input',
  );
  if (inputs.some((block) => !block.label || !block.element))
    return 'an input block needs a label and an element';
  if (inputs.length > 0 && modal.submit === undefined) return 'a view with inputs needs view.submit';
  return undefined;
}

/** chat.update's limit when a rate limit is on: Slack's Tier 3, about 50 a minute, short bursts. */
const UPDATE_LIMIT = { perSecond: 50 / 60, burst: 10 };

function takeToken(
  buckets: Map<string, { tokens: number; at: number }>,
  channel: string,
  limit: { perSecond: number; burst: number },
): number {
  const now = Date.now();
  const bucket = buckets.get(channel) ?? { tokens: limit.burst, at: now };
  bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) * limit.perSecond) / 1000);
  bucket.at = now;
  buckets.set(channel, bucket);
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return 0;
  }
  return Math.ceil(((1 - bucket.tokens) * 1000) / limit.perSecond);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
