// The addon as this package uses it: loaded once per thread, its absence a UcxError (UCX_NOT_AVAILABLE,
// saying what to install), and the errorModes that UCX_TLS implies.
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
 * would find no transport there, native/ucx/README.md "UCX 1.13 facts"), or tcp alone (with `self`): a
 * 'peer' endpoint over tcp gets no zero-copy rendezvous in UCX 1.13, and tcp reports a dead peer anyway
 * (its socket closes; the addon then ends the endpoint's calls with UCX_PEER_GONE). 'peer' otherwise,
 * including an unset UCX_TLS, a mix of tcp and shared memory, and an exclusion list ('^...').
 */
export function defaultErrorMode(tls: string | undefined = process.env.UCX_TLS): ErrorMode {
  if (tls === undefined || tls.trim() === '' || tls.trim().startsWith('^')) return 'peer';
  const names = tls
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  if (names.length === 0) return 'peer';
  return names.every((n) => NO_PEER_FAILURE.has(n)) || tcpOnly(names) ? 'none' : 'peer';
}

/** UCX_TLS names tcp and nothing else but `self`. */
function tcpOnly(names: readonly string[]): boolean {
  return names.includes('tcp') && names.every((n) => n === 'tcp' || n === 'self');
}

/**
 * The errorMode of the endpoint a daemon-mode put pushes its bytes over. 'none' where UCX_TLS names tcp
 * and nothing else but `self` (what defaultErrorMode gives there too, so this matters for an explicit
 * errorMode 'peer'): UCX 1.13 gives a tcp endpoint with peer-failure handling no zero-copy rendezvous
 * lanes (its rendezvous then travels as fragments the receiver copies, at about half the speed,
 * native/ucx/README.md "UCX 1.13 facts"), while over tcp a dead daemon still fails the push (its socket
 * closes: the endpoint fails, and the put with it, as UCX_PEER_GONE). Otherwise the connector's own
 * errorMode: with other transports in play a 'none' endpoint could pick one that reports no failure
 * (shared memory), or one whose behaviour here is unmeasured (InfiniBand).
 */
export function pushErrorMode(errorMode: ErrorMode, tls: string | undefined = process.env.UCX_TLS): ErrorMode {
  if (errorMode === 'none' || tls === undefined) return errorMode;
  const names = tls
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  return tcpOnly(names) ? 'none' : errorMode;
}

/**
 * Whether gets fetch (the owner sends the block by rendezvous) rather than RMA-get: over tcp alone with
 * errorMode 'none', where UCX 1.13 emulates an RMA get with messages the owner answers piece by piece
 * anyway, while a rendezvous message to a 'none' endpoint is one put_zcopy into the destination.
 */
export function fetchGets(errorMode: ErrorMode, tls: string | undefined = process.env.UCX_TLS): boolean {
  if (errorMode !== 'none' || tls === undefined) return false;
  return tcpOnly(
    tls
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ''),
  );
}
