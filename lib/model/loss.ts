import { checkOptionKeys, hasOwn, show } from '../describe';
import { ErrorCode, rangeError, typeError } from '../errors';
import { typedArrayTag } from '../typed';
import { LOSS_NAMES, LOSSES, lossId } from '../losses';
import type { LossDef, LossName } from '../losses';
import type { Backend } from '../backend/types';
import { firstLabelOutside } from '../math';
import { held, Matrix } from '../tensor';
import { checkFinite, refuseDetached } from '../data/check';

/** Labels up to this many are checked in JavaScript, more by the backend's kernel. */
const LABEL_LOOP_ROWS = 4096;

/**
 * A loss of one's own: the mean loss of pred [rows, cols] against target, writing
 * d(loss)/d(pred) into grad unless grad is null.
 */
export interface CustomLoss {
  /** Shown in summaries and errors. */
  readonly name: string;
  /** The mean loss; writes d(loss)/d(pred) into grad unless grad is null. */
  compute(rows: number, cols: number, pred: Float32Array, target: Float32Array | Int32Array, grad: Float32Array | null): number;
}

/**
 * Loss names: the kernel table's, and 'halfMse', the lecture notes' squared error with its 1/2
 * (half of mse: gradient p - t instead of 2 (p - t)).
 */
export type LossSpecName = LossName | 'halfMse';

/**
 * How a built-in loss reduces over the batch: 'mean' (default, PyTorch's reduction='mean': over
 * rows for crossEntropy and multiMargin, over every element otherwise) or 'sum' (the same terms
 * added up, PyTorch's reduction='sum'; the gradient scales alike).
 */
export type Reduction = 'mean' | 'sum';

/** A built-in loss as plain data: its name, parameter and reduction (saved in model files). */
export interface BuiltInLossSpec {
  name: LossSpecName;
  /**
   * The parameter of huber (delta), multiMargin (margin) and gaussianNll (eps), default the
   * table's; the other losses take none: a param other than 0 on them is ERR_BLASNET_ARG_RANGE.
   */
  param?: number;
  reduction?: Reduction;
}

/** A loss by table name, by name with its parameter and reduction, or a CustomLoss. */
export type LossSpec = LossSpecName | BuiltInLossSpec | CustomLoss;

/** A loss ready to run: a table kernel (id and parameter) or a custom one. */
export interface ResolvedLoss {
  /** The kernel's name ('mse' for halfMse), or the custom loss's. */
  readonly name: string;
  readonly id: number;
  readonly param: number;
  readonly custom: CustomLoss | null;
  /** The kernel's mean is multiplied by this (0.5 for halfMse). */
  readonly scale: number;
  readonly reduction: Reduction;
  /** The built-in spec as given, as plain data; null for a custom loss. */
  readonly spec: { name: LossSpecName; param: number; reduction: Reduction } | null;
}

/**
 * Resolves a LossSpec, with a coded error for an unknown name or a bad parameter or reduction.
 * A param on a loss that takes none (all but huber, multiMargin and gaussianNll) is RangeError
 * ERR_BLASNET_ARG_RANGE rather than ignored (crossEntropy's would read as PyTorch's
 * label_smoothing, which it does not implement); 0, which model files record for these losses, is
 * accepted.
 */
export function resolveLoss(spec: LossSpec): ResolvedLoss {
  if (spec && typeof spec === 'object' && typeof (spec as CustomLoss).compute === 'function') {
    return { name: (spec as CustomLoss).name, id: -1, param: 0, custom: spec as CustomLoss, scale: 1, reduction: 'mean', spec: null };
  }
  let given: { name: string; param?: unknown; reduction?: unknown };
  if (typeof spec === 'string') given = { name: spec };
  else if (spec && typeof spec === 'object' && typeof (spec as { name?: unknown }).name === 'string') given = spec as BuiltInLossSpec;
  else {
    throw typeError(ErrorCode.ARG_TYPE,
      `loss: Expected a loss name (${[...LOSS_NAMES, 'halfMse'].join(', ')}), { name, param, reduction } or an object with compute()`);
  }
  if (typeof spec === 'object') checkOptionKeys('loss', given, { name: true, param: true, reduction: true });
  const half = given.name === 'halfMse';
  const name = (half ? 'mse' : given.name) as LossName;
  const id = half ? lossId('mse') : tableIdOf(given.name);
  const { param, reduction = 'mean' } = given;
  if (param !== undefined && (typeof param !== 'number' || !Number.isFinite(param))) {
    throw rangeError(ErrorCode.ARG_RANGE, `loss: Expected finite number for param but received ${show(param)}`);
  }
  if (param !== undefined && param !== 0 && !takesParam(name)) {
    const smoothing = name === 'crossEntropy' ? '; label smoothing (PyTorch\'s label_smoothing) is not implemented' : '';
    throw rangeError(ErrorCode.ARG_RANGE, `loss: ${given.name} takes no param but received ${show(param)}${smoothing}; ` +
      `the losses that take one are ${PARAM_LOSSES}`);
  }
  if (reduction !== 'mean' && reduction !== 'sum') {
    throw rangeError(ErrorCode.ARG_RANGE, `loss: Expected 'mean' or 'sum' for reduction but received ${show(reduction)}`);
  }
  const p = (param as number | undefined) ?? LOSSES[name].param;
  return { name, id, param: p, custom: null, scale: half ? 0.5 : 1, reduction, spec: { name: given.name as LossSpecName, param: p, reduction } };
}

