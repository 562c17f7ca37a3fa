import { describe, expect, it } from 'vitest';
import { DEFAULT_SIZES, QUICK_SIZES, formatSize, parseConfig, parseSize } from './config.js';

const defaults = { outDir: '/results' };

describe('parseConfig', () => {
  it('runs the full size list by default and writes to the default directory', () => {
    expect(parseConfig([], defaults)).toEqual({
      quick: false,
      sizes: [...DEFAULT_SIZES],
      outDir: '/results',
      json: false,
      suites: [],
      help: false,
    });
  });

  it('--quick switches to the quick sizes', () => {
    const config = parseConfig(['--quick'], defaults);
    expect(config.quick).toBe(true);
    expect(config.sizes).toEqual([1024, 1024 ** 2, 16 * 1024 ** 2]);
    expect(config.sizes).toEqual([...QUICK_SIZES]);
  });

  it('--sizes overrides the sizes (also with --quick), sorted and without duplicates', () => {
    const config = parseConfig(['--quick', '--sizes', '1MiB,4KiB, 1M ,512'], defaults);
    expect(config.quick).toBe(true);
    expect(config.sizes).toEqual([512, 4096, 1024 ** 2]);
    expect(parseConfig(['--sizes=64KiB'], defaults).sizes).toEqual([65536]);
  });

  it('takes --out, --json and repeated --suite', () => {
    const config = parseConfig(['--out', '/tmp/x', '--json', '--suite', 'ops', '--suite', 'proxy'], defaults);
    expect(config).toMatchObject({ outDir: '/tmp/x', json: true, suites: ['ops', 'proxy'] });
  });

  it('rejects bad sizes and unknown options', () => {
    expect(() => parseConfig(['--sizes', '12 parsecs'], defaults)).toThrow(RangeError);
    expect(() => parseConfig(['--sizes', ','], defaults)).toThrow(RangeError);
    expect(() => parseConfig(['--fast'], defaults)).toThrow(TypeError);
  });
});

describe('sizes', () => {
  it('parses binary units, case-insensitively, with K/M/G as KiB/MiB/GiB', () => {
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('1kib')).toBe(1024);
    expect(parseSize('64K')).toBe(65536);
    expect(parseSize('1.5MiB')).toBe(1.5 * 1024 ** 2);
    expect(parseSize('1G')).toBe(1024 ** 3);
    expect(() => parseSize('0')).toThrow(RangeError);
  });
  it('formats exact sizes exactly and others to three digits', () => {
    expect(formatSize(1024)).toBe('1 KiB');
    expect(formatSize(64 * 1024 ** 2)).toBe('64 MiB');
    expect(formatSize(1000)).toBe('1000 B');
    expect(formatSize(1430539)).toBe('1.36 MiB');
  });
});
