// A peer that registers no active-message handler at all: it sends its worker address to the parent,
// then answers each IPC message: 'stats' with its counters, { region: bytes } with the address and
// packed rkey of a fresh registered region of that many bytes (patterned, seed 7), for the parent to read.
import { fillPattern, ucx } from './common.mjs';

const regions = [];
process.send({ address: Buffer.from(ucx.workerAddress()).toString('base64') });
process.on('message', (m) => {
  if (m?.region !== undefined) {
    const region = ucx.allocate(m.region);
    fillPattern(new Uint8Array(region.buffer, region.byteOffset, m.region), 7);
    regions.push(region);
    process.send({ address: region.address.toString(), rkey: Buffer.from(region.packRkey()).toString('base64') });
    return;
  }
  process.send({ stats: ucx.stats() });
});
