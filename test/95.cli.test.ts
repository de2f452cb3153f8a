/**
 * The blasnet command line, run as a user runs it: a short training job on Fashion-MNIST, then
 * evaluate and predict on the saved model; info; clear failures for bad flags and files; and an
 * IDX directory whose training and test sets disagree, refused before any training.
 */
import { strict as assert } from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dense, FASHION_MNIST_DIR, loadMnistLike, nativeAvailable, readTable, Rng, rocAuc, saveModel, Sequential, TabularPreprocessor, writeIdx } from '../lib';

const CLI = path.resolve(__dirname, '..', 'lib', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-cli-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 120000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const haveData = fs.existsSync(path.join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));

(haveData ? describe : describe.skip)('blasnet CLI on Fashion-MNIST', () => {
  const model = path.join(tmp, 'small.blasnet');
  it('train: a short job reports test accuracy and writes the model and history', function () {
    this.timeout(120000);
    const r = run('train', '--hidden', '64', '--epochs', '2', '--out', model, '--history', path.join(tmp, 'h.csv'), '--curves', path.join(tmp, 'curves'),
      '--diagnostics', path.join(tmp, 'diag'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(fs.readFileSync(path.join(tmp, 'diag.svg'), 'utf8'), /^<svg[\s\S]*Update-to-weight ratio/);
    assert.match(r.stdout, /diagnostics in .*diag\.svg/);
    assert.match(r.stdout, /epoch 1\/2/);
    assert.match(r.stdout, /test accuracy 0\.\d+/);
    const last = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    assert.ok(last.testAccuracy > 0.8, `test accuracy ${last.testAccuracy}`);
    assert.equal(last.epochs, 2);
    assert.ok(fs.existsSync(model));
    // The file says it was trained on IDX images: export names the pixel scaling from that.
    const exported = run('export', '--model', model, '--safetensors', path.join(tmp, 'short.safetensors'));
    assert.match(exported.stdout, /input: 784 pixels per image as float32, each divided by 255/);
    assert.equal(fs.readFileSync(path.join(tmp, 'h.csv'), 'utf8').trim().split('\n').length, 3);
    assert.match(fs.readFileSync(path.join(tmp, 'curves.svg'), 'utf8'), /^<svg[\s\S]*Loss per epoch/);
    assert.ok(fs.statSync(path.join(tmp, 'curves.png')).size > 10000);
  });

  it('a diverging run exits 1 and writes no model, keeping the one already there', function () {
    this.timeout(60000);
    const out = path.join(tmp, 'diverged.blasnet');
    fs.writeFileSync(out, 'a model saved earlier');
    const r = run('train', '--optimizer', 'sgd', '--lr', '1e4', '--epochs', '2', '--out', out,
      '--history', path.join(tmp, 'd.csv'), '--curves', path.join(tmp, 'd'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /diverged: the loss was NaN.*no model was written.*ERR_BLASNET_DIVERGED/s);
    assert.equal(fs.readFileSync(out, 'utf8'), 'a model saved earlier');
    assert.ok(!fs.existsSync(path.join(tmp, 'd.svg')));
  });

  it('evaluate and predict use the saved model', function () {
    this.timeout(60000);
    const e = run('evaluate', '--model', model);
    assert.equal(e.status, 0, e.stderr);
    const r = JSON.parse(e.stdout.trim().split('\n').pop() as string);
    assert.equal(r.samples, 10000);
    assert.ok(r.accuracy > 0.8);
    const out = path.join(tmp, 'pred.csv');
    const p = run('predict', '--model', model, '--output', out);
    assert.equal(p.status, 0, p.stderr);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines.length, 10001);
    assert.match(lines[1], /^1,\d,"[A-Za-z/ -]+"$/);
    assert.match(lines[10000], /^10000,/);
  });
});

describe('blasnet CLI', () => {
  it('info names the backend and the BLAS library', () => {
    const r = run('info');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^blasnet \d+\.\d+\.\d+/);
    assert.match(r.stdout, /backend: (native|js)/);
  });

  (nativeAvailable() ? it : it.skip)('info counts threads in words: 1 thread, 2 threads', () => {
    for (const [n, words] of [['1', '1 thread of'], ['2', '2 threads of']]) {
      const r = spawnSync(process.execPath, [CLI, 'info'], { cwd: tmp, encoding: 'utf8', env: { ...process.env, BLASNET_NUM_THREADS: n } });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.includes(words), r.stdout);
    }
  });

  it('a mistake prints one line, a suggestion and where the usage is, not the whole help', () => {
    const r = run('trian');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown command 'trian'/);
    assert.match(r.stderr, /Did you mean train\?/);
    assert.match(r.stderr, /\(run with --help for usage\)/);
    assert.ok(!r.stderr.includes('Options:') && !r.stderr.includes('Commands:'), r.stderr);
    assert.ok(r.stderr.trim().split('\n').length <= 3, r.stderr);
  });

  it('bad flags and missing files fail clearly with exit code 1', () => {
    const bad = run('train', '--epochs', 'zero');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--epochs must be an integer/);
    const unknown = run('train', '--epoch', '3');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /unknown option '--epoch'/);
    const missing = run('train', '--data', path.join(tmp, 'nowhere'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nowhere.*ERR_BLASNET_IO/s);
    const noModel = run('evaluate', '--model', path.join(tmp, 'none.blasnet'));
    assert.equal(noModel.status, 1);
    assert.match(noModel.stderr, /none\.blasnet.*ERR_BLASNET_IO/s);
    for (const cmd of ['evaluate', 'predict']) {
      const two = run(cmd, '--model', path.join(tmp, 'none.blasnet'), '--csv', 'a.csv', '--test-csv', 'b.csv');
      assert.equal(two.status, 1);
      assert.match(two.stderr, new RegExp(`${cmd}: pass one of --csv, --test-csv and --data, not --csv and --test-csv.*ERR_BLASNET_ARG_RANGE`, 's'));
      const mixed = run(cmd, '--model', path.join(tmp, 'none.blasnet'), '--csv', 'a.csv', '--data', tmp);
      assert.match(mixed.stderr, /not --csv and --data/);
    }
    const corrupt = path.join(tmp, 'corrupt.blasnet');
    fs.writeFileSync(corrupt, 'BLASNET\0garbage');
    const c = run('evaluate', '--model', corrupt);
    assert.equal(c.status, 1);
    assert.match(c.stderr, /ERR_BLASNET_FORMAT/);
  });

  it('output paths are checked before any work starts', () => {
    const missingDir = run('train', '--out', path.join(tmp, 'no-such-dir', 'm.blasnet'));
    assert.equal(missingDir.status, 1);
    assert.match(missingDir.stderr, /--out: the directory .*no-such-dir does not exist.*ERR_BLASNET_IO/s);
    assert.equal(missingDir.stdout, '', 'nothing was trained');
    const history = run('train', '--history', path.join(tmp, 'no-such-dir', 'h.csv'));
    assert.equal(history.status, 1);
    assert.match(history.stderr, /--history: the directory .*ERR_BLASNET_IO/s);
    const same = run('train', '--out', 'x.csv', '--history', 'x.csv');
    assert.equal(same.status, 1);
    assert.match(same.stderr, /--out and --history name the same file.*ERR_BLASNET_ARG_RANGE/s);
    const curves = run('train', '--curves', 'h', '--history', 'h.svg');
    assert.equal(curves.status, 1);
    assert.match(curves.stderr, /--history and --curves \(\.svg\) name the same file/);
    fs.mkdirSync(path.join(tmp, 'adir'), { recursive: true });
    const dir = run('train', '--out', 'adir');
    assert.equal(dir.status, 1);
    assert.match(dir.stderr, /--out: .*adir is a directory.*ERR_BLASNET_IO/s);
    const devNull = run('train', '--out', '/dev/null');
    assert.equal(devNull.status, 1);
    assert.match(devNull.stderr, /--out: \/dev\/null is not a regular file.*ERR_BLASNET_IO/s);
    assert.equal(devNull.stdout, '', 'refused before any work');
  });

  it('no output replaces a file the command reads, by any path to it', () => {
    const dir = path.join(tmp, 'inputs');
    fs.mkdirSync(dir, { recursive: true });
    const table = path.join(dir, 'search.csv');
    const text = 'a,b,y\n' + Array.from({ length: 40 }, (_, i) => `${i % 7},${i % 3},${i % 2}`).join('\n') + '\n';
    fs.writeFileSync(table, text);
    const model = path.join(dir, 'm.blasnet');
    fs.writeFileSync(model, 'a model saved earlier');
    fs.symlinkSync(table, path.join(dir, 'link.csv'));
    fs.linkSync(table, path.join(dir, 'hard.csv'));
    const idx = path.join(dir, 'idx');
    fs.mkdirSync(idx, { recursive: true });
    fs.writeFileSync(path.join(idx, 'train-labels-idx1-ubyte.gz'), 'labels saved earlier');
    const cases: [string[], RegExp][] = [
      [['train', '--csv', table, '--label', 'y', '--history', table], /--history names .*search\.csv, which is the --csv file this command reads/],
      [['train', '--csv', table, '--label', 'y', '--out', table], /--out names .*which is the --csv file/],
      [['train', '--csv', path.join(dir, 'link.csv'), '--label', 'y', '--history', table], /--history names .*which is the --csv file/],
      [['train', '--csv', table, '--label', 'y', '--history', path.join(dir, 'hard.csv')], /--history names .*hard\.csv, which is the --csv file/],
      [['train', '--csv', path.join(dir, 'other.csv'), '--test-csv', table, '--label', 'y', '--history', table],
        /--history names .*which is the --test-csv file/],
      [['train', '--data', idx, '--history', path.join(idx, 'train-labels-idx1-ubyte.gz')], /--history names .*which is the --data file/],
      // search's default results table is search.csv, the name of this table.
      [['search', '--csv', path.basename(table), '--label', 'y', '--trials', '1'], /--out-table names .*search\.csv, which is the --csv file/],
      [['export', '--model', model, '--onnx', model], /--onnx names .*m\.blasnet, which is the --model file/],
      [['export', '--model', model, '--onnx', path.join(dir, 'o.onnx'), '--safetensors', path.join(dir, 'o.onnx')], /--onnx and --safetensors name the same file/],
      [['predict', '--model', model, '--csv', table, '--output', model], /--output names .*which is the --model file/],
      [['predict', '--model', model, '--csv', table, '--output', table], /--output names .*which is the --csv file/],
      [['lr-find', '--csv', path.join(dir, 'table.svg'), '--label', 'y', '--plot', path.join(dir, 'table')], /--plot \(\.svg\) names .*table\.svg, which is the --csv file/],
    ];
    fs.writeFileSync(path.join(dir, 'table.svg'), text);
    for (const [args, message] of cases) {
      const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 120000 });
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.match(r.stderr, /ERR_BLASNET_ARG_RANGE/, args.join(' '));
      assert.equal(fs.readFileSync(table, 'utf8'), text, `${args.join(' ')} left the table as it was`);
      assert.equal(fs.readFileSync(model, 'utf8'), 'a model saved earlier', `${args.join(' ')} left the model as it was`);
      assert.equal(fs.readFileSync(path.join(idx, 'train-labels-idx1-ubyte.gz'), 'utf8'), 'labels saved earlier');
      assert.ok(!fs.existsSync(path.join(dir, 'o.onnx')), `${args.join(' ')} wrote no export`);
      assert.equal(fs.readFileSync(path.join(dir, 'table.svg'), 'utf8'), text);
    }
  });

  it('output whose reader goes away (| head) ends the command quietly with 141, as SIGPIPE does, for every command', async function () {
    this.timeout(120000);
    const dir = path.join(tmp, 'pipe');
    fs.mkdirSync(dir, { recursive: true });
    const rng = new Rng(4);
    const text = 'a,b,y\n' + Array.from({ length: 20000 }, (_, i) => `${rng.normal().toFixed(3)},${rng.normal().toFixed(3)},${i % 2 ? 'yes' : 'no'}`).join('\n') + '\n';
    const table = path.join(dir, 'big.csv');
    fs.writeFileSync(table, text);
    const prep = TabularPreprocessor.fit(readTable(table), { label: 'y' });
    const model = path.join(dir, 'm.blasnet');
    saveModel(model, new Sequential({ inputSize: prep.inputSize, seed: 1, layers: [dense(4, { activation: 'relu' }), dense(2, { activation: 'softmax' })] }),
      { preprocessing: prep, metadata: { task: 'classification', classNames: prep.classNames } });
    /**
     * Runs the command with its stdout closed before it writes anything (lines 0), or piped into
     * `head -n lines` by bash, the exit code being the command's.
     */
    const closedEarly = (args: string[], lines: number) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = lines === 0
        ? spawn(process.execPath, [CLI, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('bash', ['-c', `"$@" | head -n ${lines} > /dev/null; exit \${PIPESTATUS[0]}`, 'bash', process.execPath, CLI, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (c: Buffer) => void (stderr += c.toString()));
      if (lines === 0) child.stdout?.destroy();
      child.on('close', (code) => resolve({ code, stderr }));
    });
    const cases: [string[], number, number][] = [
      [['evaluate', '--model', model, '--csv', table], 0, 141],
      [['predict', '--model', model, '--csv', table, '--proba'], 8, 141],
      [['predict', '--model', model, '--csv', table], 0, 141],
      [['info'], 0, 141],
      // commander exits as soon as it has written the help, before the stream reports the error.
      [['--help'], 0, 0],
      [['train', '--csv', table, '--label', 'y', '--out', path.join(dir, 'trained.blasnet'), '--epochs', '50', '--no-checks'], 3, 141],
    ];
    for (const [args, lines, code] of cases) {
      const r = await closedEarly(args, lines);
      assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
      assert.equal(r.stderr, '', args.join(' '));
    }
    // The training run stopped leaves no temporary beside its history, and no model.
    assert.deepEqual(fs.readdirSync(dir).sort(), ['big.csv', 'm.blasnet']);
  });
});

