// The ucx_perftest runner: its output parser on real outputs of UCX 1.13.1's ucx_perftest (captured on the
// development VM, in fixtures/ucx-perftest/), the client's command line, and, where ucx_perftest is
// installed, one real measurement per transport.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clientArgs, parsePerftestOutput, perftestUnavailable, runPerftest, which } from './ucx-perftest.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/ucx-perftest/${name}`, import.meta.url), 'utf8');
const MiB = 1024 * 1024;

describe('parsePerftestOutput', () => {
  it('reads the CSV of -f -v: iterations, p50 and overall µs per op, MB/s as MiB/s', () => {
    const r = parsePerftestOutput(fixture('tcp-ucp_get-4MiB-csv.txt'));
    expect(r).toEqual({ iterations: 50, p50Us: 2762.654, overallUs: 2759.657, bytesPerSec: 1449.46 * MiB, opsPerSec: 362 });
    // ucx_perftest's MB is 2^20 bytes: 4 MiB per 2759.657 µs.
    expect((4 * MiB) / (r.overallUs / 1e6)).toBeCloseTo(r.bytesPerSec, -5);
  });

  it('reads the bandwidth tests (overhead per message) the same way', () => {
    const r = parsePerftestOutput(fixture('sm-ucp_am_bw-4MiB-csv.txt'));
    expect(r.iterations).toBe(200);
    expect(r.overallUs).toBe(365.54);
    expect(r.bytesPerSec).toBe(10942.72 * MiB);
  });

  it('reads the table, with -f (no label) and without (the Final: line)', () => {
    expect(parsePerftestOutput(fixture('sm-ucp_get-64KiB-table.txt'))).toEqual({
      iterations: 1000,
      p50Us: 1.169,
      overallUs: 1.219,
      bytesPerSec: 51270.1 * MiB,
      opsPerSec: 820322,
    });
    const r = parsePerftestOutput(fixture('tcp-ucp_am_bw-1MiB-progress.txt'));
    expect(r.iterations).toBe(3000);
    expect(r.overallUs).toBe(138.907);
  });

  it('fails with UCX\'s error lines when there are no numbers', () => {
    expect(() => parsePerftestOutput(fixture('refused.txt'))).toThrow(/connect\(\) failed: Connection refused/);
    expect(() => parsePerftestOutput(fixture('unreachable.txt'))).toThrow(/Destination is unreachable/);
    expect(() => parsePerftestOutput('')).toThrow(/no output/);
  });
});

describe('the client command line', () => {
  it('pins one operation in flight, host memory, and final numbers as CSV', () => {
    expect(clientArgs({ test: 'ucp_get', bytes: 4 * MiB, iterations: 50, warmup: 5 }, 4242).join(' ')).toBe(
      '127.0.0.1 -p 4242 -t ucp_get -s 4194304 -n 50 -w 5 -O 1 -m host -f -v',
    );
    // Waiting on the event fd, as the addon does: -E sleep (the server takes it from the client).
    expect(clientArgs({ test: 'ucp_am_bw', bytes: 4096, iterations: 5, warmup: 1, wait: 'sleep' }, 1).join(' ')).toBe(
      '127.0.0.1 -p 1 -t ucp_am_bw -s 4096 -n 5 -w 1 -O 1 -m host -E sleep -f -v',
    );
  });

  it('which() finds executables on a PATH and nothing elsewhere', () => {
    expect(which('node', `/nonexistent:${process.execPath.replace(/\/node$/, '')}`)).toBe(process.execPath);
    expect(which('ucx_perftest', '/nonexistent')).toBeNull();
  });
});

const unavailable = perftestUnavailable();
describe.skipIf(unavailable !== null)(`ucx_perftest on this machine${unavailable === null ? '' : ` (skipped: ${unavailable})`}`, () => {
  for (const tls of ['tcp', 'sm,self']) {
    it(`measures ucp_get and ucp_am_bw with UCX_TLS=${tls}`, async () => {
      for (const test of ['ucp_get', 'ucp_am_bw'] as const) {
        const r = await runPerftest({ test, bytes: 64 * 1024, iterations: 20, warmup: 2, tls });
        expect(r.iterations).toBe(20);
        expect(r.overallUs).toBeGreaterThan(0);
        expect(r.bytesPerSec).toBeGreaterThan(0);
      }
      const asleep = await runPerftest({ test: 'ucp_am_bw', bytes: 64 * 1024, iterations: 20, warmup: 2, tls, wait: 'sleep' });
      expect(asleep.iterations).toBe(20);
      expect(asleep.overallUs).toBeGreaterThan(0);
    }, 60_000);
  }

  it('says what failed when the transport cannot reach the peer', async () => {
    await expect(runPerftest({ test: 'ucp_get', bytes: 4096, iterations: 2, warmup: 0, tls: 'cma,self' })).rejects.toThrow(
      /UCX_TLS=cma,self.*unreachable/i,
    );
  }, 60_000);
});
