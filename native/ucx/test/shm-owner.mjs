// Owner role of the same-host cases (shm.mjs): exposes pooled memfd blocks filled with a pattern and
// trims them on request, shows what a peerWrite left in them, answering over IPC with what a descriptor would carry.
import { fillPattern, ucx } from './common.mjs';

const regions = new Map();
let next = 1;

process.on('message', (m) => {
  try {
    if (m.type === 'expose') {
      const r = ucx.acquire(m.size);
      fillPattern(new Uint8Array(r.buffer), m.seed);
      const id = next++;
      regions.set(id, r);
      process.send({ seq: m.seq, id, shm: r.shm && { ...r.shm, inode: r.shm.inode.toString() } });
    } else if (m.type === 'read') {
      // What a peerWrite left in the block: `length` bytes at `offset`, base64.
      const r = regions.get(m.id);
      process.send({ seq: m.seq, bytes: Buffer.from(r.buffer, m.offset, m.length).toString('base64') });
    } else if (m.type === 'trim') {
      // Release the block and trim every idle block at once: its pages go back (hole punch).
      regions.get(m.id).release();
      regions.delete(m.id);
      ucx.configurePool({ maxIdleBytes: 0, idleWindowMs: 0 });
      process.send({ seq: m.seq, trimmed: ucx.stats().poolTrimmedBytes });
    }
  } catch (err) {
    process.send({ seq: m.seq, error: `${err.code ?? ''} ${err.message}` });
  }
});

const id = ucx.processIdentity();
process.send({ seq: 0, pid: id.pid, startTime: id.startTime.toString(), hostId: id.hostId });
