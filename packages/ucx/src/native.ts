// Everything the native addon (native/ucx, package @proxystore/ucx-native) exports, with types, and the
// loader. This is the one place the addon's surface is declared: the C++ side registers exactly these
// names (native/ucx/src/addon.cc). Everything runs on the calling JS thread; each thread (main or a
// worker_threads Worker) gets its own UCP worker on one process-wide UCP context, made on first use.
import { createRequire } from 'node:module';

/** How an endpoint learns that its peer died. */
export type ErrorMode =
  /** UCP_ERR_HANDLING_MODE_PEER: a dead peer fails pending calls with UCX_PEER_GONE. Needs a transport
   * with peer-failure support (tcp, verbs); UCX 1.13's shared-memory transports have none. */
  | 'peer'
  /** No peer-failure handling in UCX: shared memory works. Where the transport still notices a dead peer
   * (tcp: its socket closes) the endpoint fails and the addon ends its calls in flight with UCX_PEER_GONE
   * (UCX keeps their requests, `stats().pendingOps`); over shared memory it shows only as a call's timeout. */
  | 'none';

export type MemoryTypeName = 'host' | 'cuda';

/** Stable codes of the errors the addon throws or rejects with (`err.code`); `err.status` is the UCS name. */
export type NativeErrorCode =
  | 'UCX_PEER_GONE'
  | 'UCX_UNREACHABLE'
  | 'UCX_TIMEOUT'
  | 'UCX_CANCELED'
  | 'UCX_CLOSED'
  | 'UCX_BUSY'
  | 'UCX_MEMORY_TYPE_UNSUPPORTED'
  /** peerRead: the file at the source's fd is another block (inode) or too short for the read. */
  | 'UCX_BAD_KEY'
  | 'UCX_ERROR';

export interface NativeError extends Error {
  code: NativeErrorCode;
  /** The UCS status name, e.g. 'UCS_ERR_ENDPOINT_TIMEOUT'. */
  status?: string;
}

export interface ContextInfo {
  /** UCX's version string, e.g. '1.13.1'. */
  version: string;
  /** Memory types this UCX build can register and move (`ucp_context_query`), always with 'host'. */
  memoryTypes: MemoryTypeName[];
  /** Whether 'cuda' is among them. */
  cuda: boolean;
  /**
   * Whether UCX's memory hooks are patched into libc's `brk` (x86-64; null elsewhere). False unless the
   * user set `UCX_MEM_EVENTS=yes`: the addon's loader turns them off before UCX loads (docs/ucx.md).
   */
  memoryHooks: boolean | null;
}

export interface TimeoutOptions {
  /** Fails the call with UCX_TIMEOUT after this many ms. Default: no limit. */
  timeoutMs?: number;
}

export interface ConnectOptions extends TimeoutOptions {
  errorMode?: ErrorMode;
}

export interface MemoryOptions {
  /** Default 'host'. 'cuda' is refused with UCX_MEMORY_TYPE_UNSUPPORTED: on a UCX build without CUDA
   * support, and (until GPU buffers land) on every build, saying which. */
  memoryType?: MemoryTypeName;
}

export interface AcquireOptions extends MemoryOptions {
  /**
   * Default true: a block this process may serve, backed by a memfd that same-host readers map
   * (`region.shm`). False: private anonymous memory (transparent huge pages where the kernel gives
   * them, no file), for a value read into the block. The two kinds are pooled apart.
   */
  shared?: boolean;
}

