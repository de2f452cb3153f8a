/**
 * Elementwise and row kernels, native vs js: every activation forward and backward, every loss
 * (value and gradient), and the fused dense layer of the MLP's first layer.
 */
import {
  ACTIVATION_NAMES, ACTIVATIONS, activationId, Backend, LOSS_NAMES, LOSSES, lossId, LossName, Rng,
} from '../../lib';
import { BackendDriver, jsDriver, nativeDriver, nativeSingleDriver } from '../drivers';
import { Body, measure, rate, Stats, TimingOptions } from '../harness';
import { driverHeader, num, rateCell, Suite, SuiteResult, Table, timeCell } from '../report';

const ACT_N = 1 << 20;
const LOSS_ROWS = 128;
const LOSS_CLASSES = 10;
const GAUSSIAN_D = 10;
const DENSE = { batch: 128, inDim: 784, outDim: 256, act: 'relu' as const };

interface Timed {
  driver: string;
  threads: number;
  stats: Stats;
}

/** Times `make(backend)` on each driver, at that driver's thread count. */
function timeOn(drivers: readonly BackendDriver[], make: (b: Backend) => Body, timing: TimingOptions): Timed[] {
  return drivers.map((d) => d.use(() => ({ driver: d.name, threads: d.threads, stats: measure(make(d.backend), timing) })));
}

function ratioCell(results: readonly Timed[]): string {
  return (results[1].stats.median / results[0].stats.median).toFixed(1);
}

function activationTable(drivers: readonly BackendDriver[], timing: TimingOptions, progress: (m: string) => void) {
  const n = ACT_N;
  const x = new Rng(3).uniformArray(n, -4, 4);
  const dy = new Rng(4).uniformArray(n, -1, 1);
  const y = new Float32Array(n);
  const out = new Float32Array(n);
  const rows: string[][] = [];
  const records: unknown[] = [];
  for (const name of ACTIVATION_NAMES) {
    const id = activationId(name);
    const param = ACTIVATIONS[name].param;
    // The backward pass reads y = f(x) as the forward pass left it.
    drivers[0].backend.activation(id, param, n, x, y);
    const passes: [string, (b: Backend) => Body][] = [
      ['forward', (b) => (reps) => { for (let r = 0; r < reps; r++) b.activation(id, param, n, x, out); }],
      ['backward', (b) => (reps) => { for (let r = 0; r < reps; r++) b.activationBackward(id, param, n, x, y, dy, out); }],
    ];
    for (const [pass, make] of passes) {
      progress(`activation ${name} ${pass}`);
      const results = timeOn(drivers, make, timing);
      rows.push([name, String(param), pass, String(n),
        ...results.map((r) => rateCell(rate(r.stats, n), 1e6)), ratioCell(results)]);
      records.push({ kind: 'activation', name, id, param, pass, n,
        results: results.map((r) => ({ ...r, elementsPerSecond: rate(r.stats, n) })) });
    }
  }
  const table: Table = {
    title: `Activations: million elements/s at n = ${n}`,
    notes: [
      `x uniform in [-4, 4); y and out are separate arrays (not in place); backward computes dx = dy · f'(x) from x and y = f(x). ` +
        'param is the default from ACTIVATIONS[name].param.',
      'The native elementwise loops run on the calling thread; the thread count shown is the BLAS setting in force.',
    ],
    columns: ['activation', 'param', 'pass', 'n', ...drivers.map((d) => driverHeader(d.name, d.threads, 'M elem/s')),
      `${drivers[0].name}/${drivers[1].name}`],
    rows,
  };
  return { table, records };
}

interface LossCase {
  label: string;
  loss: LossName;
  cols: number;
  target: Float32Array | Int32Array;
  targetDesc: string;
  pred: Float32Array;
}

