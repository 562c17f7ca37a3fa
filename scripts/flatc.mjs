#!/usr/bin/env node
// Regenerates the committed flatbuffers TypeScript from the schemas (`npm run flatc`). The generated code
// is committed so that building and testing never need flatc; run this only after editing a schema.
// Pinned to flatc 2.0.8, whose output matches the `flatbuffers@2.0.7` runtime the packages depend on.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const EXPECTED_VERSION = '2.0.8';

/** Each schema and the folder its generated code goes to. */
const TARGETS = [
  {
    schema: 'packages/control/schema/control.fbs',
    out: 'packages/control/src/generated',
  },
  {
    schema: 'packages/serialize/schema/proxystore.fbs',
    out: 'packages/serialize/src/generated',
  },
  {
    schema: 'packages/ucx/schema/ucx.fbs',
    out: 'packages/ucx/src/generated',
  },
];

const flatc = process.env.FLATC ?? 'flatc';
const probe = spawnSync(flatc, ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.error(
    `flatc: cannot run '${flatc}'. Install the FlatBuffers compiler ${EXPECTED_VERSION}:\n` +
      `  Debian/Ubuntu: sudo apt-get install flatbuffers-compiler   (bookworm ships ${EXPECTED_VERSION})\n` +
      `  or download flatc ${EXPECTED_VERSION} from https://github.com/google/flatbuffers/releases\n` +
      `and put it on PATH, or point FLATC at it: FLATC=/path/to/flatc npm run flatc`,
  );
  process.exit(1);
}
const version = probe.stdout.trim().replace(/^flatc version\s*/, '');
if (version !== EXPECTED_VERSION) {
  // Another flatc emits code for a different runtime API; refuse rather than commit a silent mismatch.
  console.error(
    `flatc: found version ${version}, expected ${EXPECTED_VERSION} (the runtime is flatbuffers@2.0.7). ` +
      `Set FLATC to a ${EXPECTED_VERSION} binary.`,
  );
  process.exit(1);
}

// flatc 2.0.8's TypeScript compiles cleanly under our strict tsconfig, so it is written unchanged: no
// banner, no exclusions. If a future flatc breaks that, exempt src/generated here, not in the tsconfig.
for (const { schema, out } of TARGETS) {
  const tmp = mkdtempSync(join(tmpdir(), 'proxystore-flatc-'));
  try {
    execFileSync(flatc, ['--ts', '--ts-flat-files', '-o', tmp, join(root, schema)], { stdio: 'inherit' });
    const outDir = join(root, out);
    mkdirSync(outDir, { recursive: true });
    // A renamed or removed schema must not leave its old output behind.
    for (const name of readdirSync(outDir)) {
      if (name.endsWith('_generated.ts')) rmSync(join(outDir, name));
    }
    for (const name of readdirSync(tmp)) {
      if (!name.endsWith('.ts')) continue;
      const text = readFileSync(join(tmp, name), 'utf8');
      writeFileSync(join(outDir, name), text);
      console.log(`flatc: ${schema} -> ${join(out, name)}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
