/**
 * The CLI on CSV tables, run as a user runs it on files written here: class names, a test file
 * missing a class, an unknown label failing before any work, regression detected by itself,
 * categorical and missing cells, one file for train/evaluate/predict, probabilities. The
 * regression runs on the js backend, the rest on the default one.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { defaultBackend, defaultBuild, formatRegressionReport, loadModel, readTable, regressionReport, Rng, rocAuc, saveModel, TabularPreprocessor } from '../lib';

const CLI = path.resolve(__dirname, '..', 'lib', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-cli-tables-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json: () => JSON.parse(r.stdout.trim().split('\n').pop() as string) };
}

function write(name: string, header: string[], rows: (string | number)[][]): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, [header.join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n');
  return file;
}

/** Three well-separated blobs named by colour: [x1, x2, name]. */
function blobs(rng: Rng, n: number, names = ['red', 'green', 'blue']): (string | number)[][] {
  const centres = [[0, 0], [4, 0], [0, 4]];
  return Array.from({ length: n }, (_, i) => {
    const c = i % names.length;
    const k = ['red', 'green', 'blue'].indexOf(names[c]);
    return [(centres[k][0] + rng.normal() * 0.5).toFixed(3), (centres[k][1] + rng.normal() * 0.5).toFixed(3), names[c]];
  });
}

