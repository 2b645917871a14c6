import type { BenchRedis } from './redis.js';
import type { Row } from './table.js';

/** What every measurement gets from bench/run.ts, and what it hands back. */

export interface BenchContext {
  /** `--quick`: one run each, shorter and smaller, for a smoke test. */
  quick: boolean;
  /** Repetitions of each noisy measurement; figures are their medians. */
  runs: number;
  redis: BenchRedis;
  /**
   * `--compare=<checkout>`: the compiled bench children of another build (that checkout's
   * dist/bench/children), run beside this one in the pipeline section, to compare two builds in
   * the same run rather than across runs minutes apart on a noisy machine.
   */
  compare?: string | undefined;
  /** A progress line on stderr (stdout carries only the table). */
  progress(message: string): void;
}

export interface SectionResult {
  rows: Row[];
  /** Everything measured, per run, for bench/results/latest.json. */
  details: Record<string, unknown>;
}
