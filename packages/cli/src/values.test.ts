import { describe, expect, it } from 'vitest';
import { CliError } from './errors.js';
import { parseAddress, parseHost, parseInteger, parsePort, parseSize } from './values.js';

describe('parseSize', () => {
  it('reads binary and decimal units, bare numbers and fractions', () => {
    expect(parseSize('512MiB')).toBe(512 * 1024 * 1024);
    expect(parseSize('1GB')).toBe(1e9);
    expect(parseSize('64k')).toBe(64 * 1024);
    expect(parseSize('2 GiB')).toBe(2 * 1024 ** 3);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('1.5KiB')).toBe(1536);
    expect(parseSize('1TB')).toBe(1e12);
  });

  it('refuses junk, unknown units and zero with a message naming the option', () => {
    for (const text of ['', 'abc', '12 parsecs', '-1', '0', '1e3']) {
      expect(() => parseSize(text, '--memory-limit')).toThrow(CliError);
    }
    expect(() => parseSize('12 parsecs', '--memory-limit')).toThrow(/--memory-limit "12 parsecs"/);
  });
});

describe('ports, integers, addresses and hosts', () => {
  it('accepts ports 0 to 65535 only', () => {
    expect(parsePort('0')).toBe(0);
    expect(parsePort('65535')).toBe(65535);
    for (const bad of ['65536', '-1', '1.5', 'http', '']) expect(() => parsePort(bad)).toThrow(/--port/);
  });

  it('parseInteger keeps to its range', () => {
    expect(parseInteger('7', 'n', 1, 10)).toBe(7);
    expect(() => parseInteger('11', 'n', 1, 10)).toThrow(/from 1 to 10/);
  });

  it('accepts host:port and [v6]:port, nothing else', () => {
    expect(parseAddress('node1.example.org:7000', '--peer')).toBe('node1.example.org:7000');
    expect(parseAddress(' 10.0.0.2:1 ', '--peer')).toBe('10.0.0.2:1');
    expect(parseAddress('[::1]:9000', '--peer')).toBe('[::1]:9000');
    for (const bad of ['node1', 'node1:0', 'node1:70000', 'http://node1:80', '::1:80', 'a b:80']) {
      expect(() => parseAddress(bad, '--peer')).toThrow(/--peer/);
    }
  });

  it('accepts host names and IP addresses to listen on', () => {
    expect(parseHost('0.0.0.0')).toBe('0.0.0.0');
    expect(parseHost('::')).toBe('::');
    expect(parseHost('localhost')).toBe('localhost');
    expect(() => parseHost('localhost:80')).toThrow(/--host/);
    expect(() => parseHost('')).toThrow(/--host/);
  });
});
