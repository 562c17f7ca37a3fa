// A connector over several child connectors: each put goes to one child, chosen by the children's
// policies (object size, the put's tags, the host it runs on, priority), and the key records which child
// holds the object, so reads go straight there. Children are any connectors, given as instances or as
// configs built through the connector registry; a MultiConnector's own config re-creates all of them.
import { hostname } from 'node:os';
import { debuglog } from 'node:util';
import { framesByteLength } from '@proxystore/serialize';
import type {
  CloseOptions,
  Connector,
  ConnectorConfig,
  Frames,
  IoOptions,
  JsonValue,
  Key,
  PutOptions,
} from '../connector.js';
import { connectorFromConfig } from '../connector-registry.js';
import { ClosedError, ConfigError, ConnectorError, InvalidKeyError } from '../errors.js';
import { assertFrames, assertKey } from '../key.js';
import { syncBridgeGet } from '../sync-bridge.js';

/**
 * When a child may take a put. Every field is optional; an empty policy accepts every object on every
 * host. Sizes are in bytes (the total of the object's frames) and both bounds are inclusive.
 */
export interface MultiPolicy {
  /** Among the children that accept a put, the highest wins; ties go to declaration order. Default 0. */
  priority?: number;
  /** Smallest object this child takes, inclusive. Default 0. */
  minSize?: number;
  /** Largest object this child takes, inclusive. Default: no limit. */
  maxSize?: number;
  /** When set, every tag of the put must be in this list (a put with no tags always passes). */
  subsetTags?: readonly string[];
  /** Tags this child requires: every one must be among the put's tags. */
  supersetTags?: readonly string[];
  /**
   * Regular expression source (or a list: any may match) that must match the whole of `os.hostname()`,
   * as Python's `re.fullmatch` does in the reference system. A child whose pattern does not match this
   * host is dormant here: see `MultiConnector`.
   */
  hostPattern?: string | readonly string[];
}

/** One child: a connector (an instance, or a config the registry builds) and when to use it. */
export interface MultiChild {
  connector: Connector | ConnectorConfig;
  /** Default: `{}`, which accepts everything. */
  policy?: MultiPolicy;
}

export interface MultiConnectorOptions {
  /** Children by name. The name is recorded in every key, so keep it stable across processes. */
  connectors: { readonly [name: string]: MultiChild };
}

/** Options of `MultiConnector.newKey`: the future's object is not known yet, so its size may be given. */
export interface MultiNewKeyOptions extends PutOptions {
  /**
   * Expected size in bytes, routed like a put's size. Without it, only children whose policy accepts
   * every size (no `minSize` above 0, no `maxSize`) can take the future.
   */
  size?: number;
}

/** A key of the child `child`, wrapped: `key` is the child's own key, `id` is the child key's id. */
export interface MultiKey extends Key {
  readonly kind: 'multi';
  readonly child: string;
  readonly key: Key;
}

/**
 * No child's policy accepts an object (code `MULTI_NO_POLICY`): thrown by `put`, `putBatch` and
 * `newKey` before anything is written. `reasons` says, per child name, why that child declined.
 */
export class MultiPolicyError extends ConnectorError {
  /** The object's size in bytes; `undefined` for a `newKey` given no size hint. */
  readonly size: number | undefined;
  readonly tags: readonly string[];
  readonly reasons: Readonly<Record<string, string>>;

  constructor(size: number | undefined, tags: readonly string[], reasons: Record<string, string>) {
    const what = size === undefined ? 'a future of unknown size' : `an object of ${size} bytes`;
    const list = Object.entries(reasons)
      .map(([name, why]) => `'${name}': ${why}`)
      .join('; ');
    super(`No MultiConnector child accepts ${what} with tags ${JSON.stringify(tags)}: ${list}`, {
      code: 'MULTI_NO_POLICY',
    });
    this.size = size;
    this.tags = tags;
    this.reasons = reasons;
  }
}

