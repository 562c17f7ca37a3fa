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

/** Debian packages the project uses at run or test time: [command that proves presence, package]. */
const SYSTEM_PACKAGES = [
  ['redis-server', 'redis-server'],
  // TLS tests of the control plane and endpoints make throwaway certificates with it.
  ['openssl', 'openssl'],
];

function haveCommand(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function installSystemPackages() {
  const missing = SYSTEM_PACKAGES.filter(([cmd]) => !haveCommand(cmd)).map(([, pkg]) => pkg);
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
