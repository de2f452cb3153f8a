/**
 * The native kernels' instruction-set levels (native/isa.h): every level this CPU supports,
 * forced with BLASNET_ISA in a fresh process, passes the kernel tests that compare native with js
 * (test/12.parity, and the native rows of test/10.kernels, test/14.exp and test/60.optim), and
 * computes the same bits as every other level (denseForward: every level that runs the same path,
 * OpenBLAS or the packed kernels; BLASNET_PACKED_FORWARD chooses).
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { getBackend, nativeAvailable } from '../lib';
import { KERNEL_ISA_LEVELS } from '../lib/backend/native';
import { requireNative } from './helpers';

const DIST = path.resolve(__dirname, '..');
const LIB = path.join(DIST, 'lib');
const MOCHA = require.resolve('mocha/bin/mocha.js');

/** The kernel tests run at each level: native against js, or native against float64 references. */
const PARITY_FILES = ['12.parity.test.js', '10.kernels.test.js', '14.exp.test.js', '60.optim.test.js'].map((f) => path.join(DIST, 'test', f));
const PARITY_GREP = 'native vs js parity|(row operations|activations|dense layer|optimizer kernels|clamp|exponentials against float64|' +
  'optimizers: 8 steps against the float64 reference[^[]*) \\[native\\]';

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, BLASNET_BACKEND: '', BLASNET_ADDON_PATH: '', BLASNET_REQUIRE_NATIVE: '1', ...extra };
}

interface Digests {
  isa: string;
  writeAhead: boolean;
  packedForward: boolean;
  digests: Record<string, string>;
}

/**
 * The outputs of denseForward (the "dense" digests): OpenBLAS's product where packedForward is
 * off, blasnet's packed kernels where it is on, which sum in another order; either way the same
 * bits at every level that runs the same path.
 */
const isDense = (key: string): boolean => key.startsWith('dense');

/**
 * A child that runs every multi-level kernel on seeded inputs (two kernel threads, so the split
 * paths run too) and prints its level and one hex string per output.
 */
