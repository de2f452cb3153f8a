/**
 * Alignment of the arrays the native kernels stream through (lib/backend/memory.ts): once the
 * addon has loaded, a model's arenas, its workspaces and the batch buffers start on a 64-byte
 * boundary, as the addon itself reports (addressOffset); and addressOffset, like every export of
 * the addon, rejects what is not a Float32Array with a coded error. Large buffers (a data set, its
 * Dataset copy) are advised for transparent huge pages before their first write, and buffers about
 * to be written whole (arenas, workspaces, batch buffers) are mapped in one system call each.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { BatchIterator, BlasnetError, compileInference, dense, encodeIdx, encodeModel, encodeSafetensors, ErrorCode, getBackend, Matrix, nativeAvailable, oneHot, PCA, readIdx, Rng, Sequential } from '../lib';
import {
  adviseLargeBuffer, alignedFloat32Array, dropSpareBuffers, LARGE_BUFFER_BYTES, largeFloat32Array, prefault, releaseFloat32Array, SPARE_BYTES, takeFloat32Array,
  takenCopy, touchPages,
} from '../lib/backend/memory';
import { addonPath } from '../lib/backend/native';
import { forEachBackend, requireNative } from './helpers';

(nativeAvailable() || requireNative ? describe : describe.skip)('aligned arrays (native)', () => {
  let offset: (x: unknown) => number;
  before(() => {
    getBackend('native');
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    offset = (require(addonPath()) as { addressOffset(x: unknown): number }).addressOffset;
  });

  it('alignedFloat32Array starts on a 64-byte boundary, holds n zeros and stays inside its view', () => {
    for (const n of [0, 1, 3, 16, 1000, 100003]) {
      for (const shared of [false, true]) {
        const a = shared ? alignedFloat32Array(n, true) : alignedFloat32Array(n);
        assert.equal(a.length, n);
        assert.equal(a.buffer instanceof SharedArrayBuffer, shared);
        if (n > 0) assert.equal(offset(a), 0, `n ${n}, shared ${shared}`);
        assert.ok(a.every((v) => v === 0));
        a.fill(1);
        const whole = new Float32Array(a.buffer);
        assert.equal(whole.reduce((s, v) => s + v, 0), n, 'writes stay in the view');
      }
    }
  });

  it("a trained model's arenas, its layers' outputs and the batches start on a 64-byte boundary", () => {
    const rng = new Rng(3);
    const x = new Matrix(rng.uniformArray(200 * 37), 200, 37);
    const y = Int32Array.from({ length: 200 }, () => rng.int(5));
    const model = new Sequential({ inputSize: 37, seed: 2, backend: 'native', layers: [dense(24, { activation: 'relu' }), dense(5)] })
      .compile({ loss: 'crossEntropy', optimizer: 'adam' });
    model.fit(x, y, { epochs: 1, batchSize: 32 });
    assert.equal(offset(model.params), 0, 'params');
    assert.equal(offset(model.grads), 0, 'grads');
    assert.equal(offset(model.forward(x).data), 0, 'output workspace');
    for (const b of new BatchIterator(x, y, { batchSize: 32, backend: 'native' })) assert.equal(offset(b.x.data), 0, 'batch buffer');
  });

  it('addressOffset rejects anything but one Float32Array with a coded error', () => {
    for (const bad of [undefined, null, 1, 'x', {}, [1], new Int32Array(4), new Float64Array(4), new ArrayBuffer(8)]) {
      assert.throws(() => offset(bad), (e: Error & { code?: string }) => e instanceof TypeError && /^ERR_BLASNET_/.test(e.code ?? ''), String(bad));
    }
    assert.throws(() => (offset as unknown as () => number)(), (e: Error & { code?: string }) => e.code === 'ERR_BLASNET_ARG_COUNT');
    assert.equal(offset(new Float32Array(0)), 0);
  });
});

/** The kernel's transparent huge page mode ('always', 'madvise' or 'never'), or null without THP. */
function thpMode(): string | null {
  try {
    const text = fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
    return /\[(\w+)\]/.exec(text)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** AnonHugePages of this process, in kB (0 where /proc has no such line). */
function anonHugeKb(): number {
  try {
    return Number(/^AnonHugePages:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/smaps_rollup', 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Runs code in a fresh process with the library as `bn`; its stdout. */
function fresh(env: Record<string, string>, code: string): string {
  const lib = path.resolve(__dirname, '..', 'lib');
  const r = spawnSync(process.execPath, ['-e', `const bn = require(${JSON.stringify(lib)});\n${code}`], {
    env: { ...process.env, BLASNET_BACKEND: '', BLASNET_HUGE_PAGES: '', ...env }, encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

/** An addon export over one typed array's memory rejects anything else, and a missing argument, with a coded error. */
function rejectsAllButOneTypedArray(f: (x: unknown) => number): void {
  for (const bad of [undefined, null, 1, 'x', {}, [1], new ArrayBuffer(8), new DataView(new ArrayBuffer(8))]) {
    assert.throws(() => f(bad), (e: Error & { code?: string }) => e instanceof TypeError && e.code === 'ERR_BLASNET_ARG_TYPE', String(bad));
  }
  assert.throws(() => (f as unknown as () => number)(), (e: Error & { code?: string }) => e.code === 'ERR_BLASNET_ARG_COUNT');
}

(nativeAvailable() || requireNative ? describe : describe.skip)('huge-page advice for large buffers (native)', () => {
  let advise: (x: unknown) => number;
  let hugeBytes = 0;
  before(() => {
    getBackend('native');
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    advise = (require(addonPath()) as { adviseHugePages(x: unknown): number }).adviseHugePages;
    try {
      hugeBytes = Number(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/hpage_pmd_size', 'utf8'));
    } catch {
      hugeBytes = 0;
    }
  });

  it('adviseHugePages advises whole huge pages inside the array only, and leaves its contents alone', () => {
    const mode = thpMode();
    for (const make of [(n: number) => new Float32Array(n), (n: number) => new Uint8Array(4 * n), (n: number) => new Float64Array(new SharedArrayBuffer(4 * n), 8, n / 2 - 2)]) {
      const x = make(4 << 20);
      x[0] = 7;
      const advised = advise(x);
      if (mode === null || mode === 'never' || hugeBytes === 0) {
        assert.equal(advised, 0);
        continue;
      }
      assert.ok(advised > 0 && advised % hugeBytes === 0 && advised <= x.byteLength, `${advised} of ${x.byteLength}`);
      assert.ok(advised >= x.byteLength - 2 * hugeBytes, `${advised} of ${x.byteLength}`);
      assert.equal(x[0], 7);
      assert.equal(x[x.length - 1], 0);
    }
    // Smaller than a huge page: nothing to advise.
    assert.equal(advise(new Float32Array(1000)), 0);
    assert.equal(advise(new Uint8Array(0)), 0);
    const moved = new Float32Array(4 << 20);
    structuredClone(moved.buffer, { transfer: [moved.buffer] });
    assert.equal(advise(moved), 0, 'a detached array has no memory');
  });

  it('an advised array is backed by huge pages once written (THP madvise or always)', function () {
    const mode = thpMode();
    if (mode !== 'madvise' && mode !== 'always') this.skip();
    const before = anonHugeKb();
    const x = largeFloat32Array(16 << 20);
    x.fill(1);
    const grown = anonHugeKb() - before;
    assert.ok(grown >= 16 * 1024, `AnonHugePages grew by ${grown} kB after filling 64 MB`);
    assert.equal(x.reduce((s, v) => s + v, 0), 16 << 20);
  });

  it('adviseHugePages rejects anything but one typed array with a coded error', () => {
    rejectsAllButOneTypedArray(advise);
  });

  it('adviseLargeBuffer skips small buffers and BLASNET_HUGE_PAGES=0', () => {
    assert.equal(adviseLargeBuffer(new Float32Array(LARGE_BUFFER_BYTES / 4 - 1)), 0);
    const saved = process.env.BLASNET_HUGE_PAGES;
    process.env.BLASNET_HUGE_PAGES = '0';
    try {
      assert.equal(adviseLargeBuffer(new Float32Array(LARGE_BUFFER_BYTES)), 0);
    } finally {
      if (saved === undefined) delete process.env.BLASNET_HUGE_PAGES;
      else process.env.BLASNET_HUGE_PAGES = saved;
    }
  });

  it('a large IDX file, plain and gzipped, reads back whole through the huge-page path', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-large-'));
    try {
      const rng = new Rng(5);
      const data = rng.uniformArray(1_500_001);
      const plain = path.join(dir, 'x.idx');
      fs.writeFileSync(plain, encodeIdx(data, [1_500_001]));
      fs.writeFileSync(`${plain}.gz`, zlib.gzipSync(fs.readFileSync(plain), { level: 1 }));
      for (const file of [plain, `${plain}.gz`]) {
        const read = readIdx(file);
        assert.deepEqual(read.dims, [1_500_001]);
        assert.equal(read.data.length, data.length);
        assert.ok((read.data as Float32Array).every((v, i) => v === data[i]), file);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('with BLASNET_BACKEND=js the data loaders leave the addon unloaded; by default they load it to advise', () => {
    const code = `const x = bn.Dataset.from(new bn.Matrix(new Float32Array(${2 << 20}), ${2 << 10}, 1024), new Int32Array(${2 << 10}));\n` +
      "console.log(require('fs').readFileSync('/proc/self/maps', 'utf8').includes('blasnet.node'))";
    assert.equal(fresh({ BLASNET_BACKEND: 'js' }, code), 'false');
    assert.equal(fresh({}, code), 'true');
  });
});

describe('touchPages and the gradient arena', () => {
  const faults = () => process.resourceUsage().minorPageFault;

  it('touchPages writes every bit back as it was, NaN payloads included', () => {
    const bits = new Int32Array(3 * 1024 + 7);
    const rng = new Rng(11);
    for (let i = 0; i < bits.length; i++) bits[i] = rng.int(2 ** 31) * (rng.int(2) === 0 ? 1 : -1);
    bits[0] = 0x7fa00001; // a signalling NaN with a payload
    bits[1024] = 0xffc12345 | 0;
    const before = Int32Array.from(bits);
    touchPages(new Float32Array(bits.buffer));
    assert.deepEqual(bits, before);
    touchPages(new Float32Array(0));
  });

  it('takenCopy copies every bit, NaN payloads included, into memory not shared with x', () => {
    for (const n of [0, 5, 3 * 1024 + 7, 100_003]) {
      const bits = new Int32Array(n);
      const rng = new Rng(n);
      for (let i = 0; i < n; i++) bits[i] = rng.int(2 ** 31) * (rng.int(2) === 0 ? 1 : -1);
      if (n > 1) bits[1] = 0x7fa00001; // a signalling NaN with a payload
      const x = new Float32Array(bits.buffer);
      const copy = takenCopy(x);
      assert.notEqual(copy.buffer, x.buffer);
      assert.deepEqual(new Int32Array(copy.buffer, copy.byteOffset, n), bits);
      releaseFloat32Array(copy);
    }
  });

  it('compile maps the gradient arena and keeps its values; writing it afterwards faults almost no pages', () => {
    const model = new Sequential({ inputSize: 1000, seed: 4, layers: [dense(1000), dense(10)] });
    const pages = Math.ceil(model.grads.byteLength / 4096);
    model.setLoss('crossEntropy');
    const x = new Matrix(new Rng(5).uniformArray(8 * 1000), 8, 1000);
    model.lossAndGradient(x, Int32Array.from({ length: 8 }, (_, i) => i));
    const grads = model.grads.slice();
    model.compile({ loss: 'crossEntropy', optimizer: 'adam' });
    assert.deepEqual(model.grads, grads, 'compile left the gradients as they were');
    const fresh = new Sequential({ inputSize: 1000, seed: 4, layers: [dense(1000), dense(10)] }).compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } });
    const f0 = faults();
    fresh.grads.fill(1);
    const taken = faults() - f0;
    assert.ok(taken < pages / 10, `${taken} faults writing ${pages} pages of a compiled model's gradients`);
  });
});

/** Whether this kernel has madvise(MADV_POPULATE_WRITE): Linux 5.14 and later. */
function kernelPopulates(): boolean {
  const [major, minor] = os.release().split('.').map(Number);
  return os.platform() === 'linux' && (major > 5 || (major === 5 && minor >= 14));
}

/**
 * Minor page faults of this (the main) thread so far: the process's count would also take in
 * other threads' (the collector's, the addon's warm-up after it loads).
 */
function mainThreadFaults(): number {
  const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, minflt field 10.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

(nativeAvailable() || requireNative ? describe : describe.skip)('mapping fresh buffers ahead of their first write (native)', () => {
  const faults = mainThreadFaults;
  let populate: (x: unknown) => number;
  before(() => {
    getBackend('native');
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    populate = (require(addonPath()) as { populatePages(x: unknown): number }).populatePages;
  });

  it('populatePages maps the whole pages inside the array only, and leaves its contents alone', () => {
    const page = 4096;
    for (const make of [(n: number) => new Float32Array(n), (n: number) => new Uint8Array(4 * n),
      (n: number) => new Float64Array(new SharedArrayBuffer(4 * n), 8, n / 2 - 2)]) {
      const x = make(1 << 20);
      x[0] = 7;
      x[x.length - 1] = 3;
      const mapped = populate(x);
      if (!kernelPopulates()) {
        assert.equal(mapped, 0);
        continue;
      }
      assert.ok(mapped > 0 && mapped % page === 0 && mapped <= x.byteLength && mapped >= x.byteLength - 2 * page, `${mapped} of ${x.byteLength}`);
      assert.equal(x[0], 7);
      assert.equal(x[x.length - 1], 3);
      assert.equal(x[1], 0);
    }
    // Less than a page, nothing at all, or a detached buffer: no whole page to map.
    assert.equal(populate(new Uint8Array(100)), 0);
    assert.equal(populate(new Uint8Array(0)), 0);
    const moved = new Float32Array(1 << 20);
    structuredClone(moved.buffer, { transfer: [moved.buffer] });
    assert.equal(populate(moved), 0, 'a detached array has no memory');
  });

  it('a prefaulted array takes almost no page faults when it is written', function () {
    if (!kernelPopulates()) this.skip();
    const pages = (32 << 20) / 4096;
    const x = new Float32Array(8 << 20);
    assert.ok(prefault(x) >= x.byteLength - 2 * 4096);
    const f0 = faults();
    x.fill(1);
    const taken = faults() - f0;
    assert.ok(taken < pages / 10, `${taken} faults writing ${pages} prefaulted pages`);
    // Without it, the same write faults page by page (the test would pass for nothing otherwise).
    const y = new Float32Array(8 << 20);
    const f1 = faults();
    y.fill(1);
    assert.ok(faults() - f1 > pages / 2, `${faults() - f1} faults writing ${pages} fresh pages`);
  });

  it('populatePages rejects anything but one typed array with a coded error', () => {
    rejectsAllButOneTypedArray(populate);
  });

  it('prefault does nothing under BLASNET_PREFAULT=0 or for less than a page', () => {
    assert.equal(prefault(new Float32Array(1000)), 0);
    const saved = process.env.BLASNET_PREFAULT;
    process.env.BLASNET_PREFAULT = '0';
    try {
      assert.equal(prefault(new Float32Array(1 << 20)), 0);
    } finally {
      if (saved === undefined) delete process.env.BLASNET_PREFAULT;
      else process.env.BLASNET_PREFAULT = saved;
    }
  });

  it('fit maps the workspace and batch buffers before its first step, which then faults far fewer pages', function () {
    if (!kernelPopulates()) this.skip();
    // Wide layers, so that the workspace is thousands of pages and other faults are noise. The
    // main thread's faults in the first step, in a fresh process with and without the mapping:
    // OpenBLAS's buffers for these shapes fault alike in both.
    const code = `const fs = require('fs');
const faults = () => { const s = fs.readFileSync('/proc/self/task/' + process.pid + '/stat', 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[7]); };
const rows = 512, inputs = 2000;
const model = new bn.Sequential({ inputSize: inputs, seed: 3, backend: 'native', layers: [bn.dense(2000, { activation: 'relu' }), bn.dense(10)] })
  .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.01 } });
const x = new bn.Matrix(new bn.Rng(6).uniformArray(rows * inputs), rows, inputs);
const y = Int32Array.from({ length: rows }, (_, i) => i % 10);
let f0 = 0, inStep = 0;
model.fit(x, y, { epochs: 1, batchSize: rows, callbacks: [{ onEpochBegin: () => { f0 = faults(); }, onBatchEnd: () => { inStep = faults() - f0; } }] });
console.log(inStep);`;
    // Pages the step writes for the first time: the hidden layer's z, y and dz, the batch's x.
    const written = Math.floor((3 * 512 * 2000 + 512 * 2000) * 4 / 4096);
    // One kernel thread: the count is the main thread's, and on two a pool thread may write the
    // first touch of some pages (2,200-4,500 of the main thread's faults were seen, run to run).
    const mapped = Number(fresh({ BLASNET_WARM_UP: '0', BLASNET_NUM_THREADS: '1' }, code));
    const unmapped = Number(fresh({ BLASNET_WARM_UP: '0', BLASNET_NUM_THREADS: '1', BLASNET_PREFAULT: '0' }, code));
    assert.ok(unmapped - mapped > 0.8 * written, `first step: ${mapped} faults mapped ahead, ${unmapped} not; the step writes ${written} fresh pages`);
  });
});


describe('buffers kept for reuse (takeFloat32Array)', () => {
  // Earlier tests' fits leave spare buffers behind: each test starts from an empty list.
  const drain = dropSpareBuffers;

  it('gives a released buffer back to a later request it can hold, and nothing else', () => {
    drain();
    const a = takeFloat32Array(10_000);
    assert.equal(a.length, 10_000);
    a.fill(7);
    releaseFloat32Array(a);
    // Reused for the same size and for a smaller one down to half: the old contents show.
    const b = takeFloat32Array(6_000);
    assert.equal(b.buffer, a.buffer);
    assert.equal(b.length, 6_000);
    assert.equal(b[0], 7);
    releaseFloat32Array(b);
    // Not for less than half its size, nor for more than it holds.
    const small = takeFloat32Array(4_000), large = takeFloat32Array(10_001);
    assert.notEqual(small.buffer, a.buffer);
    assert.notEqual(large.buffer, a.buffer);
    assert.ok(small.every((v) => v === 0) && large.every((v) => v === 0), 'fresh buffers are zeroed');
    const again = takeFloat32Array(10_000);
    assert.equal(again.buffer, a.buffer);
    // Given back twice, or an array it never handed out: ignored.
    releaseFloat32Array(again);
    releaseFloat32Array(again);
    releaseFloat32Array(new Float32Array(10_000));
    const one = takeFloat32Array(10_000), two = takeFloat32Array(10_000);
    assert.equal(one.buffer, a.buffer);
    assert.notEqual(two.buffer, a.buffer);
  });

  it('keeps at most SPARE_BYTES, dropping the oldest first', () => {
    drain();
    const n = SPARE_BYTES / 4 / 4;
    const bufs = [0, 1, 2, 3, 4].map(() => takeFloat32Array(n));
    bufs.forEach((b, i) => { b[0] = i; releaseFloat32Array(b); });
    // Four fit: the first one released was dropped.
    const back = [0, 1, 2, 3].map(() => takeFloat32Array(n));
    assert.deepEqual(back.map((b) => b[0]).sort(), [1, 2, 3, 4]);
    assert.ok(takeFloat32Array(n).every((v) => v === 0), 'nothing else was kept');
    // A buffer larger than the whole allowance is not kept at all.
    const huge = takeFloat32Array(SPARE_BYTES / 4 + 16);
    huge[0] = 9;
    releaseFloat32Array(huge);
    assert.equal(takeFloat32Array(SPARE_BYTES / 4 + 16)[0], 0);
  });

  it('a BatchIterator that gave its buffer back makes no more epochs', () => {
    const x = new Matrix(new Float32Array(40).fill(1), 10, 4);
    const it = new BatchIterator(x, null, { batchSize: 4, shuffle: false });
    assert.equal([...it.epoch()].length, 3);
    it.release();
    it.release();
    assert.throws(() => [...it.epoch()], (e: Error & { code?: string }) => e.code === ErrorCode.STATE);
  });

  forEachBackend('fit over buffers holding an earlier call\'s values', (backend) => {
    const rows = 300, inputs = 20;
    const rng = new Rng(12);
    const x = rng.uniformArray(rows * inputs, -1, 1);
    const y = Int32Array.from({ length: rows }, (_, i) => i % 3);
    const build = () => new Sequential({ inputSize: inputs, seed: 5, backend, layers: [dense(16, { activation: 'relu' }), dense(3, { activation: 'softmax' })] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 } });
    /** Fills the spare list with NaN-filled buffers of every size fit may ask for. */
    const poison = () => {
      drain();
      const sizes = new Set<number>();
      const probe = build();
      for (const n of [probe.params.length, 2 * probe.params.length, 64 * inputs, 128 * inputs, 256 * inputs, 44 * inputs, 76 * inputs]) sizes.add(n);
      const bufs = [...sizes].flatMap((n) => [takeFloat32Array(n), takeFloat32Array(n)]);
      for (const b of bufs) b.fill(NaN);
      bufs.forEach(releaseFloat32Array);
    };
    const options = { epochs: 3, batchSize: 64, seed: 2, validationSplit: 0.1 };

    it('trains to the same bits as over fresh memory, the second fit of a model too', () => {
      drain();
      const clean = build();
      const h1 = clean.fit(x, y, options), h2 = clean.fit(x, y, options);
      poison();
      const reused = build();
      const g1 = reused.fit(x, y, options);
      poison();
      const g2 = reused.fit(x, y, options);
      assert.deepEqual(reused.params, clean.params);
      assert.deepEqual(g1.epochs.map((e) => [e.loss, e.valLoss]), h1.epochs.map((e) => [e.loss, e.valLoss]));
      assert.deepEqual(g2.epochs.map((e) => [e.loss, e.valLoss]), h2.epochs.map((e) => [e.loss, e.valLoss]));
      assert.deepEqual(reused.evaluate(x, y), clean.evaluate(x, y));
    });

    it('restores the weights it started from when a later row holds NaN, and when the loss diverges', () => {
      const model = build();
      model.fit(x, y, { ...options, epochs: 1 });
      const start = model.params.slice();
      const bad = x.slice();
      bad[250 * inputs + 3] = NaN;
      poison();
      assert.throws(() => model.fit(bad, y, { epochs: 1, batchSize: 64, seed: 2 }), (e: Error & { code?: string }) => e.code === ErrorCode.DATA);
      assert.deepEqual(model.params, start);
      // A learning rate that blows up in the first epoch: training goes back to the start.
      model.compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 1e30 } });
      poison();
      const h = model.fit(x, y, { epochs: 2, batchSize: 64, seed: 2 });
      assert.equal(h.diverged?.restoredEpoch, 0, String(h.stopReason));
      assert.deepEqual(model.params, start);
    });
  });
});

describe('buffers too large to allocate', () => {
  it('Matrix.zeros, Matrix.from and oneHot past the largest typed array are ERR_BLASNET_MEMORY naming the size', () => {
    const cases: [string, () => unknown, string][] = [
      ['Matrix.zeros', () => Matrix.zeros(100000, 100000), '10000000000 float32 values'],
      ['Matrix.zeros', () => Matrix.zeros(2 ** 40, 2 ** 20), 'float32 values'],
      ['Matrix.from', () => Matrix.from([{ length: 1e10 } as ArrayLike<number>]), '10000000000 float32 values'],
      ['oneHot', () => oneHot(new Int32Array(2), 1e10), '20000000000 float32 values'],
    ];
    for (const [where, f, mentions] of cases) {
      assert.throws(f, (e: Error & { code?: string }) => {
        assert.equal(e.code, ErrorCode.MEMORY, e.message);
        assert.ok(e instanceof BlasnetError);
        assert.ok(e.message.startsWith(`${where}: cannot allocate`) && e.message.includes(mentions), e.message);
        return true;
      });
    }
  });

  it('arenas, workspaces, predict and inference outputs and a covariance past the largest typed array are ERR_BLASNET_MEMORY, not V8\'s RangeError', () => {
    const memory = (f: () => unknown, mentions: string) => assert.throws(f, (e: Error & { code?: string }) => {
      assert.equal(e.code, ErrorCode.MEMORY, e.message);
      assert.ok(e.message.includes(mentions), e.message);
      return true;
    });
    memory(() => alignedFloat32Array(2 ** 32 + 1, true), 'more than the 4294967296 values a typed array holds');
    // 65537 rows of 65536 outputs: a workspace (and an output) of 2^32 + 2^16 values.
    const m = new Sequential({ inputSize: 1, seed: 1, layers: [dense(65536)] });
    memory(() => m.forward(new Float32Array(65537)), '4295032832 float32 values');
    memory(() => m.predict(new Matrix(new Float32Array(65537), 65537, 1), { batchSize: 65537 }), 'predict: cannot allocate 4295032832 float32 values');
    memory(() => compileInference(m)(new Float32Array(65537)), '4295032832 float32 values');
    memory(() => new PCA({ components: 1 }).fit(new Matrix(new Float32Array(2 * 70000), 2, 70000)), 'the 70000 x 70000 covariance');
  });

  it('a model file, a safetensors file or an IDX file past 4 GiB is ERR_BLASNET_UNSUPPORTED, not Node\'s uncoded ERR_OUT_OF_RANGE', function () {
    this.timeout(60000);
    // Shared memory the OS maps lazily: 4 GiB of weights that take no memory until written.
    const sab = (k: number) => new Float32Array(new SharedArrayBuffer(4 * k));
    const out = 2 ** 20 + 1, total = out * 1024 + out;
    const m = new Sequential({ inputSize: 1024, layers: [dense(out)], shared: { params: sab(total), grads: sab(total), buffers: [] } });
    for (const [what, f] of [['safetensors', () => encodeSafetensors(m)], ['encodeModel', () => encodeModel(m)], ['encodeIdx', () => encodeIdx(sab(2 ** 30 + 1), [2 ** 30 + 1])]] as const) {
      assert.throws(f, (e: Error & { code?: string }) => {
        assert.equal(e.code, ErrorCode.UNSUPPORTED, `${what}: ${e.message}`);
        assert.match(e.message, new RegExp(`^${what}: the file would take \\d+ bytes \\(4\\.0 GiB\\), more than the 4294967296 bytes a file is built in here`));
        return true;
      });
    }
  });

  it("Dataset.from's and fitAsync's shared copies and Rng.uniformArray that cannot be allocated are ERR_BLASNET_MEMORY, and the model trains afterwards", function () {
    this.timeout(60000);
    // In a child whose address space is then limited to what it uses plus 100 MB: x (200 MB) is
    // there already, its shared copy does not fit.
    const lib = require.resolve('../lib');
    const code = `const bn = require(${JSON.stringify(lib)});
const { execFileSync } = require('child_process');
const rows = 50000, cols = 1000;
const m = new bn.Sequential({ inputSize: cols, seed: 1, layers: [bn.dense(2)] }).compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } });
const out = {};
const seen = (e) => ({ code: e.code, message: e.message, blasnet: e instanceof bn.BlasnetError });
(async () => {
  const small = new bn.Matrix(new Float32Array(10 * cols), 10, cols);
  await m.fitAsync(small, new Int32Array(10), { epochs: 1 });
  const x = new bn.Matrix(new Float32Array(rows * cols), rows, cols);
  const y = new Int32Array(rows);
  const vm = Number(require('fs').readFileSync('/proc/self/status', 'utf8').match(/VmSize:\\s+(\\d+)/)[1]);
  execFileSync('prlimit', ['--pid=' + process.pid, '--as=' + (vm + 100000) * 1024]);
  try { bn.Dataset.from(x, y); out.dataset = 'built'; } catch (e) { out.dataset = seen(e); }
  try { await m.fitAsync(x, y, { epochs: 1, batchSize: 1000 }); out.fitAsync = 'trained'; } catch (e) { out.fitAsync = seen(e); }
  try { new bn.Rng(1).uniformArray(100000000); out.uniformArray = 'made'; } catch (e) { out.uniformArray = seen(e); }
  out.isTraining = m.isTraining;
  out.fit = m.fit(small, new Int32Array(10), { epochs: 1 }).epochs.length;
  console.log(JSON.stringify(out));
})();`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', env: { ...process.env, BLASNET_NUM_THREADS: '1' } });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, { code: string; message: string; blasnet: boolean }> & { isTraining: boolean; fit: number };
    for (const [key, where] of [['dataset', 'Dataset.from'], ['fitAsync', 'fitAsync']]) {
      const e = out[key];
      assert.equal(e.code, ErrorCode.MEMORY, `${key}: ${JSON.stringify(e)}`);
      assert.ok(e.blasnet);
      assert.match(e.message, new RegExp(`^${where}: cannot allocate 50000000 float32 values \\(0\\.2 GB\\) for (its|the shared) copy of x`), e.message);
    }
    assert.equal(out.uniformArray.code, ErrorCode.MEMORY, JSON.stringify(out.uniformArray));
    assert.match(out.uniformArray.message, /^Rng\.uniformArray: cannot allocate 100000000 float32 values \(0\.4 GB\)/);
    assert.equal(out.isTraining, false);
    assert.equal(out.fit, 1);
  });
});
