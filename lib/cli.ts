#!/usr/bin/env node
/**
 * The blasnet command line: train, evaluate, predict, export, search, info, check, lr-find.
 *
 *   blasnet train                 the default job: a 784-256-128-10 ReLU MLP on Fashion-MNIST
 *   blasnet train --csv data.csv --label y
 *                                 a table: task detected, preprocessing fitted and stored in the
 *                                 model, sizes scaled to the data, early stopping, a held-out test set
 *   blasnet train --help          every option
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { defaultBackend, getBackend, setDefaultBackend } from './backend/select';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, loadFashionMnist, loadMnistLike, loadMnistLikeShared, readBytes } from './data/idx';
import type { MnistLike } from './data/idx';
import { stratifiedSplitKeepingSingletons, trainTestSplit } from './data/split';
import { readTable, TabularPreprocessor, takeRows } from './data/tabular';
import type { Table, Task } from './data/tabular';
import { BlasnetError, ErrorCode } from './errors';
import { pendingFile, writeFileAtomic } from './io/format';
import { loadModel, saveModel } from './io/model-file';
import { checkOutputPaths, commandInputs } from './io/paths';
import type { LoadedModel } from './io/model-file';
import { classificationReport, formatClassificationReport, formatRegressionReport, MAX_CONFUSION_CLASSES, regressionReport } from './metrics';
import { dense, dropout, Dropout } from './layers';
import type { DenseActivation } from './layers';
import { Sequential } from './model/sequential';
import { OPTIMIZER_NAMES } from './optim';
import type { OptimizerName, OptimizerSpec } from './optim';
import { commandLineLr, LR_HELP } from './optim/optimizers';
import { predictProba } from './predict';
import type { ScheduleSpec } from './schedules';
import { Matrix } from './tensor';
import { csvLogger, earlyStopping, progressBar } from './train/callbacks';
import type { BatchLogs, Callback, TrainContext } from './train/callbacks';
import { validationRows } from './train/fit';
import type { History } from './train/fit';
import { runStartChecksOnRows } from './recipe/checks';
import { writeConfusionMatrix } from './plot/confusion';
import { writeLearningCurves } from './plot/curves';
import { writeDiagnostics } from './plot/diagnostics';
import { diagnosticsLogger } from './recipe/diagnostics';
import { exportOnnx } from './interop/onnx';
import { saveSafetensors } from './interop/safetensors';
import { addRecipeCommands, columnNamesArg, flagNumber } from './recipe/cli';
import type { NetworkFlags, RecipeData, RecipeOptions } from './recipe/cli';
import { fitDistributed, initDistributed } from './distributed';
import { MLP_SPACE, search as runSearch, searchTableCsv, spaceFromJSON, startQueueWorker } from './search';
import type { SearchMetric, SearchStrategy } from './search';
import { writeSearchPlot } from './plot/search';

const VERSION: string = (require('../../package.json') as { version: string }).version;

function int(name: string, min = 1) {
  return (v: string): number => {
    const x = flagNumber(v);
    // A safe integer: past 2^53 neighbouring values are one number (--seed 1e20 and 1e20 + 1).
    if (!Number.isSafeInteger(x) || x < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min} (at most 2^53 - 1)`);
    return x;
  };
}

function positive(name: string) {
  return (v: string): number => {
    const x = flagNumber(v);
    if (!(x > 0) || !Number.isFinite(x)) throw new InvalidArgumentError(`${name} must be a positive number`);
    return x;
  };
}

function nonNegative(name: string) {
  return (v: string): number => {
    const x = flagNumber(v);
    if (!(x >= 0) || !Number.isFinite(x)) throw new InvalidArgumentError(`${name} must be a number >= 0`);
    return x;
  };
}

function fraction(name: string) {
  return (v: string): number => {
    const x = flagNumber(v);
    if (!(x >= 0 && x < 1)) throw new InvalidArgumentError(`${name} must be in [0, 1)`);
    return x;
  };
}

function sizes(v: string): number[] {
  const out = v.split(',').map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((x) => !Number.isInteger(x) || x < 1)) {
    throw new InvalidArgumentError('expected comma-separated positive integers, e.g. 256,128');
  }
  return out;
}

interface DataOptions {
  data?: string;
  csv?: string;
  testCsv?: string;
  label?: string;
  delimiter?: string;
}

/** --delimiter's value: one character, `\t` or `tab` for a tab. */
function delimiterArg(v: string): string {
  const d = v === '\\t' || v.toLowerCase() === 'tab' ? '\t' : v;
  if ([...d].length !== 1 || d === '"' || d === '\n' || d === '\r') {
    throw new InvalidArgumentError('--delimiter must be one character other than a quote or a line break (\\t or tab for a tab)');
  }
  return d;
}

/** `--delimiter` as a user types it. */
function delimiterFlag(d: string): string {
  return `--delimiter ${d === '\t' ? 'tab' : JSON.stringify(d)}`;
}

/** The first line of a file (within its first 64 KiB), or '' when it cannot be read. */
function firstLine(file: string): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const bytes = Buffer.alloc(65536);
      return bytes.subarray(0, fs.readSync(fd, bytes, 0, bytes.length, 0)).toString('utf8').replace(/^\uFEFF/, '').split(/\r?\n/)[0];
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

/**
 * A CSV file of the command, read with its --delimiter. A file read with another delimiter than
 * its own is ERR_BLASNET_DATA saying which --delimiter to pass: a header that reads as one column
 * holding another likely delimiter, or a file that fails to parse (a quoted field holding a comma
 * in a semicolon file: "Invalid Closing Quote") whose header line holds another likely delimiter
 * more often than the given one.
 */
function readCsv(file: string, o: { delimiter?: string }): Table {
  const delimiter = o.delimiter ?? ',';
  const others = [';', '\t', '|', ','].filter((c) => c !== delimiter);
  let table: Table;
  try {
    table = readTable(file, { delimiter });
  } catch (e) {
    if ((e as { code?: string }).code !== ErrorCode.DATA) throw e;
    const header = firstLine(file);
    const count = (c: string) => header.split(c).length - 1;
    const other = others.find((c) => count(c) > count(delimiter));
    if (other === undefined) throw e;
    throw new BlasnetError(ErrorCode.DATA, `${(e as Error).message}; the header line holds ${JSON.stringify(other)}: ` +
      `if the fields are separated by ${JSON.stringify(other)}, pass ${delimiterFlag(other)}`, { cause: e });
  }
  const only = table.columns.length === 1 ? String(table.columns[0]) : null;
  const other = only === null ? undefined : others.find((c) => only.includes(c));
  if (other !== undefined) {
    throw new BlasnetError(ErrorCode.DATA, `${file}: the header reads as one column, ${JSON.stringify(only)}; ` +
      `if its fields are separated by ${JSON.stringify(other)}, pass ${delimiterFlag(other)}`);
  }
  return table;
}

/** The IDX training or test set the options name: an MNIST-like directory, or Fashion-MNIST. */
/** An IDX split; with `shared`, on shared memory, for training in fitAsync's worker without a copy. */
function loadImages(o: DataOptions, split: 'train' | 'test', shared = false) {
  if (shared) return loadMnistLikeShared(o.data ?? FASHION_MNIST_DIR, { split });
  return o.data ? loadMnistLike(o.data, { split }) : loadFashionMnist({ split });
}

/**
 * Refuses the IDX images for a model trained on a table: they would skip its preprocessing (and a
 * table of 784 numeric columns, as Kaggle's MNIST CSVs, would even be scored on them).
 */
function imagesForModel(loaded: LoadedModel, file: string, what: string): void {
  const prep = loaded.preprocessor;
  if (prep) {
    throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: ${file} was trained on a table (label ${prep.labelColumns.map((s) => JSON.stringify(s)).join(', ')}); pass --csv with its columns`);
  }
}

/**
 * The training rows check and lr-find run on, and the task and output count of the model they
 * check. With a saved model that stores table preprocessing, a --csv file goes through it as
 * evaluate's does: columns by name, the model's task, class vocabulary and target scaling (the
 * training rows' statistics, not this file's). Without --model, a --csv file is prepared as train
 * prepares it with its default splits (prepareTable: the same preprocessing, task and training
 * rows, which also size the network buildNetwork makes). Otherwise the IDX images.
 */
function recipeData(o: RecipeOptions, loaded: LoadedModel | null, what: string): RecipeData {
  if (o.testCsv && !o.csv) throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: --test-csv needs --csv (the training file)`);
  if (o.csv && o.data) throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: pass --csv or --data, not both`);
  const tableFlags = [o.label !== undefined && '--label', o.categorical && '--categorical', o.standardize === false && '--no-standardize', o.impute === false && '--no-impute']
    .filter((f): f is string => typeof f === 'string');
  if (!o.csv && tableFlags.length) throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: ${tableFlags.join(', ')} read${tableFlags.length === 1 ? 's' : ''} a CSV table; give --csv`);
  const preparing = tableFlags.filter((f) => f !== '--label');
  if (loaded && preparing.length) {
    throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: ${preparing.join(', ')}: ${o.model}'s stored preprocessing reads the table; leave ${preparing.length === 1 ? 'it' : 'them'} out`);
  }
  if (loaded) {
    if (o.csv) {
      const t = loadTable({ ...o, model: o.model as string }, loaded, what);
      if (!t.prep.hasLabels(t.table)) {
        throw new BlasnetError(ErrorCode.DATA, `${what}: ${t.file} has no label column ${t.prep.labelColumns.map((s) => JSON.stringify(s)).join(', ')}; ${what} needs the labels`);
      }
      const task = t.prep.task as Task;
      if (o.task !== 'auto' && o.task !== task) throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: --task ${o.task}, but ${o.model} is a ${task} model`);
      return { x: t.prep.transform(t.table), y: t.prep.targets(t.table), task, outputs: t.prep.outputSize };
    }
    imagesForModel(loaded, o.model as string, what);
  }
  if (o.csv) {
    const d = prepareTable({ ...o, testSplit: TEST_SPLIT, standardize: o.standardize ?? true, impute: o.impute ?? true }, () => undefined, what);
    return { x: d.x, y: d.y, task: d.task, outputs: d.outputs };
  }
  if (o.task === 'regression') throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: IDX data sets hold classes; --task regression needs --csv`);
  const d = loadImages(o, 'train');
  return { x: d.x, y: d.labels, task: 'classification', outputs: trainingClasses(d, what) };
}

