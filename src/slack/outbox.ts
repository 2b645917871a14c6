import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { SlackMessage } from './blocks.js';

/**
 * Every message opsbot writes about a request (in its channel, or by DM) goes through a
 * per-request outbox in Redis, delivered in order by the `deliver` job (see
 * jobs/deliver-slack.ts). Each item has a stable key: pushing
 * the same key twice (a retried job, a repeated click) queues it once, so every update reaches
 * Slack once, in order, even across crashes and Slack outages.
 */

export type OutboxItem =
  /** Post the root message if it has no ts yet, else update it to the request's current state. */
  | { key: string; kind: 'root' }
  /** A threaded reply under the root; `broadcast` also shows it in the channel. */
  | { key: string; kind: 'reply'; message: SlackMessage; broadcast?: boolean }
  /** A direct message to `user` (in the app's DM with them), e.g. the requester hearing the end. */
  | { key: string; kind: 'dm'; user: string; message: SlackMessage };

/**
 * Lua: queues `items` (a list of {key, item} pairs), skipping keys seen before; answers how many
 * keys have been seen once the last new item is in, or 0 if none was new. The seen keys are a
 * hash with empty values rather than a set: in Redis 7.0 a small hash is a compact listpack, a
 * set of strings a hashtable. Also used by the request store's scripts, which queue with a write.
 */
export const QUEUE_ITEMS = `
local function queueItems(list, seenKeys, items)
  local seen = 0
  for _, pair in ipairs(items) do
    if redis.call('HSETNX', seenKeys, pair[1], '') == 1 then
      redis.call('RPUSH', list, pair[2])
      seen = redis.call('HLEN', seenKeys)
    end
  end
  return seen
end
`;

/**
 * KEYS: list, seen keys. ARGV: key1, item1, key2, item2… Answers as queueItems: the seen count
 * grows by one with each new item, so it gives each one's delivery job its own id.
 */
const PUSH = `${QUEUE_ITEMS}
local items = {}
for i = 1, #ARGV, 2 do items[#items + 1] = {ARGV[i], ARGV[i + 1]} end
return queueItems(KEYS[1], KEYS[2], items)
`;

/** Items to queue along with a request write (RequestStore.patch), in the outbox's own form. */
export interface OutboxBatch {
  listKey: string;
  seenKey: string;
  /** [key, item] pairs, the item as JSON. */
  items: Array<[key: string, item: string]>;
}

export const DELIVER_JOB = 'deliver';

export interface DeliverJobData {
  requestId: string;
  /** Consecutive Slack faults so far, for the backoff. */
  faults?: number;
}

export class Outbox {
  constructor(
    readonly redis: Redis | Cluster,
    readonly prefix: string,
    private readonly slackQueue: Queue<DeliverJobData>,
  ) {
    redis.defineCommand('opsOutboxPush', { numberOfKeys: 2, lua: PUSH });
  }

  listKey(requestId: string): string {
    return `${this.prefix}:req:${requestId}:outbox`;
  }
  seenKey(requestId: string): string {
    return `${this.prefix}:req:${requestId}:outbox-seen`;
  }

  /**
   * Queues items and a delivery job for them. An item whose key was queued before is skipped.
   */
  async push(requestId: string, ...items: OutboxItem[]): Promise<void> {
    await this.pushAfter(0, requestId, ...items);
  }

  /** As `push`, with the delivery job delayed by `delayMs` (a delivery before it sends them sooner). */
  async pushAfter(delayMs: number, requestId: string, ...items: OutboxItem[]): Promise<void> {
    const seen = await this.record(requestId, items);
    // One job per new item; whichever runs first delivers everything queued so far, in order.
    if (seen > 0) await this.kick(requestId, { suffix: String(seen), delayMs });
  }

  /**
   * Queues items without a delivery job, for a caller that delivers them itself right after and
   * does so again if it is retried after a crash (the run job: see createInlineDelivery).
   */
  async queue(requestId: string, ...items: OutboxItem[]): Promise<void> {
    await this.record(requestId, items);
  }

  /**
   * Items for RequestStore.patch to queue in the same step as its write; as with `queue`, the
   * caller delivers them (or queues a delivery job) afterwards.
   */
  batch(requestId: string, ...items: OutboxItem[]): OutboxBatch {
    return {
      listKey: this.listKey(requestId),
      seenKey: this.seenKey(requestId),
      items: items.map((item) => [item.key, JSON.stringify(item)]),
    };
  }

  /** Whether an item with this key was ever queued in the request's outbox. */
  async seen(requestId: string, key: string): Promise<boolean> {
    return (await this.redis.hexists(this.seenKey(requestId), key)) === 1;
  }

  /** Answers how many keys this outbox has seen if an item was new (a number unique to it), else 0. */
  private async record(requestId: string, items: OutboxItem[]): Promise<number> {
    const batch = this.batch(requestId, ...items);
    return (this.redis as unknown as { opsOutboxPush(...a: string[]): Promise<number> }).opsOutboxPush(
      batch.listKey,
      batch.seenKey,
      ...batch.items.flat(),
    );
  }

  /**
   * Makes sure a delivery job will look at this request's outbox, after `delayMs`. Job ids are
   * unique per call (`suffix`, or the time and a random part), so a finished job never hides a new one.
   */
  async kick(
    requestId: string,
    options: { suffix?: string; delayMs?: number; faults?: number } = {},
  ): Promise<void> {
    const suffix = options.suffix ?? `t${Date.now()}-${randomBytes(4).toString('hex')}`;
    await this.slackQueue.add(
      DELIVER_JOB,
      { requestId, ...(options.faults ? { faults: options.faults } : {}) },
      { jobId: `deliver-${requestId}-${suffix}`, ...(options.delayMs ? { delay: options.delayMs } : {}) },
    );
  }

  /** A root update keyed by the request version, so each state is rendered once. */
  static root(version: number): OutboxItem {
    return { key: `root@${version}`, kind: 'root' };
  }
}
