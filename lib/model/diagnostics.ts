import type { Sequential } from './sequential';

/**
 * Statistics of one layer in the last pass, the quantities the training recipe watches for
 * vanishing and exploding gradients.
 */
export interface LayerDiagnostics {
  readonly layer: number;
  readonly name: string;
  readonly kind: string;
  /** The activation the layer ends in, if any. */
  readonly activation: string | null;
  /** Mean and standard deviation of the layer's output over the batch. */
  readonly mean: number;
  readonly std: number;
  /**
   * Fraction of outputs where a sigmoid or tanh is saturated: its derivative below 10% of its
   * maximum (|y| > 0.949 for tanh; y < 0.026 or y > 0.974 for sigmoid). null for other layers.
   */
  readonly saturated: number | null;
  /**
   * Fraction of units that output zero for every sample of the batch (relu) or are negative for
   * every sample (leakyRelu, prelu): units that pass no gradient. null for other layers.
   */
  readonly dead: number | null;
  /** L2 norm of the layer's parameter gradients (0 for a layer without parameters). */
  readonly gradNorm: number;
  /** L2 norm of the layer's parameters. */
  readonly weightNorm: number;
  /** ||W - W_before|| / ||W_before|| when the parameters before the update were given. */
  readonly updateRatio: number | null;
}

const TANH_SAT = Math.sqrt(0.9);
const SIG_LOW = (1 - Math.sqrt(0.9)) / 2;

export function collectDiagnostics(model: Sequential, batch: number, previous?: Float32Array): LayerDiagnostics[] {
  const views = model.parameters();
  const b = model.backend;
  let offset = 0;
  return model.layers.map((layer, i) => {
    const y = model.layerOutput(i);
    const n = y.length;
    let sum = 0;
    for (let k = 0; k < n; k++) sum += y[k];
    const mean = n ? sum / n : 0;
    let sq = 0;
    for (let k = 0; k < n; k++) sq += (y[k] - mean) * (y[k] - mean);
    const std = n ? Math.sqrt(sq / n) : 0;
    const act = layer.activationName();
    let saturated: number | null = null;
    if (act === 'tanh' || act === 'sigmoid') {
      let s = 0;
      for (let k = 0; k < n; k++) {
        const v = y[k];
        if (act === 'tanh' ? Math.abs(v) > TANH_SAT : v < SIG_LOW || v > 1 - SIG_LOW) s++;
      }
      saturated = n ? s / n : 0;
    }
    let dead: number | null = null;
    if (act === 'relu' || act === 'leakyRelu' || act === 'prelu') {
      const units = layer.outSize;
      let d = 0;
      for (let j = 0; j < units; j++) {
        let alive = false;
        for (let r = 0; r < batch && !alive; r++) alive = y[r * units + j] > 0;
        if (!alive) d++;
      }
      dead = units ? d / units : 0;
    }
    const mine = views.filter((v) => v.layer === i);
    let g2 = 0, w2 = 0, u2 = 0;
    for (const v of mine) {
      g2 += b.sumSquares(v.grad.length, v.grad);
      w2 += b.sumSquares(v.data.length, v.data);
      if (previous) {
        for (let k = 0; k < v.data.length; k++) {
          const d = v.data[k] - previous[offset + k];
          u2 += d * d;
        }
      }
      offset += v.data.length;
    }
    let updateRatio: number | null = null;
    if (previous && mine.length > 0) {
      let p2 = 0;
      const start = offset - mine.reduce((s, v) => s + v.data.length, 0);
      for (let k = start; k < offset; k++) p2 += previous[k] * previous[k];
      updateRatio = p2 > 0 ? Math.sqrt(u2 / p2) : null;
    }
    return {
      layer: i, name: String(layer.name ?? i), kind: layer.kind, activation: act, mean, std, saturated, dead,
      gradNorm: Math.sqrt(g2), weightNorm: Math.sqrt(w2), updateRatio,
    };
  });
}
