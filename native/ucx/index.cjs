// Loads the compiled addon. Release first, then Debug: the folders cmake-js writes with --out build.
'use strict';
const path = require('node:path');

// UCX's memory hooks (UCM) patch libc's brk, sbrk, mmap and munmap in the whole process when UCX loads,
// to keep UCX's own registration cache coherent. Their sbrk(0) writes the break it read, so a thread
// reading the break while another grows the heap can unmap live allocations. The addon registers its
// memory itself and needs none of that: the preload module, which links no UCX, sets
// UCX_MEM_MALLOC_HOOKS, UCX_MEM_MALLOC_RELOC and UCX_MEM_EVENTS to `no` (unless set) in the C environment
// before the addon loads. Not from JS: in a worker thread process.env is a copy that never reaches it.
const candidates = ['build/Release', 'build/Debug'];
let lastError;
for (const rel of candidates) {
  try {
    require(path.join(__dirname, rel, 'proxystore_ucx_preload.node'));
    module.exports = require(path.join(__dirname, rel, 'proxystore_ucx.node'));
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
