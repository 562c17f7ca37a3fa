import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configureEndpoint } from '../config.js';
import { acquirePidFile, writeStatus } from '../daemon.js';
import { endpointPaths } from '../home.js';
import { formatTable, listEndpoints } from './list.js';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'proxystore-cli-list-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

describe('endpoint list', () => {
  it('is empty for a home that does not exist yet', () => {
    expect(listEndpoints(join(home, 'nothing'))).toEqual([]);
  });

  it('lists configured endpoints by name with their state; skips directories that are not endpoints', () => {
    const b = configureEndpoint(endpointPaths(home, 'b'), {}, home).config;
    const a = configureEndpoint(endpointPaths(home, 'a'), {}, home).config;
    mkdirSync(join(home, 'endpoints', 'junk'));
    const pa = endpointPaths(home, 'a');
    acquirePidFile(pa, process.pid);
    writeStatus(pa, { name: 'a', id: a.id ?? '', address: '127.0.0.1:7000', pid: process.pid, started: '' });
    expect(listEndpoints(home)).toEqual([
      { name: 'a', id: a.id, address: '127.0.0.1:7000', status: 'running', pid: process.pid },
      { name: 'b', id: b.id, address: null, status: 'stopped', pid: null },
    ]);
  });

  it('a broken config is listed with a warning rather than hiding the others', () => {
    configureEndpoint(endpointPaths(home, 'ok'), {}, home);
    mkdirSync(join(home, 'endpoints', 'bad'));
    writeFileSync(join(home, 'endpoints', 'bad', 'endpoint.json'), '{');
    const warnings: string[] = [];
    const rows = listEndpoints(home, (w) => warnings.push(w));
    expect(rows.map((r) => [r.name, r.id === null])).toEqual([
      ['bad', true],
      ['ok', false],
    ]);
    expect(warnings.join('')).toMatch(/not valid JSON/);
  });

  it('formats an aligned table with dashes for missing values', () => {
    const table = formatTable([
      { name: 'a', id: 'x', address: '127.0.0.1:7000', status: 'running', pid: 42 },
      { name: 'longer-name', id: null, address: null, status: 'stopped', pid: null },
    ]);
    expect(table.split('\n')).toEqual([
      'NAME         ID  ADDRESS         STATUS   PID',
      'a            x   127.0.0.1:7000  running  42',
      'longer-name  -   -               stopped  -',
      '',
    ]);
  });
});
