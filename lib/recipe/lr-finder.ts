/**
 * The learning-rate range test (Smith 2017, "Cyclical Learning Rates", section 3.3; fastai's
 * lr_find): train for a few hundred steps while the lr grows exponentially, watch the smoothed
 * loss, and read a good lr off the curve.
 */
import { BatchIterator } from '../data/batches';
import { optionsArg, show, typeName } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { largest, smallest } from '../math';
import type { LossSpec } from '../model/loss';
import type { Input, Sequential, Target } from '../model/sequential';
import type { OptimizerSpec } from '../optim';
import { checkBase, renderSvg, writePicture } from '../plot/curves';
import { Matrix } from '../tensor';
import { intOption, modelArg, onScratch, optimizerSpecOf, readRows, requireFiniteRows, scratchOptimizer } from './scratch';
import { labelsOf } from '../data/input';
import type { Labels } from '../train/fit';

/** Options of lrFinder. */
export interface LrFinderOptions {
  /** First lr of the ramp. Default 1e-7. */
  start?: number;
  /** Last lr of the ramp (> start). Default 10. */
  end?: number;
  /** Steps of the ramp (>= 5). Default 100. */
  steps?: number;
  /** Rows per step. Default 64. */
  batchSize?: number;
  /** Weight of the past in the loss's exponential moving average, in [0, 1). Default 0.98 (fastai's). */
  smoothing?: number;
  /** Stop once the smoothed loss exceeds this multiple of its minimum. Default 4. */
  divergence?: number;
  /** The optimiser to ramp. Default the model's compiled optimiser's spec, else Adam. */
  optimizer?: OptimizerSpec;
  /** The loss. Default the model's. */
  loss?: LossSpec;
  /** Seed of the batch order. Default the model's seed. */
  seed?: number;
}

/** The recorded curve and the suggested learning rates. */
export interface LrFinderResult {
  /** The lr of each step taken. */
  readonly lrs: Float64Array;
  /** The raw loss of each step (training mode, penalties included). */
  readonly losses: Float64Array;
  /** The bias-corrected exponential moving average of the losses. */
  readonly smoothed: Float64Array;
  /** Steps taken: `steps`, or fewer when the loss diverged. */
  readonly steps: number;
  /** Whether the run stopped early because the smoothed loss diverged (or the loss was not finite). */
  readonly diverged: boolean;
  /** The lr where the smoothed loss falls fastest against log(lr), before its minimum. */
  readonly steepest: number;
  /** The lr at the smoothed loss's minimum. */
  readonly minimum: number;
  /** minimum / 10: the rule of thumb of fastai's first lr_find. */
  readonly minimumOver10: number;
  /** The suggestion: steepest (the one the curve is usually read for). */
  readonly suggestion: number;
}

/** Half-width, in steps, of the window the steepest slope is measured over. */
const SPAN = 2;

function num(where: string, name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number') throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected number for ${name} but received ${typeof v}`);
  return v;
}

/**
 * Runs the lr range test on (x, y): `steps` optimiser steps on seeded shuffled batches, the lr
 * going exponentially from `start` to `end` (lr_i = start (end / start)^(i / (steps - 1))), and
 * records the loss and its moving average avg_i = smoothing avg_{i-1} + (1 - smoothing) loss_i,
 * reported bias-corrected as avg_i / (1 - smoothing^(i+1)) (fastai's). Stops early when the
 * smoothed loss exceeds `divergence` times its minimum or a loss is not finite.
 *
 * Suggestions: `steepest`, the lr of the most negative slope d(smoothed)/d(ln lr) (differences
 * over 2 steps each side) between the first tenth of the curve and its minimum; `minimum`, the lr at the minimum of the smoothed loss, and
 * `minimumOver10`; `suggestion` = steepest.
 *
 * x is read as fit reads it: records by the model's input columns, then the model's own
 * preprocessing (setPreprocessing) applied, so pass the raw rows fit takes.
 *
 * The model and its optimiser are untouched: the run uses a fresh optimiser of the same spec
 * over the model's arenas and restores parameters, gradients, buffers, dropout stream and mode
 * afterwards (see checkModel). Errors: ERR_BLASNET_DATA for NaN or an infinity in x or in float
 * targets (naming the row and column, as fit); coded TypeError/RangeError for bad options (start > 0,
 * end > start, both finite; steps an integer >= 5; smoothing in [0, 1); divergence > 1); a
 * curve that never falls (its minimum at the first step or no negative slope) is RangeError
 * ERR_BLASNET_ARG_RANGE "the smoothed loss never decreased ...", with the curve in the error's
 * `result` (suggestions NaN) so it can still be plotted: lower `start`.
 */
