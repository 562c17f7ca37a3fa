// The UCX measuring processes for real, on both transports, where the addon, @proxystore/ucx and
// ucx_perftest are here: they connect, move the same bytes both ways, and time batches of each
// implementation. No timing assertions.
import { describe, expect, it } from 'vitest';
import { benchToken } from '../connectors.js';
import { probeUcx, ucxUnavailable } from './bench.js';
import { ENV_DAEMON_POLL, UCX_TRANSPORTS, UcxRawSession, ownerEnv, ownerPollUs } from './session.js';

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

describe('the owner\'s poll window', () => {
  it('PROXYSTORE_BENCH_DAEMON_POLL_US sets the owner\'s alone; unset, it inherits PROXYSTORE_UCX_POLL_US', () => {
    expect(ownerPollUs({})).toBe(0);
    expect(ownerPollUs({ PROXYSTORE_UCX_POLL_US: '2000' })).toBe(2000);
    expect(ownerPollUs({ PROXYSTORE_UCX_POLL_US: '2000', [ENV_DAEMON_POLL]: '1000' })).toBe(1000);
    expect(ownerPollUs({ PROXYSTORE_UCX_POLL_US: '2000', [ENV_DAEMON_POLL]: '0' })).toBe(0);
    const env = ownerEnv(UCX_TRANSPORTS.sm, { PATH: '/bin', [ENV_DAEMON_POLL]: '1000' });
    expect(env.PROXYSTORE_UCX_POLL_US).toBe('1000');
    expect(env.UCX_TLS).toBe('sm,self');
    expect(env.PATH).toBe('/bin');
    expect(ownerEnv(UCX_TRANSPORTS.tcp, { PATH: '/bin', PROXYSTORE_UCX_POLL_US: '2000' }).PROXYSTORE_UCX_POLL_US).toBe('2000');
    expect(ownerEnv(UCX_TRANSPORTS.tcp, { PATH: '/bin' }).PROXYSTORE_UCX_POLL_US).toBeUndefined();
  });

  it('refuses a value that is not a whole number of microseconds up to a second, naming the variable', () => {
    for (const bad of ['1ms', '-5', '1.5', '2000000']) {
      expect(() => ownerPollUs({ [ENV_DAEMON_POLL]: bad })).toThrow(`${ENV_DAEMON_POLL} must be a whole number of microseconds from 0 to 1000000, not '${bad}'`);
    }
  });
});
