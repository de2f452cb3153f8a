/**
 * The recipe on the command line, run as a user runs it, on a small CSV of seeded blobs:
 * `blasnet check`, `blasnet lr-find` with its plot, `train`'s checks on by default and
 * --no-checks, and coded failures for a bad range; then both on saved models, which read a
 * table through the model's own preprocessing.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dense, loadModel, lrFinder, readTable, Rng, saveModel, Sequential, TabularPreprocessor } from '../lib';

const CLI = path.resolve(__dirname, '..', 'lib', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-recipe-cli-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 120000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** 400 rows of 3 blobs in 5 dimensions, as CSV with a header and a label column. */
function writeBlobs(file: string, seed: number): void {
  const rng = new Rng(seed);
  const centres = [0, 1, 2].map(() => Array.from({ length: 5 }, () => rng.normal()));
  const lines = ['a,b,c,d,e,label'];
  for (let i = 0; i < 400; i++) {
    const c = i % 3;
    lines.push([...centres[c].map((m) => (m + 0.4 * rng.normal()).toFixed(4)), String(c)].join(','));
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

/** 300 rows of price = 3 x1 - 2 x2 + x3 + 50 + noise, prices with cents (a regression label). */
function writePrices(file: string, seed: number): void {
  const rng = new Rng(seed);
  const lines = ['x1,x2,x3,price'];
  for (let i = 0; i < 300; i++) {
    const x = [rng.normal(), rng.normal(), rng.normal()];
    lines.push([...x.map((v) => v.toFixed(4)), (3 * x[0] - 2 * x[1] + x[2] + 50 + 0.1 * rng.normal()).toFixed(2)].join(','));
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

/** The same CSV file with its columns in another order (the label among them). */
function reorderColumns(from: string, to: string, order: number[]): void {
  const lines = fs.readFileSync(from, 'utf8').trim().split('\n').map((l) => l.split(','));
  fs.writeFileSync(to, `${lines.map((cells) => order.map((k) => cells[k]).join(',')).join('\n')}\n`);
}

/** The header and the first n rows of a CSV file. */
function headRows(from: string, to: string, n: number): void {
  fs.writeFileSync(to, `${fs.readFileSync(from, 'utf8').split('\n').slice(0, n + 1).join('\n')}\n`);
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop() as string);

describe('blasnet check and lr-find', () => {
  const train = path.join(tmp, 'train.csv');
  const test = path.join(tmp, 'test.csv');
  before(() => {
    writeBlobs(train, 1);
    writeBlobs(test, 2);
  });

  it('check prints every check and a JSON line', function () {
    this.timeout(60000);
    const r = run('check', '--csv', train, '--hidden', '16', '--activation', 'tanh', '--lr', '0.01');
    assert.equal(r.status, 0, r.stderr);
    // A table network's head starts at zero: chance level exactly, on every seed.
    for (const seed of ['1', '2', '3']) {
      const s = run('check', '--csv', train, '--no-gradient', '--no-overfit', '--seed', seed);
      assert.ok(Math.abs(lastJson(s.stdout).initialLoss - Math.log(3)) < 1e-6, s.stdout);
      assert.equal(lastJson(s.stdout).ok, true, s.stdout);
    }
    assert.match(r.stdout, /initial loss [\d.]+ on 256 rows; expected 1\.0986: ln 3/);
    assert.match(r.stdout, /gradient check on 8 rows/);
    assert.match(r.stdout, /overfit 20 rows: reached in \d+ steps/);
    const last = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    assert.equal(last.expectedLoss, Math.log(3));
    assert.ok(last.gradientError < 1e-2);
    const quick = run('check', '--csv', train, '--hidden', '16', '--no-gradient', '--no-overfit');
    assert.equal(quick.status, 0, quick.stderr);
    assert.doesNotMatch(quick.stdout, /gradient check|overfit \d+ rows/);
  });

  it('lr-find writes the curve and suggests an lr; a range that never falls fails with a code', function () {
    this.timeout(60000);
    const r = run('lr-find', '--csv', train, '--hidden', '16', '--start', '1e-5', '--end', '10', '--steps', '40', '--batch-size', '32', '--plot', 'curve');
    assert.equal(r.status, 0, r.stderr);
    const last = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    assert.ok(last.suggestion > 1e-5 && last.suggestion < 10, r.stdout);
    assert.match(fs.readFileSync(path.join(tmp, 'curve.svg'), 'utf8'), /^<svg/);
    assert.ok(fs.existsSync(path.join(tmp, 'curve.png')));
    const flat = run('lr-find', '--csv', train, '--hidden', '16', '--start', '1e-12', '--end', '1e-11', '--steps', '10');
    assert.equal(flat.status, 1);
    assert.match(flat.stderr, /never decreased.*ERR_BLASNET_ARG_RANGE/);
    const bad = run('lr-find', '--csv', train, '--steps', '2');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--steps must be an integer >= 5/);
  });

  it("without --hidden, check and lr-find build train's network for the table, on train's training rows", function () {
    this.timeout(60000);
    const prices = path.join(tmp, 'sized-prices.csv');
    writePrices(prices, 6);
    for (const [file, label] of [[train, 'label'], [prices, 'price']]) {
      // The same network (sizes, head, seed) on the same rows: train's first check line is check's.
      const t = run('train', '--csv', file, '--label', label, '--epochs', '1', '--out', 'sized.blasnet', '--history', 'sized.h.csv', '--curves', 'sized.c');
      assert.equal(t.status, 0, t.stderr);
      const trained = /checks: (initial loss [\d.]+ on \d+ rows; expected [^\n]*)/.exec(t.stdout);
      assert.ok(trained, t.stdout);
      assert.match(t.stdout, /\n0 +dense\(32, relu\) /);
      const c = run('check', '--csv', file, '--label', label, '--no-gradient', '--no-overfit');
      assert.equal(c.status, 0, c.stderr);
      assert.equal(c.stdout.split('\n')[0], trained[1]);
      const f = run('lr-find', '--csv', file, '--label', label, '--steps', '10', '--plot', 'sized-lr');
      assert.equal(f.status, 0, f.stderr);
    }
  });

  it('train runs the cheap checks first unless --no-checks', function () {
    this.timeout(60000);
    const args = ['train', '--csv', train, '--test-csv', test, '--hidden', '8', '--epochs', '1', '--out', 'm.blasnet', '--history', 'h.csv', '--curves', 'c'];
    const r = run(...args);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /checks: initial loss/);
    const off = run(...args, '--no-checks');
    assert.equal(off.status, 0, off.stderr);
    assert.doesNotMatch(off.stdout, /checks:/);
  });
});

describe('blasnet check and lr-find on a saved model', () => {
  const blobs = path.join(tmp, 'saved-blobs.csv');
  const prices = path.join(tmp, 'prices.csv');
  const classifier = path.join(tmp, 'classifier.blasnet');
  const regressor = path.join(tmp, 'regressor.blasnet');
  const quick = ['--no-gradient', '--no-overfit'];
  before(function () {
    this.timeout(60000);
    writeBlobs(blobs, 3);
    writePrices(prices, 4);
    const common = ['--hidden', '8', '--epochs', '2', '--no-checks', '--quiet', '--history', 'saved.h.csv', '--curves', 'saved.c'];
    const c = run('train', '--csv', blobs, '--out', classifier, ...common);
    assert.equal(c.status, 0, c.stderr);
    const r = run('train', '--csv', prices, '--label', 'price', '--out', regressor, ...common);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(lastJson(r.stdout).task, 'regression');
  });

  it("check --model maps the columns by name and scales them with the model's training statistics", function () {
    this.timeout(60000);
    const reordered = path.join(tmp, 'saved-blobs-reordered.csv');
    reorderColumns(blobs, reordered, [4, 5, 2, 0, 3, 1]);
    const head = path.join(tmp, 'saved-blobs-head.csv');
    headRows(blobs, head, 256);
    const original = run('check', '--model', classifier, '--csv', blobs, ...quick);
    assert.equal(original.status, 0, original.stderr);
    const shuffled = run('check', '--model', classifier, '--csv', reordered, ...quick);
    assert.equal(shuffled.status, 0, shuffled.stderr);
    const a = lastJson(original.stdout).initialLoss;
    assert.equal(lastJson(shuffled.stdout).initialLoss, a);
    // The initial loss is on the first 256 rows: evaluate's loss on those rows, which goes through
    // the stored preprocessing, is the same number only if check used it too.
    const e = run('evaluate', '--model', classifier, '--csv', head);
    assert.equal(e.status, 0, e.stderr);
    const expected = lastJson(e.stdout).loss;
    assert.ok(Math.abs(a - expected) <= 1e-5 * expected, `check ${a}, evaluate ${expected}`);
    // A model of a table is not checked on the default image set.
    const images = run('check', '--model', classifier, ...quick);
    assert.equal(images.status, 1);
    assert.match(images.stderr, /check: .*classifier\.blasnet was trained on a table \(label "label"\); pass --csv.*ERR_BLASNET_ARG_RANGE/);
    // Nor evaluated or predicted on it (a table of 784 numeric columns would otherwise be scored
    // on the images, skipping its preprocessing), before the images are read.
    for (const command of ['evaluate', 'predict']) {
      const r = run(command, '--model', classifier, '--data', path.join(tmp, 'no-such-dir'));
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`${command}: .*classifier\\.blasnet was trained on a table \\(label "label"\\); pass --csv.*ERR_BLASNET_ARG_RANGE`));
      assert.equal(r.stdout, '');
    }
  });

  it('a regression model runs check and lr-find on its own task, loss and target scaling', function () {
    this.timeout(60000);
    const c = run('check', '--model', regressor, '--csv', prices, '--label', 'price');
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /initial loss [\d.]+ on 256 rows; expected [\d.]+: mean of y\^2/);
    assert.match(c.stdout, /overfit 20 rows: (reached|not reached) in \d+ steps \(loss /);
    const head = path.join(tmp, 'prices-head.csv');
    headRows(prices, head, 256);
    const e = run('evaluate', '--model', regressor, '--csv', head);
    assert.equal(e.status, 0, e.stderr);
    const expected = lastJson(e.stdout).loss;
    const got = lastJson(c.stdout).initialLoss;
    assert.ok(Math.abs(got - expected) <= 1e-5 * expected, `check ${got}, evaluate ${expected}`);
    // Without --label the model's label column is the one read.
    const implicit = run('check', '--model', regressor, '--csv', prices, ...quick);
    assert.equal(implicit.status, 0, implicit.stderr);
    assert.equal(lastJson(implicit.stdout).initialLoss, got);
    const wrong = run('check', '--model', regressor, '--csv', prices, '--label', 'x1', ...quick);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /check: the model's label column is "price", not "x1".*ERR_BLASNET_ARG_RANGE/);
    const task = run('check', '--model', regressor, '--csv', prices, '--task', 'classification', ...quick);
    assert.equal(task.status, 1);
    assert.match(task.stderr, /check: --task classification, but .*regressor\.blasnet is a regression model.*ERR_BLASNET_ARG_RANGE/);
    const f = run('lr-find', '--model', regressor, '--csv', prices, '--start', '1e-4', '--end', '1', '--steps', '20', '--batch-size', '32', '--plot', 'reg-lr');
    assert.equal(f.status, 0, f.stderr);
    assert.ok(lastJson(f.stdout).suggestion > 1e-4, f.stdout);
  });

  it("lr-find and check --model use the model's own optimiser; --optimizer or --lr replace it", function () {
    this.timeout(60000);
    const sgd = path.join(tmp, 'sgd.blasnet');
    const t = run('train', '--csv', blobs, '--out', sgd, '--optimizer', 'sgd', '--lr', '0.05', '--hidden', '8', '--epochs', '1', '--no-checks', '--quiet',
      '--history', 'sgd.h.csv', '--curves', 'sgd.c');
    assert.equal(t.status, 0, t.stderr);
    const args = ['--csv', blobs, '--start', '1e-5', '--end', '1', '--steps', '15', '--batch-size', '32'];
    const own = run('lr-find', '--model', sgd, ...args, '--plot', 'sgd-lr');
    assert.equal(own.status, 0, own.stderr);
    assert.match(own.stdout, /^sgd: 15 steps/);
    const loaded = loadModel(sgd);
    const table = readTable(blobs);
    const want = lrFinder(loaded.model, (loaded.preprocessor as TabularPreprocessor).transform(table), (loaded.preprocessor as TabularPreprocessor).targets(table),
      { start: 1e-5, end: 1, steps: 15, batchSize: 32, seed: 1 });
    assert.equal(lastJson(own.stdout).suggestion, want.suggestion);
    const other = run('lr-find', '--model', sgd, ...args, '--optimizer', 'adam', '--plot', 'adam-lr');
    assert.equal(other.status, 0, other.stderr);
    assert.match(other.stdout, /^adam: 15 steps/);
    assert.notEqual(lastJson(other.stdout).suggestion, want.suggestion);
  });

  it('table flags without --csv, or preprocessing flags with a --model, are coded errors before any work', function () {
    this.timeout(60000);
    for (const command of ['check', 'lr-find']) {
      const cases: [string[], RegExp][] = [
        [['--test-csv', blobs, '--label', 'label'], new RegExp(`${command}: --test-csv needs --csv`)],
        [['--label', 'label'], new RegExp(`${command}: --label reads a CSV table; give --csv`)],
        [['--categorical', 'a', '--no-impute'], new RegExp(`${command}: --categorical, --no-impute read a CSV table; give --csv`)],
        [['--model', classifier, '--csv', blobs, '--no-standardize'], new RegExp(`${command}: --no-standardize: .*classifier\.blasnet's stored preprocessing reads the table`)],
      ];
      for (const [args, message] of cases) {
        const r = run(command, ...args, ...quick.slice(0, command === 'check' ? 2 : 0));
        assert.equal(r.status, 1, `${command} ${args.join(' ')}: ${r.stdout}`);
        assert.match(r.stderr, message);
        assert.match(r.stderr, /ERR_BLASNET_ARG_RANGE/);
        assert.equal(r.stdout, '');
      }
    }
  });

  it("check takes train's table and network flags, so its initial loss is the one train's checks print", function () {
    this.timeout(60000);
    const flags = ['--label', 'price', '--categorical', 'x3', '--no-standardize', '--hidden', '8', '--dropout', '0.3'];
    const t = run('train', '--csv', prices, ...flags, '--epochs', '1', '--out', 'flags.blasnet', '--history', 'flags.h.csv', '--curves', 'flags.c');
    assert.equal(t.status, 0, t.stderr);
    const printed = /checks: initial loss ([\d.]+) on/.exec(t.stdout);
    assert.ok(printed, t.stdout);
    const c = run('check', '--csv', prices, ...flags, ...quick);
    assert.equal(c.status, 0, c.stderr);
    assert.equal(lastJson(c.stdout).initialLoss.toFixed(4), printed[1]);
  });

  it('a model without table preprocessing cannot read --csv: a coded error, before any check', function () {
    this.timeout(60000);
    const bare = path.join(tmp, 'bare.blasnet');
    const model = new Sequential({ inputSize: 5, seed: 1, layers: [dense(8, { activation: 'relu' }), dense(3)] });
    model.compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 } });
    saveModel(bare, model);
    for (const command of ['check', 'lr-find']) {
      const r = run(command, '--model', bare, '--csv', blobs);
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`${command}: .*bare\\.blasnet holds no table preprocessing.*saved-blobs\\.csv.*ERR_BLASNET_FORMAT`));
      assert.equal(r.stdout, '');
    }
  });

  it('without --model a label holding quantities is checked as a regression, as train detects it', function () {
    this.timeout(60000);
    const r = run('check', '--csv', prices, '--label', 'price', '--hidden', '8', ...quick);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /expected [\d.]+: mean of y\^2/);
    const forced = run('check', '--csv', blobs, '--task', 'regression', '--hidden', '8', ...quick);
    assert.equal(forced.status, 0, forced.stderr);
    assert.match(forced.stdout, /mean of y\^2/);
  });
});