/** `1 thread`, `2 threads`. */
function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function setupBackend(o: { backend?: string; threads?: number }): void {
  if (o.backend) setDefaultBackend(o.backend as 'js' | 'native');
  if (o.threads) defaultBackend().setNumThreads(o.threads);
}

function scheduleFor(name: string, epochs: number): ScheduleSpec | undefined {
  switch (name) {
    case 'none': return undefined;
    case 'cosine': return { name: 'cosineAnnealing', tMax: epochs };
    case 'step': return { name: 'step', stepSize: Math.max(1, Math.floor(epochs / 3)), gamma: 0.1 };
    case 'onecycle': return undefined; // set per step below
    default: throw new InvalidArgumentError(`unknown schedule ${name}`);
  }
}

interface TrainOptions extends DataOptions {
  hidden?: number[];
  activation: DenseActivation;
  dropout: number;
  optimizer: string;
  lr?: number;
  weightDecay: number;
  schedule?: string;
  epochs?: number;
  batchSize?: number;
  seed: number;
  validationSplit?: number;
  patience?: number;
  testSplit: number;
  task: 'auto' | Task;
  loss?: 'mse' | 'huber' | 'l1';
  categorical?: string;
  standardize: boolean;
  impute: boolean;
  out?: string;
  history?: string;
  curves?: string;
  confusion?: string;
  diagnostics?: string | true;
  backend?: string;
  threads?: number;
  quiet?: boolean;
  checks: boolean;
  distributed?: boolean;
  classWeight: 'balanced' | 'none';
}

/** What prepareTable reads of train's options (check and lr-find give train's defaults). */
type TableOptions = Pick<TrainOptions, 'csv' | 'testCsv' | 'label' | 'delimiter' | 'task' | 'categorical' | 'standardize' | 'impute' | 'testSplit' | 'validationSplit' | 'seed'>;

/** train's --test-split default. */
const TEST_SPLIT = 0.2;

/** Every file a command writes, decided before any work starts. */
interface OutputPaths {
  model: string;
  history: string;
  curves: string;
  confusion?: string;
  diagnostics?: string;
}

/**
 * Output names: --out, or one named after the data (the CSV file's or IDX directory's name,
 * fashion-mnist for the default job), with the history and curves named after the model file.
 */
function outputPaths(o: TrainOptions): OutputPaths {
  const stem = (f: string) => path.basename(f).replace(/\.[^.]*$/, '') || 'model';
  const model = o.out ?? `${o.csv ? stem(o.csv) : o.data ? path.basename(path.resolve(o.data)) : 'fashion-mnist'}.blasnet`;
  const base = model.replace(/\.blasnet$/, '');
  return {
    model,
    history: o.history ?? `${base}.history.csv`,
    curves: o.curves ?? `${base}.curves`,
    ...(o.confusion ? { confusion: o.confusion } : {}),
    ...(o.diagnostics ? { diagnostics: o.diagnostics === true ? `${base}.diagnostics` : o.diagnostics } : {}),
  };
}

/** `--label a,b` as column names. */
/**
 * The column names of a comma-separated flag (--label, --categorical). A column's own name may
 * hold commas ("Income, USD"): with the file's `header`, the longest run of comma-separated
 * pieces that is one of its columns is taken as one name.
 */
function columnList(raw: string, header: readonly string[] = []): string[] {
  const pieces = raw.split(',');
  const out: string[] = [];
  for (let i = 0; i < pieces.length;) {
    let taken = 1;
    for (let j = pieces.length; j > i + 1; j--) {
      if (header.includes(pieces.slice(i, j).join(',').trim())) {
        taken = j - i;
        break;
      }
    }
    const name = pieces.slice(i, i + taken).join(',').trim();
    if (name !== '') out.push(name);
    i += taken;
  }
  return out;
}

function labelColumns(label: string | undefined, header?: readonly string[]): string[] {
  return columnList(label ?? 'label', header);
}

/**
 * Sizes for a table of `rows` training rows and `inputs` input columns: one hidden layer (two
 * from 10000 rows) whose width grows with sqrt(rows * inputs) within 32..256, and a batch of
 * about rows / 25 (16..256), so that a small table gets enough steps per epoch.
 */
function tableDefaults(rows: number, inputs: number): { hidden: number[]; batchSize: number } {
  const pow2 = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, 2 ** Math.round(Math.log2(Math.max(1, x)))));
  const width = pow2(Math.sqrt(rows * inputs), 32, 256);
  return { hidden: rows >= 10000 ? [width, width / 2] : [width], batchSize: pow2(rows / 25, 16, 256) };
}

/**
 * The network train builds, which check and lr-find build too: dense hidden layers of
 * `activation` (--hidden, or the sizes tableDefaults gives a table's training rows, 256,128 for
 * IDX images), dropout after each when asked, and a softmax head for classes or a linear one for
 * regression. Not compiled.
 */
function buildNetwork(o: NetworkFlags, d: { x: Matrix; outputs: number; task: Task }, table: boolean): { model: Sequential; hidden: number[] } {
  const hidden = o.hidden ?? (table ? tableDefaults(d.x.rows, d.x.cols).hidden : [256, 128]);
  const layers = [];
  for (const h of hidden) {
    layers.push(dense(h, { activation: o.activation }));
    if (o.dropout !== undefined && o.dropout > 0) layers.push(dropout(o.dropout));
  }
  // A table's standardised columns reach the head at about unit scale, where its Glorot weights
  // gave outputs far enough from 0 that the initial loss missed chance level on every seed (1.2 to
  // 2.2x ln 2 on two classes; even small random weights move a regression's mse by their
  // correlation with the target): the head of a table network starts at zero, its outputs 0,
  // the initial loss chance's exactly. Its first step moves it; the layers below follow from the second.
  const head = table ? { init: 'zeros' as const } : {};
  layers.push(d.task === 'classification' ? dense(d.outputs, { activation: 'softmax', ...head }) : dense(d.outputs, head));
  return { model: new Sequential({ inputSize: d.x.cols, seed: o.seed, layers }), hidden };
}

/** What train hands on to the model-building and reporting steps. */
interface Prepared {
  x: Matrix;
  y: Int32Array | Matrix;
  val?: { x: Matrix; y: Int32Array | Matrix };
  /** The test rows; for a regression, `truth` holds their labels as the file does (float64). */
  test: { x: Matrix; y: Int32Array | Matrix; truth?: Float64Array };
  task: Task;
  outputs: number;
  classNames?: readonly string[];
  preprocessor?: TabularPreprocessor;
  source: string;
}

/**
 * A CSV job's data, checked completely before training: the table preprocessing fitted on the
 * training rows, every file's labels mapped through its vocabulary (an unseen label fails here),
 * the test set (--test-csv, or a seeded stratified --test-split of the one file) and the
 * validation set (a seeded stratified --validation-split of the training rows). Both splits keep
 * the row of a class with one row in training (stratifiedSplitKeepingSingletons).
 */
function prepareTable(o: TableOptions, say: (s: string) => void, what = 'train'): Prepared {
  const csv = o.csv as string;
  if (labelColumns(o.label).length === 0) throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: --label must name the label column(s) of the CSV file`);
  const table = readCsv(csv, o);
  const label = labelColumns(o.label, table.columns);
  const fitOptions = {
    label, task: o.task, standardize: o.standardize, impute: o.impute,
    ...(o.categorical ? { categorical: columnList(o.categorical, table.columns) } : {}),
  };
  let trainTable: Table = table;
  let testTable: Table;
  let task: Task;
  let reason: string | null = null;
  let whole: TabularPreprocessor | null = null;
  if (o.testCsv) {
    testTable = scoredRows(readCsv(o.testCsv, o), o.testCsv, what);
  } else {
    // The task and class vocabulary of the whole file decide how to stratify the split.
    whole = TabularPreprocessor.fit(table, fitOptions);
    const y = whole.targets(table);
    const rows = new Matrix(new Float32Array(table.rows.length), table.rows.length, 1);
    // A class of one row stays in training, where the model learns it (a stratified split has no
    // share of it to give the test set, and there it would be a label never seen in training).
    const parts = y instanceof Int32Array
      ? stratifiedSplitKeepingSingletons(rows, y, { testFraction: o.testSplit, seed: o.seed })
      : { ...trainTestSplit(rows, null, { testFraction: o.testSplit, seed: o.seed }), singletons: 0 };
    if (parts.test.index.length === 0 && parts.singletons === table.rows.length) {
      throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: every one of the ${table.rows.length} classes of ${JSON.stringify(label.join(','))} has a single row, ` +
        `so none can be held out for testing${whole.task === 'classification' && o.task === 'classification' ? ' (is the label a quantity? --task regression)' : ''}; pass --test-csv`);
    }
    if (parts.test.index.length === 0 && parts.singletons > 0) {
      // Most classes of one row (kept in training), the rest too few for a share of the test set.
      throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: --test-split ${o.testSplit} of ${table.rows.length} rows leaves no test rows: ` +
        `${parts.singletons} of the rows are classes of a single row, kept in training, and the other ${table.rows.length - parts.singletons} give the test set none` +
        `${whole.task === 'classification' && o.task === 'classification' ? ' (is the label a quantity? --task regression)' : ''}; pass --test-csv`);
    }
    if (parts.test.index.length === 0 || parts.train.index.length === 0) {
      throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: --test-split ${o.testSplit} of ${table.rows.length} rows leaves no test or no training rows; pass --test-csv`);
    }
    trainTable = takeRows(table, parts.train.index);
    testTable = takeRows(table, parts.test.index);
    fitOptions.task = whole.task as Task;
    reason = whole.taskReason;
    const kept = parts.singletons > 0 ? `; ${plural(parts.singletons, 'row')} of classes with one row kept in training` : '';
    say(`test set: ${testTable.rows.length} of ${table.rows.length} rows of ${csv} (seeded${whole.task === 'classification' ? ', stratified' : ''}; --test-split ${o.testSplit}${kept})`);
  }
  // The columns' kinds are the whole file's, so the split's seed cannot change them.
  const prep = TabularPreprocessor.fit(trainTable, { ...fitOptions, ...(whole ? { kindsFrom: whole } : {}) });
  task = prep.task as Task;
  reason = prep.taskReason ?? reason;
  say(`task: ${task}${reason ? ` (${reason}; --task to override)` : ''}`);
  say(`preprocessing: ${prep.describe()}`);
  const test = {
    x: prep.transform(testTable), y: prep.targets(testTable),
    ...(task === 'regression' ? { truth: prep.labelValues(testTable) } : {}),
  };
  let x = prep.transform(trainTable);
  let y = prep.targets(trainTable);
  let val: Prepared['val'];
  const vs = o.validationSplit ?? 0.2;
  // The validation split's seed, one past the run's (2^32 - 1 to 0, as a 32-bit seed wrapped).
  const splitSeed = o.seed === 2 ** 32 - 1 ? 0 : o.seed + 1;
  if (vs > 0) {
    const parts = y instanceof Int32Array
      ? stratifiedSplitKeepingSingletons(x, y, { testFraction: vs, seed: splitSeed })
      : trainTestSplit(x, y, { testFraction: vs, seed: splitSeed });
    if (parts.test.x.rows === 0 && 'singletons' in parts && parts.singletons === x.rows) {
      throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: every one of the ${x.rows} classes of the training rows has a single row, ` +
        'so none can be held out for validation; pass --validation-split 0');
    }
    if (parts.test.x.rows === 0 || parts.train.x.rows === 0) {
      throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: --validation-split ${vs} of ${x.rows} rows leaves no validation or no training rows`);
    }
    val = { x: parts.test.x, y: parts.test.y as Int32Array | Matrix };
    x = parts.train.x;
    y = parts.train.y as Int32Array | Matrix;
  }
  return {
    x, y, val, test, task, outputs: prep.outputSize, preprocessor: prep, source: csv,
    ...(prep.classNames ? { classNames: prep.classNames } : {}),
  };
}

