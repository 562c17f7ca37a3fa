import { defineProject } from 'vitest/config';

export default defineProject({
  // Each file starts its own redis-server processes; the cluster files need seconds to form a cluster.
  test: { name: 'redis', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], hookTimeout: 60_000, testTimeout: 30_000 },
});