const DIGEST_CHILD = `
const bn = require(${JSON.stringify(LIB)});
const b = bn.getBackend('native');
b.setNumThreads(2);
const rng = new bn.Rng(7);
const out = { isa: b.info().kernelIsa, digests: {} };
const hex = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
const n = 70001;
const x = rng.uniformArray(n, -4, 4), y = new Float32Array(n), dy = rng.uniformArray(n, -1, 1), dx = new Float32Array(n);
x[5] = NaN; x[6] = Infinity; x[7] = -0;
for (const name of bn.ACTIVATION_NAMES) {
  const id = bn.activationId(name), param = bn.ACTIVATIONS[name].param;
  b.activation(id, param, n, x, y);
  b.activationBackward(id, param, n, x, y, dy, dx);
  out.digests[name] = hex(y) + hex(dx);
  const z = rng.uniformArray(37 * 130, -2, 2), ya = new Float32Array(37 * 130), w = rng.uniformArray(130 * 9, -1, 1);
  const xin = rng.uniformArray(37 * 9, -1, 1), bias = rng.uniformArray(130, -1, 1);
  b.denseForward(id, param, 37, 9, 130, xin, w, bias, z, ya);
  out.digests['dense ' + name] = hex(z) + hex(ya);
}
// The row kernels with exponentials, on rows narrower and wider than their 1024-float buffer.
for (const [r, c] of [[333, 10], [3, 1500]]) {
  const lx = rng.uniformArray(r * c, -30, 30), ly = new Float32Array(r * c), ldx = new Float32Array(r * c);
  lx[4] = NaN; lx[c + 1] = Infinity; lx[2 * c + 2] = -Infinity;
  b.softmax(r, c, lx, ly); out.digests['softmax ' + c] = hex(ly);
  b.logSoftmax(r, c, lx, ly); b.logSoftmaxBackward(r, c, ly, dy.subarray(0, r * c), ldx);
  out.digests['logSoftmax ' + c] = hex(ly) + hex(ldx);
  const lp = rng.uniformArray(r * c, -30, 30), labels = Int32Array.from({ length: r }, (_, i) => (i * 7) % c);
  const dist = rng.uniformArray(r * c, 0, 1), g = new Float32Array(r * c), gd = new Float32Array(r * c);
  const v = b.loss(bn.lossId('crossEntropy'), 0, r, c, lp, labels, g);
  const vd = b.loss(bn.lossId('crossEntropy'), 0, r, c, lp, dist, gd);
  out.digests['crossEntropy ' + c] = String(v) + ' ' + String(vd) + hex(g) + hex(gd);
}
const rows = 301, cols = 517, m = rng.uniformArray(rows * cols, -1, 1), sums = rng.uniformArray(cols, -1, 1);
b.colSum(rows, cols, 0.5, m, sums);
out.digests.colSum = hex(sums);
const s = x.slice(); b.scale(n, 0.3, s); out.digests.scale = hex(s);
const a = dy.slice(); b.axpy(n, -1.7, x, a); out.digests.axpy = hex(a);
const p = new Float32Array(n); b.mul(n, x, dy, p); out.digests.mul = hex(p);
const c = x.slice(); b.clamp(n, -1.5, 0.75, c); out.digests.clamp = hex(c);
const scan = rng.uniformArray(1 << 20, -1, 1); scan[900001] = NaN;
out.digests.firstNonFinite = String(b.firstNonFinite(scan.length, scan)) + ' ' + String(b.firstNonFinite(900001, scan));
// The checked gather tests the gathered rows with the leveled scan; a NaN in the 200th row gathered.
const gi = Int32Array.from({ length: 250 }, (_, i) => (i * 37) % rows), gd = new Float32Array(250 * cols);
const gm = m.slice(); gm[gi[199] * cols + 11] = NaN;
out.digests.gatherRowsChecked = String(b.gatherRowsChecked(250, cols, rows, gi, gm, gd)) + hex(gd);
const lab = Int32Array.from({ length: 5000 }, (_, i) => i % 10);
lab[3100] = -1; lab[4000] = 10;
out.digests.firstLabelOutside = [b.firstLabelOutside(5000, lab, 10), b.firstLabelOutside(3100, lab, 10), b.firstLabelOutside(5000, lab, 2147483647)].join(' ');
for (const [id, name] of bn.OPTIMIZER_KERNEL_NAMES.entries()) {
  const k = bn.OPTIMIZER_KERNELS[name];
  const len = 100003, hyper = new Float32Array(k.hyper.length);
  // Every flag on and every scalar in (0, 1): the widest loop of each kernel.
  for (let i = 0; i < hyper.length; i++) hyper[i] = 0.01 + 0.9 * rng.uniform();
  const pp = rng.uniformArray(len, -3, 3), g = rng.uniformArray(len, -2, 2), st = rng.uniformArray(k.slots.length * len, 0, 1);
  for (let step = 0; step < 3; step++) b.optimizerStep(id, len, hyper, pp, g, st);
  out.digests['optimizer ' + name] = hex(pp) + hex(st);
  // The same step cut by weight blocks (a Sequential's step), with blocks whose rows are cut
  // between the threads, whole small blocks, and pieces that end inside a stretch of the
  // write-ahead loop (native/optimizers.cc inStretches).
  const blocks = Int32Array.from([300, 317, 1, 317, 129, 3, 1, 5, 7, 1000]);
  let bn_ = 0;
  for (let i = 0; i < blocks.length; i += 2) bn_ += blocks[i] * blocks[i + 1];
  const bp = rng.uniformArray(bn_, -3, 3), bg = rng.uniformArray(bn_, -2, 2), bs = rng.uniformArray(k.slots.length * bn_, 0, 1);
  for (let step = 0; step < 3; step++) b.optimizerStepBlocks(id, bn_, hyper, bp, bg, bs, blocks.length / 2, blocks);
  out.digests['optimizer blocks ' + name] = hex(bp) + hex(bs);
}
// Adam's AVX-512 division (native/fmadiv.h) on values at and past the edges of its fast path:
// first moments of every magnitude (zero, -0, subnormal, 2^-70 and below, 2^90 and above, NaN,
// infinity), second moments that put the denominator below 2^-30 or above 2^30, the all-ones
// significands, and eps 1e-8, 0 and 1e-35; with and without amsgrad.
{
  const id = bn.OPTIMIZER_KERNEL_NAMES.indexOf('adam'), len = 4099;
  const firsts = [0, -0, 1e-45, -1e-40, 2 ** -70, -(2 ** -71), 1e-30, 2 ** 89, -(2 ** 90), 1e30, NaN, Infinity, -Infinity, 1, 3, 1.9999999, -0.5];
  const seconds = [0, 1e-45, 1e-40, 2 ** -62, 2 ** -58, 1e-20, 1e-12, 1, 2 ** 58, 2 ** 62, 1e38, NaN, Infinity, 3.9999998, 0.25];
  for (const [eps, amsgrad] of [[1e-8, 0], [0, 0], [1e-35, 1]]) {
    const hyper = new Float32Array([1e-3, 0.9, 0.1, 0.999, 0.001, eps, 0, 0, amsgrad, 0, 0.1, 0.001]);
    const pp = rng.uniformArray(len, -3, 3), g = rng.uniformArray(len, -2, 2), st = new Float32Array(3 * len);
    for (let i = 0; i < len; i++) {
      st[i] = rng.uniform() < 0.5 ? firsts[i % firsts.length] : rng.range(-1, 1) * 2 ** Math.floor(rng.range(-80, 100));
      st[len + i] = rng.uniform() < 0.5 ? seconds[(i * 7) % seconds.length] : rng.uniform() * 2 ** Math.floor(rng.range(-126, 127));
      st[2 * len + i] = st[len + i] * rng.range(0, 2);
      if (i % 5 === 0) g[i] = 0;
    }
    b.optimizerStep(id, len, hyper, pp, g, st);
    out.digests['adam edges eps ' + eps + ' amsgrad ' + amsgrad] = hex(pp) + hex(st);
  }
}
// A dense layer's forward and backward passes over more rows than one thread takes.
{
  const id = bn.activationId('relu'), rows = 97, inD = 33, outD = 1030;
  const xin = rng.uniformArray(rows * inD, -1, 1), w = rng.uniformArray(outD * inD, -1, 1), bias = rng.uniformArray(outD, -1, 1);
  const z = new Float32Array(rows * outD), ya = new Float32Array(rows * outD), dyy = rng.uniformArray(rows * outD, -1, 1);
  const dz = new Float32Array(rows * outD), dw = new Float32Array(outD * inD), db = new Float32Array(outD), dxx = new Float32Array(rows * inD);
  b.denseForward(id, 0, rows, inD, outD, xin, w, bias, z, ya);
  b.denseBackward(id, 0, rows, inD, outD, 0, xin, w, z, ya, dyy, dz, dw, db, dxx);
  out.digests['dense backward'] = hex(z) + hex(ya) + hex(dz) + hex(dw) + hex(db) + hex(dxx);
}
out.writeAhead = b.info().writeAhead;
out.packedForward = b.info().packedForward;
for (const [k, v] of Object.entries(out.digests)) {
  out.digests[k] = require('crypto').createHash('sha256').update(v).digest('hex');
}
process.stdout.write(JSON.stringify(out));
`;

