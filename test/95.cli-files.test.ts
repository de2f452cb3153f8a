/**
 * The files the command line reads and writes, under the ways a run can end badly: output names
 * the file system cannot take, refused before training; inputs that are not regular files.
 */
import { strict as assert } from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadModel, Rng } from '../lib';

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
