// @proxystore/core/testing: the connector contract test-kit. Kept out of the main entry so that importing
// @proxystore/core never loads vitest; connector packages import this from their own tests.
export { describeConnectorContract } from './contract.js';
export type { ConnectorContractOptions } from './contract.js';
// A forwarding wrapper that counts calls: how tests prove that creating, inspecting or sending a proxy
// read nothing.
export { InstrumentedConnector } from './instrumented.js';
export type { CallCounts } from './instrumented.js';
