/**
 * Options objects across the public API, from one table: every function, constructor and method
 * that takes options refuses a misspelt key with ERR_BLASNET_ARG_RANGE naming it (a misspelt
 * option is never ignored), still accepts all its documented options, and refuses a non-object
 * options argument with ERR_BLASNET_ARG_TYPE; option values of the wrong type are
 * ERR_BLASNET_ARG_TYPE naming the option. Each category is one `it` that runs every case and lists
 * every failure at once. Nothing here needs the network: the queue and MPI cases stop at their
 * connection or before it.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  batchNorm, BatchIterator, checkModel, classificationReport, compileInference, confusionMatrixSpec, createMetric, csvLogger, Dataset,
  decodeModel, decodeSafetensors, defaultBackend, defaultBuild, dense, diagnosticsLogger, diagnosticsSpec, dropout, earlyStopping,
  encodeModel, encodeOnnx, encodeSafetensors, Ensemble, exportOnnx, gaussianNoise, initDistributed, integers, LBFGS, learningCurveSpec,
  learningCurvesSvg, loadFashionMnist, loadMnistLike, loadModel, loadModels, loadSafetensors, lrFinder, lrFinderSpec, lrFinderSvg, Matrix,
  mcPredict, MinMaxScaler, modelCheckpoint, PCA, predictClasses, predictProba, prelu, progressBar, readCsv, readTable, reduceLrOnPlateau,
  regressionReport, Rng, saveModel, saveModels, saveSafetensors, search, searchPlotSpec, Sequential, snapshotEnsemble, split,
  Standardizer, startQueueWorker, stateDictEntries, TabularPreprocessor, trainTestSplit, updateBatchNorm, writeConfusionMatrix,
  writeDiagnostics, writeIdx, writeLearningCurves, writeLrFinderPlot, writeSearchPlot, fitDistributed,
} from '../lib';
import type { Communicator, DiagnosticsData, History, LrFinderResult, SearchResult } from '../lib';

type Options = Record<string, unknown>;

interface Case {
  /** The label its messages start with. */
  fn: string;
  /** Calls it with `options` in the options' place (for a nested case, in the option `nested`). */
  call: (options: unknown) => unknown;
  /** Its documented options, all accepted together; several sets where some options exclude others. */
  valid: () => Options[];
  /**
   * The options of a nested object (budget, gradient, ...): messages name them `nested.key`, and
   * null there is not always a type error (build: null means the default).
   */
  nested?: string;
  /**
   * The valid call may still fail after its options are read (an optional package, Redis, MPI, a
   * value chosen to stop it early), but not on an option's name.
   */
  keysOnly?: boolean;
  /** A spec, which may also be a name: only its object form has options. */
  spec?: boolean;
}

const ROWS = 40;
const rng = new Rng(21);
const x = new Matrix(rng.uniformArray(ROWS * 3, -1, 1), ROWS, 3);
const labels = Int32Array.from({ length: ROWS }, (_, i) => (x.data[3 * i] > 0 ? 1 : 0));
const ones = new Float32Array(ROWS).fill(1);
const text = `a;b;c;label\n${Array.from({ length: 12 }, (_, i) => `${i};${i % 5};${i % 3 ? 'red' : 'blue'};${i % 2 ? 'x' : 'y'}`).join('\n')}\n`;
const records = Array.from({ length: ROWS }, (_, i) => ({ a: x.data[3 * i], b: x.data[3 * i + 1], label: labels[i], w: 1 }));
const quietStream = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
const backend = defaultBackend();

/** A compiled 3-4-2 classifier. */
function model(metrics: string[] = []): Sequential {
  return new Sequential({ inputSize: 3, seed: 1, layers: [dense(4, { activation: 'tanh' }), dense(2)] })
    .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 }, metrics: metrics as ['accuracy'] });
}

function bnModel(): Sequential {
  return new Sequential({ inputSize: 3, seed: 1, layers: [dense(4), batchNorm(), dense(2)] });
}

