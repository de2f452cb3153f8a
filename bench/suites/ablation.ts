/**
 * Ablation of the training step: the reference workload (Fashion-MNIST's 60,000 training images,
 * 784-256-128-10 ReLU MLP, softmax cross-entropy on integer labels, Adam lr 1e-3 with PyTorch's
 * defaults, shuffled minibatches) trained by a hand-written step on the native backend's kernels,
 * with one switch per optimisation the library makes. Each variant turns exactly one of them off
 * (the "before") and is timed against the step with all of them on (the "after"):
 *
 * - alloc: every intermediate (batch, index and label buffers, z, y, dz, dx, the loss delta and the
 *   gradient arena) is a fresh typed array every step, instead of buffers made once.
 * - first-dx: layer 0's backward also computes dX = dZ W, which nothing reads.
 * - unfused-dense: forward as gemm, addBias and activation (three calls) instead of denseForward;
 *   backward as activationBackward, gemm for dW, colSum for db and gemm for dX instead of
 *   denseBackward.
 * - unfused-loss: softmax of the logits, the cross-entropy of the probabilities and its gradient
 *   dL/dp (-1 / (p[label] batch) in the label's column, 0 elsewhere) in a JS loop, then
 *   softmaxBackward for dL/dz, instead of the loss kernel on the logits giving p - onehot at once.
 * - per-tensor-optim: six optimizerStep calls (W and b of each layer, each with its own state),
 *   sharing the step's hyper array, instead of one call over the whole parameter arena.
 * - js-gather: a fresh batch buffer every step, rows copied with TypedArray.set, instead of
 *   gatherRows into the reused buffer.
 * - one-thread: the kernels on one thread instead of the default (one per physical core this
 *   process may run on, or BLASNET_NUM_THREADS); and "oversubscribed", 2 x the CPUs. The oversubscribed runs are
 *   made in a child process (this file run as a script), so that the extra workers an oversubscribed
 *   pool starts (parked once the count drops, but still threads of the process) cannot touch the
 *   other rows.
 *
 * Every variant computes the same mathematics. Before timing, the suite trains each variant a few
 * steps from the same initial weights on the same batches and fails (throws) unless the final
 * weights, the last step's gradients and its loss agree with the all-on step's to float32
 * tolerance; the all-on step is checked the same way against Sequential.fit, whose speed is
 * measured as its own row.
 */
import { spawnSync } from 'child_process';
import * as os from 'os';
import { GCProfiler } from 'v8';
import {
  ACTIVATIONS, activationId, Backend, createOptimizer, dense, loadFashionMnist, lossId, Matrix, OptimizerDef, OPTIMIZER_KERNELS,
  OPTIMIZERS, Rng, Sequential,
} from '../../lib';
import { shuffle } from '../../lib/data/split';
import { optimizerKernelId } from '../../lib/optim';
import { nativeBackend, nativeDefaultThreads } from '../drivers';
import { median } from '../harness';
import { num, Suite, SuiteResult, Table, Target } from '../report';

/** The reference net. */
const SIZES = [784, 256, 128, 10] as const;
/** Activation of each layer; the last layer's output is the logits the loss takes. */
const ACTS = ['relu', 'relu', 'identity'] as const;
const BATCHES = [32, 128, 512] as const;
/** Seed of the initial weights and of the shuffles, as `new Sequential({ seed })` and fit use it. */
const SEED = 1;
const ADAM_SPEC = { name: 'adam', lr: 1e-3 } as const;
/** Steps of the correctness check: one epoch over the first CHECK_STEPS x batch rows. */
const CHECK_STEPS = 20;
/**
 * Largest accepted difference after CHECK_STEPS steps, as ||a - b|| / ||b|| of the worst tensor
 * for the final weights and for the last step's gradients, and |a - b| / |b| for the last step's
 * loss. Variants that only move the same arithmetic agree bit for bit; the unfused loss and other
 * thread counts round differently, and Adam, which divides by the gradients' running RMS, turns
 * rounding in near-zero gradients into whole steps of lr for a few weights, so the weights are
 * compared in norm rather than element by element. The gradients catch what Adam's scale
 * invariance would hide from the weights: a gradient off by a constant factor moves Adam's
 * weights hardly at all.
 */
const WEIGHT_TOLERANCE = 1e-4;
const GRAD_TOLERANCE = 1e-3;
const LOSS_TOLERANCE = 1e-5;

const RELU = activationId('relu');
const IDENTITY = activationId('identity');
const CROSS_ENTROPY = lossId('crossEntropy');
const ADAM = optimizerKernelId('adam');
const ADAM_DEF = OPTIMIZERS.adam as unknown as OptimizerDef;
/** Adam carries no float64 scalars between steps. */
const NO_SCALARS = new Float64Array(0);

/** Which of the step's optimisations are on; the reference step has all of them. */
interface Switches {
  /** Buffers made once and reused; off: a fresh typed array for every intermediate, every step. */
  reuse: boolean;
  /** No dX for layer 0; off: denseBackward also writes dX = dZ W for it. */
  noFirstDx: boolean;
  /** denseForward / denseBackward; off: gemm, addBias, activation and the split backward. */
  fusedDense: boolean;
  /** The loss kernel on the logits; off: softmax, dL/dp in JS, softmaxBackward. */
  fusedLoss: boolean;
  /** One optimizerStep over the arena; off: one per parameter tensor. */
  oneOptimizerCall: boolean;
  /** gatherRows into the reused batch buffer; off: a fresh buffer filled by TypedArray.set. */
  nativeGather: boolean;
}

