#!/usr/bin/env node
/**
 * TensorFlow.js peer for the reference training workload: an MLP on Fashion-MNIST trained with
 * Adam (lr 1e-3) on shuffled minibatches, softmax cross-entropy on the integer labels, ReLU on the
 * hidden layers and a linear output. Runs on tfjs's pure-JS CPU backend or its WASM backend.
 *
 *   node bench/peers/tfjs-mlp.js --backend=cpu|wasm --sizes=784,256,128,10 --batch=32 \
 *     --steps=200 --runs=3 [--warmup-steps=5] [--method=minimize|trainOnBatch|fit] [--serve=1]
 *
 * Needs `npm ci --prefix bench/peers` (TensorFlow.js lives apart from the library's own
 * dependencies) and `npm run build` at the root (the data set is read with blasnet's loader).
 *
 * The whole training set goes into tensors once, untimed. Each run builds a fresh model
 * (untimed), then times `steps` training steps, the shuffle and the gather of every batch from the
 * preloaded tensors included, as in a real epoch; the final loss is read back once, inside the
 * time, so the figure covers finished work. One untimed warmup run of `--warmup-steps` comes first.
 *
 * Progress goes to stderr; stdout carries exactly one JSON line:
 *   {"peer":"tfjs","backend":"cpu"|"wasm","version":"4.22.0","simd":bool|null,"threads":n,
 *    "sizes":[...],"batch":n,"steps":n,"secondsPerRun":[...],"samplesPerSecond":[...],
 *    "lastLoss":number,"method":"minimize"|"trainOnBatch"|"fit"}
 *
 * With --serve=1 (--runs is then not needed) the process stays up, so that a caller can interleave
 * its runs with other work without paying the start-up, the data load and the warmup again: after
 * the warmup it prints that JSON line without the per-run fields, then reads stdin line by line;
 * each "run" line gets one timed run and one JSON line back, {"seconds","samplesPerSecond",
 * "lastLoss"}; end of input (or "quit") ends the process with status 0, any other line with 2.
 *
 * Exit codes: 0 success, 1 error, 2 bad arguments, 3 TensorFlow.js not installed (the caller
 * skips this peer).
 *
 * Training step: tfjs offers three ways, all available through --method. They were compared on
 * the 2-core dev machine while it was shared with other jobs (load average 1.4-2.3), 784-256-128-10,
 * 3 s or less per run; samples/s, median of each of three passes (the last one interleaving the
 * methods in one process):
 *
 *   backend  batch  minimize         trainOnBatch     fit
 *   wasm        32  2944 3092 2811   2939 2679 3088   2403 2164 2756
 *   wasm       512  2639 3497 2294   3399 1788 2466   3216 2117 2255
 *   cpu         32   230  251  327    312  274  293    293  240  293
 *   cpu        512   826  891          611  648         755  667
 *
 * All three run the same kernels (Dense fuses matmul + bias + ReLU just as tf.fused.matMul does,
 * and layers train with optimizer.minimize too), and the spread between passes is larger than
 * between methods: only fit at batch 32 on wasm trails, by some 10-20% (its per-batch callback
 * machinery and await). "minimize" is the default: as fast as any, it is the leanest loop, and
 * it reads the loss back once per run where trainOnBatch must read it on every step.
 *
 * "minimize" is a custom loop: tf.fused.matMul (matmul + bias + activation in one kernel, with its
 * own gradient) over tf.variable weights, tf.losses.softmaxCrossEntropy (fused softmax and
 * log-loss, gradient softmax - labels) on one-hot rows gathered along with the inputs by one
 * shuffled index, optimizer.minimize inside tf.tidy. "trainOnBatch" and "fit" train the
 * equivalent tf.layers.sequential model compiled with the same loss and Adam; the same seeds give
 * the three methods the same initial weights and batches, hence the same losses (fit aside, whose
 * reported loss is its epoch mean).
 */
'use strict';

const path = require('path');

/** Exit codes the benchmark driver relies on. */
const EXIT_ERROR = 1;
const EXIT_USAGE = 2;
const EXIT_NOT_INSTALLED = 3;

