// Limits and cut-off writes against endpoint processes: an oversize put and a put past the memory limit
// are refused with their codes and store nothing; a put aborted mid-stream leaves no object; 32 clients
// at once put, get and evict without an error.
import { ControlClient } from '@proxystore/control';
import { ControlError, EndpointConnector } from '@proxystore/endpoint';
import { afterEach, describe, expect, it } from 'vitest';
import { KiB, MiB, pattern, same, useEndpoint } from './endpoints.js';

const opened: EndpointConnector[] = [];
function connect(address: string): EndpointConnector {
  const c = new EndpointConnector({ address });
  opened.push(c);
  return c;
}
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close({ clear: true }).catch(() => {});
});

async function objects(address: string): Promise<number> {
  const client = new ControlClient(address);
  try {
    return (await client.identity()).objects;
  } finally {
    client.close();
  }
}

describe('maxObjectSize', () => {
  const ep = useEndpoint({ maxObjectSize: 1 * MiB });

  it('a put over it is CONTROL_OBJECT_TOO_LARGE and stores nothing; one at the limit is stored', async () => {
    const c = connect(ep.current.address);
    const before = await objects(ep.current.address);
    const err = await c.put([pattern(MiB - 10), pattern(11)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlError);
    expect(err).toMatchObject({ code: 'CONTROL_OBJECT_TOO_LARGE' });
    expect((err as Error).message).toContain(`${MiB} bytes`);
    expect(await objects(ep.current.address)).toBe(before);
    const key = await c.put([pattern(MiB)]);
    expect(await c.exists(key)).toBe(true);
  });
});

describe('memoryLimit without a storageDir', () => {
  const ep = useEndpoint({ memoryLimit: 1 * MiB });

  it('a put that does not fit is CONTROL_STORAGE_FULL and stores nothing; room is freed by evict', async () => {
    const c = connect(ep.current.address);
    const first = await c.put([pattern(600 * KiB)]);
    const err = await c.put([pattern(600 * KiB)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlError);
    expect(err).toMatchObject({ code: 'CONTROL_STORAGE_FULL' });
    expect(await objects(ep.current.address)).toBe(1);
    await c.evict(first);
    const second = await c.put([pattern(600 * KiB)]);
    expect(await c.exists(second)).toBe(true);
  });
});

describe('a put cut off mid-stream', () => {
  const ep = useEndpoint({ chunkSize: 64 * KiB });

  it('aborted by its signal, rejects with the reason and leaves no object behind', async () => {
    const client = new ControlClient(ep.current.address, { chunkSize: 64 * KiB });
    try {
      const before = (await client.identity()).objects;
      const controller = new AbortController();
      const reason = new Error('stop the upload');
      const id = 'cut-off-put';
      const put = client.put([pattern(64 * MiB)], { id, signal: controller.signal });
      // The first chunks are on their way; most of the 64 MiB is not.
      setImmediate(() => controller.abort(reason));
      await expect(put).rejects.toBe(reason);
      expect(await client.exists({ id })).toBe(false);
      expect(await client.stat({ id })).toBeNull();
      expect((await client.identity()).objects).toBe(before);
    } finally {
      client.close();
    }
  });

  it('aborted through the connector, leaves no object behind', async () => {
    const c = connect(ep.current.address);
    const before = await objects(ep.current.address);
    const controller = new AbortController();
    const put = c.put([pattern(32 * MiB)], { signal: controller.signal });
    setImmediate(() => controller.abort(new Error('no')));
    await expect(put).rejects.toThrow('no');
    expect(await objects(ep.current.address)).toBe(before);
  });
});

describe('32 concurrent clients', () => {
  const ep = useEndpoint();

  it('each with its own connector, putting, reading and evicting at once, see no error and their own bytes', async () => {
    const clients = Array.from({ length: 32 }, () => connect(ep.current.address));
    await Promise.all(
      clients.map(async (c, i) => {
        for (let round = 0; round < 5; round++) {
          const frames = [pattern(1 + ((i * 7919 + round * 104_729) % (256 * KiB))), pattern(i)];
          const key = await c.put(frames);
          const got = await c.get(key);
          expect(same(got?.[0], frames[0]) && same(got?.[1], frames[1])).toBe(true);
          expect(await c.exists(key)).toBe(true);
          await c.evict(key);
          expect(await c.get(key)).toBeNull();
        }
      }),
    );
    expect(await objects(ep.current.address)).toBe(0);
  });
});