/**
 * The classes a model of an IDX training set has: the largest label + 1. A set without images
 * is refused here, before a model with no outputs is built.
 */
function trainingClasses(set: MnistLike, what: string): number {
  if (set.x.rows === 0) throw new BlasnetError(ErrorCode.DATA, `${what}: ${set.files.images} holds no images; training needs at least one`);
  let classes = 0;
  for (const c of set.labels) classes = Math.max(classes, c + 1);
  return classes;
}

/** A table to score: one with no data rows (a header alone) fails before any training, naming the file. */
function scoredRows(table: Table, file: string, what: string): Table {
  if (table.rows.length === 0) throw new BlasnetError(ErrorCode.DATA, `${what}: ${file} has no data rows; the test set needs at least one`);
  return table;
}

/**
 * The IDX test set against the training set, before any training: at least one image, the
 * training images' size, labels within the model's classes. Each would otherwise fail only in
 * the evaluation after training, with a message that names neither file.
 */
function checkTestImages(train: MnistLike, test: MnistLike, classes: number): void {
  if (test.x.rows === 0) throw new BlasnetError(ErrorCode.DATA, `train: ${test.files.images} holds no images; the test set needs at least one`);
  const [h, w] = train.imageShape;
  const [th, tw] = test.imageShape;
  if (th !== h || tw !== w) {
    throw new BlasnetError(ErrorCode.SHAPE, `train: the test images in ${test.files.images} are ${th}x${tw} (${th * tw} features) but the training images in ${train.files.images} are ${h}x${w} (${h * w} features)`);
  }
  const i = test.labels.findIndex((c) => c >= classes);
  if (i >= 0) {
    throw new BlasnetError(ErrorCode.LABEL, `train: ${test.files.labels}: label ${test.labels[i]} at row ${i + 1} is outside the ${classes} classes (0..${classes - 1}) of the training labels in ${train.files.labels}`);
  }
}

/** The default job's data (Fashion-MNIST or an IDX directory); its validation rows are fit's validationSplit. */
function prepareImages(o: TrainOptions): Prepared {
  if (o.task === 'regression') throw new BlasnetError(ErrorCode.ARG_RANGE, 'train: IDX data sets hold classes; --task regression needs --csv');
  const train = loadImages(o, 'train', true);
  const classes = trainingClasses(train, 'train');
  const test = loadImages(o, 'test');
  checkTestImages(train, test, classes);
  const named = !o.data && classes === FASHION_MNIST_CLASSES.length;
  return {
    x: train.x, y: train.labels, test: { x: test.x, y: test.labels }, task: 'classification', outputs: classes,
    source: o.data ?? `Fashion-MNIST (${FASHION_MNIST_DIR})`,
    ...(named ? { classNames: FASHION_MNIST_CLASSES } : {}),
  };
}

/**
 * A regression's predictions in the label's units, float64: the network's float32 outputs scaled
 * back without rounding to float32, whose steps are 128 apart near 1.7e9 (a timestamp label).
 */
function predictedValues(prep: TabularPreprocessor, model: Sequential, x: Matrix): Float64Array {
  return prep.inverseTargetsFloat64(model.predict(x));
}

/** Values of `k` outputs, row-major, as regressionReport reads them: as they are for one, in rows for several. */
function outputRows(v: Float64Array, k: number): Float64Array | Float64Array[] {
  return k === 1 ? v : Array.from({ length: v.length / k }, (_, i) => v.subarray(i * k, (i + 1) * k));
}

/**
 * The report of a test set: text for people, figures for the JSON line. A regression is scored
 * in the label's units and in float64, against `truth` (the labels as the file holds them).
 */
function report(task: Task, model: Sequential, x: Matrix, y: Int32Array | Matrix,
  outputs: { classNames?: readonly string[]; preprocessor?: TabularPreprocessor; truth?: Float64Array }) {
  if (task === 'classification') {
    // ROC AUC ranks by p(class 1); a logits head's class-1 output alone ranks otherwise.
    const p = predictProba(model, x);
    const yTrue = y as Int32Array;
    const names = outputs.classNames ?? Array.from({ length: p.cols }, (_, c) => String(c));
    if (p.cols > MAX_CONFUSION_CLASSES) {
      // Too many classes for a per-class report and its confusion matrix: the accuracy alone.
      const predicted = p.argmax();
      let hits = 0;
      for (let i = 0; i < yTrue.length; i++) if (predicted[i] === yTrue[i]) hits++;
      const accuracy = hits / yTrue.length;
      return {
        text: `accuracy ${accuracy.toFixed(4)} over ${p.cols} classes (a per-class report and confusion matrix are made for at most ${MAX_CONFUSION_CLASSES})`,
        figures: { accuracy }, confusion: undefined, names,
      };
    }
    const binary = p.cols === 2;
    const scores = binary ? Float32Array.from({ length: p.rows }, (_, i) => p.data[i * 2 + 1]) : undefined;
    const r = classificationReport(yTrue, p.argmax(), { classNames: names, ...(scores && new Set(yTrue).size === 2 ? { scores } : {}) });
    return {
      text: formatClassificationReport(r),
      figures: { accuracy: r.accuracy, macroF1: r.macro.f1, weightedF1: r.weighted.f1, ...(r.rocAuc !== undefined ? { rocAuc: r.rocAuc } : {}) },
      confusion: r.confusion,
      names,
    };
  }
  const prep = outputs.preprocessor as TabularPreprocessor;
  const k = prep.labelColumns.length;
  const r = regressionReport(outputRows(outputs.truth as Float64Array, k), outputRows(predictedValues(prep, model, x), k), { names: prep.labelColumns });
  return { text: formatRegressionReport(r), figures: { r2: r.r2, mae: r.mae, rmse: r.rmse } };
}

/** The report's figures for train's JSON line, which names the accuracy testAccuracy. */
function withoutAccuracy(figures: object): object {
  const { accuracy: _accuracy, ...rest } = figures as { accuracy?: number };
  return rest;
}

/** The exit code of a process ended by `signal`, as shells report it: 128 + its number. */
function exitCodeFor(signal: NodeJS.Signals): number {
  return 128 + (os.constants.signals[signal] ?? 0);
}

/**
 * SIGINT and SIGTERM while `train` runs. The first stops training after the current batch (the
 * training context's stop, through `callback`), and the run then ends as a normal one would,
 * saving what it trained, with the signal's exit code; a second exits at once, after `abandon`,
 * writing nothing more.
 */
