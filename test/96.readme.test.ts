/**
 * The README's code examples run as written (with the package name pointing at this build), so
 * the README stays true as the library changes.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { FASHION_MNIST_DIR, nativeAvailable } from '../lib';

const ROOT = path.resolve(__dirname, '..', '..');
const LIB = path.join(ROOT, 'dist', 'lib');
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The first ```ts block after the heading `title`, as CommonJS against this build. */
function example(title: string): string {
  const at = readme.indexOf(`## ${title}\n`);
  assert.ok(at >= 0, `README has no section ${title}`);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, `no code in ${title}`);
  return m[1].replace(/^import \{([^}]*)\} from 'blasnet';$/gm, (_s, names: string) => `const {${names}} = require(${JSON.stringify(LIB)});`);
}

function run(code: string): { status: number | null; stdout: string; stderr: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-readme-'));
  try {
    const r = spawnSync(process.execPath, ['-e', code], { cwd: dir, encoding: 'utf8', timeout: 120000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('README examples', () => {
  it('the kernels example runs', () => {
    const r = run(`${example('Example: the kernels')}\nif (!(loss > 0) || dw.length !== 6) process.exit(3);`);
    assert.equal(r.status, 0, r.stderr);
  });

  it('the model example runs (with a batch for its x and labels)', () => {
    const code = `const x = new Float32Array(16 * 784).map((_, i) => (i % 7) / 7); const labels = new Int32Array(16).map((_, i) => i % 10);\n` +
      `${example('Example: a model')}\nif (!(loss > 0) || probabilities.rows !== 16) process.exit(3);`;
    const r = run(code);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /total parameters/);
  });

  it('the models-that-leave-blasnet example runs and writes its files', () => {
    const check = `\nconst fs = require('fs');\n` +
      `if (probabilities.length !== 6 || !(fs.statSync('model.onnx').size > 0) || !(fs.statSync('model.safetensors').size > 0)) process.exit(3);`;
    const r = run(`${example('Models that leave blasnet')}${check}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '6');
  });

  it('the table example learns its rule and round-trips the preprocessing through a model file', function () {
    this.timeout(60000);
    const r = run(example('Example: a table'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\[ 'large', 'small' \]/);
    const [acc] = r.stdout.trim().split('\n').pop()!.split(' ').map(Number);
    assert.ok(acc > 0.9, r.stdout);
  });

  const canTrain = nativeAvailable() && fs.existsSync(path.join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));
  (canTrain ? it : it.skip)('the training example reaches about 0.89 on Fashion-MNIST', function () {
    this.timeout(120000);
    const r = run(example('Example: training'));
    assert.equal(r.status, 0, r.stderr);
    const acc = Number(/accuracy: ([\d.]+)/.exec(r.stdout)?.[1]);
    assert.ok(acc > 0.87, r.stdout);
  });

  (canTrain ? it : it.skip)('the training recipe example checks the model, finds an lr and trains at it', function () {
    this.timeout(120000);
    const r = run(`${example('Example: the training recipe')}\nprocess.on('exit', () => console.log('lr', model.optimizer.lr));`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /initial loss [\d.]+ on 256 rows; expected 2\.3026: ln 10/);
    assert.match(r.stdout, /overfit 20 rows: reached/);
    assert.match(r.stdout, /checks: initial loss/);
    const lr = Number(/suggested lr ([\d.e-]+)/.exec(r.stdout)?.[1]);
    assert.ok(lr > 1e-4 && lr < 1e-2, r.stdout);
    assert.equal(Number(/^lr (\S+)$/m.exec(r.stdout)?.[1]).toPrecision(2), lr.toPrecision(2));
  });
});
