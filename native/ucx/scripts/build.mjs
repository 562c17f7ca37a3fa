#!/usr/bin/env node
// Builds the addon with cmake-js when this machine can: UCX found by pkg-config, cmake and a C++
// compiler present. Otherwise it says what is missing and exits 0, so that `npm run build` (turbo)
// succeeds where UCX is absent; @proxystore/ucx then reports, at load, what to install.
// PROXYSTORE_UCX_BUILD=0 skips the build on purpose (to try the UCX-absent path on a machine with UCX).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

function have(cmd, argv = ['--version']) {
  return spawnSync(cmd, argv, { stdio: 'ignore' }).status === 0;
}

function missing() {
  const out = [];
  if (!have('pkg-config')) out.push('pkg-config');
  else if (!have('pkg-config', ['--exists', 'ucx'])) out.push('libucx-dev (UCX headers and libraries, found by pkg-config)');
  if (!have('cmake')) out.push('cmake');
  if (!have('c++') && !have('g++')) out.push('g++');
  return out;
}

if (process.env.PROXYSTORE_UCX_BUILD === '0') {
  console.log('[ucx-native] skipped: PROXYSTORE_UCX_BUILD=0');
  process.exit(0);
}
const absent = missing();
if (absent.length > 0) {
  console.log(`[ucx-native] skipped: missing ${absent.join(', ')}. On Debian: apt-get install libucx-dev cmake g++ pkg-config`);
  process.exit(0);
}
const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
const result = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build', ...args], { cwd: here, stdio: 'inherit' });
process.exit(result.status ?? 1);
