// `proxystore endpoint start NAME [--detach]`. The foreground form is the daemon itself: it runs the
// endpoint in this process, owns the pid and status files, and removes them when a signal stops it.
// --detach spawns the foreground form in its own session, logging to endpoint.log, and returns once the
// child has written its status file (ready) or has died (the log's tail says why).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, fstatSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Endpoint } from '@proxystore/endpoint';
import { requireConfig } from '../config.js';
import { acquirePidFile, alreadyRunning, cleanStale, readState, readStatus, removeRunFiles, writeStatus } from '../daemon.js';
import { CliError } from '../errors.js';
import { type EndpointPaths, endpointPaths } from '../home.js';
import type { Context } from './context.js';

export const DEFAULT_START_TIMEOUT_MS = 60_000;
/** The built bin: what --detach runs again, in the foreground form. */
export const MAIN_SCRIPT = fileURLToPath(new URL('../main.js', import.meta.url));

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs the endpoint until SIGTERM or SIGINT; resolves with the exit code once it has closed and the pid
 * and status files are gone. A second signal while closing exits at once.
 */
export async function startForeground(ctx: Context, name: string): Promise<number> {
  const paths = endpointPaths(ctx.home, name);
  const config = requireConfig(paths);
  const { stale } = acquirePidFile(paths, process.pid);
  if (stale !== undefined) ctx.io.err(`removed a stale pid file (process ${stale} is gone)\n`);

  let endpoint: Endpoint | undefined;
  let signalled: NodeJS.Signals | undefined;
  let wake: () => void = () => {};
  const stopRequested = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled !== undefined) {
      ctx.io.err(`${signal} again: exiting without a clean close\n`);
      removeRunFiles(paths, process.pid);
      process.exit(1);
    }
    signalled = signal;
    ctx.io.err(`${signal}: closing endpoint ${name}\n`);
    wake();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    try {
      endpoint = await Endpoint.start(config);
    } catch (error) {
      throw new CliError('CLI_START_FAILED', `endpoint ${name} failed to start: ${describe(error)}`, { cause: error });
    }
    if (signalled === undefined) {
      const status = { name, id: endpoint.id, address: endpoint.address, pid: process.pid, started: new Date().toISOString() };
      writeStatus(paths, status);
      ctx.io.out(`ready ${JSON.stringify({ id: status.id, name, address: status.address, pid: status.pid })}\n`);
      await stopRequested;
    }
    await endpoint.close();
    ctx.io.err(`endpoint ${name} closed\n`);
    return 0;
  } finally {
    removeRunFiles(paths, process.pid);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/** The last `lines` lines of a file (reading at most its last 16 KiB). */
export function tail(path: string, lines = 20): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 16 * 1024);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } finally {
    closeSync(fd);
  }
}

function failed(paths: EndpointPaths, why: string): CliError {
  const last = tail(paths.log);
  return new CliError(
    'CLI_START_FAILED',
    `endpoint ${paths.name} failed to start: ${why}\n${last === '' ? `(${paths.log} is empty)` : `last lines of ${paths.log}:\n${last}`}`,
  );
}

export interface DetachOptions {
  timeoutMs: number;
  /** The script to run in the foreground form (tests may point elsewhere). */
  mainScript?: string;
}

/** Spawns the daemon and waits for it: returns its status once ready, else throws with the log's tail. */
export async function startDetached(ctx: Context, name: string, options: DetachOptions): Promise<number> {
  const paths = endpointPaths(ctx.home, name);
  requireConfig(paths);
  const state = readState(paths);
  if (state.state === 'running') throw alreadyRunning(paths, state.pid, state.status);
  const stale = cleanStale(paths);
  if (stale !== undefined) ctx.io.err(`removed a stale pid file (process ${stale} is gone)\n`);

  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  // Keep the previous run's log for a post-mortem; this run's tail is then all about this run.
  if (existsSync(paths.log)) renameSync(paths.log, `${paths.log}.1`);
  const log = openSync(paths.log, 'a', 0o644);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const child = spawn(process.execPath, [options.mainScript ?? MAIN_SCRIPT, 'endpoint', 'start', name], {
    detached: true,
    stdio: ['ignore', log, log],
    // The daemon outlives this shell: it must not pin the caller's working directory.
    cwd: paths.dir,
    env: { ...process.env, PROXYSTORE_HOME: ctx.home },
  });
  closeSync(log);
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  child.on('error', (error) => {
    spawnError = error;
  });

  const deadline = Date.now() + options.timeoutMs;
  try {
    for (;;) {
      if (spawnError !== undefined) throw failed(paths, `cannot run ${process.execPath}: ${spawnError.message}`);
      const status = readStatus(paths);
      if (child.pid !== undefined && status?.pid === child.pid) {
        ctx.io.err(`endpoint ${name} started (pid ${child.pid}, log ${paths.log})\n`);
        ctx.io.out(`${status.address}\n`);
        return 0;
      }
      if (exited !== undefined) {
        throw failed(paths, exited.signal !== null ? `it was killed by ${exited.signal}` : `it exited with code ${exited.code}`);
      }
      if (Date.now() >= deadline) {
        child.kill('SIGTERM');
        throw failed(paths, `not ready within ${options.timeoutMs / 1000} s (stopped it)`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    child.unref();
  }
}
