// The `proxystore` command end to end, as a user runs it: the built dist/main.js in child processes, with
// PROXYSTORE_HOME in a temp dir, starting real endpoint daemons. Every daemon a test starts is stopped in
// afterEach (SIGTERM, then SIGKILL) whether the test passed or not. No timing assertions.
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { makeTestCertificates, opensslUnavailable } from '@proxystore/endpoint/testing';
import { afterEach, describe, expect, it } from 'vitest';
// A zombie (exited, not yet reaped: the daemons' parent is gone) counts as stopped.
import { isAlive } from '../src/daemon.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const homes: string[] = [];
function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'proxystore-cli-test-'));
  homes.push(home);
  return home;
}


/** Every pid a test's daemons may have: their pid files, and what the test recorded itself. */
const pids = new Set<number>();
function pidsOf(home: string): number[] {
  const dir = join(home, 'endpoints');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => join(dir, name, 'endpoint.pid'))
    .filter((f) => existsSync(f))
    .map((f) => Number(readFileSync(f, 'utf8').trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

afterEach(async () => {
  for (const home of homes) for (const pid of pidsOf(home)) pids.add(pid);
  const live = [...pids].filter((pid) => pid !== process.pid && isAlive(pid));
  for (const pid of live) process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && live.some(isAlive); i++) await new Promise((r) => setTimeout(r, 100));
  for (const pid of live.filter(isAlive)) process.kill(pid, 'SIGKILL');
  pids.clear();
  for (const home of homes.splice(0)) rmSync(home, { recursive: true, force: true });
});

function cli(home: string, args: string[], input?: string | Buffer): SpawnSyncReturns<string> {
  const run = spawnSync(process.execPath, [MAIN, ...args], {
    env: { ...process.env, PROXYSTORE_HOME: home },
    encoding: 'utf8',
    timeout: 120_000,
    ...(input === undefined ? {} : { input }),
  });
  if (run.error !== undefined) throw run.error;
  return run;
}

/** Runs a command that must succeed; its stdout. */
function ok(home: string, args: string[], input?: string | Buffer): string {
  const run = cli(home, args, input);
  if (run.status !== 0) throw new Error(`proxystore ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  return run.stdout;
}

/** Runs a command that must fail with exit code 1; its stderr. */
function fails(home: string, args: string[]): string {
  const run = cli(home, args);
  expect(run.status, `proxystore ${args.join(' ')}: ${run.stdout}${run.stderr}`).toBe(1);
  return run.stderr;
}

function startDetached(home: string, name: string): string {
  const address = ok(home, ['endpoint', 'start', name, '--detach']).trim();
  for (const pid of pidsOf(home)) pids.add(pid);
  return address;
}

interface Row {
  name: string;
  id: string | null;
  address: string | null;
  status: string;
  pid: number | null;
}
const list = (home: string) => JSON.parse(ok(home, ['endpoint', 'list', '--json'])) as Row[];

/** The pid of a process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('proxystore endpoint: the whole life of an endpoint', () => {
  it('configure → start --detach → list → put/get/exists/evict → stop → list → remove', () => {
    const home = newHome();
    const configured = ok(home, ['endpoint', 'configure', 'ep1', '--memory-limit', '64MiB', '--max-object-size', '16MB']);
    const dir = join(home, 'endpoints', 'ep1');
    expect(configured).toContain(join(dir, 'token'));
    const config = JSON.parse(readFileSync(join(dir, 'endpoint.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ name: 'ep1', host: '127.0.0.1', port: 0, memoryLimit: 64 * 1024 * 1024, maxObjectSize: 16e6 });
    expect(config['tokenFile']).toBe(join(dir, 'token'));
    expect(statSync(join(dir, 'token')).mode & 0o777).toBe(0o600);

    const address = startDetached(home, 'ep1');
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    const [row] = list(home);
    expect(row).toMatchObject({ name: 'ep1', id: config['id'], address, status: 'running' });
    expect(isAlive(row?.pid ?? 0)).toBe(true);
    const table = ok(home, ['endpoint', 'list']);
    expect(table).toMatch(/^NAME\s+ID\s+ADDRESS\s+STATUS\s+PID/);
    expect(table).toContain(address);
    expect(table).toMatch(/\brunning\b/);

    const key = ok(home, ['endpoint', 'test', 'ep1', 'put', 'hello endpoint']).trim();
    expect(JSON.parse(key)).toMatchObject({ kind: 'endpoint', endpoint: config['id'] });
    expect(ok(home, ['endpoint', 'test', 'ep1', 'get', key])).toBe('hello endpoint\n');
    expect(ok(home, ['endpoint', 'test', 'ep1', 'exists', key]).trim()).toBe('true');
    ok(home, ['endpoint', 'test', 'ep1', 'evict', key]);
    expect(ok(home, ['endpoint', 'test', 'ep1', 'exists', key]).trim()).toBe('false');
    expect(fails(home, ['endpoint', 'test', 'ep1', 'get', key])).toMatch(/no object under key/);

    // Bytes from a file (and from stdin) come back byte for byte.
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256));
    writeFileSync(join(home, 'blob.bin'), bytes);
    const fileKey = ok(home, ['endpoint', 'test', 'ep1', 'put', `@${join(home, 'blob.bin')}`]).trim();
    const back = spawnSync(process.execPath, [MAIN, 'endpoint', 'test', 'ep1', 'get', fileKey], { env: { ...process.env, PROXYSTORE_HOME: home } });
    expect(back.status).toBe(0);
    expect(Buffer.compare(back.stdout, bytes)).toBe(0);
    const stdinKey = ok(home, ['endpoint', 'test', 'ep1', 'put', '@-'], 'from stdin').trim();
    // Bytes, so no newline is added on the way out.
    expect(ok(home, ['endpoint', 'test', 'ep1', 'get', stdinKey])).toBe('from stdin');

    const pid = row?.pid ?? 0;
    expect(ok(home, ['endpoint', 'stop', 'ep1'])).toContain(`pid ${pid}`);
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(join(dir, 'endpoint.pid'))).toBe(false);
    expect(list(home)).toEqual([{ name: 'ep1', id: config['id'], address: null, status: 'stopped', pid: null }]);
    expect(ok(home, ['endpoint', 'list'])).toMatch(/\bstopped\b/);
    expect(fails(home, ['endpoint', 'stop', 'ep1'])).toMatch(/endpoint ep1 is not running/);

    ok(home, ['endpoint', 'remove', 'ep1']);
    expect(existsSync(dir)).toBe(false);
    expect(list(home)).toEqual([]);
  });

  it('a re-configure keeps the id and the token; a restart serves on the new config', () => {
    const home = newHome();
    ok(home, ['endpoint', 'configure', 'ep1']);
    const dir = join(home, 'endpoints', 'ep1');
    const first = JSON.parse(readFileSync(join(dir, 'endpoint.json'), 'utf8')) as { id: string };
    const token = readFileSync(join(dir, 'token'), 'utf8');
    ok(home, ['endpoint', 'configure', 'ep1', '--chunk-size', '64KiB']);
    const second = JSON.parse(readFileSync(join(dir, 'endpoint.json'), 'utf8')) as { id: string; chunkSize: number };
    expect(second.id).toBe(first.id);
    expect(second.chunkSize).toBe(64 * 1024);
    expect(readFileSync(join(dir, 'token'), 'utf8')).toBe(token);
    startDetached(home, 'ep1');
    expect(list(home)[0]).toMatchObject({ id: first.id, status: 'running' });
  });

  it('every endpoint is authenticated: a client with another token is refused', () => {
    const home = newHome();
    ok(home, ['endpoint', 'configure', 'ep1']);
    startDetached(home, 'ep1');
    const key = ok(home, ['endpoint', 'test', 'ep1', 'put', 'secret']).trim();
    // The CLI reads the token file on every call: change it under the running endpoint.
    writeFileSync(join(home, 'endpoints', 'ep1', 'token'), 'not-the-token\n');
    const stderr = fails(home, ['endpoint', 'test', 'ep1', 'get', key]);
    expect(stderr).toMatch(/^proxystore: /);
    expect(stderr).toMatch(/token|auth|UNAUTHENTICATED/i);
  });

  it.skipIf(opensslUnavailable() !== null)('over TLS with client certificates, `test` trusts the CA and presents the endpoint\'s certificate', () => {
    const home = newHome();
    const certs = makeTestCertificates();
    try {
      ok(home, ['endpoint', 'configure', 'tls1', '--tls-cert', certs.certFile, '--tls-key', certs.keyFile, '--tls-ca', certs.caFile, '--require-client-cert']);
      const config = JSON.parse(readFileSync(join(home, 'endpoints', 'tls1', 'endpoint.json'), 'utf8')) as { tls: unknown };
      expect(config.tls).toEqual({ certFile: certs.certFile, keyFile: certs.keyFile, caFile: certs.caFile, requireClientCert: true });
      startDetached(home, 'tls1');
      const key = ok(home, ['endpoint', 'test', 'tls1', 'put', 'over tls']).trim();
      expect(ok(home, ['endpoint', 'test', 'tls1', 'get', key])).toBe('over tls\n');
      ok(home, ['endpoint', 'stop', 'tls1']);
    } finally {
      certs.remove();
    }
  });
});

describe('proxystore endpoint start and stop', () => {
  it('refuses to start an endpoint that is already running', () => {
    const home = newHome();
    ok(home, ['endpoint', 'configure', 'ep1']);
    const address = startDetached(home, 'ep1');
    const [before] = list(home);
    expect(fails(home, ['endpoint', 'start', 'ep1', '--detach'])).toMatch(new RegExp(`endpoint ep1 is already running \\(pid ${before?.pid}, at ${address}\\)`));
    expect(list(home)).toEqual([before]);
  });

  it('cleans up a stale pid file: list shows it, stop says so, start takes over', () => {
    const home = newHome();
    ok(home, ['endpoint', 'configure', 'ep1']);
    const pidFile = join(home, 'endpoints', 'ep1', 'endpoint.pid');
    const dead = deadPid();
    writeFileSync(pidFile, `${dead}\n`);
    expect(list(home)[0]).toMatchObject({ status: 'stale', pid: dead });
    expect(ok(home, ['endpoint', 'list'])).toMatch(/\bstale\b/);
    expect(fails(home, ['endpoint', 'stop', 'ep1'])).toMatch(new RegExp(`not running \\(removed a stale pid file: process ${dead} is gone\\)`));
    expect(existsSync(pidFile)).toBe(false);

    writeFileSync(pidFile, `${dead}\n`);
    const run = cli(home, ['endpoint', 'start', 'ep1', '--detach']);
    for (const pid of pidsOf(home)) pids.add(pid);
    expect(run.status).toBe(0);
    expect(run.stderr).toContain(`removed a stale pid file (process ${dead} is gone)`);
    expect(list(home)[0]?.status).toBe('running');
  });

  it('start --detach that fails exits 1 with the tail of the log', () => {
    const home = newHome();
    writeFileSync(join(home, 'tok'), 'a-token');
    ok(home, ['endpoint', 'configure', 'ep1', '--token-file', join(home, 'tok')]);
    rmSync(join(home, 'tok'));
    const stderr = fails(home, ['endpoint', 'start', 'ep1', '--detach']);
    expect(stderr).toMatch(/endpoint ep1 failed to start: it exited with code 1/);
    expect(stderr).toContain('endpoint.log');
    expect(stderr).toMatch(/tokenFile/);
    expect(list(home)[0]?.status).toBe('stopped');
  });

  it('the foreground form prints ready, owns the pid and status files and removes them on SIGTERM', async () => {
    const home = newHome();
    ok(home, ['endpoint', 'configure', 'ep1']);
    const child = spawn(process.execPath, [MAIN, 'endpoint', 'start', 'ep1'], {
      env: { ...process.env, PROXYSTORE_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) pids.add(child.pid);
    const exit = once(child, 'exit');
    const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
    expect(line).toMatch(/^ready \{/);
    const ready = JSON.parse(line.slice('ready '.length)) as { id: string; name: string; address: string; pid: number };
    expect(ready).toMatchObject({ name: 'ep1', pid: child.pid });
    const dir = join(home, 'endpoints', 'ep1');
    expect(readFileSync(join(dir, 'endpoint.pid'), 'utf8').trim()).toBe(String(child.pid));
    expect(JSON.parse(readFileSync(join(dir, 'endpoint.status.json'), 'utf8'))).toMatchObject({ address: ready.address, id: ready.id, pid: child.pid });
    expect(typeof (JSON.parse(readFileSync(join(dir, 'endpoint.status.json'), 'utf8')) as { started: unknown }).started).toBe('string');
    child.kill('SIGTERM');
    const [code] = (await exit) as [number | null];
    expect(code).toBe(0);
    expect(existsSync(join(dir, 'endpoint.pid'))).toBe(false);
    expect(existsSync(join(dir, 'endpoint.status.json'))).toBe(false);
  });

  it('remove refuses a running endpoint; --force stops it first', () => {
    const home = newHome();
    ok(home, ['endpoint', 'configure', 'ep1']);
    startDetached(home, 'ep1');
    const pid = list(home)[0]?.pid ?? 0;
    expect(fails(home, ['endpoint', 'remove', 'ep1'])).toMatch(/endpoint ep1 is running .*--force/);
    expect(existsSync(join(home, 'endpoints', 'ep1'))).toBe(true);
    expect(ok(home, ['endpoint', 'remove', 'ep1', '--force'])).toMatch(/stopped endpoint ep1[\s\S]*removed endpoint ep1/);
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(join(home, 'endpoints', 'ep1'))).toBe(false);
  });
});

describe('proxystore: arguments, help and version', () => {
  it('--version prints the package version; --help and every subcommand\'s --help describe it', () => {
    const home = newHome();
    expect(ok(home, ['--version']).trim()).toBe(VERSION);
    expect(ok(home, ['--help'])).toMatch(/Usage: proxystore[\s\S]*endpoint/);
    expect(ok(home, ['endpoint', '--help'])).toMatch(/configure[\s\S]*start[\s\S]*stop[\s\S]*list[\s\S]*remove[\s\S]*test/);
    expect(ok(home, ['endpoint', 'configure', '--help'])).toMatch(/--peer <host:port>[\s\S]*--memory-limit <size>[\s\S]*--require-client-cert/);
    expect(ok(home, ['endpoint', 'start', '--help'])).toMatch(/--detach/);
    expect(ok(home, ['endpoint', 'stop', '--help'])).toMatch(/SIGKILL/);
    expect(ok(home, ['endpoint', 'list', '--help'])).toMatch(/--json/);
    expect(ok(home, ['endpoint', 'remove', '--help'])).toMatch(/--force/);
    expect(ok(home, ['endpoint', 'test', '--help'])).toMatch(/put[\s\S]*@file/);
  });

  it('unknown commands and options exit 1 with the usage hint', () => {
    const home = newHome();
    expect(fails(home, ['frobnicate'])).toMatch(/unknown command 'frobnicate'[\s\S]*--help/);
    expect(fails(home, ['endpoint', 'frobnicate'])).toMatch(/unknown command 'frobnicate'/);
    expect(fails(home, ['endpoint', 'list', '--yaml'])).toMatch(/unknown option '--yaml'/);
  });

  it('bad names and values exit 1 with a clear message and write nothing', () => {
    const home = newHome();
    expect(fails(home, ['endpoint', 'configure', 'a/b'])).toMatch(/invalid endpoint name "a\/b"/);
    expect(fails(home, ['endpoint', 'configure', 'ep1', '--port', 'http'])).toMatch(/invalid --port "http"/);
    expect(fails(home, ['endpoint', 'configure', 'ep1', '--memory-limit', 'lots'])).toMatch(/invalid --memory-limit "lots"/);
    expect(fails(home, ['endpoint', 'configure', 'ep1', '--peer', 'nohost'])).toMatch(/invalid --peer "nohost"/);
    expect(fails(home, ['endpoint', 'configure', 'ep1', '--token-file', join(home, 'missing')])).toMatch(/--token-file .* does not exist/);
    expect(fails(home, ['endpoint', 'configure', 'ep1', '--tls-cert', join(home, 'c.pem')])).toMatch(/both --tls-cert and --tls-key/);
    expect(existsSync(join(home, 'endpoints', 'ep1'))).toBe(false);
    expect(fails(home, ['endpoint', 'start', 'nope'])).toMatch(/no endpoint named nope; create it with `proxystore endpoint configure nope`/);
    expect(fails(home, ['endpoint', 'stop', 'nope'])).toMatch(/no endpoint named nope/);
    expect(fails(home, ['endpoint', 'remove', 'nope'])).toMatch(/no endpoint named nope/);
    ok(home, ['endpoint', 'configure', 'ep1']);
    expect(fails(home, ['endpoint', 'test', 'ep1', 'put', 'x'])).toMatch(/endpoint ep1 is not running/);
    expect(fails(home, ['endpoint', 'test', 'ep1', 'get'])).toMatch(/`get` needs a key/);
    expect(fails(home, ['endpoint', 'test', 'ep1', 'bogus', 'x'])).toMatch(/'bogus' is invalid .*put, get, exists, evict/);
  });
});
