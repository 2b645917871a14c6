import type { Cluster, Redis } from 'ioredis';

/**
 * Paces writes across every process, with token buckets in Redis: posts at about one message a
 * second per channel with short bursts (Slack's documented limit for chat.postMessage), updates
 * at Slack's Tier 3 rate, and a pause when Slack answers 429 with Retry-After.
 */

/**
 * KEYS: bucket hash, and optionally a marker key. ARGV: now ms, rate per second, burst, and the
 * marker's value. Returns 0 (go) or ms to wait; on go, the marker (if any) is set in the same step.
 */
const TAKE = `
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'blockedUntil')
local blocked = tonumber(state[3] or '0')
if now < blocked then return blocked - now end
local tokens = tonumber(state[1] or ARGV[3])
local at = tonumber(state[2] or ARGV[1])
tokens = math.min(burst, tokens + (now - at) * rate / 1000)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', ARGV[1])
redis.call('PEXPIRE', KEYS[1], 3600000)
if wait == 0 and KEYS[2] then redis.call('SET', KEYS[2], ARGV[4], 'PX', 86400000) end
return wait
`;

/** chat.postMessage is limited per channel; chat.update is not, it is a Tier 3 method. */
export type WriteKind = 'post' | 'update';

/**
 * Bursts of chat.update allowed on top of its rate (`slack.updatesPerMinute`; Slack's Tier 3 is
 * about 50 a minute per workspace). A root message's update is paced by this alone, so it does
 * not take a channel's post slots.
 */
const UPDATE_BURST = 10;

export class ChannelPacer {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly updatesPerMinute = 50,
  ) {
    redis.defineCommand('opsPace', { numberOfKeys: 1, lua: TAKE });
    redis.defineCommand('opsPaceAndMark', { numberOfKeys: 2, lua: TAKE });
  }

  /** Posts are paced per channel; updates share one workspace-wide bucket. */
  private key(channel: string, kind: WriteKind): string {
    return kind === 'update' ? `${this.prefix}:pace:updates` : `${this.prefix}:pace:${channel}`;
  }

  /**
   * Takes a send slot for a post to `channel`, or for an update: 0 means send now, otherwise wait
   * that many ms and ask again. With `mark`, a granted slot also sets that key (for a day) in the
   * same step: the outbox records which message is in flight only when it is really about to be sent.
   */
  async take(
    channel: string,
    kind: WriteKind,
    mark?: { key: string; value: string },
    now = Date.now(),
  ): Promise<number> {
    const scripts = this.redis as unknown as {
      opsPace(...a: string[]): Promise<number>;
      opsPaceAndMark(...a: string[]): Promise<number>;
    };
    const [rate, burst] =
      kind === 'update' ? [this.updatesPerMinute / 60, UPDATE_BURST] : [this.perSecond, this.burst];
    const args = [String(now), String(rate), String(burst)];
    return mark
      ? scripts.opsPaceAndMark(this.key(channel, kind), mark.key, ...args, mark.value)
      : scripts.opsPace(this.key(channel, kind), ...args);
  }

  /** Slack said 429: nobody sends this kind of write (to this channel) until Retry-After has passed. */
  async block(channel: string, kind: WriteKind, ms: number, now = Date.now()): Promise<void> {
    await this.redis.hset(this.key(channel, kind), 'blockedUntil', String(now + ms));
  }
}
