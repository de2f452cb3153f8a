/**
 * The recipe's commands for the blasnet command line: `check` (checkModel) and `lr-find`
 * (lrFinder with its plot). They build the network `train` would build from the same flags and
 * data (its buildNetwork: on a table, sized by the rows train would train on), or load one with
 * --model, whose stored table preprocessing then reads --csv.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import * as path from 'path';
import { ErrorCode } from '../errors';
import { loadModel } from '../io/model-file';
import { checkOutputPaths, commandInputs } from '../io/paths';
import type { LoadedModel } from '../io/model-file';
import type { Task } from '../data/tabular';
import type { DenseActivation } from '../layers';
import type { Sequential } from '../model/sequential';
import { OPTIMIZER_NAMES } from '../optim';
import type { OptimizerName, OptimizerSpec } from '../optim';
import { commandLineLr, LR_HELP } from '../optim/optimizers';
import type { Matrix } from '../tensor';
import { checkModel } from './checks';
import { lrFinder, writeLrFinderPlot } from './lr-finder';

/** The options of check and lr-find that choose their data. */
export interface RecipeOptions {
  model?: string;
  data?: string;
  csv?: string;
  testCsv?: string;
  label?: string;
  delimiter?: string;
  task: 'auto' | Task;
  seed: number;
  /** train's table flags: one-hot columns, and whether numeric columns are standardised and missing cells imputed. */
  categorical?: string;
  standardize?: boolean;
  impute?: boolean;
}

/** The flags that shape the network train builds (train's --hidden, --activation, --dropout, --seed). */
export interface NetworkFlags {
  /** Hidden layer sizes; default: scaled to a table's training rows, 256,128 for IDX images. */
  hidden?: number[];
  activation: DenseActivation;
  /** Dropout after each hidden layer; default none. */
  dropout?: number;
  seed: number;
}

/** The rows to check a model on, and the task and output count that model needs. */
export interface RecipeData {
  x: Matrix;
  y: Int32Array | Matrix;
  task: Task;
  outputs: number;
}

/** What the recipe commands borrow from the main command line. */
export interface CliParts {
  /** The rows for `what` (check or lr-find); `loaded` is the --model file, whose preprocessing reads a table. */
  loadData(o: RecipeOptions, loaded: LoadedModel | null, what: string): RecipeData;
  /** The network train builds for `data` (`table`: read from --csv), not compiled. */
  buildNetwork(o: NetworkFlags, data: RecipeData, table: boolean): Sequential;
  setupBackend(o: { backend?: string; threads?: number }): void;
  dataOptions(cmd: Command): Command;
  backendOptions(cmd: Command): Command;
}

interface ModelFlags extends RecipeOptions, NetworkFlags {
  optimizer?: OptimizerName;
  lr?: number;
  backend?: string;
  threads?: number;
}

/**
 * A flag's value as a number: Number's reading, except that an empty or blank value is NaN (which
 * every check refuses), where Number would read it as 0.
 */
export function flagNumber(v: string): number {
  return v.trim() === '' ? NaN : Number(v);
}

function num(name: string, check: (x: number) => boolean, what: string) {
  return (v: string): number => {
    const x = flagNumber(v);
    if (!check(x)) throw new InvalidArgumentError(`${name} must be ${what}`);
    return x;
  };
}

const positive = (name: string) => num(name, (x) => x > 0 && Number.isFinite(x), 'a positive number');
const fraction = (name: string) => num(name, (x) => x >= 0 && x < 1, 'in [0, 1)');

const int = (name: string, min = 1) => num(name, (x) => Number.isInteger(x) && x >= min, `an integer >= ${min}`);

/**
 * The parser of a flag that lists column names (--categorical): the text kept as written, to be
 * split against the file's header (a name may hold commas); a list of no names is refused.
 */
export function columnNamesArg(flag: string) {
  return (v: string): string => {
    if (v.split(',').every((s) => s.trim() === '')) throw new InvalidArgumentError(`${flag}: expected comma-separated column names`);
    return v;
  };
}

function sizes(v: string): number[] {
  const out = v.split(',').map((s) => Number(s.trim()));
  if (out.some((x) => !Number.isInteger(x) || x < 1)) throw new InvalidArgumentError('expected comma-separated positive integers, e.g. 256,128');
  return out;
}

function modelOptions(cmd: Command): Command {
  return cmd
    .option('--label <columns>', "the label column of the CSV file (default label; with --model, the model's, checked against it)")
    .addOption(new Option('--task <task>', 'what the label is, as train decides it; with --model, the model\'s').choices(['auto', 'classification', 'regression']).default('auto'))
    .option('--categorical <columns>', 'as train: one-hot encode these columns even if they hold numbers', columnNamesArg('--categorical'))
    .option('--no-standardize', 'as train: keep numeric columns unscaled')
    .option('--no-impute', 'as train: fail on missing cells')
    .option('--model <file>', "a saved model, with its optimiser, instead of one built from the flags below; its stored preprocessing reads --csv (columns by name, its task and scaling)")
    .option('--hidden <sizes>', 'hidden layer sizes (default: as train, 256,128 on IDX; scaled to the table on CSV)', sizes)
    .addOption(new Option('--activation <name>', 'hidden activation').choices(['relu', 'leakyRelu', 'elu', 'selu', 'gelu', 'silu', 'tanh', 'sigmoid']).default('relu'))
    .option('--dropout <rate>', 'dropout after each hidden layer', fraction('--dropout'), 0)
    .addOption(new Option('--optimizer <name>', "optimiser (default adam; with --model, the model's)").choices([...OPTIMIZER_NAMES]))
    .option('--lr <rate>', `${LR_HELP}; with --model, the model's`, positive('--lr'))
    .option('--seed <n>', 'seed of the weights and samples', int('--seed', 0), 1);
}

