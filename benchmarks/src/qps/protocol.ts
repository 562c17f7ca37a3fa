// The messages between the endpoint-qps suite and its client processes (qps/client.ts), over Node IPC
// (JSON). The suite tells every client process to open its share of the clients, to prepare objects, to
// run one cell (an op at a payload size for a fixed wall time, starting at an agreed instant), and to
// clean up; each reply is one message.

export const QPS_OPS = ['get', 'put', 'exists', 'evict'] as const;
export type QpsOp = (typeof QPS_OPS)[number];

/** What the clients talk to: an endpoint through EndpointConnector, or the raw grpc-js server. */
export type QpsTarget = 'endpoint' | 'grpc';

export type QpsCommand =
  /** Opens `clients` clients of the target, each on a channel of its own, and makes one call on each. */
  | { type: 'open'; target: QpsTarget; address: string; token: string; chunkSize: number; clients: number }
  /** Each client of the target puts one object of `bytes` bytes: what get and exists read. */
  | { type: 'prepare'; target: QpsTarget; bytes: number }
  /**
   * Every client runs `op` in a closed loop (one call in flight per client) from `startAt` (epoch ms) until
   * `durationMs` later, at least once each. Puts keep their keys; evict removes those, until none is left.
   */
  | { type: 'run'; target: QpsTarget; op: QpsOp; bytes: number; startAt: number; durationMs: number }
  /** Evicts what the clients of the target put (prepared objects and puts left over). */
  | { type: 'cleanup'; target: QpsTarget }
  /** Closes the target's clients. */
  | { type: 'close'; target: QpsTarget };

export interface QpsCellResult {
  /** Calls completed, over this process's clients. */
  ops: number;
  /** Epoch ms when this process's clients started (the agreed instant, or later if it was late). */
  beginAt: number;
  /** Epoch ms when the last call of this process ended. */
  endAt: number;
  /** Every call's latency, ms. */
  latencies: number[];
}

export type QpsReply =
  | { type: 'ready' }
  | { type: 'done'; command: QpsCommand['type'] }
  | { type: 'result'; result: QpsCellResult }
  | { type: 'error'; message: string };

/** Epoch milliseconds with sub-millisecond precision, comparable between processes of one machine. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
