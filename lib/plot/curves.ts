/**
 * Learning curves, as the training recipe asks for them: train and validation loss and metric
 * per epoch, and the loss of every step as a scatter with its moving average (the raw steps
 * show noise and spikes an epoch mean hides). Drawn with vega-lite, rendered headless by vega to
 * SVG and by resvg to PNG. Those three packages are optional dependencies (installed by default,
 * left out by `npm install --omit=optional`, ~40 MB), loaded only when a picture is drawn.
 */
import * as fs from 'fs';
import * as path from 'path';
import { optionsArg, show, typeName } from '../describe';
import { BlasnetError, ErrorCode, rangeError, typeError } from '../errors';
import { writeFileAtomic } from '../io/format';
import type { History } from '../train/fit';
import { validationName } from '../train/metrics';

type Row = Record<string, number | string>;

const isArrayLike = (v: unknown): v is ArrayLike<unknown> =>
  typeof v === 'object' && v !== null && Number.isSafeInteger((v as ArrayLike<unknown>).length) && (v as ArrayLike<unknown>).length >= 0;

/** The parts of a History the plots read, checked (it may come from a JSON file): `fn` names the caller. */
function checkHistory(fn: string, history: unknown, options: unknown): { title?: string; metric?: string } {
  const h = history as Partial<History> | null;
  if (typeof h !== 'object' || h === null || !Array.isArray(h.epochs) || !h.epochs.every((e) => typeof e === 'object' && e !== null) ||
    !isArrayLike(h.stepLoss)) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a History (as fit returns it) for history but received ${show(history)}`);
  }
  if (!(Number.isInteger(h.steps) && (h.steps as number) >= 0 && (h.steps as number) <= h.stepLoss.length)) {
    throw rangeError(ErrorCode.ARG_RANGE, `${fn}: Expected integer in [0, ${h.stepLoss.length}] (the length of stepLoss) for history.steps but received ${show(h.steps)}`);
  }
  const o = optionsArg(fn, options as { title?: unknown; metric?: unknown } | undefined, { title: true, metric: true });
  for (const key of ['title', 'metric'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'string') {
      throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected string for options.${key} but received ${typeName(o[key])}`);
    }
  }
  return o as { title?: string; metric?: string };
}

/** The trailing moving average of the first n values of xs over `window` values (NaN skipped). */
export function movingAverage(xs: ArrayLike<number>, n: number, window: number): Float64Array {
  if (!isArrayLike(xs)) throw typeError(ErrorCode.ARG_TYPE, `movingAverage: Expected an array of numbers for xs but received ${typeName(xs)}`);
  if (!(Number.isInteger(n) && n >= 0 && n <= xs.length)) {
    throw rangeError(ErrorCode.ARG_RANGE, `movingAverage: Expected integer in [0, ${xs.length}] (the length of xs) for n but received ${show(n)}`);
  }
  if (!(Number.isInteger(window) && window > 0)) {
    throw rangeError(ErrorCode.ARG_RANGE, `movingAverage: Expected positive integer for window but received ${show(window)}`);
  }
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
  options = checkHistory('learningCurveSpec', history, options);
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
  if (metric) top.push(lines(`${metric} per epoch`, perEpoch(metric, validationName(metric)), metric));
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

/** The plotting packages, as `npm install` names them. */
export const PLOTTING_PACKAGES = ['vega', 'vega-lite', '@resvg/resvg-js'] as const;

/** The versions the pictures are drawn with: this package's optional dependencies' major versions. */
const PLOTTING_MAJORS: Record<(typeof PLOTTING_PACKAGES)[number], string> = (() => {
  const majors = { vega: '5', 'vega-lite': '5', '@resvg/resvg-js': '2' };
  let optional: Record<string, string> = {};
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    optional = (require('../../../package.json') as { optionalDependencies?: Record<string, string> }).optionalDependencies ?? {};
  } catch {
    // No package.json beside the build: the majors above.
  }
  for (const name of PLOTTING_PACKAGES) majors[name] = /(\d+)/.exec(optional[name] ?? '')?.[1] ?? majors[name];
  return majors;
})();

/** The command that installs the plotting packages at the versions they are drawn with. */
function installCommand(): string {
  return `npm install ${PLOTTING_PACKAGES.map((p) => `${p}@${PLOTTING_MAJORS[p]}`).join(' ')}`;
}

/**
 * The version of the package `name` that require would find, read from its package.json in the
 * node_modules directories require searches (vega 6 exports no ./package.json, so
 * require('vega/package.json') cannot read it); null when none is found or it states none.
 */
function installedVersion(name: string): string | null {
  for (const dir of require.resolve.paths(name) ?? []) {
    try {
      const v = (JSON.parse(fs.readFileSync(path.join(dir, name, 'package.json'), 'utf8')) as { version?: unknown }).version;
      return typeof v === 'string' && v !== '' ? v : null;
    } catch {
      // Not in this directory (or not readable): the next one.
    }
  }
  return null;
}

