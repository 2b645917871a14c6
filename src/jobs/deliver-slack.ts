import { randomUUID } from 'node:crypto';
import { ErrorCode, type WebAPICallError, type WebClient } from '@slack/web-api';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { RequestStore } from '../requests/store.js';
import type { OpsRequest } from '../requests/types.js';
import { rootMessage } from '../slack/blocks.js';
import type { DeliverJobData, Outbox, OutboxItem } from '../slack/outbox.js';
import { type ChannelPacer, PACE_TAKE, type WriteKind } from '../slack/pacer.js';
import { notifyRequester } from '../slack/respond.js';
import { SlackWriteError, type SlackWriter, TRANSIENT_SLACK_ERRORS } from '../slack/writer.js';
import { SLEEPING } from './queues.js';

/**
 * Drains one request's outbox in order. Only one delivery runs per request at a time (a short
 * lease in Redis); the others wait their turn without holding a worker slot. Rate limits, 429s
 * and Slack outages delay the delivery, never drop it; only errors Slack calls final (the bot is
 * not in the channel, say) drop an item, and those are logged and told to the requester.
 */

export interface DeliverDeps {
  store: RequestStore;
  outbox: Outbox;
  pacer: ChannelPacer;
  /** Reads (looking for an earlier delivery's message). */
  slack: WebClient;
  /** chat.postMessage and chat.update; it scrubs secrets from every body it sends. */
  writer: SlackWriter;
  command: string;
  log: Logger;
  metrics: Metrics;
}

/**
 * How long one delivery owns a request's outbox without renewing it (it renews after each
 * message). Longer than a Slack call may take (the client times out at 10 s); short enough that a
 * crashed worker's outbox is taken over quickly.
 */
const LEASE_MS = 12_000;
/** How soon a delivery that found the outbox held looks again. */
const BUSY_RETRY_MS = 250;
const MAX_BACKOFF_MS = 30_000;

/** How a drain of one outbox ended. */
export type DrainResult =
  | { kind: 'drained' }
  /** Another delivery holds this outbox; it delivers what is queued (its emptiness check is atomic). */
  | { kind: 'busy' }
  /** Slack asked to wait (pacing, 429, an outage): try again after `waitMs`. */
  | { kind: 'later'; waitMs: number; faults: number };

/** Thrown inside a drain to leave it with "try again later", the lease already released. */
class TryLater {
  constructor(
    readonly waitMs: number,
    readonly faults: number,
  ) {}
}