const ALL_ON: Switches = { reuse: true, noFirstDx: true, fusedDense: true, fusedLoss: true, oneOptimizerCall: true, nativeGather: true };

/** A configuration timed in the parent process. */
interface Variant {
  id: string;
  /** The optimisation, for the table. */
  label: string;
  /** What "before" does. */
  before: string;
  switches: Switches;
  /** Kernel threads: the default, or one. */
  oneThread: boolean;
}

const REFERENCE: Variant = { id: 'reference', label: 'all on', before: '', switches: ALL_ON, oneThread: false };

const VARIANTS: readonly Variant[] = [
  {
    id: 'alloc', label: 'no allocation per step', oneThread: false, switches: { ...ALL_ON, reuse: false },
    before: 'fresh Float32Array/Int32Array for the batch, index, labels, z, y, dz, dx, delta and gradient arena every step',
  },
  {
    id: 'first-dx', label: 'no dX for the first layer', oneThread: false, switches: { ...ALL_ON, noFirstDx: false },
    before: 'layer 0\'s denseBackward also computes dX = dZ W ([batch, 784], unused)',
  },
  {
    id: 'unfused-dense', label: 'fused bias + activation', oneThread: false, switches: { ...ALL_ON, fusedDense: false },
    before: 'forward gemm + addBias + activation; backward activationBackward + gemm (dW) + colSum (db) + gemm (dX)',
  },
  {
    id: 'unfused-loss', label: 'fused softmax-CE gradient', oneThread: false, switches: { ...ALL_ON, fusedLoss: false },
    before: 'softmax, then CE of the probabilities and dL/dp in a JS loop, then softmaxBackward',
  },
  {
    id: 'per-tensor-optim', label: 'one optimiser call per step', oneThread: false, switches: { ...ALL_ON, oneOptimizerCall: false },
    before: 'six optimizerStep calls (W and b of each layer, own state each)',
  },
  {
    id: 'js-gather', label: 'gather into a reused batch buffer', oneThread: false, switches: { ...ALL_ON, nativeGather: false },
    before: 'fresh batch buffers every step, rows copied with TypedArray.set(subarray)',
  },
  {
    id: 'one-thread', label: 'threads: the default', oneThread: true, switches: ALL_ON,
    before: 'one kernel thread',
  },
];

/** The training set, or a prefix of it. */
interface Data {
  x: Float32Array;
  labels: Int32Array;
  rows: number;
}

function prefix(d: Data, rows: number): Data {
  return { x: d.x.subarray(0, rows * SIZES[0]), labels: d.labels.subarray(0, rows), rows };
}

/** One parameter tensor's place in the arena, with what a per-tensor optimiser call needs. */
interface Tensor {
  offset: number;
  size: number;
  param: Float32Array;
  grad: Float32Array;
  /** This tensor's own Adam state (3 slots of `size`), for the per-tensor calls. */
  state: Float32Array;
}

interface LayerShape {
  inDim: number;
  outDim: number;
  act: number;
  param: number;
  identity: boolean;
  /** Arena offsets of W [outDim, inDim] and b [outDim]. */
  wOffset: number;
  bOffset: number;
}

const LAYERS: readonly LayerShape[] = (() => {
  const out: LayerShape[] = [];
  let offset = 0;
  for (let l = 0; l < ACTS.length; l++) {
    const inDim = SIZES[l], outDim = SIZES[l + 1];
    out.push({
      inDim, outDim, act: ACTS[l] === 'relu' ? RELU : IDENTITY, param: ACTIVATIONS[ACTS[l]].param, identity: ACTS[l] === 'identity',
      wOffset: offset, bOffset: offset + outDim * inDim,
    });
    offset += outDim * inDim + outDim;
  }
  return out;
})();
const PARAMS = LAYERS.reduce((s, l) => s + l.outDim * l.inDim + l.outDim, 0);

/**
 * The reference net as a Sequential (seed SEED), whose initial weights every run starts from. Its
 * arena holds W and b of each layer in order, the layout LAYERS describes.
 */
function referenceModel(backend: Backend): Sequential {
  const model = new Sequential({
    inputSize: SIZES[0], seed: SEED, backend,
    layers: [dense(SIZES[1], { activation: 'relu' }), dense(SIZES[2], { activation: 'relu' }), dense(SIZES[3])],
  });
  const layout = model.parameters().map((v) => v.data.byteOffset / 4);
  const expected = LAYERS.flatMap((l) => [l.wOffset, l.bOffset]);
  if (model.parameterCount !== PARAMS || layout.join() !== expected.join()) {
    throw new Error(`ablation: the model's parameter arena is not laid out as W and b per layer (offsets ${layout.join(', ')})`);
  }
  return model;
}

/**
 * A training step written out on the backend's kernels, each optimisation behind a switch. Shuffles
 * and batches as BatchIterator does (every epoch a fresh Fisher-Yates order of the rows from one
 * Rng(SEED) stream, full batches, then the remainder as a short batch), and updates with Adam as
 * createOptimizer's step does (the table's fill for the hyper array, one kernel call), so with every
 * switch on it performs Sequential.fit's kernel calls in the same order on the same data.
 */
