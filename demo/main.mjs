#!/usr/bin/env node
// `npm run demo`: one producer, several consumer processes. The producer puts a large typed array and a
// structured value in a store and sends each consumer only the proxies' references over IPC; the
// consumers resolve them just in time and report what came through which path, and how fast. Three acts:
// a file store on this machine; two peer endpoints standing for two sites (the producer stores at site
// A's endpoint; each consumer talks only to site B's, which fetches from A); and UCX, where the producer
// serves its own objects from registered memory and each consumer pulls them with one RMA get (skipped,
// saying what to install, where the UCX addon is absent).
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FileConnector, Store, toReference } from '@proxystore/core';
import { EndpointConnector } from '@proxystore/endpoint';
import { EndpointProcess } from '@proxystore/endpoint/testing';
import { UcxConnector, ucxAvailability } from '@proxystore/ucx';

const { values: args } = parseArgs({
  options: {
    consumers: { type: 'string', default: '3' },
    elements: { type: 'string', default: '10000000' },
    directory: { type: 'string' },
    transport: { type: 'string', default: 'all' },
  },
});
if (!['all', 'file', 'endpoints', 'ucx'].includes(args.transport)) {
  console.error(`--transport must be all, file, endpoints or ucx, not '${args.transport}'`);
  process.exit(1);
}
const consumers = Number(args.consumers);
const elements = Number(args.elements);

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

function makeValues() {
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
  return { weights, run, expected };
}

/** One act: put through `store`, hand references to the consumers (started with `env`), report. */
async function act(store, { title, dataPath, env = {} }) {
  const { weights, run, expected } = makeValues();
  const t0 = performance.now();
  const [weightsProxy, runProxy] = await store.proxyBatch([weights, run]);
  const putMs = performance.now() - t0;
  const references = { weights: toReference(weightsProxy), run: toReference(runProxy) };
  const referenceBytes = Buffer.byteLength(JSON.stringify(references));

  console.log(`ProxyStore demo: ${consumers} consumers, ${title}`);
  console.log(`put ${mib(weights.byteLength)} Float64Array + a structured value in ${putMs.toFixed(1)} ms`);
  console.log(`each consumer receives ${referenceBytes} bytes of references\n`);

  const reports = await Promise.all(
    Array.from({ length: consumers }, (_, i) => runConsumer(i, references, store.name, env)),
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
  console.log(`data path (${dataPath}): ${mib(data)} in all`);
  console.log(`ratio data/control: ${(data / control).toFixed(0)}x\n`);
  if (!rows.every((r) => r['checksum ok'])) {
    process.exitCode = 1;
    console.error('a consumer saw different data');
  }
}

async function fileAct() {
  const directory = args.directory ?? mkdtempSync(join(tmpdir(), 'proxystore-demo-'));
  const store = new Store('demo', new FileConnector({ directory }));
  try {
    await act(store, { title: `file store at ${directory}`, dataPath: 'file store, read by consumers' });
  } finally {
    await store.close({ clear: args.directory === undefined });
    if (args.directory === undefined) rmSync(directory, { recursive: true, force: true });
  }
}

async function endpointsAct() {
  // Two endpoint processes stand for two sites; they share a token (a file, so it never travels in a
  // reference) and B knows A as a static peer.
  const dir = mkdtempSync(join(tmpdir(), 'proxystore-demo-sites-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  const started = [];
  try {
    const siteA = await EndpointProcess.start({ name: 'site-a', tokenFile });
    started.push(siteA);
    const siteB = await EndpointProcess.start({ name: 'site-b', tokenFile, peers: [siteA.address] });
    started.push(siteB);
    const store = new Store('demo-sites', new EndpointConnector({ address: siteA.address, tokenFile }));
    try {
      await act(store, {
        title: `producer at endpoint site-a (${siteA.address}), consumers at site-b (${siteB.address})`,
        dataPath: 'site-a -> site-b -> consumers, gRPC streams',
        // Each consumer talks to its own site's endpoint, whatever address the reference names.
        env: { PROXYSTORE_ENDPOINT: siteB.address },
      });
    } finally {
      await store.close({ clear: true });
    }
  } finally {
    for (const endpoint of started.reverse()) await endpoint.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function ucxAct() {
  const availability = ucxAvailability();
  if (!availability.available) {
    console.log(`UCX act skipped: ${availability.reason}\n`);
    return;
  }
  // The producer serves its puts itself (mode 'local'): consumers learn its UCX worker address, the
  // object's remote address and rkey from the reference, and read it with one RMA get into pooled
  // registered memory that becomes the array's backing store. UCX_TLS picks the transport (default:
  // whatever UCX finds; tcp between processes here, InfiniBand or RoCE on a cluster).
  const store = new Store('demo-ucx', new UcxConnector({ mode: 'local' }));
  try {
    await act(store, {
      title: `UCX ${availability.info.version} (producer serves; UCX_TLS=${process.env.UCX_TLS ?? 'all'})`,
      dataPath: 'UCX RMA get from the producer',
    });
  } finally {
    await store.close({ clear: true });
  }
}

async function main() {
  const all = args.transport === 'all';
  if (all || args.transport === 'file') await fileAct();
  if (all || args.transport === 'endpoints') await endpointsAct();
  if (all || args.transport === 'ucx') await ucxAct();
}

function runConsumer(id, references, storeName, env) {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./consumer.mjs', import.meta.url), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, ...env },
    });
    const message = JSON.stringify({ id, references, storeName });
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