/** `NODE_DEBUG=proxystore` shows background evictions that failed. */
const debug = debuglog('proxystore');

interface NormalPolicy {
  readonly priority: number;
  readonly minSize: number;
  readonly maxSize: number | undefined;
  readonly subsetTags: readonly string[] | undefined;
  readonly supersetTags: readonly string[];
  readonly hostPatterns: readonly RegExp[] | undefined;
  /** The policy as given (validated), for `config()`. */
  readonly json: { [k: string]: JsonValue };
}

/** A child picked for an operation, with its connector (built, if it was a dormant config). */
interface Routed {
  readonly child: Child;
  readonly connector: Connector;
}

interface Child {
  readonly name: string;
  readonly policy: NormalPolicy;
  /** The host pattern matches this host (or there is none): the child takes puts here. */
  readonly onHost: boolean;
  /** Undefined while a dormant child given as a config has not been needed yet. */
  connector: Connector | undefined;
  /** The config it was given as, kept so a dormant child can be built on first use. */
  readonly given: ConnectorConfig | undefined;
  /** Its config as the sync bridge needs it, taken on the first bridged read (async-only children). */
  bridgeConfig?: ConnectorConfig;
}

const POLICY_FIELDS = new Set([
  'priority',
  'minSize',
  'maxSize',
  'subsetTags',
  'supersetTags',
  'hostPattern',
]);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function isConnector(value: unknown): value is Connector {
  return typeof (value as { put?: unknown } | null)?.put === 'function';
}

function isStringArray(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((t) => typeof t === 'string');
}

function isSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Checks a policy (from user code or a config) and derives what routing needs. */
function normalizePolicy(name: string, given: unknown): NormalPolicy {
  const fail = (what: string, cause?: unknown): ConfigError =>
    new ConfigError(`MultiConnector child '${name}': ${what}`, cause === undefined ? {} : { cause });
  const policy = given ?? {};
  if (!isPlainObject(policy)) throw fail('policy must be a plain object');
  for (const field of Object.keys(policy)) {
    if (!POLICY_FIELDS.has(field)) {
      throw fail(`unknown policy field '${field}' (known: ${[...POLICY_FIELDS].join(', ')})`);
    }
  }
  const { priority = 0, minSize = 0, maxSize, subsetTags, supersetTags = [], hostPattern } = policy;
  if (typeof priority !== 'number' || !Number.isFinite(priority)) {
    throw fail('priority must be a finite number');
  }
  if (!isSize(minSize)) throw fail('minSize must be a non-negative integer');
  if (maxSize !== undefined && !isSize(maxSize)) throw fail('maxSize must be a non-negative integer');
  if (maxSize !== undefined && maxSize < minSize) {
    throw fail(`maxSize ${maxSize} is below minSize ${minSize}`);
  }
  if (subsetTags !== undefined && !isStringArray(subsetTags)) {
    throw fail('subsetTags must be an array of strings');
  }
  if (!isStringArray(supersetTags)) throw fail('supersetTags must be an array of strings');
  let hostPatterns: RegExp[] | undefined;
  if (hostPattern !== undefined) {
    const sources: unknown = typeof hostPattern === 'string' ? [hostPattern] : hostPattern;
    if (!isStringArray(sources)) throw fail('hostPattern must be a string or an array of strings');
    hostPatterns = sources.map((source) => {
      try {
        // Anchored: the pattern names the whole host, as re.fullmatch does in the reference system.
        return new RegExp(`^(?:${source})$`);
      } catch (err) {
        throw fail(`hostPattern ${JSON.stringify(source)} is not a valid regular expression`, err);
      }
    });
  }
  // The policy as given (fields left out stay out), copied so later changes by the caller do not leak in.
  const json = JSON.parse(JSON.stringify(policy)) as { [k: string]: JsonValue };
  return { priority, minSize, maxSize, subsetTags, supersetTags, hostPatterns, json };
}

