import { ErrorCode, rangeError } from './errors';
import { sigmoid } from './math';
import { isInt32Array } from './typed';
import { tableId } from './describe';

/** Float arrays the reference loss code accepts (Float64Array for gradient checks). */
export type FloatArray = Float32Array | Float64Array;

/** Which targets a loss takes: a dense [rows, cols] array, integer labels, or [rows, cols/2]. */
export interface LossTargets {
  readonly dense: boolean;
  readonly labels: boolean;
  readonly half: boolean;
}

/** One loss: mean value and its gradient with respect to the prediction. */
export interface LossDef {
  readonly doc: string;
  readonly param: number;
  readonly paramName?: string;
  readonly targets: LossTargets;
  /**
   * Mean loss of pred [rows, cols] against target; writes d(loss)/d(pred) into grad if given.
   * With `weight` (one non-negative factor per row), each row's term and gradient are scaled by
   * its factor and the normaliser is unchanged (Keras's sample_weight; see README, Semantics).
   * Throws a coded RangeError for a bad parameter, label or target value.
   */
  compute(
    param: number,
    rows: number,
    cols: number,
    pred: FloatArray,
    target: FloatArray | Int32Array,
    grad: FloatArray | null,
    weight?: FloatArray | null,
  ): number;
}

const DENSE: LossTargets = { dense: true, labels: false, half: false };

interface Pointwise {
  validParam?(p: number): boolean;
  validTarget?(t: number): boolean;
  value(p: number, t: number, param: number): number;
  grad(p: number, t: number, param: number): number;
}

/** Row r's weight: 1 without weights, so that all-ones weights give the unweighted loss exactly. */
function rowWeight(weight: FloatArray | null | undefined, r: number): number {
  return weight ? weight[r] : 1;
}

// Elementwise losses average over every element (PyTorch's reduction='mean').
function pointwise(name: string, op: Pointwise): LossDef['compute'] {
  return (param, rows, cols, pred, target, grad, weight) => {
    if (op.validParam && !op.validParam(param)) {
      throw rangeError(ErrorCode.ARG_RANGE, `loss: Expected param > 0 for ${name} but received ${param}`);
    }
    const n = rows * cols;
    const check = op.validTarget;
    const badTarget = (): Error => rangeError(ErrorCode.TARGET, `loss: ${name} targets must be -1 or +1`);
    // Every target is checked before grad is written, so a bad target leaves grad alone.
    if (check) for (let i = 0; i < n; i++) if (!check(target[i])) throw badTarget();
    if (n === 0) return 0;
    const inv = 1 / n;
    let sum = 0;
    // Checked targets are read once, checked again and used as read: on a SharedArrayBuffer
    // another thread may change them after the check above (the native kernel does the same).
    for (let r = 0; r < rows; r++) {
      const w = rowWeight(weight, r), wi = w * inv, o = r * cols;
      for (let j = 0; j < cols; j++) {
        const t = target[o + j];
        if (check && !check(t)) throw badTarget();
        sum += w * op.value(pred[o + j], t, param);
        if (grad) grad[o + j] = op.grad(pred[o + j], t, param) * wi;
      }
    }
    return sum * inv;
  };
}

// A label in [0, cols), read once. The losses read each label through this both when they check
// every label before writing grad and when they use it: on a SharedArrayBuffer another thread may
// change a label between the two, and the label used indexes pred and grad.
function labelAt(r: number, cols: number, labels: Int32Array): number {
  const y = labels[r];
  if (y < 0 || y >= cols) throw rangeError(ErrorCode.LABEL, `loss: target[${r}] = ${y} is outside [0, ${cols})`);
  return y;
}

function checkLabels(rows: number, cols: number, labels: Int32Array): void {
  for (let r = 0; r < rows; r++) labelAt(r, cols, labels);
}