function takesParam(name: LossName): boolean {
  return (LOSSES[name] as LossDef).paramName !== undefined;
}

/** The losses that take a param, with its meaning: "huber (delta), ...". */
const PARAM_LOSSES = LOSS_NAMES.filter(takesParam).map((n) => `${n} (${(LOSSES[n] as LossDef).paramName})`).join(', ');

/**
 * A loss spec read from a model file, as this version takes it: a param other than 0 on a loss
 * that takes none, which files written before resolveLoss refused it may record (compile took it
 * and training ignored it), is dropped with a process warning (code BLASNET_LOSS_PARAM_DROPPED)
 * naming `source`. Everything else is returned as it is, for resolveLoss to check.
 */
export function savedLossSpec(spec: unknown, source: string): unknown {
  if (!spec || typeof spec !== 'object') return spec;
  const { name, param } = spec as { name?: unknown; param?: unknown };
  const table = name === 'halfMse' ? 'mse' : name;
  if (typeof table !== 'string' || !hasOwn(LOSSES, table) || takesParam(table as LossName)) return spec;
  if (typeof param !== 'number' || !Number.isFinite(param) || param === 0) return spec;
  process.emitWarning(`${source}: loss ${name} takes no param; the file's param ${param} had no effect in training and is dropped`,
    { code: 'BLASNET_LOSS_PARAM_DROPPED' });
  return { ...spec, param: 0 };
}

function tableIdOf(name: string): number {
  try {
    return lossId(name as LossName);
  } catch (e) {
    (e as Error).message = `Unknown loss ${JSON.stringify(name)}; expected one of ${[...LOSS_NAMES, 'halfMse'].join(', ')}`;
    throw e;
  }
}

/**
 * What a built-in loss's value is multiplied by on top of its kernel's mean: its scale, times
 * the count the mean divides by when it reduces by 'sum' (rows for crossEntropy and multiMargin,
 * rows * cols / 2 for gaussianNll, rows * cols otherwise). 1 for a custom loss.
 */
export function lossFactor(loss: ResolvedLoss, rows: number, cols: number): number {
  if (loss.custom) return 1;
  if (loss.reduction === 'mean') return loss.scale;
  const def = LOSSES[loss.name as LossName];
  const count = def.targets.half ? rows * (cols / 2) : loss.name === 'crossEntropy' || loss.name === 'multiMargin' ? rows : rows * cols;
  return loss.scale * count;
}

/**
 * The output activation a built-in loss absorbs: crossEntropy after softmax, binaryCrossEntropy
 * after sigmoid. The pair is computed on the logits, with delta = prediction - target.
 */
export function fusedActivation(loss: ResolvedLoss): 'softmax' | 'sigmoid' | null {
  if (loss.custom) return null;
  if (loss.name === 'crossEntropy') return 'softmax';
  if (loss.name === 'binaryCrossEntropy') return 'sigmoid';
  return null;
}

/**
 * Warns (BLASNET_ACTIVATION_BEFORE_NOISE) when the activation a built-in loss absorbs comes before
 * dropout or Gaussian noise at the end of the model, [dense(k, { activation: 'softmax' }),
 * dropout(p)] under crossEntropy: the loss reads the last layer's output as logits, so the softmax
 * is applied twice (in training, in evaluate's loss and in predictProba), as in PyTorch with
 * Softmax then Dropout before CrossEntropyLoss.
 */
