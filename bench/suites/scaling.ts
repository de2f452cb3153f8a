/**
 * How training cost grows with the net's shape: samples/s and useful GFLOP/s at batch 128 for a
 * width sweep (784-w-w-w-10, w = 64, 256, 1024, 2048) and a depth sweep (2 to 8 dense layers of
 * width 512), set against the seeds' cost model and against two SGEMM ceilings.
 *
 * The cost model: time per sample is proportional to the number of weights, so it grows linearly
 * in layers at a fixed width and quadratically in width once the hidden-to-hidden layers dominate.
 * Each configuration's predicted time is its weight count times the time per weight measured at
 * the largest configuration of its sweep. The ceilings: the step's own GEMMs timed alone through
 * the native backend's gemm (the GEMM-only bound, as in the mlp suite), and one large square SGEMM
 * (2048 x 2048 x 2048), the machine's SGEMM rate. "Where the curve meets the ceiling" is the first
 * width whose training GFLOP/s reaches MEETS_CEILING of the square rate.
 *
 * Depth is the number of dense (weight) layers: L dense layers are L - 1 hidden layers and the
 * output layer. The depth sweep holds the width at 512 rather than 256: a 512 x 512 hidden layer
 * (262,144 weights) is two thirds of the 784 x 512 input layer, so added layers soon dominate the
 * step, and its GEMMs at batch 128 are large enough to run near the SGEMM rate, while a
 * 256 x 256 layer is a third of its input layer and closer to being overhead-bound.
 *
 * Every configuration trains on the native backend at its default thread count: Fashion-MNIST's
 * training set (loaded once, not timed), ReLU hidden layers, softmax cross-entropy, Adam lr 1e-3,
 * shuffled minibatches of 128. Each run builds a fresh model (seed 1), trains WARMUP_STEPS steps
 * untimed on it (so that the step's buffers exist and the kernel threads are awake), then times one
 * model.fit call over a prefix of the training set of steps x 128 rows. The step count comes from
 * the configuration's FLOPs so that a timed run lasts about a second where large layers dominate;
 * overhead-bound small nets stop at one pass over the data and run shorter. With the default
 * three runs the suite takes about a minute on a 2-core machine, longer when other work shares it.
 */
import * as os from 'os';
import { loadFashionMnist, Matrix, Rng } from '../../lib';
import { BackendDriver, nativeDriver } from '../drivers';
import { cpuSnapshot, Load, loadBetween, measure, Rate, rate, Stats, statsOf, TimingOptions } from '../harness';
import { num, pct, rateCell, Suite, SuiteResult, Table, Target } from '../report';
import { buildMlp, flopsPerSample, timeStepGemms, weights } from './mlp';

const BATCH = 128;
const INPUTS = 784;
const CLASSES = 10;
const WIDTHS: readonly number[] = [64, 256, 1024, 2048];
/** Dense layers of the width sweep: 784-w-w-w-10. */
const WIDTH_SWEEP_LAYERS = 4;
const DEPTHS: readonly number[] = [2, 3, 4, 5, 6, 7, 8];
const DEPTH_SWEEP_WIDTH = 512;
/** Useful FLOPs one timed run aims at: about a second at the 100-150 GFLOP/s large layers reach here. */
const RUN_FLOPS = 1e11;
/** Fewest timed steps, so that the largest nets still time a run of many steps. */
const MIN_STEPS = 20;
/** Untimed steps on each fresh model before its timed call. */
const WARMUP_STEPS = 3;
/** Side of the square SGEMM that gives the machine's ceiling. */
const CEILING_SIZE = 2048;
/** Training "meets the ceiling" at this share of the square SGEMM rate. */
const MEETS_CEILING = 0.8;
/** The depth sweep counts as linear in layers when a least-squares line fits this well. */
const LINEAR_R2 = 0.98;
/** The width sweep counts as quadratic when the log-log slope between the two largest widths is in this range. */
const QUADRATIC_SLOPE: readonly [number, number] = [1.7, 2.3];

type Sweep = 'width' | 'depth';

interface Config {
  sweep: Sweep;
  /** Dense (weight) layers. */
  layers: number;
  /** Width of every hidden layer. */
  width: number;
  sizes: number[];
}

function netSizes(layers: number, width: number): number[] {
  return [INPUTS, ...new Array<number>(layers - 1).fill(width), CLASSES];
}

