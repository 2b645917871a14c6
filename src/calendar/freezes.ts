import type { Cluster, Redis } from 'ioredis';
import type { DeclaredFreezeConfig } from './schema.js';
import { covers, type Place, parseScope, type Scope } from './scope.js';
import { parseCron, parseInstant, plusWallClock } from './time.js';

/**
 * Change freezes: windows in which requests in their scope are refused (or, with a break-glass
 * override, need one more approval). Two kinds, one model:
 * - declared in the config (`policy.freezes.windows`): a fixed window, or a recurring one (a cron
 *   expression and a duration on the wall clock of its zone); computed, never stored;
 * - set from Slack (`/ops freeze`): stored in Redis, one key each that expires when it ends, and
 *   an index of them by end, so nothing outlives its window and nothing is held in memory.
 */

/** One freeze, as it stands at a given moment: its current (or next) window. */
export interface Freeze {
  name: string;
  scopes: Scope[];
  reason: string;
  start: number;
  end: number;
  /** A scheduled action that falls in it runs when it ends, rather than being refused. */
  hold: boolean;
  /** The role whose approval a break-glass override adds; none means it cannot be overridden. */
  overrideBy: string | undefined;
  /** Who set it from Slack; undefined for a freeze declared in the config. */
  setBy?: string | undefined;
}

/** A freeze declared in the config, with its window at any moment. */
export interface DeclaredFreeze {
  name: string;
  /** The window in effect at `at`, if any. */
  at(at: number): Freeze | undefined;
  /** The next window that starts after `at`, if any (for `/ops freezes`). */
  nextAfter(at: number): Freeze | undefined;
}

/** Builds the config's freezes; the config was checked already (see problems.ts). */
export function declaredFreezes(
  windows: readonly DeclaredFreezeConfig[],
  defaults: { timeZone: string; overrideBy: string | undefined },
  targetsOf: (vendor: string) => readonly string[],
): DeclaredFreeze[] {
  return windows.map((config) => {
    const zone = config.timeZone ?? defaults.timeZone;
    const scopes = config.scope.map((text) => {
      const scope = parseScope(text, targetsOf);
      if (typeof scope === 'string') throw new Error(scope);
      return scope;
    });
    const window = (start: number, end: number): Freeze => ({
      name: config.name,
      scopes,
      reason: config.reason,
      start,
      end,
      hold: config.hold,
      overrideBy: config.overrideBy ?? defaults.overrideBy,
    });
    if (config.every !== undefined && config.for !== undefined) {
      const cron = parseCron(config.every, zone);
      const length = config.for;
      return {
        name: config.name,
        at: (at) => {
          const start = cron.latestAtOrBefore(at);
          if (start === undefined) return undefined;
          const end = plusWallClock(start, length, zone);
          return at < end ? window(start, end) : undefined;
        },
        nextAfter: (at) => {
          const start = cron.nextAfter(at);
          return start === undefined ? undefined : window(start, plusWallClock(start, length, zone));
        },
      };
    }
    const start = parseInstant(config.from!, zone, 0);
    const end = parseInstant(config.until!, zone, 0);
    return {
      name: config.name,
      at: (at) => (at >= start && at < end ? window(start, end) : undefined),
      nextAfter: (at) => (start > at ? window(start, end) : undefined),
    };
  });
}

/** Freezes set from Slack, in Redis. */
export class FreezeStore {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
  ) {}

  private key(name: string): string {
    return `${this.prefix}:freeze:${name}`;
  }
  /** Freezes set from Slack, scored by their end. */
  indexKey(): string {
    return `${this.prefix}:freezes`;
  }

  /**
   * Records a freeze unless one of that name is in effect; answers whether it did. The freeze and
   * its index entry are written in one step (a crash between them would leave a freeze in force
   * that no check sees), and ended entries are taken out of the index here, not on every read.
   */
  async add(freeze: Freeze & { setBy: string }, now: number): Promise<boolean> {
    const added = await this.redis.eval(
      ADD_FREEZE,
      2,
      this.key(freeze.name),
      this.indexKey(),
      JSON.stringify(freeze),
      String(Math.max(1, freeze.end - now)),
      String(freeze.end),
      freeze.name,
      String(now),
    );
    return added === 1;
  }

  /** Removes a freeze; answers it as it was, or undefined if there was none (any more). */
  async remove(name: string): Promise<Freeze | undefined> {
    const [[, raw] = [], [, deleted] = []] =
      (await this.redis.multi().get(this.key(name)).del(this.key(name)).zrem(this.indexKey(), name).exec()) ??
      [];
    return deleted ? this.decode(raw as string | null) : undefined;
  }

  /** Every freeze set from Slack that has not ended by `now`. */
  async current(now: number): Promise<Freeze[]> {
    // Ended ones may still be in the index (add takes them out); their keys expired by themselves.
    const names = await this.redis.zrangebyscore(this.indexKey(), `(${now}`, '+inf');
    if (names.length === 0) return [];
    const raws = await this.redis.mget(...names.map((name) => this.key(name)));
    return raws.flatMap((raw) => this.decode(raw) ?? []);
  }

  private decode(raw: string | null | undefined): Freeze | undefined {
    return raw ? (JSON.parse(raw) as Freeze) : undefined;
  }
}

/**
 * KEYS: the freeze, the index. ARGV: the freeze (JSON), its time to live (ms), its end, its name,
 * now. Sets it unless one of that name is in effect, and indexes it; drops ended index entries.
 */
const ADD_FREEZE = `
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
return 1
`;

/** The freezes of `all` in effect at `at` that cover a request acting at `place`. */
export function covering(all: readonly Freeze[], place: Place, at: number): Freeze[] {
  return all.filter(
    (freeze) => freeze.start <= at && at < freeze.end && freeze.scopes.some((scope) => covers(scope, place)),
  );
}
