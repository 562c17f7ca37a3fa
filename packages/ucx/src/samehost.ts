// Same-host reads: a consumer on the owner's host copies an object straight out of the owner's memfd
// block (the addon's peerRead: /proc/<pid>/fd/<fd>, mapped read-only and cached) instead of an RMA get.
// UCX 1.13 serves a ucp_get of memory it did not allocate over its shared-memory transports with active
// messages that the owner's worker must answer fragment by fragment; this path needs nothing of the owner.
import type { RemoteObjectInfo, SameHostSource } from './descriptor.js';
import type { NativeAddon, ProcessIdentity } from './native.js';

/** PROXYSTORE_UCX_SAME_HOST=0 turns same-host reads off whatever the connector's option says. */
export const ENV_SAME_HOST = 'PROXYSTORE_UCX_SAME_HOST';

/** UCX's shared-memory transports: where same-host reads replace what UCX would do over them. */
const SHARED_MEMORY = new Set(['sm', 'shm', 'posix', 'sysv', 'cma', 'knem', 'xpmem']);

/**
 * The default of the connector's `sameHost`: on when UCX_TLS is unset (or 'all') or names a shared-memory
 * transport, so that a run with UCX_TLS=tcp keeps reading over tcp (what it means to test). An exclusion
 * list ('^...') is on unless it excludes a shared-memory transport.
 */
export function defaultSameHost(tls: string | undefined = process.env.UCX_TLS): boolean {
  if (tls === undefined || tls.trim() === '') return true;
  const t = tls.trim().toLowerCase();
  const exclude = t.startsWith('^');
  const names = (exclude ? t.slice(1) : t)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const anyShared = names.some((n) => SHARED_MEMORY.has(n));
  return exclude ? !anyShared : anyShared || names.includes('all');
}

/** Whether the environment forbids same-host reads. */
export function sameHostDisabledByEnv(): boolean {
  return process.env[ENV_SAME_HOST] === '0';
}

let identity: ProcessIdentity | null | undefined;

/** This process's identity (cached); null where it cannot be told (no /proc): no same-host reads then. */
export function processIdentityOf(native: NativeAddon): ProcessIdentity | null {
  if (identity === undefined) {
    try {
      identity = native.processIdentity();
    } catch {
      identity = null;
    }
  }
  return identity;
}

/** Owners (pid:startTime) whose blocks this thread may not open: read over UCX from them. */
const unreachable = new Set<string>();
const MAX_UNREACHABLE = 4096;

function ownerKey(s: SameHostSource): string {
  return `${s.pid}:${s.startTime}`;
}

/** The descriptor's same-host source when this process can use it: same host, owner not known unreachable. */
export function sameHostSource(native: NativeAddon, d: RemoteObjectInfo): SameHostSource | undefined {
  const s = d.shm;
  if (s === undefined) return undefined;
  const me = processIdentityOf(native);
  if (me === null || me.hostId !== s.hostId) return undefined;
  if (unreachable.has(ownerKey(s))) return undefined;
  return s;
}

/** After UCX_UNREACHABLE from peerRead (no permission): this owner is read over UCX from now on. */
export function markUnreachable(s: SameHostSource): void {
  if (unreachable.size >= MAX_UNREACHABLE) unreachable.clear();
  unreachable.add(ownerKey(s));
}
