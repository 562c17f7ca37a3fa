import { defineProject } from 'vitest/config';

export default defineProject({
  // Each file starts its own endpoint processes (node children on loopback ports).
  test: { name: 'endpoint', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], hookTimeout: 60_000, testTimeout: 60_000 },
});