/** Registered memory (`ucp_mem_map`): RMA reads and writes it, a peer reaches it through `packRkey()`. */
export interface MemoryRegion {
  /** The bytes. For a pooled region this is an external ArrayBuffer over the pool block. */
  readonly buffer: ArrayBuffer;
  readonly byteOffset: number;
  readonly byteLength: number;
  /** The address of byte 0 in this process, as a peer passes it to `get`/`put`. */
  readonly address: bigint;
  /** Whether the region came from `acquire()` (a block of the registration pool). */
  readonly pooled: boolean;
  /**
   * Where a same-host reader finds these bytes without UCX (`peerRead`): the memfd behind a pooled
   * region's block in this process, its inode, and the region's offset in that file (0). Null for other
   * regions, a released one, and blocks without a memfd (PROXYSTORE_UCX_SHM=0, allocator 'ucx').
   */
  readonly shm: { fd: number; inode: bigint; offset: number } | null;
  /** The packed remote key a peer unpacks with `Endpoint.unpackRkey`. */
  packRkey(): ArrayBuffer;
  /** Deregisters (memMap/allocate; a memMap registration shared through the cache goes when its last
   * region does). For a pooled region the same as `release()`. Throws UCX_BUSY while an RMA uses the
   * region (including a timed-out one UCX still holds). Idempotent. */
  unmap(): void;
  /**
   * Gives the region back at once. Pooled: detaches `buffer` (every view of it becomes empty) and returns
   * the block to the pool. Otherwise the same as `unmap()`. Throws UCX_BUSY while an RMA uses it. Idempotent.
   * A pooled region that is never released returns its block when its `buffer` is garbage-collected
   * (the region object holds its buffer, so that happens after both are unreachable). The buffer cannot
   * be transferred (postMessage copies it), so no other thread can hold the block.
   */
  release(): void;
}

/** A peer's rkey unpacked on one endpoint; destroyed with that endpoint at the latest. */
export interface RemoteKey {
  destroy(): void;
}

export type EndpointState = 'connecting' | 'open' | 'failed' | 'closed';

export interface AmSendOptions extends TimeoutOptions {
  /** Force eager or rendezvous; default: UCX picks by size. */
  protocol?: 'eager' | 'rndv';
}

export interface Endpoint {
  readonly state: EndpointState;
  /**
   * Active message `id` with a header and data; the peer's handler gets both. `data` may be a registered
   * region (all its bytes are sent, with its memory handle, so UCX neither registers nor looks the
   * buffer up); the region is pinned until the send completes (release/unmap throw UCX_BUSY meanwhile).
   * `id` is 0..65535 (TypeError otherwise). A peer with no handler for `id` drops an eager message and
   * refuses a rendezvous one (UCX_ERROR, UCS_ERR_INVALID_PARAM).
   */
  amSend(
    id: number,
    header: ArrayBufferView | ArrayBuffer,
    data: ArrayBufferView | ArrayBuffer | MemoryRegion | null,
    options?: AmSendOptions,
  ): Promise<void>;
  unpackRkey(packed: ArrayBufferView | ArrayBuffer): RemoteKey;
  /** One-sided read of `length` bytes at the peer's `remoteAddress` into `region` at `offset`. */
  get(region: MemoryRegion, offset: number, length: number, remoteAddress: bigint, rkey: RemoteKey, options?: TimeoutOptions): Promise<void>;
  /**
   * `get` without returning to the event loop: posts the read and progresses this thread's worker
   * (blocking in the kernel on its event fd between completions) until it completes, fails or times
   * out. For synchronous proxy resolution. Throws the same typed errors as `get`. Its own completion
   * never goes through the JS event queue; other events arriving meanwhile are dispatched after it
   * returns. Works on a loopback endpoint to this thread's own worker. A read that timed out stays
   * inside UCX as in `get` (in errorMode 'none' possibly forever), keeping `region` pinned (UCX_BUSY).
   */
  getSync(region: MemoryRegion, offset: number, length: number, remoteAddress: bigint, rkey: RemoteKey, options?: TimeoutOptions): void;
  /**
   * Blocks (progressing this thread's worker, as getSync) until a message of slot `id` arrives whose
   * header holds `tag` as a little-endian u64 at byte `tagOffset` (default 8), and returns it as its
   * handler would have got it (the handler does not). For the answer to a request sent on this endpoint,
   * awaited without returning to the event loop. Throws UCX_TIMEOUT after `timeoutMs`, or why this
   * endpoint failed (UCX_PEER_GONE, ...).
   */
  waitAmSync(id: number, tag: bigint, options?: TimeoutOptions & { tagOffset?: number }): { header: ArrayBuffer; data: ArrayBuffer; info: AmInfo };
  /** One-sided write of `length` bytes of `region` at `offset` to the peer's `remoteAddress`. */
  put(region: MemoryRegion, offset: number, length: number, remoteAddress: bigint, rkey: RemoteKey, options?: TimeoutOptions): Promise<void>;
  flush(options?: TimeoutOptions): Promise<void>;
  /** Never rejects. Graceful by default (destroys this endpoint's rkeys first); `force` drops in-flight work. */
  close(options?: { force?: boolean }): Promise<void>;
  /** Like a socket's: an open endpoint keeps the event loop alive until `unref()` (its pending
   * operations still do, each on its own). Both return the endpoint. */
  ref(): Endpoint;
  unref(): Endpoint;
  /** Called once if the peer fails: in errorMode 'peer', and in 'none' where the transport notices (tcp: the
   * socket closes; not over shared memory in UCX 1.13). The addon then force-closes the endpoint. */
  onError(handler: ((err: NativeError) => void) | null): void;
}

