/**
 * The lecture notes' training diagnostics as a callback: per-layer histograms of activations and
 * gradients (the initialisation study's figures) at the start and the end of training, and the
 * update-to-weight ratio of every layer over training (healthy around 1e-3).
 */
import { optionsArg, show, typeName } from '../describe';
import { ErrorCode, rangeError, typeError } from '../errors';
import type { Input } from '../data/input';
import type { Sequential } from '../model/sequential';
import type { Callback } from '../train/callbacks';

/** A histogram: `counts[i]` values fell in [edges[i], edges[i + 1]). */
export interface Histogram {
  readonly edges: number[];
  readonly counts: number[];
}

/** Histograms of every layer at one step. */
export interface HistogramSnapshot {
  readonly step: number;
  /** By layer name: the layer's outputs over the batch (absent under fitAsync). */
  readonly activations: Record<string, Histogram>;
  /** By layer name: the layer's parameter gradients (layers with parameters only). */
  readonly gradients: Record<string, Histogram>;
}

/** What diagnosticsLogger records. */
export interface DiagnosticsData {
  /** Update-to-weight ratio ||W_t - W_(t-1)|| / ||W_(t-1)|| per layer with parameters, every `every` steps. */
  readonly ratios: { step: number; layer: string; ratio: number }[];
  /** Histograms at the first step and at the last step of training. */
  readonly histograms: HistogramSnapshot[];
}

/**
 * A histogram of the first n values of a with `bins` equal bins over their finite range. n is at
 * most a.length; bins a positive integer up to 2^20.
 */
export function histogram(a: ArrayLike<number>, n: number, bins: number): Histogram {
  if (typeof a !== 'object' || a === null || !Number.isSafeInteger(a.length)) {
    throw typeError(ErrorCode.ARG_TYPE, `histogram: Expected an array of numbers for a but received ${typeName(a)}`);
  }
  if (!(Number.isInteger(n) && n >= 0 && n <= a.length)) {
    throw rangeError(ErrorCode.ARG_RANGE, `histogram: Expected integer in [0, ${a.length}] (the length of a) for n but received ${show(n)}`);
  }
  if (!(Number.isInteger(bins) && bins >= 1 && bins <= 1 << 20)) {
    throw rangeError(ErrorCode.ARG_RANGE, `histogram: Expected integer in [1, 2^20] for bins but received ${show(bins)}`);
  }
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = a[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(lo <= hi)) return { edges: [0, 1], counts: [0] };
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < n; i++) {
    const v = a[i];
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * width), counts };
}

function layerName(model: Sequential, i: number): string {
  const l = model.layers[i];
  return `${l.name ?? i} ${l.kind}${l.activationName() && l.activationName() !== 'identity' ? ` ${l.activationName()}` : ''}`;
}

/**
 * A callback recording the diagnostics above into `logger.data`; draw them with
 * writeDiagnostics(logger.data, base). `every` (default 10): steps between update-ratio samples;
 * `bins` (default 40): histogram bins. The ratio of step t needs the weights of step t - 1, so the
 * logger copies the parameter arena once per sample. Activation histograms come from the
 * training thread's own forward passes; under fitAsync they run in its worker, out of reach, and
 * the histograms come from `probe` instead when given (rows as forward takes them, passed through
 * the model in inference mode at the same two points: dropout off, BatchNorm on its running
 * statistics), else only gradients and ratios are recorded.
 */
export function diagnosticsLogger(options: { every?: number; bins?: number; probe?: Input } = {}): Callback & { readonly data: DiagnosticsData } {
  options = optionsArg('diagnosticsLogger', options, { every: true, bins: true, probe: true });
  const probe = options.probe;
  const every = options.every ?? 10, bins = options.bins ?? 40;
  for (const [name, v] of [['every', every], ['bins', bins]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw rangeError(ErrorCode.ARG_RANGE, `diagnosticsLogger: Expected positive integer for ${name} but received ${show(v)}`);
  }
  if (bins > 1 << 20) throw rangeError(ErrorCode.ARG_RANGE, `diagnosticsLogger: Expected at most 2^20 bins but received ${bins}`);
  const data: DiagnosticsData = { ratios: [], histograms: [] };
  let previous: Float32Array | null = null;
  let previousStep = -2;
  let latest: HistogramSnapshot | null = null;

  const snapshot = (model: Sequential, step: number): HistogramSnapshot => {
    const activations: Record<string, Histogram> = {};
    let haveActivations = true;
    try {
      model.lastOutput();
    } catch {
      // fitAsync: the forward passes ran in the worker; the probe rows, if any, run here.
      haveActivations = false;
      if (probe !== undefined) {
        model.forward(probe, { training: false });
        haveActivations = true;
      }
    }
    if (haveActivations) {
      model.layers.forEach((_l, i) => {
        const y = model.layerOutput(i);
        activations[layerName(model, i)] = histogram(y, y.length, bins);
      });
    }
    const gradients: Record<string, Histogram> = {};
    model.layers.forEach((_l, i) => {
      const grads = model.parameters().filter((v) => v.layer === i).map((v) => v.grad);
      if (grads.length === 0) return;
      const all = new Float32Array(grads.reduce((s, g) => s + g.length, 0));
      let o = 0;
      for (const g of grads) {
        all.set(g, o);
        o += g.length;
      }
      gradients[layerName(model, i)] = histogram(all, all.length, bins);
    });
    return { step, activations: haveActivations ? activations : {}, gradients };
  };

  return {
    data,
    onTrainBegin() {
      data.ratios.length = 0;
      data.histograms.length = 0;
      previous = null;
      previousStep = -2;
      latest = null;
    },
    onBatchEnd(logs, ctx) {
      const model = ctx.model;
      if (logs.step === 0) data.histograms.push(snapshot(model, 1));
      // The last batch of every epoch is kept as the end of training (a validation pass follows it).
      else if (logs.batch === ctx.stepsPerEpoch - 1 || ctx.stopReason !== null) latest = snapshot(model, logs.step + 1);
      if (previous && previousStep === logs.step - 1) {
        const views = model.parameters();
        let offset = 0;
        model.layers.forEach((_l, i) => {
          const mine = views.filter((v) => v.layer === i);
          if (mine.length === 0) return;
          let u2 = 0, p2 = 0;
          for (const v of mine) {
            for (let k = 0; k < v.data.length; k++) {
              const p = (previous as Float32Array)[offset + k];
              const d = v.data[k] - p;
              u2 += d * d;
              p2 += p * p;
            }
            offset += v.data.length;
          }
          if (p2 > 0) data.ratios.push({ step: logs.step + 1, layer: layerName(model, i), ratio: Math.sqrt(u2 / p2) });
        });
      }
      // The weights now are the "before" of the next step, which is a sample step.
      if ((logs.step + 2) % every === 0) {
        if (!previous) previous = new Float32Array(model.params.length);
        previous.set(model.params);
        previousStep = logs.step;
      }
    },
    onTrainEnd() {
      if (latest) data.histograms.push(latest);
      latest = null;
    },
  };
}
