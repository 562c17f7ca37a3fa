// Loads the compiled addon. Release first, then Debug: the folders cmake-js writes with --out build.
'use strict';
const path = require('node:path');

const candidates = ['build/Release/proxystore_ucx.node', 'build/Debug/proxystore_ucx.node'];
let lastError;
for (const rel of candidates) {
  try {
    module.exports = require(path.join(__dirname, rel));
    return;
  } catch (err) {
    if (err && err.code !== 'MODULE_NOT_FOUND') throw err;
    lastError = err;
  }
}
const err = new Error(
  'The UCX addon is not built. Install UCX (Debian: apt-get install libucx-dev) and run `npm run build` in native/ucx.',
  { cause: lastError },
);
err.code = 'UCX_ADDON_NOT_BUILT';
throw err;
