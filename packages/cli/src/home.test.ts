import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkName, endpointPaths, proxystoreHome } from './home.js';

describe('proxystoreHome', () => {
  it('prefers $PROXYSTORE_HOME, then $XDG_DATA_HOME/proxystore, then ~/.local/share/proxystore', () => {
    expect(proxystoreHome({ PROXYSTORE_HOME: '/srv/ps', XDG_DATA_HOME: '/x' })).toBe('/srv/ps');
    expect(proxystoreHome({ XDG_DATA_HOME: '/x' })).toBe('/x/proxystore');
    expect(proxystoreHome({ PROXYSTORE_HOME: '', XDG_DATA_HOME: '' })).toBe(join(homedir(), '.local', 'share', 'proxystore'));
    expect(proxystoreHome({})).toBe(join(homedir(), '.local', 'share', 'proxystore'));
  });

  it('makes a relative $PROXYSTORE_HOME absolute', () => {
    expect(proxystoreHome({ PROXYSTORE_HOME: 'rel' })).toBe(resolve('rel'));
  });
});

describe('endpoint names and paths', () => {
  it('accepts [A-Za-z0-9_.-]{1,64}', () => {
    for (const name of ['a', 'ep-1', 'site_A.node.3', 'x'.repeat(64)]) expect(checkName(name)).toBe(name);
  });

  it('refuses separators, spaces, dot names, empty and overlong names', () => {
    for (const name of ['', 'a/b', '..', '.', 'a b', 'x'.repeat(65), 'é', 'a\\b']) {
      expect(() => checkName(name)).toThrow(/invalid endpoint name/);
    }
  });

  it('keeps every file of an endpoint in <home>/endpoints/<name>', () => {
    const p = endpointPaths('/h', 'ep1');
    expect(p.dir).toBe('/h/endpoints/ep1');
    expect([p.config, p.token, p.pid, p.status, p.log].map((f) => f.slice(0, p.dir.length + 1))).toEqual(Array(5).fill('/h/endpoints/ep1/'));
    expect(p.config).toBe('/h/endpoints/ep1/endpoint.json');
    expect(p.pid).toBe('/h/endpoints/ep1/endpoint.pid');
  });
});
