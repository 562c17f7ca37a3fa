// Child processes of the suites (task-rtt broker and workers, memory producer and consumers) run the
// built JavaScript in dist/: Node 20 cannot run TypeScript. Under vitest the suites themselves load from
// src/, so a script path is mapped from src/ to dist/ when needed; `npm test` builds dist/ first.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The absolute path of a built script, given as a path relative to the calling module without an
 * extension: `childScript(import.meta.url, './task-rtt/worker')` → `.../dist/task-rtt/worker.js`.
 */
export function childScript(fromUrl: string, relative: string): string {
  const url = new URL(`${relative}.js`, fromUrl);
  let path = fileURLToPath(url);
  // Running from src/ (vitest loads the .ts sources): the same layout exists under dist/. Only then is
  // the last /src/ of the path the package's own; a built module's path is left alone.
  if (fromUrl.endsWith('.ts')) path = path.replace(/([\\/])src([\\/])(?!.*[\\/]src[\\/])/, '$1dist$2');
  if (!existsSync(path)) {
    throw new Error(`Child script ${path} is missing: build the benchmarks first (npm run build)`);
  }
  return path;
}
