import { defineConfig } from 'vitest/config';

// One command runs every package's tests; each package may add its own vitest.config.ts.
export default defineConfig({
  test: {
    projects: ['packages/*', 'benchmarks', 'demo', 'test'],
  },
});
