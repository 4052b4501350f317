import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 60_000,
    // two cores: keep one worker so timing-free suites don't starve each other
    pool: 'forks',
    maxWorkers: 1,
  },
});