function checkConfig(name: string, config: unknown): ConnectorConfig {
  if (
    !isPlainObject(config) ||
    typeof config.kind !== 'string' ||
    typeof config.package !== 'string' ||
    !isPlainObject(config.options)
  ) {
    throw new ConfigError(
      `MultiConnector child '${name}': 'connector' must be a Connector or a ConnectorConfig ` +
        `{ kind, package, options }`,
    );
  }
  return config as unknown as ConnectorConfig;
}

function childUnavailable(child: Child, err: unknown): ConnectorError {
  const kind = child.given?.kind ?? 'unknown';
  const message = err instanceof Error ? err.message : String(err);
  return new ConnectorError(
    `MultiConnector child '${child.name}' (kind '${kind}') cannot be built here: ${message}`,
    { code: 'MULTI_CHILD_UNAVAILABLE', cause: err },
  );
}

function checkTags(options: PutOptions | undefined): readonly string[] {
  const tags = options?.tags ?? [];
  if (!isStringArray(tags)) throw new TypeError('Put option `tags` must be an array of strings');
  return tags;
}

function sizeOf(frames: Frames): number {
  assertFrames(frames);
  return framesByteLength(frames);
}

/**
 * Routes each put to one of several child connectors by policy, and each read to the child its key
 * names.
 *
 * - **Routing.** Among the children whose policy accepts the object (size within `[minSize, maxSize]`,
 *   tags allowed by `subsetTags` and covering `supersetTags`, host matching `hostPattern`), the highest
 *   `priority` wins, ties by declaration order. None: `MultiPolicyError` (`MULTI_NO_POLICY`), and nothing
 *   is written.
 * - **Dormant children.** A child whose `hostPattern` does not match this host never takes a put here.
 *   Given as a config, it is not even built (no connection, no directory) until a key that names it is
 *   read, exists-checked or evicted: then it is built from its config, because its data may well be
 *   reachable from here (a Redis server, a shared file system) even though this host should not write
 *   there. A child that cannot be built then fails that call with `MULTI_CHILD_UNAVAILABLE`.
 * - **Ownership.** Children given as instances belong to the MultiConnector from then on: `close()`
 *   closes them.
 */
export class MultiConnector implements Connector<MultiKey> {
  static readonly kind = 'multi';
  readonly kind = MultiConnector.kind;
  /** Child names, in declaration order. */
  readonly childNames: readonly string[];
  /** Children whose host pattern does not match this host: they take no puts here. */
  readonly dormant: readonly string[];
  readonly #children = new Map<string, Child>();
  /** Children that may take puts on this host, best first. */
  readonly #candidates: readonly Child[];
  readonly #hostname: string;
  #closed = false;

