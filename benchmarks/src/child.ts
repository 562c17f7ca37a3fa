// Child processes of the suites (task-rtt broker and workers, memory producer and consumers) run the
// built JavaScript in dist/: Node 20 cannot run TypeScript. Under vitest the suites themselves load from
// src/, so a script path is mapped from src/ to dist/ when needed; `npm test` builds dist/ first. The
// helpers below start such a child, wait for its first message and stop it.
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
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

const GRACE_MS = 3_000;

/** Resolves with the first IPC message of `type` from `child`; rejects if it exits first or time runs out. */
export function awaitMessage(child: ChildProcess, type: string, what: string, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what} did not start within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: unknown): void => {
      if (typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type) {
        done(undefined, message as Record<string, unknown>);
      }
    };
    const onExit = (code: number | null, signal: string | null): void =>
      done(new Error(`${what} exited before it was ready (${signal ?? `code ${code}`})`));
    const onError = (err: Error): void => done(new Error(`${what} could not be started: ${err.message}`));
    function done(error: Error | undefined, message?: Record<string, unknown>): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
      if (error !== undefined) reject(error);
      else resolve(message as Record<string, unknown>);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.on('error', onError);
  });
}

/** Stops a child and waits for it to be gone: SIGTERM, then SIGKILL if it is still there after the grace period. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Forks a built script with an IPC channel (JSON messages). stdout is not used (IPC reports readiness);
 * stderr is shared so a crash is visible. No inherited execArgv: the children run plain Node whatever
 * flags the harness (or vitest) runs with.
 */
export function spawnChild(script: string, args: string[]): ChildProcess {
  const child = fork(script, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json', execArgv: [] });
  // Failures show up as 'exit' (awaitMessage, stopChild); an unheard 'error' event would throw here.
  child.on('error', () => {});
  return child;
}