const netName = (s: readonly number[]): string => s.join('-');

const CONFIGS: readonly Config[] = [
  ...WIDTHS.map((width): Config => ({ sweep: 'width', layers: WIDTH_SWEEP_LAYERS, width, sizes: netSizes(WIDTH_SWEEP_LAYERS, width) })),
  ...DEPTHS.map((layers): Config => ({ sweep: 'depth', layers, width: DEPTH_SWEEP_WIDTH, sizes: netSizes(layers, DEPTH_SWEEP_WIDTH) })),
];

/** Timed steps of a configuration: RUN_FLOPS worth, at least MIN_STEPS, at most one pass over `rows`. */
function stepsFor(sizes: readonly number[], rows: number): number {
  const wanted = Math.round(RUN_FLOPS / (flopsPerSample(sizes) * BATCH));
  return Math.min(Math.floor(rows / BATCH), Math.max(MIN_STEPS, wanted));
}

/** What was measured for one configuration, before comparing it with the model and ceilings. */
interface Measured {
  config: Config;
  steps: number;
  /** Rows per timed run (steps x batch). */
  rows: number;
  /** Seconds per timed run. */
  stats: Stats;
  /** Seconds for one step's GEMMs alone. */
  gemm: Stats;
  /** Training loss of the last step of the last run (a finite value shows the runs trained). */
  lastLoss: number;
  load: Load | null;
}

/** A row of a sweep: the measured figures and what they are compared with. */
interface Row extends Measured {
  id: string;
  weights: number;
  flopsPerSample: number;
  samplesPerSecond: Rate;
  /** Useful GFLOP/s at the median run. */
  gflops: number;
  boundSamplesPerSecond: number;
  /** The step's GEMMs' FLOPs over their time alone. */
  gemmGflops: number;
  fractionOfBound: number;
  /** Training GFLOP/s over the square SGEMM ceiling. */
  fractionOfCeiling: number;
  /** Step-GEMM GFLOP/s over the square SGEMM ceiling. */
  gemmFractionOfCeiling: number;
  /** Median run time per sample. */
  secondsPerSample: number;
  /** Weights x seconds per weight at the sweep's reference (largest) configuration. */
  predictedSecondsPerSample: number;
}

/** Seconds of one timed model.fit call over `rows` rows, on a fresh model after WARMUP_STEPS untimed steps. */
function timeFitOnce(d: BackendDriver, sizes: readonly number[], x: Matrix, labels: Int32Array, rows: number): { seconds: number; lastLoss: number } {
  const prefix = (n: number) => ({ x: new Matrix(x.data.subarray(0, n * x.cols), n, x.cols), y: labels.subarray(0, n) });
  const timed = prefix(rows);
  const warm = prefix(WARMUP_STEPS * BATCH);
  const fitOptions = { epochs: 1, batchSize: BATCH, shuffle: true };
  const model = buildMlp(sizes, d.backend);
  model.fit(warm.x, warm.y, fitOptions);
  const t0 = process.hrtime.bigint();
  const history = model.fit(timed.x, timed.y, fitOptions);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, lastLoss: history.stepLoss[history.steps - 1] };
}

/** Seconds per CEILING_SIZE-cubed NN SGEMM. */
function timeSquare(d: BackendDriver, timing: TimingOptions): Stats {
  const n = CEILING_SIZE;
  const a = new Rng(1).uniformArray(n * n, -1, 1);
  const b = new Rng(2).uniformArray(n * n, -1, 1);
  const c = new Float32Array(n * n);
  return measure((reps) => {
    for (let r = 0; r < reps; r++) d.backend.gemm(false, false, n, n, n, 1, a, b, 0, c);
  }, timing);
}

