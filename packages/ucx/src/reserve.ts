// Puts into blocks a same-host daemon lent ahead of time (pull.ts, RESERVED): the producer's side, and
// the sizes both sides agree on.
//
// A daemon-mode put otherwise sends its object and then waits for the daemon's answer, which carries the
// key: one round trip through two event loops on top of moving the bytes. A producer on the daemon's host
// can instead hold a few blocks the daemon lent it (grants), write an object straight into one through the
// daemon's memfd (peerWrite: one copy, the daemon does nothing), and send a one-way COMMIT: the key is
// known from the grant before the daemon has seen anything. Each push or commit asks for the next grant
// of its size class, so a producer that keeps putting objects of a size keeps one ready.
//
// Grants are per thread (every connector of the thread that talks to the daemon shares them) and per size
// class: block capacities are the length rounded up to a 32nd of its power of two (at least 4 KiB), so an
// object wastes at most 1/32 of its block, and objects whose sizes differ a little share a class.
import type { RemoteObjectInfo, SameHostSource } from './descriptor.js';

/** Objects up to this many bytes (their blocks: header and trailer included) go into lent blocks. */
export const RESERVE_MAX_BLOCK = 128 << 20;
/** Grants a producer holds (or asks for) per daemon and size class. */
export const RESERVE_PER_CLASS = 2;
/** PROXYSTORE_UCX_RESERVE=0 turns lent blocks off: every daemon put sends its object and waits. */
export const ENV_RESERVE = 'PROXYSTORE_UCX_RESERVE';

const MIN_CLASS = 4096;

/** The capacity of the block an object block of `length` bytes goes into; 0 beyond RESERVE_MAX_BLOCK. */
export function reservationCapacity(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0 || length > RESERVE_MAX_BLOCK) return 0;
  if (length <= MIN_CLASS) return MIN_CLASS;
  const step = Math.max(MIN_CLASS, 2 ** Math.floor(Math.log2(length)) / 32);
  return Math.min(RESERVE_MAX_BLOCK, Math.ceil(length / step) * step);
}

/** A block lent by a daemon: where to write, and the key's descriptor but for the object's own fields. */
export interface Grant {
  readonly rid: string;
  readonly server: string;
  readonly capacity: number;
  /** The block's descriptor as the daemon will hold it (id, addresses, rkey, same-host source). */
  readonly template: RemoteObjectInfo;
  readonly target: SameHostSource;
}

const stock = new Map<string, Grant[]>();
/** Asks in flight per class (a declined ask sends nothing back: it lapses after ASK_LAPSE_MS). */
const asks = new Map<string, { n: number; at: number }>();
const ASK_LAPSE_MS = 2_000;

const classKey = (server: string, capacity: number): string => `${server}/${capacity}`;

/** Takes a grant of this daemon and capacity, if one is held. */
export function takeGrant(server: string, capacity: number): Grant | undefined {
  const held = stock.get(classKey(server, capacity));
  const g = held?.pop();
  if (held !== undefined && held.length === 0) stock.delete(classKey(server, capacity));
  return g;
}

/** How many grants of this class to ask for now (0 when enough are held or asked for); records the ask. */
export function grantsToAsk(server: string, capacity: number, now = Date.now()): number {
  const k = classKey(server, capacity);
  const held = stock.get(k)?.length ?? 0;
  const ask = asks.get(k);
  const pending = ask !== undefined && now - ask.at < ASK_LAPSE_MS ? ask.n : 0;
  const n = Math.max(0, RESERVE_PER_CLASS - held - pending);
  if (n > 0) asks.set(k, { n: pending + n, at: now });
  return n;
}

/** Keeps a grant the daemon sent. */
export function addGrant(g: Grant): void {
  const k = classKey(g.server, g.capacity);
  const list = stock.get(k) ?? [];
  list.push(g);
  stock.set(k, list);
  const ask = asks.get(k);
  if (ask !== undefined) {
    if (ask.n <= 1) asks.delete(k);
    else ask.n--;
  }
}

/** Removes the grant `rid` if it is held (not used yet): true when it was. */
export function dropGrant(server: string, rid: string): boolean {
  for (const [k, list] of stock) {
    if (!k.startsWith(`${server}/`)) continue;
    const i = list.findIndex((g) => g.rid === rid);
    if (i < 0) continue;
    list.splice(i, 1);
    if (list.length === 0) stock.delete(k);
    return true;
  }
  return false;
}

/** Removes and returns every grant held of this daemon (to give back, or because it is gone). */
export function takeAllGrants(server: string): Grant[] {
  const out: Grant[] = [];
  for (const [k, list] of [...stock]) {
    if (!k.startsWith(`${server}/`)) continue;
    out.push(...list);
    stock.delete(k);
  }
  for (const k of [...asks.keys()]) if (k.startsWith(`${server}/`)) asks.delete(k);
  return out;
}

/** Grants dropped unused without a RETURN (their daemon looked gone): a REVOKE of one is still answered. */
const abandoned = new Set<string>();
const MAX_ABANDONED = 1024;

/** Remembers grants dropped unused without giving them back. */
export function abandonGrants(grants: readonly Grant[]): void {
  for (const g of grants) {
    if (abandoned.size >= MAX_ABANDONED) abandoned.delete(abandoned.values().next().value as string);
    abandoned.add(g.rid);
  }
}

/** Whether `rid` was abandoned (and forgets it): its block was never written, so it may go back. */
export function takeAbandoned(rid: string): boolean {
  return abandoned.delete(rid);
}

/** Grants held now, for tests and diagnostics. */
export function grantsHeld(): number {
  let n = 0;
  for (const list of stock.values()) n += list.length;
  return n;
}
