// The one error class of the UCX transport: a ConnectorError (from core) with a stable `code`. Failures
// of the native addon keep their code (UCX_PEER_GONE, UCX_TIMEOUT, ...) and become the `cause`; the
// connector adds the codes that only it can tell (a malformed descriptor, a daemon's refusal).
import { ConnectorError } from '@proxystore/core';

export const UcxErrorCode = {
  /** The native addon is not installed or not built here; the message says what to install. */
  NOT_AVAILABLE: 'UCX_NOT_AVAILABLE',
  /** The serving process died or dropped the connection during the operation. */
  PEER_GONE: 'UCX_PEER_GONE',
  /** No UCX connection could be made to the serving process (wrong address, no common transport). */
  UNREACHABLE: 'UCX_UNREACHABLE',
  /** The operation did not finish within `timeoutMs` (with errorMode 'none', how a dead peer shows). */
  TIMEOUT: 'UCX_TIMEOUT',
  /** The operation was cancelled (its endpoint was closed under it). */
  CANCELED: 'UCX_CANCELED',
  /** An operation on an endpoint or region that is already closed. */
  CLOSED: 'UCX_CLOSED',
  /** Registered memory still in use by an RMA operation. */
  BUSY: 'UCX_BUSY',
  /** A key whose descriptor is not a valid UCX object descriptor (truncated, garbled, inconsistent). */
  BAD_KEY: 'UCX_BAD_KEY',
  /** GPU memory (a CUDA descriptor or buffer): this build moves host memory only. */
  MEMORY_TYPE_UNSUPPORTED: 'UCX_MEMORY_TYPE_UNSUPPORTED',
  /** The daemon refused or failed a put (storage full, object too large, wrong token, ...). */
  DAEMON: 'UCX_DAEMON',
  /** Any other UCX failure. */
  ERROR: 'UCX_ERROR',
} as const;

export type UcxErrorCode = (typeof UcxErrorCode)[keyof typeof UcxErrorCode];

const CODES = new Set<string>(Object.values(UcxErrorCode));

/** A failure of the UCX transport; `code` is one of UcxErrorCode, `cause` the native error if any. */
export class UcxError extends ConnectorError {
  /** The UCS status name of the native failure (e.g. 'UCS_ERR_ENDPOINT_TIMEOUT'), when there was one. */
  readonly status: string | undefined;
  /** For UCX_DAEMON: the code the daemon gave (e.g. 'CONTROL_STORAGE_FULL'). */
  readonly reason: string | undefined;

  constructor(code: UcxErrorCode, message: string, options?: { cause?: unknown; status?: string; reason?: string }) {
    super(message, { code, ...(options?.cause === undefined ? {} : { cause: options.cause }) });
    this.status = options?.status;
    this.reason = options?.reason;
  }

  declare readonly code: UcxErrorCode;
}

/** True for an error of this transport (also across copies of the package, by name and code). */
export function isUcxError(err: unknown): err is UcxError {
  return (
    err instanceof UcxError ||
    (err instanceof Error && err.name === 'UcxError' && CODES.has((err as { code?: string }).code ?? ''))
  );
}

/**
 * Any failure of a native call as a UcxError: `what` says which operation on what ("get of <id> from
 * server <id>"). A UcxError passes through; a native error keeps its code; anything else is UCX_ERROR.
 */
export function toUcxError(what: string, err: unknown): UcxError {
  if (err instanceof UcxError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const status = (err as { status?: unknown } | null)?.status;
  const message = err instanceof Error ? err.message : String(err);
  const ucxCode: UcxErrorCode = typeof code === 'string' && CODES.has(code) ? (code as UcxErrorCode) : UcxErrorCode.ERROR;
  return new UcxError(ucxCode, `${what}: ${message}`, {
    cause: err,
    ...(typeof status === 'string' ? { status } : {}),
  });
}
