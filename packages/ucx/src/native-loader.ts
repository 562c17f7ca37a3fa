// The addon as this package uses it: loaded once per thread, its absence a UcxError (UCX_NOT_AVAILABLE,
// saying what to install), and the errorMode that UCX_TLS implies.
import { UcxError, UcxErrorCode } from './errors.js';
import { loadNative, type ErrorMode, type NativeAddon } from './native.js';

/** The addon, or a UcxError UCX_NOT_AVAILABLE whose message says what to install. */
export function ucx(): NativeAddon {
  try {
    return loadNative();
  } catch (err) {
    throw new UcxError(UcxErrorCode.NOT_AVAILABLE, (err as Error).message, { cause: err });
  }
}

/** UCX's shared-memory (and loopback) transports: UCX 1.13 gives them no peer-failure support. */
const NO_PEER_FAILURE = new Set(['sm', 'shm', 'posix', 'sysv', 'cma', 'knem', 'xpmem', 'self']);

/**
 * 'none' when UCX_TLS names only shared-memory transports (an endpoint asking for peer-failure detection
 * would find no transport there, native/ucx/README.md "UCX 1.13 facts"); 'peer' otherwise, including an
 * unset UCX_TLS and an exclusion list ('^...').
 */
export function defaultErrorMode(tls: string | undefined = process.env.UCX_TLS): ErrorMode {
  if (tls === undefined || tls.trim() === '' || tls.trim().startsWith('^')) return 'peer';
  const names = tls
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  return names.length > 0 && names.every((n) => NO_PEER_FAILURE.has(n)) ? 'none' : 'peer';
}