  constructor(options: MultiConnectorOptions) {
    const connectors = options?.connectors as unknown;
    if (!isPlainObject(connectors)) {
      throw new ConfigError('MultiConnector needs `connectors`: an object of { connector, policy } by name');
    }
    const entries = Object.entries(connectors);
    if (entries.length === 0) throw new ConfigError('MultiConnector needs at least one child connector');
    this.#hostname = hostname();
    // Validate everything before building anything, so a bad entry leaves no child half-connected.
    const pending: { name: string; connector: Connector | ConnectorConfig; policy: NormalPolicy }[] = [];
    for (const [name, child] of entries) {
      if (name === '') throw new ConfigError('MultiConnector child names must be non-empty');
      if (!isPlainObject(child)) {
        throw new ConfigError(`MultiConnector child '${name}' must be { connector, policy }`);
      }
      const connector = isConnector(child.connector) ? child.connector : checkConfig(name, child.connector);
      pending.push({ name, connector, policy: normalizePolicy(name, child.policy) });
    }
    for (const { name, connector, policy } of pending) {
      const onHost = policy.hostPatterns?.some((p) => p.test(this.#hostname)) ?? true;
      const given = isConnector(connector) ? undefined : connector;
      const child: Child = {
        name,
        policy,
        onHost,
        connector: given === undefined ? (connector as Connector) : undefined,
        given,
      };
      this.#children.set(name, child);
      if (onHost && given !== undefined) {
        try {
          child.connector = connectorFromConfig(given);
        } catch (err) {
          this.#abandon();
          throw childUnavailable(child, err);
        }
      }
    }
    this.childNames = [...this.#children.keys()];
    this.dormant = this.childNames.filter((name) => this.#children.get(name)?.onHost === false);
    // Array.prototype.sort is stable: equal priorities keep declaration order.
    this.#candidates = [...this.#children.values()]
      .filter((c) => c.onHost)
      .sort((a, b) => b.policy.priority - a.policy.priority);
  }

  /** Builds from `config().options`: each child from its config, through the connector registry. */
  static fromConfig(options: { [k: string]: JsonValue }): MultiConnector {
    const { connectors } = options;
    if (!isPlainObject(connectors)) {
      throw new ConfigError(`MultiConnector config: 'connectors' must be an object of { config, policy }`);
    }
    const children = Object.entries(connectors).map(([name, entry]): [string, MultiChild] => {
      if (!isPlainObject(entry)) {
        throw new ConfigError(`MultiConnector config: child '${name}' must be { config, policy }`);
      }
      const child: MultiChild = { connector: checkConfig(name, entry.config) };
      if (entry.policy !== undefined) child.policy = entry.policy as MultiPolicy;
      return [name, child];
    });
    return new MultiConnector({ connectors: Object.fromEntries(children) });
  }

  /** Closes, in the background, children built before a failed constructor gave up. */
  #abandon(): void {
    for (const child of this.#children.values()) {
      if (child.given !== undefined && child.connector !== undefined) {
        const failed = (err: unknown): void => debug('multi: closing %s failed: %s', child.name, err);
        child.connector.close().catch(failed);
      }
    }
  }

  #open(options?: IoOptions): void {
    if (this.#closed) throw new ClosedError(`MultiConnector (${this.childNames.join(', ')})`);
    options?.signal?.throwIfAborted();
  }

  /** Why `child` declines the object, or null when it accepts. `size` undefined: a future of unknown size. */
  #declines(child: Child, size: number | undefined, tags: readonly string[], future: boolean): string | null {
    const p = child.policy;
    if (size === undefined) {
      if (p.minSize > 0 || p.maxSize !== undefined) {
        return `bounds sizes to [${p.minSize}, ${p.maxSize ?? '∞'}] and newKey was given no size`;
      }
    } else if (size < p.minSize) {
      return `size ${size} is below minSize ${p.minSize}`;
    } else if (p.maxSize !== undefined && size > p.maxSize) {
      return `size ${size} is above maxSize ${p.maxSize}`;
    }
    if (p.subsetTags !== undefined) {
      const allowed = p.subsetTags;
      const extra = tags.filter((t) => !allowed.includes(t));
      if (extra.length > 0) {
        return `tag(s) ${JSON.stringify(extra)} not in subsetTags ${JSON.stringify(allowed)}`;
      }
    }
    const missing = p.supersetTags.filter((t) => !tags.includes(t));
    if (missing.length > 0) return `requires tag(s) ${JSON.stringify(missing)} (supersetTags)`;
    if (future && (child.connector?.newKey === undefined || child.connector.set === undefined)) {
      return `kind '${child.connector?.kind}' has no newKey/set (futures)`;
    }
    return null;
  }

  /** The child that takes the object, or MultiPolicyError naming each child's reason to decline. */
  #route(size: number | undefined, tags: readonly string[], future = false): Routed {
    const reasons: Record<string, string> = {};
    for (const child of this.#candidates) {
      const why = this.#declines(child, size, tags, future);
      if (why === null) return { child, connector: child.connector as Connector };
      reasons[child.name] = why;
    }
    for (const child of this.#children.values()) {
      if (child.onHost) continue;
      const patterns = JSON.stringify(child.policy.json.hostPattern);
      reasons[child.name] = `dormant: host '${this.#hostname}' does not match hostPattern ${patterns}`;
    }
    throw new MultiPolicyError(size, tags, reasons);
  }

  /** The child a key names, built now if it is dormant and was not needed before. */
  #childOf(key: unknown): Routed & { inner: Key } {
    assertKey(key, MultiConnector.kind);
    const { child: name, key: inner } = key;
    if (typeof name !== 'string') {
      throw new InvalidKeyError(`A multi key needs a string 'child' naming the child connector`);
    }
    if (!isPlainObject(inner)) throw new InvalidKeyError(`A multi key needs the child's key as 'key'`);
    const child = this.#children.get(name);
    if (child === undefined) {
      throw new InvalidKeyError(
        `Multi key names child '${name}', which this MultiConnector does not have ` +
          `(children: ${this.childNames.join(', ')})`,
      );
    }
    if (child.connector === undefined) {
      try {
        child.connector = connectorFromConfig(child.given as ConnectorConfig);
      } catch (err) {
        throw childUnavailable(child, err);
      }
    }
    return { child, connector: child.connector, inner: inner as Key };
  }

