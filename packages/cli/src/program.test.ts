import { describe, expect, it } from 'vitest';
import { type CliActions, createProgram, version } from './program.js';

interface Parsed {
  calls: [string, ...unknown[]][];
  out: string;
  error?: string;
  exitCode?: number;
}

/** Parses argv with the real commander program and recording actions; commander's exits become errors. */
async function parse(argv: string[]): Promise<Parsed> {
  const calls: Parsed['calls'] = [];
  const record =
    (name: string) =>
    async (...args: unknown[]) => {
      calls.push([name, ...args]);
      return 0;
    };
  const actions: CliActions = {
    configure: record('configure'),
    start: record('start'),
    stop: record('stop'),
    list: record('list'),
    remove: record('remove'),
    test: record('test'),
  };
  let out = '';
  const program = createProgram(actions);
  const capture = { writeOut: (s: string) => void (out += s), writeErr: (s: string) => void (out += s) };
  const all = (c: typeof program): (typeof program)[] => [c, ...c.commands.flatMap(all)];
  for (const command of all(program)) command.exitOverride().configureOutput(capture);
  const saved = process.exitCode;
  try {
    await program.parseAsync(argv, { from: 'user' });
    return { calls, out };
  } catch (error) {
    const exitCode = (error as { exitCode?: number }).exitCode;
    return { calls, out, error: error instanceof Error ? error.message : String(error), ...(exitCode === undefined ? {} : { exitCode }) };
  } finally {
    process.exitCode = saved;
  }
}

describe('proxystore argument parsing', () => {
  it('configure: repeatable --peer, every option passed through as given', async () => {
    const { calls, error } = await parse([
      'endpoint',
      'configure',
      'ep1',
      '--peer',
      'a:1',
      '--peer',
      'b:2',
      '--memory-limit',
      '512MiB',
      '--require-client-cert',
      '--port',
      '7000',
    ]);
    expect(error).toBeUndefined();
    expect(calls).toEqual([['configure', 'ep1', { peer: ['a:1', 'b:2'], memoryLimit: '512MiB', requireClientCert: true, port: '7000' }]]);
  });

  it('start, stop, list, remove and test get their flags and defaults', async () => {
    expect((await parse(['endpoint', 'start', 'ep1'])).calls).toEqual([['start', 'ep1', { detach: false, timeoutMs: 60_000 }]]);
    expect((await parse(['endpoint', 'start', 'ep1', '--detach', '--timeout', '5'])).calls).toEqual([
      ['start', 'ep1', { detach: true, timeoutMs: 5_000 }],
    ]);
    expect((await parse(['endpoint', 'stop', 'ep1'])).calls).toEqual([['stop', 'ep1', { timeoutMs: 10_000 }]]);
    expect((await parse(['endpoint', 'list', '--json'])).calls).toEqual([['list', { json: true }]]);
    expect((await parse(['endpoint', 'remove', 'ep1', '-f'])).calls).toEqual([['remove', 'ep1', { force: true, timeoutMs: 10_000 }]]);
    expect((await parse(['endpoint', 'test', 'ep1', 'put', 'hello'])).calls).toEqual([['test', 'ep1', 'put', 'hello']]);
    expect((await parse(['endpoint', 'test', 'ep1', 'exists'])).calls).toEqual([['test', 'ep1', 'exists', undefined]]);
  });

  it('refuses a bad name, an unknown operation and a bad timeout before any action runs', async () => {
    for (const argv of [
      ['endpoint', 'configure', '../evil'],
      ['endpoint', 'test', 'ep1', 'frobnicate', 'x'],
      ['endpoint', 'stop', 'ep1', '--timeout', 'soon'],
    ]) {
      const { calls, exitCode, out } = await parse(argv);
      expect(calls).toEqual([]);
      expect(exitCode).toBe(1);
      expect(out).toMatch(/error:/);
    }
    expect((await parse(['endpoint', 'configure', '../evil'])).out).toMatch(/invalid endpoint name "..\/evil"/);
  });

  it('unknown commands and options exit 1 with a hint', async () => {
    const unknown = await parse(['frobnicate']);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.out).toMatch(/unknown command 'frobnicate'/);
    const option = await parse(['endpoint', 'list', '--yaml']);
    expect(option.exitCode).toBe(1);
    expect(option.out).toMatch(/unknown option '--yaml'/);
  });

  it('--version prints the package version; --help lists every endpoint command', async () => {
    const v = await parse(['--version']);
    expect(v.out.trim()).toBe(version());
    expect(version()).toMatch(/^\d+\.\d+\.\d+/);
    const help = await parse(['endpoint', '--help']);
    for (const command of ['configure', 'start', 'stop', 'list', 'remove', 'test']) expect(help.out).toContain(command);
  });
});
