// The owner process of the raw UCX baselines, started by session.ts with the transport's UCX_TLS: it
// holds a registered block of random bytes that the client RMA-gets (raw get), and answers the client's
// pull requests by RMA-getting the client's bytes into a second registered block, and its pushes by
// receiving them into a block of its pool (raw puts: the pull the connector's daemon once used, and the
// push it uses now).
import { randomFillSync } from 'node:crypto';
import { type Endpoint, type MemoryRegion, type RemoteKey, loadNative } from '@proxystore/ucx/native';
import { AM_RAW_PULL, AM_RAW_PULL_DONE, AM_RAW_PUSH, type RemoteBlock, type SetupOptions, digest, fromBase64, toBase64 } from './protocol.js';
import { serveRequests } from './rpc.js';

await serveRequests(async () => {
  const ucx = loadNative();
  let source: MemoryRegion | undefined;
  let pulled: MemoryRegion | undefined;
  let back: { ep: Endpoint; rkey: RemoteKey; address: bigint } | undefined;
  let server: { address: string; close(): Promise<void> } | undefined;
  const empty = new Uint8Array(0);

  ucx.setAmHandler(AM_RAW_PULL, (header) => {
    const length = Number(new DataView(header).getBigUint64(0, true));
    if (back === undefined || pulled === undefined) return;
    const { ep, rkey, address } = back;
    ep.get(pulled, 0, length, address, rkey).then(
      () => ep.amSend(AM_RAW_PULL_DONE, empty, empty),
      (err: Error) => process.stderr.write(`ucx owner: pull of ${length} B failed: ${err.message}\n`),
    );
  });

  ucx.setAmHandler(
    AM_RAW_PUSH,
    (_header, _data, info) => {
      info.region?.release();
      back?.ep.amSend(AM_RAW_PULL_DONE, empty, empty).catch((err: Error) => {
        process.stderr.write(`ucx owner: push answer failed: ${err.message}\n`);
      });
    },
    { receive: 'pool' },
  );

  return {
    info: { pid: process.pid, version: ucx.contextInfo().version },
    handlers: {
      /** Allocates and fills the source block, and the block pulls land in; returns how to reach the source. */
      setup(req): RemoteBlock {
        const { maxBytes } = req as unknown as SetupOptions;
        source = ucx.allocate(maxBytes);
        const bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
        for (let at = 0; at < maxBytes; at += 1 << 30) randomFillSync(bytes, at, Math.min(1 << 30, maxBytes - at));
        pulled = ucx.allocate(maxBytes);
        return { worker: toBase64(ucx.workerAddress()), address: source.address.toString(), rkey: toBase64(source.packRkey()) };
      },
      /** Connects to the client's worker, for pulls from its put source. */
      async connectBack(req) {
        const { block, errorMode } = req as unknown as { block: RemoteBlock; errorMode: SetupOptions['errorMode'] };
        const ep = await ucx.connectAddress(fromBase64(block.worker), { errorMode });
        back = { ep, rkey: ep.unpackRkey(fromBase64(block.rkey)), address: BigInt(block.address) };
        return null;
      },
      /** A UcxServer in this process, as `proxystore-ucx-daemon` runs one: the connector's puts and gets go to it. */
      async serverStart(req) {
        const { token, errorMode } = req as unknown as { token: string; errorMode: SetupOptions['errorMode'] };
        const { DAEMON_SCHED_POLICY, UcxServer } = await import('@proxystore/ucx');
        // Under the scheduling policy the daemon gives itself (its default).
        ucx.setThreadSchedPolicy(DAEMON_SCHED_POLICY);
        server = await UcxServer.start({ tokens: [token], errorMode });
        return { address: server.address };
      },
      digest(req) {
        const { what, bytes } = req as unknown as { what: 'source' | 'pulled'; bytes: number };
        const region = what === 'source' ? source : pulled;
        if (region === undefined) throw new Error('setup first');
        return digest(region.buffer, bytes, region.byteOffset);
      },
    },
    async close() {
      await server?.close();
      if (back !== undefined) await back.ep.close({ force: true });
      source?.unmap();
      pulled?.unmap();
    },
  };
});