export interface Listener {
  readonly host: string;
  readonly port: number;
  close(): void;
}

export interface AmInfo {
  /** Whether the data came by rendezvous (then `data` is the addon's receive memory, no copy). */
  rndv: boolean;
  /** An endpoint to the sender, for replies (not owned: closing it is a no-op). */
  endpoint: Endpoint;
  /**
   * Slots set with `{ receive: 'pool' }`: the pooled region (a block of this thread's pool, as from
   * `acquire`) that holds the data; `data` is its `buffer`. The handler owns it: keep it as registered
   * storage (packRkey) or `release()` it; unreleased, it returns to the pool when its buffer is collected.
   */
  region?: MemoryRegion;
  /**
   * Slots set with `{ receive: 'pool' | 'placed' }`: set when the message's data could not be taken, and
   * then neither `region` nor any data comes, only the header and the endpoint, so that the handler can
   * still answer the sender. 'malformed': a placed header that is short, or data that does not fit at its
   * offset; 'too-large': a placed block over `maxBlock`; 'no-memory': no block (or memory) for the data;
   * 'receive-failed': UCX failed to receive the data. Counted in `stats().amDropped`.
   */
  dropped?: AmDropReason;
}

/** Why a pooled message's data was dropped (AmInfo.dropped). */
export type AmDropReason = 'malformed' | 'too-large' | 'no-memory' | 'receive-failed';

export type AmHandler = (header: ArrayBuffer, data: ArrayBuffer, info: AmInfo) => void;

export interface AmHandlerOptions {
  /**
   * Where message data lands. 'copy' (default): memory of the addon's own (eager data copied out of
   * UCX's buffer; rendezvous data received into a fresh allocation). 'pool': a block of this thread's
   * registration pool, handed over as `info.region`: eager data is copied once out of UCX's buffer,
   * rendezvous data is received straight into the block. A message that finds no block (out of memory)
   * or no handler any more is dropped (`stats().amDropped`); a rendezvous sender still completes. The
   * handler still gets a dropped message (`info.dropped`), without data, to answer its sender.
   */
  receive?: 'copy' | 'pool' | 'placed';
  /**
   * 'placed' (a 'pool' slot whose senders say where the data goes): every message header starts with two
   * little-endian u64, the length of the block to take and the offset of the data in it. The handler
   * gets the whole block as `info.region` (data at that offset, the rest not written: the handler lays it
   * out). A block over `maxBlock` bytes (required with 'placed'), or data that does not fit at its offset,
   * drops the message's data (`info.dropped` 'too-large' or 'malformed').
   */
  maxBlock?: number;
  /**
   * 'pool' and 'placed' slots: whether the blocks are ones this process may serve to same-host readers
   * (memfds, the default) or private memory (as `acquire({ shared: false })`), for data read to be used
   * here, such as a value.
   */
  shared?: boolean;
  /**
   * Also handle this slot's messages inside `getSync` and `waitAmSync` (other slots' messages wait until
   * the thread returns to the event loop). For requests a peer may be blocked on while this thread blocks
   * on that peer: two processes fetching synchronously from each other would otherwise each wait for the
   * other's answer until their time limits.
   */
  duringSync?: boolean;
}