/** Least-squares line y = intercept + slope x with its coefficient of determination. */
function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number; r2: number } {
  const n = xs.length;
  const mx = xs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

/** d ln(y) / d ln(x) between two points. */
const logSlope = (x0: number, y0: number, x1: number, y1: number): number => Math.log(y1 / y0) / Math.log(x1 / x0);

/** Rows of one sweep, predictions referred to its last (largest) configuration. */
function sweepRows(measured: readonly Measured[], ceilingGflops: number): Row[] {
  const ref = measured[measured.length - 1];
  const secondsPerWeight = ref.stats.median / ref.rows / weights(ref.config.sizes);
  return measured.map((m): Row => {
    const sizes = m.config.sizes;
    const fpS = flopsPerSample(sizes);
    const w = weights(sizes);
    const samplesPerSecond = rate(m.stats, m.rows);
    const gflops = (samplesPerSecond.median * fpS) / 1e9;
    const bound = BATCH / m.gemm.median;
    const gemmGflops = (bound * fpS) / 1e9;
    return {
      ...m,
      id: `${m.config.sweep}-${netName(sizes)}`,
      weights: w,
      flopsPerSample: fpS,
      samplesPerSecond,
      gflops,
      boundSamplesPerSecond: bound,
      gemmGflops,
      fractionOfBound: samplesPerSecond.median / bound,
      fractionOfCeiling: gflops / ceilingGflops,
      gemmFractionOfCeiling: gemmGflops / ceilingGflops,
      secondsPerSample: m.stats.median / m.rows,
      predictedSecondsPerSample: w * secondsPerWeight,
    };
  });
}

const us = (seconds: number): string => num(seconds * 1e6);

/** Why measured / predicted can fall below 1 without any overhead. */
const FIRST_LAYER_NOTE = 'The input layer has no dX product, so it does 4 rather than 6 useful FLOPs per weight per sample: ' +
  'nets in which it holds a large share of the weights come in below 1 on that account alone.';

/** The cells every row shares, from the net's name to measured/predicted. */
function commonCells(r: Row): string[] {
  return [
    netName(r.config.sizes), String(r.config.layers), String(r.config.width), String(r.weights),
    `${r.steps} steps (${r.rows} rows)`, rateCell(r.samplesPerSecond), num(r.gflops), num(r.boundSamplesPerSecond),
    r.fractionOfBound.toFixed(2), num(r.gemmGflops), r.fractionOfCeiling.toFixed(2), r.gemmFractionOfCeiling.toFixed(2),
    us(r.secondsPerSample), (r.secondsPerSample / r.predictedSecondsPerSample).toFixed(2),
  ];
}

const COMMON_COLUMNS = ['net', 'dense layers', 'width', 'weights', 'timed', 'samples/s', 'useful GFLOP/s',
  'GEMM-only bound, samples/s', 'fraction of bound', 'step GEMMs, GFLOP/s', 'training / ceiling', 'step GEMMs / ceiling',
  'µs/sample', 'measured / predicted'];

/** Where the sweep's training rate first reaches MEETS_CEILING of the ceiling, or how close it came. */
function meetsCeiling(rows: readonly Row[], what: (r: Row) => string): string {
  const share = `${Math.round(MEETS_CEILING * 100)}%`;
  const training = rows.find((r) => r.fractionOfCeiling >= MEETS_CEILING);
  const best = rows.reduce((a, b) => (b.fractionOfCeiling > a.fractionOfCeiling ? b : a));
  const gemmsOnly = rows.find((r) => r.gemmFractionOfCeiling >= MEETS_CEILING);
  const trainingText = training
    ? `Training meets the ceiling (reaches ${share} of it) first at ${what(training)}: ${num(training.gflops)} GFLOP/s = ${pct(training.fractionOfCeiling)}.`
    : `No configuration's training reaches ${share} of the ceiling; the highest is ${pct(best.fractionOfCeiling)} (${num(best.gflops)} GFLOP/s) at ${what(best)}.`;
  const gemmText = gemmsOnly
    ? `The step's GEMMs alone reach ${share} of it first at ${what(gemmsOnly)} (${pct(gemmsOnly.gemmFractionOfCeiling)}).`
    : `The step's GEMMs alone do not reach ${share} of it in this sweep (highest ${pct(Math.max(...rows.map((r) => r.gemmFractionOfCeiling)))}).`;
  return `${trainingText} ${gemmText}`;
}

export const scalingSuite: Suite = {
  name: 'scaling',
  title: 'Scaling: training cost against width and depth',
  summary: `Fashion-MNIST training set, ReLU MLPs with softmax cross-entropy, Adam lr 1e-3, batch ${BATCH}, native backend: ` +
    `samples/s and useful GFLOP/s for widths ${WIDTHS.join(', ')} at ${WIDTH_SWEEP_LAYERS} dense layers and for ` +
    `${DEPTHS[0]}-${DEPTHS[DEPTHS.length - 1]} dense layers at width ${DEPTH_SWEEP_WIDTH}, against the seeds' cost model ` +
    '(time per sample proportional to the weights: linear in layers, quadratic in width), the GEMM-only bound and the ' +
    `SGEMM rate of a ${CEILING_SIZE}³ product.`,
  defaults: { warmup: 0, minTime: 0, runs: 3 },

  run(ctx): SuiteResult {
    ctx.progress('scaling: loading Fashion-MNIST (not timed)');
    const train = loadFashionMnist({ split: 'train' });
    const x = train.x, labels = train.labels;
    const native = nativeDriver();
    const runs = ctx.timing.runs;
    const gemmTiming = { warmup: Math.max(ctx.timing.warmup, 0.2), minTime: Math.max(ctx.timing.minTime, 0.3), runs: Math.max(runs, 3) };
    const squareFlops = 2 * CEILING_SIZE ** 3;

    const { ceilingBefore, measured, ceilingAfter } = native.use(() => {
      ctx.progress(`scaling: ${CEILING_SIZE}³ SGEMM ceiling (${native.threads} thr), before the sweeps`);
      const before = timeSquare(native, gemmTiming);
      // Rounds: run r of every configuration (training, then its GEMMs alone), then run r + 1.
      // The 2-thread rate of this VM drifts for seconds at a time; interleaved, a slow spell
      // lands on different configurations in different rounds and the medians step over it.
      const fits = CONFIGS.map(() => [] as number[]);
      const gemmSamples = CONFIGS.map(() => [] as number[]);
      const losses = CONFIGS.map(() => NaN);
      const loads = CONFIGS.map(() => [] as (Load | null)[]);
      const stepCounts = CONFIGS.map((c) => stepsFor(c.sizes, x.rows));
      for (let r = 0; r < runs; r++) {
        CONFIGS.forEach((config, i) => {
          const steps = stepCounts[i];
          ctx.progress(`scaling run ${r + 1}/${runs}: ${config.sweep} ${netName(config.sizes)} (${native.threads} thr), ${steps} steps`);
          const snap = cpuSnapshot();
          const fit = timeFitOnce(native, config.sizes, x, labels, steps * BATCH);
          fits[i].push(fit.seconds);
          losses[i] = fit.lastLoss;
          gemmSamples[i].push(timeStepGemms(native.backend, config.sizes, BATCH, { ...gemmTiming, warmup: r === 0 ? gemmTiming.warmup : 0.02, runs: 1 }).median);
          loads[i].push(loadBetween(snap, cpuSnapshot()));
        });
      }
      const all: Measured[] = CONFIGS.map((config, i) => {
        const ls = loads[i].filter((l): l is Load => l !== null);
        const load = ls.length ? { others: ls.reduce((a, l) => a + l.others, 0) / ls.length, steal: ls.reduce((a, l) => a + l.steal, 0) / ls.length } : null;
        return { config, steps: stepCounts[i], rows: stepCounts[i] * BATCH, stats: statsOf(fits[i]), gemm: statsOf(gemmSamples[i]), lastLoss: losses[i], load };
      });
      ctx.progress(`scaling: ${CEILING_SIZE}³ SGEMM ceiling (${native.threads} thr), after the sweeps`);
      const after = timeSquare(native, gemmTiming);
      return { ceilingBefore: before, measured: all, ceilingAfter: after };
    });

    // The higher of the two medians: a burst of other work during one of them should not lower the ceiling.
    const ceilingGflops = squareFlops / Math.min(ceilingBefore.median, ceilingAfter.median) / 1e9;
    const ceilingCell = (s: Stats) => `${rateCell(rate(s, squareFlops), 1e9)} GFLOP/s`;
    const widthRows = sweepRows(measured.filter((m) => m.config.sweep === 'width'), ceilingGflops);
    const depthRows = sweepRows(measured.filter((m) => m.config.sweep === 'depth'), ceilingGflops);
    const widthRef = widthRows[widthRows.length - 1];
    const depthRef = depthRows[depthRows.length - 1];
    const background = (r: Row) => (r.load ? pct(r.load.others + r.load.steal) : 'n/a');

    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const setup = [
      `Machine: ${cpu}, ${os.cpus().length} cores; OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? '(unset)'}. Backend: native at its ` +
        `default ${native.threads} kernel threads; batch ${BATCH}. Dense layers = weight layers (L dense layers = L − 1 ReLU hidden layers + the ` +
        'output layer); width = every hidden layer\'s size.',
      `Each run: a fresh model (seed 1), ${WARMUP_STEPS} untimed training steps on it, then one timed model.fit (1 epoch, shuffled, no ` +
        'metrics, validation or callbacks) over the first steps × batch rows of the training set; steps = round(' +
        `${RUN_FLOPS.toExponential(0)} / (batch × useful FLOPs per sample)), at least ${MIN_STEPS}, at most one pass (${Math.floor(x.rows / BATCH)} steps). ` +
        `${runs} runs, interleaved: run 1 of every configuration (both sweeps), then run 2, and so on; samples/s is median (min–max).`,
      'Useful GFLOP/s counts 6 × weights − 2 × first-layer weights per sample (forward, dW, dX except into the input; biases, activations, ' +
        'loss and Adam not counted). GEMM-only bound: the step\'s GEMMs alone (per layer Z = X Wᵀ and dW = dZᵀ X, dX = dZ W for all but ' +
        `the first layer) through the native backend's gemm, one sample of ≥ ${gemmTiming.minTime} s right after each timed run, median over the runs; bound = batch / ` +
        'their time; step GEMMs GFLOP/s = their FLOPs over their time.',
      `Ceiling: a ${CEILING_SIZE}×${CEILING_SIZE}×${CEILING_SIZE} NN SGEMM through the native backend's gemm, timed before the sweeps ` +
        `(${ceilingCell(ceilingBefore)}) and after them (${ceilingCell(ceilingAfter)}); the faster median, ${num(ceilingGflops)} GFLOP/s, is ` +
        'the ceiling. "training / ceiling" and "step GEMMs / ceiling" are useful GFLOP/s and step-GEMM GFLOP/s over it.',
    ];

    const widthSlopes = widthRows.map((r, i) => {
      if (i === 0) return null;
      const p = widthRows[i - 1];
      return {
        measured: logSlope(p.config.width, p.secondsPerSample, r.config.width, r.secondsPerSample),
        weights: logSlope(p.config.width, p.weights, r.config.width, r.weights),
      };
    });
    const widthTable: Table = {
      title: `Width sweep: ${WIDTH_SWEEP_LAYERS} dense layers (${[INPUTS, ...new Array<string>(WIDTH_SWEEP_LAYERS - 1).fill('w'), CLASSES].join('-')}), batch ${BATCH}`,
      notes: [
        ...setup,
        `Predicted µs/sample = weights × the µs per sample per weight of ${netName(widthRef.config.sizes)} (${us(widthRef.secondsPerSample)} µs / ` +
          `${widthRef.weights} weights); measured / predicted above 1 means dearer per weight than that reference. Small widths are ` +
          'overhead-dominated: per-step costs (batch gathering, calls into the addon, the loss) and per-unit costs (bias, ReLU) do not ' +
          'shrink with the weights, and small GEMMs run far below the SGEMM rate, so their ratio is expected above 1. ' + FIRST_LAYER_NOTE,
        'Log-log slope: d ln(µs/sample) / d ln(width) from the previous row, measured, and in brackets the slope of the weight count ' +
          '(784w + 2w² + 10w is not pure w², so even cost exactly proportional to weights gives less than 2).',
        meetsCeiling(widthRows, (r) => `width ${r.config.width}`),
      ],
      columns: [...COMMON_COLUMNS, 'log-log slope: measured (weights)', 'background'],
      rows: widthRows.map((r, i) => {
        const s = widthSlopes[i];
        return [...commonCells(r), s ? `${s.measured.toFixed(2)} (${s.weights.toFixed(2)})` : '–', background(r)];
      }),
    };

    const depthFit = linearFit(depthRows.map((r) => r.config.layers), depthRows.map((r) => r.secondsPerSample));
    const perWeightRef = depthRef.secondsPerSample / depthRef.weights;
    const predictedLayer = DEPTH_SWEEP_WIDTH ** 2 * perWeightRef;
    const depthTable: Table = {
      title: `Depth sweep: width ${DEPTH_SWEEP_WIDTH}, ${DEPTHS[0]}–${DEPTHS[DEPTHS.length - 1]} dense layers, batch ${BATCH}`,
      notes: [
        `Machine, backend (native, ${native.threads} kernel threads), batch ${BATCH}, runs, step counts, useful FLOPs, the GEMM-only bound and ` +
          `the ceiling (${num(ceilingGflops)} GFLOP/s) as for the width sweep above.`,
        `Predicted µs/sample = weights × the µs per sample per weight of ${netName(depthRef.config.sizes)} (${us(depthRef.secondsPerSample)} µs / ` +
          `${depthRef.weights} weights). ${FIRST_LAYER_NOTE} Each added dense layer adds one ${DEPTH_SWEEP_WIDTH}×${DEPTH_SWEEP_WIDTH} hidden layer ` +
          `(${DEPTH_SWEEP_WIDTH ** 2} weights), predicted to cost ${us(predictedLayer)} µs/sample.`,
        '"Added layer" is the measured µs/sample minus the previous row\'s (the cost of one more hidden layer), and in brackets the ' +
          'prediction; linear growth in layers means these differences stay roughly constant.',
        `Least-squares line over the rows: µs/sample = ${us(depthFit.intercept)} + ${us(depthFit.slope)} × layers, R² = ${depthFit.r2.toFixed(4)}.`,
        meetsCeiling(depthRows, (r) => `${r.config.layers} dense layers`),
      ],
      columns: [...COMMON_COLUMNS, 'added layer, µs/sample: measured (predicted)', 'background'],
      rows: depthRows.map((r, i) => {
        const added = i === 0 ? '–' : `${us(r.secondsPerSample - depthRows[i - 1].secondsPerSample)} (${us(predictedLayer)})`;
        return [...commonCells(r), added, background(r)];
      }),
    };

    const targets: Target[] = [];
    targets.push({
      name: `scaling, depth sweep (width ${DEPTH_SWEEP_WIDTH}): time per sample grows linearly in dense layers ` +
        `(R² of a least-squares line over ${DEPTHS[0]}–${DEPTHS[DEPTHS.length - 1]} layers ≥ ${LINEAR_R2})`,
      met: depthFit.r2 >= LINEAR_R2,
      measured: `R² = ${depthFit.r2.toFixed(4)}; ${us(depthFit.slope)} µs/sample per added layer (the weight model predicts ` +
        `${us(predictedLayer)}), intercept ${us(depthFit.intercept)} µs/sample (medians); need R² ≥ ${LINEAR_R2}`,
    });
    const last = widthSlopes[widthSlopes.length - 1] as { measured: number; weights: number };
    const prevWidth = widthRows[widthRows.length - 2];
    targets.push({
      name: `scaling, width sweep (${WIDTH_SWEEP_LAYERS} dense layers): time per sample quadratic in width at large widths ` +
        `(log-log slope between widths ${prevWidth.config.width} and ${widthRef.config.width} in [${QUADRATIC_SLOPE[0]}, ${QUADRATIC_SLOPE[1]}])`,
      met: last.measured >= QUADRATIC_SLOPE[0] && last.measured <= QUADRATIC_SLOPE[1],
      measured: `slope ${last.measured.toFixed(2)} (${us(prevWidth.secondsPerSample)} → ${us(widthRef.secondsPerSample)} µs/sample, medians); ` +
        `the weight count alone gives ${last.weights.toFixed(2)}; need ${QUADRATIC_SLOPE[0]}–${QUADRATIC_SLOPE[1]}`,
    });

    const record = ({ config, ...r }: Row) =>
      ({ kind: 'configuration', sweep: config.sweep, sizes: config.sizes, layers: config.layers, width: config.width, threads: native.threads, batch: BATCH, ...r });
    return {
      tables: [widthTable, depthTable],
      targets,
      records: [
        {
          kind: 'ceiling', m: CEILING_SIZE, n: CEILING_SIZE, k: CEILING_SIZE, threads: native.threads,
          before: ceilingBefore, after: ceilingAfter, gflops: ceilingGflops,
        },
        ...widthRows.map(record),
        ...depthRows.map(record),
        { kind: 'depthFit', secondsPerSamplePerLayer: depthFit.slope, interceptSeconds: depthFit.intercept, r2: depthFit.r2 },
      ],
    };
  },
};
