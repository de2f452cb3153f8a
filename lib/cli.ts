#!/usr/bin/env node
/**
 * The blasnet command line: train, evaluate, predict, export, info.
 *
 *   blasnet train                 the default job: a 784-256-128-10 ReLU MLP on Fashion-MNIST
 *   blasnet train --help          every option
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { defaultBackend, getBackend, setDefaultBackend } from './backend/select';
import { loadFashionMnist, loadMnistLike, FASHION_MNIST_DIR } from './data/idx';
import { readCsv } from './data/csv';
import { BlasnetError, ErrorCode } from './errors';
import { checkOutputPaths } from './io/paths';
import { loadModel, saveModel } from './io/model-file';
import { dense, dropout } from './layers';
import type { DenseActivation } from './layers';
import { Sequential } from './model/sequential';
import { OPTIMIZER_NAMES } from './optim';
import type { OptimizerSpec } from './optim';
import type { ScheduleSpec } from './schedules';
import { Matrix } from './tensor';
import { csvLogger, progressBar } from './train/callbacks';
import { writeLearningCurves } from './plot/curves';
import { exportOnnx } from './interop/onnx';
import { saveSafetensors } from './interop/safetensors';

const VERSION: string = (require('../../package.json') as { version: string }).version;

function int(name: string, min = 1) {
  return (v: string): number => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return x;
  };
}

function positive(name: string) {
  return (v: string): number => {
    const x = Number(v);
    if (!(x > 0) || !Number.isFinite(x)) throw new InvalidArgumentError(`${name} must be a positive number`);
    return x;
  };
}

function fraction(name: string) {
  return (v: string): number => {
    const x = Number(v);
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

interface DataSet {
  x: Matrix;
  labels: Int32Array;
  classes: number;
  classNames?: readonly string[];
}

interface DataOptions {
  data?: string;
  csv?: string;
  testCsv?: string;
  label?: string;
}

/** The training and test sets the options name: an IDX directory, CSV files, or Fashion-MNIST. */
function loadData(o: DataOptions, split: 'train' | 'test'): DataSet {
  if (o.csv) {
    const file = split === 'train' ? o.csv : o.testCsv;
    if (!file) throw new BlasnetError('ERR_BLASNET_ARG_RANGE', 'a test set is needed: pass --test-csv');
    const d = readCsv(file, { label: o.label ?? 'label', classes: true });
    const labels = d.labels as Int32Array;
    let classes = 0;
    for (const c of labels) classes = Math.max(classes, c + 1);
    return { x: d.x, labels, classes, classNames: d.classNames };
  }
  if (o.data) return loadMnistLike(o.data, { split });
  return loadFashionMnist({ split });
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
  hidden: number[];
  activation: DenseActivation;
  dropout: number;
  optimizer: string;
  lr: number;
  weightDecay: number;
  schedule: string;
  epochs: number;
  batchSize: number;
  seed: number;
  validationSplit: number;
  out: string;
  history: string;
  curves: string;
  backend?: string;
  threads?: number;
  quiet?: boolean;
}

