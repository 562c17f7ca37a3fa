// The UCX measuring processes for real, on both transports, where the addon, @proxystore/ucx and
// ucx_perftest are here: they connect, move the same bytes both ways, and time batches of each
// implementation. No timing assertions.
import { describe, expect, it } from 'vitest';
import { benchToken } from '../connectors.js';
import { probeUcx, ucxUnavailable } from './bench.js';
import { UCX_TRANSPORTS, UcxRawSession } from './session.js';

const unavailable = await ucxUnavailable();

describe.skipIf(unavailable !== null)(`UCX measuring processes${unavailable === null ? '' : ` (skipped: ${unavailable})`}`, () => {
  for (const transport of [UCX_TRANSPORTS.tcp, UCX_TRANSPORTS.sm]) {
    it(`UCX_TLS=${transport.tls}: raw get, pull-put and push-put, the store's get and put, each checked and timed`, async () => {
      const session = await UcxRawSession.start(transport, 1024 * 1024);
      try {
        await session.check(64 * 1024);
        await session.startConnector(benchToken());
        await session.prepareConnector(64 * 1024);
        for (const impl of ['rma-get', 'pull-put', 'push-put', 'connector-get', 'connector-get-release', 'connector-getsync-release', 'connector-put'] as const) {
          const r = await session.run(impl, 64 * 1024, 3, 1);
          expect(r.calls).toBe(3);
          expect(r.msPerOp).toBeGreaterThan(0);
          expect(r.p50Ms).toBeGreaterThan(0);
        }
        // A size beyond what was registered is refused, not read out of bounds.
        await expect(session.run('rma-get', 2 * 1024 * 1024, 1, 0)).rejects.toThrow();
      } finally {
        await session.stop();
      }
      expect(session.client.child.exitCode !== null || session.client.child.signalCode !== null).toBe(true);
    }, 60_000);
  }
});

describe('without the addon', () => {
  it('the UCX connectors are unavailable, saying what to install', async () => {
    const reason = await probeUcx({ ...process.env, PROXYSTORE_UCX_DISABLE: '1' });
    expect(reason).toMatch(/apt-get install libucx-dev/);
  }, 30_000);
});
