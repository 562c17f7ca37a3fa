// The owner of an object dies: killed with SIGKILL while C relays a 256 MiB object from it, the read
// fails with a typed ControlError (the stream does not hang), and later calls for its objects are
// CONTROL_PEER_UNAVAILABLE; its peers keep serving.
import { ControlClient } from '@proxystore/control';
import { ControlError, EndpointConnector } from '@proxystore/endpoint';
import { describe, expect, it } from 'vitest';
import { MiB, freePort, pattern, useProcesses } from './endpoints.js';

const processes = useProcesses();

describe('the owning endpoint killed with SIGKILL', () => {
  it('mid-transfer of a 256 MiB object relayed by A: a typed ControlError, then PEER_UNAVAILABLE', async () => {
    const [pa, pc] = [await freePort(), await freePort()];
    const a = await processes.start({ name: 'A', port: pa, peers: [`127.0.0.1:${pc}`] });
    const owner = await processes.start({ name: 'C', port: pc, peers: [`127.0.0.1:${pa}`] });
    const atOwner = new EndpointConnector({ address: owner.address });
    const key = await atOwner.put([pattern(256 * MiB)]);
    await atOwner.close();

    const client = new ControlClient(a.address);
    try {
      const stream = await client.openGet({ id: key.id, owner: key.endpoint });
      expect(stream?.size).toBe(256 * MiB);
      const reading = (async () => {
        let received = 0;
        for await (const chunk of stream!.chunks) {
          if (received === 0) await owner.kill('SIGKILL');
          received += chunk.byteLength;
        }
        return received;
      })();
      const err = await reading.then(
        (received) => new Error(`the read completed with ${received} bytes`),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ControlError);
      expect(err).toMatchObject({ code: 'CONTROL_PEER_UNAVAILABLE' });
      expect((err as Error).message).toContain(owner.id);

      // The owner is gone: each call about its objects says so, and A itself still serves.
      const atA = new EndpointConnector({ address: a.address });
      try {
        await expect(atA.get(key)).rejects.toMatchObject({ code: 'CONTROL_PEER_UNAVAILABLE' });
        await expect(atA.exists(key)).rejects.toMatchObject({ code: 'CONTROL_PEER_UNAVAILABLE' });
        const own = await atA.put([pattern(10)]);
        expect(await atA.exists(own)).toBe(true);
      } finally {
        await atA.close({ clear: true });
      }
    } finally {
      client.close();
    }
  }, 120_000);
});