/** Delivers everything queued in a request's outbox, in order, unless another delivery holds it. */
export function createOutboxDrain(deps: DeliverDeps) {
  const redis = defineDeliveryScripts(deps.store.redis);

  /**
   * `channel`, when the caller knows it, lets the first step take the first message's send slot
   * too; otherwise it is learned from the request record the first step answers.
   */
  return async (requestId: string, faults = 0, channel?: string): Promise<DrainResult> => {
    const listKey = deps.outbox.listKey(requestId);
    const leaseKey = `${listKey}:lease`;
    const inflightKey = `${listKey}:inflight`;
    const holder = randomUUID();
    /** One round trip: finish the item just handled (if any), look at the next one and take its slot. */
    const step = async (done?: { key: string; rootTs?: string | undefined }): Promise<Step> => {
      const keys = [
        listKey,
        leaseKey,
        inflightKey,
        deps.store.key(requestId),
        deps.store.longKey(requestId),
        deps.outbox.seenKey(requestId),
        deps.store.votesKey(requestId),
      ];
      const args = [holder, String(LEASE_MS), done?.key ?? '', done?.rootTs ?? ''];
      if (channel) {
        const post = deps.pacer.bucket(channel, 'post');
        const update = deps.pacer.bucket(channel, 'update');
        keys.push(post.key, update.key);
        args.push(
          String(Date.now()),
          String(post.rate),
          String(post.burst),
          String(update.rate),
          String(update.burst),
        );
      }
      const next = parseStep(await redis.opsDeliverStep(keys.length, ...keys, ...args), deps.store);
      if (next.kind === 'item' && next.request) channel = next.request.channel;
      return next;
    };
    const delay = async (ms: number, faultsNow: number): Promise<never> => {
      await redis.opsDeliverRelease(leaseKey, holder);
      throw new TryLater(Math.max(50, ms), faultsNow);
    };
    /**
     * Waits for Slack to recover (a 429 pauses that kind of write: the channel's posts, or updates);
     * returns only if the failure is permanent. `paced`: the channel written to (a DM's user).
     */
    const retryLater = async (
      request: Delivered,
      failure: Failure,
      kind: WriteKind,
      paced = request.channel,
    ): Promise<void> => {
      if (failure.kind === 'rate-limited') {
        deps.metrics.slack429.inc();
        await deps.pacer.block(paced, kind, failure.waitMs);
        await delay(failure.waitMs, faults);
      }
      if (failure.kind === 'transient') {
        deps.log.warn(
          { requestId, correlationId: request.correlationId, err: failure.reason, faults },
          'Slack delivery failed; will retry',
        );
        await delay(backoff(faults), faults + 1);
      }
    };

    try {
      let next = await step();
      if (next.kind === 'busy') return { kind: 'busy' };
      while (next.kind === 'item') {
        const { item, request, todo, posts } = next;
        if (todo === 'skip' || !request) {
          // No request any more; or a root update a later one replaces (they render the current
          // state); or a reply whose root Slack refused for good (no thread to reply in).
          next = await step({ key: item.key });
          continue;
        }

        if (todo === 'check' && item.kind === 'dm') {
          // Looking in a DM would need the im:history scope: a DM whose send may have happened
          // is not sent again (it repeats what the thread says; twice would be worse than none).
          deps.log.warn({ requestId, update: item.key }, 'a DM may have been sent already; not sent again');
          next = await step({ key: item.key });
          continue;
        }
        if (todo === 'check') {
          // An earlier attempt may have posted this message (it died, or Slack's answer was lost):
          // look in Slack first.
          let postedTs: string | undefined;
          try {
            postedTs = await findPosted(deps, request, item);
          } catch (error) {
            // Slack could not be asked right now (429, 5xx, network): ask again later, as sending
            // now could post the message twice. Only a lasting refusal (no history scope) falls
            // back to sending again: at least once rather than lost.
            const failure = classify(error);
            await retryLater(request, failure, 'post');
            deps.log.warn(
              { requestId, update: item.key, slackError: failure.reason },
              'cannot check Slack for an earlier delivery; sending again',
            );
          }
          if (postedTs) {
            next = await step({ key: item.key, rootTs: item.kind === 'root' ? postedTs : undefined });
            continue;
          }
        }
        // The send slot and the in-flight marker are taken together (here, or by the step that
        // answered the item): a marker is only ever set for a message that is about to be sent.
        // A DM is paced as a post to its own conversation (the step leaves its slot to this).
        const paced = item.kind === 'dm' ? item.user : request.channel;
        const wait =
          typeof todo === 'number'
            ? todo
            : await deps.pacer.take(
                paced,
                posts ? 'post' : 'update',
                posts ? { key: inflightKey, value: item.key } : undefined,
              );
        if (wait > 0) await delay(wait, faults);

        let rootTs: string | undefined;
        try {
          rootTs = await send(deps, request, item);
          deps.metrics.slackCalls.inc({ method: posts ? 'chat.postMessage' : 'chat.update' });
        } catch (error) {
          const failure = classify(error);
          await retryLater(request, failure, posts ? 'post' : 'update', paced);
          await dropUndeliverable(deps, request, item, failure.reason);
        }
        next = await step({ key: item.key, rootTs });
      }
      return { kind: 'drained' };
    } catch (error) {
      if (error instanceof TryLater) return { kind: 'later', waitMs: error.waitMs, faults: error.faults };
      throw error;
    }
  };
}

/**
 * The `deliver` job: drains a request's outbox. When it must wait (another delivery holds the
 * outbox, or Slack asked to wait) it sleeps in Redis, holding no worker slot.
 */
export function createDeliverProcessor(deps: DeliverDeps) {
  const drain = createOutboxDrain(deps);
  return async (job: Job<DeliverJobData>, token?: string): Promise<void> => {
    const result = await drain(job.data.requestId, job.data.faults ?? 0);
    if (result.kind === 'drained') return;
    if (result.kind === 'busy') {
      // Look again shortly: the holder may finish before it sees what this job was queued for.
      await job.moveToDelayed(Date.now() + BUSY_RETRY_MS + Math.floor(Math.random() * BUSY_RETRY_MS), token);
      throw SLEEPING;
    }
    await job.updateData({ ...job.data, faults: result.faults });
    await job.moveToDelayed(Date.now() + result.waitMs, token);
    throw SLEEPING;
  };
}

