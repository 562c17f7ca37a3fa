// What a failed control-plane call becomes: a ConnectorError (from core) with a stable code, the gRPC status
// kept beside it, and the grpc-js error as `cause`. The server names the code in a trailer, so a client
// tells "storage full" from "object too large" without parsing messages.
import { status as GrpcStatus, Metadata, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { ConnectorError } from '@proxystore/core';
import type { ProxyStoreErrorOptions } from '@proxystore/proxy';

export const ControlErrorCode = {
  /** The call had no bearer token, or the wrong one. */
  UNAUTHENTICATED: 'CONTROL_UNAUTHENTICATED',
  /** The endpoint cannot be reached, or the connection dropped mid-call (refused, reset, TLS failure). */
  UNAVAILABLE: 'CONTROL_UNAVAILABLE',
  /** The call's deadline passed. */
  TIMEOUT: 'CONTROL_TIMEOUT',
  /** The object is larger than the endpoint's maximum object size; none of it was stored. */
  OBJECT_TOO_LARGE: 'CONTROL_OBJECT_TOO_LARGE',
  /** The endpoint's storage has no room for the object; none of it was stored. */
  STORAGE_FULL: 'CONTROL_STORAGE_FULL',
  /** The endpoint is serving its maximum number of concurrent streams. */
  BUSY: 'CONTROL_BUSY',
  /** The owner of an object is not an endpoint this one knows (not a peer, not in the directory). */
  PEER_UNKNOWN: 'CONTROL_PEER_UNKNOWN',
  /** The owner of an object is known but cannot be reached, or failed while forwarding. */
  PEER_UNAVAILABLE: 'CONTROL_PEER_UNAVAILABLE',
  /** A put stream ended, or was cut off, before every declared byte arrived; nothing was stored. */
  INCOMPLETE: 'CONTROL_INCOMPLETE',
  /** A message that is not a valid control-plane flatbuffer, or a stream in the wrong order. */
  PROTOCOL: 'CONTROL_PROTOCOL',
  /** A request the server refuses as malformed (a bad id, a frame layout out of range). */
  INVALID_ARGUMENT: 'CONTROL_INVALID_ARGUMENT',
  /** The call was cancelled by the other side. */
  CANCELLED: 'CONTROL_CANCELLED',
  /** The server failed while serving the call. */
  INTERNAL: 'CONTROL_INTERNAL',
} as const;

export type ControlErrorCode = (typeof ControlErrorCode)[keyof typeof ControlErrorCode];

/** The trailer in which a server names the ControlErrorCode of a failed call. */
export const CODE_TRAILER = 'proxystore-code';

const DEFAULT_STATUS: Record<ControlErrorCode, GrpcStatus> = {
  CONTROL_UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  CONTROL_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  CONTROL_TIMEOUT: GrpcStatus.DEADLINE_EXCEEDED,
  CONTROL_OBJECT_TOO_LARGE: GrpcStatus.RESOURCE_EXHAUSTED,
  CONTROL_STORAGE_FULL: GrpcStatus.RESOURCE_EXHAUSTED,
  CONTROL_BUSY: GrpcStatus.RESOURCE_EXHAUSTED,
  CONTROL_PEER_UNKNOWN: GrpcStatus.NOT_FOUND,
  CONTROL_PEER_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  CONTROL_INCOMPLETE: GrpcStatus.DATA_LOSS,
  CONTROL_PROTOCOL: GrpcStatus.INVALID_ARGUMENT,
  CONTROL_INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  CONTROL_CANCELLED: GrpcStatus.CANCELLED,
  CONTROL_INTERNAL: GrpcStatus.INTERNAL,
};

function isControlCode(value: unknown): value is ControlErrorCode {
  return typeof value === 'string' && Object.hasOwn(DEFAULT_STATUS, value);
}

/** A control-plane failure. `grpcStatus` is the status the call ended with. */
export class ControlError extends ConnectorError {
  readonly grpcStatus: GrpcStatus;

  constructor(
    code: ControlErrorCode,
    message: string,
    options?: ProxyStoreErrorOptions & { grpcStatus?: GrpcStatus },
  ) {
    super(message, { ...options, code });
    this.grpcStatus = options?.grpcStatus ?? DEFAULT_STATUS[code];
  }

  /** The status object a server ends a call with for this error (code in the trailer). */
  toStatus(): Partial<StatusObject> {
    const metadata = new Metadata();
    metadata.set(CODE_TRAILER, this.code);
    return { code: this.grpcStatus, details: this.message, metadata };
  }
}

/** True for a grpc-js call error (a ServiceError). */
function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number' && 'details' in err;
}

/**
 * A client-side error as a ControlError: `what` names the call ("get of abc at 127.0.0.1:7000"). A code the
 * server named in the trailer wins; otherwise the gRPC status decides.
 */
export function toControlError(what: string, err: unknown): ControlError {
  if (err instanceof ControlError) return err;
  if (!isServiceError(err)) {
    const message = err instanceof Error ? err.message : String(err);
    return new ControlError(ControlErrorCode.INTERNAL, `${what} failed: ${message}`, { cause: err });
  }
  const named = err.metadata?.get(CODE_TRAILER)[0];
  const details = err.details || err.message;
  if (isControlCode(named)) {
    return new ControlError(named, `${what}: ${details}`, { cause: err, grpcStatus: err.code });
  }
  switch (err.code) {
    case GrpcStatus.UNAUTHENTICATED:
      return new ControlError(ControlErrorCode.UNAUTHENTICATED, `${what}: ${details}`, { cause: err });
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new ControlError(ControlErrorCode.TIMEOUT, `${what}: deadline exceeded (${details})`, { cause: err });
    case GrpcStatus.UNAVAILABLE:
      return new ControlError(ControlErrorCode.UNAVAILABLE, `${what}: endpoint unavailable (${details})`, {
        cause: err,
      });
    case GrpcStatus.CANCELLED:
      return new ControlError(ControlErrorCode.CANCELLED, `${what}: cancelled (${details})`, { cause: err });
    case GrpcStatus.RESOURCE_EXHAUSTED:
      // A message over the channel's size limit, before any handler ran.
      return new ControlError(ControlErrorCode.PROTOCOL, `${what}: ${details}`, {
        cause: err,
        grpcStatus: err.code,
      });
    case GrpcStatus.INTERNAL:
      // grpc-js reports a failed deserialize, or a stream that closed without status, as INTERNAL.
      return new ControlError(
        /Received RST_STREAM|Connection dropped|ECONNRESET|socket/i.test(details)
          ? ControlErrorCode.UNAVAILABLE
          : ControlErrorCode.INTERNAL,
        `${what}: ${details}`,
        { cause: err, grpcStatus: err.code },
      );
    default:
      return new ControlError(ControlErrorCode.INTERNAL, `${what}: ${details}`, { cause: err, grpcStatus: err.code });
  }
}
