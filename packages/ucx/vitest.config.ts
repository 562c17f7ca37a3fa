import { defineProject } from 'vitest/config';

// UCX reads UCX_TLS once per process: every test that picks a transport runs its UCX side in child
// processes it starts itself (owner, consumer, daemon), so test files never share a UCX context.
export default defineProject({
  test: { name: 'ucx', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], hookTimeout: 60_000, testTimeout: 120_000 },
});