/** Delivers a request's queued messages now (createInlineDelivery); `channel` saves a round trip. */
export type DeliverNow = (requestId: string, channel?: string) => Promise<void>;

/**
 * Delivery where the messages were queued, without a job per message: the run job drains its
 * request's outbox before each sleep and at the end of each step. What must wait (pacing, 429s,
 * Slack outages, an outbox another delivery holds) is left to a `deliver` job; if even that cannot
 * be queued, this throws, so the run job's step is retried and drains again.
 */
export function createInlineDelivery(deps: DeliverDeps): DeliverNow {
  const drain = createOutboxDrain(deps);
  return async (requestId: string, channel?: string): Promise<void> => {
    let result: DrainResult;
    try {
      result = await drain(requestId, 0, channel);
    } catch (error) {
      deps.log.warn(
        { err: (error as Error).message, requestId },
        'inline Slack delivery failed; queued for a worker',
      );
      result = { kind: 'later', waitMs: 0, faults: 0 };
    }
    // Busy: another delivery holds the outbox and would deliver these too, but it may be a dead
    // worker's (its lease lapses in LEASE_MS): a delivery job makes sure, looking again shortly.
    if (result.kind === 'busy') await deps.outbox.kick(requestId, { delayMs: BUSY_RETRY_MS });
    if (result.kind === 'later')
      await deps.outbox.kick(requestId, { delayMs: result.waitMs, faults: result.faults });
  };
}

/** What sending a reply needs of its request: a delivery step reads no more for one. */
const REPLY_FIELDS = ['id', 'channel', 'rootTs', 'createdAt', 'correlationId'] as const;

/**
 * The request as a delivery step answers it: the whole record with a root (rendered from it), the
 * REPLY_FIELDS with a reply.
 */
type Delivered = Pick<OpsRequest, (typeof REPLY_FIELDS)[number]> & Partial<OpsRequest>;

/**
 * One delivery step, atomically: if this delivery no longer holds the outbox's lease and another
 * does, `busy`. Otherwise finish the item just handled (pop it if it is still the head, clear the
 * in-flight marker, record the root message's ts), then either release the lease when the outbox
 * is empty (atomic with the check, so an item pushed meanwhile is never stranded; and once the
 * request has finished, its seen item keys are set to expire with its record) or renew it and
 * answer the next item, the request record (for a root, which is rendered from it, its hash and
 * its long fields; for a reply or a DM, only the REPLY_FIELDS), whether sending the item
 * posts a message (1: a reply, a DM, or a root not posted yet) or updates the root (0), and what
 * to do with it:
 * - `skip`: there is nothing to send it for (no request; a root update a later one replaces; a
 *   reply without a root message to thread under);
 * - `check`: it is a post an earlier attempt may have made (it is marked in flight): look in
 *   Slack before sending it again (a DM is not sent again: see the drain);
 * - `take`: send it once a send slot is taken (no pace buckets were given, or it is a DM, paced by
 *   its own conversation);
 * - a number: the send slot was taken here, from the bucket of its kind of write (posts are
 *   marked in flight with it): 0 means send now, otherwise wait that many ms.
 * KEYS: outbox list, lease, in-flight marker, request record, its long fields, seen item keys, its
 * votes (a root shows the approvals so far), and optionally the post and update pace buckets.
 * ARGV: holder, lease ms, key of the item handled ('' for none), root ts to record ('' for none),
 * and with the buckets: now, post rate and burst, update rate and burst.
 */