describe('blasnet train on an IDX directory', () => {
  /** n images of h x w (seeded pixels) with labels i mod classes, as `prefix`-* files in dir. */
  function writeSet(dir: string, prefix: 'train' | 't10k', n: number, h: number, w: number, classes: number): void {
    fs.mkdirSync(dir, { recursive: true });
    const rng = new Rng(n * 31 + h);
    writeIdx(path.join(dir, `${prefix}-images-idx3-ubyte`), Uint8Array.from({ length: n * h * w }, () => rng.int(256)), [n, h, w]);
    writeIdx(path.join(dir, `${prefix}-labels-idx1-ubyte`), Uint8Array.from({ length: n }, (_, i) => i % classes), [n]);
  }

  /** train on dir, writing into dir; the model file's path is returned with the result. */
  function trainOn(dir: string, ...more: string[]) {
    const out = path.join(dir, 'm.blasnet');
    const r = run('train', '--data', dir, '--hidden', '4', '--epochs', '1', '--batch-size', '8', '--out', out,
      '--history', path.join(dir, 'h.csv'), '--curves', path.join(dir, 'c'), ...more);
    return { ...r, out };
  }

  /** A refusal before training: exit code 1, the message, no epoch run and no model written. */
  function refused(r: ReturnType<typeof trainOn>, message: RegExp): void {
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stdout, /epoch/);
    assert.ok(!fs.existsSync(r.out), 'no model was written');
  }

  it('a consistent set trains and is evaluated', function () {
    this.timeout(60000);
    const dir = path.join(tmp, 'idx-ok');
    writeSet(dir, 'train', 40, 4, 4, 3);
    writeSet(dir, 't10k', 12, 4, 4, 3);
    const r = trainOn(dir, '--quiet');
    assert.equal(r.status, 0, r.stderr);
    const last = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    assert.equal(last.task, 'classification');
    assert.ok(fs.existsSync(r.out));
  });

  it('test images of another size than the training images: ERR_BLASNET_SHAPE naming both files', function () {
    this.timeout(60000);
    const dir = path.join(tmp, 'idx-shape');
    writeSet(dir, 'train', 40, 4, 4, 3);
    writeSet(dir, 't10k', 12, 28, 28, 3);
    refused(trainOn(dir), /train: the test images in \S*idx-shape\/t10k-images-idx3-ubyte are 28x28 \(784 features\) but the training images in \S*idx-shape\/train-images-idx3-ubyte are 4x4 \(16 features\).*ERR_BLASNET_SHAPE/s);
  });

  it('test labels outside the training classes: ERR_BLASNET_LABEL naming both files', function () {
    this.timeout(60000);
    const dir = path.join(tmp, 'idx-labels');
    writeSet(dir, 'train', 40, 4, 4, 3);
    writeSet(dir, 't10k', 12, 4, 4, 10);
    refused(trainOn(dir), /train: \S*idx-labels\/t10k-labels-idx1-ubyte: label 3 at row 4 is outside the 3 classes \(0\.\.2\) of the training labels in \S*idx-labels\/train-labels-idx1-ubyte.*ERR_BLASNET_LABEL/s);
  });

  it('no training images, or no test images: ERR_BLASNET_DATA naming the file', function () {
    this.timeout(60000);
    const empty = path.join(tmp, 'idx-empty');
    writeSet(empty, 'train', 0, 4, 4, 3);
    writeSet(empty, 't10k', 12, 4, 4, 3);
    refused(trainOn(empty), /train: \S*idx-empty\/train-images-idx3-ubyte holds no images; training needs at least one.*ERR_BLASNET_DATA/s);
    const check = run('check', '--data', empty, '--hidden', '4');
    assert.equal(check.status, 1);
    assert.match(check.stderr, /check: \S*idx-empty\/train-images-idx3-ubyte holds no images.*ERR_BLASNET_DATA/s);
    const noTest = path.join(tmp, 'idx-no-test');
    writeSet(noTest, 'train', 40, 4, 4, 3);
    writeSet(noTest, 't10k', 0, 4, 4, 3);
    refused(trainOn(noTest), /train: \S*idx-no-test\/t10k-images-idx3-ubyte holds no images; the test set needs at least one.*ERR_BLASNET_DATA/s);
  });

  it('a model ending in logits: predict --proba prints predictProba, evaluate scores ROC AUC on it', function () {
    this.timeout(60000);
    const dir = path.join(tmp, 'idx-logits');
    writeSet(dir, 't10k', 60, 4, 4, 2);
    // Untrained weights of scale 1 give logits far from probabilities (outside [0, 1], rows not summing to 1).
    const built = new Sequential({ inputSize: 16, seed: 5, layers: [dense(8, { activation: 'tanh' }), dense(2, { init: { name: 'normal', std: 1 } as never })] });
    built.setLoss('crossEntropy');
    const file = path.join(dir, 'logits.blasnet');
    saveModel(file, built);
    const test = loadMnistLike(dir, { split: 'test' });
    const proba = built.predictProba(test.x);
    const raw = built.predict(test.x);
    const column = (m: typeof raw) => Float64Array.from({ length: m.rows }, (_, i) => m.data[2 * i + 1]);
    const auc = rocAuc(test.labels, column(proba));
    assert.notEqual(auc, rocAuc(test.labels, column(raw)), 'the fixture separates logits from probabilities');

    const p = run('predict', '--model', file, '--data', dir, '--proba');
    assert.equal(p.status, 0, p.stderr);
    const lines = p.stdout.trim().split('\n');
    assert.equal(lines[0], 'row,class,p(0),p(1)');
    assert.equal(lines.length, 61);
    lines.slice(1).forEach((line, i) => {
      // Images are numbered from 1, as predict --csv numbers data rows.
      assert.equal(line.split(',')[0], String(i + 1));
      const probs = line.split(',').slice(2).map(Number);
      assert.ok(Math.abs(probs[0] + probs[1] - 1) < 1e-5, `row ${i}: ${probs.join(' + ')} is not 1`);
      probs.forEach((v, j) => assert.ok(Math.abs(v - proba.data[2 * i + j]) <= 1e-6, `row ${i}: p ${v} vs predictProba ${proba.data[2 * i + j]}`));
    });
    const e = run('evaluate', '--model', file, '--data', dir);
    assert.equal(e.status, 0, e.stderr);
    assert.equal(JSON.parse(e.stdout.trim().split('\n').pop() as string).rocAuc, auc);
  });
});
