import { describe, expect, it } from 'vitest';
import { type CliActions, createProgram } from './cli.js';
import { type BenchConfig, DEFAULT_BROKER_LIMIT, DEFAULT_WORKERS, SUITE_NAMES, formatSize, parseSize, parseSizes } from './config.js';

/** Parses argv with the real commander program; returns what the run action got, or the parse error. */
async function parse(argv: string[]): Promise<{ config?: BenchConfig; report?: [string, string, string]; error?: string; out: string }> {
  const got: { config?: BenchConfig; report?: [string, string, string] } = {};
  let out = '';
  const actions: CliActions = {
    run: async (config) => {
      got.config = config;
      return 0;
    },
    report: async (path, dir, imageDir) => {
      got.report = [path, dir, imageDir];
      return 0;
    },
    list: async () => 0,
  };
  const program = createProgram(actions);
  const capture = { writeOut: (s: string) => void (out += s), writeErr: (s: string) => void (out += s) };
  program.exitOverride().configureOutput(capture);
  for (const command of program.commands) command.exitOverride().configureOutput(capture);
  const saved = process.exitCode;
  try {
    await program.parseAsync(argv, { from: 'user' });
    return { ...got, out };
  } catch (error) {
    return { ...got, error: error instanceof Error ? error.message : String(error), out };
  } finally {
    process.exitCode = saved;
  }
}

describe('proxystore-bench argument parsing', () => {
  it('runs every suite on every connector with per-suite defaults when given nothing', async () => {
    const { config, error } = await parse([]);
    expect(error).toBeUndefined();
    expect(config).toMatchObject({
      quick: false,
      sizes: undefined,
      repeat: undefined,
      suites: [...SUITE_NAMES],
      connectors: [],
      outDir: '',
      json: false,
      progress: true,
      brokerLimit: DEFAULT_BROKER_LIMIT,
      workers: DEFAULT_WORKERS,
    });
  });

  it('`run` is the default command: the same options work with and without it', async () => {
    const a = await parse(['--quick', '--suite', 'ops']);
    const b = await parse(['run', '--quick', '--suite', 'ops']);
    expect(a.config).toEqual(b.config);
    expect(a.config?.quick).toBe(true);
  });

  it('takes suites and connectors as comma lists or repeated flags, in suite order, without duplicates', async () => {
    const { config } = await parse(['--suite', 'serialize,ops', '--suite', 'ops', '--connector', 'file', '--connector', 'memory,file']);
    expect(config?.suites).toEqual(['ops', 'serialize']);
    expect(config?.connectors).toEqual(['file', 'memory']);
  });

  it('accepts the endpoint-qps suite and the endpoint connectors', async () => {
    const { config, error } = await parse(['--suite', 'endpoint-qps', '--connector', 'endpoint,endpoint-peer', '--quick']);
    expect(error).toBeUndefined();
    expect(config?.suites).toEqual(['endpoint-qps']);
    expect(config?.connectors).toEqual(['endpoint', 'endpoint-peer']);
  });

  it('parses sizes, repeat, broker limit, workers, json, out and --no-progress', async () => {
    const { config } = await parse([
      '--sizes',
      '1MiB,4KiB, 1M ,512,10MB',
      '--repeat',
      '7',
      '--broker-limit',
      '1MB',
      '--workers',
      '3',
      '--json',
      '--out',
      '/tmp/bench-out',
      '--no-progress',
    ]);
    expect(config?.sizes).toEqual([512, 4096, 1024 ** 2, 10_000_000]);
    expect(config?.repeat).toBe(7);
    expect(config?.brokerLimit).toBe(1_000_000);
    expect(config?.workers).toBe(3);
    expect(config?.json).toBe(true);
    expect(config?.outDir).toBe('/tmp/bench-out');
    expect(config?.progress).toBe(false);
  });

  it.each([
    [['--suite', 'nope'], /unknown suite nope; known: ops, proxy, task-rtt, memory, serialize/],
    [['--connector', 'redis-ish'], /unknown connector redis-ish; known: memory, file/],
    [['--sizes', '1 parsec'], /Invalid size "1 parsec"/],
    [['--sizes', '0'], /must be at least 1 byte/],
    [['--sizes', ','], /--sizes needs at least one size/],
    [['--repeat', '0'], /--repeat must be a positive integer/],
    [['--repeat', '2.5'], /--repeat must be a positive integer/],
    [['--workers', '-1'], /--workers must be a positive integer|unknown option/],
    [['--bogus'], /unknown option '--bogus'/],
  ])('rejects %j with a clear message and runs nothing', async (argv, message) => {
    const { config, error, out } = await parse(argv);
    expect(config).toBeUndefined();
    expect(`${error ?? ''}\n${out}`).toMatch(message);
  });

  it('`report` takes a results file and defaults its output to the file\'s directory', async () => {
    expect((await parse(['report', '/data/run/results.json'])).report).toEqual(['/data/run/results.json', '/data/run', '.']);
    expect((await parse(['report', '/data/run/results.json', '--out', '/elsewhere', '--image-dir', '../run'])).report).toEqual([
      '/data/run/results.json',
      '/elsewhere',
      '../run',
    ]);
  });

  it('prints help that names every option', async () => {
    const { out } = await parse(['run', '--help']);
    for (const flag of ['--suite', '--connector', '--sizes', '--repeat', '--quick', '--json', '--out', '--broker-limit', '--workers']) {
      expect(out).toContain(flag);
    }
  });
});

describe('sizes', () => {
  it('reads binary and decimal units', () => {
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('64KiB')).toBe(65536);
    expect(parseSize('1k')).toBe(1024);
    expect(parseSize('1.5 MiB')).toBe(1.5 * 1024 ** 2);
    expect(parseSize('2G')).toBe(2 * 1024 ** 3);
    expect(parseSize('10MB')).toBe(10_000_000);
    expect(parseSize('1kB')).toBe(1000);
    expect(parseSize('1GB')).toBe(1e9);
  });

  it('rejects what is not a size', () => {
    for (const bad of ['', 'MiB', '-1', '1 XB', '0.0001', '1e3']) expect(() => parseSize(bad)).toThrow(RangeError);
  });

  it('sorts and deduplicates lists', () => {
    expect(parseSizes('1MiB,1M,1KiB')).toEqual([1024, 1024 ** 2]);
  });

  it('formats sizes in the unit they were most likely given in', () => {
    expect(formatSize(512)).toBe('512 B');
    expect(formatSize(1024)).toBe('1 KiB');
    expect(formatSize(64 * 1024 ** 2)).toBe('64 MiB');
    expect(formatSize(1_427_000)).toBe('1.36 MiB');
    expect(formatSize(10_000_000)).toBe('10 MB');
    expect(formatSize(1000)).toBe('1 kB');
    expect(formatSize(1e9)).toBe('1 GB');
    expect(formatSize(2 * 1024 ** 3)).toBe('2 GiB');
  });
});