function interruptible(abandon: () => void): { callback: Callback; readonly signal: NodeJS.Signals | null; remove(): void } {
  let ctx: TrainContext | null = null;
  let received: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received !== null) {
      process.stderr.write(`blasnet: ${signal} again: exiting without saving\n`);
      abandon();
      process.exit(exitCodeFor(received));
    }
    received = signal;
    savingAfterSignal = true;
    const again = signal === 'SIGINT' ? 'Ctrl-C' : signal;
    process.stderr.write(`blasnet: ${signal}: stopping after this batch, then saving what was trained (${again} again to exit without saving)\n`);
    ctx?.stop(`interrupted by ${signal}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    callback: {
      onTrainBegin(c) {
        ctx = c;
        if (received !== null) c.stop(`interrupted by ${received}`);
      },
    },
    get signal() {
      return received;
    },
    remove() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** The first `n` rows of a matrix or of labels, as a view: fit's training rows when it holds out the last ones. */
function firstRows<T extends Matrix | Int32Array>(a: T, n: number): T {
  if (a instanceof Int32Array) return a.subarray(0, n) as T;
  const m = a as Matrix;
  return new Matrix(m.data.subarray(0, n * m.cols), n, m.cols) as T;
}

async function train(o: TrainOptions): Promise<void> {
  if (o.testCsv && !o.csv) throw new BlasnetError(ErrorCode.ARG_RANGE, 'train: --test-csv needs --csv (the training file)');
  if (o.patience !== undefined && o.patience > 0 && o.validationSplit === 0) {
    throw new BlasnetError(ErrorCode.ARG_RANGE, `train: --patience ${o.patience} stops on the validation loss, and --validation-split 0 holds no validation rows; give a split, or --patience 0`);
  }
  if (o.csv && o.data) throw new BlasnetError(ErrorCode.ARG_RANGE, 'train: pass --csv or --data, not both');
  const files = outputPaths(o);
  // Every output is checked before the data loads, so a long run never ends unable to save.
  checkOutputPaths([
    { option: '--out', path: files.model },
    { option: '--history', path: files.history },
    { option: '--curves (.svg)', path: `${files.curves}.svg` },
    { option: '--curves (.png)', path: `${files.curves}.png` },
    ...(files.confusion ? [
      { option: '--confusion (.svg)', path: `${files.confusion}.svg` },
      { option: '--confusion (.png)', path: `${files.confusion}.png` },
    ] : []),
    ...(files.diagnostics ? [
      { option: '--diagnostics (.svg)', path: `${files.diagnostics}.svg` },
      { option: '--diagnostics (.png)', path: `${files.diagnostics}.png` },
    ] : []),
  ], commandInputs(o));
  setupBackend(o);
  // Under mpirun every rank runs this command; rank 0 alone prints and writes.
  const comm = o.distributed ? initDistributed() : null;
  const root = !comm || comm.isRoot;
  const started = Date.now();
  const say = (s: string) => {
    if (!o.quiet && root) process.stdout.write(`${s}\n`);
  };
  const table = Boolean(o.csv);
  say(`blasnet ${VERSION}: training on ${o.csv ?? o.data ?? 'Fashion-MNIST'}`);
  const d = table ? prepareTable(o, say) : prepareImages(o);
  if (d.task === 'classification' && o.loss) throw new BlasnetError(ErrorCode.ARG_RANGE, `train: --loss ${o.loss} is a regression loss; classification trains with cross-entropy`);
  if (d.task === 'regression' && o.classWeight === 'balanced') throw new BlasnetError(ErrorCode.ARG_RANGE, 'train: --class-weight balanced weights classes; this is a regression task');
  if (d.task === 'regression' && o.confusion) throw new BlasnetError(ErrorCode.ARG_RANGE, "train: --confusion draws a classifier's confusion matrix; this is a regression task");
  const sized = tableDefaults(d.x.rows, d.x.cols);
  const { model, hidden } = buildNetwork(o, d, table);
  const batchSize = o.batchSize ?? (table ? sized.batchSize : 128);
  const epochs = o.epochs ?? (table ? 500 : 15);
  const patience = o.patience ?? (table ? 20 : 0);
  const scheduleName = o.schedule ?? (table ? 'none' : 'cosine');
  const validationSplit = table ? 0 : o.validationSplit ?? 0.1;
  const classification = d.task === 'classification';
  const lr = o.lr ?? commandLineLr(o.optimizer as OptimizerName);
  // Given, 0 included (AdamW's own default is 0.01), or else the optimiser's own.
  const optimizer = { name: o.optimizer, lr, ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}) } as OptimizerSpec;
  const loss = classification ? 'crossEntropy' : o.loss ?? 'mse';
  model.compile({ loss, optimizer, metrics: [classification ? 'accuracy' : 'mae'] });
  const b = model.backend;
  const trainRows = validationSplit > 0 ? d.x.rows - validationRows('train', d.x.rows, validationSplit) : d.x.rows;
  const valRows = d.val ? d.val.x.rows : d.x.rows - trainRows;
  say(`${trainRows} training rows, ${valRows} validation rows, ${d.test.x.rows} test rows; ${classification ? `${d.outputs} classes` : `${d.outputs} target${d.outputs > 1 ? 's' : ''}, loss ${loss}`}`);
  say(`backend ${b.name} (${b.info().config}, ${plural(b.getNumThreads(), 'thread')})${comm ? `; ${comm.size} ranks (data-parallel over MPI), batch ${batchSize} per rank` : ''}`);
  say(model.summary());
  if (patience > 0 && valRows > 0) {
    say(`up to ${epochs} epochs of batch ${batchSize}; early stopping on the validation loss (patience ${patience}), best weights restored`);
  } else if (patience > 0) {
    say(`${epochs} epochs of batch ${batchSize}; no validation rows, so no early stopping`);
  }
  const schedule = scheduleName === 'onecycle'
    ? {
      name: 'oneCycle' as const, maxLr: lr, totalSteps: epochs * Math.ceil(Math.ceil(trainRows / (comm?.size ?? 1)) / batchSize),
      // It cycles the momentum (or beta1) of an optimiser that has one (adagrad and adadelta have neither).
      ...(model.optimizer?.momentum === undefined ? { cycleMomentum: false } : {}),
    }
    : scheduleFor(scheduleName, epochs);
  // The training rows' first 256 give the activation histograms: the forward passes of fitAsync run in its worker.
  const diagnostics = files.diagnostics ? diagnosticsLogger({ probe: new Matrix(d.x.data.subarray(0, Math.min(256, d.x.rows) * d.x.cols), Math.min(256, d.x.rows), d.x.cols) }) : null;
  // The history is written beside its file and takes its place only once the model is written,
  // so that a run that fails, diverges or is killed leaves the model and history of the run
  // before together.
  const pendingHistory = root ? pendingFile(files.history) : null;
  // An exit before the finally below (the reader of stdout gone) leaves no temporary either.
  const discardOnExit = () => pendingHistory?.discard();
  process.on('exit', discardOnExit);
  // Training runs in fitAsync's worker thread, leaving this one free to take SIGINT and SIGTERM
  // and stop it between batches (the ranks of a distributed run train on their own threads, and
  // mpirun handles the signals).
  const interrupt = comm ? null : interruptible(() => pendingHistory?.discard());
  try {
    const bar = progressBar({ quiet: o.quiet });
    // fitAsync makes its worker wait for every hook the callbacks have; the bar's batch updates
    // (drawn only on a terminal) come through onProgress instead, which does not.
    const { onBatchEnd: barBatch, ...barEpochs } = bar;
    const callbacks: Callback[] = [comm ? bar : barEpochs, csvLogger(pendingHistory?.path ?? files.history), ...(diagnostics ? [diagnostics] : [])];
    if (patience > 0 && valRows > 0) callbacks.push(earlyStopping({ monitor: 'valLoss', patience, restoreBestWeights: true }));
    if (interrupt) callbacks.push(interrupt.callback);
    const checks = o.checks && !o.quiet && root;
    const fitOptions = {
      epochs,
      batchSize,
      seed: o.seed,
      ...(d.val ? { validationData: d.val } : validationSplit > 0 ? { validationSplit } : {}),
      ...(schedule ? { schedule, scheduleEvery: scheduleName === 'onecycle' ? 'step' as const : 'epoch' as const } : {}),
      ...(o.classWeight === 'balanced' ? { classWeight: 'balanced' as const } : {}),
      callbacks,
    };
    let history: History;
    if (comm) {
      history = fitDistributed(model, d.x, d.y, { ...fitOptions, checks, communicator: comm });
    } else {
      // The checks fit would run on its training rows, run here so that their lines come before the epochs'.
      if (checks) runStartChecksOnRows(model, firstRows(d.x, trainRows), firstRows(d.y, trainRows));
      const tty = !o.quiet && process.stdout.isTTY === true;
      let ctx: TrainContext | null = null;
      callbacks.push({ onTrainBegin: (c) => void (ctx = c) });
      const onProgress = (p: { type: 'batch'; logs: BatchLogs } | { type: 'epoch' }) => {
        if (p.type === 'batch') barBatch?.call(bar, p.logs, ctx as TrainContext);
      };
      history = await model.fitAsync(d.x, d.y, { ...fitOptions, ...(tty ? { onProgress } : {}) });
    }
    // The ranks end with the same weights: the others leave the test, the files and the JSON line to rank 0.
    if (!root) return;
    if (history.diverged) {
      throw new BlasnetError(ErrorCode.DIVERGED, `training ${history.stopReason}; no model was written (--out ${files.model})`);
    }
    const interrupted = interrupt?.signal ?? null;
    if (interrupted !== null && history.epochs.length === 0) {
      process.stderr.write(`blasnet: interrupted by ${interrupted} before training began; no model was written (--out ${files.model})\n`);
      return;
    }
    const stopped = interrupted !== null && history.stopReason === `interrupted by ${interrupted}` ? interrupted : null;
    if (stopped) say(`interrupted by ${stopped} after ${plural(history.epochs.length, 'epoch')}: testing and saving what was trained`);
    const save = (figures: Record<string, unknown>): void => saveModel(files.model, model, {
      optimizer: model.optimizer?.state(),
      ...(d.preprocessor ? { preprocessing: d.preprocessor } : {}),
      metadata: {
        source: d.source, data: table ? 'csv' : 'idx', task: d.task, loss, epochs: history.epochs.length, batchSize, seed: o.seed, ...figures,
        seconds: (Date.now() - started) / 1000, backend: b.name, trainedAt: new Date().toISOString(), classNames: d.classNames ?? null,
        ...(stopped ? { interrupted: stopped } : {}),
      },
    });
    let test: ReturnType<Sequential['evaluate']>;
    let r: ReturnType<typeof report>;
    try {
      test = model.evaluate(d.test.x, d.test.y);
      r = report(d.task, model, d.test.x, d.test.y, { ...d, ...(d.test.truth ? { truth: d.test.truth } : {}) });
    } catch (e) {
      // What was trained is written before the error, without the test figures it could not have.
      save({});
      pendingHistory?.commit();
      process.stderr.write(`blasnet: testing failed; the trained model was written to ${path.resolve(files.model)} without test figures\n`);
      throw e;
    }
    const seconds = (Date.now() - started) / 1000;
    save({ testLoss: test.loss, ...r.figures });
    pendingHistory?.commit();
    say(`test set (${d.test.x.rows} rows):\n${r.text}`);
    // A regression's loss is the training loss, on the standardised targets, unlike the report's figures.
    const lossNote = !classification && d.preprocessor?.task === 'regression' ? ` (${loss} on the standardised targets)` : '';
    say(`test loss ${test.loss.toFixed(4)}${lossNote}${classification ? `  test accuracy ${test.accuracy.toFixed(4)}` : ''}  (${history.epochs.length} epochs; training and test ${seconds.toFixed(1)} s)`);
    const title = `${[d.x.cols, ...hidden, d.outputs].join('-')} ${o.activation} MLP on ${d.source} (${b.name} backend)`;
    const written = [`model written to ${path.resolve(files.model)}`, `history in ${path.resolve(files.history)}`];
    try {
      const curves = await writeLearningCurves(history, files.curves, { title });
      written.push(`learning curves in ${path.resolve(curves.svg)} and .png`);
      if (files.confusion && r.confusion && r.names) {
        const cm = await writeConfusionMatrix(r.confusion, r.names, files.confusion, { title: `Confusion matrix on the test set of ${d.source}` });
        written.push(`confusion matrix in ${path.resolve(cm.svg)} and .png`);
      }
      if (diagnostics && files.diagnostics) {
        const dg = await writeDiagnostics(diagnostics.data, files.diagnostics, { title: `Training diagnostics: ${title}` });
        written.push(`diagnostics in ${path.resolve(dg.svg)} and .png`);
      }
    } catch (e) {
      // The plotting packages are optional; without them the model and history still count.
      if ((e as { code?: string }).code !== ErrorCode.DEPENDENCY) throw e;
      process.stderr.write(`blasnet: no pictures drawn: ${(e as Error).message}\n`);
    }
    say(`${written.join('; ')}`);
    // The last line is machine-readable for scripts and benchmarks.
    process.stdout.write(`${JSON.stringify({
      task: d.task, testLoss: test.loss, ...(classification ? { testAccuracy: test.accuracy } : {}), ...withoutAccuracy(r.figures),
      seconds, epochs: history.epochs.length, backend: b.name, ...(comm ? { ranks: comm.size } : {}), ...(stopped ? { interrupted: stopped } : {}),
    })}\n`);
  } finally {
    // Nothing once the history is in place.
    pendingHistory?.discard();
    process.off('exit', discardOnExit);
    interrupt?.remove();
    // A run that was asked to stop ends with the signal's code, having saved what it trained.
    if (interrupt?.signal) process.exitCode = exitCodeFor(interrupt.signal);
  }
}

interface ModelCommandOptions extends DataOptions {
  model: string;
  backend?: string;
  threads?: number;
}

/** evaluate and predict read one data set: --csv, --test-csv (the same, by another name) or --data. */
function oneDataSource(o: ModelCommandOptions, what: string): void {
  const given = [o.csv !== undefined && '--csv', o.testCsv !== undefined && '--test-csv', o.data !== undefined && '--data'].filter(Boolean);
  if (given.length > 1) {
    throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: pass one of --csv, --test-csv and --data, not ${given.join(' and ')}`);
  }
}

