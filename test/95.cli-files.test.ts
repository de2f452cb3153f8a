/**
 * The files the command line reads and writes, under the ways a run can end badly: output names
 * the file system cannot take, refused before training; inputs that are not regular files; a
 * run that diverges, is killed or is interrupted, which must leave the model and history of the
 * run before it together, or save what it trained.
 */
import { strict as assert } from 'assert';
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FASHION_MNIST_DIR, loadModel, Rng } from '../lib';

const CLI = path.resolve(__dirname, '..', 'lib', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-cli-files-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120000, killSignal: 'SIGKILL' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, error: r.error };
}

/** A fresh directory holding t.csv: `rows` rows of three seeded numbers and a two-class label. */
function tableDir(name: string, rows = 300): string {
  const dir = fs.mkdtempSync(path.join(tmp, `${name}-`));
  const rng = new Rng(rows);
  const lines = ['a,b,c,label'];
  for (let i = 0; i < rows; i++) {
    const a = rng.uniform(), b = rng.uniform(), c = rng.uniform();
    lines.push(`${a},${b},${c},${a + b > 1 ? 'x' : 'y'}`);
  }
  fs.writeFileSync(path.join(dir, 't.csv'), `${lines.join('\n')}\n`);
  return dir;
}

describe('blasnet train: output names', () => {
  it('a valid name of 230 characters trains and is written, with its history', function () {
    this.timeout(120000);
    const dir = tableDir('long');
    const name = `${'n'.repeat(222)}.blasnet`;
    const r = run(dir, 'train', '--csv', 't.csv', '--label', 'label', '--epochs', '2', '--hidden', '4', '--out', name, '--no-checks');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(loadModel(path.join(dir, name)).metadata?.epochs, 2);
    assert.equal(fs.readFileSync(path.join(dir, `${'n'.repeat(222)}.history.csv`), 'utf8').trim().split('\n').length, 3);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.blasnet-tmp-')), []);
  });

  it('a name longer than the file system takes is refused before the data loads, naming the option', function () {
    this.timeout(60000);
    const dir = tableDir('too-long');
    for (const [option, value] of [['--out', `${'o'.repeat(300)}.blasnet`], ['--history', `${'h'.repeat(300)}.csv`], ['--curves', 'c'.repeat(252)]]) {
      const r = run(dir, 'train', '--csv', 't.csv', '--label', 'label', '--epochs', '2', option, value);
      assert.equal(r.status, 1, `${option}: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`${option}.*too long.*ERR_BLASNET_IO`, 's'));
      assert.equal(r.stdout, '', 'nothing was trained');
      assert.deepEqual(fs.readdirSync(dir), ['t.csv']);
    }
  });
});

describe('blasnet: options given an empty value', () => {
  it('an empty value (an unset shell variable) is refused before any work, for every command', function () {
    this.timeout(120000);
    const dir = tableDir('empty');
    assert.equal(run(dir, 'train', '--csv', 't.csv', '--epochs', '1', '--hidden', '4', '--out', 'm.blasnet', '--no-checks').status, 0);
    const before = fs.readdirSync(dir).sort();
    for (const args of [
      ['train', '--csv', 't.csv', '--epochs', '1', '--curves', ''],
      ['train', '--csv', 't.csv', '--epochs', '1', '--confusion', ''],
      ['train', '--csv', 't.csv', '--epochs', '1', '--diagnostics', ''],
      ['evaluate', '--model', 'm.blasnet', '--csv', 't.csv', '--confusion', ''],
      ['predict', '--model', 'm.blasnet', '--csv', 't.csv', '--output', ''],
      ['lr-find', '--csv', 't.csv', '--plot', ''],
      ['search', '--csv', 't.csv', '--trials', '2', '--epochs', '1', '--plot', ''],
    ]) {
      const r = run(dir, ...args);
      const flag = args[args.length - 2];
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`${flag} was given an empty value; give one, or leave the option out \\(ERR_BLASNET_ARG_RANGE\\)`), args.join(' '));
      assert.equal(r.stdout, '', `${args.join(' ')}: nothing ran`);
      assert.deepEqual(fs.readdirSync(dir).sort(), before, args.join(' '));
    }
    // Numeric flags too, which Number would read as 0 (--weight-decay 0 and --validation-split 0 are valid).
    for (const flag of ['--weight-decay', '--validation-split', '--seed', '--lr', '--epochs']) {
      const r = run(dir, 'train', '--csv', 't.csv', '--epochs', '1', flag, '');
      assert.equal(r.status, 1, `${flag}: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`option '${flag} <[a-z]+>' argument '' is invalid`), flag);
      assert.deepEqual(fs.readdirSync(dir).sort(), before, flag);
    }
  });
});

