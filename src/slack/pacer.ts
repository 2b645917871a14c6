import type { Cluster, Redis } from 'ioredis';

/**
 * Paces writes across every process, with token buckets in Redis: posts at about one message a
 * second per channel with short bursts (Slack's documented limit for chat.postMessage), updates
 * at Slack's Tier 3 rate, and a pause when Slack answers 429 with Retry-After.
 */

/**
 * Lua: takes a token from the bucket at `key` (a hash: tokens, at, blockedUntil) that refills at
 * `rate` per second up to `burst`; answers 0 (go) or the ms to wait. Also used by the delivery
 * step (jobs/deliver-slack.ts), which takes a message's send slot as it hands the message out.
 */
export const PACE_TAKE = `
local function paceTake(key, now, rate, burst)
  local state = redis.call('HMGET', key, 'tokens', 'at', 'blockedUntil')
  local blocked = tonumber(state[3] or '0')
  if now < blocked then return blocked - now end
  local tokens = tonumber(state[1] or burst)
  local at = tonumber(state[2] or now)
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
  local wait = 0
  if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', key, 3600000)
  return wait
end
`;

/**
 * KEYS: bucket hash, and optionally a marker key. ARGV: now ms, rate per second, burst, and the
 * marker's value. Returns 0 (go) or ms to wait; on go, the marker (if any) is set in the same step.
 */
const TAKE = `${PACE_TAKE}
local wait = paceTake(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
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

  /** The bucket a kind of write to `channel` takes its slot from: its key, rate per second and burst. */
  bucket(channel: string, kind: WriteKind): { key: string; rate: number; burst: number } {
    return kind === 'update'
      ? { key: this.key(channel, kind), rate: this.updatesPerMinute / 60, burst: UPDATE_BURST }
      : { key: this.key(channel, kind), rate: this.perSecond, burst: this.burst };
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
    const { key, rate, burst } = this.bucket(channel, kind);
    const args = [String(now), String(rate), String(burst)];
    return mark ? scripts.opsPaceAndMark(key, mark.key, ...args, mark.value) : scripts.opsPace(key, ...args);
  }

  /** Slack said 429: nobody sends this kind of write (to this channel) until Retry-After has passed. */
  async block(channel: string, kind: WriteKind, ms: number, now = Date.now()): Promise<void> {
    await this.redis.hset(this.key(channel, kind), 'blockedUntil', String(now + ms));
  }
}
