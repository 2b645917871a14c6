import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests share one Redis but never keys: each uses its own prefix and deletes it after.
    pool: 'forks',
    // Most of a test's time is spent waiting (on child processes, simulators, timers), not on
    // the CPU: one file more than the cores keeps them busy (the default, cores - 1, ran one
    // file at a time on a 2-core machine: the suite took twice as long).
    maxWorkers: availableParallelism() + 1,
  },
});