const STEP = `${PACE_TAKE}
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then return {'busy'} end
if ARGV[3] ~= '' then
  local head = redis.call('LINDEX', KEYS[1], 0)
  if head and cjson.decode(head).key == ARGV[3] then redis.call('LPOP', KEYS[1]) end
  redis.call('DEL', KEYS[3])
end
if ARGV[4] ~= '' and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HSET', KEYS[4], 'rootTs', ARGV[4])
end
local head = redis.call('LINDEX', KEYS[1], 0)
if not head then
  if owner then redis.call('DEL', KEYS[2]) end
  local ttl = redis.call('PTTL', KEYS[4])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[6], ttl) end
  return {'empty'}
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
local item = cjson.decode(head)
local laterRoot = 0
if item.kind == 'root' then
  for _, raw in ipairs(redis.call('LRANGE', KEYS[1], 1, -1)) do
    if cjson.decode(raw).kind == 'root' then laterRoot = 1 break end
  end
end
local record, long, votes = {}, {}, {}
if item.kind == 'root' then
  record = redis.call('HGETALL', KEYS[4])
  long = redis.call('LRANGE', KEYS[5], 0, -1)
  votes = redis.call('HGETALL', KEYS[7])
else
  local names = {${REPLY_FIELDS.map((name) => `'${name}'`).join(', ')}}
  local values = redis.call('HMGET', KEYS[4], unpack(names))
  for j, name in ipairs(names) do
    if values[j] then
      record[#record + 1] = name
      record[#record + 1] = values[j]
    end
  end
end
local rootTs = redis.call('HGET', KEYS[4], 'rootTs')
local posts = item.kind ~= 'root' or not rootTs
local todo = 'take'
if #record == 0 or (item.kind == 'root' and rootTs and laterRoot == 1) or (item.kind == 'reply' and not rootTs) then
  todo = 'skip'
elseif posts and redis.call('GET', KEYS[3]) == item.key then
  todo = 'check'
elseif KEYS[9] and item.kind ~= 'dm' then
  local now = tonumber(ARGV[5])
  local wait = posts and paceTake(KEYS[8], now, tonumber(ARGV[6]), tonumber(ARGV[7]))
    or paceTake(KEYS[9], now, tonumber(ARGV[8]), tonumber(ARGV[9]))
  if wait == 0 and posts then redis.call('SET', KEYS[3], item.key, 'PX', 86400000) end
  todo = wait
end
return {'item', head, todo, record, long, posts and 1 or 0, votes}
`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** A worker builds two drains (the deliver jobs' and the inline one) on one connection. */
function defineDeliveryScripts(redis: RequestStore['redis']): DeliveryScripts {
  if (!('opsDeliverStep' in redis)) {
    // Six keys, and the two pace buckets once the channel is known: the caller says how many.
    redis.defineCommand('opsDeliverStep', { lua: STEP });
    redis.defineCommand('opsDeliverRelease', { numberOfKeys: 1, lua: RELEASE });
  }
  return redis as unknown as DeliveryScripts;
}

interface DeliveryScripts {
  opsDeliverStep(
    keyCount: number,
    ...args: string[]
  ): Promise<[string, string?, (string | number)?, string[]?, string[]?, number?, string[]?]>;
  opsDeliverRelease(lease: string, holder: string): Promise<number>;
}

/** What to do with an item (see STEP): skip it, look in Slack first, take a slot, or wait this long. */
type Todo = 'skip' | 'check' | 'take' | number;

type Step =
  | { kind: 'busy' | 'empty' }
  | {
      kind: 'item';
      item: OutboxItem;
      todo: Todo;
      request: Delivered | undefined;
      /** Whether sending it posts a new message (a reply, or the first root) or updates the root. */
      posts: boolean;
    };

function parseStep(
  answer: Awaited<ReturnType<DeliveryScripts['opsDeliverStep']>>,
  store: RequestStore,
): Step {
  const [kind, head, todo, record, long, posts, votes] = answer;
  if (kind !== 'item') return { kind: kind as 'busy' | 'empty' };
  return {
    kind: 'item',
    item: JSON.parse(head!) as OutboxItem,
    todo: todo as Todo,
    request: store.fromFields(record ?? [], long ?? [], votes ?? []),
    posts: posts === 1,
  };
}

/**
 * Finds a message a previous delivery may have posted, by the metadata every opsbot message
 * carries (request id and update key). Throws when Slack cannot be asked; the caller waits out
 * passing faults and sends again only when the lookup is refused for good (without the
 * `channels:history` / `groups:history` scopes: at least once rather than lost).
 */
async function findPosted(
  deps: DeliverDeps,
  request: Delivered,
  item: OutboxItem,
): Promise<string | undefined> {
  const mine = (message: { metadata?: { event_payload?: Record<string, unknown> } }) =>
    message.metadata?.event_payload?.request_id === request.id &&
    message.metadata.event_payload.update === item.key;
  const answer = request.rootTs
    ? await deps.slack.conversations.replies({
        channel: request.channel,
        ts: request.rootTs,
        include_all_metadata: true,
        limit: 200,
      })
    : await deps.slack.conversations.history({
        channel: request.channel,
        oldest: String(Math.floor(request.createdAt / 1000) - 60),
        include_all_metadata: true,
        limit: 200,
      });
  const found = (answer.messages ?? []).find((message) => mine(message as Parameters<typeof mine>[0]));
  return found?.ts;
}

/** Sends one item; answers the ts of a newly posted root message (recorded by the next step). */
async function send(deps: DeliverDeps, request: Delivered, item: OutboxItem): Promise<string | undefined> {
  const metadata = {
    event_type: 'opsbot_update',
    event_payload: { request_id: request.id, update: item.key },
  };
  if (item.kind === 'root') {
    // A root item's step answers the whole record (see Delivered).
    const message = rootMessage(request as OpsRequest, deps.command);
    if (request.rootTs) {
      await deps.writer.call('chat.update', { channel: request.channel, ts: request.rootTs, ...message });
      return undefined;
    }
    const posted = await deps.writer.call<{ ts: string }>('chat.postMessage', {
      channel: request.channel,
      ...message,
      metadata,
    });
    return posted.ts;
  }
  if (item.kind === 'dm') {
    // A user id as the channel posts in the app's DM with that person (its App Home's Messages
    // tab, which the manifest enables): chat:write is enough, no conversations.open or im:write.
    // No metadata: a DM is never looked for again (see the drain), nor taken for a root.
    await deps.writer.call('chat.postMessage', {
      channel: item.user,
      text: item.message.text,
      blocks: item.message.blocks ?? [],
    });
    return undefined;
  }
  await deps.writer.call('chat.postMessage', {
    channel: request.channel,
    thread_ts: request.rootTs!,
    text: item.message.text,
    blocks: item.message.blocks ?? [],
    ...(item.broadcast ? { reply_broadcast: true } : {}),
    metadata,
  });
  return undefined;
}

type Failure =
  | { kind: 'rate-limited'; waitMs: number; reason: string }
  | { kind: 'transient' | 'permanent'; reason: string };

function classify(error: unknown): Failure {
  if (error instanceof SlackWriteError) {
    return error.kind === 'rate-limited'
      ? { kind: 'rate-limited', waitMs: error.retryAfterMs, reason: error.reason }
      : { kind: error.kind, reason: error.reason };
  }
  const err = error as WebAPICallError & {
    retryAfter?: number;
    statusCode?: number;
    data?: { error?: string };
  };
  switch (err.code) {
    case ErrorCode.RateLimitedError:
      return { kind: 'rate-limited', waitMs: (err.retryAfter ?? 1) * 1000, reason: 'ratelimited' };
    case ErrorCode.RequestError:
      return { kind: 'transient', reason: 'network error' };
    case ErrorCode.HTTPError:
      return { kind: 'transient', reason: `HTTP ${err.statusCode ?? '?'}` };
    case ErrorCode.PlatformError: {
      const reason = err.data?.error ?? 'unknown_error';
      return { kind: TRANSIENT_SLACK_ERRORS.has(reason) ? 'transient' : 'permanent', reason };
    }
    default:
      return { kind: 'transient', reason: (error as Error).message ?? 'unknown error' };
  }
}

async function dropUndeliverable(deps: DeliverDeps, request: Delivered, item: OutboxItem, reason: string) {
  deps.log.error(
    { requestId: request.id, update: item.key, slackError: reason },
    'Slack refused a message for good; dropped',
  );
  await deps.store.addEvent(request.id, {
    kind: 'slack-error',
    text: `Slack refused ${item.key}: ${reason}`,
  });
  if (item.kind === 'root' && !request.rootTs) {
    const outcome = `Slack refused the approval message (${reason})${reason === 'not_in_channel' || reason === 'channel_not_found' ? ': invite the bot to this channel with /invite' : ''}`;
    await deps.store.transition(
      request.id,
      ['pending'],
      'failed',
      { kind: 'failed', text: outcome },
      { outcome, finishedAt: Date.now() },
    );
    await notifyRequester(
      request,
      `:warning: ${outcome}. Request \`${request.id}\` was not created.`,
      deps.log,
    );
  }
}

function backoff(faults: number): number {
  const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** faults);
  return base / 2 + Math.random() * (base / 2);
}