(nativeAvailable() || requireNative ? describe : describe.skip)('native kernels at each instruction-set level (BLASNET_ISA)', function () {
  this.timeout(300000);
  const supported = nativeAvailable() ? getBackend('native').info().kernelIsaSupported : 'portable';
  const levels = KERNEL_ISA_LEVELS.slice(0, KERNEL_ISA_LEVELS.indexOf(supported as (typeof KERNEL_ISA_LEVELS)[number]) + 1);
  const digests = new Map<string, Digests>();
  const child = (extra: Record<string, string>): Digests => {
    const r = spawnSync(process.execPath, ['-e', DIGEST_CHILD], { env: env(extra), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Digests;
  };

  for (const level of levels) {
    it(`${level}: the native kernel tests pass against js and the float64 references`, () => {
      const r = spawnSync(process.execPath, [MOCHA, '--no-config', '--timeout', '60000', ...PARITY_FILES, '--grep', PARITY_GREP, '--reporter', 'dot'],
        { env: env({ BLASNET_ISA: level }), encoding: 'utf8', cwd: path.resolve(DIST, '..') });
      assert.equal(r.status, 0, `mocha at BLASNET_ISA=${level} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
      const passing = Number(/(\d+) passing/.exec(r.stdout)?.[1] ?? 0);
      assert.ok(passing >= 150, `expected the parity cases to run, got ${passing} passing`);
    });

    it(`${level}: runs at that level and computes the same bits as every other level`, () => {
      const got = child({ BLASNET_ISA: level });
      assert.equal(got.isa, level);
      for (const [other, d] of digests) {
        for (const [k, v] of Object.entries(got.digests)) {
          if (!isDense(k) || d.packedForward === got.packedForward) assert.equal(v, d.digests[k], `${k}: ${level} differs from ${other}`);
        }
      }
      digests.set(level, got);
    });
  }

  it('BLASNET_PACKED_FORWARD switches denseForward between OpenBLAS and the packed kernels, the same bits at every level', () => {
    const portable = child({ BLASNET_ISA: 'portable', BLASNET_PACKED_FORWARD: '1' });
    assert.equal(portable.packedForward, false, 'the portable level has no packed kernels of its own');
    // By default on at both x86 levels (measured faster there); the switch overrides it either way.
    const byDefault = child({ BLASNET_ISA: supported });
    assert.equal(byDefault.packedForward, supported !== 'portable');
    const x86 = levels.filter((l) => l !== 'portable');
    // Every level's tiles sum over k in the same order with fused multiply-adds.
    const first = x86.length > 0 ? child({ BLASNET_ISA: x86[0], BLASNET_PACKED_FORWARD: '1' }) : null;
    for (const level of x86) {
      const on = child({ BLASNET_ISA: level, BLASNET_PACKED_FORWARD: '1' });
      const off = child({ BLASNET_ISA: level, BLASNET_PACKED_FORWARD: '0' });
      assert.equal(on.packedForward, true);
      assert.equal(off.packedForward, false);
      for (const [k, v] of Object.entries(portable.digests)) {
        assert.equal(off.digests[k], v, `${k}: ${level} with OpenBLAS's forward differs from portable`);
        if (!isDense(k)) assert.equal(on.digests[k], v, `${k}: ${level} with the packed forward differs from portable`);
      }
      for (const [k, v] of Object.entries((first as Digests).digests)) assert.equal(on.digests[k], v, `${k}: packed at ${level} differs from ${x86[0]}`);
    }
  });

  it('the native kernel tests pass with the dense forward pass on the path this level does not take by default', function () {
    if (supported === 'portable') this.skip();
    const other = getBackend('native').info().packedForward ? '0' : '1';
    const r = spawnSync(process.execPath, [MOCHA, '--no-config', '--timeout', '60000', ...PARITY_FILES, '--grep', PARITY_GREP, '--reporter', 'dot'],
      { env: env({ BLASNET_PACKED_FORWARD: other }), encoding: 'utf8', cwd: path.resolve(DIST, '..') });
    assert.equal(r.status, 0, `mocha at BLASNET_PACKED_FORWARD=${other} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
    assert.ok(Number(/(\d+) passing/.exec(r.stdout)?.[1] ?? 0) >= 150);
  });

  it('BLASNET_WRITE_AHEAD=0 turns the write-ahead prefetch off and computes the same bits', () => {
    const run = (extra: Record<string, string>): Digests => child({ BLASNET_ISA: supported, ...extra });
    const on = run({}), off = run({ BLASNET_WRITE_AHEAD: '0' });
    assert.equal(off.writeAhead, false);
    // On wherever the level is above portable on an x86 CPU with PREFETCHW (every AVX2 one in practice).
    if (supported !== 'portable' && process.arch === 'x64') assert.equal(on.writeAhead, true);
    for (const [k, v] of Object.entries(on.digests)) assert.equal(off.digests[k], v, `${k}: write-ahead off differs`);
    const portable = run({ BLASNET_ISA: 'portable' });
    assert.equal(portable.writeAhead, false, 'the portable level runs as the baseline CPU would, without PREFETCHW');
  });

  it('a level above the CPU\'s runs at the CPU\'s best; an unknown level is refused with its name', () => {
    const top = spawnSync(process.execPath, ['-e',
      `process.stdout.write(require(${JSON.stringify(LIB)}).getBackend('native').info().kernelIsa)`],
    { env: env({ BLASNET_ISA: 'avx512' }), encoding: 'utf8' });
    assert.equal(top.status, 0, top.stderr);
    assert.equal(top.stdout, supported);
    const bad = spawnSync(process.execPath, ['-e', `
      try { require(${JSON.stringify(LIB)}).getBackend('native'); } catch (e) { process.stdout.write(e.code + ' ' + e.message); }`],
    { env: env({ BLASNET_ISA: 'sse9' }), encoding: 'utf8' });
    assert.equal(bad.status, 0, bad.stderr);
    assert.match(bad.stdout, /^ERR_BLASNET_BACKEND .*BLASNET_ISA="sse9" is not an instruction-set level; expected one of "portable", "avx2", "avx512"/);
    const badSwitch = spawnSync(process.execPath, ['-e', `
      try { require(${JSON.stringify(LIB)}).getBackend('native'); } catch (e) { process.stdout.write(e.code + ' ' + e.message); }`],
    { env: env({ BLASNET_PACKED_FORWARD: 'yes' }), encoding: 'utf8' });
    assert.equal(badSwitch.status, 0, badSwitch.stderr);
    assert.match(badSwitch.stdout, /^ERR_BLASNET_BACKEND .*BLASNET_PACKED_FORWARD="yes" is not a switch; expected "0" \(OpenBLAS\) or "1"/);
  });

  it('a setting that names nothing stops the default backend too, instead of a silent fall back to js; a thread count above the pool is its size', () => {
    const probe = `
      const bn = require(${JSON.stringify(LIB)});
      try { const b = bn.defaultBackend(); process.stdout.write('backend ' + b.name + ' ' + b.getNumThreads()); } catch (e) { process.stdout.write(e.code + ' ' + e.message); }`;
    for (const [variable, value, message] of [
      ['BLASNET_ISA', 'avx-512', /^ERR_BLASNET_BACKEND .*BLASNET_ISA="avx-512" is not an instruction-set level.*BLASNET_BACKEND=js uses the js backend/],
      ['BLASNET_NUM_THREADS', 'abc', /^ERR_BLASNET_BACKEND .*BLASNET_NUM_THREADS="abc" is not a thread count; expected an integer in \[1, 1024\]/],
      ['BLASNET_NUM_THREADS', '0', /BLASNET_NUM_THREADS="0" is not a thread count/],
      ['BLASNET_NUM_THREADS', '1.5', /BLASNET_NUM_THREADS="1.5" is not a thread count/],
      ['BLASNET_NUM_THREADS', '1000', /^backend native 64$/],
      ['BLASNET_NUM_THREADS', '3', /^backend native 3$/],
    ] as const) {
      const r = spawnSync(process.execPath, ['-e', probe], { env: env({ [variable]: value }), encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, message, `${variable}=${value}`);
      assert.doesNotMatch(r.stderr, /BLASNET_JS_FALLBACK|using the js backend/);
    }
  });
});
