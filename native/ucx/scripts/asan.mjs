#!/usr/bin/env node
// The addon's tests under AddressSanitizer: builds a copy of this package with -fsanitize=address in a
// temporary folder (the build here is left alone), then runs test/run.mjs there with libasan preloaded
// into every node process the tests start. Any error ASan finds is written to a log next to the copy and
// fails the run. Opt-in (`npm run test:asan`): about three minutes, and it needs gcc's libasan.
// Leaks are not checked: V8 keeps allocations to the end on purpose.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const libasan = spawnSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).stdout?.trim();
if (!libasan || !libasan.startsWith('/')) {
  console.error('[asan] gcc cannot name libasan.so: install gcc (Debian: apt-get install gcc)');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'proxystore-ucx-asan-'));
let status = 1;
try {
  for (const entry of ['CMakeLists.txt', 'index.cjs', 'package.json', 'scripts', 'src', 'test']) {
    cpSync(join(here, entry), join(work, entry), { recursive: true });
  }
  // node-addon-api and cmake-js, wherever npm put them (here, or hoisted to the workspace root).
  const require = createRequire(join(here, 'package.json'));
  const modules = dirname(dirname(require.resolve('node-addon-api/package.json')));
  symlinkSync(modules, join(work, 'node_modules'));
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const flags = '-fsanitize=address -fno-omit-frame-pointer -g -O1';
  const build = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], {
    cwd: work,
    stdio: 'inherit',
    env: { ...process.env, CXXFLAGS: flags, LDFLAGS: '-fsanitize=address' },
  });
  if (build.status !== 0) throw new Error('the ASan build failed');
  const log = join(work, 'asan');
  const test = spawnSync(process.execPath, [join(work, 'test', 'run.mjs'), ...process.argv.slice(2)], {
    cwd: work,
    stdio: 'inherit',
    env: {
      ...process.env,
      LD_PRELOAD: libasan,
      // UCX installs its own SIGSEGV handler; ASan must let it. Every error is logged, not just the first.
      ASAN_OPTIONS: `detect_leaks=0:allow_user_segv_handler=1:halt_on_error=0:log_path=${log}`,
    },
  });
  const reports = readdirSync(work).filter((f) => f.startsWith('asan.'));
  for (const f of reports) process.stderr.write(readFileSync(join(work, f), 'utf8'));
  if (reports.length > 0) console.error(`[asan] ${reports.length} process(es) reported errors`);
  status = test.status === 0 && reports.length === 0 ? 0 : 1;
  console.log(status === 0 ? '[asan] no errors' : '[asan] FAILED');
} catch (err) {
  console.error(`[asan] ${err.message}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(status);
