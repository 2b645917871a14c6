/**
 * Load generation. `openLoop` sends at fixed, pre-computed times whatever happens to earlier
 * requests, and measures each latency from the time the request was *scheduled*, so a stalled
 * server shows up as latency instead of silently lowering the rate (no coordinated omission).
 * `closedLoop` just gets setup work done with bounded concurrency.
 */

export interface OpenLoopOptions {
  /** Requests per second. */
  rate: number;
  durationMs: number;
  /** Sends request number `i`; resolves with its HTTP status. */
  send(i: number): Promise<number>;
}

export interface OpenLoopResult {
  sent: number;
  /** Milliseconds from the scheduled send time to the end of the answer, one per request that answered. */
  latenciesMs: number[];
  /** Count per HTTP status, plus `network` for requests that got no answer. */
  statuses: Record<string, number>;
  /** Answers that were not 2xx, and requests that failed. */
  errors: number;
  /** Wall-clock time (epoch ms) of the first scheduled send. */
  startedAt: number;
  /** Wall-clock time (epoch ms) of the last scheduled send. */
  lastScheduledAt: number;
}

export async function openLoop({ rate, durationMs, send }: OpenLoopOptions): Promise<OpenLoopResult> {
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const intervalMs = 1000 / rate;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const origin = performance.now() + 20;
  const startedAt = Date.now() + 20;
  let next = 0;
  let settled = 0;

  await new Promise<void>((resolve) => {
    const fire = (i: number) => {
      const scheduled = origin + i * intervalMs;
      send(i)
        .then(
          (status) => {
            latencies.push(performance.now() - scheduled);
            statuses[status] = (statuses[status] ?? 0) + 1;
            if (status < 200 || status >= 300) errors += 1;
          },
          () => {
            statuses.network = (statuses.network ?? 0) + 1;
            errors += 1;
          },
        )
        .finally(() => {
          settled += 1;
          if (settled === total) resolve();
        });
    };
    const tick = () => {
      const now = performance.now();
      while (next < total && origin + next * intervalMs <= now) fire(next++);
      if (next < total) setTimeout(tick, Math.max(0, origin + next * intervalMs - performance.now()));
    };
    setTimeout(tick, 20);
  });
  return {
    sent: total,
    latenciesMs: latencies,
    statuses,
    errors,
    startedAt,
    lastScheduledAt: startedAt + (total - 1) * intervalMs,
  };
}

/** Runs `work(i)` for i in [0, count) with at most `concurrency` at once. */
export async function closedLoop(
  count: number,
  concurrency: number,
  work: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

/** Polls `check` every `everyMs` until it holds; throws naming `what` after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
  everyMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
