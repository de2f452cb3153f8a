/**
 * `blasnet train --class-weight balanced`, end to end on an imbalanced CSV made here.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Rng } from '../lib';

const CLI = path.resolve(__dirname, '..', 'lib', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-cli-weights-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: tmp, encoding: 'utf8', timeout: 120000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Two features, class 0 on 6 of every 7 rows. */
function writeCsv(file: string, n: number, seed: number): void {
  const rng = new Rng(seed);
  const lines = ['a,b,y'];
  for (let i = 0; i < n; i++) {
    const y = i % 7 === 6 ? 1 : 0;
    lines.push(`${(rng.normal() + 1.5 * y).toFixed(4)},${(rng.normal() - y).toFixed(4)},${y}`);
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

describe('blasnet train --class-weight', () => {
  it('balanced trains on the weighted loss, writes 1-based epochs, and rejects unknown modes and regression', function () {
    this.timeout(120000);
    const train = path.join(tmp, 'train.csv'), test = path.join(tmp, 'test.csv');
    writeCsv(train, 350, 1);
    writeCsv(test, 140, 2);
    const job = (mode: string) => {
      const r = run('train', '--csv', train, '--test-csv', test, '--label', 'y', '--hidden', '8', '--epochs', '3', '--batch-size', '32',
        '--class-weight', mode, '--out', path.join(tmp, `${mode}.blasnet`), '--history', path.join(tmp, `${mode}.csv`),
        '--curves', path.join(tmp, mode), '--quiet');
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').pop() as string) as { testLoss: number };
    };
    const balanced = job('balanced'), none = job('none');
    assert.notEqual(balanced.testLoss, none.testLoss);
    const epochs = fs.readFileSync(path.join(tmp, 'balanced.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    assert.deepEqual(epochs, ['1', '2', '3']);
    const bad = run('train', '--csv', train, '--test-csv', test, '--label', 'y', '--class-weight', 'auto');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--class-weight/);
    const regression = run('train', '--csv', train, '--test-csv', test, '--label', 'a', '--task', 'regression', '--class-weight', 'balanced',
      '--out', path.join(tmp, 'r.blasnet'));
    assert.equal(regression.status, 1);
    assert.match(regression.stderr, /--class-weight balanced weights classes; this is a regression task/);
  });
});
