import { backendOption } from '../backend/select';
import { alignedFloat32Array, newFloat32Array, prefault, touchPages } from '../backend/memory';
import type { BackendName } from '../backend/select';
import type { Backend } from '../backend/types';
import { checkOptionKeys, isPlainObject, optionsArg, show, typeName } from '../describe';
import type { OptionKeys } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { initialize } from '../init';
import { Layer } from '../layers/layer';
import type { BufferView, LayerConfig, ParamSpec, PassContext } from '../layers/layer';
import { layerIds } from '../layers/check';
import { LOSSES } from '../losses';
import { Rng, seed32 } from '../rng';
import { largest } from '../math';
import { Matrix } from '../tensor';
import { typedArrayTag, typedLength } from '../typed';
import { checkPreprocessedWidth, readRows, toMatrix } from '../data/input';
import type { Input, InputSpec, Rows } from '../data/input';
import { disjoint, refuseBadRowWeights } from '../backend/check';
import type { Span } from '../backend/check';
import { refuseDetached } from '../data/check';
import { Dataset } from '../data/dataset';
import { collectDiagnostics } from './diagnostics';
import type { LayerDiagnostics } from './diagnostics';
import { checkTargets, fusedActivation, lossFactor, refuseClassMetrics, refuseLossOutputs, resolveLoss, warnActivationBeforeNoise } from './loss';
import type { LossSpecName, Reduction } from './loss';
import { checkFitOptions, checkMetricNames, compileModel, evaluateModel, fitModel, prepareDataset, prepareWeighted, undoColumns } from '../train/fit';
import type { CompileOptions, Compiled, FitOptions, History, Labels } from '../train/fit';
import { fitModelAsync } from '../train/async';
import type { FitAsyncOptions } from '../train/async';
import type { Optimizer } from '../optim';
import { createMetric } from '../train/metrics';
import type { MetricSpec } from '../train/metrics';
import { MinMaxScaler, PCA, Standardizer } from '../data/preprocess';
import type { Preprocessor } from '../data/preprocess';
import type { LossSpec, ResolvedLoss } from './loss';
import { mcPredict } from '../recipe/uncertainty';
import type { McPrediction } from '../recipe/uncertainty';
import { predictClasses, predictProba } from '../predict';
import type { PredictOptions } from '../predict';

/** What `new Sequential()` takes. */
export interface SequentialOptions {
  /** Features per sample. */
  inputSize: number;
  /**
   * The layers, in order; the model keeps its own copy of the list. Each layer's name (its index
   * when it has none) names its parameters, so two layers named alike, or a name that is an
   * unnamed layer's index, are ERR_BLASNET_ARG_RANGE; the names are fixed from then on (see
   * Layer.name). New layers: a layer of another built model is ERR_BLASNET_STATE, as it holds
   * that model's weights (see Layer); if the constructor throws, the layers stay free.
   */
  layers: Layer[];
  /** Seeds the initial weights and the dropout masks. Default 0. */
  seed?: number;
  /** Backend or its name. Default: defaultBackend(). */
  backend?: Backend | BackendName;
  /** Loss used by lossAndGradient when none is given. */
  loss?: LossSpec;
  /**
   * Memory to train instead of fresh arenas: another model's params, grads and buffers (its
   * BatchNorm statistics), all SharedArrayBuffer-backed and of this architecture's sizes. The
   * weights are used as they are (no initialisation). This is how fitAsync's worker trains the
   * caller's model in place.
   */
  shared?: { params: Float32Array; grads: Float32Array; buffers: Float32Array[] };
}

/** One parameter tensor: views into the model's arenas (writes go to the model). */
export interface ParameterView {
  /** `<layer>.<param>`, the layer being its name or index, as PyTorch names Sequential's. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
  readonly grad: Float32Array;
  /** Index of the owning layer. */
  readonly layer: number;
  /** Whether the layer's L1/L2 penalty applies to it. */
  readonly penalized: boolean;
}

/** A model's architecture as plain data (see Sequential.config). */
export interface ModelConfig {
  readonly inputSize: number;
  readonly seed: number;
  readonly layers: readonly LayerConfig[];
  /** The built-in loss set on the model, if any (a custom loss is not saved). */
  readonly loss: { name: LossSpecName; param: number; reduction?: Reduction } | null;
}

/** A named copy of a parameter tensor. */
export interface NamedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export type { Input } from '../data/input';
/** Targets: a Matrix or Float32Array of values, or an Int32Array of class labels. */
export type Target = Matrix | Float32Array | Int32Array;

/** A Dataset brings its own targets: (dataset, options), never (dataset, y, options). */
function datasetCall(where: string, args: number): void {
  if (args > 2) throw typeError(ErrorCode.ARG_COUNT, `${where}: a Dataset brings its own targets; call ${where}(dataset, options)`);
}

/** Options of evaluate: rows per pass (default 256), metrics (default those given to compile), and fit's row weights. */
export interface EvaluateOptions extends Pick<FitOptions, 'sampleWeight' | 'classWeight'> {
  batchSize?: number;
  metrics?: MetricSpec[];
}

const SEQUENTIAL_OPTIONS: OptionKeys<SequentialOptions> = { inputSize: true, layers: true, seed: true, backend: true, loss: true, shared: true };
const EVALUATE_OPTIONS: OptionKeys<EvaluateOptions> = { batchSize: true, metrics: true, sampleWeight: true, classWeight: true };

/**
 * A stack of layers trained by backpropagation. All parameters live in one flat Float32Array
 * arena (`params`) and their gradients in a matching one (`grads`), on SharedArrayBuffer so that
 * a worker can train the same memory; layers hold views. Workspaces are sized for the largest
 * batch seen, so steps after the first allocate nothing.
 */
