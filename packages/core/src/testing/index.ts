// @proxystore/core/testing: the connector contract test-kit. Kept out of the main entry so that importing
// @proxystore/core never loads vitest; connector packages import this from their own tests.
export { describeConnectorContract } from './contract.js';
export type { ConnectorContractOptions } from './contract.js';