async function train(o: TrainOptions): Promise<void> {
  // Every output is checked before the data loads, so a long run never ends unable to save.
  checkOutputPaths([
    { option: '--out', path: o.out },
    { option: '--history', path: o.history },
    { option: '--curves (.svg)', path: `${o.curves}.svg` },
    { option: '--curves (.png)', path: `${o.curves}.png` },
  ]);
  setupBackend(o);
  const started = Date.now();
  const trainSet = loadData(o, 'train');
  const testSet = loadData(o, 'test');
  const source = o.csv ? o.csv : o.data ?? `Fashion-MNIST (${FASHION_MNIST_DIR})`;
  const layers = [];
  for (const h of o.hidden) {
    layers.push(dense(h, { activation: o.activation }));
    if (o.dropout > 0) layers.push(dropout(o.dropout));
  }
  layers.push(dense(trainSet.classes));
  const model = new Sequential({ inputSize: trainSet.x.cols, seed: o.seed, layers });
  const optimizer = { name: o.optimizer, lr: o.lr, ...(o.weightDecay ? { weightDecay: o.weightDecay } : {}) } as OptimizerSpec;
  model.compile({ loss: 'crossEntropy', optimizer, metrics: ['accuracy'] });
  const b = model.backend;
  const say = (s: string) => {
    if (!o.quiet) process.stdout.write(`${s}\n`);
  };
  say(`blasnet ${VERSION}: training on ${source}, ${trainSet.x.rows} samples, ${trainSet.classes} classes`);
  say(`backend ${b.name} (${b.info().config}, ${b.getNumThreads()} threads)`);
  say(model.summary());
  const schedule = o.schedule === 'onecycle'
    ? { name: 'oneCycle' as const, maxLr: o.lr, totalSteps: o.epochs * Math.ceil(trainSet.x.rows * (1 - o.validationSplit) / o.batchSize) }
    : scheduleFor(o.schedule, o.epochs);
  const history = model.fit(trainSet.x, trainSet.labels, {
    epochs: o.epochs,
    batchSize: o.batchSize,
    seed: o.seed,
    ...(o.validationSplit > 0 ? { validationSplit: o.validationSplit } : {}),
    ...(schedule ? { schedule, scheduleEvery: o.schedule === 'onecycle' ? 'step' as const : 'epoch' as const } : {}),
    callbacks: [progressBar({ quiet: o.quiet }), csvLogger(o.history)],
  });
  if (history.diverged) {
    throw new BlasnetError(ErrorCode.DIVERGED, `training ${history.stopReason}; no model was written (--out ${o.out})`);
  }
  const test = model.evaluate(testSet.x, testSet.labels);
  const seconds = (Date.now() - started) / 1000;
  saveModel(o.out, model, {
    optimizer: model.optimizer?.state(),
    metadata: {
      source, epochs: history.epochs.length, batchSize: o.batchSize, seed: o.seed, testLoss: test.loss, testAccuracy: test.accuracy,
      seconds, backend: b.name, trainedAt: new Date().toISOString(), classNames: trainSet.classNames ?? null,
    },
  });
  say(`test loss ${test.loss.toFixed(4)}  test accuracy ${test.accuracy.toFixed(4)}  (training and test ${seconds.toFixed(1)} s)`);
  const curves = await writeLearningCurves(history, o.curves, { title: `${[trainSet.x.cols, ...o.hidden, trainSet.classes].join('-')} ${o.activation} MLP on ${source} (${b.name} backend)` });
  say(`model written to ${path.resolve(o.out)}; history in ${path.resolve(o.history)}; learning curves in ${path.resolve(curves.svg)} and .png`);
  // The last line is machine-readable for scripts and benchmarks.
  process.stdout.write(`${JSON.stringify({ testAccuracy: test.accuracy, testLoss: test.loss, seconds, epochs: history.epochs.length, backend: b.name })}\n`);
}

function evaluate(o: DataOptions & { model: string; backend?: string; threads?: number }): void {
  setupBackend(o);
  const { model } = loadModel(o.model);
  const set = loadData(o, 'test');
  if (!model.lossSpec) model.setLoss('crossEntropy');
  const r = model.evaluate(set.x, set.labels, { metrics: ['accuracy'] });
  process.stdout.write(`${JSON.stringify({ samples: set.x.rows, ...r })}\n`);
}

function predict(o: DataOptions & { model: string; output?: string; backend?: string; threads?: number }): void {
  setupBackend(o);
  const { model, metadata } = loadModel(o.model);
  let x: Matrix;
  if (o.csv) x = readCsv(o.csv, o.label ? { label: o.label } : {}).x;
  else x = (o.data ? loadMnistLike(o.data, { split: 'test' }) : loadFashionMnist({ split: 'test' })).x;
  const p = model.predict(x);
  const cls = p.argmax();
  const names = (metadata?.classNames ?? null) as string[] | null;
  const lines = ['row,class' + (names ? ',name' : '')];
  cls.forEach((c, i) => lines.push(`${i},${c}${names ? `,${JSON.stringify(names[c])}` : ''}`));
  const text = `${lines.join('\n')}\n`;
  if (o.output) fs.writeFileSync(o.output, text);
  else process.stdout.write(text);
}

