import { defineProject } from 'vitest/config';

export default defineProject({
  // Tests start real gRPC servers on loopback (and, for TLS, make certificates with openssl).
  test: { name: 'control', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], hookTimeout: 30_000, testTimeout: 30_000 },
});
