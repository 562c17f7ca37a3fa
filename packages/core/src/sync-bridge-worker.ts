// The sync bridge's worker thread (see sync-bridge.ts). It takes `{ id, config, key }` off its port,
// builds the connector from its config (once per config), runs the connector's async `get`, posts the
// frames back by transfer, and wakes the thread waiting on the shared state. Requests run concurrently:
// a get the caller gave up on (timeout) does not hold up the next one.
import process from 'node:process';
import { workerData } from 'node:worker_threads';
// Registers the built-in connectors, as importing the package does in any other thread.
import './index.js';
import type { Connector, ConnectorConfig } from './connector.js';
import { connectorFromConfigAsync } from './connector-registry.js';
import {
  LAST_WORDS,
  READY,
  RECEIVED,
  SIGNAL,
  framesForTransfer,
  serializeError,
  type BridgeReply,
  type BridgeRequest,
  type BridgeStage,
  type BridgeWorkerData,
} from './sync-bridge-protocol.js';

const { port, state: shared } = workerData as BridgeWorkerData;
const state = new Int32Array(shared);
/** Connectors by config: built once, kept for the life of the worker (a Redis client keeps its connection). */
const connectors = new Map<string, Promise<Connector>>();
let lastUncaught: unknown;

function wake(): void {
  Atomics.add(state, SIGNAL, 1);
  Atomics.notify(state, SIGNAL);
}

/** Posts a reply, then wakes the caller: the message is in the caller's port queue before it wakes. */
function reply(message: BridgeReply, transfer: ArrayBuffer[] = []): void {
  try {
    port.postMessage(message, transfer);
  } catch (err) {
    // A frame that cannot be cloned or transferred: the caller gets the failure, not a silent hang.
    if (message.type === 'dead') throw err;
    port.postMessage({ type: 'error', id: message.id, stage: 'get', error: serializeError(err) } satisfies BridgeReply);
  }
  wake();
}

function connectorFor(config: ConnectorConfig): Promise<Connector> {
  const id = JSON.stringify(config);
  let connector = connectors.get(id);
  if (connector === undefined) {
    const building = connectorFromConfigAsync(config);
    connector = building;
    connectors.set(id, building);
    // A failed build is not cached: the next request tries again (the package may be installed by then).
    building.catch(() => {
      if (connectors.get(id) === building) connectors.delete(id);
    });
  }
  return connector;
}

async function answer(request: BridgeRequest): Promise<void> {
  let stage: BridgeStage = 'connect';
  try {
    const connector = await connectorFor(request.config);
    stage = 'get';
    const frames = await connector.get(request.key);
    if (frames === null) {
      reply({ type: 'frames', id: request.id, frames: null });
    } else {
      const out = framesForTransfer(frames);
      reply({ type: 'frames', id: request.id, frames: out.frames }, out.transfer);
    }
  } catch (err) {
    reply({ type: 'error', id: request.id, stage, error: serializeError(err) });
  }
}

port.on('message', (request: BridgeRequest) => {
  Atomics.add(state, RECEIVED, 1);
  void answer(request);
});
Atomics.store(state, READY, 1);

// A crash (an uncaught error from a client library, `process.exit`) must not leave the caller waiting for
// its whole timeout: the bootstrap's exit handler posts these last words, then marks the state DEAD.
process.on('uncaughtExceptionMonitor', (err) => {
  lastUncaught = err;
});
(globalThis as { [k: symbol]: unknown })[Symbol.for(LAST_WORDS)] = (code: number): BridgeReply => {
  const message: Extract<BridgeReply, { type: 'dead' }> = { type: 'dead', id: 0, code };
  if (lastUncaught !== undefined) message.error = serializeError(lastUncaught);
  return message;
};