class Trainer {
  /** Bytes of typed arrays allocated by steps since the last reset. */
  allocated = 0;
  /** Steps since the last reset. */
  steps = 0;
  readonly params = new Float32Array(PARAMS);
  private readonly grads = new Float32Array(PARAMS);
  /** The last step's gradient arena (a fresh one per step when buffers are not reused). */
  lastGrads: Float32Array = this.grads;
  private readonly state = new Float32Array(3 * PARAMS);
  private readonly hyper = new Float32Array(OPTIMIZER_KERNELS.adam.hyper.length);
  private readonly adamOptions: Readonly<Record<string, unknown>>;
  private readonly tensors: Tensor[] = [];
  private readonly w: Float32Array[] = [];
  private readonly b: Float32Array[] = [];
  private readonly gw: Float32Array[] = [];
  private readonly gb: Float32Array[] = [];
  // Reused buffers (all of them, whatever the switches: unused ones cost memory only).
  private readonly index: Int32Array;
  private readonly xb: Float32Array;
  private readonly yb: Int32Array;
  private readonly z: Float32Array[] = [];
  private readonly y: Float32Array[] = [];
  private readonly dz: Float32Array[] = [];
  private readonly dx: Float32Array[] = [];
  private readonly delta: Float32Array;
  private readonly prob: Float32Array;
  private readonly dprob: Float32Array;
  // The current step's arrays, one per layer (assigned, never grown).
  private readonly inputs: Float32Array[] = [];
  private readonly zs: Float32Array[] = [];
  private readonly ys: Float32Array[] = [];
  private readonly order: Int32Array;
  private readonly rng = new Rng(SEED);
  private pos = 0;
  private t = 0;

  constructor(private readonly backend: Backend, private readonly sw: Switches, readonly batch: number,
    private readonly data: Data, private readonly init: Float32Array) {
    this.adamOptions = createOptimizer(ADAM_SPEC, { params: this.params, grads: this.grads, backend }).options;
    for (const l of LAYERS) {
      const wSize = l.outDim * l.inDim;
      this.w.push(this.params.subarray(l.wOffset, l.wOffset + wSize));
      this.b.push(this.params.subarray(l.bOffset, l.bOffset + l.outDim));
      this.gw.push(this.grads.subarray(l.wOffset, l.wOffset + wSize));
      this.gb.push(this.grads.subarray(l.bOffset, l.bOffset + l.outDim));
      for (const [offset, size] of [[l.wOffset, wSize], [l.bOffset, l.outDim]]) {
        this.tensors.push({
          offset, size, param: this.params.subarray(offset, offset + size), grad: this.grads.subarray(offset, offset + size),
          state: sw.oneOptimizerCall ? new Float32Array(0) : new Float32Array(3 * size),
        });
      }
      const n = batch * l.outDim;
      const z = new Float32Array(n);
      this.z.push(z);
      this.y.push(l.identity ? z : new Float32Array(n));
      this.dz.push(new Float32Array(n));
      this.dx.push(new Float32Array(batch * l.inDim));
      this.inputs.push(z);
      this.zs.push(z);
      this.ys.push(z);
    }
    const classes = SIZES[SIZES.length - 1];
    this.index = new Int32Array(batch);
    this.xb = new Float32Array(batch * SIZES[0]);
    this.yb = new Int32Array(batch);
    this.delta = new Float32Array(batch * classes);
    this.prob = new Float32Array(batch * classes);
    this.dprob = new Float32Array(batch * classes);
    this.order = new Int32Array(data.rows);
    this.reset();
  }

  /** Back to the initial weights, a zero optimiser state and the first epoch's order. */
  reset(): void {
    this.params.set(this.init);
    this.state.fill(0);
    for (const t of this.tensors) t.state.fill(0);
    this.rng.reset(SEED);
    this.pos = 0;
    this.t = 0;
    this.allocated = 0;
    this.steps = 0;
  }

  /** Runs `steps` steps; returns the last step's loss. */
  run(steps: number): number {
    let loss = NaN;
    for (let s = 0; s < steps; s++) loss = this.step();
    return loss;
  }

  private f32(n: number): Float32Array {
    this.allocated += 4 * n;
    return new Float32Array(n);
  }

  private i32(n: number): Int32Array {
    this.allocated += 4 * n;
    return new Int32Array(n);
  }

