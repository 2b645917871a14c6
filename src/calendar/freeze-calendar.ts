import type { Cluster, Redis } from 'ioredis';
import { covering, type DeclaredFreeze, declaredFreezes, type Freeze, FreezeStore } from './freezes.js';
import type { DeclaredFreezeConfig } from './schema.js';
import type { Place } from './scope.js';

/**
 * Every change freeze, declared or set from Slack, asked one way: which are in effect at a moment
 * for a request acting somewhere, and when a scheduled action held by freezes may run.
 */

/** When a request may run, given the freezes: at a time (perhaps later, held), or refused by one. */
export type Runnable = { ok: true; at: number; heldBy: Freeze[] } | { ok: false; freeze: Freeze };

/** Freezes back to back are followed this many windows at most (a hold cannot chain forever). */
const MAX_HELD_WINDOWS = 50;

export class FreezeCalendar {
  readonly store: FreezeStore;
  readonly #declared: DeclaredFreeze[];

  constructor(options: {
    redis: Redis | Cluster;
    prefix: string;
    windows: readonly DeclaredFreezeConfig[];
    timeZone: string;
    overrideBy: string | undefined;
    targetsOf: (vendor: string) => readonly string[];
  }) {
    this.store = new FreezeStore(options.redis, options.prefix);
    this.#declared = declaredFreezes(options.windows, options, options.targetsOf);
  }

  isDeclared(name: string): boolean {
    return this.#declared.some((freeze) => freeze.name === name);
  }

  /** How many declared freezes are in effect at `at` (no Redis read). */
  declaredInEffect(at: number): number {
    return this.#declared.filter((freeze) => freeze.at(at) !== undefined).length;
  }

  /** Every freeze in effect at `at` (set from Slack ones as they stand `now`). */
  async inEffect(at: number, now = Date.now()): Promise<Freeze[]> {
    return this.#inEffectWith(at, await this.store.current(now));
  }

  /** As inEffect, with the freezes set from Slack already read (`set`). */
  #inEffectWith(at: number, set: readonly Freeze[]): Freeze[] {
    const declared = this.#declared.flatMap((freeze) => freeze.at(at) ?? []);
    return [...declared, ...set.filter((freeze) => freeze.start <= at && at < freeze.end)];
  }

  /** The freezes in effect at `at` that cover a request acting at `place`. */
  async covering(place: Place, at: number, now = Date.now()): Promise<Freeze[]> {
    return covering(await this.inEffect(at, now), place, at);
  }

  /** Freezes in effect now, and the next window of each declared one that is not (for `/ops freezes`). */
  async overview(now: number): Promise<{ active: Freeze[]; upcoming: Freeze[] }> {
    const active = await this.inEffect(now, now);
    const upcoming = this.#declared
      .filter((freeze) => !active.some((a) => a.name === freeze.name))
      .flatMap((freeze) => freeze.nextAfter(now) ?? [])
      .sort((a, b) => a.start - b.start);
    return { active, upcoming };
  }

  /**
   * When a request at `place` due at `at` may run: then, if no freeze covers it (other than those it
   * overrides); once they end, if every one that covers it holds; otherwise refused by the first
   * that does not hold.
   */
  async runnableAt(
    place: Place,
    at: number,
    overrides: readonly string[],
    now = Date.now(),
  ): Promise<Runnable> {
    const heldBy: Freeze[] = [];
    // Read once: the windows followed below are all judged on the freezes as they stand now.
    const set = await this.store.current(now);
    let when = at;
    for (let window = 0; window < MAX_HELD_WINDOWS; window += 1) {
      const blocking = covering(this.#inEffectWith(when, set), place, when).filter(
        (freeze) => !overrides.includes(freeze.name),
      );
      if (blocking.length === 0) return { ok: true, at: when, heldBy };
      const refusing = blocking.find((freeze) => !freeze.hold);
      if (refusing) return { ok: false, freeze: refusing };
      heldBy.push(...blocking);
      when = Math.max(...blocking.map((freeze) => freeze.end));
    }
    return { ok: false, freeze: heldBy.at(-1)! };
  }
}
