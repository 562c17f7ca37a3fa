import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquirePidFile, cleanStale, isAlive, readPid, readState, removeRunFiles, writeStatus } from './daemon.js';
import { type EndpointPaths, endpointPaths } from './home.js';

let home: string;
let paths: EndpointPaths;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'proxystore-cli-daemon-'));
  paths = endpointPaths(home, 'ep1');
  mkdirSync(paths.dir, { recursive: true });
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const run = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(run.stdout);
}

const status = (pid: number) => ({ name: 'ep1', id: 'id', address: '127.0.0.1:7000', pid, started: new Date().toISOString() });

describe('pid files and state', () => {
  it('isAlive: this process is, an exited one and nonsense pids are not', () => {
    expect(isAlive(process.pid)).toBe(true);
    expect(isAlive(deadPid())).toBe(false);
    expect(isAlive(0)).toBe(false);
    expect(isAlive(-1)).toBe(false);
  });

  it('no pid file is stopped; a live pid is running with its status; a dead one is stale', () => {
    expect(readState(paths)).toEqual({ state: 'stopped' });
    acquirePidFile(paths, process.pid);
    expect(readState(paths)).toEqual({ state: 'running', pid: process.pid, status: undefined });
    writeStatus(paths, status(process.pid));
    expect(readState(paths)).toMatchObject({ state: 'running', status: { address: '127.0.0.1:7000' } });
    const dead = deadPid();
    writeFileSync(paths.pid, `${dead}\n`);
    expect(readState(paths)).toEqual({ state: 'stale', pid: dead });
  });

  it('a garbled pid file is stale', () => {
    writeFileSync(paths.pid, 'garbage');
    expect(readPid(paths)).toBe(0);
    expect(readState(paths).state).toBe('stale');
  });

  it('acquirePidFile refuses while the owner lives, and takes over (reporting it) from a dead one', () => {
    acquirePidFile(paths, process.pid);
    expect(() => acquirePidFile(paths, 12345)).toThrow(/already running \(pid \d+, starting\)/);
    const dead = deadPid();
    writeFileSync(paths.pid, `${dead}\n`);
    writeStatus(paths, status(dead));
    expect(acquirePidFile(paths, process.pid)).toEqual({ stale: dead });
    expect(readPid(paths)).toBe(process.pid);
    expect(existsSync(paths.status)).toBe(false);
  });

  it('cleanStale removes only a stale pair of files', () => {
    acquirePidFile(paths, process.pid);
    expect(cleanStale(paths)).toBeUndefined();
    expect(existsSync(paths.pid)).toBe(true);
  });

  it('removeRunFiles never removes another process\'s files', () => {
    acquirePidFile(paths, process.pid);
    writeStatus(paths, status(process.pid));
    removeRunFiles(paths, 999_999);
    expect(existsSync(paths.pid) && existsSync(paths.status)).toBe(true);
    removeRunFiles(paths, process.pid);
    expect(existsSync(paths.pid) || existsSync(paths.status)).toBe(false);
  });
});
