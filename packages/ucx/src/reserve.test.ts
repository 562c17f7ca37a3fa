import { describe, expect, it } from 'vitest';
import type { RemoteObjectInfo, SameHostSource } from './descriptor.js';
import {
  RESERVE_MAX_BLOCK,
  RESERVE_PER_CLASS,
  abandonGrants,
  addGrant,
  dropGrant,
  grantsHeld,
  grantsToAsk,
  reservationCapacity,
  takeAbandoned,
  takeAllGrants,
  takeGrant,
  type Grant,
} from './reserve.js';

const MiB = 1 << 20;

function grant(server: string, capacity: number, rid: string): Grant {
  const target: SameHostSource = { hostId: 'h', pid: 1, startTime: 1n, fd: 3, inode: 4n, offset: 0 };
  return { rid, server, capacity, template: { id: `id-${rid}` } as RemoteObjectInfo, target };
}

describe('lent block size classes', () => {
  it('round up to a 32nd of the power of two below (4 KiB at least), within 1/32 of the length', () => {
    expect(reservationCapacity(0)).toBe(4096);
    expect(reservationCapacity(4096)).toBe(4096);
    expect(reservationCapacity(4097)).toBe(8192);
    expect(reservationCapacity(4 * MiB)).toBe(4 * MiB);
    expect(reservationCapacity(4 * MiB + 80)).toBe(4 * MiB + 128 * 1024);
    expect(reservationCapacity(64 * MiB + 80)).toBe(66 * MiB);
    for (const n of [5000, 123_457, 3 * MiB + 17, 50 * MiB + 1, RESERVE_MAX_BLOCK - 1]) {
      const c = reservationCapacity(n);
      expect(c).toBeGreaterThanOrEqual(n);
      expect(c % 4096).toBe(0);
      expect(c - n).toBeLessThanOrEqual(Math.max(4096, n / 32));
      // A class is its own capacity: what the daemon checks an ask against.
      expect(reservationCapacity(c)).toBe(c);
    }
  });

  it('none beyond RESERVE_MAX_BLOCK, or for what is not a length', () => {
    expect(reservationCapacity(RESERVE_MAX_BLOCK)).toBe(RESERVE_MAX_BLOCK);
    expect(reservationCapacity(RESERVE_MAX_BLOCK + 1)).toBe(0);
    expect(reservationCapacity(-1)).toBe(0);
    expect(reservationCapacity(1.5)).toBe(0);
  });
});

describe('the grants a thread holds', () => {
  it('asks up to RESERVE_PER_CLASS per daemon and class, counting held grants and asks in flight; asks lapse', () => {
    const s = 'srv-ask';
    expect(grantsToAsk(s, 8192, 1_000)).toBe(RESERVE_PER_CLASS);
    expect(grantsToAsk(s, 8192, 1_001)).toBe(0); // asked already
    expect(grantsToAsk(s, 16384, 1_001)).toBe(RESERVE_PER_CLASS); // another class
    addGrant(grant(s, 8192, 'a1'));
    expect(grantsToAsk(s, 8192, 1_002)).toBe(0); // one held, one still asked for
    expect(grantsToAsk(s, 8192, 10_000)).toBe(RESERVE_PER_CLASS - 1); // the ask lapsed (declined)
    takeAllGrants(s);
  });

  it('takes, drops and gives back grants by daemon and class', () => {
    const s = 'srv-take';
    const base = grantsHeld();
    addGrant(grant(s, 8192, 'b1'));
    addGrant(grant(s, 8192, 'b2'));
    addGrant(grant(s, 4096, 'b3'));
    addGrant(grant('other', 8192, 'c1'));
    expect(grantsHeld()).toBe(base + 4);
    expect(takeGrant(s, 16384)).toBeUndefined();
    expect(takeGrant(s, 8192)?.rid).toBe('b2');
    expect(dropGrant(s, 'b1')).toBe(true);
    expect(dropGrant(s, 'b1')).toBe(false);
    expect(dropGrant(s, 'c1')).toBe(false); // another daemon's
    expect(takeGrant(s, 8192)).toBeUndefined();
    expect(takeAllGrants(s).map((g) => g.rid)).toEqual(['b3']);
    expect(takeAllGrants('other').map((g) => g.rid)).toEqual(['c1']);
    expect(grantsHeld()).toBe(base);
  });
});

describe('abandoned grants', () => {
  it('are remembered (bounded) so that a REVOKE of one is still answered, once', () => {
    abandonGrants([grant('srv-ab', 4096, 'x1'), grant('srv-ab', 4096, 'x2')]);
    expect(takeAbandoned('x1')).toBe(true);
    expect(takeAbandoned('x1')).toBe(false);
    expect(takeAbandoned('never')).toBe(false);
    // Bounded: the oldest are forgotten first.
    abandonGrants(Array.from({ length: 1100 }, (_, i) => grant('srv-ab', 4096, `y${i}`)));
    expect(takeAbandoned('x2')).toBe(false);
    expect(takeAbandoned('y0')).toBe(false);
    expect(takeAbandoned('y1099')).toBe(true);
  });
});