function logSumExp(x: FloatArray, off: number, cols: number): number {
  let m = -Infinity;
  for (let j = 0; j < cols; j++) m = Math.max(m, x[off + j]);
  let s = 0;
  for (let j = 0; j < cols; j++) s += Math.exp(x[off + j] - m);
  return m + Math.log(s);
}

/**
 * The loss table. Key order is the loss id shared with the native addon (native/losses.cc).
 * Reductions follow PyTorch's 'mean': over every element for elementwise losses, over rows for
 * crossEntropy and multiMargin. An empty batch has loss 0 and a zero-length gradient.
 */
export const LOSSES = {
  mse: {
    doc: 'Mean squared error: mean (p - t)^2 (PyTorch MSELoss)',
    param: 0,
    targets: DENSE,
    compute: pointwise('mse', {
      value: (p, t) => (p - t) * (p - t),
      grad: (p, t) => 2 * (p - t),
    }),
  },
  l1: {
    doc: "Mean absolute error: mean |p - t|; gradient sign(p - t), 0 at p = t and where p - t is NaN (PyTorch L1Loss; torch.sign(nan) is 0)",
    param: 0,
    targets: DENSE,
    compute: pointwise('l1', {
      value: (p, t) => Math.abs(p - t),
      // Not Math.sign, which gives NaN for NaN and -0 for -0: the native kernel's comparisons, as PyTorch's sign.
      grad: (p, t) => (p > t ? 1 : p < t ? -1 : 0),
    }),
  },
  huber: {
    doc: 'Huber: 0.5 d^2 if |d| < delta else delta (|d| - delta/2), d = p - t (PyTorch HuberLoss, delta default 1)',
    param: 1,
    paramName: 'delta',
    targets: DENSE,
    compute: pointwise('huber', {
      validParam: (delta) => delta > 0,
      value: (p, t, delta) => {
        const d = p - t;
        const ad = Math.abs(d);
        return ad < delta ? 0.5 * d * d : delta * (ad - 0.5 * delta);
      },
      grad: (p, t, delta) => {
        const d = p - t;
        return Math.abs(d) < delta ? d : d > 0 ? delta : -delta;
      },
    }),
  },
  binaryCrossEntropy: {
    doc: 'Binary cross-entropy on logits: max(p, 0) - p t + log(1 + e^-|p|); gradient sigmoid(p) - t (PyTorch BCEWithLogitsLoss)',
    param: 0,
    targets: DENSE,
    compute: pointwise('binaryCrossEntropy', {
      value: (p, t) => Math.max(p, 0) - p * t + Math.log1p(Math.exp(-Math.abs(p))),
      grad: (p, t) => sigmoid(p) - t,
    }),
  },
  crossEntropy: {
    doc: 'Softmax cross-entropy on logits: logsumexp(p) - p[y] for Int32Array labels, or -sum t log softmax(p) for a target distribution; mean over rows (PyTorch CrossEntropyLoss)',
    param: 0,
    targets: { dense: true, labels: true, half: false },
    compute(_param, rows, cols, pred, target, grad, weight?) {
      const labels = isInt32Array(target) ? target : null;
      if (labels) checkLabels(rows, cols, labels);
      if (rows === 0 || cols === 0) return 0;
      const inv = 1 / rows;
      let sum = 0;
      for (let r = 0; r < rows; r++) {
        const off = r * cols;
        const lse = logSumExp(pred, off, cols);
        const w = rowWeight(weight, r), wi = w * inv;
        if (labels) {
          const y = labelAt(r, cols, labels);
          sum += w * (lse - pred[off + y]);
          if (grad) {
            for (let j = 0; j < cols; j++) grad[off + j] = Math.exp(pred[off + j] - lse) * wi;
            grad[off + y] -= wi;
          }
        } else {
          let tsum = 0;
          for (let j = 0; j < cols; j++) {
            const t = target[off + j];
            if (t !== 0) sum += w * (t * (lse - pred[off + j]));
            tsum += t;
          }
          if (grad) {
            for (let j = 0; j < cols; j++) {
              grad[off + j] = (Math.exp(pred[off + j] - lse) * tsum - target[off + j]) * wi;
            }
          }
        }
      }
      return sum * inv;
    },
  },
  hinge: {
    doc: 'Hinge: mean max(0, 1 - t p) with targets -1 or +1 (the SVM loss)',
    param: 0,
    targets: DENSE,
    compute: pointwise('hinge', {
      validTarget: (t) => t === 1 || t === -1,
      value: (p, t) => Math.max(0, 1 - t * p),
      grad: (p, t) => (1 - t * p > 0 ? -t : 0),
    }),
  },
  multiMargin: {
    doc: 'Multiclass hinge: sum over j != y of max(0, margin - p[y] + p[j]) / cols, mean over rows; Int32Array labels (PyTorch MultiMarginLoss, margin default 1)',
    param: 1,
    paramName: 'margin',
    targets: { dense: false, labels: true, half: false },
    compute(margin, rows, cols, pred, target, grad, weight?) {
      const labels = target as Int32Array;
      checkLabels(rows, cols, labels);
      if (rows === 0 || cols === 0) return 0;
      const inv = 1 / cols / rows;
      let sum = 0;
      for (let r = 0; r < rows; r++) {
        const off = r * cols;
        const y = labelAt(r, cols, labels);
        const w = rowWeight(weight, r), wi = w * inv;
        let active = 0;
        for (let j = 0; j < cols; j++) {
          if (j === y) continue;
          const v = margin - pred[off + y] + pred[off + j];
          const on = v > 0;
          if (on) {
            sum += w * v;
            active++;
          }
          if (grad) grad[off + j] = on ? wi : 0;
        }
        if (grad) grad[off + y] = -active * wi;
      }
      return sum / cols / rows;
    },
  },
  gaussianNll: {
    doc: 'Gaussian negative log-likelihood: pred rows are [mean (d) | variance (d)], target [rows, d]; 0.5 (log v + (mu - t)^2 / v) with v = max(var, eps), mean over rows*d; below eps the gradient is taken at v = eps, so it still pushes the variance up (PyTorch GaussianNLLLoss, eps default 1e-6)',
    param: 1e-6,
    paramName: 'eps',
    targets: { dense: false, labels: false, half: true },
    compute(eps, rows, cols, pred, target, grad, weight?) {
      if (!(eps > 0)) {
        throw rangeError(ErrorCode.ARG_RANGE, `loss: Expected param > 0 for gaussianNll but received ${eps}`);
      }
      const d = cols >> 1;
      const n = rows * d;
      if (n === 0) return 0;
      const inv = 1 / n;
      let sum = 0;
      for (let r = 0; r < rows; r++) {
        const w = rowWeight(weight, r), wi = w * inv;
        for (let j = 0; j < d; j++) {
          const mu = pred[r * cols + j];
          const v = Math.max(pred[r * cols + d + j], eps);
          const e = mu - target[r * d + j];
          sum += w * (0.5 * (Math.log(v) + (e * e) / v));
          if (grad) {
            grad[r * cols + j] = (e / v) * wi;
            grad[r * cols + d + j] = 0.5 * (1 / v - (e * e) / (v * v)) * wi;
          }
        }
      }
      return sum * inv;
    },
  },
} as const satisfies Record<string, LossDef>;

/** Name of a loss in the table. */
export type LossName = keyof typeof LOSSES;

/** Loss names in id order. */
export const LOSS_NAMES = Object.keys(LOSSES) as LossName[];

/** Table rows in id order. */
export const LOSS_LIST: readonly LossDef[] = LOSS_NAMES.map((n) => LOSSES[n]);

/** The numeric id the kernels take for a loss name. */
export function lossId(name: LossName): number {
  return tableId('loss', LOSS_NAMES, name);
}