describe('blasnet: inputs that are not regular files', () => {
  it('a FIFO as --csv, --space or --model is refused at once with ERR_BLASNET_IO', function () {
    this.timeout(60000);
    const dir = tableDir('fifo');
    execFileSync('mkfifo', [path.join(dir, 'p')]);
    const cases = [
      ['train', '--csv', 'p', '--label', 'label', '--out', 'o.blasnet'],
      ['search', '--csv', 't.csv', '--label', 'label', '--space', 'p', '--trials', '1'],
      ['evaluate', '--model', 'p'],
    ];
    for (const args of cases) {
      const started = Date.now();
      const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: 15000, killSignal: 'SIGKILL' });
      assert.ok(!r.error, `${args.join(' ')} hung (killed after ${Date.now() - started} ms)`);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, /p: cannot read: it is a FIFO, not a regular file \(ERR_BLASNET_IO\)/, args.join(' '));
    }
  });
});

/** Files in `dir` that look like temporaries of any save. */
function temporaries(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.includes('.blasnet-tmp-'));
}

/** Data rows of a history CSV (its header not counted). */
function historyRows(file: string): number {
  return fs.readFileSync(file, 'utf8').trim().split('\n').length - 1;
}

/**
 * Starts `blasnet train` in `dir`; `until` is resolved on the first stdout text matching it,
 * `done` with the exit code, signal, stdout and stderr (the child is killed after 100 s).
 */
function startTrain(dir: string, args: string[], until: RegExp) {
  const child = spawn(process.execPath, [CLI, 'train', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  let seen: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    seen = resolve;
  });
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    if (until.test(stdout)) seen();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 100000);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    // 'close': the process has exited and its output has all been read.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  let exited = false;
  void done.then(() => {
    exited = true;
  });
  return { child, reached: Promise.race([reached, done.then(() => undefined)]), done, stderrNow: () => stderr, exited: () => exited };
}

