/**
 * Kernels against shared memory that changes during the call. A worker_thread flips one entry of
 * a SharedArrayBuffer-backed index, label, target or weight array between a valid and an invalid value
 * while the main thread calls the kernel thousands of times. A kernel validates such an array and
 * then uses it, so a value read twice can pass the check and be used invalid: every call must end
 * in the kernel's coded error or in exactly the result of the valid value (the only value it may
 * accept), and must never touch memory outside its arrays (scripts/sanitize.sh runs this file
 * under AddressSanitizer, where an outside access is a report). Per-kernel call counts are printed.
 */
import { strict as assert } from 'assert';
import { Worker } from 'worker_threads';
import { dense, lossId, Matrix, oneHot, Rng, Sequential } from '../lib';
import type { Backend } from '../lib';
import { forEachBackend } from './helpers';

const CALLS = 4000;
const MODEL_CALLS = 1500;

// Flips cells[at] through `bits` (int32 bit patterns, so float arrays flip too) until told to stop.
const FLIPPER = `
const { parentPort, workerData } = require('worker_threads');
const { buffer, byteOffset, length, at, bits, control } = workerData;
const cells = new Int32Array(buffer, byteOffset, length);
const ctl = new Int32Array(control);
let flips = 0;
do {
  for (let k = 0; k < bits.length; k++) Atomics.store(cells, at, bits[k]);
  flips += bits.length;
  if (flips === bits.length) parentPort.postMessage('flipping');
} while (Atomics.load(ctl, 0) === 0);
parentPort.postMessage(flips);
`;

function sharedI32(values: ArrayLike<number>): Int32Array {
  const a = new Int32Array(new SharedArrayBuffer(values.length * 4));
  a.set(values);
  return a;
}

function sharedF32(values: ArrayLike<number>): Float32Array {
  const a = new Float32Array(new SharedArrayBuffer(values.length * 4));
  a.set(values);
  return a;
}

const f32Bits = (v: number): number => new Int32Array(new Float32Array([v]).buffer)[0];

interface Tally {
  calls: number;
  errors: number;
  correct: number;
  wrong: number;
  /** Writes the worker made to the entry (it starts before the first call). */
  flips: number;
  /** The first few wrong endings. */
  failures: string[];
}

/**
 * Runs `call` `calls` times while a worker flips cells[at] through valid, bad[0], valid, bad[1], ...
 * `call` returns null for a correct result or says what was wrong; a throw must carry `code`.
 */