/** A saved CSV model's table preprocessing and the table evaluate or predict reads. */
function loadTable(o: ModelCommandOptions, loaded: LoadedModel, what: string): { prep: TabularPreprocessor; table: Table; file: string } {
  const file = (o.csv ?? o.testCsv) as string;
  const prep = loaded.preprocessor;
  if (!prep) {
    throw new BlasnetError(ErrorCode.FORMAT, `${what}: ${o.model} holds no table preprocessing (it was not trained with --csv), so it cannot read ${file}`);
  }
  if (o.label !== undefined && labelColumns(o.label, prep.labelColumns).join('\u0000') !== prep.labelColumns.join('\u0000')) {
    throw new BlasnetError(ErrorCode.ARG_RANGE, `${what}: the model's label column is ${prep.labelColumns.map((s) => JSON.stringify(s)).join(', ')}, not ${JSON.stringify(o.label)}`);
  }
  const table = readCsv(file, o);
  if (table.rows.length === 0) throw new BlasnetError(ErrorCode.DATA, `${what}: ${file} has no data rows (a header alone); ${what} needs at least one`);
  return { prep, table, file };
}

async function evaluate(o: ModelCommandOptions & { confusion?: string }): Promise<void> {
  oneDataSource(o, 'evaluate');
  if (o.confusion) {
    checkOutputPaths([{ option: '--confusion (.svg)', path: `${o.confusion}.svg` }, { option: '--confusion (.png)', path: `${o.confusion}.png` }], commandInputs(o));
  }
  setupBackend(o);
  const loaded = loadModel(o.model);
  const { model, metadata } = loaded;
  let x: Matrix, y: Int32Array | Matrix, task: Task, classNames: readonly string[] | undefined, prep: TabularPreprocessor | undefined;
  let truth: Float64Array | undefined;
  if (o.csv || o.testCsv) {
    const t = loadTable(o, loaded, 'evaluate');
    scoredRows(t.table, t.file, 'evaluate');
    prep = t.prep;
    if (!prep.hasLabels(t.table)) throw new BlasnetError(ErrorCode.DATA, `evaluate: ${t.file} has no label column ${prep.labelColumns.map((s) => JSON.stringify(s)).join(', ')}; predict reads unlabeled files`);
    y = prep.targets(t.table);
    x = prep.transform(t.table);
    task = prep.task as Task;
    classNames = prep.classNames ?? undefined;
    if (task === 'regression') truth = prep.labelValues(t.table);
  } else {
    imagesForModel(loaded, o.model, 'evaluate');
    const set = loadImages(o, 'test');
    ({ x } = set);
    y = set.labels;
    task = 'classification';
    classNames = (metadata?.classNames as string[] | null) ?? undefined;
  }
  if (o.confusion && task === 'regression') throw new BlasnetError(ErrorCode.ARG_RANGE, `evaluate: --confusion draws a classifier's confusion matrix; ${o.model} is a regression model`);
  if (!model.lossSpec) model.setLoss(task === 'classification' ? 'crossEntropy' : ((metadata?.loss as 'mse' | 'huber' | 'l1' | undefined) ?? 'mse'));
  const metrics = task === 'classification' ? ['accuracy' as const] : ['mae' as const];
  const r0 = model.evaluate(x, y, { metrics });
  const r = report(task, model, x, y, { ...(classNames ? { classNames } : {}), ...(prep ? { preprocessor: prep } : {}), ...(truth ? { truth } : {}) });
  process.stdout.write(`${x.rows} rows:\n${r.text}\n`);
  if (o.confusion && r.confusion && r.names) {
    try {
      const cm = await writeConfusionMatrix(r.confusion, r.names, o.confusion, { title: `Confusion matrix of ${path.basename(o.model)}` });
      process.stdout.write(`confusion matrix in ${path.resolve(cm.svg)} and .png\n`);
    } catch (e) {
      // The plotting packages are optional; without them the scores still count.
      if ((e as { code?: string }).code !== ErrorCode.DEPENDENCY) throw e;
      process.stderr.write(`blasnet: no pictures drawn: ${(e as Error).message}\n`);
    }
  }
  process.stdout.write(`${JSON.stringify({ samples: x.rows, task, loss: r0.loss, ...r.figures })}\n`);
}