/** blasnet export: a saved model as ONNX (for onnxruntime) and/or safetensors (PyTorch state_dict keys). */
function exportModel(o: { model: string; onnx?: string; opset: number; safetensors?: string }): void {
  if (!o.onnx && !o.safetensors) throw new BlasnetError('ERR_BLASNET_ARG_RANGE', 'export: nothing to write; pass --onnx <file> and/or --safetensors <file>');
  const { model } = loadModel(o.model);
  if (o.onnx) {
    exportOnnx(model, o.onnx, { opset: o.opset });
    process.stdout.write(`ONNX (opset ${o.opset}) written to ${path.resolve(o.onnx)}\n`);
  }
  if (o.safetensors) {
    saveSafetensors(model, o.safetensors);
    process.stdout.write(`safetensors written to ${path.resolve(o.safetensors)}\n`);
  }
}

function info(): void {
  const b = defaultBackend();
  const i = b.info();
  let native: string;
  try {
    const n = getBackend('native').info();
    native = `${n.config} (core ${n.coreName}, ${n.numThreads} threads of ${n.numProcs} processors)`;
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

function dataOptions(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'an MNIST-like IDX directory (train-*/t10k-* files, plain or .gz); default Fashion-MNIST')
    .option('--csv <file>', 'a CSV file with a header and a label column instead of IDX data')
    .option('--test-csv <file>', 'the test CSV file (with --csv)')
    .option('--label <column>', 'the label column of the CSV files', 'label');
}

function backendOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--backend <name>', 'kernel backend').choices(['native', 'js']))
    .option('--threads <n>', 'kernel threads (default: one per physical core)', int('--threads'));
}

export function program(): Command {
  const p = new Command('blasnet').version(VERSION).description('Train multi-layer perceptrons at native speed.');
  p.showHelpAfterError();
  const t = p.command('train').description('train an MLP classifier (default: 784-256-128-10 ReLU on Fashion-MNIST)');
  dataOptions(t);
  backendOptions(t)
    .option('--hidden <sizes>', 'hidden layer sizes', sizes, [256, 128])
    .addOption(new Option('--activation <name>', 'hidden activation').choices(['relu', 'leakyRelu', 'elu', 'selu', 'gelu', 'silu', 'tanh', 'sigmoid']).default('relu'))
    .option('--dropout <rate>', 'dropout after each hidden layer', fraction('--dropout'), 0)
    .addOption(new Option('--optimizer <name>', 'optimiser').choices([...OPTIMIZER_NAMES]).default('adam'))
    .option('--lr <rate>', 'learning rate', positive('--lr'), 1e-3)
    .option('--weight-decay <w>', 'weight decay', positive('--weight-decay'))
    .addOption(new Option('--schedule <name>', 'learning-rate schedule').choices(['cosine', 'step', 'onecycle', 'none']).default('cosine'))
    .option('--epochs <n>', 'epochs', int('--epochs'), 15)
    .option('--batch-size <n>', 'batch size', int('--batch-size'), 128)
    .option('--seed <n>', 'seed of the weights and shuffles', int('--seed', 0), 1)
    .option('--validation-split <f>', 'fraction of the training set held out', fraction('--validation-split'), 0)
    .option('--out <file>', 'where to write the model', 'fashion-mnist.blasnet')
    .option('--history <file>', 'where to write the per-epoch history (CSV)', 'fashion-mnist.history.csv')
    .option('--curves <base>', 'where to write the learning curves (<base>.svg and <base>.png)', 'fashion-mnist.curves')
    .option('--quiet', 'print only the final JSON line')
    .action((o: TrainOptions) => train(o));
  const e = p.command('evaluate').description('loss and accuracy of a saved model on a test set').requiredOption('--model <file>', 'a model written by train');
  backendOptions(dataOptions(e)).action(evaluate);
  const pr = p.command('predict').description('predicted classes for every row of a data set')
    .requiredOption('--model <file>', 'a model written by train').option('--output <file>', 'write CSV here instead of stdout');
  backendOptions(dataOptions(pr)).action(predict);
  p.command('export').description('write a saved model as ONNX and/or safetensors (PyTorch state_dict keys)')
    .requiredOption('--model <file>', 'a model written by train or saveModel')
    .option('--onnx <file>', 'write an ONNX model computing what predict returns')
    .option('--opset <n>', 'ONNX opset, 13 to 21', int('--opset', 13), 17)
    .option('--safetensors <file>', 'write the weights as safetensors')
    .action(exportModel);
  p.command('info').description('backend, BLAS library and threads, versions').action(info);
  return p;
}

export async function main(argv: string[] = process.argv): Promise<void> {
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
