// What a user installs: each publishable package's `exports` must point at files the tarball contains,
// with types first. publint packs each package the way npm would and lints the result.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { describe, expect, it } from 'vitest';

const packagesDir = fileURLToPath(new URL('../packages/', import.meta.url));
const packages = readdirSync(packagesDir);

describe.each(packages)('package %s', (name) => {
  it('passes publint (exports, types, files)', async () => {
    const pkgDir = `${packagesDir}${name}`;
    const { messages, pkg } = await publint({ pkgDir, level: 'suggestion' });
    expect(messages.map((m) => formatMessage(m, pkg))).toEqual([]);
  });
});