export interface PoolOptions {
  /** Idle pooled bytes always allowed to stay resident. Idle blocks beyond
   * max(maxIdleBytes, recent peak of in-use bytes - bytes in use now) give their pages back to the OS,
   * least recently returned first; the recent peak is the highest in-use total of the last one to two
   * idle windows (`idleWindowMs` each, 0 = trim beyond maxIdleBytes at once), so blocks that come back in bursts when V8 collects values stay resident for
   * the next burst, and are trimmed by a timer once the peak has passed. A trimmed block stays mapped
   * while the worker lives (a stale remote reader reads zeros, never unmapped memory). Blocks mapped by
   * the addon are deregistered (a pinned verbs registration would keep the old pages alive), then
   * hole-punched (fallocate PUNCH_HOLE of their memfd; madvise(MADV_DONTNEED) for anonymous ones), and reusing one registers it again (counted in memMaps); blocks UCX allocated
   * (allocator 'ucx') keep their registration and are hole-punched
   * (MADV_REMOVE). Block capacities are size classes, four per power of two (64 KiB minimum, under 25%
   * over the requested length). Default 256 MiB. */
  maxIdleBytes?: number;
  /** Length of one idle window in ms (see maxIdleBytes). Default 5000. */
  idleWindowMs?: number;
  /**
   * Who allocates new blocks: 'mmap' (the addon, 2 MiB-aligned with MADV_HUGEPAGE from 4 MiB, then
   * ucp_mem_map; what 'auto', the default, means) or 'ucx' (ucp_mem_map with UCP_MEM_MAP_ALLOCATE: on
   * shared memory, segments a peer attaches to and copies from directly instead of through CMA, about
   * 1.4x faster here). Opt-in because UCX 1.13 crashes a reader that unpacks the rkey of such a block
   * after its owner died; never with verbs (trimming would free pages under a pinned registration).
   */
  allocator?: 'auto' | 'mmap' | 'ucx';
}

export interface NativeStats {
  /** Progress cycles started from the event loop after the worker slept (turns of the poll window not counted). */
  wakeups: number;
  /**
   * The poll window in microseconds, from PROXYSTORE_UCX_POLL_US when this thread's worker was made (0 to
   * 1000000; anything else fails that first call with UCX_ERROR). For that long after its last activity
   * (progress made, a message handled, an operation started) the worker polls on every turn of the event
   * loop instead of arming its event fd: the loop spins, a core stays busy, and a peer sending to it need
   * not wake it. 0 (the default): it sleeps as soon as it is idle.
   */
  pollUs: number;
  /** Turns of the event loop spent polling inside the poll window. */
  polls: number;
  progressCalls: number;
  /** Progress cycles from the event loop that ran past their 5 ms budget and let the loop go on (timers,
   * I/O) before progressing again: a worker never holds the loop for long. */
  yields: number;
  amReceived: number;
  amRndvReceived: number;
  /** Messages dropped on receipt: no block or memory for the data, no handler any more, receive failed. */
  amDropped: number;
  endpoints: number;
  listeners: number;
  /** Live MemoryRegion objects (mapped or pooled). */
  regions: number;
  /** Operations UCX still holds (including timed-out ones in errorMode 'none'). */
  pendingOps: number;
  /** Handles keeping the event loop alive. */
  refs: number;
  /** `ucp_mem_map` calls made so far (pool growth, memMap misses, allocate). */
  memMaps: number;
  /** memMap calls answered from the registration cache (same bytes already mapped). */
  regCacheHits: number;
  /** acquire() calls served by an idle pool block / that had to map a new block. */
  poolHits: number;
  poolMisses: number;
  /** Bytes of pool blocks idle / handed out (block capacities). */
  poolIdleBytes: number;
  poolInUseBytes: number;
  /** Bytes of idle blocks whose pages were given back to the OS so far (cumulative; they stay mapped, and
   * are reused). */
  poolTrimmedBytes: number;
  /** Same-host reads (`peerRead`) and writes (`peerWrite`) done, and mappings of peers' blocks made for them. */
  peerReads: number;
  peerWrites: number;
  peerMaps: number;
  /** Peers' blocks mapped now. */
  peerMapped: number;
  /** Which allocator new pool blocks come from ('auto' resolved). */
  poolAllocator: 'mmap' | 'ucx';
  /**
   * Same-host copies of 2 MiB or more (`peerRead`, `peerWrite`) are cut into 256 KiB chunks that the
   * calling thread and one helper thread of the process both take until none is left: two cores copy,
   * and the caller never waits for the helper to wake. `copyHelpers`: 1, or 0 with
   * PROXYSTORE_UCX_COPY_THREADS=0 or on a single CPU (anything but 0 or 1 fails a thread's first UCX call
   * with UCX_ERROR). Process-wide, like the two counters.
   */
  copyHelpers: number;
  /** PROXYSTORE_UCX_COPY_SPIN_US (0 to 1000000, default 0): how long the helper polls after a copy before it sleeps. */
  copySpinUs: number;
  /** Copies the helper took part in, and the bytes it copied (process-wide, cumulative). */
  sharedCopies: number;
  sharedCopyBytes: number;
}

