import { defineProject } from 'vitest/config';

export default defineProject({
  // test/ runs the built dist/main.js as a real child process and starts endpoint daemons: seconds per test.
  test: { name: 'cli', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], hookTimeout: 60_000, testTimeout: 60_000 },
});
