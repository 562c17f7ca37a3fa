// What a failed Redis operation becomes: a ConnectorError (from core) with a stable code, and the ioredis
// error as `cause`. Callers branch on the code, never on ioredis' messages.
import { ConnectorError } from '@proxystore/core';

export const RedisErrorCode = {
  /** No connection to the server (refused, dropped, or the client gave up on this command). */
  UNAVAILABLE: 'REDIS_UNAVAILABLE',
  /** The connection moved no bytes for `timeoutMs` while the operation waited (a hung server or link). */
  TIMEOUT: 'REDIS_TIMEOUT',
  /** The server refused the credentials (NOAUTH, WRONGPASS) or the ACL user lacks a command (NOPERM). */
  AUTH: 'REDIS_AUTH',
  /** The server answered with an error (out of memory, a misconfigured cluster, …). */
  COMMAND: 'REDIS_COMMAND',
  /** The key holds something that is not an object this connector wrote. */
  CORRUPT_OBJECT: 'REDIS_CORRUPT_OBJECT',
  /** The object cannot be held in one process's memory here (past the JS buffer size limit). */
  OBJECT_TOO_LARGE: 'REDIS_OBJECT_TOO_LARGE',
} as const;

export type RedisErrorCode = (typeof RedisErrorCode)[keyof typeof RedisErrorCode];

/** A Redis failure as a typed ConnectorError, `what` naming the operation ("get of key …"). */
export function redisError(what: string, err: unknown): ConnectorError {
  if (err instanceof ConnectorError) return err;
  const name = (err as { name?: unknown } | null)?.name;
  const message = err instanceof Error ? err.message : String(err);
  if (name === 'ReplyError') {
    if (/^(NOAUTH|WRONGPASS|NOPERM)/.test(message)) {
      return new ConnectorError(`Redis refused ${what}: ${message}`, { code: RedisErrorCode.AUTH, cause: err });
    }
    if (message.startsWith('WRONGTYPE')) {
      return new ConnectorError(`Redis ${what}: the key holds data this connector did not write (${message})`, {
        code: RedisErrorCode.CORRUPT_OBJECT,
        cause: err,
      });
    }
    return new ConnectorError(`Redis failed ${what}: ${message}`, { code: RedisErrorCode.COMMAND, cause: err });
  }
  return new ConnectorError(`Redis is unavailable for ${what}: ${message}`, {
    code: RedisErrorCode.UNAVAILABLE,
    cause: err,
  });
}