export function lrFinder(model: Sequential, x: Input, y: Labels, options: LrFinderOptions = {}): LrFinderResult {
  const where = 'lrFinder';
  modelArg(where, model);
  options = optionsArg(where, options, {
    start: true, end: true, steps: true, batchSize: true, smoothing: true, divergence: true, optimizer: true, loss: true, seed: true,
  });
  const start = num(where, 'start', options.start, 1e-7);
  const end = num(where, 'end', options.end, 10);
  if (!(start > 0 && Number.isFinite(start))) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive finite number for start but received ${start}`);
  if (!(end > start && Number.isFinite(end))) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected a finite end above start (${start}) but received ${end}`);
  const steps = intOption(where, 'steps', options.steps, 100);
  if (steps < 5) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected at least 5 steps but received ${steps}`);
  const batchSize = intOption(where, 'batchSize', options.batchSize, 64);
  const beta = num(where, 'smoothing', options.smoothing, 0.98);
  if (!(beta >= 0 && beta < 1)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected smoothing in [0, 1) but received ${beta}`);
  const divergence = num(where, 'divergence', options.divergence, 4);
  if (!(divergence > 1 && Number.isFinite(divergence))) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected divergence > 1 but received ${divergence}`);
  const loss = options.loss ?? (model.lossSpec ? (model.lossSpec.custom ?? model.lossSpec.spec as NonNullable<typeof model.lossSpec.spec>) : undefined);
  if (loss === undefined) throw new BlasnetError(ErrorCode.STATE, `${where}: no loss given; pass { loss } or set one with setLoss() or compile()`);
  const data = readRows(model, model.inputMatrix(x, where), labelsOf(x, y, model.inputColumns, where), loss, where);
  requireFiniteRows(model, data, where);
  const spec = optimizerSpecOf(model, options.optimizer);
  const seed = options.seed ?? model.seed;
  if (!Number.isSafeInteger(seed)) throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected integer for seed but received ${show(seed)}`);

  const lrs = new Float64Array(steps), losses = new Float64Array(steps), smoothed = new Float64Array(steps);
  let taken = 0, diverged = false;
  onScratch(model, where, () => {
    const optimizer = scratchOptimizer(model, spec);
    const xs = new Matrix(data.x, data.rows, data.cols);
    const ys = data.y;
    // A last batch of one row has no batch statistics for BatchNorm: it is left out (updateBatchNorm does the same).
    const dropLast = data.rows > batchSize && data.rows % batchSize === 1 && model.layers.some((l) => l.kind === 'batchNorm');
    const it = new BatchIterator(xs, ys, { batchSize, shuffle: true, seed, backend: model.backend, dropLast });
    model.train();
    let avg = 0, best = Infinity;
    const ratio = end / start;
    while (taken < steps && !diverged) {
      for (const b of it.epoch()) {
        const i = taken;
        const lr = start * ratio ** (i / (steps - 1));
        optimizer.lr = lr;
        const l = model.lossAndGradient(b.x, b.y as Target, { loss });
        lrs[i] = lr;
        losses[i] = l;
        avg = beta * avg + (1 - beta) * l;
        const s = avg / (1 - beta ** (i + 1));
        smoothed[i] = s;
        taken++;
        if (!Number.isFinite(s) || s > divergence * best) {
          diverged = true;
          break;
        }
        best = Math.min(best, s);
        optimizer.step();
        if (taken >= steps) break;
      }
    }
  });
  const curve = { lrs: lrs.slice(0, taken), losses: losses.slice(0, taken), smoothed: smoothed.slice(0, taken), steps: taken, diverged };
  let iMin = 0;
  for (let i = 1; i < taken; i++) if (smoothed[i] < smoothed[iMin]) iMin = i;
  // The first tenth of the curve is skipped (the average holds few losses there, and their
  // batch-to-batch noise would pass for a slope), and the slope spans SPAN steps on each side.
  const skip = Math.floor(taken / 10);
  let iSteep = -1, slope = 0;
  for (let i = skip; i < iMin; i++) {
    const a = Math.max(skip, i - SPAN), b = Math.min(iMin, i + SPAN);
    const d = (smoothed[b] - smoothed[a]) / Math.log(lrs[b] / lrs[a]);
    if (d < slope) {
      slope = d;
      iSteep = i;
    }
  }
  if (iSteep < 0) {
    const result = { ...curve, steepest: NaN, minimum: NaN, minimumOver10: NaN, suggestion: NaN };
    throw Object.assign(rangeError(ErrorCode.ARG_RANGE,
      `${where}: the smoothed loss never decreased between lr ${start} and ${lrs[Math.max(taken - 1, 0)]} ` +
      `(${taken} steps${diverged ? ', diverged' : ''}); no lr can be suggested: lower start`), { result });
  }
  const minimum = lrs[iMin];
  return { ...curve, steepest: lrs[iSteep], minimum, minimumOver10: minimum / 10, suggestion: lrs[iSteep] };
}

