// Maps a connector kind to the function that builds it from a config. A revived reference names its
// connector's kind and package; when the kind is not registered yet, the package is imported by name and
// registers itself on load, so the receiving process needs no user code.
import { createRequire } from 'node:module';
import type { Connector, ConnectorConfig, ConnectorFactory } from './connector.js';
import { ConfigError } from './errors.js';

const factories = new Map<string, ConnectorFactory>();
const requireFromHere = createRequire(import.meta.url);

/** Makes `kind` buildable from a config. Re-registering a kind replaces its factory. */
export function registerConnector(kind: string, factory: ConnectorFactory): void {
  factories.set(kind, factory);
}

/** True when `kind` can be built without loading a package. */
export function isConnectorRegistered(kind: string): boolean {
  return factories.has(kind);
}

function unknownKind(config: ConnectorConfig, cause?: unknown): ConfigError {
  return new ConfigError(
    `No connector of kind '${config.kind}' is registered, and package '${config.package}' ` +
      `did not register one (is it installed?)`,
    { code: 'UNKNOWN_CONNECTOR', cause },
  );
}

function build(config: ConnectorConfig): Connector {
  const factory = factories.get(config.kind);
  if (factory === undefined) throw unknownKind(config);
  return factory(config.options);
}

/**
 * Builds a connector from its config without yielding: just-in-time proxy resolution is synchronous.
 * An unregistered kind loads its package with `require` (Node >= 20.19 loads ES modules this way).
 */
export function connectorFromConfig(config: ConnectorConfig): Connector {
  if (!factories.has(config.kind)) {
    try {
      requireFromHere(config.package);
    } catch (err) {
      throw unknownKind(config, err);
    }
  }
  return build(config);
}

/** Like `connectorFromConfig`, loading an unregistered package with `import()`. */
export async function connectorFromConfigAsync(config: ConnectorConfig): Promise<Connector> {
  if (!factories.has(config.kind)) {
    try {
      await import(config.package);
    } catch (err) {
      throw unknownKind(config, err);
    }
  }
  return build(config);
}
