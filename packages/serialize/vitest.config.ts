import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'serialize', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