/** A result as lrFinder returns it (its three curves of equal length present), and the plot options. */
function checkResult(fn: string, result: unknown, options: unknown): void {
  const r = result as Partial<Record<'lrs' | 'losses' | 'smoothed', unknown>> | null;
  const curve = (v: unknown): v is ArrayLike<number> => typeof v === 'object' && v !== null && Number.isSafeInteger((v as ArrayLike<number>).length);
  if (typeof r !== 'object' || r === null || !curve(r.lrs) || !curve(r.losses) || !curve(r.smoothed) ||
    r.losses.length !== r.lrs.length || r.smoothed.length !== r.lrs.length) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a result (as lrFinder returns it) for result but received ${show(result)}`);
  }
  const title = optionsArg(fn, options as { title?: unknown } | undefined, { title: true }).title;
  if (title !== undefined && typeof title !== 'string') throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected string for options.title but received ${typeName(title)}`);
}

/** The vega-lite specification of an lr range test: smoothed loss against lr (log), raw losses, suggestions. */
export function lrFinderSpec(result: LrFinderResult, options: { title?: string } = {}): Record<string, unknown> {
  checkResult('lrFinderSpec', result, options);
  const values = Array.from(result.lrs, (lr, i) => ({ lr, loss: result.losses[i], smoothed: result.smoothed[i] }))
    .filter((r) => Number.isFinite(r.loss) && Number.isFinite(r.smoothed));
  const top = largest(values.map((r) => r.smoothed));
  const bottom = smallest(values.map((r) => Math.min(r.smoothed, r.loss)));
  const marks = [
    { lr: result.steepest, what: 'steepest' },
    { lr: result.minimumOver10, what: 'minimum / 10' },
  ].filter((m) => Number.isFinite(m.lr));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: options.title ?? `Learning-rate range test (suggested lr ${result.suggestion.toPrecision(2)})`,
    config: { font: 'DejaVu Sans', view: { stroke: null } },
    width: 600,
    height: 320,
    layer: [
      // Raw losses above the smoothed curve's top (the divergence) are left out rather than clipped.
      { data: { values: values.filter((r) => r.loss <= top) }, mark: { type: 'point', size: 8, opacity: 0.3, filled: true, color: '#7f7f7f' },
        encoding: {
          x: { field: 'lr', type: 'quantitative', title: 'learning rate', scale: { type: 'log' } },
          y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { domain: [bottom - 0.05 * (top - bottom), top] }, axis: { format: '.3~g' } },
        } },
      { data: { values }, mark: { type: 'line', color: '#1f77b4', strokeWidth: 2 },
        encoding: { x: { field: 'lr', type: 'quantitative' }, y: { field: 'smoothed', type: 'quantitative' } } },
      { data: { values: marks }, mark: { type: 'rule', strokeDash: [4, 3] },
        encoding: { x: { field: 'lr', type: 'quantitative' }, color: { field: 'what', type: 'nominal', title: null, scale: { range: ['#d62728', '#2ca02c'] } } } },
    ],
  };
}

/** Renders an lr range test to SVG text. Needs the optional plotting packages vega and vega-lite. */
export async function lrFinderSvg(result: LrFinderResult, options: { title?: string } = {}): Promise<string> {
  checkResult('lrFinderSvg', result, options);
  return renderSvg(lrFinderSpec(result, options));
}

/**
 * Writes `<base>.svg` and `<base>.png` with an lr range test's curve; returns their paths.
 * Throws ERR_BLASNET_DEPENDENCY, before writing anything, when a plotting package is missing.
 */
export async function writeLrFinderPlot(result: LrFinderResult, base: string, options: { title?: string } = {}): Promise<{ svg: string; png: string }> {
  checkResult('writeLrFinderPlot', result, options);
  checkBase('writeLrFinderPlot', base);
  return writePicture('writeLrFinderPlot', base, await lrFinderSvg(result, options));
}
