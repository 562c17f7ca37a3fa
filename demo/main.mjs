#!/usr/bin/env node
// `npm run demo`: one producer, several consumer processes. The producer puts a large typed array and a
// structured value in a file-backed store and sends each consumer only the proxies' references over IPC;
// the consumers resolve them just in time and report what came through which path, and how fast.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FileConnector, Store, toReference } from '@proxystore/core';

const { values: args } = parseArgs({
  options: {
    consumers: { type: 'string', default: '3' },
    elements: { type: 'string', default: '10000000' },
    directory: { type: 'string' },
  },
});
const consumers = Number(args.consumers);
const elements = Number(args.elements);
const directory = args.directory ?? mkdtempSync(join(tmpdir(), 'proxystore-demo-'));

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

async function main() {
  const store = new Store('demo', new FileConnector({ directory }));
  try {
    const weights = new Float64Array(elements);
    for (let i = 0; i < elements; i += 1) weights[i] = Math.sin(i);
    let expected = 0;
    for (let i = 0; i < elements; i += 1) expected += weights[i];
    const run = {
      name: 'run-7',
      started: new Date(),
      tags: new Map([['site', 'alpha'], ['kind', 'training']]),
      layers: Array.from({ length: 200 }, (_, i) => ({ id: i, units: 64 + (i % 7) * 32 })),
    };

    const t0 = performance.now();
    const [weightsProxy, runProxy] = await store.proxyBatch([weights, run]);
    const putMs = performance.now() - t0;
    const references = { weights: toReference(weightsProxy), run: toReference(runProxy) };
    const referenceBytes = Buffer.byteLength(JSON.stringify(references));

    console.log(`ProxyStore demo: ${consumers} consumers, file store at ${directory}`);
    console.log(`put ${mib(weights.byteLength)} Float64Array + a structured value in ${putMs.toFixed(1)} ms`);
    console.log(`each consumer receives ${referenceBytes} bytes of references\n`);

    const reports = await Promise.all(
      Array.from({ length: consumers }, (_, i) => runConsumer(i, references)),
    );

    const rows = reports.map((r) => ({
      consumer: r.id,
      'control bytes': r.controlBytes,
      'data bytes': r.dataBytes,
      'weights resolve ms': r.weightsMs.toFixed(2),
      'run resolve ms': r.runMs.toFixed(2),
      'checksum ok': Math.abs(r.sum - expected) < 1e-6 * Math.max(1, Math.abs(expected)),
      layers: r.layers,
    }));
    console.table(rows);
    const control = reports.reduce((s, r) => s + r.controlBytes, 0);
    const data = reports.reduce((s, r) => s + r.dataBytes, 0);
    console.log(`\ncontrol path (references over IPC): ${control} bytes in all`);
    console.log(`data path (file store, read by consumers): ${mib(data)} in all`);
    console.log(`ratio data/control: ${(data / control).toFixed(0)}x`);
    if (!rows.every((r) => r['checksum ok'])) {
      process.exitCode = 1;
      console.error('a consumer saw different data');
    }
  } finally {
    await store.close({ clear: args.directory === undefined });
    if (args.directory === undefined) rmSync(directory, { recursive: true, force: true });
  }
}

function runConsumer(id, references) {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./consumer.mjs', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const message = JSON.stringify({ id, references });
    child.once('message', (report) => {
      child.disconnect();
      resolve({ ...report, controlBytes: Buffer.byteLength(message) });
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`consumer ${id} exited with code ${code}`));
    });
    child.send(JSON.parse(message));
  });
}

await main();