function lossCases(): LossCase[] {
  const rows = LOSS_ROWS;
  const rng = new Rng(5);
  const dense = (cols: number, lo: number, hi: number) => rng.uniformArray(rows * cols, lo, hi);
  const labels = () => Int32Array.from({ length: rows }, () => rng.int(LOSS_CLASSES));
  const c = LOSS_CLASSES;
  const signs = Float32Array.from({ length: rows * c }, () => (rng.uniform() < 0.5 ? -1 : 1));
  const distribution = dense(c, 0, 1);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < c; j++) s += distribution[r * c + j];
    for (let j = 0; j < c; j++) distribution[r * c + j] /= s;
  }
  const d = GAUSSIAN_D;
  // Each row is [mean (d) | variance (d)]; variances are kept positive and away from eps.
  const gaussPred = new Float32Array(rows * 2 * d);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < d; j++) {
      gaussPred[r * 2 * d + j] = rng.range(-2, 2);
      gaussPred[r * 2 * d + d + j] = rng.range(0.1, 2);
    }
  }
  const byName: Record<LossName, Omit<LossCase, 'loss'>[]> = {
    mse: [{ label: 'mse', cols: c, target: dense(c, -2, 2), targetDesc: 'dense [rows, cols]', pred: dense(c, -2, 2) }],
    l1: [{ label: 'l1', cols: c, target: dense(c, -2, 2), targetDesc: 'dense [rows, cols]', pred: dense(c, -2, 2) }],
    huber: [{ label: 'huber', cols: c, target: dense(c, -2, 2), targetDesc: 'dense [rows, cols]', pred: dense(c, -2, 2) }],
    binaryCrossEntropy: [{ label: 'binaryCrossEntropy', cols: c, target: dense(c, 0, 1), targetDesc: 'dense in [0, 1)', pred: dense(c, -4, 4) }],
    crossEntropy: [
      { label: 'crossEntropy', cols: c, target: labels(), targetDesc: 'Int32Array labels [rows]', pred: dense(c, -4, 4) },
      { label: 'crossEntropy (soft)', cols: c, target: distribution, targetDesc: 'dense distribution per row', pred: dense(c, -4, 4) },
    ],
    hinge: [{ label: 'hinge', cols: c, target: signs, targetDesc: 'dense ±1', pred: dense(c, -2, 2) }],
    multiMargin: [{ label: 'multiMargin', cols: c, target: labels(), targetDesc: 'Int32Array labels [rows]', pred: dense(c, -2, 2) }],
    gaussianNll: [{ label: 'gaussianNll', cols: 2 * d, target: dense(d, -2, 2), targetDesc: `dense [rows, ${d}] (pred is [mean | var])`, pred: gaussPred }],
  };
  return LOSS_NAMES.flatMap((loss) => byName[loss].map((lc) => ({ ...lc, loss })));
}

function lossTable(drivers: readonly BackendDriver[], timing: TimingOptions, progress: (m: string) => void) {
  const rows: string[][] = [];
  const records: unknown[] = [];
  for (const lc of lossCases()) {
    const id = lossId(lc.loss);
    const param = LOSSES[lc.loss].param;
    const n = LOSS_ROWS * lc.cols;
    const grad = new Float32Array(n);
    progress(`loss ${lc.label}`);
    const results = timeOn(drivers, (b) => (reps) => {
      for (let r = 0; r < reps; r++) b.loss(id, param, LOSS_ROWS, lc.cols, lc.pred, lc.target, grad);
    }, timing);
    rows.push([lc.label, String(param), String(LOSS_ROWS), String(lc.cols), lc.targetDesc,
      ...results.map((r) => rateCell(rate(r.stats, n), 1e6)), ratioCell(results)]);
    records.push({ kind: 'loss', name: lc.loss, label: lc.label, id, param, rows: LOSS_ROWS, cols: lc.cols, target: lc.targetDesc,
      elements: n, results: results.map((r) => ({ ...r, elementsPerSecond: rate(r.stats, n) })) });
  }
  const table: Table = {
    title: `Losses (value and gradient): million prediction elements/s at rows = ${LOSS_ROWS}`,
    notes: [
      'Elements are rows × cols of the prediction; each call computes the mean loss and writes the gradient. ' +
        'param is the default from LOSSES[name].param. At this size a call takes about a microsecond, so the figures include the per-call cost.',
    ],
    columns: ['loss', 'param', 'rows', 'cols', 'target', ...drivers.map((d) => driverHeader(d.name, d.threads, 'M elem/s')),
      `${drivers[0].name}/${drivers[1].name}`],
    rows,
  };
  return { table, records };
}