  /** One training step on the next batch; returns its mean loss. */
  private step(): number {
    const sw = this.sw, B = this.backend, d = this.data;
    const cols = SIZES[0], classes = SIZES[SIZES.length - 1];
    const order = this.order;
    if (this.pos === 0) {
      for (let i = 0; i < d.rows; i++) order[i] = i;
      shuffle(order, d.rows, this.rng);
    }
    const start = this.pos;
    const rows = Math.min(this.batch, d.rows - start);
    this.pos = start + rows === d.rows ? 0 : start + rows;
    this.steps++;

    // The batch.
    let xb: Float32Array, yb: Int32Array;
    if (sw.nativeGather) {
      const index = sw.reuse ? this.index : this.i32(rows);
      xb = sw.reuse ? this.xb : this.f32(rows * cols);
      yb = sw.reuse ? this.yb : this.i32(rows);
      for (let r = 0; r < rows; r++) index[r] = order[start + r];
      B.gatherRows(rows, cols, d.rows, index, d.x, xb);
      for (let r = 0; r < rows; r++) yb[r] = d.labels[index[r]];
    } else {
      xb = this.f32(rows * cols);
      yb = this.i32(rows);
      for (let r = 0; r < rows; r++) {
        const i = order[start + r];
        xb.set(d.x.subarray(i * cols, (i + 1) * cols), r * cols);
        yb[r] = d.labels[i];
      }
    }

    // Forward.
    let h = xb;
    for (let l = 0; l < LAYERS.length; l++) {
      const L = LAYERS[l];
      const n = rows * L.outDim;
      const z = sw.reuse ? this.z[l] : this.f32(n);
      const y = L.identity ? z : sw.reuse ? this.y[l] : this.f32(n);
      if (sw.fusedDense) {
        B.denseForward(L.act, L.param, rows, L.inDim, L.outDim, h, this.w[l], this.b[l], z, y);
      } else {
        B.gemm(false, true, rows, L.outDim, L.inDim, 1, h, this.w[l], 0, z);
        B.addBias(rows, L.outDim, this.b[l], z);
        if (!L.identity) B.activation(L.act, L.param, n, z, y);
      }
      this.inputs[l] = h;
      this.zs[l] = z;
      this.ys[l] = y;
      h = y;
    }

    // Loss and dL/dz of the logits.
    const logits = h;
    const delta = sw.reuse ? this.delta : this.f32(rows * classes);
    let loss: number;
    if (sw.fusedLoss) {
      loss = B.loss(CROSS_ENTROPY, 0, rows, classes, logits, yb, delta);
    } else {
      const p = sw.reuse ? this.prob : this.f32(rows * classes);
      const dp = sw.reuse ? this.dprob : this.f32(rows * classes);
      B.softmax(rows, classes, logits, p);
      // CE of probabilities: L = -mean log p[label]; dL/dp = -1 / (rows p[label]) at the label.
      let sum = 0;
      for (let r = 0; r < rows; r++) {
        const off = r * classes, label = yb[r];
        for (let j = 0; j < classes; j++) dp[off + j] = 0;
        const pl = p[off + label];
        sum -= Math.log(pl);
        dp[off + label] = -1 / (rows * pl);
      }
      loss = sum / rows;
      B.softmaxBackward(rows, classes, p, dp, delta);
    }

    // Backward.
    const grads = sw.reuse ? this.grads : this.f32(PARAMS);
    this.lastGrads = grads;
    let dy: Float32Array | null = delta;
    for (let l = LAYERS.length - 1; l >= 0; l--) {
      const L = LAYERS[l];
      const wSize = L.outDim * L.inDim;
      const gw = sw.reuse ? this.gw[l] : grads.subarray(L.wOffset, L.wOffset + wSize);
      const gb = sw.reuse ? this.gb[l] : grads.subarray(L.bOffset, L.bOffset + L.outDim);
      const dz = sw.reuse ? this.dz[l] : this.f32(rows * L.outDim);
      const needDx = l > 0 || !sw.noFirstDx;
      const dx = !needDx ? null : sw.reuse ? this.dx[l] : this.f32(rows * L.inDim);
      const x = this.inputs[l];
      if (sw.fusedDense) {
        B.denseBackward(L.act, L.param, rows, L.inDim, L.outDim, 0, x, this.w[l], this.zs[l], this.ys[l], dy as Float32Array, dz, gw, gb, dx);
      } else {
        let g = dy as Float32Array;
        if (!L.identity) {
          B.activationBackward(L.act, L.param, rows * L.outDim, this.zs[l], this.ys[l], g, dz);
          g = dz;
        }
        B.gemm(true, false, L.outDim, L.inDim, rows, 1, g, x, 0, gw);
        B.colSum(rows, L.outDim, 0, g, gb);
        if (dx) B.gemm(false, false, rows, L.inDim, L.outDim, 1, g, this.w[l], 0, dx);
      }
      dy = dx;
    }

    // Adam.
    this.t++;
    ADAM_DEF.fill(this.adamOptions, this.t, this.adamOptions.lr as number, this.hyper, NO_SCALARS, NO_SCALARS);
    if (sw.oneOptimizerCall) {
      B.optimizerStep(ADAM, PARAMS, this.hyper, this.params, grads, this.state);
    } else {
      for (const T of this.tensors) {
        const g = sw.reuse ? T.grad : grads.subarray(T.offset, T.offset + T.size);
        B.optimizerStep(ADAM, T.size, this.hyper, T.param, g, T.state);
      }
    }
    return loss;
  }

  /** The arena ranges of the parameter tensors, for comparisons. */
  ranges(): { offset: number; size: number }[] {
    return this.tensors.map((t) => ({ offset: t.offset, size: t.size }));
  }
}

/** Worst tensor's ||a - b|| / ||b|| (||a - b|| where b is all zero); NaN if any value is NaN. */
function tensorDiff(a: Float32Array, b: Float32Array, ranges: readonly { offset: number; size: number }[]): number {
  let worst = 0;
  for (const { offset, size } of ranges) {
    let diff = 0, scale = 0;
    for (let i = offset; i < offset + size; i++) {
      diff += (a[i] - b[i]) ** 2;
      scale += b[i] ** 2;
    }
    const rel = scale > 0 ? Math.sqrt(diff / scale) : Math.sqrt(diff);
    if (!(rel <= worst)) worst = rel;
  }
  return worst;
}

function lossDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.abs(b);
}

/** Garbage collections during a timed run. */
interface GcStats {
  /** Every GC event V8 reported (scavenges, incremental marking steps, full collections). */
  events: number;
  /** Full (mark-sweep-compact) collections among them. */
  major: number;
  /** Total cost of the events, in ms. */
  ms: number;
}

/** Times fn() once with V8's GC profiler on; returns seconds and the GC events it saw. */
function timed(fn: () => void): { seconds: number; gc: GcStats } {
  const profiler = new GCProfiler();
  profiler.start();
  const t0 = process.hrtime.bigint();
  fn();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const stats = profiler.stop().statistics;
  let major = 0, cost = 0;
  for (const s of stats) {
    if (s.gcType === 'MarkSweepCompact') major++;
    cost += s.cost;
  }
  return { seconds, gc: { events: stats.length, major, ms: cost / 1000 } };
}

/** Result of one correctness check: weights after CHECK_STEPS steps, the last step's gradients and loss. */
interface CheckRun {
  params: Float32Array;
  grads: Float32Array;
  loss: number;
  ranges: { offset: number; size: number }[];
}

