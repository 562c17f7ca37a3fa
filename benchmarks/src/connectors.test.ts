// The endpoint bench connectors against real proxystore-endpoint processes: open gives a working store
// and working raw baselines on the same bytes, close stops every process it started.
import { Store } from '@proxystore/core';
import { describe, expect, it } from 'vitest';
import { type BenchConnector, baselinesOf, endpointBench, endpointPeerBench, endpointUnavailable } from './connectors.js';

const unavailable = await endpointUnavailable();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pids of this process's children (Linux): what a session started and must stop. */
async function children(): Promise<number[]> {
  const { readFileSync, readdirSync } = await import('node:fs');
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) out.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

describe.skipIf(unavailable !== null)(`endpoint bench connectors${unavailable === null ? '' : ` (skipped: ${unavailable})`}`, () => {
  for (const bench of [endpointBench, endpointPeerBench] as BenchConnector[]) {
    it(`${bench.name}: opens a store and two baselines on the same bytes, and close stops what it started`, async () => {
      const before = await children();
      const session = await bench.open();
      const started = (await children()).filter((pid) => !before.includes(pid));
      // The endpoint(s), and a grpc-js and a TCP server (with a relay each for the peer hop).
      expect(started.length).toBe(bench.name === 'endpoint' ? 3 : 6);
      const store = new Store(`test-${bench.name}`, session.connector, { cacheSize: 0 });
      try {
        const data = new Uint8Array(300 * 1024).map((_, i) => i % 251);
        const key = await store.put(data);
        expect(await store.get<Uint8Array>(key)).toEqual(data);
        expect(await store.exists(key)).toBe(true);
        await store.evict(key);
        expect(await store.exists(key)).toBe(false);
        const baselines = baselinesOf(session);
        expect(baselines.map((b) => b.label)).toEqual(['grpc-js', 'tcp']);
        expect(baselines[0]).toBe(session.raw);
        for (const raw of baselines) {
          await raw.put('x', data);
          expect(new Uint8Array(await raw.get('x'))).toEqual(data);
          expect(await raw.exists('x')).toBe(true);
          await raw.evict('x');
          expect(await raw.exists('x')).toBe(false);
          await expect(raw.get('x')).rejects.toThrow(/no object x/);
        }
        if (bench.name === 'endpoint-peer') expect(baselines[0]?.names.get).toMatch(/via a relay/);
      } finally {
        await store.close({ clear: true });
        await session.close();
        await session.close();
      }
      for (const pid of started) expect(alive(pid)).toBe(false);
    }, 60_000);
  }
});