export function warnActivationBeforeNoise(layers: readonly { kind: string; outputActivation(): string | null }[], loss: ResolvedLoss): void {
  const fused = fusedActivation(loss);
  if (fused === null || layers.length === 0) return;
  let i = layers.length - 1;
  while (i >= 0 && (layers[i].kind === 'dropout' || layers[i].kind === 'gaussianNoise')) i--;
  if (i < 0 || i === layers.length - 1 || layers[i].outputActivation() !== fused) return;
  process.emitWarning(`layer ${i} applies ${fused}, but ${layers[i + 1].kind} comes after it, and ${loss.name} reads the last layer's ` +
    `output as logits: ${fused} would be applied twice. Put the ${layers[i + 1].kind} before the layer with the ${fused}, or make that layer linear`,
  { code: 'BLASNET_ACTIVATION_BEFORE_NOISE' });
}

/**
 * Checks what a built-in loss kernel would reject, before any pass runs, so that a bad call
 * changes nothing (a training forward pass moves BatchNorm's running statistics and draws
 * dropout masks): the parameter's domain, labels in [0, cols), hinge targets of -1 or +1.
 * Custom losses check their own inputs.
 */
export function checkTargets(backend: Backend, loss: ResolvedLoss, rows: number, cols: number, target: Float32Array | Int32Array, where: string): void {
  if (loss.custom) return;
  if ((loss.name === 'huber' || loss.name === 'gaussianNll') && !(loss.param > 0)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected param > 0 for ${loss.name} but received ${loss.param}`);
  }
  if (typedArrayTag(target) === 'Int32Array') {
    // A batch's labels in a loop of its own; a whole data set's through the backend's kernel
    // (a fresh process runs a long loop interpreted: 60,000 labels took about 1 ms).
    const labels = target as Int32Array;
    const i = rows <= LABEL_LOOP_ROWS ? firstLabelOutside(labels, rows, cols) : backend.firstLabelOutside(rows, labels, cols);
    if (i >= 0) throw rangeError(ErrorCode.LABEL, `${where}: target[${i}] = ${target[i]} is outside [0, ${cols})`);
  } else {
    const rule = targetRule(loss);
    const i = rule ? rule.firstBad(target as Float32Array, rows * cols) : -1;
    if (i >= 0) throw rangeError(ErrorCode.TARGET, `${where}: ${rule?.says}; target[${i}] is ${target[i]}`);
  }
}

/** What a built-in loss holds its float targets to, beyond being finite. */
interface TargetRule {
  /** The index of the first of target[0..n) that breaks the rule, or -1. */
  firstBad(target: Float32Array, n: number): number;
  /** The rule, for messages. */
  says: string;
}

const TARGET_RULES: Partial<Record<string, TargetRule>> = {
  hinge: {
    firstBad(target, n) {
      for (let i = 0; i < n; i++) if (target[i] !== 1 && target[i] !== -1) return i;
      return -1;
    },
    says: 'hinge targets must be -1 or +1',
  },
  // Probabilities, the domain PyTorch's BCEWithLogitsLoss and CrossEntropyLoss document for their
  // targets: below 0 (and for binaryCrossEntropy above 1) the loss has no lower bound, and
  // training drives it to minus infinity.
  binaryCrossEntropy: { firstBad: firstOutsideUnit, says: 'binaryCrossEntropy targets are probabilities in [0, 1] (labels 0 and 1 for classes)' },
  crossEntropy: { firstBad: firstOutsideUnit, says: 'crossEntropy target rows are probabilities in [0, 1] (oneHot() makes them from labels)' },
};

function firstOutsideUnit(target: Float32Array, n: number): number {
  for (let i = 0; i < n; i++) if (!(target[i] >= 0 && target[i] <= 1)) return i;
  return -1;
}

/** The rule `loss`'s float targets are checked against, or null (custom losses check their own). */
export function targetRule(loss: ResolvedLoss): TargetRule | null {
  return loss.custom ? null : TARGET_RULES[loss.name] ?? null;
}

/** What y may be, read as a loss reads it (readTargets): labels, targets, or rows of numbers. */
export type TargetInput = Matrix | Float32Array | Int32Array | ArrayLike<number> | ArrayLike<ArrayLike<number>>;

/** The model readTargets reads y for: its outputs and the backend that scans the values. */
export interface TargetReader {
  readonly outputSize: number;
  readonly backend: Backend;
}

/** A y of another row count than x: ERR_BLASNET_SHAPE, as fit and the checks say it. */
export function rowCountError(where: string, yRows: number, rows: number, detail: string, hint = ''): RangeError {
  return rangeError(ErrorCode.SHAPE,
    `${where}: y has ${yRows} row${yRows === 1 ? '' : 's'}${detail} but x has ${rows}; give one target row per row of x${hint}`);
}

/**
 * y as the loss reads it, for `rows` rows of x: class labels (an Int32Array, or integers in an
 * array under a loss that takes labels; each in [0, outputs)) or targets (a Float32Array, a
 * Matrix or rows of numbers; rows x the loss's target width, finite, hinge's -1 or +1), with the
 * errors fit gives. `loss` null (none set, or a custom one) takes either.
 */
export function readTargets(model: TargetReader, loss: ResolvedLoss | null, y: TargetInput, rows: number, where: string): Int32Array | Float32Array {
  // Before any work: a loaded model's loss its outputs cannot serve (see asLoaded).
  if (loss) refuseLossOutputs(where, loss, model.outputSize);
  const def = loss && !loss.custom ? LOSSES[loss.name as LossName] : null;
  const wantsLabels = !!def && def.targets.labels;
  const cols = def && def.targets.half ? model.outputSize / 2 : model.outputSize;
  let t: Int32Array | Float32Array;
  if (Array.isArray(y) && y.length > 0 && typeof y[0] === 'object' && y[0] !== null) {
    y = Matrix.from(y as ArrayLike<ArrayLike<number>>);
  }
  if (y instanceof Matrix) {
    if (y.rows !== rows) throw rowCountError(where, y.rows, rows, '');
    if (y.cols !== cols) throw rangeError(ErrorCode.SHAPE, `${where}: Expected targets of shape [${rows}, ${cols}] but received [${y.rows}, ${y.cols}]`);
    held(where, 'y', y);
    t = y.data.subarray(0, y.rows * y.cols);
  } else if (typedArrayTag(y) === 'Int32Array') {
    t = y as Int32Array;
  } else if (typedArrayTag(y) === 'Float32Array') {
    // One value per row under a loss of class labels, whose targets would be wider: labels (as a
    // number[]'s are), such as readCsv's numeric label column.
    t = wantsLabels && cols > 1 && (y as Float32Array).length === rows ? integerLabels(model, y as Float32Array, where) : y as Float32Array;
  } else if (y !== null && typeof y === 'object' && typeof (y as ArrayLike<number>).length === 'number') {
    const arr = y as ArrayLike<number>;
    if (wantsLabels && (arr.length === rows || arr.length !== rows * cols)) {
      t = integerLabels(model, arr, where);
    } else {
      for (let i = 0; i < arr.length; i++) {
        if (typeof arr[i] !== 'number') throw typeError(ErrorCode.ARG_TYPE, `${where}: y[${i}] is ${typeof arr[i]}, not a number`);
      }
      t = Float32Array.from(arr);
    }
  } else {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected labels (Int32Array or number[]) or targets (Matrix or Float32Array) for y`);
  }
  if (t.length !== rows * cols && t.length !== rows) refuseDetached(where, 'y', t);
  if (typedArrayTag(t) === 'Int32Array') {
    if (t.length !== rows) throw rowCountError(where, t.length, rows, ` (one label each)`);
    if (def && !def.targets.labels) throw typeError(ErrorCode.ARG_TYPE, `${where}: ${loss?.name} takes targets, not class labels; pass a Float32Array or Matrix (oneHot() makes one)`);
    const labels = t as Int32Array, k = model.outputSize;
    const i = model.backend.firstLabelOutside(labels.length, labels, k);
    if (i >= 0) {
      // One past the last class, and no label 0: most likely labels numbered from 1.
      const hint = labels[i] === k && !labels.includes(0) ? `; labels count from 0, so ${k} classes are 0 to ${k - 1}` : '';
      throw rangeError(ErrorCode.LABEL, `${where}: the label of row ${i + 1} is ${labels[i]}, outside [0, ${k}) (the model has ${k} outputs)${hint}`);
    }
  } else {
    if (def && !def.targets.dense && !def.targets.half) {
      throw typeError(ErrorCode.ARG_TYPE, `${where}: ${loss?.name} takes class labels, one per row (an Int32Array or number[]), not target rows`);
    }
    if (t.length !== rows * cols) {
      // Labels in a Float32Array of another length than x's rows: say where labels go.
      const labelsHint = wantsLabels ? '; class labels go in an Int32Array or number[], one per row' : '';
      if (cols > 0 && t.length % cols === 0) throw rowCountError(where, t.length / cols, rows, (cols === 1 ? '' : ` of ${cols} targets`), labelsHint);
      throw rangeError(ErrorCode.SHAPE, `${where}: Expected ${rows * cols} target values ([${rows}, ${cols}]) but received ${t.length}${labelsHint}`);
    }
    checkFinite(model.backend, where, 'y', t as Float32Array, t.length, 0, cols);
    // The loss checks each batch's targets too, but only as that batch trains: a bad one among
    // the last rows would fail after the steps before it had changed the weights.
    const rule = loss ? targetRule(loss) : null;
    const i = rule ? rule.firstBad(t as Float32Array, t.length) : -1;
    if (i >= 0) {
      const at = cols === 1 ? `row ${i + 1}` : `row ${Math.floor(i / cols) + 1}, column ${(i % cols) + 1}`;
      throw rangeError(ErrorCode.TARGET, `${where}: the ${loss?.name} target of ${at} is ${t[i]}; ${(rule as TargetRule).says}`);
    }
  }
  return t;
}

