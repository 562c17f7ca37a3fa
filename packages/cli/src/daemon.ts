// The on-disk life of a running endpoint: a pid file (created exclusively, so two starts cannot both
// win), a status file written once it listens, and the running/stopped/stale state read back from them.
// Stale means a pid file whose process is gone (a crash, a SIGKILL, a reboot); it is cleaned up on sight.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { writeFileAtomic } from './config.js';
import { CliError } from './errors.js';
import type { EndpointPaths } from './home.js';

export interface EndpointStatus {
  name: string;
  id: string;
  address: string;
  pid: number;
  /** ISO 8601. */
  started: string;
}

export type EndpointState =
  | { state: 'stopped' }
  | { state: 'running'; pid: number; status: EndpointStatus | undefined }
  | { state: 'stale'; pid: number };

/**
 * Whether `pid` is a live process. Signal 0 checks without sending; EPERM means it exists but belongs to
 * someone else. On Linux a zombie (exited, not yet reaped by a parent) counts as gone.
 */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform === 'linux') {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // "pid (comm) S …": the state follows the last ')' (comm may itself contain parentheses).
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') return false;
    } catch {
      // /proc unreadable or the process just went: trust kill(0)
    }
  }
  return true;
}

export function readPid(paths: EndpointPaths): number | undefined {
  let text: string;
  try {
    text = readFileSync(paths.pid, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number(text.trim());
  // A pid file that does not hold a pid (truncated by a crash mid-write) is as stale as a dead pid.
  return Number.isInteger(pid) && pid > 0 ? pid : 0;
}

export function readStatus(paths: EndpointPaths): EndpointStatus | undefined {
  try {
    const parsed = JSON.parse(readFileSync(paths.status, 'utf8')) as EndpointStatus;
    return typeof parsed.address === 'string' && typeof parsed.pid === 'number' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function readState(paths: EndpointPaths): EndpointState {
  const pid = readPid(paths);
  if (pid === undefined) return { state: 'stopped' };
  if (!isAlive(pid)) return { state: 'stale', pid };
  const status = readStatus(paths);
  return { state: 'running', pid, status: status?.pid === pid ? status : undefined };
}

/** Removes the pid and status files, but only while they still name `pid` (never another start's). */
export function removeRunFiles(paths: EndpointPaths, pid: number): void {
  if (readPid(paths) === pid) rmSync(paths.pid, { force: true });
  if (readStatus(paths)?.pid === pid) rmSync(paths.status, { force: true });
}

/** Cleans up after a process that is gone; returns its pid when there was something stale. */
export function cleanStale(paths: EndpointPaths): number | undefined {
  const state = readState(paths);
  if (state.state !== 'stale') return undefined;
  rmSync(paths.pid, { force: true });
  rmSync(paths.status, { force: true });
  return state.pid;
}

export function alreadyRunning(paths: EndpointPaths, pid: number, status: EndpointStatus | undefined): CliError {
  const where = status === undefined ? 'starting' : `at ${status.address}`;
  return new CliError(
    'CLI_ALREADY_RUNNING',
    `endpoint ${paths.name} is already running (pid ${pid}, ${where}); stop it with \`proxystore endpoint stop ${paths.name}\``,
  );
}

/**
 * Claims the pid file for `pid`: a stale one is removed first (its pid returned in `stale`), a live one
 * is CLI_ALREADY_RUNNING. The file is created with O_EXCL, so of two concurrent starts one fails here.
 */
export function acquirePidFile(paths: EndpointPaths, pid: number): { stale?: number } {
  const stale = cleanStale(paths);
  let fd: number;
  try {
    fd = openSync(paths.pid, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const state = readState(paths);
    const other = state.state === 'running' ? state : { pid: readPid(paths) ?? 0, status: undefined };
    throw alreadyRunning(paths, other.pid, other.status);
  }
  try {
    writeSync(fd, `${pid}\n`);
  } finally {
    closeSync(fd);
  }
  return stale === undefined ? {} : { stale };
}

export function writeStatus(paths: EndpointPaths, status: EndpointStatus): void {
  writeFileAtomic(paths.status, `${JSON.stringify(status, null, 2)}\n`, 0o644);
}

/** Resolves once `pid` is gone, or false after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return true;
}
