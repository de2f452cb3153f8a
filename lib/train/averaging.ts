/**
 * Weight averaging during training, as torch.optim.swa_utils: an exponential moving average of
 * the weights (EMA) or stochastic weight averaging (SWA, an equal-weight average of the weights at
 * epoch ends from a start epoch), and BatchNorm statistics recomputed for the averaged weights
 * (update_bn).
 */
import { optionsArg, show, typeName } from '../describe';
import { ErrorCode, rangeError, typeError } from '../errors';
import type { Input } from '../data/input';
import { BatchIterator } from '../data/batches';
import { checkFinite } from '../data/check';
import { BatchNorm } from '../layers/batchnorm';
import { Sequential } from '../model/sequential';
import { Matrix } from '../tensor';

/** EMA of the weights: avg = decay avg + (1 - decay) w after every step (the first step copies). */
export interface EmaOptions {
  /** In (0, 1); typical 0.99 to 0.9999. */
  decay: number;
}

/** SWA: the average of the weights at the end of every epoch from `startEpoch` (0-based) on. */
export interface SwaOptions {
  /** The first epoch (0-based) whose end weights enter the average. */
  startEpoch: number;
  /** A constant learning rate from startEpoch on (SWALR without annealing); default: the schedule's. */
  lr?: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * An unknown key is refused, as fit refuses an unknown option and a schedule or optimiser spec an
 * unknown option: a misspelt one would otherwise be ignored (and fitAsync could not send a
 * function to its worker).
 */
function onlyKeys(where: string, option: string, v: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(v)) {
    if (v[key] !== undefined && !known.includes(key)) {
      throw rangeError(ErrorCode.ARG_RANGE, `${where}: Unknown option ${show(key)} in ${option}; expected ${known.join(', ')}`);
    }
  }
}

/** Checks fit's `ema` option. */
export function checkEma(where: string, v: unknown): EmaOptions | null {
  if (v === undefined) return null;
  if (!isObject(v)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected { decay } for ema`);
  onlyKeys(where, 'ema', v, ['decay']);
  const d = v.decay;
  if (!(typeof d === 'number' && d > 0 && d < 1)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected ema.decay in (0, 1) but received ${show(d)}`);
  return { decay: d };
}

/** Checks fit's `swa` option. */
export function checkSwa(where: string, v: unknown): SwaOptions | null {
  if (v === undefined) return null;
  if (!isObject(v)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected { startEpoch, lr? } for swa`);
  onlyKeys(where, 'swa', v, ['startEpoch', 'lr']);
  const s = v.startEpoch, lr = v.lr;
  if (!(typeof s === 'number' && Number.isInteger(s) && s >= 0)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected non-negative integer for swa.startEpoch but received ${show(s)}`);
  }
  if (lr !== undefined && !(typeof lr === 'number' && lr > 0 && Number.isFinite(lr))) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive number for swa.lr but received ${show(lr)}`);
  }
  return { startEpoch: s, ...(lr !== undefined ? { lr: lr as number } : {}) };
}

/** A running average of a model's parameter arena, kept in one extra arena. */
export class WeightAverage {
  private readonly avg: Float32Array;
  /** How many weight sets have entered the average. */
  count = 0;

  constructor(private readonly model: Sequential, private readonly ema: EmaOptions | null) {
    this.avg = new Float32Array(model.params.length);
  }

  /** Adds the model's current weights: an EMA step, or the next term of an equal-weight mean. */
  update(): void {
    const b = this.model.backend, n = this.avg.length, w = this.model.params;
    if (this.count === 0) {
      this.avg.set(w);
    } else if (this.ema) {
      b.scale(n, this.ema.decay, this.avg);
      b.axpy(n, 1 - this.ema.decay, w, this.avg);
    } else {
      // avg += (w - avg) / (count + 1), as AveragedModel's default average.
      const f = 1 / (this.count + 1);
      b.scale(n, 1 - f, this.avg);
      b.axpy(n, f, w, this.avg);
    }
    this.count++;
  }

  /** Puts the averaged weights into the model (nothing if none were added). */
  apply(): boolean {
    if (this.count === 0) return false;
    this.model.params.set(this.avg);
    return true;
  }
}

/**
 * Recomputes every BatchNorm layer's running statistics for the model's current weights with one
 * pass over x in training mode, as torch.optim.swa_utils.update_bn: the statistics start at mean 0,
 * variance 1 and become the cumulative average over the batches (momentum 1 / (k + 1) for batch k).
 * x is raw rows as fit and predict take them (a Matrix, a Float32Array of whole rows, arrays or
 * records), through the model's own preprocessing, as update_bn runs the data through the whole
 * model. The model's dropout stream is left as it was. Does nothing for a model without BatchNorm.
 */
export function updateBatchNorm(model: Sequential, x: Input, options: { batchSize?: number } = {}): void {
  const where = 'updateBatchNorm';
  if (!(model instanceof Sequential)) throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected Sequential for model but received ${typeName(model)}`);
  options = optionsArg(where, options, { batchSize: true });
  // Before anything is written: the statistics are the training worker's while fitAsync runs.
  model.notBusy(where);
  if (!model.layers.some((l) => l instanceof BatchNorm)) return;
  updateBatchNormOnRows(model, model.inputMatrix(x, where), options, where);
}

/** updateBatchNorm on rows the layers take as they are (fit's, its preprocessing applied). @internal */
export function updateBatchNormOnRows(model: Sequential, m: Matrix, options: { batchSize?: number }, where = 'updateBatchNorm'): void {
  const bns = model.layers.filter((l): l is BatchNorm => l instanceof BatchNorm);
  if (bns.length === 0) return;
  const cols = model.inputSize;
  if (m.cols !== cols) throw rangeError(ErrorCode.SHAPE, `${where}: Expected ${cols} features per row but received ${m.cols}`);
  const batchSize = options.batchSize ?? 256;
  if (!(Number.isInteger(batchSize) && batchSize >= 2)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected integer >= 2 for batchSize but received ${show(batchSize)}`);
  // Everything is checked before the statistics are reset: a refused call leaves them as they were.
  if (m.rows < 2) throw rangeError(ErrorCode.SHAPE, `${where}: Expected at least 2 rows (batch statistics need 2) but received ${m.rows}`);
  checkFinite(model.backend, where, 'x', m.data, m.rows * cols, 0, cols);
  const masks = model.maskState();
  const kept = bns.map((bn) => [bn.runningMean.slice(), bn.runningVar.slice()]);
  for (const bn of bns) {
    bn.runningMean.fill(0);
    bn.runningVar.fill(1);
  }
  // A last batch of one row has no variance; it is left out.
  const it = new BatchIterator(m, null, { batchSize, shuffle: false, backend: model.backend, dropLast: m.rows % batchSize === 1 });
  let k = 0;
  let done = false;
  try {
    for (const b of it.epoch()) {
      for (const bn of bns) bn.momentumOverride = 1 / (k + 1);
      model.forward(b.x, { training: true });
      k++;
    }
    done = true;
  } finally {
    if (!done) {
      bns.forEach((bn, i) => {
        bn.runningMean.set(kept[i][0]);
        bn.runningVar.set(kept[i][1]);
      });
    }
    for (const bn of bns) bn.momentumOverride = null;
    model.setMaskState(masks);
  }
}
