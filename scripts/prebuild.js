#!/usr/bin/env node
// Puts the addon built in build/Release where node-gyp-build looks for a prebuilt one
// (prebuildify's layout and naming: prebuilds/<platform>-<arch>/node.napi.<libc>.node), so the
// packed tarball carries it; `--clean` removes prebuilds/ again after packing, so that a working
// tree never loads a stale copy.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const dir = path.join(root, 'prebuilds');

if (process.argv.includes('--clean')) {
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

const built = path.join(root, 'build', 'Release', 'blasnet.node');
// The tag says which C library the addon needs; a musl system then builds from source instead.
const libc = os.platform() === 'linux' ? (fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc') : null;
const name = ['node', 'napi', libc, 'node'].filter(Boolean).join('.');
const target = path.join(dir, `${os.platform()}-${os.arch()}`, name);

// It must need the OpenBLAS runtime by its soname (Debian: libopenblas0), not a build-tree path.
const readelf = spawnSync('readelf', ['-d', built], { encoding: 'utf8' });
if (readelf.status === 0 && !/NEEDED.*\[libopenblas\.so\.0\]/.test(readelf.stdout)) {
  console.error(`prebuild: ${built} does not link libopenblas.so.0:\n${readelf.stdout}`);
  process.exit(1);
}
// The C and C++ runtime versions it needs stay within what README.md promises (glibc 2.34, the
// libstdc++ of GCC 12): a newer build machine would otherwise raise them unseen.
const PROMISED = { GLIBC: [2, 34], GLIBCXX: [3, 4, 30] };
const versions = spawnSync('readelf', ['-V', built], { encoding: 'utf8' });
if (versions.status !== 0) console.warn('prebuild: readelf did not run; the symbol versions the addon needs are not checked');
else {
  const newer = (v, limit) => {
    for (let i = 0; i < Math.max(v.length, limit.length); i++) {
      if ((v[i] ?? 0) !== (limit[i] ?? 0)) return (v[i] ?? 0) > (limit[i] ?? 0);
    }
    return false;
  };
  for (const [lib, limit] of Object.entries(PROMISED)) {
    const needed = [...versions.stdout.matchAll(new RegExp(`Name: ${lib}_([0-9.]+)`, 'g'))].map((m) => m[1].split('.').map(Number));
    const over = needed.filter((v) => newer(v, limit));
    if (over.length > 0) {
      console.error(`prebuild: ${built} needs ${over.map((v) => `${lib}_${v.join('.')}`).join(', ')}, past the ${lib}_${limit.join('.')} README.md promises`);
      process.exit(1);
    }
  }
}
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(path.dirname(target), { recursive: true });
fs.copyFileSync(built, target);
console.log(`prebuild: ${path.relative(root, target)}`);
