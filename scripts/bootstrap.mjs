#!/usr/bin/env node
// Brings a fresh clone to a runnable state: system packages (when root and missing), `npm ci` when the
// lockfile changed since the last install, then the turbo build. Every top-level command (`npm test`,
// `npm run demo`, `npm run bench`) runs this first, so a clean machine needs nothing done by hand.
// Plain Node with no dependencies: it runs before node_modules exists.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const log = (msg) => {
  if (!quiet) process.stderr.write(`[bootstrap] ${msg}\n`);
};

/** Debian packages the project uses at build, run or test time: [shell test that proves presence, package]. */
const SYSTEM_PACKAGES = [
  ['command -v redis-server', 'redis-server'],
  // TLS tests of the control plane and endpoints make throwaway certificates with it.
  ['command -v openssl', 'openssl'],
  // The UCX addon (native/ucx): system UCX found by pkg-config, built by cmake-js with g++.
  ['command -v pkg-config', 'pkg-config'],
  ['pkg-config --exists ucx', 'libucx-dev'],
  ['command -v cmake', 'cmake'],
  ['command -v g++', 'g++'],
  // uv.h for the addon's event-fd progress: from Node's own headers when it ships them, else libuv's.
  [`test -f "${join(dirname(process.execPath), '..', 'include', 'node', 'uv.h')}" || test -f /usr/include/uv.h`, 'libuv1-dev'],
  // ucx_perftest: the raw baseline of the UCX benchmarks.
  ['command -v ucx_perftest', 'ucx-utils'],
];

function present(check) {
  return spawnSync('sh', ['-c', check], { stdio: 'ignore' }).status === 0;
}

function haveCommand(cmd) {
  return present(`command -v ${cmd}`);
}

function installSystemPackages() {
  const missing = SYSTEM_PACKAGES.filter(([check]) => !present(check)).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !haveCommand('apt-get')) {
    log(`missing system packages: ${missing.join(' ')} (install them with your package manager)`);
    return;
  }
  log(`apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env,
  });
}

function npmInstall() {
  const lock = readFileSync(join(root, 'package-lock.json'));
  const hash = createHash('sha256').update(lock).digest('hex');
  const stamp = join(root, 'node_modules', '.bootstrap-lock-hash');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return;
  log('npm ci');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  writeFileSync(stamp, hash);
}

function build() {
  log('build');
  execFileSync('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
  });
}

installSystemPackages();
npmInstall();
build();