/** A CSV cell: quoted when it holds a delimiter, quote or line break. */
function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * blasnet predict: one CSV line per row of the data set, numbered from 1 whatever it is read from
 * (a CSV file's data rows, header not counted, as its errors name them; IDX images in file order).
 */
function predict(o: ModelCommandOptions & { output?: string; proba?: boolean }): void {
  oneDataSource(o, 'predict');
  if (o.output) checkOutputPaths([{ option: '--output', path: o.output }], commandInputs(o));
  setupBackend(o);
  const loaded = loadModel(o.model);
  const { model, metadata } = loaded;
  // A classifier's outputs, as probabilities with --proba (predictProba: a logits head goes through
  // the softmax its loss fused); a file without a loss is read under crossEntropy, as evaluate reads it.
  const scores = (x: Matrix): Matrix => {
    if (!o.proba) return model.predict(x);
    if (!model.lossSpec) model.setLoss('crossEntropy');
    return predictProba(model, x);
  };
  const lines: string[] = [];
  let rows: number;
  if (o.csv || o.testCsv) {
    const { prep, table } = loadTable(o, loaded, 'predict');
    const x = prep.transform(table);
    const p = prep.task === 'classification' ? scores(x) : model.predict(x);
    rows = p.rows;
    const numbers = table.rowNumbers;
    if (prep.task === 'classification') {
      const names = prep.classNames as readonly string[];
      lines.push(['row', prep.labelColumns[0], ...(o.proba ? names.map((n) => `p(${n})`) : [])].map(csvCell).join(','));
      const cls = p.argmax();
      for (let i = 0; i < p.rows; i++) {
        const probs = o.proba ? Array.from(p.data.subarray(i * p.cols, (i + 1) * p.cols), (v) => v.toPrecision(6)) : [];
        lines.push([String(numbers?.[i] ?? i + 1), csvCell(names[cls[i]]), ...probs].join(','));
      }
    } else {
      if (o.proba) throw new BlasnetError(ErrorCode.ARG_RANGE, 'predict: --proba needs a classifier; this model is a regression');
      // Float64, printed in its shortest round-trip form: near 1.7e9, float32 steps by 128 and 7 digits by 1000.
      const v = prep.inverseTargetsFloat64(p);
      const k = prep.labelColumns.length;
      lines.push(['row', ...prep.labelColumns].map(csvCell).join(','));
      for (let i = 0; i < p.rows; i++) lines.push([String(numbers?.[i] ?? i + 1), ...Array.from(v.subarray(i * k, (i + 1) * k), String)].join(','));
    }
  } else {
    imagesForModel(loaded, o.model, 'predict');
    const p = scores(loadImages(o, 'test').x);
    rows = p.rows;
    const cls = p.argmax();
    const names = (metadata?.classNames ?? null) as string[] | null;
    lines.push(['row', 'class', ...(names ? ['name'] : []), ...(o.proba ? Array.from({ length: p.cols }, (_, c) => `p(${names ? names[c] : c})`) : [])].map(csvCell).join(','));
    cls.forEach((c, i) => {
      const probs = o.proba ? Array.from(p.data.subarray(i * p.cols, (i + 1) * p.cols), (v) => v.toPrecision(6)) : [];
      lines.push([String(i + 1), String(c), ...(names ? [JSON.stringify(names[c])] : []), ...probs].join(','));
    });
  }
  const text = `${lines.join('\n')}\n`;
  if (o.output) {
    writeFileAtomic(o.output, Buffer.from(text, 'utf8'));
    process.stdout.write(`predictions for ${rows} rows written to ${path.resolve(o.output)}\n`);
  } else {
    process.stdout.write(text);
  }
}

/** blasnet export: a saved model as ONNX (for onnxruntime) and/or safetensors (PyTorch state_dict keys). */
function exportModel(o: { model: string; onnx?: string; opset: number; safetensors?: string }): void {
  if (!o.onnx && !o.safetensors) throw new BlasnetError('ERR_BLASNET_ARG_RANGE', 'export: nothing to write; pass --onnx <file> and/or --safetensors <file>');
  // Both outputs are checked before either is written.
  checkOutputPaths([
    ...(o.onnx ? [{ option: '--onnx', path: o.onnx }] : []),
    ...(o.safetensors ? [{ option: '--safetensors', path: o.safetensors }] : []),
  ], commandInputs(o));
  const { model, preprocessor, metadata } = loadModel(o.model);
  const table = preprocessor?.toJSON();
  // A model train made from IDX images (its metadata says so) reads pixels / 255, the scaling its
  // data loader applies outside the model.
  const images = !preprocessor && metadata?.data === 'idx';
  const imageInput = `input: ${model.inputSize} pixels per image as float32, each divided by 255 (0 to 1), as train and predict read the IDX files; the file applies no scaling itself\n`;
  if (o.onnx) {
    // A table preprocessing of numeric columns goes into the graph (missing cells as NaN). Text
    // (one-hot) columns cannot travel in a float input, so the graph then takes transform's
    // output; it still ends with the target un-scaling, so its outputs are predict's either way.
    const numeric = !table || table.columns.every((c) => c.kind === 'numeric');
    exportOnnx(model, o.onnx, { opset: o.opset, ...(preprocessor ? { preprocessing: preprocessor, input: numeric ? 'raw' as const : 'preprocessed' as const } : {}) });
    process.stdout.write(`ONNX (opset ${o.opset}) written to ${path.resolve(o.onnx)}\n`);
    if (images) process.stdout.write(imageInput);
    if (preprocessor && table) {
      if (numeric) {
        const steps = [preprocessor.impute && 'imputes', preprocessor.standardize && 'standardises'].filter(Boolean).join(' and ');
        process.stdout.write(`input: the raw columns ${table.columns.map((c) => c.name).join(', ')} as float32${preprocessor.impute ? ' (NaN for a missing cell)' : ''}` +
          `${steps ? `; the graph ${steps} them` : ''} (float32 keeps 24 bits: values near 1e9, as timestamps, are rounded to steps of 64 to 128)\n`);
      } else {
        process.stdout.write(`input: ${preprocessedFeatures(preprocessor)}; a float ONNX input cannot carry the text cells, so this step is not in the graph\n`);
      }
      process.stdout.write(`output: ${tableOutputs(preprocessor)}\n`);
    }
  }
  if (o.safetensors) {
    saveSafetensors(model, o.safetensors);
    process.stdout.write(`safetensors written to ${path.resolve(o.safetensors)}\n`);
    if (images && !o.onnx) process.stdout.write(imageInput);
    // The file holds weights only: whoever loads it must apply the table preprocessing and, for a
    // regression, the target un-scaling that predict applies.
    const target = table?.target;
    if (preprocessor && target) {
      const scaling = target.task === 'regression'
        ? `; its outputs are standardised targets, which y * std + mean with std [${target.std.join(', ')}] and mean [${target.mean.join(', ')}] turns into predict's values`
        : '';
      process.stdout.write(`note: the weights alone: the network takes ${preprocessedFeatures(preprocessor)}${scaling}\n`);
    }
    // A scaler the model applies itself (setPreprocessing) is not in the file either.
    const own = model.preprocessing;
    if (own) {
      const name = own.constructor?.name ?? 'preprocessing';
      process.stdout.write(`note: the weights alone: the network takes the rows after the model's ${name} (${name}.transform), ` +
        `which the file does not hold; the ONNX export (--onnx) applies it in the graph\n`);
    }
    // nn.Dropout is the identity in eval(); classic dropout scales by the keep probability there.
    const classic = model.layers.map((l, i) => [l, i] as const).filter(([l]) => l instanceof Dropout && l.mode === 'classic' && l.rate > 0);
    for (const [l, i] of classic) {
      process.stdout.write(`note: layer ${i} is classic dropout, which scales its input by ${1 - (l as Dropout).rate} (1 - rate) at inference, ` +
        'where nn.Dropout in eval() does nothing: in PyTorch, multiply by that factor there (the ONNX export does)\n');
    }
  }
}

/** What the network of a table model takes: transform's output, described for export's notes. */
function preprocessedFeatures(prep: TabularPreprocessor): string {
  const j = prep.toJSON();
  const steps = [
    ...(j.columns.some((c) => c.kind === 'categorical') ? ['text columns one-hot encoded'] : []),
    ...(j.standardize && j.columns.some((c) => c.kind === 'numeric') ? ['numeric columns standardised'] : []),
    ...(j.columns.some((c) => c.indicator) ? ['missing cells filled and flagged in indicator columns'] : []),
  ];
  return `the preprocessed features, ${prep.inputSize} float32 columns (${prep.featureNames.join(', ')})${steps.length > 0 ? `: ${steps.join(', ')},` : ''} `
    + 'as TabularPreprocessor.transform makes them from the table';
}

/** What an exported table model's graph outputs, in predict's terms. */
function tableOutputs(prep: TabularPreprocessor): string {
  if (prep.task === 'classification') return `one value per class (${(prep.classNames as readonly string[]).join(', ')}, in that order), as the model's predict returns them (the probabilities predict --proba prints, for a softmax head)`;
  const labels = prep.labelColumns;
  return `${labels.join(', ')} in the ${labels.length === 1 ? "label's" : "labels'"} units, as predict prints them (the graph scales the network's outputs back)`;
}

function info(): void {
  const b = defaultBackend();
  const i = b.info();
  let native: string;
  try {
    const n = getBackend('native').info();
    native = `${n.config} (core ${n.coreName}, ${plural(n.numThreads, 'thread')} of ${plural(n.numProcs, 'processor')})`;
  } catch (e) {
    native = `not available: ${(e as Error).message}`;
  }
  process.stdout.write([
    `blasnet ${VERSION}`,
    `backend: ${i.backend}`,
    `native: ${native}`,
    `node: ${process.version} (${process.platform} ${process.arch})`,
    `OPENBLAS_CORETYPE: ${process.env.OPENBLAS_CORETYPE ?? '(unset)'}`,
  ].join('\n') + '\n');
}

interface SearchCliOptions {
  csv: string;
  delimiter?: string;
  testCsv?: string;
  label: string;
  space?: string;
  trials: number;
  strategy: SearchStrategy;
  metric?: SearchMetric;
  folds?: number;
  epochs: number;
  workers: number;
  seed: number;
  outTable: string;
  plot?: string;
  out?: string;
  backend?: string;
  threads?: number;
  quiet?: boolean;
  queue?: string;
  queueName?: string;
  task: Task | 'auto';
  categorical?: string;
}

/** blasnet search: a hyperparameter search on a CSV table; writes the results table, a plot and optionally the best model. */
async function searchCommand(o: SearchCliOptions): Promise<void> {
  checkOutputPaths([
    { option: '--out-table', path: o.outTable },
    ...(o.plot ? [{ option: '--plot (.svg)', path: `${o.plot}.svg` }, { option: '--plot (.png)', path: `${o.plot}.png` }] : []),
    ...(o.out ? [{ option: '--out', path: o.out }] : []),
  ], commandInputs(o));
  setupBackend(o);
  let space = MLP_SPACE;
  if (o.space) {
    const text = readBytes(o.space, 'search --space').toString('utf8');
    try {
      space = spaceFromJSON(text);
    } catch (e) {
      // The file's name instead of the function's: the user wrote a file, not a call.
      const err = e as Error & { code?: ErrorCode };
      if (!(e instanceof BlasnetError) || !err.code) throw e;
      throw new BlasnetError(err.code, `search --space ${o.space}: ${err.message.replace(/^spaceFromJSON: /, '')}`, { cause: e });
    }
  }
  const table = readCsv(o.csv, o);
  const label = labelColumns(o.label, table.columns);
  const preprocessing = { task: o.task, ...(o.categorical ? { categorical: columnList(o.categorical, table.columns) } : {}) };
  // The test file is read and checked before any trial runs (a missing file, no label column, a
  // label not in the training file), through the preprocessing the search fits on all rows for
  // the retrained model: fitted here the same way, it gives the same test inputs.
  let testSet: { x: Matrix; y: Int32Array | Matrix; truth?: Float64Array } | null = null;
  if (o.testCsv) {
    const t = scoredRows(readCsv(o.testCsv, o), o.testCsv, 'search');
    const prep = TabularPreprocessor.fit(table, { ...preprocessing, label });
    if (!prep.hasLabels(t)) {
      throw new BlasnetError(ErrorCode.DATA, `search: ${o.testCsv} has no label column ${prep.labelColumns.map((c) => JSON.stringify(c)).join(', ')}; --test-csv needs the labels`);
    }
    testSet = { x: prep.transform(t), y: prep.targets(t), ...(prep.task === 'regression' ? { truth: prep.labelValues(t) } : {}) };
  }
  const say = (s: string) => {
    if (!o.quiet) process.stdout.write(`${s}\n`);
  };
  say(`blasnet ${VERSION}: ${o.strategy} search of ${o.trials} trials on ${o.csv} (${table.rows.length} rows), ` +
    `${o.queue ? `over the queue at ${o.queue}` : `${o.workers} worker(s)`}`);
  const started = Date.now();
  // Ctrl-C or SIGTERM cancels the search as its signal does: worker threads end, and a queue's
  // waiting trials are removed rather than left for a worker to run later.
  const cancel = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (cancel.signal.aborted) process.exit(exitCodeFor(signal));
    process.stderr.write(`blasnet: ${signal}: cancelling the search (${signal === 'SIGINT' ? 'Ctrl-C' : signal} again to exit at once)\n`);
    cancel.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let result: Awaited<ReturnType<typeof runSearch>>;
  try {
    // The table preprocessing (as train's) is fitted inside each fold on its training rows.
    result = await runSearch({
      space, data: { table, label, preprocessing },
      trials: o.trials, strategy: o.strategy, seed: o.seed, signal: cancel.signal,
      workers: o.workers, budget: { epochs: o.epochs }, ...(o.metric ? { metric: o.metric } : {}), ...(o.folds ? { folds: o.folds } : {}),
      ...(o.threads ? { threads: o.threads } : {}), ...(o.quiet ? {} : { progress: process.stdout }),
      ...(o.queue ? { queue: { url: o.queue, ...(o.queueName ? { name: o.queueName } : {}) } } : {}),
    });
  } catch (e) {
    if (cancel.signal.aborted) {
      process.stderr.write(`blasnet: search cancelled by ${String(cancel.signal.reason)}; nothing was written\n`);
      process.exitCode = exitCodeFor(cancel.signal.reason as NodeJS.Signals);
      return;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const seconds = (Date.now() - started) / 1000;
  writeFileAtomic(o.outTable, Buffer.from(searchTableCsv(result), 'utf8'));
  const failed = result.trials.filter((r) => r.status !== 'ok').length;
  say(`${result.trials.length} trials in ${seconds.toFixed(1)} s (${failed} failed or diverged); table in ${path.resolve(o.outTable)}`);
  // The picture comes after the model: a plot that cannot be drawn (the optional plotting
  // packages missing, a full disk) cannot lose the search's result.
  const plot = async () => {
    if (!o.plot) return;
    try {
      const files = await writeSearchPlot(result, o.plot, { space, title: `${result.metric} against each hyperparameter (${o.csv})` });
      say(`plot in ${path.resolve(files.svg)} and .png`);
    } catch (e) {
      if ((e as { code?: string }).code !== ErrorCode.DEPENDENCY) throw e;
      process.stderr.write(`blasnet: no plot drawn: ${(e as Error).message}\n`);
    }
  };
  if (!result.best) {
    await plot();
    throw new BlasnetError(ErrorCode.STATE, 'search: every trial failed or diverged; see the table');
  }
  if (!result.model) {
    await plot();
    throw new BlasnetError(ErrorCode.STATE, `search: the table holds every trial, but retraining the best configuration (trial ${result.best.index}) ` +
      `failed, so no model was written: ${result.refitError}`);
  }
  const model = result.model;
  const prep = result.preprocessor as TabularPreprocessor;
  say(`preprocessing (fitted per fold; the saved model's on all ${table.rows.length} rows): ${prep.describe()}`);
  say(`best ${result.metric} ${result.best.score.toFixed(4)} (trial ${result.best.index}): ${JSON.stringify(result.bestConfig)}`);
  // The model is written first: drawing the plot or scoring it on the test file cannot lose the search's result.
  if (o.out) {
    saveModel(o.out, model, {
      preprocessing: prep,
      metadata: { source: o.csv, task: prep.task, search: { strategy: o.strategy, trials: o.trials, seed: o.seed }, config: result.bestConfig, classNames: prep.classNames ?? null },
    });
    say(`model written to ${path.resolve(o.out)}`);
  }
  await plot();
  let test: Record<string, number> | null = null;
  if (testSet) {
    const { x, y } = testSet;
    if (y instanceof Int32Array) {
      test = model.evaluate(x, y, { metrics: ['accuracy'] });
      say(`retrained on all ${table.rows.length} rows: test loss ${test.loss.toFixed(4)}  test accuracy ${test.accuracy.toFixed(4)}`);
    } else {
      // In the label's units and float64, as train reports regression.
      const p = predictedValues(prep, model, x);
      const truth = testSet.truth as Float64Array;
      let se = 0;
      let ae = 0;
      for (let i = 0; i < p.length; i++) {
        se += (p[i] - truth[i]) ** 2;
        ae += Math.abs(p[i] - truth[i]);
      }
      test = { mse: se / p.length, mae: ae / p.length };
      say(`retrained on all ${table.rows.length} rows: test mse ${test.mse.toPrecision(4)}  test mae ${test.mae.toPrecision(4)}`);
    }
  }
  const figures = test ? Object.fromEntries(Object.entries(test).map(([k, v]) => [`test${k[0].toUpperCase()}${k.slice(1)}`, v])) : {};
  process.stdout.write(`${JSON.stringify({ best: result.bestConfig, score: result.best.score, metric: result.metric, trials: result.trials.length, failed, seconds, ...figures })}\n`);
}

interface WorkerCliOptions { queue: string; queueName?: string; concurrency: number; threads?: number; lockMs: number; stalledMs: number; quiet?: boolean }

/** blasnet worker: runs search trials from a queue until SIGINT or SIGTERM, then finishes its running trials. */
async function workerCommand(o: WorkerCliOptions): Promise<void> {
  const worker = await startQueueWorker({
    queue: { url: o.queue, ...(o.queueName ? { name: o.queueName } : {}) }, concurrency: o.concurrency, lockMs: o.lockMs, stalledMs: o.stalledMs,
    ...(o.threads ? { threads: o.threads } : {}), ...(o.quiet ? {} : { log: (line: string) => process.stdout.write(`${line}\n`) }),
  });
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.stdout.write('worker: stopping after the running trials\n');
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await worker.close();
}

function dataOptions(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'an MNIST-like IDX directory (train-*/t10k-* files, plain or .gz); default Fashion-MNIST')
    .option('--csv <file>', 'a CSV file with a header row (train: the training rows; evaluate, predict: the rows to score)')
    .option('--test-csv <file>', 'train: the test rows (default: --test-split of --csv); evaluate, predict: the rows to score, as --csv')
    .option('--delimiter <char>', "the CSV files' field delimiter (default ','; ';', or tab for a tab)", delimiterArg);
}

function backendOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--backend <name>', 'kernel backend').choices(['native', 'js']))
    .option('--threads <n>', 'kernel threads (default: one per physical core)', int('--threads'));
}


/** The options (by attribute) of train, evaluate and predict that only a CSV table reads. */
const TABLE_ONLY: readonly string[] = ['label', 'categorical', 'standardize', 'impute', 'testSplit', 'delimiter', 'task', 'loss'];

export function program(): Command {
  const p = new Command('blasnet').version(VERSION).description('Train multi-layer perceptrons at native speed.');
  // A mistake gets commander's one-line error (with a suggestion for a misspelt name), not the whole help.
  p.showHelpAfterError('(run with --help for usage)');
  // An option given an empty string (a shell variable that was not set) names nothing: refused
  // before any work, not read as the option left out (no picture, stdout for --output) or as a
  // path that fails after training.
  p.hook('preAction', (_root, action) => {
    for (const opt of action.options) {
      if (action.getOptionValue(opt.attributeName()) === '') {
        throw new BlasnetError(ErrorCode.ARG_RANGE, `${action.name()}: ${opt.long ?? opt.flags} was given an empty value; give one, or leave the option out`);
      }
    }
    // Flags that read a CSV table, given without one (the IDX images): refused rather than ignored.
    if (['train', 'evaluate', 'predict'].includes(action.name()) && action.getOptionValue('csv') === undefined && action.getOptionValue('testCsv') === undefined) {
      const given = action.options.filter((opt) => TABLE_ONLY.includes(opt.attributeName()) && action.getOptionValueSource(opt.attributeName()) === 'cli');
      const flags = [...new Set(given.map((opt) => opt.long ?? opt.flags))];
      if (flags.length > 0) {
        throw new BlasnetError(ErrorCode.ARG_RANGE, `${action.name()}: ${flags.join(', ')} read${flags.length === 1 ? 's' : ''} a CSV table, and this run reads IDX images; give --csv, or leave ${flags.length === 1 ? 'it' : 'them'} out`);
      }
    }
  });
  const t = p.command('train').description('train an MLP on a CSV table (classification or regression) or on IDX images (default: 784-256-128-10 ReLU on Fashion-MNIST)');
  dataOptions(t)
    .option('--label <columns>', 'the label column of the CSV file; several, comma-separated, for multi-output regression', 'label')
    .addOption(new Option('--task <task>', 'what the label is; auto decides from its values and says why').choices(['auto', 'classification', 'regression']).default('auto'))
    .addOption(new Option('--loss <name>', 'regression loss (classification uses cross-entropy)').choices(['mse', 'huber', 'l1']))
    .option('--categorical <columns>', 'one-hot encode these columns even if they hold numbers (columns holding text always are); comma-separated, a name holding commas as it is', columnNamesArg('--categorical'))
    .option('--no-standardize', 'keep numeric columns unscaled (default: standardised on the training rows)')
    .option('--no-impute', 'fail on missing cells (default: training median / most frequent value plus an indicator column)')
    .option('--test-split <f>', 'without --test-csv: the share of --csv held out for testing (seeded, stratified for classes; a class of one row stays in training)', fraction('--test-split'), TEST_SPLIT);
  backendOptions(t)
    .option('--hidden <sizes>', 'hidden layer sizes (default: 256,128 on IDX; scaled to the table on CSV)', sizes)
    .addOption(new Option('--activation <name>', 'hidden activation').choices(['relu', 'leakyRelu', 'elu', 'selu', 'gelu', 'silu', 'tanh', 'sigmoid']).default('relu'))
    .option('--dropout <rate>', 'dropout after each hidden layer', fraction('--dropout'), 0)
    .addOption(new Option('--optimizer <name>', 'optimiser').choices([...OPTIMIZER_NAMES]).default('adam'))
    .option('--lr <rate>', LR_HELP, positive('--lr'))
    .option('--weight-decay <w>', "weight decay (default the optimiser's own: 0, adamw 0.01)", nonNegative('--weight-decay'))
    .addOption(new Option('--schedule <name>', 'learning-rate schedule (default: cosine on IDX, none on CSV; onecycle also cycles the momentum or beta1 of an optimiser that has one)').choices(['cosine', 'step', 'onecycle', 'none']))
    .option('--epochs <n>', 'epochs (default: 15 on IDX; on CSV at most 500, ended by early stopping)', int('--epochs'))
    .option('--batch-size <n>', 'batch size (default: 128 on IDX; scaled to the table on CSV)', int('--batch-size'))
    .option('--patience <n>', 'early stopping: epochs without a better validation loss (default: 20 on CSV, off on IDX; 0 = off)', int('--patience', 0))
    .option('--seed <n>', 'seed of the weights, shuffles and splits', int('--seed', 0), 1)
    .option('--validation-split <f>', 'share of the training rows held out for validation (default: 0.2 on CSV, stratified; 0.1 on IDX)', fraction('--validation-split'))
    .addOption(new Option('--class-weight <mode>', 'classification: weight each class by n / (classes * count) in the loss, for imbalanced data').choices(['balanced', 'none']).default('none'))
    .option('--out <file>', 'where to write the model (default: named after the data, e.g. data.blasnet, fashion-mnist.blasnet)')
    .option('--history <file>', 'where to write the per-epoch history (default: <out>.history.csv)')
    .option('--curves <base>', 'where to write the learning curves, <base>.svg and <base>.png (default: <out>.curves)')
    .option('--diagnostics [base]', 'also draw per-layer activation and gradient histograms and update-to-weight ratios, <base>.svg and .png (default: <out>.diagnostics)')
    .option('--confusion <base>', 'classification: also write the test confusion matrix to <base>.svg and <base>.png')
    .option('--quiet', 'print only the final JSON line')
    .option('--no-checks', 'skip the sanity checks before training (initial loss, dead units)')
    .option('--distributed', 'data-parallel training over MPI: run as `mpirun -np N npx blasnet train --distributed ...`; --batch-size is per rank, rank 0 prints and writes')
    .action((o: TrainOptions) => train(o));
  const e = p.command('evaluate').description('a classification or regression report of a saved model on a labelled data set')
    .requiredOption('--model <file>', 'a model written by train')
    .option('--label <columns>', "the label column (checked against the model's)")
    .option('--confusion <base>', 'classification: also write the confusion matrix to <base>.svg and <base>.png');
  backendOptions(dataOptions(e)).action(evaluate);
  const pr = p.command('predict').description('predictions for every row of a data set (labels not needed), numbered from 1 (CSV data rows, header not counted; IDX images): class names, probabilities or values')
    .requiredOption('--model <file>', 'a model written by train')
    .option('--label <columns>', "the label column (checked against the model's)")
    .option('--output <file>', 'write CSV here instead of stdout')
    .option('--proba', 'classification: add one probability column per class');
  backendOptions(dataOptions(pr)).action(predict);
  p.command('export').description('write a saved model as ONNX and/or safetensors (PyTorch state_dict keys)')
    .requiredOption('--model <file>', 'a model written by train or saveModel')
    .option('--onnx <file>', 'write an ONNX model computing what predict returns (for a table with text columns, from its preprocessed features)')
    .option('--opset <n>', 'ONNX opset, 13 to 21', int('--opset', 13), 17)
    .option('--safetensors <file>', 'write the weights as safetensors')
    .action(exportModel);
  const s = p.command('search').description('hyperparameter search (learning rate, weight decay, widths, activation, dropout, batch size) on a CSV table')
    .requiredOption('--csv <file>', 'the training table (a header and a label column); preprocessed as train does, fitted inside each fold')
    .option('--delimiter <char>', "the CSV files' field delimiter (default ','; ';', or tab for a tab)", delimiterArg)
    .option('--test-csv <file>', 'a test table, checked before any trial: the retrained best model is scored on it (after --out is written)')
    .option('--label <columns>', 'the label column; several, comma-separated, for multi-output regression', 'label')
    .addOption(new Option('--task <task>', 'what the label is; auto decides from its values').choices(['auto', 'classification', 'regression']).default('auto'))
    .option('--categorical <columns>', 'one-hot encode these columns even if they hold numbers; comma-separated, a name holding commas as it is', columnNamesArg('--categorical'))
    .option('--space <file>', 'a JSON search space instead of the default one (see README)')
    .option('--trials <n>', 'configurations to try', int('--trials'), 20)
    .addOption(new Option('--strategy <name>', 'how trials are proposed').choices(['random', 'grid', 'coarseToFine', 'halving']).default('random'))
    .addOption(new Option('--metric <name>', 'what to optimise (default accuracy for classes, mse for regression)').choices(['accuracy', 'valLoss', 'loss', 'mse', 'mae']))
    .option('--folds <k>', 'k-fold cross-validation (stratified) instead of a 20% holdout', int('--folds', 2))
    .option('--epochs <n>', 'epochs of a full trial', int('--epochs'), 20)
    .option('--workers <n>', 'worker threads running trials at once', int('--workers'), 1)
    .option('--seed <n>', 'seed of the search', int('--seed', 0), 0)
    .option('--out-table <file>', 'where to write every trial (CSV)', 'search.csv')
    .option('--plot <base>', 'write score against each hyperparameter to <base>.svg and <base>.png')
    .option('--out <file>', 'write the best configuration retrained on all rows')
    .option('--queue <url>', 'run the trials as BullMQ jobs on this Redis (redis://host:port) for `blasnet worker` processes')
    .option('--queue-name <name>', 'the queue\'s name (default blasnet-search)')
    .option('--quiet', 'print only the final JSON line');
  backendOptions(s).action((o: SearchCliOptions) => searchCommand(o));
  p.command('worker').description('take search trials from a BullMQ queue on Redis and run them, until stopped (SIGINT or SIGTERM)')
    .requiredOption('--queue <url>', 'the Redis the search enqueues on (redis://host:port)')
    .option('--queue-name <name>', 'the queue\'s name (default blasnet-search)')
    .option('--concurrency <n>', 'trials at once, each in a worker thread', int('--concurrency'), 1)
    .option('--threads <n>', 'kernel threads per trial (default: cores / concurrency)', int('--threads'))
    .option('--lock-ms <ms>', 'how long a job stays locked without renewal: a dead worker\'s job moves on after this', int('--lock-ms'), 30000)
    .option('--stalled-ms <ms>', 'how often to look for the jobs of dead workers', int('--stalled-ms'), 30000)
    .option('--quiet', 'no line per job')
    .action(workerCommand);
  p.command('info').description('backend, BLAS library and threads, versions').action(info);
  addRecipeCommands(p, { loadData: recipeData, buildNetwork: (o, d, table) => buildNetwork(o, d, table).model, setupBackend, dataOptions, backendOptions });
  return p;
}

/**
 * Set once a signal has stopped `train` to save what it trained: a Ctrl-C in a terminal also ends
 * the rest of the pipeline (`| tee log`), and the output it closes must not end the save promised.
 */
let savingAfterSignal = false;

/**
 * What a failed write to stdout or stderr does (Node ignores SIGPIPE and reports a failed write as
 * an 'error' event on the stream, which without a listener is a crash with a stack trace). A reader
 * that went away (EPIPE: `| head -1`) ends the command quietly with 128 + SIGPIPE, as the tools of
 * a pipeline end, unless a signal's
 * save is under way (its signal may be read after the write failed, in the same turn of the event
 * loop, hence the wait for the next). Any other failure (a log redirected to a full disk) is said
 * once on stderr with a code, and the command goes on without that stream and ends with exit code
 * 1 (or a signal's, when one stopped it): a run whose model has room to be saved is still saved.
 */
function exitOnClosedOutput(): void {
  const lost = new Set<NodeJS.WritableStream>();
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (lost.has(stream)) return;
      lost.add(stream);
      if (e.code === 'EPIPE') {
        setImmediate(() => {
          if (!savingAfterSignal) process.exit(exitCodeFor('SIGPIPE'));
        });
        return;
      }
      const name = stream === process.stdout ? 'stdout' : 'stderr';
      if (!lost.has(process.stderr)) process.stderr.write(`blasnet: cannot write to ${name} (${e.code ?? e.message}); going on without it (ERR_BLASNET_IO)\n`);
      // A signal's stop ends with the signal's code, whichever came first.
      if (!savingAfterSignal) process.exitCode = 1;
    });
  }
}

export async function main(argv: string[] = process.argv): Promise<void> {
  exitOnClosedOutput();
  // Warnings (an unknown category at predict) in the CLI's own voice instead of Node's.
  process.removeAllListeners('warning');
  process.on('warning', (w) => process.stderr.write(`blasnet: warning: ${w.message}\n`));
  try {
    await program().parseAsync(argv);
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code && err.code.startsWith('ERR_BLASNET_')) {
      process.stderr.write(`blasnet: ${err.message} (${err.code})\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}

if (require.main === module) void main();
