/**
 * Learning curves, as the training recipe asks for them: train and validation loss and metric
 * per epoch, and the loss of every step as a scatter with its moving average (the raw steps
 * show noise and spikes an epoch mean hides). Drawn with vega-lite, rendered headless by vega to
 * SVG and by resvg to PNG.
 */
import * as fs from 'fs';
import * as path from 'path';
import { BlasnetError, ErrorCode } from '../errors';
import { writeFileAtomic } from '../io/format';
import type { History } from '../train/fit';

type Row = Record<string, number | string>;

/** The trailing moving average of the first n values of xs over `window` values (NaN skipped). */
export function movingAverage(xs: ArrayLike<number>, n: number, window: number): Float64Array {
  const out = new Float64Array(n);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const v = xs[i];
    if (Number.isFinite(v)) {
      sum += v;
      count++;
    }
    if (i >= window) {
      const old = xs[i - window];
      if (Number.isFinite(old)) {
        sum -= old;
        count--;
      }
    }
    out[i] = count ? sum / count : NaN;
  }
  return out;
}

/** The vega-lite specification of a History's learning curves. */
export function learningCurveSpec(history: History, options: { title?: string; metric?: string } = {}): Record<string, unknown> {
  const epochs = history.epochs;
  if (epochs.length === 0) throw new BlasnetError(ErrorCode.STATE, 'learningCurves: the history has no epochs');
  const keys = Object.keys(epochs[0]);
  const metric = options.metric ?? ['accuracy', 'binaryAccuracy', 'mae', 'mse'].find((k) => keys.includes(k));
  const perEpoch = (key: string, valKey: string): Row[] => epochs.flatMap((e) => [
    { epoch: e.epoch + 1, value: e[key], set: 'train' },
    ...(typeof e[valKey] === 'number' ? [{ epoch: e.epoch + 1, value: e[valKey], set: 'validation' }] : []),
  ]).filter((r) => Number.isFinite(r.value as number));
  const steps = history.steps;
  const perEpochSteps = steps / Math.max(epochs.length, 1);
  const window = Math.max(1, Math.round(perEpochSteps / 5));
  const avg = movingAverage(history.stepLoss, steps, window);
  // Thin the scatter to at most ~4000 points so the picture stays light.
  const stride = Math.max(1, Math.ceil(steps / 4000));
  const stepRows: Row[] = [];
  for (let i = 0; i < steps; i += stride) {
    if (Number.isFinite(history.stepLoss[i])) stepRows.push({ epoch: (i + 1) / perEpochSteps, loss: history.stepLoss[i], average: avg[i] });
  }
  const lines = (title: string, values: Row[], y: string) => {
    const sets = ['train', 'validation'].filter((set) => values.some((r) => r.set === set));
    return {
    title,
    width: 360,
    height: 220,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'value', type: 'quantitative', title: y, scale: { zero: false } },
      color: { field: 'set', type: 'nominal', title: null, scale: { domain: sets, range: ['#1f77b4', '#d62728'].slice(0, sets.length) } },
    },
  };
  };
  const top = [lines('Loss per epoch', perEpoch('loss', 'valLoss'), 'loss')];
  if (metric) top.push(lines(`${metric} per epoch`, perEpoch(metric, `val${metric[0].toUpperCase()}${metric.slice(1)}`), metric));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: options.title ?? 'Learning curves',
    config: { font: 'DejaVu Sans', view: { stroke: null } },
    vconcat: [
      { hconcat: top },
      {
        title: `Loss of every step (points) and its moving average over ${window} steps (line)`,
        width: 780,
        height: 220,
        data: { values: stepRows },
        layer: [
          { mark: { type: 'point', size: 6, opacity: 0.25, filled: true, color: '#7f7f7f' },
            encoding: { x: { field: 'epoch', type: 'quantitative', title: 'epoch' }, y: { field: 'loss', type: 'quantitative', title: 'loss', scale: { type: 'log' } } } },
          { mark: { type: 'line', color: '#1f77b4', strokeWidth: 2 },
            encoding: { x: { field: 'epoch', type: 'quantitative' }, y: { field: 'average', type: 'quantitative' } } },
        ],
      },
    ],
  };
}

/** Renders a History's learning curves to SVG text. */
export async function learningCurvesSvg(history: History, options: { title?: string; metric?: string } = {}): Promise<string> {
  return renderSvg(learningCurveSpec(history, options));
}

/** Renders a vega-lite specification to SVG text, headless. */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const vega = require('vega') as typeof import('vega');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const vegaLite = require('vega-lite') as typeof import('vega-lite');
  const compiled = vegaLite.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Renders SVG text to PNG bytes at the given width. */
export function svgToPng(svg: string, width = 1200): Buffer {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  return new Resvg(svg, { fitTo: { mode: 'width', value: width }, background: 'white', font: { loadSystemFonts: true } }).render().asPng();
}

/**
 * Writes `<base>.svg` and `<base>.png` with a History's learning curves; returns their paths.
 */
export async function writeLearningCurves(history: History, base: string, options: { title?: string; metric?: string } = {}): Promise<{ svg: string; png: string }> {
  const svg = await learningCurvesSvg(history, options);
  const files = { svg: `${base}.svg`, png: `${base}.png` };
  try {
    fs.accessSync(path.dirname(path.resolve(base)));
  } catch (e) {
    throw new BlasnetError(ErrorCode.IO, `cannot write ${files.svg}: ${(e as Error).message}`);
  }
  writeFileAtomic(files.svg, Buffer.from(svg, 'utf8'));
  writeFileAtomic(files.png, svgToPng(svg));
  return files;
}
