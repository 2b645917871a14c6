import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Tests share one Redis but never keys: each uses its own prefix and deletes it after.
    pool: 'forks',
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
