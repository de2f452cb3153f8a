/**
 * The recipe on the command line, run as a user runs it, on a small CSV of seeded blobs:
 * `blasnet check`, `blasnet lr-find` with its plot, `train`'s checks on by default and
 * --no-checks, and coded failures for a bad range.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Rng } from '../lib';

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
