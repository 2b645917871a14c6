import { describe, expect, it } from 'vitest';
import { backoff } from '../../../src/jobs/run/step.js';

/**
 * The wait before a transient fault's next try, from the request's retry settings: initialDelay·2ⁿ
 * after n earlier faults, capped at maxDelay, jittered to half to all of it.
 */

const RETRY = { attempts: 6, initialDelayMs: 200, maxDelayMs: 1_500 };

function range(faults: number): { low: number; high: number } {
  const waits = Array.from({ length: 500 }, () => backoff(RETRY, faults));
  return { low: Math.min(...waits), high: Math.max(...waits) };
}

describe('backoff', () => {
  it.each([
    [0, 100, 200],
    [1, 200, 400],
    [2, 400, 800],
    [3, 750, 1_500],
    [60, 750, 1_500],
    [2_000, 750, 1_500],
  ])('after %i faults waits between %i and %i ms', (faults, low, high) => {
    const waits = range(faults);
    expect(waits.low).toBeGreaterThanOrEqual(low);
    expect(waits.high).toBeLessThanOrEqual(high);
    // Jittered: not one fixed wait.
    expect(waits.high).toBeGreaterThan(waits.low);
  });
});
