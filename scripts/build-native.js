#!/usr/bin/env node
// Builds the native addon with cmake-js. Without a compiler or OpenBLAS the build fails and the
// library runs on its js backend, so by default a failure only warns; `--strict` (or
// BLASNET_REQUIRE_NATIVE=1) makes it fatal.
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');

const strict = process.argv.includes('--strict') || process.env.BLASNET_REQUIRE_NATIVE === '1';
const root = path.resolve(__dirname, '..');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--log-level', 'warn'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  const msg = 'blasnet: the native addon did not build (it needs cmake, g++ and libopenblas-dev)';
  if (strict) {
    console.error(`${msg}.`);
    process.exit(r.status ?? 1);
  }
  console.warn(`${msg}; the js backend will be used.`);
}
