#!/usr/bin/env node
// The install script: uses the prebuilt addon shipped in the package when it loads on this
// machine, else builds the addon with cmake-js. Without a compiler or OpenBLAS the build fails
// and the library runs on its js backend, so by default a failure only warns; `--strict` (or
// BLASNET_REQUIRE_NATIVE=1) makes it fatal.
//
//   --build-from-source (or npm's --build-from-source, or BLASNET_BUILD_FROM_SOURCE=1)
//       build even when a prebuilt addon loads.
//
// npm hides install-script output, so a failed build's output is kept in build/blasnet-build.log;
// the library prints its last lines when it falls back to the js backend.
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const logFile = path.join(root, 'build', 'blasnet-build.log');
const strict = process.argv.includes('--strict') || process.env.BLASNET_REQUIRE_NATIVE === '1';
const fromSource = process.argv.includes('--build-from-source') ||
  process.env.npm_config_build_from_source === 'true' || process.env.BLASNET_BUILD_FROM_SOURCE === '1';

/** The prebuilt addon for this platform if one is shipped and loads (in a child process). */
function loadablePrebuild() {
  const probe = `const p = require('node-gyp-build').path(${JSON.stringify(root)}); require(p); process.stdout.write(p);`;
  const r = spawnSync(process.execPath, ['-e', probe], {
    cwd: root,
    env: { ...process.env, PREBUILDS_ONLY: '1' },
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout : null;
}

// cmake prints this for the --no-warn-unused-cli flag cmake-js always passes; it says nothing.
const NOISE = /^Not searching for unused variables given on the command line\.\r?\n/gm;

function build() {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  const child = spawn(process.execPath, [cmakeJs, 'compile', '--log-level', 'warn'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  const relay = (to) => (chunk) => {
    const text = chunk.toString().replace(NOISE, '');
    output.push(text);
    to.write(text);
  };
  child.stdout.on('data', relay(process.stdout));
  child.stderr.on('data', relay(process.stderr));
  return new Promise((resolve) => {
    child.on('error', (e) => {
      output.push(`${e.message}\n`);
      resolve({ status: 1, output: output.join('') });
    });
    child.on('close', (status) => resolve({ status: status ?? 1, output: output.join('') }));
  });
}

async function main() {
  if (!fromSource) {
    const prebuilt = loadablePrebuild();
    if (prebuilt) {
      fs.rmSync(logFile, { force: true });
      console.log(`blasnet: using the prebuilt addon ${path.relative(root, prebuilt)}`);
      return;
    }
  }
  const r = await build();
  if (r.status === 0) {
    fs.rmSync(logFile, { force: true });
    return;
  }
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.writeFileSync(logFile, r.output);
  const msg = 'blasnet: the native addon did not build (it needs cmake, g++ and libopenblas-dev)';
  if (strict) {
    console.error(`${msg}.`);
    process.exit(r.status);
  }
  // A build from source asked for over a prebuilt addon that loads: that one is used instead.
  const prebuilt = fromSource ? loadablePrebuild() : null;
  const fallback = prebuilt ? `the prebuilt addon ${path.relative(root, prebuilt)} will be used` : 'the js backend will be used';
  console.warn(`${msg}; ${fallback}. The output is in ${logFile}.`);
}

main();