async function race(cells: Int32Array | Float32Array, at: number, valid: number, bad: number[], code: string,
  calls: number, call: () => string | null): Promise<Tally> {
  const asBits = (v: number): number => (cells instanceof Float32Array ? f32Bits(v) : v | 0);
  const bits = bad.flatMap((b) => [asBits(valid), asBits(b)]);
  const control = new Int32Array(new SharedArrayBuffer(8));
  const worker = new Worker(FLIPPER, {
    eval: true,
    workerData: { buffer: cells.buffer, byteOffset: cells.byteOffset, length: cells.length, at, bits, control: control.buffer },
  });
  const flips = new Promise<number>((resolve, reject) => {
    worker.on('message', (m) => { if (typeof m === 'number') resolve(m); });
    worker.on('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  const t: Tally = { calls: 0, errors: 0, correct: 0, wrong: 0, flips: 0, failures: [] };
  try {
    for (let i = 0; i < calls; i++) {
      t.calls++;
      let wrong: string | null;
      try {
        wrong = call();
      } catch (e) {
        const c = (e as { code?: string }).code;
        if (c === code) {
          t.errors++;
          continue;
        }
        wrong = `threw ${c ?? 'uncoded'}: ${(e as Error).message}`;
      }
      if (wrong === null) {
        t.correct++;
      } else {
        t.wrong++;
        if (t.failures.length < 3) t.failures.push(`call ${i}: ${wrong}`);
      }
    }
  } finally {
    Atomics.store(control, 0, 1);
  }
  t.flips = await flips;
  await worker.terminate();
  return t;
}

function sameArray(what: string, got: Float32Array, want: Float32Array): string | null {
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) return `${what}[${i}] = ${got[i]}, expected ${want[i]}`;
  }
  return null;
}

function report(b: Backend, kernel: string, t: Tally): void {
  console.log(`      race [${b.name}] ${kernel}: ${t.calls} calls, ${t.errors} coded errors, ${t.correct} correct results, ${t.flips} flips`);
  assert.equal(t.wrong, 0, `${kernel}: ${t.wrong} of ${t.calls} calls ended wrongly, first: ${t.failures.join('; ')}`);
}

forEachBackend('races with a worker writing shared memory', (b) => {
  // Far values would make an unchecked read or write leave the process's memory; `limit` is one
  // past the end, the value an off-by-one check lets through.
  const badIndices = (limit: number): number[] => [limit, 1 << 30, -1, 2 ** 31 - 1, -(2 ** 31)];

  it('gatherRows: a coded ERR_BLASNET_INDEX or the rows of the valid index', async () => {
    const rows = 64, cols = 16, srcRows = 100;
    const rng = new Rng(1);
    const src = rng.uniformArray(srcRows * cols, -1, 1);
    const index = sharedI32(Array.from({ length: rows }, () => rng.int(srcRows)));
    const want = new Float32Array(rows * cols);
    b.gatherRows(rows, cols, srcRows, index, src, want);
    const dst = new Float32Array(rows * cols);
    // The first row: checked first, copied last of the checks, so the window is the longest.
    const t = await race(index, 0, index[0], badIndices(srcRows), 'ERR_BLASNET_INDEX', CALLS, () => {
      dst.fill(0);
      b.gatherRows(rows, cols, srcRows, index, src, dst);
      return sameArray('dst', dst, want);
    });
    report(b, 'gatherRows', t);
  });

  for (const loss of ['crossEntropy', 'multiMargin'] as const) {
    it(`${loss} with Int32Array labels: a coded ERR_BLASNET_LABEL or the valid labels' loss and gradient`, async () => {
      const rows = 256, cols = 10;
      const rng = new Rng(2);
      const pred = rng.uniformArray(rows * cols, -3, 3);
      const labels = sharedI32(Array.from({ length: rows }, () => rng.int(cols)));
      // The gradient is exactly rows*cols long, so a write through a label of `cols` in the last
      // row lands one past its end.
      const wantGrad = new Float32Array(rows * cols);
      const want = b.loss(lossId(loss), 1, rows, cols, pred, labels, wantGrad);
      const grad = new Float32Array(rows * cols);
      const t = await race(labels, rows - 1, labels[rows - 1], badIndices(cols), 'ERR_BLASNET_LABEL', CALLS, () => {
        grad.fill(0);
        const v = b.loss(lossId(loss), 1, rows, cols, pred, labels, grad);
        return !Object.is(v, want) ? `loss ${v}, expected ${want}` : sameArray('grad', grad, wantGrad);
      });
      report(b, loss, t);
    });
  }

  it('hinge: a coded ERR_BLASNET_TARGET or the loss and gradient of the valid targets', async () => {
    const rows = 64, cols = 32;
    const rng = new Rng(3);
    const pred = rng.uniformArray(rows * cols, -2, 2);
    const target = sharedF32(Array.from({ length: rows * cols }, () => (rng.int(2) === 1 ? 1 : -1)));
    const wantGrad = new Float32Array(rows * cols);
    const want = b.loss(lossId('hinge'), 0, rows, cols, pred, target, wantGrad);
    const grad = new Float32Array(rows * cols);
    const at = rows * cols >> 1;
    const t = await race(target, at, target[at], [0.5, 0, NaN, -target[at] * 3], 'ERR_BLASNET_TARGET', CALLS, () => {
      const v = b.loss(lossId('hinge'), 0, rows, cols, pred, target, grad);
      return !Object.is(v, want) ? `loss ${v}, expected ${want}` : sameArray('grad', grad, wantGrad);
    });
    report(b, 'hinge', t);
  });

  for (const loss of ['crossEntropy', 'mse'] as const) {
    it(`lossWeighted ${loss} with shared weights: a coded ERR_BLASNET_ARG_RANGE or the valid weights' loss and gradient`, async () => {
      const rows = 256, cols = 10;
      const rng = new Rng(8);
      const pred = rng.uniformArray(rows * cols, -3, 3);
      const target = loss === 'mse' ? rng.uniformArray(rows * cols, 0, 1) : Int32Array.from({ length: rows }, () => rng.int(cols));
      const weight = sharedF32(rng.uniformArray(rows, 0.5, 2));
      const wantGrad = new Float32Array(rows * cols);
      const want = b.lossWeighted(lossId(loss), 0, rows, cols, pred, target, weight, wantGrad);
      const grad = new Float32Array(rows * cols);
      // The last row: read by the check last and used last, so the window is the longest.
      const t = await race(weight, rows - 1, weight[rows - 1], [-1, NaN, Infinity, -Infinity, -1e-30], 'ERR_BLASNET_ARG_RANGE', CALLS, () => {
        grad.fill(0);
        const v = b.lossWeighted(lossId(loss), 0, rows, cols, pred, target, weight, grad);
        return !Object.is(v, want) ? `loss ${v}, expected ${want}` : sameArray('grad', grad, wantGrad);
      });
      report(b, `lossWeighted ${loss}`, t);
    });
  }

  it('firstNonFinite: the index of a non-finite value the array held, never one past it', async () => {
    // The flipped entry is the last of a partial last block: a second search that trusts the
    // first one's verdict would run on past the array when the value has become finite again.
    for (const [n, at, fixed] of [[3000, 2999, -1], [5000, 1500, 4321]] as const) {
      const x = sharedF32(new Rng(4).uniformArray(n, -1, 1));
      if (fixed >= 0) x[fixed] = Infinity;
      const finite = x[at];
      let found = 0;
      const t = await race(x, at, finite, [NaN, Infinity, -Infinity], 'none', CALLS, () => {
        const i = b.firstNonFinite(n, x);
        if (i === at) found++;
        return i === at || i === fixed ? null : `returned ${i}, expected ${at} or ${fixed}`;
      });
      report(b, `firstNonFinite (n = ${n}, ${found} found the flipped entry)`, t);
    }
  });

  it('firstLabelOutside: the index of a label outside the classes that the array held, never one past it', async () => {
    // As firstNonFinite's: the flipped label is the last of a partial last block.
    for (const [n, at, fixed] of [[3000, 2999, -1], [5000, 1500, 4321]] as const) {
      const y = sharedI32(Array.from({ length: n }, (_, i) => i % 7));
      if (fixed >= 0) y[fixed] = 7;
      const inside = y[at];
      let found = 0;
      const t = await race(y, at, inside, [-1, 7, -2147483648, 2147483647], 'none', CALLS, () => {
        const i = b.firstLabelOutside(n, y, 7);
        if (i === at) found++;
        return i === at || i === fixed ? null : `returned ${i}, expected ${at} or ${fixed}`;
      });
      report(b, `firstLabelOutside (n = ${n}, ${found} found the flipped label)`, t);
    }
  });

  it('Sequential.lossAndGradient with shared labels: a coded ERR_BLASNET_LABEL or the valid gradient', async () => {
    const rows = 48, inputs = 6, classes = 5;
    const rng = new Rng(5);
    const model = new Sequential({ inputSize: inputs, seed: 6, backend: b, loss: 'crossEntropy',
      layers: [dense(12, { activation: 'tanh' }), dense(classes, { activation: 'softmax' })] });
    const x = rng.uniformArray(rows * inputs, -1, 1);
    const labels = sharedI32(Array.from({ length: rows }, () => rng.int(classes)));
    const want = model.lossAndGradient(x, labels);
    const wantGrads = model.grads.slice();
    const t = await race(labels, rows - 1, labels[rows - 1], badIndices(classes), 'ERR_BLASNET_LABEL', MODEL_CALLS, () => {
      const v = model.lossAndGradient(x, labels);
      return !Object.is(v, want) ? `loss ${v}, expected ${want}` : sameArray('grads', model.grads, wantGrads);
    });
    report(b, 'lossAndGradient', t);
  });
});

describe('races with a worker writing shared memory, outside the kernels', () => {
  it('oneHot: a coded ERR_BLASNET_LABEL or the encoding of the valid label', async () => {
    const rows = 256, classes = 10;
    const rng = new Rng(7);
    const labels = sharedI32(Array.from({ length: rows }, () => rng.int(classes)));
    const want = oneHot(labels, classes).data.slice();
    const out = Matrix.zeros(rows, classes);
    const t = await race(labels, 0, labels[0], [classes, 1 << 30, -1], 'ERR_BLASNET_LABEL', CALLS, () =>
      sameArray('out', oneHot(labels, classes, out).data, want));
    console.log(`      race oneHot: ${t.calls} calls, ${t.errors} coded errors, ${t.correct} correct results, ${t.flips} flips`);
    assert.equal(t.wrong, 0, `oneHot: ${t.wrong} of ${t.calls} calls ended wrongly, first: ${t.failures.join('; ')}`);
  });
});
