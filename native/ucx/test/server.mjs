// Server role: listens on loopback, echoes active messages, serves a registered 64 MiB region (read by
// get, written by put and checked on request), and on
// request stops progressing (blocks its thread) so the driver can kill it mid-operation.
import { AM, checkPattern, fillPattern, json, parse, ucx } from './common.mjs';

const REGION_BYTES = 64 << 20;
let region;

ucx.setAmHandler(AM.echo, (header, data, info) => {
  const reply = { ...parse(header), serverSawRndv: info.rndv };
  info.endpoint.amSend(AM.echo, json(reply), data).catch((err) => console.error('echo reply failed', err));
});

ucx.setAmHandler(AM.regionRequest, (header, _data, info) => {
  const { seed } = parse(header);
  region ??= ucx.allocate(REGION_BYTES);
  fillPattern(new Uint8Array(region.buffer), seed);
  const descriptor = { address: region.address.toString(), length: region.byteLength };
  info.endpoint.amSend(AM.regionReply, json(descriptor), region.packRkey());
});

// Checks bytes a peer wrote into the region with put: replies the first differing word, or -1.
ucx.setAmHandler(AM.check, (header, _data, info) => {
  const { seed, offset, length } = parse(header);
  const bad = checkPattern(new Uint8Array(region.buffer, offset, length), seed);
  info.endpoint.amSend(AM.checkReply, json({ bad }), null);
});

// Pooled receives: checks the data in place, keeps the region (registered storage a peer reads by RMA)
// and answers with its address and rkey; AM.pooledRelease gives it back.
const kept = new Map();
ucx.setAmHandler(AM.pooled, (header, data, info) => {
  const { seq, seed } = parse(header);
  const region = info.region;
  const reply = { seq, rndv: info.rndv, pooled: region?.pooled === true, length: data.byteLength };
  if (region === undefined) {
    info.endpoint.amSend(AM.pooledReply, json(reply), null);
    return;
  }
  reply.sameBuffer = region.buffer === data && region.byteLength === data.byteLength;
  reply.bad = checkPattern(new Uint8Array(data, 0, data.byteLength & ~3), seed);
  reply.address = region.address.toString();
  kept.set(seq, region);
  info.endpoint.amSend(AM.pooledReply, json(reply), region.packRkey());
}, { receive: 'pool' });

ucx.setAmHandler(AM.pooledRelease, (header, _data, info) => {
  const { seq } = parse(header);
  const region = kept.get(seq);
  kept.delete(seq);
  const before = ucx.stats().poolInUseBytes;
  region.release();
  const after = ucx.stats().poolInUseBytes;
  info.endpoint.amSend(AM.statsReply, json({ detached: region.buffer.byteLength === 0, returned: before - after }), null);
});

// A pooled slot nobody handles: its messages are dropped before a block is taken.
ucx.setAmHandler(AM.pooledVoid, null, { receive: 'pool' });

// A placed slot: the header starts with the block's length and the data's offset (u64 LE each), then
// the sender's JSON. Messages it cannot take still reach it, with info.dropped saying why.
ucx.setAmHandler(AM.placed, (header, _data, info) => {
  const { seq } = parse(new Uint8Array(header, 16));
  const reply = { seq, dropped: info.dropped ?? null, region: info.region?.byteLength ?? null };
  info.region?.release();
  info.endpoint.amSend(AM.placedReply, json(reply), null);
}, { receive: 'placed', maxBlock: 1 << 20 });

ucx.setAmHandler(AM.stats, (_header, _data, info) => {
  info.endpoint.amSend(AM.statsReply, json(ucx.stats()), null);
});

ucx.setAmHandler(AM.stall, () => {
  process.send({ type: 'stalled' }, () => {
    // Sleep without progressing UCX until the driver kills us.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  });
});

const errorMode = process.env.UCX_TEST_SHM === '1' ? 'none' : 'peer';
const listener = ucx.listen({ host: '127.0.0.1', port: 0, errorMode }, (endpoint) => {
  endpoint.onError(() => {});
});

process.on('message', (msg) => {
  // Exit with the listener and endpoints still open: teardown must not crash.
  if (msg.type === 'exit') process.exit(0);
});

process.send({
  type: 'ready',
  port: listener.port,
  address: Buffer.from(ucx.workerAddress()).toString('base64'),
});