/** Names this process for same-host reads. */
export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/self/stat (clock ticks after boot): with the pid, names one process per boot. */
  startTime: bigint;
  /** `<boot_id>:<inode of /proc/self/ns/pid>`: equal only on the same host, in the same pid namespace
   * (where /proc/<pid> names the same process). */
  hostId: string;
}

/** A peer's memfd block, as its descriptor names it (its `processIdentity()` and its region's `shm`). */
export interface PeerSource {
  pid: number;
  startTime: bigint;
  fd: number;
  inode: bigint;
  /** Byte offset in the file. */
  offset: number;
}

/** A thread's scheduling policy: SCHED_OTHER, SCHED_BATCH, SCHED_IDLE, SCHED_FIFO, SCHED_RR, or another. */
export type ThreadSchedPolicy = 'normal' | 'batch' | 'idle' | 'fifo' | 'rr' | 'other';

/** The addon module. */
export interface NativeAddon {
  contextInfo(): ContextInfo;
  /** This thread's worker address, for `connectAddress` in a peer. */
  workerAddress(): ArrayBuffer;
  /**
   * Handler of active message `id` (0..65535, TypeError otherwise) on this thread (null: drop them). The
   * options hold until changed. Messages for ids without a handler are dropped; the worker never crashes
   * on one (native/ucx/README.md, "UCX 1.13 facts").
   */
  setAmHandler(id: number, handler: AmHandler | null, options?: AmHandlerOptions): void;
  listen(
    options: { host?: string; port?: number; errorMode?: ErrorMode },
    onConnection: (endpoint: Endpoint, peer: { host: string; port: number }) => void,
  ): Listener;
  /** Socket-address endpoint (needs the tcp transport for wireup); resolves once wired up. */
  connect(options: { host: string; port: number } & ConnectOptions): Promise<Endpoint>;
  /** Endpoint to a peer worker address; resolves once wired up. */
  connectAddress(address: ArrayBufferView | ArrayBuffer, options?: ConnectOptions): Promise<Endpoint>;
  /** The same endpoint, returned at once: operations posted on it wait for wireup inside UCX, and a
   * failed wireup fails them. What `getSync` uses to reach a peer it has not met. Its `state` is
   * 'connecting' until an operation on it completes. Unpack rkeys on it right away (address endpoints
   * know their transports at once). */
  connectAddressSync(address: ArrayBufferView | ArrayBuffer, options?: ConnectOptions): Endpoint;
  /** Registers a JS buffer's bytes in place. Registration cache: mapping bytes that are already mapped
   * reuses that registration (stats().regCacheHits) until every region over them is unmapped. */
  memMap(buffer: ArrayBufferView | ArrayBuffer, options?: MemoryOptions): MemoryRegion;
  /** Page-aligned, zeroed, registered memory of the addon's own (`pooled: false`; every call registers). */
  allocate(byteLength: number, options?: MemoryOptions): MemoryRegion;
  /** A region of exactly `byteLength` bytes (0 allowed) from this thread's pool of registered blocks
   * (power-of-two capacities, page-aligned, not zeroed): no `ucp_mem_map` when an idle block fits. */
  acquire(byteLength: number, options?: AcquireOptions): MemoryRegion;
  /**
   * Gives back the pool block under `buffer` (the external buffer of an `acquire()`, or a view of it) as
   * its region's `release()` would: the buffer is detached, every view of it becomes empty. False for any
   * other buffer (not a pool block's, already released, or a copy). Throws UCX_BUSY while an RMA targets it.
   */
  releaseBuffer(buffer: ArrayBuffer | ArrayBufferView): boolean;
  configurePool(options: PoolOptions): void;
  /** This process's identity for same-host reads. */
  processIdentity(): ProcessIdentity;
  /** The calling thread's scheduling policy (Linux keeps one per thread). */
  threadSchedPolicy(): ThreadSchedPolicy;
  /**
   * Sets the calling thread's scheduling policy, 'normal' (SCHED_OTHER) or 'batch' (SCHED_BATCH: when
   * woken, the thread does not preempt the one that woke it); returns the one it had. Other threads of the
   * process keep theirs. TypeError for any other policy; UCX_ERROR (with `errno`) where the kernel refuses.
   */
  setThreadSchedPolicy(policy: 'normal' | 'batch'): ThreadSchedPolicy;
  /**
   * Copies `length` bytes at `source.offset` of a same-host peer's memfd block into `region` at
   * `regionOffset`, synchronously (memcpy; the peer does nothing). The peer's block is mapped read-only
   * and the mapping kept (per thread, the 256 most recently used; `stats().peerMaps` counts new ones):
   * on a miss the peer's start time, the file's inode and size are checked. Throws UCX_PEER_GONE (the
   * process is gone, its pid names another, or it closed the block), UCX_UNREACHABLE (no permission to
   * open /proc/<pid>/fd/<fd>: read over UCX instead), UCX_BAD_KEY (another file at that fd, or too short),
   * UCX_BUSY (an RMA operation uses `region`), UCX_CLOSED (region released). A block the peer trimmed
   * reads as zeros. A mapped block outlives its owner: a read after the owner died still returns its
   * last bytes (the layout's nonces tell whether they still hold the object).
   */
  peerRead(source: PeerSource, region: MemoryRegion, regionOffset: number, length: number): void;
  /**
   * Copies each piece `[offset, bytes]` to `offset` past `destination.offset` in a same-host peer's memfd
   * block, synchronously (memcpy; the peer does nothing): how a producer fills a block its daemon lent it.
   * The block is mapped writable and the mapping kept, as for peerRead (writable and read-only mappings
   * are cached apart). Every piece is checked against the file's size before any is copied, and every
   * call checks that the peer still runs (a write into a dead peer's block, which a cached mapping keeps
   * alive, would be lost). Throws as peerRead does (UCX_PEER_GONE, UCX_UNREACHABLE, UCX_BAD_KEY); a
   * TypeError for malformed pieces.
   */
  peerWrite(destination: PeerSource, pieces: ReadonlyArray<readonly [number, Uint8Array]>): void;
  /** One progress cycle from JS; returns the number of UCX events it handled. */
  progress(): number;
  stats(): NativeStats;
}