export class Sequential {
  readonly backend: Backend;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly layers: readonly Layer[];
  readonly seed: number;
  /** Every parameter, contiguous. An optimiser updates it in one call. */
  readonly params: Float32Array;
  /** Gradients, laid out as params. */
  readonly grads: Float32Array;
  /** Whether params and grads were allocated here (not handed in through options.shared). */
  private readonly ownsArenas: boolean;
  private readonly views: ParameterView[];
  private readonly rng: Rng;
  private loss: ResolvedLoss | null;
  private capacity = 0;
  /** The capacity whose lossGrad reserve(batch, true) last mapped (it stays mapped). */
  private mappedCapacity = 0;
  private lossGrad = new Float32Array(0);
  private inputs: Float32Array[] = [];
  private lastBatch = -1;
  private inputData: Float32Array = new Float32Array(0);
  private readonly inputRows: Rows = { data: new Float32Array(0), rows: 0 };
  // One spec object, updated by setInputColumns and setPreprocessing, so reading a batch allocates nothing.
  private readonly spec: { width: number; columns: readonly string[] | null; preprocessing: Preprocessor | null };
  private lastTrained = false;
  private outputView: Matrix | null = null;
  // The two pass contexts, made once: a step allocates nothing.
  private readonly trainCtx: PassContext;
  private readonly evalCtx: PassContext;
  /** predict's passes: in inference mode, and never followed by a backward pass (predict ends by forgetting its batch). */
  private readonly predictCtx: PassContext;

  constructor(options: SequentialOptions) {
    const where = 'Sequential';
    if (!options || typeof options !== 'object' || Array.isArray(options)) {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected an options object with inputSize and layers`);
    }
    checkOptionKeys(where, options, SEQUENTIAL_OPTIONS);
    const { inputSize, layers } = options;
    if (!Number.isInteger(inputSize) || inputSize < 1) {
      throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive integer for inputSize but received ${show(inputSize)}`);
    }
    if (!Array.isArray(layers) || layers.length === 0 || layers.some((l) => !(l instanceof Layer))) {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a non-empty array of layers (dense(), dropout(), ...)`);
    }
    if (new Set(layers).size !== layers.length) {
      throw rangeError(ErrorCode.ARG_RANGE, `${where}: the same layer object appears twice; create one per position`);
    }
    // Building rebinds a layer to this model's arenas and workspaces: the model it belongs to
    // would compute with them too, its outputs changed without a word. Checked before any layer
    // is touched, and a layer joins only once the model is built.
    const taken = layers.findIndex((l) => l.inBuiltModel);
    if (taken >= 0) {
      throw new BlasnetError(ErrorCode.STATE, `${where}: layer ${taken} (${layers[taken].kind}) belongs to a built model, whose weights and ` +
        'workspaces it holds; building another model from it would change that model\'s outputs. Call dense(), dropout(), ... again to ' +
        'create new layers for this model, or copy a built model with decodeModel(encodeModel(model)).model');
    }
    const ids = layerIds(where, layers);
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected integer for seed but received ${show(seed)}`);
    this.backend = backendOption(where, options.backend);
    this.inputSize = inputSize;
    this.spec = { width: inputSize, columns: null, preprocessing: null };
    // A copy: layers pushed onto the caller's array later have no place in the arenas.
    this.layers = Object.freeze(layers.slice());
    this.seed = seed;
    this.loss = options.loss === undefined ? null : resolveLoss(options.loss);
    if (this.loss) this.#warnActivation(this.loss);