/** Integer class labels from plain numbers (readTargets): an integer each, inside 32 bits (the range check follows). */
function integerLabels(model: TargetReader, arr: ArrayLike<number>, where: string): Int32Array {
  const t = new Int32Array(arr.length);
  for (let i = 0; i < arr.length; i++) {
    if (!Number.isInteger(arr[i])) throw rangeError(ErrorCode.LABEL, `${where}: the label of row ${i + 1} is ${show(arr[i])}, not an integer class`);
    // Past 32 bits an Int32Array would wrap it into a class (2^32 + 1 to 1).
    if (arr[i] !== (arr[i] | 0)) {
      throw rangeError(ErrorCode.LABEL, `${where}: the label of row ${i + 1} is ${show(arr[i])}, outside [0, ${model.outputSize}) (the model has ${model.outputSize} outputs)`);
    }
    t[i] = arr[i];
  }
  return t;
}

/** Nonzero while a loaded model is compiled with its file's settings (asLoaded). */
let loading = 0;

/**
 * Runs `compile`, a loaded model's compile with its file's settings, without the rule that is
 * for a loss being chosen (crossEntropy over one output): a file written before the rule, or by
 * a tool of one's own, still loads, and the rule stops that model where its loss is used.
 * @internal
 */
export function asLoaded<T>(compile: () => T): T {
  loading++;
  try {
    return compile();
  } finally {
    loading--;
  }
}

