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
