// A peer that registers no active-message handler at all: it sends its worker address to the parent,
// then answers each IPC message with its counters. The parent sends it AMs and checks that it is alive.
import { ucx } from './common.mjs';

process.send({ address: Buffer.from(ucx.workerAddress()).toString('base64') });
process.on('message', () => process.send({ stats: ucx.stats() }));