/**
 * Loads one of the plotting packages. Throws ERR_BLASNET_DEPENDENCY naming it and the command
 * that installs it when it is missing, of another major version than the one the pictures are
 * drawn with (an application's own vega 6, say), or fails to load.
 */
function plottingPackage<T>(fn: string, name: (typeof PLOTTING_PACKAGES)[number]): T {
  const want = PLOTTING_MAJORS[name];
  const version = installedVersion(name);
  if (version !== null && version.split('.')[0] !== want) {
    throw new BlasnetError(ErrorCode.DEPENDENCY,
      `${fn}: ${name} ${version} is installed, and the pictures are drawn with ${name} ${want}.x; install the plotting packages with \`${installCommand()}\``);
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require(name) as T;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const missing = err.code === 'MODULE_NOT_FOUND';
    throw new BlasnetError(ErrorCode.DEPENDENCY,
      `${fn}: the optional package ${name} ${missing ? 'is not installed' : `could not be loaded (${err.code ?? err.name}: ${err.message.split('\n')[0]})`}, ` +
        `so no picture can be drawn; install the plotting packages with \`${installCommand()}\``, { cause: e });
  }
}

/** Renders a History's learning curves to SVG text. Needs the optional packages vega and vega-lite. */
export async function learningCurvesSvg(history: History, options: { title?: string; metric?: string } = {}): Promise<string> {
  checkHistory('learningCurvesSvg', history, options);
  return renderSvg(learningCurveSpec(history, options));
}

/** Renders a vega-lite specification to SVG text, headless. Needs the optional packages vega and vega-lite. */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const vega = plottingPackage<typeof import('vega')>('renderSvg', 'vega');
  const vegaLite = plottingPackage<typeof import('vega-lite')>('renderSvg', 'vega-lite');
  const compiled = vegaLite.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** The widest PNG svgToPng renders: 16384 pixels (a 16384 x 16384 RGBA picture is 1 GiB). */
const MAX_PNG_WIDTH = 16384;

/**
 * Renders SVG text to PNG bytes at the given width (default 1200, at most 16384 pixels). Text
 * that is not SVG is ERR_BLASNET_FORMAT. Needs the optional package @resvg/resvg-js.
 */
export function svgToPng(svg: string, width = 1200): Buffer {
  const { Resvg } = plottingPackage<typeof import('@resvg/resvg-js')>('svgToPng', '@resvg/resvg-js');
  if (typeof svg !== 'string') throw typeError(ErrorCode.ARG_TYPE, `svgToPng: Expected string for svg but received ${typeName(svg)}`);
  if (!(Number.isInteger(width) && width > 0 && width <= MAX_PNG_WIDTH)) {
    throw rangeError(ErrorCode.ARG_RANGE, `svgToPng: Expected integer in [1, ${MAX_PNG_WIDTH}] for width but received ${show(width)}`);
  }
  let resvg: InstanceType<typeof Resvg>;
  try {
    resvg = new Resvg(svg, { fitTo: { mode: 'width', value: width }, background: 'white', font: { loadSystemFonts: true } });
  } catch (e) {
    throw new BlasnetError(ErrorCode.FORMAT, `svgToPng: the SVG cannot be parsed: ${(e as Error).message}`, { cause: e });
  }
  return resvg.render().asPng();
}

/**
 * Writes `<base>.svg` and `<base>.png` with a History's learning curves; returns their paths.
 * Throws ERR_BLASNET_DEPENDENCY, before writing anything, when a plotting package is missing.
 */
export async function writeLearningCurves(history: History, base: string, options: { title?: string; metric?: string } = {}): Promise<{ svg: string; png: string }> {
  checkHistory('writeLearningCurves', history, options);
  checkBase('writeLearningCurves', base);
  return writePicture('writeLearningCurves', base, await learningCurvesSvg(history, options));
}

/** `base` must be a file path without extension (pictures add .svg and .png). */
export function checkBase(fn: string, base: unknown): asserts base is string {
  if (typeof base !== 'string' || base === '') {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a file path without extension for base but received ${show(base)}`);
  }
}

/**
 * Writes a picture as `<base>.svg` and its PNG rendering (`width` pixels wide) as `<base>.png`,
 * each atomically, and returns their paths. The PNG is rendered first, so a missing plotting
 * package (ERR_BLASNET_DEPENDENCY) or a missing directory (ERR_BLASNET_IO) fails before either
 * file is written.
 */
export function writePicture(fn: string, base: string, svg: string, width = 1200): { svg: string; png: string } {
  checkBase(fn, base);
  const png = svgToPng(svg, width);
  const files = { svg: `${base}.svg`, png: `${base}.png` };
  try {
    fs.accessSync(path.dirname(path.resolve(base)));
  } catch (e) {
    throw new BlasnetError(ErrorCode.IO, `${fn}: cannot write ${files.svg}: ${(e as Error).message}`);
  }
  writeFileAtomic(files.svg, Buffer.from(svg, 'utf8'));
  writeFileAtomic(files.png, png);
  return files;
}