const METHODS = ['minimize', 'trainOnBatch', 'fit'];
const DEFAULT_METHOD = 'minimize';

const USAGE = `usage: node bench/peers/tfjs-mlp.js --backend=cpu|wasm --sizes=784,256,128,10 --batch=32 \\
         --steps=200 --runs=3 [--warmup-steps=5] [--method=${METHODS.join('|')}] [--serve=1]`;

/** Rows of the training set on which the untimed before/after loss is reported (stderr only). */
const EVAL_ROWS = 2048;

/** A bad command line: reported with the usage text, exit code 2. */
class UsageError extends Error {}

/** An expected failure (missing build, failed backend, leak): reported without a stack, exit 1. */
class PeerError extends Error {}

/** Progress and diagnostics: stderr only, stdout is reserved for the JSON result. */
function info(msg) {
  process.stderr.write(`tfjs-mlp: ${msg}\n`);
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

/** `text` as a positive integer (decimal digits only), else a UsageError naming `--${what}`. */
function positiveInt(what, text) {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--${what} must be a positive integer, got '${text}'`);
  return n;
}

/**
 * Parses `--name=value` flags; every flag but --warmup-steps and --method is required. Returns
 * { help: true } alone when --help or -h is among them.
 */
function parseArgs(argv) {
  if (argv.includes('--help') || argv.includes('-h')) return { help: true };
  const seen = new Map();
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m) throw new UsageError(`unexpected argument '${arg}' (flags are --name=value)`);
    const [, name, value] = m;
    if (seen.has(name)) throw new UsageError(`--${name} given twice`);
    seen.set(name, value);
  }
  const known = new Set(['backend', 'sizes', 'batch', 'steps', 'runs', 'warmup-steps', 'method', 'serve']);
  for (const name of seen.keys()) {
    if (!known.has(name)) throw new UsageError(`unknown flag --${name}`);
  }
  const serve = seen.has('serve');
  if (serve && seen.get('serve') !== '1') throw new UsageError(`--serve takes no value but 1, got '${seen.get('serve')}'`);
  for (const name of ['backend', 'sizes', 'batch', 'steps', ...(serve ? [] : ['runs'])]) {
    if (!seen.has(name)) throw new UsageError(`--${name} is required`);
  }

  const backend = seen.get('backend');
  if (backend !== 'cpu' && backend !== 'wasm') throw new UsageError(`--backend must be cpu or wasm, got '${backend}'`);
  const sizes = seen.get('sizes').split(',').map((s) => positiveInt('sizes entry', s.trim()));
  if (sizes.length < 2) throw new UsageError('--sizes needs at least an input and an output width');
  const method = seen.has('method') ? seen.get('method') : DEFAULT_METHOD;
  if (!METHODS.includes(method)) throw new UsageError(`--method must be one of ${METHODS.join(', ')}, got '${method}'`);

  return {
    backend,
    sizes,
    batch: positiveInt('batch', seen.get('batch')),
    steps: positiveInt('steps', seen.get('steps')),
    runs: seen.has('runs') ? positiveInt('runs', seen.get('runs')) : 0,
    warmupSteps: seen.has('warmup-steps') ? positiveInt('warmup-steps', seen.get('warmup-steps')) : 5,
    method,
    serve,
  };
}

// ---------------------------------------------------------------------------------------------
// Loading TensorFlow.js and the data
// ---------------------------------------------------------------------------------------------

const TF_PACKAGES = [
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-layers',
  '@tensorflow/tfjs-backend-cpu',
  '@tensorflow/tfjs-backend-wasm',
];

/** True when every TensorFlow.js package this peer uses resolves from bench/peers/node_modules. */
function tfInstalled() {
  try {
    for (const name of TF_PACKAGES) require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads tfjs and makes `backend` the active one. Returns tf, the layers API, and what the backend
 * runs with: SIMD (wasm only, else null) and its thread count.
 */
async function initTf(backend) {
  const tf = require('@tensorflow/tfjs-core');
  const tfl = require('@tensorflow/tfjs-layers');
  require('@tensorflow/tfjs-backend-cpu');
  const wasm = require('@tensorflow/tfjs-backend-wasm');

  let simd = null;
  let threads = 1; // the CPU backend is plain JS on the main thread
  if (backend === 'wasm') {
    // Load the .wasm binaries from the package's own dist/ (beside its Node entry point) rather
    // than relying on Emscripten's guess of the script directory.
    const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    wasm.setWasmPaths(distDir + path.sep);
  }
  // setBackend reports a failed initialisation (e.g. a missing .wasm file) by returning false
  // after logging tfjs's own warning, so production mode (which mutes warnings) comes after it.
  if (!(await tf.setBackend(backend))) throw new PeerError(`tf.setBackend('${backend}') failed (see tfjs's warning above)`);
  await tf.ready();
  if (tf.getBackend() !== backend) throw new PeerError(`active tfjs backend is ${tf.getBackend()}, expected ${backend}`);
  // Production mode: documented as the fast setting, and it mutes the "install tfjs-node" banner
  // the CPU backend prints on its first tensor.
  tf.enableProdMode();

  if (backend === 'wasm') {
    // With SIMD support (and no threads, which tfjs never enables in Node) the backend loads
    // tfjs-backend-wasm-simd.wasm, else the plain tfjs-backend-wasm.wasm.
    simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    const multithread = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
    threads = wasm.getThreadsCount();
    info(`wasm: SIMD ${simd ? 'on' : 'off'}, multi-threading ${multithread ? 'on' : 'off'}, ${threads} thread(s)`);
  }
  return { tf, tfl, simd, threads, version: tf.version_core };
}

/** blasnet's compiled library (for its Fashion-MNIST loader): needs `npm run build` at the root. */
function requireBlasnet() {
  const where = path.resolve(__dirname, '..', '..', 'dist', 'lib');
  try {
    require.resolve(where);
  } catch {
    throw new PeerError(`blasnet is not built (no ${where}); run \`npm run build\` at the repository root first`);
  }
  return require(where);
}

/** The Fashion-MNIST training set, through blasnet's loader. */
function loadTrainingSet() {
  return requireBlasnet().loadFashionMnist({ split: 'train' });
}

// ---------------------------------------------------------------------------------------------
// Batching
// ---------------------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so the shuffles are the same from one invocation to the next. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Hands out the row indices of successive minibatches: a fresh Fisher-Yates permutation of all
 * rows at the start of each epoch, `batch` rows at a time, the short tail of an epoch dropped.
 * Each call returns a new Int32Array (tfjs's CPU backend keeps a tensor's array by reference, so
 * a view of the permutation would change under it at the next shuffle).
 */
class BatchSampler {
  constructor(rows, batch, seed) {
    if (batch > rows) throw new RangeError(`BatchSampler: batch ${batch} exceeds the ${rows} rows`);
    this.batch = batch;
    this.perm = new Int32Array(rows);
    for (let i = 0; i < rows; i++) this.perm[i] = i;
    this.random = mulberry32(seed);
    this.pos = rows; // forces a shuffle on first use
  }

  /** Rows left in the current epoch, as whole batches. */
  batchesLeftInEpoch() {
    if (this.pos + this.batch > this.perm.length) this.shuffle();
    return Math.floor((this.perm.length - this.pos) / this.batch);
  }

  /** The next `count` batches' row indices, as one array (count * batch rows). */
  next(count = 1) {
    if (this.pos + this.batch > this.perm.length) this.shuffle();
    const end = this.pos + count * this.batch;
    if (end > this.perm.length) throw new Error('BatchSampler.next: request crosses an epoch boundary');
    const ids = this.perm.slice(this.pos, end);
    this.pos = end;
    return ids;
  }

  shuffle() {
    const p = this.perm;
    for (let i = p.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    this.pos = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Trainers: one per way of running a training step. Making one builds a fresh model (untimed);
// train(data, sampler, steps) runs the steps and resolves to the last loss; evalLoss(x, y) is the
// model's loss on a fixed set (untimed, for the progress report); dispose() frees the model.
// ---------------------------------------------------------------------------------------------

/** Throws if the live tensor count moved between two steps of a run (a leak in the loop). */
function checkNoLeak(tf, expected, where) {
  const now = tf.memory().numTensors;
  if (now !== expected) throw new PeerError(`tensor leak: ${now} live tensors ${where}, expected ${expected}`);
}

/**
 * Custom loop: weights as tf.variable, each layer one fused kernel (matmul + bias + activation),
 * Adam through optimizer.minimize inside tf.tidy. Initialisation matches tf.layers.dense's
 * defaults (Glorot-uniform kernel, zero bias).
 */
function minimizeTrainer(tf, sizes, seed) {
  const weights = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const [fanIn, fanOut] = [sizes[l], sizes[l + 1]];
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    // tidy releases the initial values; the variables survive it.
    weights.push(tf.tidy(() => ({
      w: tf.variable(tf.randomUniform([fanIn, fanOut], -limit, limit, 'float32', seed + l)),
      b: tf.variable(tf.zeros([fanOut])),
    })));
  }
  const varList = weights.flatMap(({ w, b }) => [w, b]);
  const optimizer = tf.train.adam(1e-3);

  const logits = (x) => {
    let h = x;
    weights.forEach(({ w, b }, l) => {
      h = tf.fused.matMul({ a: h, b: w, bias: b, activation: l + 1 < weights.length ? 'relu' : 'linear' });
    });
    return h;
  };

  return {
    evalLoss(x, y) {
      return tf.tidy(() => tf.losses.softmaxCrossEntropy(y, logits(x)).dataSync()[0]);
    },
    async train(data, sampler, steps) {
      let loss = null;
      let live = -1;
      for (let s = 0; s < steps; s++) {
        const next = tf.tidy(() => {
          const ids = tf.tensor1d(sampler.next(), 'int32');
          const xb = tf.gather(data.x, ids);
          const yb = tf.gather(data.y, ids);
          return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(yb, logits(xb)), true, varList);
        });
        if (loss !== null) loss.dispose();
        loss = next;
        // Adam creates its moment variables on the first step; from then on the count must hold.
        if (s === 0) live = tf.memory().numTensors;
        else checkNoLeak(tf, live, `after step ${s + 1}`);
      }
      const value = (await loss.data())[0];
      loss.dispose();
      return value;
    },
    dispose() {
      optimizer.dispose();
      for (const v of varList) v.dispose();
    },
  };
}

/** A tf.layers model equivalent to minimizeTrainer's, compiled with Adam and the same loss. */
function layersModel(tf, tfl, sizes, seed) {
  const model = tfl.sequential();
  for (let l = 0; l + 1 < sizes.length; l++) {
    model.add(tfl.layers.dense({
      units: sizes[l + 1],
      inputShape: l === 0 ? [sizes[0]] : undefined,
      activation: l + 2 < sizes.length ? 'relu' : 'linear',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + l }),
      biasInitializer: 'zeros',
    }));
  }
  // Logits in, one-hot labels: tfjs-core's fused softmax cross-entropy (its gradient is
  // softmax - labels), not the layers' 'categoricalCrossentropy' on probabilities.
  model.compile({
    optimizer: tf.train.adam(1e-3),
    loss: (yTrue, yPred) => tf.losses.softmaxCrossEntropy(yTrue, yPred),
  });
  return model;
}

/** evalLoss for a layers model: the compiled loss on one forward pass over x. */
function layersEvalLoss(tf, model) {
  return (x, y) => tf.tidy(() => tf.losses.softmaxCrossEntropy(y, model.predict(x, { batchSize: x.shape[0] })).dataSync()[0]);
}

/** dispose for a layers model; the optimizer is ours (passed in, not named), so it goes too. */
function layersDispose(model) {
  return () => {
    model.optimizer.dispose();
    model.dispose();
  };
}

/** model.trainOnBatch per step; the API reads the loss back on every step. */
function trainOnBatchTrainer(tf, tfl, sizes, seed) {
  const model = layersModel(tf, tfl, sizes, seed);
  return {
    evalLoss: layersEvalLoss(tf, model),
    async train(data, sampler, steps) {
      let loss = NaN;
      let live = -1;
      for (let s = 0; s < steps; s++) {
        const [xb, yb] = tf.tidy(() => {
          const ids = tf.tensor1d(sampler.next(), 'int32');
          return [tf.gather(data.x, ids), tf.gather(data.y, ids)];
        });
        loss = await model.trainOnBatch(xb, yb);
        xb.dispose();
        yb.dispose();
        if (s === 0) live = tf.memory().numTensors;
        else checkNoLeak(tf, live, `after step ${s + 1}`);
      }
      return loss;
    },
    dispose: layersDispose(model),
  };
}

/**
 * model.fit over the run's rows, gathered in one piece per epoch segment (the same shuffled rows,
 * in the same order, as the per-step samplers), shuffle off since they are already shuffled.
 * fit reports the mean loss of its epoch, so the returned loss is that of the last segment.
 */
function fitTrainer(tf, tfl, sizes, seed) {
  const model = layersModel(tf, tfl, sizes, seed);
  return {
    evalLoss: layersEvalLoss(tf, model),
    async train(data, sampler, steps) {
      let loss = NaN;
      let live = -1;
      for (let done = 0; done < steps;) {
        const count = Math.min(steps - done, sampler.batchesLeftInEpoch());
        const [xs, ys] = tf.tidy(() => {
          const ids = tf.tensor1d(sampler.next(count), 'int32');
          return [tf.gather(data.x, ids), tf.gather(data.y, ids)];
        });
        const history = await model.fit(xs, ys, { batchSize: sampler.batch, epochs: 1, shuffle: false, verbose: 0 });
        xs.dispose();
        ys.dispose();
        loss = history.history.loss[0];
        if (done === 0) live = tf.memory().numTensors;
        else checkNoLeak(tf, live, `after ${done + count} steps`);
        done += count;
      }
      return loss;
    },
    dispose: layersDispose(model),
  };
}

function makeTrainer(method, tf, tfl, sizes, seed) {
  switch (method) {
    case 'minimize': return minimizeTrainer(tf, sizes, seed);
    case 'trainOnBatch': return trainOnBatchTrainer(tf, tfl, sizes, seed);
    case 'fit': return fitTrainer(tf, tfl, sizes, seed);
    default: throw new Error(`unknown method ${method}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(argv) {
  const opts = parseArgs(argv);
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!tfInstalled()) {
    info('TensorFlow.js is not installed for the benchmark peers; run `npm ci --prefix bench/peers`');
    return EXIT_NOT_INSTALLED;
  }

  requireBlasnet(); // fail early, before tfjs starts, if the root is not built

  // tfjs prints through console.log in places (tensor.print, model.summary, debug mode): keep
  // stdout for the JSON result alone.
  console.log = console.error;

  const { tf, tfl, simd, threads, version } = await initTf(opts.backend);
  info(`tfjs ${version}, backend ${tf.getBackend()}, method ${opts.method}`);

  const train = loadTrainingSet();
  const rows = train.x.rows;
  const classes = opts.sizes[opts.sizes.length - 1];
  if (train.x.cols !== opts.sizes[0]) throw new UsageError(`--sizes starts with ${opts.sizes[0]} but the images have ${train.x.cols} pixels`);
  if (classes < train.classes) throw new UsageError(`--sizes ends with ${classes} outputs but the data has ${train.classes} classes`);
  if (opts.batch > rows) throw new UsageError(`--batch=${opts.batch} exceeds the ${rows} training rows`);

  // The whole set as tensors, once: inputs and one-hot labels, gathered together per batch.
  const oneHot = new Float32Array(rows * classes);
  for (let i = 0; i < rows; i++) oneHot[i * classes + train.labels[i]] = 1;
  const data = { x: tf.tensor2d(train.x.data, [rows, train.x.cols]), y: tf.tensor2d(oneHot, [rows, classes]) };
  const evalRows = Math.min(EVAL_ROWS, rows);
  const evalSet = { x: tf.slice(data.x, [0, 0], [evalRows, -1]), y: tf.slice(data.y, [0, 0], [evalRows, -1]) };
  const baseline = tf.memory().numTensors;
  info(`Fashion-MNIST train: ${rows} x ${train.x.cols} in tensors; sizes ${opts.sizes.join('-')}, batch ${opts.batch}`);

  // Run 0 is the untimed warmup.
  const timedRun = async (run) => {
    const warmup = run === 0;
    const steps = warmup ? opts.warmupSteps : opts.steps;
    const trainer = makeTrainer(opts.method, tf, tfl, opts.sizes, 1000 * run + 1);
    const sampler = new BatchSampler(rows, opts.batch, 7919 * run + 1);
    const before = trainer.evalLoss(evalSet.x, evalSet.y);

    const t0 = process.hrtime.bigint();
    const loss = await trainer.train(data, sampler, steps);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

    const after = trainer.evalLoss(evalSet.x, evalSet.y);
    trainer.dispose();
    checkNoLeak(tf, baseline, `after run ${run} released its model`);
    if (!Number.isFinite(loss)) throw new PeerError(`training loss is ${loss} after ${steps} steps`);

    const rate = (steps * opts.batch) / seconds;
    const label = warmup ? 'warmup' : `run ${run}${opts.serve ? '' : `/${opts.runs}`}`;
    info(`${label}: ${steps} steps in ${seconds.toFixed(3)} s, ${rate.toFixed(0)} samples/s, ` +
      `last loss ${loss.toFixed(4)} (loss on ${evalRows} rows ${before.toFixed(4)} -> ${after.toFixed(4)})`);
    return { seconds, rate, loss };
  };

  await timedRun(0);
  const result = {
    peer: 'tfjs',
    backend: opts.backend,
    version,
    simd,
    threads,
    sizes: opts.sizes,
    batch: opts.batch,
    steps: opts.steps,
    method: opts.method,
  };
  if (opts.serve) return serve(result, timedRun);

  const secondsPerRun = [];
  const samplesPerSecond = [];
  let lastLoss = NaN;
  for (let run = 1; run <= opts.runs; run++) {
    const r = await timedRun(run);
    secondsPerRun.push(r.seconds);
    samplesPerSecond.push(r.rate);
    lastLoss = r.loss;
  }
  process.stdout.write(`${JSON.stringify({ ...result, secondsPerRun, samplesPerSecond, lastLoss })}\n`);
  return 0;
}

/** The --serve loop: `infoLine` once, then one timed run per "run" line on stdin. */
async function serve(infoLine, timedRun) {
  process.stdout.write(`${JSON.stringify(infoLine)}\n`);
  const lines = require('readline').createInterface({ input: process.stdin, crlfDelay: Infinity });
  let run = 0;
  try {
    for await (const line of lines) {
      const command = line.trim();
      if (command === 'quit') break;
      if (command !== 'run') throw new UsageError(`expected "run" or "quit" on stdin, got '${command}'`);
      const r = await timedRun(++run);
      process.stdout.write(`${JSON.stringify({ seconds: r.seconds, samplesPerSecond: r.rate, lastLoss: r.loss })}\n`);
    }
  } finally {
    // The caller may still hold our stdin open: let go of it so that the process can end.
    lines.close();
    process.stdin.destroy();
  }
  return 0;
}

/** Runs main and turns its outcome into the exit code, with a message on stderr on failure. */
function run(argv) {
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      if (e instanceof UsageError) {
        process.stderr.write(`tfjs-mlp: ${e.message}\n${USAGE}\n`);
        process.exitCode = EXIT_USAGE;
      } else {
        // tfjs rejects some promises with plain objects ({ message }) rather than Errors.
        const msg = e instanceof Error || (e && typeof e.message === 'string') ? e.message : String(e);
        // The stack's frames, without the name and message it starts with.
        const head = e instanceof Error && !(e instanceof PeerError) ? `${e.name}: ${e.message}` : null;
        const where = head && typeof e.stack === 'string' && e.stack.startsWith(head) ? e.stack.slice(head.length) : '';
        process.stderr.write(`tfjs-mlp: error: ${msg}${where}\n`);
        process.exitCode = EXIT_ERROR;
      }
    },
  );
}

if (require.main === module) run(process.argv.slice(2));

// The pieces, for comparing training-step methods in one process.
module.exports = { parseArgs, initTf, loadTrainingSet, BatchSampler, makeTrainer, METHODS };