/** CHECK_STEPS steps of `sw` on the first CHECK_STEPS x batch rows. */
function checkRun(backend: Backend, sw: Switches, batch: number, data: Data, init: Float32Array): CheckRun {
  const tr = new Trainer(backend, sw, batch, prefix(data, CHECK_STEPS * batch), init);
  const loss = tr.run(CHECK_STEPS);
  return { params: tr.params.slice(), grads: tr.lastGrads.slice(), loss, ranges: tr.ranges() };
}

/** How a variant compared with the all-on step. */
interface CheckResult {
  id: string;
  batch: number;
  steps: number;
  weightDiff: number;
  gradDiff: number;
  lossDiff: number;
  loss: number;
  referenceLoss: number;
}

/** Compares a check run with the all-on step's; throws if they differ by more than the tolerances. */
function compare(id: string, batch: number, got: CheckRun, ref: CheckRun): CheckResult {
  const r: CheckResult = {
    id, batch, steps: CHECK_STEPS, weightDiff: tensorDiff(got.params, ref.params, ref.ranges),
    gradDiff: tensorDiff(got.grads, ref.grads, ref.ranges), lossDiff: lossDiff(got.loss, ref.loss), loss: got.loss, referenceLoss: ref.loss,
  };
  if (!(r.weightDiff <= WEIGHT_TOLERANCE && r.gradDiff <= GRAD_TOLERANCE && r.lossDiff <= LOSS_TOLERANCE)) {
    throw new Error(`ablation: variant ${id} at batch ${batch} does not compute what the all-on step computes: after ${CHECK_STEPS} steps ` +
      `the weights differ by ${r.weightDiff.toExponential(2)} (tolerance ${WEIGHT_TOLERANCE}), the last gradients by ` +
      `${r.gradDiff.toExponential(2)} (tolerance ${GRAD_TOLERANCE}) and the last loss by ${r.lossDiff.toExponential(2)} ` +
      `(tolerance ${LOSS_TOLERANCE}; ${got.loss} vs ${ref.loss})`);
  }
  return r;
}

/** What one batch size's runs need: steps per timed run and per warmup. */
interface Plan {
  batch: number;
  epochs: number;
  steps: number;
  rows: number;
  warmupSteps: number;
}

/** Steps of one epoch over `rows` rows (the last one short unless batch divides rows). */
const stepsPerEpoch = (rows: number, batch: number): number => Math.ceil(rows / batch);

// ---- The oversubscribed runs, in a child process -------------------------------------------

interface ChildArgs {
  plans: Plan[];
  threads: number;
}

interface ChildBatch {
  batch: number;
  /** Seconds of the timed run at the default thread count, then at `threads`. */
  defaultSeconds: number;
  oversubscribedSeconds: number;
  check: CheckResult;
}

interface ChildResult {
  defaultThreads: number;
  threads: number;
  batches: ChildBatch[];
}

/**
 * The child's work: for every batch size the all-on step at the default thread count (warmup,
 * one timed run, a correctness run), and only then, once the pool may grow, the same at `threads`.
 */
function childMain(args: ChildArgs): ChildResult {
  const backend = nativeBackend();
  const defaultThreads = backend.getNumThreads();
  const train = loadFashionMnist({ split: 'train' });
  const data: Data = { x: train.x.data, labels: train.labels, rows: train.x.rows };
  const init = referenceModel(backend).params.slice();
  const trainers = args.plans.map((p) => new Trainer(backend, ALL_ON, p.batch, data, init));
  const atThreads = () => args.plans.map((p, i) => {
    const tr = trainers[i];
    tr.reset();
    tr.run(p.warmupSteps);
    tr.reset();
    const { seconds } = timed(() => tr.run(p.steps));
    return { seconds, check: checkRun(backend, ALL_ON, p.batch, data, init) };
  });
  const base = atThreads();
  backend.setNumThreads(args.threads);
  const over = atThreads();
  return {
    defaultThreads,
    threads: backend.getNumThreads(),
    batches: args.plans.map((p, i) => ({
      batch: p.batch, defaultSeconds: base[i].seconds, oversubscribedSeconds: over[i].seconds,
      check: compare('oversubscribed', p.batch, over[i].check, base[i].check),
    })),
  };
}

