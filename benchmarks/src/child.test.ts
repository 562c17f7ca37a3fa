import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { childScript } from './child.js';

describe('childScript', () => {
  it('maps a script next to a source module to its built copy in dist/', () => {
    const path = childScript(import.meta.url, './main');
    expect(path).toBe(fileURLToPath(new URL('../dist/main.js', import.meta.url)));
  });

  it('leaves a built module\'s path alone', () => {
    const built = new URL('../dist/cli.js', import.meta.url).href;
    expect(childScript(built, './main')).toBe(fileURLToPath(new URL('../dist/main.js', import.meta.url)));
  });

  it('says to build first when the script is missing', () => {
    expect(() => childScript(import.meta.url, './no-such-script')).toThrow(/build the benchmarks first/);
  });
});
