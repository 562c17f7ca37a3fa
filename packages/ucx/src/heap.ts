// V8 heap and scheduler settings for processes that serve UCX objects (the daemon, a local-mode owner).
//
// Such a process keeps a small JS heap (a few MiB of bookkeeping) while it moves large blocks, and V8's
// defaults handle that badly: once the young generation has grown to its largest (16 MiB semi-spaces on
// 64-bit), the old generation's allocation limit is left less than that far above its size, and V8 starts
// incremental marking whenever the room left is below the young generation's size. Every few hundred KiB
// of old-space allocation then ends in a full mark-compact. Measured here (tcp, 16 MiB puts into the
// daemon): after a first client had come and gone, the daemon ran one mark-compact per put and a put took
// 7.7-9.2 ms instead of 4.4-4.9 ms; 4 MiB puts were unaffected.
//
// Starting the process with the young generation at its full size from the outset keeps that limit a whole
// young generation (and more) ahead of the old one, which ends the loop: no mark-compact in 360 puts, for
// about 20 MiB more resident memory. V8 reads the setting only at start-up, so it is a node flag, not
// something a running process can set.
import { getHeapSpaceStatistics } from 'node:v8';

/** Young generation semi-space size (MiB) the daemon is started with. */
export const SEMI_SPACE_MIB = 16;

/** The node flags `proxystore-ucx-daemon` starts node with; pass them to node for a long-lived owner too. */
export const DAEMON_NODE_FLAGS: readonly string[] = Object.freeze([`--min-semi-space-size=${SEMI_SPACE_MIB}`]);

/** This process's young generation size (V8's new space, one semi-space) in MiB. */
export function youngGenerationMiB(): number {
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return space === undefined ? 0 : Math.round(space.space_size / (1 << 20));
}

// The daemon's main thread (its event loop and UCX worker) runs under SCHED_BATCH. A same-host producer's
// put ends with a one-way commit that wakes the daemon, and on the two-vCPU VM of docs/ucx.md the kernel
// queued the woken daemon on the producer's CPU, where under SCHED_OTHER it preempted the producer and ran
// first: 0.24-0.27 ms of a 0.69-0.70 ms put of 4 MiB, while the other CPU was idle. A SCHED_BATCH thread
// never preempts on wakeup; it runs when the producer waits or a CPU is free. Same measurement: 0.48 ms a
// put, the commit's send 32 µs. The price is paid when every CPU is busy: a woken daemon then waits out a
// running task's slice (a 4 KiB tcp fetch's p90: 1.7-1.9 ms against 0.25-0.32 ms), hence `--sched normal`.

/**
 * The scheduling policy `proxystore-ucx-daemon` gives its main thread when started under the normal one
 * (one started under another policy keeps it; `--sched` overrides both).
 */
export const DAEMON_SCHED_POLICY = 'batch' as const;