/**
 * A loss the model's outputs cannot serve, ERR_BLASNET_SHAPE:
 * - one whose targets are half the outputs (gaussianNll: means, then variances) on an odd number
 *   of outputs, rather than a target shape no one can give;
 * - crossEntropy or multiMargin over one output, where the loss is 0 whatever the weights (a
 *   softmax of one value is 1; no other class has a margin), so training would learn nothing.
 *   Refused where a loss is set or used, not where a model is built (`built`) or loaded (asLoaded).
 */
export function refuseLossOutputs(where: string, loss: ResolvedLoss, outputs: number, o: { built?: boolean } = {}): void {
  if (loss.custom) return;
  if (LOSSES[loss.name as LossName]?.targets.half && outputs % 2 !== 0) {
    throw rangeError(ErrorCode.SHAPE, `${where}: ${loss.name} reads each output row as means then variances, so it needs an even number of outputs, but the model has ${outputs}`);
  }
  if (!o.built && loading === 0 && (loss.name === 'crossEntropy' || loss.name === 'multiMargin') && outputs === 1) {
    throw rangeError(ErrorCode.SHAPE, `${where}: ${loss.name} needs one output per class, 2 or more, but the model has 1, where the loss is 0 whatever ` +
      'the weights; for two classes use one output with binaryCrossEntropy, or two outputs');
  }
}

/**
 * A class metric (accuracy, binaryAccuracy, topKAccuracy) under a loss whose targets are half the
 * outputs (gaussianNll's means and variances): ERR_BLASNET_ARG_RANGE, as such a metric would read
 * past the targets (garbage, not a score).
 */
export function refuseClassMetrics(where: string, loss: ResolvedLoss | null, metrics: readonly unknown[]): void {
  if (!loss || loss.custom || !LOSSES[loss.name as LossName]?.targets.half) return;
  const named = (m: unknown) => (typeof m === 'string' ? m : m !== null && typeof m === 'object' ? (m as { name?: unknown }).name : undefined);
  const classMetric = metrics.find((m) => {
    const n = named(m);
    return n === 'accuracy' || n === 'binaryAccuracy' || n === 'topKAccuracy' || (typeof n === 'string' && /^top\d+Accuracy$/.test(n));
  });
  if (classMetric !== undefined) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: ${show(named(classMetric))} scores classes, and ${loss.name}'s outputs are means and variances; use 'mse' or 'mae'`);
  }
}