describe('blasnet CLI on CSV tables', function () {
  this.timeout(60000);
  const rng = new Rng(11);
  const train = write('colours.csv', ['x1', 'x2', 'colour'], blobs(rng, 150));

  it('classification with class names; a test file without one class is scored through the training vocabulary', () => {
    const test = write('colours-test.csv', ['x1', 'x2', 'colour'], blobs(rng, 40, ['blue', 'green']));
    const r = run('train', '--csv', train, '--test-csv', test, '--label', 'colour', '--confusion', path.join(tmp, 'cm'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /task: classification \(label "colour" holds text/);
    assert.match(r.stdout, /early stopping on the validation loss/);
    assert.match(r.stdout, /\n {9}red {4}0\.0000 {4}0\.0000 {4}0\.0000 {9}0\n/);
    const last = r.json();
    assert.ok(last.testAccuracy >= 0.95, `test accuracy ${last.testAccuracy}`);
    for (const f of ['colours.blasnet', 'colours.history.csv', 'colours.curves.svg', 'cm.svg', 'cm.png']) assert.ok(fs.existsSync(path.join(tmp, f)), f);
    assert.ok(!fs.readdirSync(tmp).some((f) => f.startsWith('fashion-mnist')));
    // The learning curves show validation next to training.
    assert.match(fs.readFileSync(path.join(tmp, 'colours.curves.svg'), 'utf8'), /validation/);
  });

  it('flags that read a table are refused on IDX images, and --patience without validation rows, before any data loads', () => {
    const idx = path.join(tmp, 'no-such-idx-dir');
    for (const [args, flags] of [
      [['train', '--data', idx, '--test-split', '0.5', '--label', 'species', '--no-standardize'], '--label, --no-standardize, --test-split read a CSV table'],
      [['train', '--data', idx, '--task', 'regression'], '--task reads a CSV table'],
      [['evaluate', '--model', 'm.blasnet', '--data', idx, '--label', 'species'], '--label reads a CSV table'],
      [['predict', '--model', 'm.blasnet', '--data', idx, '--delimiter', ';'], '--delimiter reads a CSV table'],
    ] as const) {
      const r = run(...args);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, new RegExp(`${args[0]}: ${flags}, and this run reads IDX images; give --csv, or leave (it|them) out \\(ERR_BLASNET_ARG_RANGE\\)`), r.stderr);
    }
    // --test-csv is a table too: evaluate and predict take the table flags with it.
    const model = path.join(tmp, 'for-test-csv.blasnet');
    assert.equal(run('train', '--csv', train, '--label', 'colour', '--epochs', '1', '--out', model, '--no-checks').status, 0);
    for (const command of ['evaluate', 'predict']) {
      const ok = run(command, '--model', model, '--test-csv', train, '--label', 'colour', '--delimiter', ',');
      assert.equal(ok.status, 0, `${command}: ${ok.stderr}`);
    }
    const r = run('train', '--csv', train, '--label', 'colour', '--validation-split', '0', '--patience', '2');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--patience 2 stops on the validation loss, and --validation-split 0 holds no validation rows/);
    assert.equal(r.stdout, '');
    // Without --patience, a run with no validation rows says it has no early stopping.
    const quiet = run('train', '--csv', train, '--label', 'colour', '--validation-split', '0', '--epochs', '2', '--out', path.join(tmp, 'noval.blasnet'), '--no-checks');
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.match(quiet.stdout, /2 epochs of batch \d+; no validation rows, so no early stopping/);
  });

  it('an unknown label in the test file is a coded error naming row and column, before training', () => {
    const rows = blobs(rng, 6);
    rows[4][2] = 'purple';
    const test = write('unknown.csv', ['x1', 'x2', 'colour'], rows);
    const r = run('train', '--csv', train, '--test-csv', test, '--label', 'colour', '--out', path.join(tmp, 'never.blasnet'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /label "purple" at data row 5, column "colour" was not seen in training.*ERR_BLASNET_LABEL/);
    assert.doesNotMatch(r.stdout, /epoch/);
    assert.ok(!fs.existsSync(path.join(tmp, 'never.blasnet')));
    const e = run('evaluate', '--model', path.join(tmp, 'colours.blasnet'), '--csv', test);
    assert.equal(e.status, 1);
    assert.match(e.stderr, /ERR_BLASNET_LABEL/);
    const alone = run('train', '--test-csv', test);
    assert.equal(alone.status, 1);
    assert.match(alone.stderr, /--test-csv needs --csv/);
  });

  it('regression is detected from the label, trained on standardised targets and reported in its units (js backend)', () => {
    const r2 = new Rng(5);
    const rows = Array.from({ length: 300 }, () => {
      const a = r2.normal(), b = r2.normal();
      return [a.toFixed(4), b.toFixed(4), (100 + 30 * a - 20 * b + r2.normal()).toFixed(3)];
    });
    const file = write('prices.csv', ['a', 'b', 'price'], rows);
    const r = run('train', '--csv', file, '--label', 'price', '--backend', 'js', '--loss', 'huber');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /task: regression \(label "price" holds non-integer numbers/);
    assert.match(r.stdout, /test set: 60 of 300 rows/);
    assert.match(r.stdout, /R2 0\.9\d{3} {2}MAE \d+\.\d{4} {2}RMSE/);
    const last = r.json();
    assert.equal(last.task, 'regression');
    assert.ok(last.r2 > 0.95, `R2 ${last.r2}`);
    // Predictions come back in the label's units (around 100, not standardised).
    const p = run('predict', '--model', path.join(tmp, 'prices.blasnet'), '--csv', file, '--backend', 'js');
    assert.equal(p.status, 0, p.stderr);
    const lines = p.stdout.trim().split('\n');
    assert.equal(lines[0], 'row,price');
    const predicted = Number(lines[1].split(',')[1]);
    assert.ok(Math.abs(predicted - Number(rows[0][2])) < 10, `${predicted} vs ${rows[0][2]}`);
  });

  it('a label large next to its spread (timestamps): train, evaluate and search score it, and predict prints it, in float64', () => {
    // Near 1.7e9 float32 values are 128 apart: the labels differ by at most 1000.
    const rows = Array.from({ length: 200 }, (_, i) => [i / 20, 1700000000 + Math.round(i * 5)]);
    const file = write('ts.csv', ['x', 'ts'], rows);
    const held = [[0, 1700000000], [5, 1700000300], [9.95, 1700000995]];
    const test = write('ts-test.csv', ['x', 'ts'], held);
    const saved = path.join(tmp, 'ts.blasnet');
    const r = run('train', '--csv', file, '--test-csv', test, '--label', 'ts', '--out', saved, '--epochs', '20', '--lr', '0.01', '--quiet');
    assert.equal(r.status, 0, r.stderr);
    const { model, preprocessor } = loadModel(saved);
    const prep = preprocessor as TabularPreprocessor;
    const x = prep.transform(readTable(test));
    const predicted = prep.inverseTargetsFloat64(model.predict(x));
    const truth = held.map((row) => row[1]);
    const expected = regressionReport(truth, predicted);
    const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
    const trained = r.json();
    for (const k of ['r2', 'mae', 'rmse'] as const) close(trained[k], expected[k], `train ${k}`);
    const e = run('evaluate', '--model', saved, '--csv', test);
    assert.equal(e.status, 0, e.stderr);
    for (const k of ['r2', 'mae', 'rmse'] as const) close(e.json()[k], expected[k], `evaluate ${k}`);
    assert.ok(e.stdout.includes(formatRegressionReport(expected)), e.stdout);
    // Every printed value reads back as the float64 prediction, not a float32 or 7-digit rounding of it.
    const p = run('predict', '--model', saved, '--csv', test);
    assert.equal(p.status, 0, p.stderr);
    const lines = p.stdout.trim().split('\n');
    assert.equal(lines[0], 'row,ts');
    assert.deepEqual(lines.slice(1).map((l) => Number(l.split(',')[1])), Array.from(predicted));
    // search --test-csv: mse and mae in the label's units, in float64.
    const out = path.join(tmp, 'ts-search.blasnet');
    const s = run('search', '--csv', file, '--test-csv', test, '--label', 'ts', '--trials', '1', '--epochs', '2', '--seed', '3', '--out', out,
      '--out-table', path.join(tmp, 'ts-search.csv'), '--quiet');
    assert.equal(s.status, 0, s.stderr);
    const searched = loadModel(out);
    const sp = searched.preprocessor as TabularPreprocessor;
    const sv = sp.inverseTargetsFloat64(searched.model.predict(sp.transform(readTable(test))));
    const sr = regressionReport(truth, sv);
    close(s.json().testMae, sr.mae, 'search testMae');
    close(s.json().testMse, sr.rmse ** 2, 'search testMse');
  });

  it('categorical and missing cells: one-hot, imputed with indicators; an unknown category warns', () => {
    const r3 = new Rng(9);
    const kinds = ['oak', 'pine', 'elm'];
    const rows = Array.from({ length: 240 }, (_, i) => {
      const k = i % 3, h = r3.normal();
      const y = (k === 0) !== (h > 0) ? 'tall' : 'short';
      return [i % 17 === 0 ? 'NA' : h.toFixed(3), i % 13 === 0 ? '' : kinds[k], y];
    });
    const file = write('trees.csv', ['height', 'kind', 'y'], rows);
    const r = run('train', '--csv', file, '--label', 'y');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /2 feature columns -> 6 inputs: 1 numeric \(standardised\); 1 categorical \(kind: 3; one-hot\); 2 with missing values/);
    assert.ok(r.json().testAccuracy > 0.8, r.stdout);
    const unknown = write('trees-new.csv', ['height', 'kind'], [['0.5', 'birch'], ['', 'oak']]);
    const p = run('predict', '--model', path.join(tmp, 'trees.blasnet'), '--csv', unknown);
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stderr, /blasnet: warning: .*1 row of column "kind" had categories not seen in training \(first "birch" at data row 1\)/);
    assert.match(p.stdout, /^row,y\n1,(tall|short)\n2,(tall|short)\n$/);
    const labelled = run('train', '--csv', file, '--label', 'y', '--categorical', 'kind,y');
    assert.equal(labelled.status, 1);
    assert.match(labelled.stderr, /column "y" is the label column and cannot be a categorical feature \(ERR_BLASNET_ARG_RANGE\)/);
    const off = run('train', '--csv', file, '--label', 'y', '--no-impute');
    assert.equal(off.status, 1);
    assert.match(off.stderr, /missing value "NA" at data row \d+, column "height" \(imputation is off\).*ERR_BLASNET_DATA/);
  });

  it('one file: train splits off a test set; evaluate and predict read one file; --proba writes probabilities', () => {
    const r = run('train', '--csv', train, '--label', 'colour', '--out', path.join(tmp, 'one.blasnet'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /test set: 30 of 150 rows of .*colours\.csv \(seeded, stratified; --test-split 0\.2\)/);
    assert.ok(fs.existsSync(path.join(tmp, 'one.history.csv')));
    const e = run('evaluate', '--model', path.join(tmp, 'one.blasnet'), '--csv', train);
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stdout, /^150 rows:\n {13}precision/);
    const ev = e.json();
    assert.equal(ev.samples, 150);
    assert.ok(ev.accuracy > 0.95);
    const unlabeled = write('colours-unlabeled.csv', ['x1', 'x2'], blobs(new Rng(2), 5).map((row) => row.slice(0, 2)));
    const out = path.join(tmp, 'pred.csv');
    const p = run('predict', '--model', path.join(tmp, 'one.blasnet'), '--csv', unlabeled, '--proba', '--output', out);
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /predictions for 5 rows written to .*pred\.csv/);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'row,colour,p(blue),p(green),p(red)');
    assert.equal(lines.length, 6);
    assert.deepEqual(lines.slice(1).map((l) => l.split(',')[0]), ['1', '2', '3', '4', '5']);
    const cells = lines[1].split(',');
    assert.equal(cells[0], '1');
    assert.equal(cells[1], 'red');
    const sum = cells.slice(2).reduce((s, v) => s + Number(v), 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
  });

  it("one file: the columns' kinds are the whole file's, so the split's seed cannot make a column numeric or empty", () => {
    // "age" is numbers with one text cell; "note" has one value. Each seed's split used to decide
    // their kinds on its training rows alone, and some seeds failed.
    const rows = Array.from({ length: 60 }, (_, i) => [(i % 7) - 3, i === 7 ? 'unknown' : 20 + (i % 40), i === 4 ? 3.5 : '', i % 2 ? 'a' : 'b']);
    const file = write('kinds.csv', ['x', 'age', 'note', 'y'], rows);
    const held: boolean[] = [];
    for (const seed of ['1', '2', '8']) {
      const r = run('train', '--csv', file, '--label', 'y', '--out', path.join(tmp, 'kinds.blasnet'), '--epochs', '1', '--no-checks', '--seed', seed);
      assert.equal(r.status, 0, `seed ${seed}: ${r.stderr}`);
      assert.match(r.stdout, /1 categorical \(age: \d+; one-hot\)/, `seed ${seed}`);
      held.push(/column "note" has no values in these \d+ rows, only missing cells, and is left out/.test(r.stderr));
    }
    // The one "note" value is in the test rows of some seeds' splits and in training for others.
    assert.ok(held.includes(true) && held.includes(false), held.join());
    const s = run('search', '--csv', file, '--label', 'y', '--trials', '1', '--epochs', '1', '--folds', '5', '--quiet');
    assert.equal(s.status, 0, s.stderr);
  });

  it('--confusion on a regression, onecycle with an optimiser without momentum, a label of one row per class: what each means', () => {
    const prices = write('conf-prices.csv', ['x', 'price'], Array.from({ length: 120 }, (_, i) => [i, `${i}.25`]));
    const model = path.join(tmp, 'conf-prices.blasnet');
    const t = run('train', '--csv', prices, '--label', 'price', '--confusion', 'conf-cm', '--epochs', '1', '--out', model);
    assert.equal(t.status, 1);
    assert.match(t.stderr, /train: --confusion draws a classifier's confusion matrix; this is a regression task.*ERR_BLASNET_ARG_RANGE/);
    assert.equal(run('train', '--csv', prices, '--label', 'price', '--epochs', '1', '--no-checks', '--quiet', '--out', model).status, 0);
    const e = run('evaluate', '--model', model, '--csv', prices, '--confusion', 'conf-cm');
    assert.equal(e.status, 1);
    assert.match(e.stderr, /evaluate: --confusion draws a classifier's confusion matrix; .*conf-prices\.blasnet is a regression model.*ERR_BLASNET_ARG_RANGE/);
    assert.ok(!fs.existsSync(path.join(tmp, 'conf-cm.svg')));
    // Each of 120 "classes" has one row: none can be held out, and the message says why.
    const c = run('train', '--csv', prices, '--label', 'price', '--task', 'classification', '--test-split', '0.5', '--quiet');
    assert.equal(c.status, 1);
    assert.match(c.stderr, /every one of the 120 classes of "price" has a single row, so none can be held out for testing \(is the label a quantity\? --task regression\)/);
    // One price repeated: 118 classes of one row and one of two, none for a 20% test share.
    const repeated = fs.readFileSync(prices, 'utf8').trim().split('\n');
    repeated[repeated.length - 1] = `${repeated[repeated.length - 1].split(',').slice(0, -1).join(',')},${repeated[1].split(',').pop()}`;
    const almost = path.join(tmp, 'almost-unique.csv');
    fs.writeFileSync(almost, `${repeated.join('\n')}\n`);
    const a = run('train', '--csv', almost, '--label', 'price', '--task', 'classification', '--quiet');
    assert.equal(a.status, 1);
    assert.match(a.stderr, /--test-split 0\.2 of 120 rows leaves no test rows: 118 of the rows are classes of a single row, kept in training, and the other 2 give the test set none \(is the label a quantity\? --task regression\)/);
    // onecycle cycles the lr alone for optimisers without momentum or beta1.
    const blobsFile = write('onecycle.csv', ['x1', 'x2', 'colour'], blobs(new Rng(8), 60));
    for (const optimizer of ['adagrad', 'adadelta']) {
      const r = run('train', '--csv', blobsFile, '--label', 'colour', '--schedule', 'onecycle', '--optimizer', optimizer, '--epochs', '2', '--no-checks', '--quiet',
        '--out', path.join(tmp, `onecycle-${optimizer}.blasnet`));
      assert.equal(r.status, 0, `${optimizer}: ${r.stderr}`);
    }
  });

  it('--label and --categorical name columns whose names hold commas; a mostly numeric label with a few text cells is an error, not hundreds of classes', () => {
    const rng = new Rng(12);
    const file = path.join(tmp, 'commas.csv');
    const lines = ['age,"zip, code","Income, USD"'];
    for (let i = 0; i < 80; i++) {
      const age = 20 + rng.int(40), zip = i % 2 ? '02134' : '10001';
      lines.push(`${age},${zip},${(age * 1000 + (zip === '02134' ? 5000 : 0) + rng.int(100)).toFixed(0)}`);
    }
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const r = run('train', '--csv', file, '--label', 'Income, USD', '--categorical', 'age,zip, code', '--epochs', '1', '--no-checks', '--out', path.join(tmp, 'commas.blasnet'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /task: regression/);
    assert.match(r.stdout, /2 categorical \(age: \d+, zip, code: 2; one-hot\)/);
    // One "-" among 80 prices: as text it would make every price a class.
    const prices = path.join(tmp, 'one-dash.csv');
    fs.writeFileSync(prices, ['size,price', ...Array.from({ length: 80 }, (_, i) => `${i},${i === 40 ? '-' : 1000 + 37 * i}`)].join('\n') + '\n');
    const bad = run('train', '--csv', prices, '--label', 'price', '--epochs', '1', '--out', path.join(tmp, 'one-dash.blasnet'));
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /label "price" holds numbers, but 1 text cell \("-" at data row 41\) among its 80 cells would make it classes.*--task classification.*ERR_BLASNET_DATA/);
    const classes = run('train', '--csv', prices, '--label', 'price', '--task', 'classification', '--test-csv', prices, '--epochs', '1', '--no-checks', '--quiet',
      '--out', path.join(tmp, 'one-dash.blasnet'));
    assert.equal(classes.status, 1, 'an explicit task keeps them as classes, one row each');
    assert.match(classes.stderr, /every one of the 80 classes of the training rows has a single row, so none can be held out for validation; pass --validation-split 0/);
    const kept = run('train', '--csv', prices, '--label', 'price', '--task', 'classification', '--test-csv', prices, '--validation-split', '0', '--epochs', '1',
      '--no-checks', '--quiet', '--out', path.join(tmp, 'one-dash.blasnet'));
    assert.equal(kept.status, 0, kept.stderr);
    assert.equal(kept.json().task, 'classification');
  });

  it("train without --lr runs each optimiser at its own default lr (adadelta 1, adagrad 1e-2), sgd at 1e-3", () => {
    const file = write('lr-defaults.csv', ['x1', 'x2', 'colour'], blobs(new Rng(6), 60));
    for (const [name, lr] of [['adadelta', 1], ['adagrad', 1e-2], ['nadam', 2e-3], ['sgd', 1e-3], ['adam', 1e-3]] as const) {
      const out = path.join(tmp, `lr-${name}.blasnet`);
      const r = run('train', '--csv', file, '--label', 'colour', '--optimizer', name, '--epochs', '1', '--no-checks', '--quiet', '--out', out);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(loadModel(out).model.optimizer?.lr, lr, name);
    }
  });

  it("--weight-decay 0 trains adamw without decay (its own default 0.01 without the flag); a negative one is refused", () => {
    const file = write('wd.csv', ['x1', 'x2', 'colour'], blobs(new Rng(7), 60));
    for (const [flag, wd] of [[['--weight-decay', '0'], 0], [[], 0.01], [['--weight-decay', '0.1'], 0.1]] as const) {
      const out = path.join(tmp, `wd-${wd}.blasnet`);
      const r = run('train', '--csv', file, '--label', 'colour', '--optimizer', 'adamw', ...flag, '--epochs', '1', '--no-checks', '--quiet', '--out', out);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(loadModel(out).model.optimizer?.options.weightDecay, wd, flag.join(' '));
    }
    const bad = run('train', '--csv', file, '--label', 'colour', '--weight-decay', '-1', '--epochs', '1', '--quiet');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--weight-decay must be a number >= 0/);
  });

  it('search --plot without the optional plotting packages still writes the table and the model, and says no plot was drawn', () => {
    const file = write('plotless.csv', ['x1', 'x2', 'colour'], blobs(new Rng(5), 60));
    const out = path.join(tmp, 'plotless.blasnet');
    // The plotting packages made missing, as `npm install --omit=optional` leaves them.
    const preload = path.join(tmp, 'no-plotting.js');
    fs.writeFileSync(preload, `const Module = require('module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (['vega', 'vega-lite', '@resvg/resvg-js'].includes(request)) throw Object.assign(new Error('Cannot find module ' + request), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };`);
    const r = spawnSync(process.execPath, ['--require', preload, CLI, 'search', '--csv', file, '--label', 'colour', '--trials', '2', '--epochs', '1',
      '--out-table', path.join(tmp, 'plotless-table.csv'), '--plot', path.join(tmp, 'plotless-plot'), '--out', out, '--workers', '1'], { cwd: tmp, encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /no plot drawn: .*the optional package vega is not installed/);
    assert.equal(loadModel(out).model.outputSize, 3);
    assert.ok(fs.existsSync(path.join(tmp, 'plotless-table.csv')));
    assert.ok(!fs.existsSync(path.join(tmp, 'plotless-plot.svg')));
    // lr-find keeps its suggestion, and evaluate --confusion its scores.
    const plotless = (...args: string[]) => spawnSync(process.execPath, ['--require', preload, CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 60000 });
    const lr = plotless('lr-find', '--csv', file, '--label', 'colour', '--steps', '20', '--batch-size', '16', '--plot', path.join(tmp, 'plotless-lr'));
    assert.equal(lr.status, 0, lr.stderr);
    assert.match(lr.stderr, /no picture drawn: .*the optional package vega is not installed/);
    assert.ok(Number.isFinite(JSON.parse(lr.stdout.trim().split('\n').pop() as string).suggestion), lr.stdout);
    assert.match(lr.stdout, /suggested lr [0-9.e-]+\n/);
    const ev = plotless('evaluate', '--model', out, '--csv', file, '--confusion', path.join(tmp, 'plotless-cm'));
    assert.equal(ev.status, 0, ev.stderr);
    assert.match(ev.stderr, /no pictures drawn/);
    assert.ok(Number.isFinite(JSON.parse(ev.stdout.trim().split('\n').pop() as string).accuracy), ev.stdout);
  });

  it('a test file of a header alone fails before training (train, search, evaluate); a file that is not UTF-8 fails naming its line', () => {
    const empty = path.join(tmp, 'empty-test.csv');
    fs.writeFileSync(empty, 'x1,x2,colour\n');
    const out = path.join(tmp, 'never-empty.blasnet');
    for (const args of [['train', '--csv', train, '--test-csv', empty, '--out', out], ['search', '--csv', train, '--test-csv', empty, '--trials', '1', '--out', out]]) {
      const r = run(...args, '--label', 'colour', '--epochs', '1');
      assert.equal(r.status, 1, args[0]);
      assert.match(r.stderr, new RegExp(`${args[0]}: .*empty-test\\.csv has no data rows; the test set needs at least one \\(ERR_BLASNET_DATA\\)`), r.stderr);
      assert.equal(r.stdout.includes('epoch'), false, `${args[0]} trained: ${r.stdout}`);
      assert.equal(fs.existsSync(out), false);
    }
    // A saved model's commands name the file too.
    const model = path.join(tmp, 'for-empty.blasnet');
    assert.equal(run('train', '--csv', train, '--label', 'colour', '--epochs', '1', '--out', model, '--no-checks').status, 0);
    for (const command of ['predict', 'evaluate', 'check']) {
      const r = run(command, '--model', model, '--csv', empty);
      assert.equal(r.status, 1, command);
      assert.match(r.stderr, new RegExp(`${command}: .*empty-test\\.csv has no data rows \\(a header alone\\); ${command} needs at least one \\(ERR_BLASNET_DATA\\)`), r.stderr);
    }
    const latin1 = path.join(tmp, 'latin1.csv');
    fs.writeFileSync(latin1, Buffer.from('x,name\n1,M\xfcller\n2,M\xf6ller\n3,Smith\n4,M\xfcller\n', 'latin1'));
    const r = run('train', '--csv', latin1, '--label', 'name', '--out', out);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /latin1\.csv: line 2 is not UTF-8 text .*save the file as UTF-8 .*\(ERR_BLASNET_DATA\)/);
  });

  it('one file with classes of one row: the split keeps them in training, and says so', () => {
    const rows = Array.from({ length: 60 }, (_, i) => [i, i < 50 ? i % 2 : `c${i}`]);
    const file = write('rare.csv', ['x', 'y'], rows);
    const r = run('train', '--csv', file, '--label', 'y', '--out', path.join(tmp, 'rare.blasnet'), '--epochs', '2', '--no-checks');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /test set: 10 of 60 rows of .*rare\.csv \(seeded, stratified; --test-split 0\.2; 10 rows of classes with one row kept in training\)/);
    assert.match(r.stdout, /; 12 classes/);
    const e = run('evaluate', '--model', path.join(tmp, 'rare.blasnet'), '--csv', file);
    assert.equal(e.status, 0, e.stderr);
  });

  it('a model ending in logits (defaultBuild, as search --out saves it): predict --proba prints predictProba, evaluate scores ROC AUC on it', () => {
    const r4 = new Rng(21);
    const rows = Array.from({ length: 120 }, () => {
      const a = r4.normal(), b = r4.normal();
      return [a.toFixed(3), b.toFixed(3), a + 0.5 * b + 0.7 * r4.normal() > 0 ? 'yes' : 'no'];
    });
    const file = write('answers.csv', ['x1', 'x2', 'answer'], rows);
    const table = readTable(file);
    const prep = TabularPreprocessor.fit(table, { label: 'answer' });
    const x = prep.transform(table), y = prep.targets(table) as Int32Array;
    const built = defaultBuild({ hidden: [16], lr: 0.01 }, { inputSize: prep.inputSize, outputSize: prep.outputSize, task: 'classification', seed: 3, backend: defaultBackend().name });
    built.fit(x, y, { epochs: 2, batchSize: 16, seed: 1 });
    const saved = path.join(tmp, 'answers.blasnet');
    saveModel(saved, built, { preprocessing: prep, metadata: { task: 'classification', classNames: prep.classNames } });
    const { model } = loadModel(saved);
    const proba = model.predictProba(x);
    const raw = model.predict(x);
    const column = (m: typeof raw) => Float64Array.from({ length: m.rows }, (_, i) => m.data[2 * i + 1]);
    const auc = rocAuc(y, column(proba));
    // The raw class-1 output ranks rows otherwise than p(yes): the two areas tell them apart.
    assert.ok(Math.abs(auc - rocAuc(y, column(raw))) > 0.05, 'the fixture separates logits from probabilities');

    const p = run('predict', '--model', saved, '--csv', file, '--proba');
    assert.equal(p.status, 0, p.stderr);
    const lines = p.stdout.trim().split('\n');
    assert.equal(lines[0], 'row,answer,p(no),p(yes)');
    assert.equal(lines.length, 121);
    lines.slice(1).forEach((line, i) => {
      const cells = line.split(',');
      const probs = cells.slice(2).map(Number);
      assert.ok(Math.abs(probs[0] + probs[1] - 1) < 1e-5, `row ${i + 1}: ${probs.join(' + ')} is not 1`);
      probs.forEach((v, j) => assert.ok(Math.abs(v - proba.data[2 * i + j]) <= 1e-6, `row ${i + 1}: p ${v} vs predictProba ${proba.data[2 * i + j]}`));
      assert.equal(cells[1], proba.data[2 * i + 1] > proba.data[2 * i] ? 'yes' : 'no');
    });

    const e = run('evaluate', '--model', saved, '--csv', file);
    assert.equal(e.status, 0, e.stderr);
    assert.equal(e.json().rocAuc, auc);
  });

  it('class names are written back as the file spells them: codes 007, 010, 100 stay codes', () => {
    const code: Record<string, string> = { red: '007', green: '010', blue: '100' };
    const file = write('codes.csv', ['x1', 'x2', 'code'], blobs(new Rng(4), 60).map(([a, b, c]) => [a, b, code[c]]));
    const model = path.join(tmp, 'codes.blasnet');
    const r = run('train', '--csv', file, '--label', 'code', '--epochs', '2', '--out', model, '--quiet');
    assert.equal(r.status, 0, r.stderr);
    const p = run('predict', '--model', model, '--csv', file, '--proba');
    assert.equal(p.status, 0, p.stderr);
    const lines = p.stdout.trim().split('\n');
    assert.equal(lines[0], 'row,code,p(007),p(010),p(100)');
    for (const line of lines.slice(1)) assert.match(line.split(',')[1], /^(007|010|100)$/);
    const seven = write('codes-7.csv', ['x1', 'x2', 'code'], [['0', '0', '7']]);
    const e = run('evaluate', '--model', model, '--csv', seven);
    assert.equal(e.status, 1);
    assert.match(e.stderr, /label "7" at data row 1, column "code" was not seen in training \(classes: "007", "010", "100"\).*ERR_BLASNET_LABEL/);
  });

  it('a label column named twice, or an infinite number among numeric labels, fails before any work', () => {
    const prices = [['1', '10.5'], ['2', '12.25'], ['3', 'inf'], ['4', '9.75']];
    const file = write('prices.csv', ['x', 'price'], prices);
    const twice = run('train', '--csv', file, '--label', 'price,price');
    assert.equal(twice.status, 1);
    assert.match(twice.stderr, /options\.label names column "price" more than once.*ERR_BLASNET_ARG_RANGE/);
    const classes = run('train', '--csv', train, '--label', 'colour,colour');
    assert.equal(classes.status, 1);
    assert.match(classes.stderr, /options\.label names column "colour" more than once.*ERR_BLASNET_ARG_RANGE/);
    const inf = run('train', '--csv', file, '--label', 'price');
    assert.equal(inf.status, 1);
    assert.match(inf.stderr, /label "inf" at data row 3, column "price", is not a finite float32 number, in a column of numbers.*ERR_BLASNET_DATA/);
    assert.doesNotMatch(inf.stdout, /epoch/);
  });

  it('--delimiter reads semicolon and tab files; a file read with the wrong one says which to pass', () => {
    const rows = blobs(rng, 90);
    const semi = path.join(tmp, 'colours-semi.csv');
    fs.writeFileSync(semi, ['x1;x2;colour', ...rows.map((r) => r.join(';'))].join('\n') + '\n');
    const tab = path.join(tmp, 'colours.tsv');
    fs.writeFileSync(tab, ['x1\tx2\tcolour', ...rows.map((r) => r.join('\t'))].join('\n') + '\n');
    const wrong = run('train', '--csv', semi, '--label', 'colour', '--epochs', '2');
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /the header reads as one column, "x1;x2;colour"; if its fields are separated by ";", pass --delimiter ";".*ERR_BLASNET_DATA/s);
    const model = path.join(tmp, 'semi.blasnet');
    const r = run('train', '--csv', semi, '--label', 'colour', '--delimiter', ';', '--epochs', '30', '--out', model, '--quiet');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.json().testAccuracy > 0.9, r.stdout);
    for (const d of ['tab', '\\t']) {
      const e = run('evaluate', '--model', model, '--csv', tab, '--delimiter', d);
      assert.equal(e.status, 0, e.stderr);
      assert.equal(e.json().samples, 90);
    }
    const p = run('predict', '--model', model, '--csv', semi, '--delimiter', ';');
    assert.equal(p.status, 0, p.stderr);
    assert.equal(p.stdout.trim().split('\n').length, 91);
    // A file that fails to parse as commas gets the same hint: a quoted comma in a semicolon file,
    // decimal commas splitting a row into more fields than the header's one.
    const quoted = path.join(tmp, 'quoted-semi.csv');
    fs.writeFileSync(quoted, 'x1;x2;colour\n1;"light, warm";red\n2;"cold";blue\n');
    const decimal = path.join(tmp, 'decimal-semi.csv');
    fs.writeFileSync(decimal, 'x1;x2;colour\n1,5;2;red\n2;3,5;blue\n');
    for (const [file, cause] of [[quoted, /Invalid (Opening|Closing) Quote/], [decimal, /data row 1 \(line 2\) has 2 fields but the header has 1/]] as const) {
      for (const cmd of [['train', '--label', 'colour'], ['evaluate', '--model', model], ['predict', '--model', model]]) {
        const f = run(cmd[0], '--csv', file, ...cmd.slice(1));
        assert.equal(f.status, 1, f.stderr);
        assert.match(f.stderr, cause);
        assert.match(f.stderr, /; the header line holds ";": if the fields are separated by ";", pass --delimiter ";" \(ERR_BLASNET_DATA\)/);
      }
    }
    const tabbed = path.join(tmp, 'quoted.tsv');
    fs.writeFileSync(tabbed, 'x1\tx2\tcolour\n1\t"a"b\tred\n');
    assert.match(run('train', '--csv', tabbed, '--label', 'colour').stderr, /if the fields are separated by "\\t", pass --delimiter tab/);
    // A comma file that fails for another reason gets no hint.
    const broken = path.join(tmp, 'broken.csv');
    fs.writeFileSync(broken, 'x1,x2,colour\n1,2\n');
    const b = run('train', '--csv', broken, '--label', 'colour');
    assert.match(b.stderr, /data row 1 \(line 2\) has 2 fields but the header has 3 \(ERR_BLASNET_DATA\)/);
    const bad = run('train', '--csv', semi, '--label', 'colour', '--delimiter', ';;');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--delimiter must be one character/);
  });
});
