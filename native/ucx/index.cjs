// Loads the compiled addon. Release first, then Debug: the folders cmake-js writes with --out build.
'use strict';
const path = require('node:path');

// UCX's memory hooks (UCM) patch malloc and mmap/munmap in the whole process, at run time, to keep
// UCX's own registration cache coherent. In a Node process V8's threads allocate and map memory all
// the time; the addon registers memory itself (its pool and cache) and needs none of that, so the
// hooks stay off unless the user asked for them. Set before the library loads: UCX reads them then.
for (const [name, value] of [['UCX_MEM_MALLOC_HOOKS', 'no'], ['UCX_MEM_MALLOC_RELOC', 'no'], ['UCX_MEM_EVENTS', 'no']]) {
  if (process.env[name] === undefined) process.env[name] = value;
}

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