function runChild(args: ChildArgs): ChildResult {
  const r = spawnSync(process.execPath, [__filename, JSON.stringify(args)], { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 300000 });
  if (r.error || r.status !== 0) {
    throw new Error(`ablation: the oversubscribed child failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr.trim()}`);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as ChildResult;
}

// ---- The suite -------------------------------------------------------------------------------

/** One timed run of one configuration. */
interface RunRecord {
  /** Seconds the rate is computed from (for model.fit, its batch loop). */
  seconds: number;
  samplesPerSecond: number;
  gc: GcStats | null;
  /** model.fit only: the whole call, input checks and setup included. */
  callSeconds?: number;
}

interface ConfigRecord {
  id: string;
  batch: number;
  threads: number;
  epochs: number;
  steps: number;
  rows: number;
  runs: RunRecord[];
  /** Typed-array bytes a step allocated (the hand-written step; null for model.fit). */
  allocatedPerStep: number | null;
}

const rateOf = (rs: readonly RunRecord[]) => rs.map((r) => r.samplesPerSecond);

/** "median (min–max)" of plain numbers. */
function spread(xs: readonly number[], fmt: (x: number) => string = num): string {
  return `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
}

const times = (x: number): string => `${x.toFixed(2)}×`;

/** GC events and ms per 1000 steps over a configuration's runs (medians). */
function gcPer1000(c: ConfigRecord): { events: number; major: number; ms: number } | null {
  const g = c.runs.map((r) => r.gc).filter((x): x is GcStats => x !== null);
  if (g.length === 0) return null;
  const k = 1000 / c.steps;
  return { events: median(g.map((x) => x.events)) * k, major: median(g.map((x) => x.major)) * k, ms: median(g.map((x) => x.ms)) * k };
}

export const ablationSuite: Suite = {
  name: 'ablation',
  title: 'Ablation: what each optimisation of the training step is worth',
  summary: 'The reference workload (Fashion-MNIST training set, 784-256-128-10 ReLU MLP, softmax cross-entropy, Adam lr 1e-3, ' +
    'shuffled minibatches) trained by a hand-written step on the native kernels with every optimisation on ("after"), ' +
    'against the same step with one of them off ("before"); samples per second over whole epochs, interleaved runs, ' +
    'after a numerical check that every variant computes the same weights.',
  defaults: { warmup: 0.1, minTime: 0.5, runs: 3 },

  run(ctx): SuiteResult {
    const backend = nativeBackend();
    const defaultThreads = nativeDefaultThreads();
    const cpus = backend.info().numProcs;
    const overThreads = 2 * cpus;
    const runs = ctx.timing.runs;
    ctx.progress('ablation: loading Fashion-MNIST (not timed)');
    const train = loadFashionMnist({ split: 'train' });
    const data: Data = { x: train.x.data, labels: train.labels, rows: train.x.rows };
    const xAll = new Matrix(data.x, data.rows, SIZES[0]);
    backend.setNumThreads(defaultThreads);
    const init = referenceModel(backend).params.slice();
    const withThreads = <T>(n: number, fn: () => T): T => {
      const before = backend.getNumThreads();
      backend.setNumThreads(n);
      try {
        return fn();
      } finally {
        backend.setNumThreads(before);
      }
    };
    const threadsOf = (v: Variant) => (v.oneThread ? 1 : defaultThreads);

    // Correctness: every variant against the all-on step, and the all-on step against model.fit.
    ctx.progress(`ablation: correctness checks (${CHECK_STEPS} steps per variant and batch)`);
    const checks: CheckResult[] = [];
    for (const batch of BATCHES) {
      const ref = checkRun(backend, ALL_ON, batch, data, init);
      const model = referenceModel(backend);
      model.compile({ loss: 'crossEntropy', optimizer: ADAM_SPEC });
      const rows = CHECK_STEPS * batch;
      const hist = model.fit(new Matrix(data.x.subarray(0, rows * SIZES[0]), rows, SIZES[0]), data.labels.subarray(0, rows),
        { epochs: 1, batchSize: batch, shuffle: true });
      checks.push(compare('fit', batch, { params: model.params, grads: model.grads, loss: hist.stepLoss[CHECK_STEPS - 1], ranges: ref.ranges }, ref));
      for (const v of VARIANTS) {
        checks.push(compare(v.id, batch, withThreads(threadsOf(v), () => checkRun(backend, v.switches, batch, data, init)), ref));
      }
    }

    // Plans: whole epochs per run, enough for the all-on step to take about minTime.
    const plans: Plan[] = BATCHES.map((batch) => {
      const tr = new Trainer(backend, ALL_ON, batch, data, init);
      tr.run(20);
      let steps = 0;
      const t0 = process.hrtime.bigint();
      let seconds = 0;
      while (seconds < 0.15) {
        tr.run(10);
        steps += 10;
        seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      }
      const rate = (steps * batch) / seconds;
      const epochs = Math.max(1, Math.ceil((ctx.timing.minTime * rate) / data.rows));
      const perEpoch = stepsPerEpoch(data.rows, batch);
      return { batch, epochs, steps: epochs * perEpoch, rows: epochs * data.rows, warmupSteps: Math.max(10, Math.ceil((ctx.timing.warmup * rate) / batch)) };
    });

    // Trainers (built once, reset before every run) and warmups.
    const configs = [REFERENCE, ...VARIANTS];
    const trainers = new Map<string, Trainer>();
    const key = (id: string, batch: number) => `${id}/${batch}`;
    const records = new Map<string, ConfigRecord>();
    for (const p of plans) {
      for (const v of configs) {
        const tr = new Trainer(backend, v.switches, p.batch, data, init);
        trainers.set(key(v.id, p.batch), tr);
        withThreads(threadsOf(v), () => tr.run(p.warmupSteps));
        records.set(key(v.id, p.batch), { id: v.id, batch: p.batch, threads: threadsOf(v), epochs: p.epochs, steps: p.steps, rows: p.rows, runs: [], allocatedPerStep: null });
      }
      const warm = referenceModel(backend);
      warm.compile({ loss: 'crossEntropy', optimizer: ADAM_SPEC });
      const wr = Math.min(data.rows, p.warmupSteps * p.batch);
      warm.fit(new Matrix(data.x.subarray(0, wr * SIZES[0]), wr, SIZES[0]), data.labels.subarray(0, wr), { epochs: 1, batchSize: p.batch, shuffle: true });
      records.set(key('fit', p.batch), { id: 'fit', batch: p.batch, threads: defaultThreads, epochs: p.epochs, steps: p.steps, rows: p.rows, runs: [], allocatedPerStep: null });
    }

    // Timed runs, interleaved: run r of every configuration at every batch, then run r + 1.
    const children: ChildResult[] = [];
    for (let r = 0; r < runs; r++) {
      for (const p of plans) {
        ctx.progress(`ablation run ${r + 1}/${runs}, batch ${p.batch}: ${configs.length} step variants and model.fit, ${p.epochs} epoch(s) each`);
        for (const v of configs) {
          const tr = trainers.get(key(v.id, p.batch)) as Trainer;
          const rec = records.get(key(v.id, p.batch)) as ConfigRecord;
          tr.reset();
          const { seconds, gc } = withThreads(threadsOf(v), () => timed(() => tr.run(p.steps)));
          rec.runs.push({ seconds, samplesPerSecond: p.rows / seconds, gc });
          rec.allocatedPerStep = tr.allocated / tr.steps;
        }
        // model.fit: a fresh model (untimed), then the fit call; the rate is from fit's own epoch
        // timers (the loop over batches), so that its input checks count no more than our setup.
        const model = referenceModel(backend);
        model.compile({ loss: 'crossEntropy', optimizer: ADAM_SPEC });
        let epochSeconds = 0;
        const { seconds, gc } = timed(() => {
          const h = model.fit(xAll, data.labels, { epochs: p.epochs, batchSize: p.batch, shuffle: true });
          epochSeconds = h.epochs.reduce((s, e) => s + e.seconds, 0);
        });
        (records.get(key('fit', p.batch)) as ConfigRecord).runs.push({ seconds: epochSeconds, samplesPerSecond: p.rows / epochSeconds, gc, callSeconds: seconds });
      }
      ctx.progress(`ablation run ${r + 1}/${runs}: oversubscribed (${overThreads} threads) in a child process`);
      children.push(runChild({ plans, threads: overThreads }));
    }
    for (const c of children) for (const b of c.batches) checks.push(b.check);

    // Tables.
    const rec = (id: string, batch: number) => records.get(key(id, batch)) as ConfigRecord;
    const ratios = (after: number[], before: number[]) => after.map((a, i) => a / before[i]);
    const gcCell = (c: ConfigRecord) => {
      const g = gcPer1000(c);
      return g ? { events: num(g.events), ms: num(g.ms) } : { events: '–', ms: '–' };
    };
    const rows: string[][] = [];
    for (const v of VARIANTS) {
      for (const p of plans) {
        const before = rec(v.id, p.batch), after = rec('reference', p.batch);
        const b = rateOf(before.runs), a = rateOf(after.runs);
        const gb = gcCell(before), ga = gcCell(after);
        const label = v.id === 'one-thread' ? `threads: default (${defaultThreads}) vs 1` : v.label;
        rows.push([label, String(p.batch), spread(b), spread(a), spread(ratios(a, b), times), `${gb.events} / ${ga.events}`, `${gb.ms} / ${ga.ms}`]);
      }
    }
    for (const p of plans) {
      const i = plans.indexOf(p);
      const over = children.map((c) => p.rows / c.batches[i].oversubscribedSeconds);
      const base = children.map((c) => p.rows / c.batches[i].defaultSeconds);
      rows.push([`threads: default (${defaultThreads}) vs ${overThreads} (2 × ${cpus} CPUs, oversubscribed)`, String(p.batch), spread(over), spread(base),
        spread(ratios(base, over), times), '–', '–']);
    }
    for (const p of plans) {
      const fit = rec('fit', p.batch), ref = rec('reference', p.batch);
      const f = rateOf(fit.runs), a = rateOf(ref.runs);
      const gf = gcCell(fit), ga = gcCell(ref);
      rows.push(['blasnet model.fit (before) vs this step, all on (after)', String(p.batch), spread(f), spread(a), spread(ratios(a, f), times),
        `${gf.events} / ${ga.events}`, `${gf.ms} / ${ga.ms}`]);
    }
    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const planText = plans.map((p) => `batch ${p.batch}: ${p.epochs} epoch(s) = ${p.steps} steps`).join(', ');
    const speedTable: Table = {
      title: 'Each optimisation off alone (before) against all on (after), samples/s',
      notes: [
        `Machine: ${cpu}, ${os.cpus().length} CPUs; native backend, ${defaultThreads} kernel thread(s) unless the row says otherwise. ` +
          `A run trains whole epochs of the ${data.rows} shuffled rows from the same initial weights (${planText}; sized so that the all-on step takes ` +
          `at least ${ctx.timing.minTime} s), after an untimed warmup of each configuration. The ${runs} runs are interleaved: run 1 of every ` +
          'configuration at every batch, then run 2, and so on. before and after are median (min–max) samples/s; speedup is after / before ' +
          'within each run, median (min–max).',
        'The step (bench/suites/ablation.ts) does what Sequential.fit does, kernel for kernel: BatchIterator\'s shuffle and gatherRows into a reused ' +
          'buffer, denseForward per layer, the crossEntropy loss kernel on the logits (delta = (p − onehot) / batch), denseBackward without dX for ' +
          'layer 0, one Adam optimizerStep over the whole parameter arena with createOptimizer\'s hyper values. Each row turns one of these off:',
        ...VARIANTS.map((v) => `- ${v.id === 'one-thread' ? 'threads' : v.label}: ${v.before}.`),
        `- oversubscribed: setNumThreads(${overThreads}) in a child process, so that the pool runs ${overThreads} threads on ${cpus} CPUs; ` +
          'its after is the same child\'s all-on step at the default thread count, run first (the extra workers stay in the process, parked, ' +
          'so the parent keeps out of it). No GC counts for this row.',
        '- model.fit: a fresh Sequential (seed 1) compiled with crossEntropy and Adam lr 1e-3, fit(epochs, batchSize, shuffle) on the whole set; ' +
          'its samples/s come from fit\'s own per-epoch timers (the batch loop), leaving out the one-off input checks. A speedup near 1 means the ' +
          'hand-written step costs what the library\'s does.',
        'GC columns: V8 GC events (scavenges, incremental marking steps and full collections, from v8.GCProfiler around each timed run) and their ' +
          'total time, per 1000 steps, before / after (medians over the runs). The profiler records heap statistics at every GC, which adds a ' +
          'little to the time of runs that collect often.',
        'Threads: the native backend runs OpenBLAS single-threaded and splits its kernels over a pool of its own; the default is one thread per physical core ' +
          'this process may run on (sched_getaffinity and the CPU topology), or BLASNET_NUM_THREADS when set; backend.setNumThreads(n) changes it at run time.',
      ],
      columns: ['optimisation', 'batch', 'before, samples/s', 'after, samples/s', 'speedup', 'GCs / 1000 steps (before / after)',
        'GC ms / 1000 steps (before / after)'],
      rows,
    };

    const gcRows: string[][] = [];
    for (const p of plans) {
      for (const [name, id] of [['all-on step', 'reference'], ['allocating step', 'alloc'], ['js-gather step', 'js-gather'], ['model.fit', 'fit']] as const) {
        const c = rec(id, p.batch);
        const g = gcPer1000(c);
        const gcSeconds = median(c.runs.map((r) => (r.gc ? r.gc.ms / 1000 : 0)));
        gcRows.push([String(p.batch), name, c.allocatedPerStep === null ? '–' : num(c.allocatedPerStep / 1024),
          g ? num(g.events) : '–', g ? num(g.major) : '–', g ? num(g.ms) : '–', `${(100 * gcSeconds / median(c.runs.map((r) => r.seconds))).toFixed(1)}%`]);
      }
    }
    const gcTable: Table = {
      title: 'Allocation and garbage collection per 1000 steps',
      notes: [
        'KiB per step: typed-array memory the hand-written step allocated (counted as it allocates; the views and other small objects it makes are ' +
          'not counted). model.fit is not instrumented; its GC counters show what it allocates. GC share: GC time over the run\'s time (for ' +
          'model.fit, over the batch loop\'s time, while the GC counters cover the whole fit call, so they include its one-off setup).',
      ],
      columns: ['batch', 'step', 'KiB allocated per step', 'GC events / 1000 steps', 'of which full collections', 'GC ms / 1000 steps', 'GC share of run time'],
      rows: gcRows,
    };

    const checkIds = ['fit', ...VARIANTS.map((v) => v.id), 'oversubscribed'];
    const checkLabel = (id: string) => id === 'fit' ? 'model.fit' : id;
    const exp = (x: number) => (x === 0 ? '0' : x.toExponential(1));
    const checkTable: Table = {
      title: 'Correctness: each variant against the all-on step',
      notes: [
        `From the same initial weights, ${CHECK_STEPS} steps (one epoch over the first ${CHECK_STEPS} × batch rows, shuffled). weights: the worst ` +
          'tensor\'s ||Δw|| / ||w|| after the last step; grads: the same for the last step\'s gradients; loss: relative difference of the ' +
          'last step\'s loss. model.fit is compared with the all-on step; the oversubscribed step with the all-on step at the default thread ' +
          `count in its child process (worst over its runs). The suite fails if a difference exceeds ${WEIGHT_TOLERANCE} (weights), ` +
          `${GRAD_TOLERANCE} (grads) or ${LOSS_TOLERANCE} (loss); 0 means bit for bit equal.`,
      ],
      columns: ['variant', ...BATCHES.flatMap((b) => [`b${b} weights`, `b${b} grads`, `b${b} loss`])],
      rows: checkIds.map((id) => [checkLabel(id), ...BATCHES.flatMap((b) => {
        const cs = checks.filter((c) => c.id === id && c.batch === b);
        return [exp(Math.max(...cs.map((c) => c.weightDiff))), exp(Math.max(...cs.map((c) => c.gradDiff))), exp(Math.max(...cs.map((c) => c.lossDiff)))];
      })]),
    };

    // The thread default against the other counts measured.
    const targets: Target[] = [];
    const cmp = plans.map((p, i) => {
      const def = median(rateOf(rec('reference', p.batch).runs));
      const one = median(rateOf(rec('one-thread', p.batch).runs));
      const overRatio = median(children.map((c) => c.batches[i].oversubscribedSeconds / c.batches[i].defaultSeconds));
      return { batch: p.batch, vsOne: def / one, vsOver: overRatio };
    });
    if (defaultThreads > 1) {
      targets.push({
        name: `the default thread count (${defaultThreads}) is the fastest of 1, ${defaultThreads} and ${overThreads} threads at every batch (informational)`,
        met: cmp.every((c) => c.vsOne >= 1 && c.vsOver >= 1),
        measured: cmp.map((c) => `b${c.batch}: default ${times(c.vsOne)} the 1-thread rate, ${times(c.vsOver)} the ${overThreads}-thread rate`).join('; ') + ' (medians)',
      });
    }

    return {
      tables: [speedTable, gcTable, checkTable],
      targets,
      records: [
        { kind: 'plan', plans, defaultThreads, cpus, oversubscribedThreads: overThreads, checkSteps: CHECK_STEPS,
          tolerance: { weights: WEIGHT_TOLERANCE, grads: GRAD_TOLERANCE, loss: LOSS_TOLERANCE } },
        ...[...records.values()].map((r) => ({ kind: 'config', ...r })),
        ...children.map((c, run) => ({ kind: 'oversubscribed', run, ...c })),
        ...checks.map((c) => ({ kind: 'check', ...c })),
      ],
    };
  },
};

if (require.main === module) {
  process.stdout.write(`${JSON.stringify(childMain(JSON.parse(process.argv[2]) as ChildArgs))}\n`);
}
