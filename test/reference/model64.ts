/**
 * An independent float64 evaluator of a Sequential model's training loss, for finite-difference
 * gradient checks: it reads the model's layer settings, weights, dropout/DropConnect masks and
 * BatchNorm running statistics, and recomputes the forward pass and loss in double precision
 * from the scalar definitions in the activation and loss tables (no backend kernel involved).
 */
import { ACTIVATIONS } from '../../lib/activations';
import type { ActivationName } from '../../lib/activations';
import { LOSSES } from '../../lib/losses';
import type { LossName } from '../../lib/losses';
import { Activation, BatchNorm, Dense, Dropout, PReLU } from '../../lib/layers';
import type { Sequential } from '../../lib/model/sequential';

type F64 = Float64Array;

function softmaxRows(z: F64, rows: number, cols: number, log: boolean): F64 {
  const y = new Float64Array(z.length);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, z[r * cols + j]);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(z[r * cols + j] - m);
    for (let j = 0; j < cols; j++) {
      const v = z[r * cols + j] - m;
      y[r * cols + j] = log ? v - Math.log(s) : Math.exp(v) / s;
    }
  }
  return y;
}

function applyActivation(name: string, param: number, z: F64, rows: number, cols: number): F64 {
  if (name === 'softmax' || name === 'logSoftmax') return softmaxRows(z, rows, cols, name === 'logSoftmax');
  const f = ACTIVATIONS[name as ActivationName].f;
  return z.map((v) => f(v, param));
}

/** The settings a reference pass needs from the model's last training forward pass. */
export interface Masks {
  dropout: Map<number, Float32Array>;
  dropConnect: Map<number, Float32Array>;
}

/**
 * Loss (mean + penalties) of the model at parameters `params` (float64 copy of model.params, same
 * layout) on x, as the model computes it in a training pass with the given masks.
 */
export function referenceLoss(model: Sequential, params: F64, x: Float32Array, rows: number,
  target: Float32Array | Int32Array, lossName: LossName, lossParam: number, masks: Masks, training = true): number {
  const views = model.parameters();
  const offsets = new Map<string, number>();
  let off = 0;
  for (const v of views) {
    offsets.set(v.name, off);
    off += v.data.length;
  }
  const param = (layer: number, name: string, n: number): F64 => {
    const key = `${model.layers[layer].name ?? layer}.${name}`;
    const o = offsets.get(key) as number;
    return params.subarray(o, o + n);
  };
  let h: F64 = Float64Array.from(x.subarray(0, rows * model.inputSize));
  let penalty = 0;
  let logits: F64 | null = null;
  let lastAct: string | null = null;
  model.layers.forEach((layer, i) => {
    const inSize = layer.inSize, outSize = layer.outSize;
    if (layer instanceof Dense) {
      let w = param(i, 'weight', outSize * inSize);
      if (layer.l1 > 0 || layer.l2 > 0) {
        for (const v of w) penalty += layer.l1 * Math.abs(v) + 0.5 * layer.l2 * v * v;
      }
      const mask = masks.dropConnect.get(i);
      if (training && mask) w = w.map((v, k) => v * mask[k]);
      const b = layer.useBias ? param(i, 'bias', outSize) : null;
      const z = new Float64Array(rows * outSize);
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < outSize; o++) {
          let s = b ? b[o] : 0;
          for (let k = 0; k < inSize; k++) s += h[r * inSize + k] * w[o * inSize + k];
          z[r * outSize + o] = s;
        }
      }
      logits = z;
      lastAct = layer.activation;
      h = applyActivation(layer.activation, layer.activationParam, z, rows, outSize);
    } else if (layer instanceof Activation) {
      logits = h;
      lastAct = layer.fn;
      h = applyActivation(layer.fn, layer.param, h, rows, inSize);
    } else if (layer instanceof Dropout) {
      const mask = masks.dropout.get(i);
      if (training && mask) h = h.map((v, k) => v * mask[k]);
      else if (layer.mode === 'classic') h = h.map((v) => v * (1 - layer.rate));
      lastAct = null;
    } else if (layer instanceof BatchNorm) {
      const gamma = param(i, 'gamma', inSize), beta = param(i, 'beta', inSize);
      const y = new Float64Array(h.length);
      for (let j = 0; j < inSize; j++) {
        let mean: number, variance: number;
        if (training) {
          mean = 0;
          for (let r = 0; r < rows; r++) mean += h[r * inSize + j];
          mean /= rows;
          variance = 0;
          for (let r = 0; r < rows; r++) variance += (h[r * inSize + j] - mean) ** 2;
          variance /= rows;
        } else {
          mean = layer.runningMean[j];
          variance = layer.runningVar[j];
        }
        const inv = 1 / Math.sqrt(variance + layer.eps);
        for (let r = 0; r < rows; r++) y[r * inSize + j] = gamma[j] * (h[r * inSize + j] - mean) * inv + beta[j];
      }
      h = y;
      lastAct = null;
    } else if (layer instanceof PReLU) {
      const a = param(i, 'slope', layer.perUnit ? inSize : 1);
      h = h.map((v, k) => (v > 0 ? v : (layer.perUnit ? a[k % inSize] : a[0]) * v));
      lastAct = null;
    } else {
      throw new Error(`reference: unsupported layer ${layer.kind}`);
    }
  });
  const cols = model.outputSize;
  const def = LOSSES[lossName];
  const target64 = target instanceof Int32Array ? target : Float64Array.from(target);
  const fused = (lossName === 'crossEntropy' && lastAct === 'softmax') || (lossName === 'binaryCrossEntropy' && lastAct === 'sigmoid');
  const pred = fused ? (logits as unknown as F64) : h;
  return def.compute(lossParam, rows, cols, pred, target64, null) + penalty;
}
