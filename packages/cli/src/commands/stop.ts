// `proxystore endpoint stop NAME`: SIGTERM, wait, SIGKILL after the timeout.
import { CliError } from '../errors.js';
import { cleanStale, readState, removeRunFiles, waitForExit } from '../daemon.js';
import { type EndpointPaths, endpointPaths } from '../home.js';
import { requireConfig } from '../config.js';
import type { Context } from './context.js';

export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/** Stops the endpoint's process; returns its pid. Not running (or stale, cleaned here) is CLI_NOT_RUNNING. */
export async function stopEndpoint(ctx: Context, paths: EndpointPaths, timeoutMs: number): Promise<number> {
  const state = readState(paths);
  if (state.state === 'stale') {
    cleanStale(paths);
    throw new CliError(
      'CLI_NOT_RUNNING',
      `endpoint ${paths.name} is not running (removed a stale pid file: process ${state.pid} is gone)`,
    );
  }
  if (state.state === 'stopped') throw new CliError('CLI_NOT_RUNNING', `endpoint ${paths.name} is not running`);
  const { pid } = state;
  try {
    process.kill(pid, 'SIGTERM');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
      throw new CliError('CLI_STOP_FAILED', `cannot signal endpoint ${paths.name} (pid ${pid}): ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  if (!(await waitForExit(pid, timeoutMs))) {
    ctx.io.err(`endpoint ${paths.name} (pid ${pid}) did not stop within ${timeoutMs / 1000} s of SIGTERM: sending SIGKILL\n`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone in the meantime
    }
    if (!(await waitForExit(pid, 5_000))) {
      throw new CliError('CLI_STOP_FAILED', `endpoint ${paths.name} (pid ${pid}) survived SIGKILL`);
    }
  }
  // A clean shutdown removed these itself; a killed one could not.
  removeRunFiles(paths, pid);
  return pid;
}

export async function stop(ctx: Context, name: string, options: { timeoutMs: number }): Promise<number> {
  const paths = endpointPaths(ctx.home, name);
  requireConfig(paths);
  const pid = await stopEndpoint(ctx, paths, options.timeoutMs);
  ctx.io.out(`stopped endpoint ${name} (pid ${pid})\n`);
  return 0;
}
