import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // socket tests and child processes share 2 cores: keep the parallelism modest
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
  },
});