function denseTable(drivers: readonly BackendDriver[], timing: TimingOptions, progress: (m: string) => void) {
  const { batch, inDim, outDim, act } = DENSE;
  const id = activationId(act);
  const param = ACTIVATIONS[act].param;
  const rng = new Rng(6);
  const x = rng.uniformArray(batch * inDim, -1, 1);
  const w = rng.uniformArray(outDim * inDim, -0.05, 0.05);
  const b = rng.uniformArray(outDim, -0.1, 0.1);
  const z = new Float32Array(batch * outDim);
  const y = new Float32Array(batch * outDim);
  const dy = rng.uniformArray(batch * outDim, -1, 1);
  const dz = new Float32Array(batch * outDim);
  const dw = new Float32Array(outDim * inDim);
  const db = new Float32Array(outDim);
  const dx = new Float32Array(batch * inDim);
  drivers[0].backend.denseForward(id, param, batch, inDim, outDim, x, w, b, z, y);
  const mnk = batch * inDim * outDim;
  const ops: [string, number, (be: Backend) => Body][] = [
    ['denseForward', 2 * mnk, (be) => (reps) => {
      for (let r = 0; r < reps; r++) be.denseForward(id, param, batch, inDim, outDim, x, w, b, z, y);
    }],
    ['denseBackward', 4 * mnk, (be) => (reps) => {
      for (let r = 0; r < reps; r++) be.denseBackward(id, param, batch, inDim, outDim, 0, x, w, z, y, dy, dz, dw, db, dx);
    }],
  ];
  const rows: string[][] = [];
  const records: unknown[] = [];
  for (const [op, flops, make] of ops) {
    progress(`${op} ${batch}x${inDim}x${outDim}`);
    const results = timeOn(drivers, make, timing);
    const js = results[results.length - 1];
    for (const r of results) {
      rows.push([op, `${batch}×${inDim}×${outDim}`, act, r.driver, String(r.threads), timeCell(r.stats, 1e-3),
        rateCell(rate(r.stats, flops / 1e9)), (js.stats.median / r.stats.median).toFixed(1)]);
    }
    records.push({ kind: 'dense', op, batch, inDim, outDim, act, gemmFlops: flops,
      results: results.map((r) => ({ ...r, gflops: rate(r.stats, flops / 1e9) })) });
  }
  const table: Table = {
    title: `Fused dense layer: batch ${batch}, ${inDim} → ${outDim}, ${act}`,
    notes: [
      'denseForward: z = x w^T + b, y = relu(z) (y separate from z). denseBackward with beta = 0, bias and input gradients: ' +
        'dz = dy · relu\'(z), dw = dz^T x, db = colsum(dz), dx = dz w.',
      `GFLOP/s counts only the GEMMs: 2·B·I·O = ${num(2 * mnk / 1e6)} MFLOP forward, twice that backward.`,
    ],
    columns: ['op', 'B×I×O', 'activation', 'backend', 'threads', 'ms/call', 'GEMM GFLOP/s', 'speed-up over js'],
    rows,
  };
  return { table, records };
}

/** Activation, loss and fused dense kernels on both backends. */
export const kernelsSuite: Suite = {
  name: 'kernels',
  title: 'Kernels: activations, losses, fused dense layer',
  summary: 'Elements per second of the elementwise kernels and time per call of the fused dense layer, native vs js. ' +
    'Inputs come from the seeded Rng.',
  defaults: { warmup: 0.1, minTime: 0.1, runs: 5 },

  run(ctx): SuiteResult {
    const pair = [nativeDriver(), jsDriver()];
    const acts = activationTable(pair, ctx.timing, ctx.progress);
    const losses = lossTable(pair, ctx.timing, ctx.progress);
    const dense = denseTable([nativeDriver(), nativeSingleDriver(), jsDriver()], ctx.timing, ctx.progress);
    return {
      tables: [acts.table, losses.table, dense.table],
      targets: [],
      records: [...acts.records, ...losses.records, ...dense.records],
    };
  },
};