describe('blasnet train: the history goes with its model', () => {
  it('a diverging run leaves the model and the history of the run before byte for byte, and no temporary', function () {
    this.timeout(120000);
    const dir = tableDir('diverge');
    const first = run(dir, 'train', '--csv', 't.csv', '--label', 'label', '--epochs', '3', '--hidden', '4', '--out', 'm.blasnet', '--no-checks', '--quiet');
    assert.equal(first.status, 0, first.stderr);
    const model = fs.readFileSync(path.join(dir, 'm.blasnet'));
    const history = fs.readFileSync(path.join(dir, 'm.history.csv'));
    assert.equal(historyRows(path.join(dir, 'm.history.csv')), 3);
    const diverged = run(dir, 'train', '--csv', 't.csv', '--label', 'label', '--epochs', '3', '--hidden', '4', '--out', 'm.blasnet',
      '--optimizer', 'sgd', '--lr', '1e30', '--no-checks', '--quiet');
    assert.equal(diverged.status, 1);
    assert.match(diverged.stderr, /no model was written.*ERR_BLASNET_DIVERGED/s);
    assert.ok(fs.readFileSync(path.join(dir, 'm.blasnet')).equals(model), 'the model changed');
    assert.ok(fs.readFileSync(path.join(dir, 'm.history.csv')).equals(history), 'the history changed');
    assert.deepEqual(temporaries(dir), []);
  });

  it('a run killed mid-training leaves the history of the run before; the next run removes what it left', async function () {
    this.timeout(120000);
    const dir = tableDir('killed', 20000);
    const first = run(dir, 'train', '--csv', 't.csv', '--label', 'label', '--epochs', '2', '--out', 'm.blasnet', '--no-checks', '--quiet');
    assert.equal(first.status, 0, first.stderr);
    const history = fs.readFileSync(path.join(dir, 'm.history.csv'));
    const t = startTrain(dir, ['--csv', 't.csv', '--label', 'label', '--epochs', '500', '--patience', '0', '--out', 'm.blasnet', '--no-checks'], /epoch +2\//);
    await t.reached;
    t.child.kill('SIGKILL');
    const r = await t.done;
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(fs.readFileSync(path.join(dir, 'm.history.csv')).equals(history), 'the history changed');
    assert.equal(loadModel(path.join(dir, 'm.blasnet')).metadata?.epochs, 2);
    assert.equal(temporaries(dir).length, 1, 'the killed run\'s history was being written beside the file');
    const next = run(dir, 'train', '--csv', 't.csv', '--label', 'label', '--epochs', '1', '--out', 'm.blasnet', '--no-checks', '--quiet');
    assert.equal(next.status, 0, next.stderr);
    assert.equal(historyRows(path.join(dir, 'm.history.csv')), 1);
    assert.deepEqual(temporaries(dir), []);
  });
});

describe('blasnet train: interrupted', () => {
  const args = ['--csv', 't.csv', '--label', 'label', '--epochs', '500', '--patience', '0', '--out', 'm.blasnet', '--no-checks'];

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`${sig} stops after the current batch and saves the model and history of the epochs trained, then exits ${sig === 'SIGINT' ? 130 : 143}`, async function () {
      this.timeout(120000);
      const dir = tableDir(sig, 20000);
      fs.writeFileSync(path.join(dir, 'm.history.csv'), 'a history saved earlier\n');
      const t = startTrain(dir, args, /epoch +1\//);
      await t.reached;
      t.child.kill(sig);
      const r = await t.done;
      assert.equal(r.code, sig === 'SIGINT' ? 130 : 143, r.stderr);
      assert.match(r.stderr, new RegExp(`${sig}: stopping after this batch`));
      const loaded = loadModel(path.join(dir, 'm.blasnet'));
      const epochs = loaded.metadata?.epochs as number;
      assert.ok(epochs >= 1 && epochs < 500, `${epochs} epochs`);
      assert.equal(loaded.metadata?.interrupted, sig);
      assert.equal(historyRows(path.join(dir, 'm.history.csv')), epochs);
      assert.ok((loaded.optimizer as { stepCount: number }).stepCount > 0);
      assert.match(r.stdout, new RegExp(`interrupted by ${sig} after ${epochs} epochs?`));
      // The run ends as a normal one would: report, pictures, the JSON line last.
      assert.equal(JSON.parse(r.stdout.trim().split('\n').pop() as string).epochs, epochs);
      assert.deepEqual(temporaries(dir), []);
    });
  }

  it('SIGINT whose Ctrl-C also ended the reader of stdout (| tee) still saves: the closed output does not end the save', async function () {
    this.timeout(120000);
    const dir = tableDir('tee', 20000);
    const t = startTrain(dir, args, /epoch +1\//);
    await t.reached;
    t.child.kill('SIGINT');
    t.child.stdout.destroy();
    const r = await t.done;
    assert.equal(r.code, 130, r.stderr);
    const loaded = loadModel(path.join(dir, 'm.blasnet'));
    assert.equal(loaded.metadata?.interrupted, 'SIGINT');
    assert.equal(historyRows(path.join(dir, 'm.history.csv')), loaded.metadata?.epochs);
    assert.deepEqual(temporaries(dir), []);
  });

  it('a second SIGINT exits at once, writing nothing: the files of the run before stay', async function () {
    this.timeout(120000);
    // One batch of 3200 rows through two layers of 2048 units (about 0.6 s on one core), so that
    // the first SIGINT's batch is still running when the second comes. Should the first stop have
    // saved already (the first signal came at the very end of a batch), the run is tried again.
    let met = false;
    for (let attempt = 0; attempt < 3 && !met; attempt++) {
      const dir = tableDir(`twice-${attempt}`, 4000);
      fs.writeFileSync(path.join(dir, 'm.blasnet'), 'a model saved earlier');
      fs.writeFileSync(path.join(dir, 'm.history.csv'), 'a history saved earlier\n');
      const t = startTrain(dir, ['--csv', 't.csv', '--label', 'label', '--epochs', '50', '--hidden', '2048,2048', '--batch-size', '4000',
        '--validation-split', '0', '--patience', '0', '--out', 'm.blasnet', '--no-checks'], /epoch +1\//);
      await t.reached;
      t.child.kill('SIGINT');
      while (!/stopping after this batch/.test(t.stderrNow()) && !t.exited()) await new Promise((r) => setTimeout(r, 2));
      t.child.kill('SIGINT');
      const r = await t.done;
      assert.equal(r.code, 130, r.stderr);
      if (!/SIGINT again: exiting without saving/.test(r.stderr)) continue;
      met = true;
      assert.equal(fs.readFileSync(path.join(dir, 'm.blasnet'), 'utf8'), 'a model saved earlier');
      assert.equal(fs.readFileSync(path.join(dir, 'm.history.csv'), 'utf8'), 'a history saved earlier\n');
      assert.deepEqual(temporaries(dir), []);
    }
    assert.ok(met, 'the second SIGINT never came while the first one\'s batch ran');
  });
});

describe('blasnet: outputs that fail', () => {
  it('stdout on a full device: one coded line on stderr, the run goes on and saves its model, exit 1; info alike', function () {
    this.timeout(120000);
    const dir = tableDir('full');
    const full = fs.openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [CLI, 'train', '--csv', 't.csv', '--label', 'label', '--epochs', '2', '--hidden', '4', '--out', 'm.blasnet', '--no-checks'],
        { cwd: dir, encoding: 'utf8', stdio: ['ignore', full, 'pipe'], timeout: 120000 });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^blasnet: cannot write to stdout \(ENOSPC\); going on without it \(ERR_BLASNET_IO\)$/m);
      assert.doesNotMatch(r.stderr, /\n +at /, 'a stack trace');
      assert.equal(loadModel(path.join(dir, 'm.blasnet')).metadata?.epochs, 2);
      const info = spawnSync(process.execPath, [CLI, 'info'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', full, 'pipe'] });
      assert.equal(info.status, 1);
      assert.equal(info.stderr, 'blasnet: cannot write to stdout (ENOSPC); going on without it (ERR_BLASNET_IO)\n');
    } finally {
      fs.closeSync(full);
    }
  });

  it('stdout on a full device and a SIGINT: the signal\'s code, 130, whichever write fails first (with --quiet, the last line)', async function () {
    this.timeout(120000);
    for (const quiet of [false, true]) {
      const dir = tableDir(`full-int-${quiet}`, 20000);
      const full = fs.openSync('/dev/full', 'w');
      const child = spawn(process.execPath, [CLI, 'train', '--csv', 't.csv', '--label', 'label', '--epochs', '500', '--patience', '0', '--out', 'm.blasnet', '--no-checks',
        ...(quiet ? ['--quiet'] : [])], { cwd: dir, stdio: ['ignore', full, 'pipe'] });
      fs.closeSync(full);
      let stderr = '';
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      const done = new Promise<number | null>((resolve) => child.on('close', resolve));
      // Training has begun once the temporary history is there; then an epoch or so.
      while (temporaries(dir).length === 0) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 1500));
      child.kill('SIGINT');
      assert.equal(await done, 130, stderr);
      assert.equal(loadModel(path.join(dir, 'm.blasnet')).metadata?.interrupted, 'SIGINT');
    }
  });

  it('an output naming a file of the default data (no --data, no --csv) is refused before any work, as with --data', () => {
    const dir = tableDir('default-data');
    const target = path.join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz');
    const r = run(dir, 'train', '--epochs', '1', '--out', 'm.blasnet', '--history', target);
    assert.equal(r.status, 1, r.stderr);
    assert.ok(r.stderr.includes(`--history names ${target}, which is the default data (${FASHION_MNIST_DIR}) file this command reads`), r.stderr);
    assert.match(r.stderr, /ERR_BLASNET_ARG_RANGE/);
    assert.ok(!fs.existsSync(path.join(dir, 'm.blasnet')));
  });
});