  #wrap(child: Child, inner: Key): MultiKey {
    return { kind: 'multi', id: inner.id, child: child.name, key: inner };
  }

  async put(frames: Frames, options?: PutOptions): Promise<MultiKey> {
    this.#open(options);
    const { child, connector } = this.#route(sizeOf(frames), checkTags(options));
    return this.#wrap(child, await connector.put(frames, options));
  }

  async get(key: MultiKey, options?: IoOptions): Promise<Uint8Array[] | null> {
    this.#open(options);
    const { connector, inner } = this.#childOf(key);
    return connector.get(inner, options);
  }

  /**
   * The child's `getSync`. For an async-only child (Redis, gRPC), what `Store.getSync` does for such a
   * connector: its `getLocal` answer when it serves the key itself, else a read through the sync bridge,
   * whose worker builds that child alone from its config. The bridge waits up to this thread's default
   * timeout (`setSyncBridgeOptions`).
   */
  getSync(key: MultiKey): Uint8Array[] | null {
    this.#open();
    const { child, connector, inner } = this.#childOf(key);
    if (connector.getSync !== undefined) return connector.getSync(inner);
    const local = connector.getLocal?.(inner);
    if (local !== undefined) return local;
    child.bridgeConfig ??= connector.config();
    return syncBridgeGet(child.bridgeConfig, inner);
  }

  async exists(key: MultiKey, options?: IoOptions): Promise<boolean> {
    this.#open(options);
    const { connector, inner } = this.#childOf(key);
    return connector.exists(inner, options);
  }

  async evict(key: MultiKey, options?: IoOptions): Promise<void> {
    this.#open(options);
    const { connector, inner } = this.#childOf(key);
    await connector.evict(inner, options);
  }

  /** The child's `evictSync`; for a child without one, its async `evict` started in the background. */
  evictSync(key: MultiKey): void {
    this.#open();
    const { child, connector, inner } = this.#childOf(key);
    if (connector.evictSync !== undefined) {
      connector.evictSync(inner);
      return;
    }
    const failed = (err: unknown): void => debug('multi: evict in child %s failed: %s', child.name, err);
    connector.evict(inner).catch(failed);
  }

  /**
   * Routes every item first (a `MultiPolicyError` writes nothing), then stores each child's share in one
   * child batch, all children at once. All or nothing: when one child's batch fails, what the others
   * wrote is evicted, since the caller never receives those keys.
   */
  async putBatch(items: readonly Frames[], options?: PutOptions): Promise<MultiKey[]> {
    this.#open(options);
    const tags = checkTags(options);
    const groups = new Map<Child, { connector: Connector; indices: number[] }>();
    items.forEach((frames, i) => {
      const { child, connector } = this.#route(sizeOf(frames), tags);
      let group = groups.get(child);
      if (group === undefined) groups.set(child, (group = { connector, indices: [] }));
      group.indices.push(i);
    });
    const keys = new Array<MultiKey>(items.length);
    const written: { connector: Connector; key: Key }[] = [];
    const results = await Promise.allSettled(
      [...groups].map(async ([child, { connector, indices }]) => {
        const inner = await connector.putBatch(
          indices.map((i) => items[i] as Frames),
          options,
        );
        inner.forEach((key, j) => {
          written.push({ connector, key });
          keys[indices[j] as number] = this.#wrap(child, key);
        });
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed === undefined) return keys;
    await Promise.all(written.map(({ connector, key }) => connector.evict(key).catch(() => {})));
    throw failed.reason;
  }

  /** Validates every key first, then reads each child's share in one child batch; order kept. */
  async getBatch(keys: readonly MultiKey[], options?: IoOptions): Promise<(Uint8Array[] | null)[]> {
    this.#open(options);
    const groups = new Map<Child, { connector: Connector; indices: number[]; inner: Key[] }>();
    keys.forEach((key, i) => {
      const { child, connector, inner } = this.#childOf(key);
      let group = groups.get(child);
      if (group === undefined) groups.set(child, (group = { connector, indices: [], inner: [] }));
      group.indices.push(i);
      group.inner.push(inner);
    });
    const out = new Array<Uint8Array[] | null>(keys.length);
    await Promise.all(
      [...groups.values()].map(async ({ connector, indices, inner }) => {
        const got = await connector.getBatch(inner, options);
        indices.forEach((index, j) => (out[index] = got[j] ?? null));
      }),
    );
    return out;
  }

  /**
   * Mints a future's key in the child that `options` route to: `tags` as for a put, and `size` (the
   * expected size) when given. Without `size`, only children that accept every size qualify. Children
   * without `newKey`/`set` never do.
   */
  async newKey(options?: MultiNewKeyOptions): Promise<MultiKey> {
    this.#open(options);
    const size = options?.size;
    if (size !== undefined && !isSize(size)) {
      throw new TypeError('newKey option `size` must be a non-negative integer');
    }
    const { child, connector } = this.#route(size, checkTags(options), true);
    const inner = await connector.newKey?.(options);
    // #route only picks children with newKey; this keeps the types honest.
    if (inner === undefined) throw new ConnectorError(`MultiConnector child '${child.name}' has no newKey`);
    return this.#wrap(child, inner);
  }

  /** Stores a future's frames in the child its key names; the policy is not checked again (the key decided). */
  async set(key: MultiKey, frames: Frames, options?: PutOptions): Promise<void> {
    this.#open(options);
    const { child, connector, inner } = this.#childOf(key);
    if (connector.set === undefined) {
      throw new ConnectorError(
        `MultiConnector child '${child.name}' (kind '${connector.kind}') has no set (futures)`,
      );
    }
    await connector.set(inner, frames, options);
  }

  /**
   * Every child's config and policy, dormant children included (as they were given), so `fromConfig` in
   * another process re-creates the same routing there.
   */
  config(): ConnectorConfig {
    const entries = [...this.#children.values()].map((child): [string, JsonValue] => {
      // A built child's own config is the canonical one (a file directory made absolute, a segment named).
      const c = child.connector?.config() ?? (child.given as ConnectorConfig);
      const config = { kind: c.kind, package: c.package, options: c.options };
      return [child.name, { config, policy: child.policy.json }];
    });
    // fromEntries defines own properties, so even a child named '__proto__' survives.
    const connectors: { [name: string]: JsonValue } = Object.fromEntries(entries);
    return { kind: MultiConnector.kind, package: '@proxystore/core', options: { connectors } };
  }

  /**
   * Closes every child built here (given, active or woken dormant), passing `clear` on. Idempotent.
   * Dormant children never built are not touched, so `clear` leaves their objects alone.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    this.#closed = true;
    const built = [...this.#children.values()].filter((c) => c.connector !== undefined);
    const results = await Promise.allSettled(built.map((c) => (c.connector as Connector).close(options)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
