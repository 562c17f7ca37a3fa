// The one error class of the task service. Every failure a submitter may handle (the broker refused the
// message, the worker died, the task threw) reaches it as a BrokerError with a stable code; errors made
// in the broker or a worker cross the wire as { code, message, details } and are rebuilt here.
import { ProxyStoreError } from '@proxystore/proxy';

export type BrokerErrorCode =
  /** A task or result message (header + meta + payload) is larger than the broker's limit. */
  | 'BROKER_MESSAGE_TOO_LARGE'
  /** A frame that does not follow protocol.ts (bad magic, version, kind, lengths or meta). */
  | 'BROKER_PROTOCOL_ERROR'
  /** The worker running the task disconnected (crashed, was killed) before returning a result. */
  | 'BROKER_WORKER_LOST'
  /** No worker is connected, so the task cannot run (it is failed rather than queued forever). */
  | 'BROKER_NO_WORKERS'
  /** The connection to the broker closed while the task was pending. */
  | 'BROKER_DISCONNECTED'
  /** The submitter's own deadline passed. */
  | 'TASK_TIMEOUT'
  /** The task threw in the worker; `details.remoteCode` / `remoteName` say what it threw. */
  | 'TASK_FAILED';

const CODES: ReadonlySet<string> = new Set<BrokerErrorCode>([
  'BROKER_MESSAGE_TOO_LARGE',
  'BROKER_PROTOCOL_ERROR',
  'BROKER_WORKER_LOST',
  'BROKER_NO_WORKERS',
  'BROKER_DISCONNECTED',
  'TASK_TIMEOUT',
  'TASK_FAILED',
]);

/** Extra facts of an error, JSON-safe so they survive the wire (message sizes, the limit, a remote code). */
export type BrokerErrorDetails = Record<string, string | number | boolean>;

export class BrokerError extends ProxyStoreError {
  declare readonly code: BrokerErrorCode;
  readonly details: BrokerErrorDetails;

  constructor(code: BrokerErrorCode, message: string, options: { details?: BrokerErrorDetails; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = options.details ?? {};
  }

  /** The form an error frame carries (see protocol.ts `FrameKind.Error`). */
  toWire(): { code: BrokerErrorCode; message: string; details: BrokerErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }

  /** Rebuilds an error from an error frame's meta; anything unrecognisable becomes a protocol error. */
  static fromWire(meta: Record<string, unknown>): BrokerError {
    const { code, message, details } = meta;
    if (typeof code !== 'string' || !CODES.has(code) || typeof message !== 'string') {
      return new BrokerError('BROKER_PROTOCOL_ERROR', `Malformed error frame: ${JSON.stringify(meta).slice(0, 200)}`);
    }
    const clean: BrokerErrorDetails = {};
    if (typeof details === 'object' && details !== null) {
      for (const [k, v] of Object.entries(details)) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') clean[k] = v;
      }
    }
    return new BrokerError(code as BrokerErrorCode, message, { details: clean });
  }
}

/** True for a BrokerError with `code` (also one from another copy of this module, by name and code). */
export function isBrokerError(value: unknown, code?: BrokerErrorCode): value is BrokerError {
  const ok =
    value instanceof BrokerError ||
    (value instanceof Error && value.name === 'BrokerError' && typeof (value as { code?: unknown }).code === 'string');
  return ok && (code === undefined || (value as BrokerError).code === code);
}