/**
 * The model to check: the --model file's, with the optimiser it was saved with unless --optimizer
 * or --lr replaces it (--lr alone keeps its optimiser's name), or train's network for the flags.
 * Returns the optimiser's name for the report.
 */
function buildModel(o: ModelFlags, data: RecipeData, loaded: LoadedModel | null, parts: CliParts): { model: Sequential; optimizer: string } {
  const classification = data.task === 'classification';
  if (loaded) {
    const { model, metadata } = loaded;
    const own = model.optimizer?.name;
    const name = o.optimizer ?? own ?? 'adam';
    // A file without a compile holds no loss; train's metadata names a regression's.
    const saved = (metadata?.loss as 'mse' | 'huber' | 'l1' | undefined) ?? 'mse';
    if (!model.optimizer || o.optimizer !== undefined || o.lr !== undefined || !model.lossSpec) {
      // The lr it was compiled with: a schedule may have left the current one at 0.
      const lr = o.lr ?? (o.optimizer === undefined && model.optimizer ? model.optimizer.options.lr as number : commandLineLr(name));
      const spec = (o.optimizer === undefined && model.optimizer ? { name, ...model.optimizer.options, lr } : { name, lr }) as OptimizerSpec;
      model.compile({ loss: model.lossSpec?.spec ?? (classification ? 'crossEntropy' : saved), optimizer: spec });
    }
    return { model, optimizer: name };
  }
  const name = o.optimizer ?? 'adam';
  const model = parts.buildNetwork(o, data, Boolean(o.csv));
  model.compile({ loss: classification ? 'crossEntropy' : 'mse', optimizer: { name, lr: o.lr ?? commandLineLr(name) } as OptimizerSpec });
  return { model, optimizer: name };
}

/** Adds `check` and `lr-find` to the program. */
export function addRecipeCommands(p: Command, parts: CliParts): void {
  const c = p.command('check').description('sanity checks before training: initial loss, gradient check, overfitting 20 rows, dead units');
  modelOptions(parts.backendOptions(parts.dataOptions(c)))
    .option('--no-gradient', 'skip the gradient check')
    .option('--no-overfit', 'skip the overfitting check')
    .action((o: ModelFlags & { gradient: boolean; overfit: boolean }) => {
      parts.setupBackend(o);
      const loaded = o.model ? loadModel(o.model) : null;
      const data = parts.loadData(o, loaded, 'check');
      const { model } = buildModel(o, data, loaded, parts);
      const r = checkModel(model, data.x, data.y, {
        seed: o.seed, ...(o.gradient ? {} : { gradient: false as const }), ...(o.overfit ? {} : { overfit: false as const }),
      });
      process.stdout.write(`${r.text}\n`);
      process.stdout.write(`${JSON.stringify({
        ok: r.ok, findings: r.findings.length, initialLoss: r.initialLoss.loss, expectedLoss: r.initialLoss.expected,
        gradientError: r.gradient?.worst ?? null, overfitSteps: r.overfit?.steps ?? null,
      })}\n`);
    });
  const f = p.command('lr-find').description('learning-rate range test: the loss while the lr grows exponentially, and a suggested lr');
  modelOptions(parts.backendOptions(parts.dataOptions(f)))
    .option('--start <lr>', 'first learning rate', positive('--start'), 1e-7)
    .option('--end <lr>', 'last learning rate', positive('--end'), 10)
    .option('--steps <n>', 'steps of the ramp', int('--steps', 5), 100)
    .option('--batch-size <n>', 'rows per step', int('--batch-size'), 128)
    .option('--plot <base>', 'where to write the curve (<base>.svg and <base>.png)', 'lr-find')
    .action(async (o: ModelFlags & { start: number; end: number; steps: number; batchSize: number; plot: string }) => {
      checkOutputPaths([{ option: '--plot (.svg)', path: `${o.plot}.svg` }, { option: '--plot (.png)', path: `${o.plot}.png` }], commandInputs(o));
      parts.setupBackend(o);
      const loaded = o.model ? loadModel(o.model) : null;
      const data = parts.loadData(o, loaded, 'lr-find');
      const { model, optimizer } = buildModel(o, data, loaded, parts);
      const r = lrFinder(model, data.x, data.y, { start: o.start, end: o.end, steps: o.steps, batchSize: o.batchSize, seed: o.seed });
      // The plotting packages are optional: without them the suggestion still stands.
      let curve = '';
      try {
        const files = await writeLrFinderPlot(r, o.plot);
        curve = `; curve in ${path.resolve(files.svg)} and .png`;
      } catch (e) {
        if ((e as { code?: string }).code !== ErrorCode.DEPENDENCY) throw e;
        process.stderr.write(`blasnet: no picture drawn: ${(e as Error).message}\n`);
      }
      process.stdout.write(`${optimizer}: ${r.steps} steps from lr ${o.start} to ${r.lrs[r.steps - 1].toPrecision(3)}${r.diverged ? ' (stopped: the loss diverged)' : ''}\n`);
      process.stdout.write(`steepest descent at lr ${r.steepest.toPrecision(3)}; minimum at ${r.minimum.toPrecision(3)}, / 10 = ${r.minimumOver10.toPrecision(3)}\n`);
      process.stdout.write(`suggested lr ${r.suggestion.toPrecision(3)}${curve}\n`);
      process.stdout.write(`${JSON.stringify({ suggestion: r.suggestion, steepest: r.steepest, minimum: r.minimum, minimumOver10: r.minimumOver10, steps: r.steps, diverged: r.diverged })}\n`);
    });
}