/** One rank alone: every collective leaves its buffer as it is. */
const soloCommunicator: Communicator = {
  rank: 0, size: 1, isRoot: true, threadLevel: 'funneled', timeoutMs: 1000,
  allreduce: () => undefined, broadcast: () => undefined, barrier: () => undefined, broadcastJson: <T>(v: T) => v, finalize: () => undefined,
  abort: () => {
    throw new Error('abort');
  },
};

/** A misspelling of `key` that no option has: a letter dropped, or one added to a short key. */
function misspell(key: string): string {
  return key.length > 3 ? key.slice(0, -2) + key.slice(-1) : `${key}s`;
}

type Outcome = { ok: true } | { ok: false; error: Error & { code?: string } };

async function outcome(f: () => unknown): Promise<Outcome> {
  try {
    const r = f();
    if (r && typeof (r as PromiseLike<unknown>).then === 'function') await r;
    return { ok: true };
  } catch (e) {
    return { ok: false, error: e as Error & { code?: string } };
  }
}

describe('options objects', function () {
  this.timeout(60000);
  let tmp = '';
  let history: History;
  let diagnostics: DiagnosticsData;
  let finder: LrFinderResult;
  let searched: SearchResult;
  let tensors: Uint8Array;
  let modelFile = '', modelsFile = '', weightsFile = '', buildModule = '';
  const cases: Case[] = [];

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-options-'));
    const logger = diagnosticsLogger({ every: 1 });
    history = model(['accuracy']).fit(x, labels, { epochs: 2, batchSize: 20, callbacks: [logger], validationSplit: 0.25 });
    diagnostics = logger.data;
    finder = lrFinder(model(), x, labels, { start: 1e-3, end: 10, steps: 20, batchSize: 10 });
    searched = await search({ space: { lr: 0.1, hidden: integers(2, 4) }, data: { x, y: labels }, trials: 2, budget: { epochs: 1 }, refit: false });
    tensors = encodeSafetensors(model(), { keys: { '0.weight': 'enc.weight' } });
    modelFile = path.join(tmp, 'model.blasnet');
    saveModel(modelFile, model());
    modelsFile = path.join(tmp, 'models.blasnet');
    saveModels(modelsFile, [model(), model()]);
    weightsFile = path.join(tmp, 'weights.safetensors');
    saveSafetensors(model(), weightsFile, { keys: { '0.weight': 'enc.weight' } });
    writeIdx(path.join(tmp, 'train-images-idx3-ubyte'), new Uint8Array(4 * 2 * 2).map((_, i) => i), [4, 2, 2]);
    writeIdx(path.join(tmp, 'train-labels-idx1-ubyte'), new Uint8Array([0, 1, 2, 3]), [4]);
    buildModule = path.join(tmp, 'build.js');
    fs.writeFileSync(buildModule, `exports.build = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))}).defaultBuild;\n`);

    const add = (fn: string, call: Case['call'], valid: Case['valid'], more: Partial<Case> = {}) => cases.push({ fn, call, valid, ...more });
    const file = (name: string) => path.join(tmp, name);
    const std = () => new Standardizer().fit(x);
    const fit = { epochs: 1, batchSize: 20, shuffle: true, seed: 3, verbose: false };

    // Training.
    add('Sequential', (o) => new Sequential(o as never), () => [{ inputSize: 3, layers: [dense(2)], seed: 1, backend, loss: 'mse' }]);
    add('compile', (o) => new Sequential({ inputSize: 3, layers: [dense(2)] }).compile(o as never),
      () => [{ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 }, metrics: ['accuracy'] }]);
    add('fit', (o) => model().fit(x, labels, o as never), () => [
      { ...fit, dropLast: true, validationSplit: 0.25, schedule: { name: 'step', stepSize: 1 }, scheduleEvery: 'step', clipNorm: 1, clipValue: 1,
        callbacks: [], sampleWeight: ones, classWeight: 'balanced', onNonFinite: 'stop', maxSteps: 10, timeLimitMs: 60000, minDelta: 0,
        augment: () => undefined, ema: { decay: 0.9 }, checks: false, threads: 1 },
      { ...fit, validationData: { x, y: labels }, swa: { startEpoch: 0, lr: 0.05 } },
    ]);
    add('fitAsync', (o) => model().fitAsync(x, labels, o as never), () => [
      { ...fit, signal: new AbortController().signal, onProgress: () => undefined },
    ]);
    add('fitDistributed', (o) => fitDistributed(model(), x, labels, o as never), () => [{ ...fit, communicator: soloCommunicator }]);
    add('initDistributed', (o) => initDistributed(o as never), () => [{ timeoutMs: -1 }], { keysOnly: true });
    add('forward', (o) => model().forward(x, o as never), () => [{ training: false, stochasticRng: new Rng(1) }]);
    add('lossAndGradient', (o) => model().lossAndGradient(x, labels, o as never), () => [{ loss: 'crossEntropy', weight: ones }]);
    add('lossValue', (o) => model().lossValue(x, labels, o as never), () => [{ loss: 'crossEntropy', training: false, weight: ones }]);
    add('predict', (o) => model().predict(x, o as never), () => [{ batchSize: 10 }, { batchSize: 10, mcSamples: 2, seed: 1 }]);
    add('evaluate', (o) => model().evaluate(x, labels, o as never), () => [{ batchSize: 10, metrics: ['accuracy'], sampleWeight: ones, classWeight: 'balanced' }]);
    add('diagnostics', (o) => {
      const m = model();
      m.lossAndGradient(x, labels);
      return m.diagnostics(o as never);
    }, () => [{ previousParams: model().params.slice() }]);
    add('LBFGS', (o) => new LBFGS(model(), o as never),
      () => [{ lr: 1, maxIter: 5, maxEval: 6, toleranceGrad: 1e-7, toleranceChange: 1e-9, historySize: 5, lineSearch: 'strongWolfe' }]);
    add('loss', (o) => model().setLoss(o as never), () => [{ name: 'crossEntropy', param: 0, reduction: 'sum' }], { spec: true });
    add('metrics', (o) => createMetric(o as never), () => [{ name: 'topKAccuracy', k: 2 }, { name: 'binaryAccuracy', threshold: 0.3 }], { spec: true });
    add('earlyStopping', (o) => earlyStopping(o as never), () => [{ monitor: 'loss', patience: 1, minDelta: 0, mode: 'min', restoreBestWeights: true }]);
    add('reduceLrOnPlateau', (o) => reduceLrOnPlateau(o as never), () => [
      { monitor: 'loss', mode: 'min', factor: 0.5, patience: 1, threshold: 1e-4, thresholdMode: 'rel', cooldown: 0, minLr: 0, eps: 1e-8 },
    ]);
    add('modelCheckpoint', (o) => modelCheckpoint(file('ck.blasnet'), o as never), () => [{ monitor: 'loss', mode: 'min', saveBestOnly: true, every: 1 }]);
    add('csvLogger', (o) => csvLogger(file('log.csv'), o as never), () => [{ append: true }]);
    add('progressBar', (o) => progressBar(o as never), () => [{ stream: quietStream, quiet: true }]);
    add('updateBatchNorm', (o) => updateBatchNorm(bnModel(), x, o as never), () => [{ batchSize: 10 }]);

    // Layers.
    add('dense', (o) => dense(4, o as never), () => [{
      activation: 'leakyRelu', activationParam: 0.1, bias: false, init: 'kaimingNormal', biasInit: 'zeros', l1: 0, l2: 0.01, dropConnect: 0.1,
      maxNorm: 3, name: 'hidden',
    }]);
    add('dropout', (o) => dropout(0.2, o as never), () => [{ mode: 'classic', name: 'drop' }]);
    add('batchNorm', (o) => batchNorm(o as never), () => [{ eps: 1e-3, momentum: 0.2, name: 'bn' }]);
    add('gaussianNoise', (o) => gaussianNoise(0.1, o as never), () => [{ name: 'noise' }]);
    add('prelu', (o) => prelu(o as never), () => [{ perUnit: true, init: 0.1, name: 'slope' }]);

    // Data.
    add('Dataset.from', (o) => Dataset.from(records, 'label', o as never), () => [{ sampleWeight: 'w', columns: ['a', 'b'] }]);
    add('BatchIterator', (o) => new BatchIterator(x, labels, o as never), () => [
      { batchSize: 8, shuffle: true, seed: 1, dropLast: true, backend, weights: ones, shard: { rank: 0, size: 2 } },
    ]);
    add('BatchIterator.epoch', (o) => [...new BatchIterator(x, labels, { batchSize: 8 }).epoch(o as never)], () => [{ checkFinite: true }]);
    add('readCsv', (o) => readCsv(text, o as never), () => [
      { header: true, columns: ['a', 'b'], label: 'label', classes: true, labelMap: { x: 0, y: 1 }, delimiter: ';', missing: 'skipRow' },
    ]);
    add('readTable', (o) => readTable(text, o as never), () => [{ delimiter: ';' }]);
    add('TabularPreprocessor.fit', (o) => TabularPreprocessor.fit(readTable(text, { delimiter: ';' }), o as never), () => [{
      label: 'label', features: ['a', 'b', 'c'], categorical: ['c'], standardize: true, impute: true, unknownCategory: 'error',
      task: 'classification', scaleTargets: true,
    }]);
    add('Standardizer', (o) => new Standardizer(o as never), () => [{ ddof: 1 }]);
    add('MinMaxScaler', (o) => new MinMaxScaler(o as never), () => [{ range: [-1, 1] }]);
    add('PCA', (o) => new PCA(o as never).fit(x), () => [{ components: 2, whiten: true, eps: 1e-5, backend: backend.name }]);
    add('trainTestSplit', (o) => trainTestSplit(x, labels, o as never), () => [
      { testFraction: 0.25, seed: 1, stratify: true }, { testSize: 10, seed: 1, stratify: false },
    ]);
    add('split', (o) => split(x, labels, o as never), () => [{ fractions: [0.5, 0.25, 0.25], seed: 1, stratify: true }]);
    add('writeIdx', (o) => writeIdx(file('w.idx.gz'), new Uint8Array([1, 2, 3]), [3], o as never), () => [{ gzip: true }]);
    add('loadMnistLike', (o) => loadMnistLike(tmp, o as never), () => [{ split: 'train', normalize: false }]);
    add('loadFashionMnist', (o) => loadFashionMnist(o as never), () => [{ dir: tmp, split: 'train', normalize: true }]);

    // Predictions, metrics, recipes.
    add('predictProba', (o) => predictProba(model(), x, o as never), () => [{ batchSize: 10 }]);
    add('predictClasses', (o) => predictClasses(model(), x, o as never), () => [{ batchSize: 10 }]);
    add('classificationReport', (o) => classificationReport(labels, labels, o as never), () => [{ classNames: ['a', 'b'], scores: ones }]);
    add('regressionReport', (o) => regressionReport(x, x, o as never), () => [{ names: ['a', 'b', 'c'] }]);
    add('mcPredict', (o) => mcPredict(model(), x, o as never), () => [{ samples: 2, batchSize: 10, seed: 1 }]);
    add('snapshotEnsemble', (o) => snapshotEnsemble(model(), x, labels, o as never), () => [
      { cycles: 2, epochsPerCycle: 1, etaMin: 0, batchSize: 20, shuffle: false, seed: 3, callbacks: [], verbose: false },
    ]);
    add('Ensemble.predict', (o) => new Ensemble([model(), model()]).predict(x, o as never), () => [{ batchSize: 10 }]);
    add('Ensemble.load', (o) => Ensemble.load(modelsFile, o as never), () => [{ backend: backend.name }]);
    // Ensemble.fitAsync hands every option but parallel to each member's fitAsync.
    add('fitAsync', (o) => new Ensemble([model()]).fitAsync(x, labels, o as never), () => [{ parallel: true, epochs: 1, batchSize: 20 }]);
    add('diagnosticsLogger', (o) => diagnosticsLogger(o as never), () => [{ every: 5, bins: 10 }]);
    add('lrFinder', (o) => lrFinder(model(), x, labels, o as never), () => [{
      start: 1e-3, end: 10, steps: 20, batchSize: 10, smoothing: 0.9, divergence: 4, optimizer: { name: 'sgd', lr: 0.1 }, loss: 'crossEntropy', seed: 2,
    }]);
    add('checkModel', (o) => checkModel(model(), x, labels, o as never), () => [{
      loss: 'crossEntropy', rows: 10, tolerance: 0.1, gradient: { rows: 4 }, overfit: { steps: 5 }, unitThreshold: 0.2, seed: 1,
    }]);
    add('checkModel', (o) => checkModel(model(), x, labels, { gradient: o as never, overfit: false }),
      () => [{ rows: 4, samples: 4, step: 1e-3, threshold: 1e-2 }], { nested: 'gradient' });
    add('checkModel', (o) => checkModel(model(), x, labels, { gradient: false, overfit: o as never }),
      () => [{ rows: 10, steps: 5, optimizer: { name: 'sgd', lr: 0.1 } }], { nested: 'overfit' });

    // Pictures: the renders need the optional plotting packages, so only their options are checked.
    add('learningCurveSpec', (o) => learningCurveSpec(history, o as never), () => [{ title: 't', metric: 'accuracy' }]);
    add('learningCurvesSvg', (o) => learningCurvesSvg(history, o as never), () => [{ title: 't', metric: 'accuracy' }], { keysOnly: true });
    add('writeLearningCurves', (o) => writeLearningCurves(history, file('curves'), o as never), () => [{ title: 't', metric: 'accuracy' }], { keysOnly: true });
    add('confusionMatrixSpec', (o) => confusionMatrixSpec([[1, 0], [0, 1]], ['a', 'b'], o as never), () => [{ title: 't' }]);
    add('writeConfusionMatrix', (o) => writeConfusionMatrix([[1, 0], [0, 1]], ['a', 'b'], file('confusion'), o as never), () => [{ title: 't' }], { keysOnly: true });
    add('diagnosticsSpec', (o) => diagnosticsSpec(diagnostics, o as never), () => [{ title: 't' }]);
    add('writeDiagnostics', (o) => writeDiagnostics(diagnostics, file('diagnostics'), o as never), () => [{ title: 't' }], { keysOnly: true });
    add('lrFinderSpec', (o) => lrFinderSpec(finder, o as never), () => [{ title: 't' }]);
    add('lrFinderSvg', (o) => lrFinderSvg(finder, o as never), () => [{ title: 't' }], { keysOnly: true });
    add('writeLrFinderPlot', (o) => writeLrFinderPlot(finder, file('lr'), o as never), () => [{ title: 't' }], { keysOnly: true });
    add('searchPlotSpec', (o) => searchPlotSpec(searched, o as never), () => [{ space: { lr: 0.1, hidden: integers(2, 4) }, title: 't' }]);
    add('writeSearchPlot', (o) => writeSearchPlot(searched, file('search'), o as never), () => [{ title: 't' }], { keysOnly: true });

    // Files and exports.
    add('saveModel', (o) => saveModel(file('extras.blasnet'), model(), o as never), () => [{
      optimizer: null, schedule: null, preprocessing: std().toJSON(), metadata: { run: 1 },
      compile: { optimizer: { name: 'sgd', lr: 0.1 }, metrics: ['accuracy'] }, columns: ['a', 'b', 'c'],
    }]);
    add('encodeModel', (o) => decodeModel(encodeModel(model(), o as never)), () => [{ metadata: { run: 1 }, columns: ['a', 'b', 'c'] }]);
    add('decodeModel', (o) => decodeModel(fs.readFileSync(modelFile), o as never), () => [{ backend, source: 'bytes' }]);
    add('loadModel', (o) => loadModel(modelFile, o as never), () => [{ backend: backend.name }]);
    add('loadModels', (o) => loadModels(modelsFile, o as never), () => [{ backend }]);
    add('compileInference', (o) => compileInference(model(), o as never), () => [{ freeze: true }]);
    add('encodeOnnx', (o) => encodeOnnx(model(), o as never), () => [{ opset: 13, graphName: 'g', preprocessing: std(), input: 'raw' }]);
    add('exportOnnx', (o) => exportOnnx(model(), file('m.onnx'), o as never), () => [{ opset: 21, graphName: 'g', preprocessing: std(), input: 'preprocessed' }]);
    add('stateDictEntries', (o) => stateDictEntries(model(), o as never), () => [{ keys: { '0.weight': 'enc.weight' } }]);
    add('encodeSafetensors', (o) => encodeSafetensors(model(), o as never), () => [{ keys: { '0.weight': 'enc.weight' } }]);
    add('saveSafetensors', (o) => saveSafetensors(model(), file('s.safetensors'), o as never), () => [{ keys: { '0.weight': 'enc.weight' } }]);
    add('decodeSafetensors', (o) => decodeSafetensors(model(), tensors, o as never), () => [{ keys: { '0.weight': 'enc.weight' }, source: 'bytes' }]);
    add('loadSafetensors', (o) => loadSafetensors(model(), weightsFile, o as never), () => [{ keys: { '0.weight': 'enc.weight' } }]);

    // Search.
    const base = { space: { lr: 0.1, hidden: 4 }, data: { x, y: labels }, trials: 1, budget: { epochs: 1 }, refit: false };
    add('search', (o) => search(o as never), () => [
      { space: { lr: 0.1, hidden: integers(2, 4) }, data: { x, y: labels }, trials: 1, strategy: 'random', metric: 'accuracy', folds: 2,
        budget: { epochs: 1 }, gridPoints: 3, coarseFraction: 0.5, narrow: 0.25, seed: 1, build: defaultBuild, workers: 1, threads: 1,
        backend: backend.name, refit: false, signal: new AbortController().signal, progress: quietStream, onTrial: () => undefined },
      { ...base, validationFraction: 0.25, build: { module: buildModule, name: 'build' } },
    ]);
    add('search', (o) => search({ ...base, budget: o as never }), () => [{ epochs: 1, minEpochs: 1, eta: 3, trialTimeMs: 60000 }], { nested: 'budget' });
    add('search', (o) => search({ ...base, data: o as never }), () => [
      { x, y: labels }, { table: readTable(text, { delimiter: ';' }), label: 'label', preprocessing: { categorical: ['c'] } },
    ], { nested: 'data' });
    add('search', (o) => search({ ...base, build: o as never }), () => [{ module: buildModule, name: 'build' }], { nested: 'build' });
    add('search', (o) => search({ ...base, queue: o as never }), () => [{ url: 'redis://127.0.0.1:1', name: 'q', connectTimeoutMs: 200 }],
      { nested: 'queue', keysOnly: true });
    add('integers', (o) => integers(1, 8, o as never), () => [{ log: true }]);
    add('worker', (o) => startQueueWorker(o as never), () => [{
      queue: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 }, concurrency: 1, threads: 1, lockMs: 1000, stalledMs: 1000, log: () => undefined,
    }], { keysOnly: true });
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const named = (c: Case) => `${c.fn}${c.nested ? ` (${c.nested})` : ''}`;

  it('a misspelt option is ERR_BLASNET_ARG_RANGE naming it', async () => {
    const failures: string[] = [];
    for (const c of cases) {
      const valid = c.valid()[0];
      const key = Object.keys(valid)[0];
      const typo = misspell(key);
      const expected = `${c.fn}: unknown option ${c.nested ? `${c.nested}.` : ''}${typo}`;
      const r = await outcome(() => c.call({ ...valid, [typo]: valid[key] }));
      if (r.ok) failures.push(`${named(c)}: ${typo} was accepted`);
      else if (r.error.code !== 'ERR_BLASNET_ARG_RANGE' || !(r.error instanceof RangeError) || r.error.message !== expected) {
        failures.push(`${named(c)}: expected RangeError ERR_BLASNET_ARG_RANGE "${expected}" but got ${r.error.constructor.name} ${r.error.code}: ${r.error.message}`);
      }
    }
    assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
  });

  it('every documented option is still accepted', async () => {
    const failures: string[] = [];
    for (const c of cases) {
      for (const valid of c.valid()) {
        const r = await outcome(() => c.call(valid));
        if (r.ok) continue;
        if (c.keysOnly && !/unknown option/.test(r.error.message)) continue;
        failures.push(`${named(c)} with ${Object.keys(valid).join(', ')}: ${r.error.code}: ${r.error.message}`);
      }
    }
    assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
  });

  it('an options argument that is not an object is ERR_BLASNET_ARG_TYPE', async () => {
    const failures: string[] = [];
    for (const c of cases.filter((k) => !k.nested && !k.spec)) {
      // A Map holds its entries where Object.keys does not see them: not an options object.
      for (const bad of [null, 5, 'epochs', [1], new Map([['epochs', 1]])]) {
        const r = await outcome(() => c.call(bad));
        if (r.ok) failures.push(`${named(c)}: ${JSON.stringify(bad)} was accepted`);
        else if (r.error.code !== 'ERR_BLASNET_ARG_TYPE') failures.push(`${named(c)} with ${JSON.stringify(bad)}: ${r.error.code}: ${r.error.message}`);
      }
    }
    assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
  });

  it('a Map given for an option that maps keys to values is ERR_BLASNET_ARG_TYPE, not read as empty', async () => {
    const x = new Matrix(new Rng(1).uniformArray(20 * 3), 20, 3);
    const y = Int32Array.from({ length: 20 }, (_, i) => i % 2);
    const m = new Sequential({ inputSize: 3, seed: 1, layers: [dense(2)] }).compile({ loss: 'crossEntropy', optimizer: 'adam' });
    const map = new Map([[1, 3]]);
    const failures: string[] = [];
    const expect = async (what: string, f: () => unknown) => {
      const r = await outcome(f);
      if (r.ok) failures.push(`${what}: accepted`);
      else if (r.error.code !== 'ERR_BLASNET_ARG_TYPE' || !/Map/.test(r.error.message)) failures.push(`${what}: ${r.error.code}: ${r.error.message}`);
    };
    await expect('fit classWeight', () => m.fit(x, y, { epochs: 1, classWeight: map as never }));
    await expect('evaluate classWeight', () => m.evaluate(x, y, { classWeight: map as never }));
    await expect('saveSafetensors keys', () => encodeSafetensors(m, { keys: new Map([['0.weight', 'w']]) as never }));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-options-'));
    try {
      const file = path.join(dir, 'd.csv');
      fs.writeFileSync(file, 'a,label\n1,x\n2,y\n');
      await expect('readCsv labelMap', () => readCsv(file, { label: 'label', labelMap: new Map([['x', 0], ['y', 1]]) as never }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    await expect('search space', () => search({ space: new Map([['lr', 0.1]]) as never, data: { x, y }, trials: 1 }));
    assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
  });

  it('an option value a message cannot print as text (no prototype, nested 100000 deep, a toString that is not a function) is a coded error', async () => {
    let deep: unknown[] = [];
    for (let i = 0; i < 100000; i++) deep = [deep];
    const hostile: [string, unknown][] = [['Object.create(null)', Object.create(null)], ['an array nested 100000 deep', deep], ['{ toString: 1 }', { toString: 1 }]];
    const failures: string[] = [];
    for (const c of cases) {
      const valid = c.valid()[0];
      for (const key of Object.keys(valid)) {
        for (const [what, value] of hostile) {
          const r = await outcome(() => c.call({ ...valid, [key]: value }));
          if (!r.ok && !(typeof r.error.code === 'string' && r.error.code.startsWith('ERR_BLASNET_'))) {
            failures.push(`${named(c)} with ${key}: ${what}: ${r.error.constructor.name}: ${r.error.message}`);
          }
        }
      }
    }
    assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
  });

  it('an option value of the wrong type is ERR_BLASNET_ARG_TYPE naming the option', async () => {
    const wrong: [string, () => unknown, string][] = [
      ['encodeOnnx graphName', () => encodeOnnx(model(), { graphName: 5 as never }), 'graphName'],
      ['encodeOnnx preprocessing', () => encodeOnnx(model(), { preprocessing: false }), 'preprocessing'],
      ['decodeSafetensors source', () => decodeSafetensors(model(), tensors, { source: 5 as never }), 'source'],
      ['decodeModel source', () => decodeModel(fs.readFileSync(modelFile), { source: 5 as never }), 'source'],
      ['loadModel backend', () => loadModel(modelFile, { backend: 5 as never }), 'backend'],
      ['Sequential backend', () => new Sequential({ inputSize: 3, layers: [dense(2)], backend: {} as never }), 'backend'],
      ['BatchIterator backend', () => new BatchIterator(x, labels, { batchSize: 8, backend: 5 as never }), 'backend'],
      ['PCA backend', () => new PCA({ backend: true as never }), 'backend'],
      ['dense bias', () => dense(2, { bias: 'no' as never }), 'bias'],
      ['dense name', () => dense(2, { name: 5 as never }), 'name'],
      ['dropout name', () => dropout(0.1, { name: '' }), 'name'],
      ['lossValue training', () => model().lossValue(x, labels, { training: 'yes' as never }), 'training'],
      ['earlyStopping restoreBestWeights', () => earlyStopping({ restoreBestWeights: 'yes' as never }), 'restoreBestWeights'],
      ['modelCheckpoint saveBestOnly', () => modelCheckpoint(path.join(tmp, 'c.blasnet'), { saveBestOnly: 1 as never }), 'saveBestOnly'],
      ['csvLogger append', () => csvLogger(path.join(tmp, 'l.csv'), { append: 'yes' as never }), 'append'],
      ['progressBar quiet', () => progressBar({ quiet: 1 as never }), 'quiet'],
      ['progressBar stream', () => progressBar({ stream: 5 as never }), 'stream'],
      ['checkModel gradient', () => checkModel(model(), x, labels, { gradient: true as never }), 'gradient'],
      ['snapshotEnsemble callbacks', () => snapshotEnsemble(model(), x, labels, { cycles: 1, epochsPerCycle: 1, callbacks: 5 as never }), 'callbacks'],
      ['Ensemble.fitAsync parallel', () => new Ensemble([model()]).fitAsync(x, labels, { parallel: 'yes' as never }), 'parallel'],
      ['regressionReport names', () => regressionReport(x, x, { names: 'abc' as never }), 'names'],
      ['integers log', () => integers(1, 8, { log: 'yes' as never }), 'log'],
      ['searchPlotSpec space', () => searchPlotSpec(searched, { space: 5 as never }), 'space'],
      ['diagnosticsSpec title', () => diagnosticsSpec(diagnostics, { title: 5 as never }), 'title'],
      ['search refit', () => search({ space: { lr: 0.1 }, data: { x, y: labels }, refit: 'no' as never }), 'refit'],
      ['search progress', () => search({ space: { lr: 0.1 }, data: { x, y: labels }, progress: 5 as never }), 'progress'],
      ['search build.name', () => search({ space: { lr: 0.1 }, data: { x, y: labels }, build: { module: buildModule, name: 5 as never } }), 'build.name'],
      ['worker log', () => startQueueWorker({ queue: 'redis://127.0.0.1:1', log: 5 as never }), 'log'],
    ];
    const failures: string[] = [];
    for (const [what, f, mentions] of wrong) {
      const r = await outcome(f);
      if (r.ok) failures.push(`${what}: accepted`);
      else if (r.error.code !== 'ERR_BLASNET_ARG_TYPE' || !r.error.message.includes(mentions)) failures.push(`${what}: ${r.error.code}: ${r.error.message}`);
    }
    assert.deepEqual(failures, [], `\n${failures.join('\n')}`);
  });
});