    // Build: sizes, parameter specs, one arena for all.
    const specs: { layer: number; spec: ParamSpec; offset: number; size: number }[] = [];
    let size = inputSize;
    let total = 0;
    layers.forEach((layer, i) => {
      for (const spec of layer.build(size)) {
        const n = spec.shape.reduce((a, b) => a * b, 1);
        specs.push({ layer: i, spec, offset: total, size: n });
        total += n;
      }
      size = layer.outSize;
    });
    this.outputSize = size;
    if (this.loss) refuseLossOutputs(where, this.loss, size, { built: true });
    const shared = options.shared;
    if (shared !== undefined) {
      const onShared = (a: unknown) => typedArrayTag(a) === 'Float32Array' && (a as Float32Array).buffer instanceof SharedArrayBuffer;
      if (!isPlainObject(shared)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected { params, grads, buffers } for shared but received ${typeName(shared)}`);
      if (!Array.isArray(shared.buffers) || !shared.buffers.every(onShared)) {
        throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected an array of SharedArrayBuffer-backed Float32Arrays for shared.buffers (the layers' state, [] for none)`);
      }
    }
    if (shared) {
      const ok = (a: unknown, n: number) => typedArrayTag(a) === 'Float32Array' && typedLength(a) === n &&
        (a as Float32Array).buffer instanceof SharedArrayBuffer;
      if (!ok(shared.params, total) || !ok(shared.grads, total)) {
        throw rangeError(ErrorCode.SHAPE, `${where}: shared params and grads must be SharedArrayBuffer-backed Float32Arrays of ${total} values`);
      }
      // A backward pass writes the gradients and a training pass the layers' state: over the
      // weights, they would overwrite them (ERR_BLASNET_ALIAS).
      const spans: Span[] = [{ name: 'shared.params', a: shared.params, used: total }, { name: 'shared.grads', a: shared.grads, used: total },
        ...shared.buffers.map((b, i) => ({ name: `shared.buffers[${i}]`, a: b, used: typedLength(b) }))];
      spans.forEach((s, i) => spans.slice(i + 1).forEach((t) => disjoint(where, s, t)));
    }
    try {
      this.params = shared ? shared.params : alignedFloat32Array(total, true);
      this.grads = shared ? shared.grads : alignedFloat32Array(total, true);
    } catch (e) {
      const cause = (e as Error).cause instanceof Error ? (e as Error).cause as Error : e as Error;
      throw new BlasnetError(ErrorCode.MEMORY, `${where}: the model's ${total} parameters need ${((8 * total) / 2 ** 30).toFixed(1)} GB ` +
        `(float32 weights and their gradients), which cannot be allocated: ${cause.message}`, { cause: e });
    }
    this.ownsArenas = !shared;
    // The initialisers write every parameter: their pages are mapped in one call first.
    if (this.ownsArenas) prefault(this.params);
    this.views = specs.map(({ layer, spec, offset, size: n }) => ({
      name: `${ids[layer]}.${spec.name}`,
      shape: spec.shape,
      data: this.params.subarray(offset, offset + n),
      grad: this.grads.subarray(offset, offset + n),
      layer,
      penalized: spec.penalized,
    }));
    layers.forEach((layer, i) => {
      const mine = this.views.filter((v) => v.layer === i);
      layer.bind(mine.map((v) => v.data), mine.map((v) => v.grad));
    });
    // Initial weights come from their own stream so that changing the masks' use of the
    // generator never changes the initial weights.
    if (shared) {
      let k = 0;
      for (const layer of layers) {
        const own = layer.buffers();
        const given = shared.buffers.slice(k, k + own.length);
        if (given.length !== own.length || given.some((g, i) => typedLength(g) !== own[i].data.length)) {
          throw rangeError(ErrorCode.SHAPE, `${where}: shared buffers do not match the layers' state`);
        }
        layer.adoptBuffers(given);
        k += own.length;
      }
    } else {
      const initRng = new Rng(seed);
      specs.forEach(({ spec }, k) => initialize(spec.init, this.views[k].data, spec.shape, initRng));
    }
    this.rng = new Rng((seed32(seed) ^ 0x5bd1e995) >>> 0);
    this.trainCtx = { backend: this.backend, rng: this.rng, training: true };
    this.evalCtx = { backend: this.backend, rng: this.rng, training: false };
    this.predictCtx = { ...this.evalCtx, inference: true };
    // The tensors are named now (ids): a layer renamed later would be saved and exported under a
    // name its parameters() do not have. Last, so that a model that failed to build takes no layer.
    for (const layer of layers) layer.joinModel();
  }

  /** Every parameter with its gradient, in layer order. */
  parameters(): ParameterView[] {
    return this.views.slice();
  }

  /** Number of trainable values. */
  get parameterCount(): number {
    return this.params.length;
  }

  /** Non-trainable state (BatchNorm running statistics), named as parameters are. */
  buffers(): BufferView[] {
    return this.layers.flatMap((l, i) => l.buffers().map((b) => ({ name: `${l.name ?? i}.${b.name}`, data: b.data })));
  }

  /**
   * Whether forward passes train (dropout on, batch statistics) unless told otherwise. fit trains
   * in training mode while it runs and then puts back the mode it was called in; fitAsync's worker
   * trains in training mode and this model keeps its own. Meanwhile (from their callbacks too),
   * setting it, train() and eval() throw ERR_BLASNET_BUSY.
   */
  get training(): boolean {
    return this.mode;
  }

  /** Sets the mode, as train() and eval() do (see the getter). */
  set training(on: boolean) {
    this.setMode('training', on);
  }

  /** Switches to training mode (dropout active, batch statistics); see training. */
  train(): this {
    this.setMode('train', true);
    return this;
  }

  /** Switches to inference mode; see training. */
  eval(): this {
    this.setMode('eval', false);
    return this;
  }

  private mode = false;

  private setMode(where: string, on: boolean): void {
    if (typeof on !== 'boolean') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected boolean for training but received ${typeName(on)}`);
    // The loop trains whatever the mode says and puts back the mode it found when it ends: a
    // change made meanwhile would have no effect, and would be undone without a word.
    if (this.busy === 'fit') {
      throw new BlasnetError(ErrorCode.BUSY, `${where}: fit sets the model's mode itself (training while it runs, then back to the mode it was called in); call it after fit returns`);
    }
    if (this.busy !== null) {
      throw new BlasnetError(ErrorCode.BUSY, `${where}: fitAsync sets the model's mode itself (its worker trains in training mode; this model keeps the mode it was called in); call it after fitAsync settles`);
    }
    this.mode = on;
  }

  /** The dropout-mask generator's state (to continue the same masks in another thread). */
  maskState(): number[] {
    return this.rng.getState();
  }

  /** Continues the dropout masks from a maskState(). */
  setMaskState(state: readonly number[]): void {
    this.rng.setState(state);
  }

  /** Restarts the dropout-mask generator: the same seed gives the same masks. */
  reseed(seed: number): void {
    if (!Number.isInteger(seed)) throw rangeError(ErrorCode.ARG_RANGE, `reseed: Expected integer for seed but received ${show(seed)}`);
    this.notBusy('reseed');
    this.rng.reset((seed32(seed) ^ 0x5bd1e995) >>> 0);
  }

  /** The loss whose activation warning was given, so that compile after the constructor does not repeat it. */
  #warnedFor: string | null = null;

  /** Whether compile is setting the loss (its metrics are checked there, not the old ones). */
  #compiling = false;

  #warnActivation(loss: ResolvedLoss): void {
    if (loss.custom || this.#warnedFor === loss.name) return;
    this.#warnedFor = loss.name;
    warnActivationBeforeNoise(this.layers, loss);
  }

  /** Sets the loss lossAndGradient uses by default. */
  setLoss(loss: LossSpec): void {
    this.notBusy('setLoss');
    const resolved = resolveLoss(loss);
    refuseLossOutputs('setLoss', resolved, this.outputSize);
    // A compiled class metric would read this loss's targets wrongly (gaussianNll's).
    if (this.compiled && !this.#compiling) refuseClassMetrics('setLoss', resolved, this.compiled.metrics);
    this.loss = resolved;
    this.#warnActivation(this.loss);
  }

  /**
   * Runs the layers on a batch. The result is a view of the model's workspace, valid until the
   * next pass; copy it (or use predict) to keep it. `training` defaults to the model's mode.
   * With `stochasticRng` (and training false), dropout, DropConnect and Gaussian noise draw from
   * that generator as in training while BatchNorm uses its running statistics (Monte Carlo
   * dropout); the model's own mask stream and statistics are untouched.
   */
  forward(x: Input, options: { training?: boolean; stochasticRng?: Rng } = {}): Matrix {
    const rows = this.checkInput(x, 'forward');
    const training = optionsArg('forward', options, { training: true, stochasticRng: true }).training ?? this.training;
    if (typeof training !== 'boolean') throw typeError(ErrorCode.ARG_TYPE, `forward: Expected boolean for options.training but received ${typeName(training)}`);
    // A training pass moves BatchNorm's shared running statistics.
    if (training) this.notBusy('forward');
    const mc = options.stochasticRng;
    if (mc !== undefined && !(mc instanceof Rng)) throw typeError(ErrorCode.ARG_TYPE, 'forward: Expected an Rng for stochasticRng');
    return this.run(this.inputData, rows, training, mc && !training ? { backend: this.backend, rng: mc, training: false, stochastic: true } : undefined);
  }

  private run(x: Float32Array, batch: number, training: boolean, context?: PassContext): Matrix {
    this.reserve(batch);
    const ctx = context ?? (training ? this.trainCtx : this.evalCtx);
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      this.inputs[i] = h;
      h = this.layers[i].forward(ctx, batch, h);
    }
    this.lastBatch = batch;
    this.lastTrained = training;
    if (!this.outputView || this.outputView.data !== h || this.outputView.rows !== batch) {
      this.outputView = new Matrix(h, batch, this.outputSize);
    }
    return this.outputView;
  }

  /**
   * Backpropagates d(loss)/d(output) of the last forward pass: fills `grads` (overwriting them)
   * for every parameter. Penalties are not included (lossAndGradient adds them).
   */
  backward(dOutput: Matrix | Float32Array): void {
    this.notBusy('backward');
    if (this.lastBatch < 0) throw new BlasnetError(ErrorCode.STATE, 'backward: call forward first');
    const batch = this.lastBatch;
    const dy = dOutput instanceof Matrix ? dOutput.data : dOutput;
    if (typedArrayTag(dy) !== 'Float32Array' || typedLength(dy) < batch * this.outputSize) {
      throw rangeError(ErrorCode.SHAPE,
        `backward: Expected a Float32Array of at least ${batch * this.outputSize} elements (batch*outputSize)`);
    }
    this.propagate(dy, this.layers.length - 1, false);
  }

  private propagate(dy: Float32Array, from: number, fromLogits: boolean): void {
    const ctx = this.lastTrained ? this.trainCtx : this.evalCtx;
    const batch = this.lastBatch;
    let g: Float32Array | null = dy;
    for (let i = from; i >= 0 && g; i--) {
      const layer = this.layers[i];
      const needDx = i > 0;
      g = i === from && fromLogits
        ? layer.backwardFromLogits(ctx, batch, this.inputs[i], g, needDx)
        : layer.backward(ctx, batch, this.inputs[i], g, needDx);
    }
  }

  /**
   * One training pass: forward (training mode), the loss against `target`, backward and the
   * layers' penalties. Returns the mean loss plus penalties; the gradients are in `grads`.
   *
   * With crossEntropy after a softmax output (or binaryCrossEntropy after sigmoid), the loss is
   * computed on the logits and the output gradient is prediction - target, in one kernel.
   * `weight` (a Float32Array [rows] of finite non-negative factors) weights each row's term, the
   * mean keeping its unweighted normaliser (see Backend.lossWeighted).
   * `penaltyShare` (default 1, finite and non-negative) scales the penalties this pass adds, value
   * and gradient: where the gradients of several passes are summed into one step (data-parallel
   * replicas of a loss that reduces by 'sum', gradient accumulation), 1 / passes counts them once.
   */
  lossAndGradient(x: Input, target: Target, options: { loss?: LossSpec; weight?: Float32Array | null; penaltyShare?: number } = {}): number {
    this.notBusy('lossAndGradient');
    options = optionsArg('lossAndGradient', options, { loss: true, weight: true, penaltyShare: true });
    const share = options.penaltyShare ?? 1;
    if (typeof share !== 'number') throw typeError(ErrorCode.ARG_TYPE, `lossAndGradient: Expected number for options.penaltyShare but received ${typeName(share)}`);
    if (!(share >= 0 && share < Infinity)) {
      throw rangeError(ErrorCode.ARG_RANGE, `lossAndGradient: Expected a finite number >= 0 for options.penaltyShare but received ${show(share)}`);
    }
    const loss = this.pickLoss(options.loss, 'lossAndGradient');
    const rows = this.checkInput(x, 'lossAndGradient');
    const t = this.toTarget(target, loss, rows, 'lossAndGradient');
    const weight = this.checkWeight(options.weight, loss, rows, 'lossAndGradient');
    this.run(this.inputData, rows, true);
    const fusedLogits = this.outputLoss(loss, rows, t, this.lossGrad, weight);
    this.propagate(this.lossGrad, this.layers.length - 1, fusedLogits);
    return this.lastLossValue + this.addPenalties(share);
  }

  /**
   * The loss of a batch without gradients: inference mode unless `training` (then dropout and
   * batch statistics apply, and BatchNorm's running estimates move). Penalties are not included
   * (penaltyValue gives them; evaluate's loss and fit's valLoss add them once).
   * `weight` as lossAndGradient's.
   */
  lossValue(x: Input, target: Target, options: { loss?: LossSpec; training?: boolean; weight?: Float32Array | null } = {}): number {
    options = optionsArg('lossValue', options, { loss: true, training: true, weight: true });
    const training = options.training ?? false;
    if (typeof training !== 'boolean') throw typeError(ErrorCode.ARG_TYPE, `lossValue: Expected boolean for options.training but received ${typeName(training)}`);
    // A training pass draws masks and moves BatchNorm's shared running statistics.
    if (training) this.notBusy('lossValue');
    const loss = this.pickLoss(options.loss, 'lossValue');
    const rows = this.checkInput(x, 'lossValue');
    const t = this.toTarget(target, loss, rows, 'lossValue');
    const weight = this.checkWeight(options.weight, loss, rows, 'lossValue');
    this.run(this.inputData, rows, training);
    this.outputLoss(loss, rows, t, null, weight);
    return this.lastLossValue;
  }

  /** The output of the last pass (a workspace view, as forward returns). */
  lastOutput(): Matrix {
    if (this.lastBatch < 0 || !this.outputView) throw new BlasnetError(ErrorCode.STATE, 'lastOutput: call forward first');
    return this.outputView;
  }

  private lastLossValue = 0;
  private compiled: Compiled | null = null;

  private pickLoss(spec: LossSpec | undefined, where: string): ResolvedLoss {
    const loss = spec !== undefined ? resolveLoss(spec) : this.loss;
    if (!loss) throw new BlasnetError(ErrorCode.STATE, `${where}: no loss given; pass { loss } or set one with setLoss()`);
    refuseLossOutputs(where, loss, this.outputSize);
    return loss;
  }

  /**
   * The loss of the last pass's output against target (into lastLossValue), and its gradient
   * into grad unless null. With crossEntropy after softmax (binaryCrossEntropy after sigmoid)
   * the loss is taken on the logits; returns whether it was, i.e. whether grad is a logit delta.
   */
  private outputLoss(loss: ResolvedLoss, rows: number, t: Float32Array | Int32Array, grad: Float32Array | null, weight: Float32Array | null): boolean {
    const last = this.layers[this.layers.length - 1];
    const fused = fusedActivation(loss);
    const logits = fused !== null && last.outputActivation() === fused ? last.logits() : null;
    const pred = logits ?? (this.outputView as Matrix).data;
    if (weight !== null) {
      this.lastLossValue = this.backend.lossWeighted(loss.id, loss.param, rows, this.outputSize, pred, t, weight, grad);
    } else {
      this.lastLossValue = loss.custom
        ? loss.custom.compute(rows, this.outputSize, pred, t, grad)
        : this.backend.loss(loss.id, loss.param, rows, this.outputSize, pred, t, grad);
    }
    // halfMse and reduction 'sum' scale the kernel's mean, and its gradient alike.
    const f = lossFactor(loss, rows, this.outputSize);
    if (f !== 1) {
      this.lastLossValue *= f;
      if (grad) this.backend.scale(rows * this.outputSize, f, grad);
    }
    return logits !== null;
  }

  /** Row weights for `rows` rows of a built-in loss (their values the kernel checks), checked before any pass runs. */
  private checkWeight(weight: Float32Array | null | undefined, loss: ResolvedLoss, rows: number, where: string): Float32Array | null {
    if (weight === undefined || weight === null) return null;
    if (typedArrayTag(weight) !== 'Float32Array' || typedLength(weight) !== rows) {
      throw rangeError(ErrorCode.SHAPE, `${where}: Expected a Float32Array of ${rows} values (one per row) for weight`);
    }
    if (loss.custom) throw rangeError(ErrorCode.ARG_RANGE, `${where}: row weights need a built-in loss; ${loss.name} is custom`);
    // Their values too, before any pass (a training pass moves BatchNorm's statistics and the
    // dropout stream); the kernel checks them again as it reads them.
    refuseBadRowWeights(where, weight, rows);
    return weight;
  }

  /** Adds `share` of each layer's L1/L2 penalty gradient to `grads`; returns as much of the penalty value. */
  private addPenalties(share: number): number {
    let total = 0;
    if (share === 0) return total;
    for (const v of this.views) {
      if (!v.penalized) continue;
      const { l1, l2 } = this.layers[v.layer].penalty();
      if (l1 > 0 || l2 > 0) total += this.backend.penalty(v.data.length, l1 * share, l2 * share, v.data, v.grad);
    }
    return total;
  }

  /** The penalty value alone (L1 and L2 terms of every layer), without touching gradients. */
  penaltyValue(): number {
    let total = 0;
    for (const v of this.views) {
      if (!v.penalized) continue;
      const { l1, l2 } = this.layers[v.layer].penalty();
      if (l1 > 0 || l2 > 0) total += this.backend.penalty(v.data.length, l1, l2, v.data, null);
    }
    return total;
  }

  /**
   * Inference on any number of rows, `batchSize` at a time: no dropout, running statistics, no
   * change to the model or its generator. Returns a new Matrix. A NaN or infinity in x, or in
   * what the preprocessing returns, is ERR_BLASNET_DATA naming its index, 1-based row and column
   * (the backend's firstNonFinite scan, as fit's), so predictProba and predictClasses refuse it too. With `mcSamples`, Monte Carlo
   * dropout instead: that many stochastic passes (dropout active, BatchNorm in inference mode,
   * masks from a generator seeded by `seed`), returning their mean and standard deviation per
   * output, of probabilities when the outputs are class scores, logits included (see mcPredict).
   */
  predict(x: Input | Dataset, options?: { batchSize?: number }): Matrix;
  predict(x: Input | Dataset, options: { batchSize?: number; mcSamples: number; seed?: number }): McPrediction;
  predict(x: Input | Dataset, options: { batchSize?: number; mcSamples?: number; seed?: number } = {}): Matrix | McPrediction {
    options = optionsArg('predict', options, { batchSize: true, mcSamples: true, seed: true });
    if (options.mcSamples !== undefined) {
      return mcPredict(this, x, { samples: options.mcSamples, batchSize: options.batchSize, seed: options.seed });
    }
    const m = toMatrix(x, this.spec, 'predict', this.backend);
    if (options.seed !== undefined) throw rangeError(ErrorCode.ARG_RANGE, 'predict: seed applies only with mcSamples');
    const bs = options.batchSize ?? 256;
    if (!Number.isInteger(bs) || bs < 1) {
      throw rangeError(ErrorCode.ARG_RANGE, `predict: Expected positive integer for batchSize but received ${show(bs)}`);
    }
    const out = newFloat32Array(m.rows * this.outputSize, { where: 'predict', what: 'the outputs' });
    for (let r = 0; r < m.rows; r += bs) {
      const n = Math.min(bs, m.rows - r);
      const y = this.run(m.data.subarray(r * this.inputSize, (r + n) * this.inputSize), n, false, this.predictCtx);
      out.set(y.data.subarray(0, n * this.outputSize), r * this.outputSize);
    }
    // No backward pass may follow: its layers kept only what inference needs.
    this.lastBatch = -1;
    return new Matrix(out, m.rows, this.outputSize);
  }

  /**
   * x as the layers see it (toMatrix: records read by column, the stored preprocessing applied,
   * width checked); a Matrix given without preprocessing comes back as it is. With `finite`, NaN
   * and infinities are ERR_BLASNET_DATA naming the row and column, as predict refuses them. @internal
   */
  inputMatrix(x: Input | Dataset, where: string, finite = false): Matrix {
    return toMatrix(x, this.spec, where, finite ? this.backend : undefined);
  }

  /** Copies of every parameter tensor. */
  getWeights(): NamedTensor[] {
    // While fitAsync's worker steps, the tensors would be copied from different steps.
    this.notBusy('getWeights', true);
    return this.views.map((v) => ({ name: v.name, shape: v.shape, data: v.data.slice() }));
  }

  /**
   * Replaces every parameter tensor, in parameters() order. Each entry is a Float32Array or a
   * { data } of exactly the tensor's size; nothing changes unless all of them fit.
   */
  setWeights(weights: ReadonlyArray<Float32Array | { data: Float32Array }>): void {
    this.notBusy('setWeights', true);
    if (!Array.isArray(weights) || weights.length !== this.views.length) {
      throw rangeError(ErrorCode.SHAPE,
        `setWeights: Expected ${this.views.length} tensors (${this.views.map((v) => v.name).join(', ')}) but received ${Array.isArray(weights) ? weights.length : typeof weights}`);
    }
    const arrays = weights.map((w, i) => {
      const data = typedArrayTag(w) === 'Float32Array' ? (w as Float32Array) : (w as { data?: unknown })?.data;
      const v = this.views[i];
      if (typedArrayTag(data) !== 'Float32Array') {
        throw typeError(ErrorCode.ARG_TYPE, `setWeights: Expected Float32Array for ${v.name}`);
      }
      if (typedLength(data) !== v.data.length) {
        refuseDetached('setWeights', v.name, data);
        throw rangeError(ErrorCode.SHAPE,
          `setWeights: ${v.name} has shape [${v.shape.join(', ')}] (${v.data.length} values) but received ${typedLength(data)} values`);
      }
      return data as Float32Array;
    });
    arrays.forEach((a, i) => this.views[i].data.set(a));
  }

  /**
   * Sets up training: the loss, an optimiser over this model's parameters (a spec such as
   * { name: 'adam', lr: 1e-3 } or an Optimizer) and the metrics fit and evaluate report.
   */
  compile(options: CompileOptions): this {
    this.notBusy('compile');
    // compileModel checks the new metrics against the new loss itself, before it sets the loss.
    this.#compiling = true;
    try {
      this.compiled = compileModel(this, options);
    } finally {
      this.#compiling = false;
    }
    // The gradient arena's pages are touched here, as the optimiser state's are by compileModel
    // and the parameters' by their initialiser: fresh memory is mapped on its first write, which
    // would otherwise fall in the first training step (230 page faults for the reference MLP,
    // 2-3 ms on a VM where a fault costs 11-15 us; bench/RESULTS.md run X). Not at construction:
    // a model that only predicts never needs those pages. Shared arenas belong to their owner.
    if (this.ownsArenas && prefault(this.grads) === 0) touchPages(this.grads);
    return this;
  }

  /** The optimiser set by compile, if any. */
  get optimizer(): Optimizer | null {
    return this.compiled?.optimizer ?? null;
  }

  /** The metrics set by compile (empty before compile). */
  get metrics(): readonly MetricSpec[] {
    return this.compiled?.metrics ?? [];
  }

  /** Class probabilities for x (see predictProba in lib/predict). */
  predictProba(x: Input | Dataset, options: PredictOptions = {}): Matrix {
    return predictProba(this, x, options);
  }

  /** The predicted class of every row of x (see predictClasses in lib/predict). */
  predictClasses(x: Input | Dataset, options: PredictOptions = {}): Int32Array {
    return predictClasses(this, x, options);
  }

  /**
   * Trains on (x, y) in mini-batches (see FitOptions: epochs, batchSize, shuffle, validation,
   * schedule, clipping, callbacks). Checks every input before starting; a fit that fails its
   * checks leaves the model as it was, input columns included (see fitModel). Returns the History.
   * From its callbacks, predict, evaluate, setWeights and saveModel work, and calls that would
   * change what the loop uses (compile, a nested fit, lossAndGradient, train(), eval(), ...) throw
   * ERR_BLASNET_BUSY. It trains in training mode and leaves the model in the mode it was called in.
   */
  fit(data: Dataset, options?: FitOptions): History;
  fit(x: Input, y: Labels, options?: FitOptions): History;
  fit(x: Input | Dataset, y?: Labels | FitOptions, options: FitOptions = {}): History {
    this.notBusy('fit');
    if (!this.compiled) throw new BlasnetError(ErrorCode.STATE, 'fit: call compile({ loss, optimizer }) first');
    if (x instanceof Dataset) datasetCall('fit', arguments.length);
    const [labels, opts] = x instanceof Dataset ? [undefined, (y ?? {}) as FitOptions] : [y as Labels, options];
    checkFitOptions('fit', opts);
    return fitModel(this, this.compiled, x, labels, opts);
  }

  /**
   * Preprocessing (a fitted Standardizer, MinMaxScaler or PCA) applied to every input of fit,
   * fitAsync, evaluate and predict (and of checkModel and lrFinder), exactly once, and saved with
   * the model (saveModel) so that a
   * loaded model applies it too: pass raw rows (or records) everywhere. Fit it on the training
   * rows first; null removes it. forward and lossAndGradient take the model's own rows and do not
   * apply it. A scaler that returns another width than inputSize (a PCA's components count) is
   * ERR_BLASNET_SHAPE.
   */
  setPreprocessing(p: Preprocessor | null): this {
    this.notBusy('setPreprocessing');
    if (p !== null && !(p instanceof Standardizer || p instanceof MinMaxScaler || p instanceof PCA)) {
      throw typeError(ErrorCode.ARG_TYPE, 'setPreprocessing: Expected a fitted Standardizer, MinMaxScaler or PCA, or null');
    }
    if (p !== null) {
      p.toJSON(); // throws ERR_BLASNET_STATE when not fitted
      checkPreprocessedWidth('setPreprocessing', p, this.inputSize);
    }
    this.spec.preprocessing = p;
    return this;
  }

  /**
   * The preprocessing set by setPreprocessing, if any. Assigning it directly (as a field, which it
   * was) skips setPreprocessing's checks; the input converter applies whatever is set, and
   * saveModel, exportOnnx and compileInference still refuse a scaler of the wrong width.
   */
  get preprocessing(): Preprocessor | null {
    return this.spec.preprocessing;
  }

  /** Sets the preprocessing without setPreprocessing's checks (see the getter). */
  set preprocessing(p: Preprocessor | null) {
    this.spec.preprocessing = p;
  }

  /**
   * The record keys read as input columns, in order, when x is an array of records (plain
   * objects, e.g. JSON rows or a database query result); null clears them. fit on records sets
   * them from the first record's keys (less the label and sampleWeight keys) when none are set
   * (keys only later records have are not read: a process warning, code BLASNET_UNREAD_KEYS,
   * names them), and a fit that fails its checks leaves them as they were; saveModel stores them. A label or
   * sampleWeight key among them is refused (ERR_BLASNET_ARG_RANGE). With preprocessing, the
   * columns are its raw input.
   */
  setInputColumns(columns: readonly string[] | null): this {
    this.notBusy('setInputColumns');
    if (columns !== null) {
      if (!Array.isArray(columns) || columns.length === 0 || columns.some((c) => typeof c !== 'string' || c === '')) {
        throw typeError(ErrorCode.ARG_TYPE, 'setInputColumns: Expected a non-empty array of column names or null');
      }
      if (new Set(columns).size !== columns.length) throw rangeError(ErrorCode.ARG_RANGE, 'setInputColumns: a column is named twice');
    }
    this.spec.columns = columns === null ? null : Object.freeze(columns.slice());
    return this;
  }

  /** The record keys set by setInputColumns (or by fit on records), if any. */
  get inputColumns(): readonly string[] | null {
    return this.spec.columns;
  }

  /** How this model reads raw input (width, record columns, preprocessing). @internal */
  get inputSpec(): InputSpec {
    return this.spec;
  }

  /**
   * fit in a worker thread: the event loop stays free. The worker trains this model's own
   * (shared) memory; callbacks run on this thread (at epoch ends the worker waits for them, so
   * they see consistent weights); `signal` stops training between batches and rejects the
   * promise with its reason (the weights keep the training done so far). Until it settles,
   * calls that would race with it (fit, lossAndGradient, setWeights, compile, train(), eval(),
   * ...) throw ERR_BLASNET_BUSY; predict may run, on weights that are changing. The model keeps
   * the mode it was called in (the worker trains in training mode).
   */
  fitAsync(data: Dataset, options?: FitAsyncOptions): Promise<History>;
  fitAsync(x: Input, y: Labels, options?: FitAsyncOptions): Promise<History>;
  fitAsync(x: Input | Dataset, y?: Labels | FitAsyncOptions, options: FitAsyncOptions = {}): Promise<History> {
    try {
      this.notBusy('fitAsync');
      if (!this.compiled) throw new BlasnetError(ErrorCode.STATE, 'fitAsync: call compile({ loss, optimizer }) first');
      if (x instanceof Dataset) datasetCall('fitAsync', arguments.length);
      const [labels, opts] = x instanceof Dataset ? [undefined, (y ?? {}) as FitAsyncOptions] : [y as Labels, options];
      checkFitOptions('fitAsync', opts);
      return fitModelAsync(this, this.compiled, x, labels, opts, (state) => {
        this.busy = state;
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * fit marks the model while its callbacks run (`on` true) and unmarks it after: meanwhile,
   * calls that would change what fit's loop uses (compile, setLoss, fit, fitAsync,
   * lossAndGradient, a training forward, reseed, an optimiser step, train(), eval(), ...) throw
   * ERR_BLASNET_BUSY, as from fitAsync's callbacks; predict, evaluate, setWeights and saveModel
   * work. Returns whether the mark was set (a model marked already keeps its mark). @internal
   */
  fitCallbacks(on: boolean): boolean {
    if (!on) {
      if (this.busy === 'fit') this.busy = null;
      return false;
    }
    if (this.busy !== null) return false;
    this.busy = 'fit';
    return true;
  }

  /** Whether a fitAsync is training this model. */
  get isTraining(): boolean {
    return this.busy === 'running' || this.busy === 'paused';
  }

  /**
   * 'running' while a fitAsync worker trains this model's memory, 'paused' while the worker waits
   * for this thread's callbacks (the weights are consistent then), 'fit' while fit runs its
   * callbacks (its loop waits for them), null otherwise.
   */
  private busy: 'running' | 'paused' | 'fit' | null = null;

  /**
   * Throws ERR_BLASNET_BUSY while a fitAsync worker trains this model, or while fit runs its
   * callbacks; with `whilePaused`, calls made from either's callbacks (the loop waits for them)
   * are allowed. @internal
   */
  notBusy(where: string, whilePaused = false): void {
    if (this.busy === 'fit' && !whilePaused) {
      // The loop holds the optimiser, loss, arenas and dropout stream it started with: a change
      // made here would be trained past (an optimiser compile replaced, never stepped) or fail later.
      throw new BlasnetError(ErrorCode.BUSY, `${where}: the model is training (fit, which runs this callback); call it after fit returns`);
    }
    if (this.busy === 'running' || (this.busy === 'paused' && !whilePaused)) {
      throw new BlasnetError(ErrorCode.BUSY, `${where}: the model is training in the background (fitAsync); wait for it or abort it first` +
        (whilePaused ? ', or call it from a callback' : ''));
    }
  }

  /**
   * Loss and metrics on (x, y) in inference mode: { loss, accuracy, ... }; the loss includes the
   * layers' L1/L2 penalties, once (README, Semantics). Metrics default to those given to compile. sampleWeight and classWeight, or a Dataset's own sampleWeight, weight
   * the loss as in fit (metrics stay unweighted); fit's validation loss on that Dataset as
   * validationData is the same number.
   */
  evaluate(data: Dataset, options?: EvaluateOptions): Record<string, number>;
  evaluate(x: Input, y: Labels, options?: EvaluateOptions): Record<string, number>;
  evaluate(x: Input | Dataset, y?: Labels | EvaluateOptions, options: EvaluateOptions = {}): Record<string, number> {
    if (!this.loss) throw new BlasnetError(ErrorCode.STATE, 'evaluate: no loss; call compile() or setLoss() first');
    if (x instanceof Dataset) datasetCall('evaluate', arguments.length);
    const opts = optionsArg('evaluate', x instanceof Dataset ? (y as EvaluateOptions | undefined) : options, EVALUATE_OPTIONS);
    const bs = opts.batchSize ?? 256;
    if (!Number.isInteger(bs) || bs < 1) throw rangeError(ErrorCode.ARG_RANGE, `evaluate: Expected positive integer for batchSize but received ${show(bs)}`);
    if (opts.metrics !== undefined && !Array.isArray(opts.metrics)) throw typeError(ErrorCode.ARG_TYPE, 'evaluate: Expected an array for metrics');
    if (opts.metrics !== undefined) checkMetricNames('evaluate', opts.metrics.map(createMetric));
    // A Dataset lends its columns to a model without any only if the evaluation succeeds.
    const columns = this.inputColumns;
    try {
      const data = x instanceof Dataset ? prepareDataset(this, x, opts, 'evaluate') : prepareWeighted(this, x, y as Labels, opts, 'evaluate');
      return evaluateModel(this, data, opts.metrics ?? this.compiled?.metrics ?? [], bs);
    } catch (e) {
      undoColumns(this, columns);
      throw e;
    }
  }

  /** The architecture as plain data: enough, with the weights, to rebuild the model. */
  config(): ModelConfig {
    const loss = this.loss && this.loss.spec ? { ...this.loss.spec } : null;
    return { inputSize: this.inputSize, seed: this.seed, layers: this.layers.map((l) => l.config()), loss };
  }

  /** The loss set at construction or by setLoss, if any. */
  get lossSpec(): ResolvedLoss | null {
    return this.loss;
  }

  /** A table of the layers, their output shapes and parameter counts. */
  summary(): string {
    const rows: string[][] = [['#', 'layer', 'output', 'params']];
    this.layers.forEach((l, i) => {
      const n = this.views.filter((v) => v.layer === i).reduce((s, v) => s + v.data.length, 0);
      const act = l.activationName();
      const what = `${l.name ?? l.kind}${l.kind === 'dense' ? `(${l.outSize}${act && act !== 'identity' ? `, ${act}` : ''})` : act && l.kind === 'activation' ? `(${act})` : ''}`;
      rows.push([String(i), what, `[batch, ${l.outSize}]`, String(n)]);
    });
    const widths = rows[0].map((_, c) => largest(rows.map((r) => r[c].length)));
    const line = (r: string[]) => r.map((s, c) => (c === 3 ? s.padStart(widths[c]) : s.padEnd(widths[c]))).join('  ');
    return [
      `Sequential: input ${this.inputSize}, output ${this.outputSize}, backend ${this.backend.name}`,
      line(rows[0]),
      ...rows.slice(1).map(line),
      `total parameters: ${this.parameterCount}`,
    ].join('\n');
  }

  /**
   * Per-layer statistics of the last forward and backward pass: activation mean and std, the
   * fraction of saturated (sigmoid, tanh) or dead (relu family) units, gradient and weight norms,
   * and, given the parameters before an update, the update-to-weight ratio.
   */
  diagnostics(options: { previousParams?: Float32Array } = {}): LayerDiagnostics[] {
    const previous = optionsArg('diagnostics', options, { previousParams: true }).previousParams;
    if (previous !== undefined && (typedArrayTag(previous) !== 'Float32Array' || typedLength(previous) !== this.params.length)) {
      throw typeError(ErrorCode.ARG_TYPE, `diagnostics: Expected a Float32Array of ${this.params.length} values (a copy of params) for previousParams but received ${typeName(previous)}` +
        (typedArrayTag(previous) === 'Float32Array' ? ` of ${typedLength(previous)}` : ''));
    }
    if (this.lastBatch < 0) throw new BlasnetError(ErrorCode.STATE, 'diagnostics: call forward first');
    return collectDiagnostics(this, this.lastBatch, previous);
  }

  /** The output of layer i in the last pass (a workspace view of batch rows). @internal */
  layerOutput(i: number): Float32Array {
    const next = i + 1 < this.layers.length ? this.inputs[i + 1] : this.outputView?.data;
    return (next as Float32Array).subarray(0, this.lastBatch * this.layers[i].outSize);
  }

  /**
   * Sizes the workspace for passes of up to `batch` rows (it only grows). With `mapNow` (a
   * training loop about to use all of it), the workspace's pages are also mapped now, in one call
   * per array, rather than by a page fault each in the first step (see prefault). @internal
   */
  reserve(batch: number, mapNow = false): void {
    if (batch > this.capacity) {
      this.capacity = batch;
      for (const l of this.layers) l.reserve(batch);
      this.lossGrad = alignedFloat32Array(batch * this.outputSize);
    }
    if (mapNow) {
      this.layers.forEach((l, i) => l.prefaultWorkspaces(i > 0));
      // Once per array: a later fit of the same model finds it mapped already.
      if (this.mappedCapacity !== this.capacity) prefault(this.lossGrad);
      this.mappedCapacity = this.capacity;
    }
  }

  /** Checks an input; leaves its data in inputData and returns its row count (no allocation for a Matrix or Float32Array). */
  private checkInput(x: Input, where: string): number {
    const r = readRows(x, this.spec, where, this.inputRows);
    this.inputData = r.data;
    return r.rows;
  }

  /** The target's values for `rows` rows of this model's output, checked before any pass runs. */
  private toTarget(target: Target, loss: ResolvedLoss, rows: number, where: string): Float32Array | Int32Array {
    const t = this.targetData(target, loss, rows, where);
    checkTargets(this.backend, loss, rows, this.outputSize, t, where);
    return t;
  }

  private targetData(target: Target, loss: ResolvedLoss, rows: number, where: string): Float32Array | Int32Array {
    const def = loss.custom ? null : LOSSES[loss.name as keyof typeof LOSSES] ?? null;
    const cols = def?.targets.half ? this.outputSize / 2 : this.outputSize;
    // Labels under a loss of targets (and targets under one of labels) are refused here, before
    // any pass: the loss kernel would refuse them only after the forward pass had moved
    // BatchNorm's statistics and drawn dropout masks, and with its own argument's name.
    const labels = typedArrayTag(target) === 'Int32Array';
    if (def && labels && !def.targets.labels) {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: ${loss.name} takes targets, not class labels; pass a Float32Array or Matrix (oneHot() makes one)`);
    }
    if (def && !labels && !def.targets.dense && !def.targets.half) {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: ${loss.name} takes class labels; pass an Int32Array`);
    }
    if (target instanceof Matrix) {
      if (target.rows !== rows || target.cols !== cols) {
        throw rangeError(ErrorCode.SHAPE, `${where}: Expected target of shape [${rows}, ${cols}] but received [${target.rows}, ${target.cols}]`);
      }
      return target.data;
    }
    const tag = typedArrayTag(target);
    if (tag === 'Int32Array') {
      if (typedLength(target) !== rows) {
        throw rangeError(ErrorCode.SHAPE, `${where}: Expected ${rows} labels but received ${typedLength(target)}`);
      }
      return target as Int32Array;
    }
    if (tag === 'Float32Array') {
      if (typedLength(target) !== rows * cols) {
        // One value per row under a loss of labels: fit reads those as labels, the kernel calls take them as an Int32Array.
        const hint = def?.targets.labels && typedLength(target) === rows ? '; class labels go in an Int32Array here (Int32Array.from(y))' : '';
        throw rangeError(ErrorCode.SHAPE, `${where}: Expected ${rows * cols} target values ([${rows}, ${cols}]) but received ${typedLength(target)}${hint}`);
      }
      return target as Float32Array;
    }
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a Matrix, Float32Array or Int32Array of labels for target`);
  }
}
