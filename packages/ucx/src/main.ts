#!/usr/bin/env node
// proxystore-ucx-daemon (to come in this change).
export {};