/** Whether the addon can be used here, and if not, what to do about it. */
export type Availability = { available: true; info: ContextInfo } | { available: false; reason: string };

const INSTALL_HINT =
  'The UCX transport needs the native addon, built against the system UCX. On Debian/Ubuntu: ' +
  '`apt-get install libucx-dev cmake g++ pkg-config`, then `npm run build` (or `npm test`, which builds it) ' +
  'at the repository root.';

let loaded: NativeAddon | undefined;
let loadError: Error | undefined;

/**
 * Loads the addon once per thread; throws an Error with code UCX_NOT_AVAILABLE saying what to install.
 * PROXYSTORE_UCX_DISABLE=1 makes it behave as if the addon were absent (to test that path).
 */
export function loadNative(): NativeAddon {
  if (loaded) return loaded;
  if (!loadError) {
    try {
      if (process.env.PROXYSTORE_UCX_DISABLE === '1') throw new Error('disabled by PROXYSTORE_UCX_DISABLE=1');
      loaded = createRequire(import.meta.url)('@proxystore/ucx-native') as NativeAddon;
      return loaded;
    } catch (cause) {
      const err = new Error(`${INSTALL_HINT} (${(cause as Error).message.split('\n')[0]})`, { cause });
      (err as Error & { code: string }).code = 'UCX_NOT_AVAILABLE';
      loadError = err;
    }
  }
  throw loadError;
}

/** Probes the addon without throwing: for tests that skip with a reason, and for diagnostics. */
export function ucxAvailability(): Availability {
  try {
    return { available: true, info: loadNative().contextInfo() };
  } catch (err) {
    return { available: false, reason: (err as Error).message };
  }
}
