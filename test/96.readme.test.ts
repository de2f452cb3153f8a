/**
 * The README's code examples run as written (with the package name pointing at this build), so
 * the README stays true as the library changes.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as ts from 'typescript';
import { FASHION_MNIST_DIR, mpiAvailable, nativeAvailable } from '../lib';

const ROOT = path.resolve(__dirname, '..', '..');
const LIB = path.join(ROOT, 'dist', 'lib');
const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** Every ```ts block of the README with the heading above it, as CommonJS against this build. */
function examples(): { title: string; code: string }[] {
  const out: { title: string; code: string }[] = [];
  const re = /^## (.+)$|```ts\n([\s\S]*?)```/gm;
  let title = '';
  for (let m = re.exec(readme); m; m = re.exec(readme)) {
    if (m[1] !== undefined) title = m[1];
    else {
      out.push({ title, code: m[2].replace(/^import \{([^}]*)\} from 'blasnet';$/gm, (_s, names: string) => `const {${names}} = require(${JSON.stringify(LIB)});`) });
    }
  }
  return out;
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

/**
 * What each example must show, checked after it runs as written; an example missing from this
 * table fails, so a new one gets a check.
 */
const CHECKS: Record<string, { check: string; stdout?: RegExp; verify?: (stdout: string) => void; needs?: 'fashion-mnist' | 'mpi' }> = {
  'Example: training': { check: '', stdout: /accuracy: 0\.(8[7-9]|9)/, needs: 'fashion-mnist' },
  'Example: a model': { check: 'if (!(loss > 0) || probabilities.rows !== 16) process.exit(3);', stdout: /total parameters/ },
  'Example: the kernels': { check: 'if (!(loss > 0) || dw.length !== 6) process.exit(3);' },
  'Models that leave blasnet': {
    check: "const fs = require('fs');\n" +
      "if (probabilities.length !== 6 || !(fs.statSync('model.onnx').size > 0) || !(fs.statSync('model.safetensors').size > 0)) process.exit(3);\n" +
      'if (!frozen.frozen || frozen(row).length !== 3) process.exit(4);',
    stdout: /^6\s+true\s+0\.3333\s*$/,
  },
  'Example: the training recipe': {
    check: "process.on('exit', () => console.log('lr', model.optimizer.lr));",
    needs: 'fashion-mnist',
    stdout: /initial loss [\d.]+ on 256 rows; expected 2\.3026: ln 10/,
    verify: (stdout) => {
      assert.match(stdout, /overfit 20 rows: reached/);
      assert.match(stdout, /checks: initial loss/);
      const lr = Number(/suggested lr ([\d.e-]+)/.exec(stdout)?.[1]);
      assert.ok(lr > 1e-4 && lr < 1e-2, stdout);
      assert.equal(Number(/^lr (\S+)$/m.exec(stdout)?.[1]).toPrecision(2), lr.toPrecision(2));
    },
  },
  'Example: regularise, average, ensemble': {
    check: "process.on('exit', () => { if (!(require('fs').statSync('diagnostics.png').size > 5000)) process.exitCode = 3; });",
    stdout: /^swa 0\.9\d\d$/m,
    verify: (stdout) => assert.match(stdout, /ensemble accuracy 0\.9\d\d/),
  },
  'Example: hyperparameter search': {
    check: '',
    stdout: /^index,stage,lr,weightDecay,hidden,activation,dropout,score,epochs,trainedEpochs,seconds,status,error$/m,
    verify: (stdout) => {
      const rows = stdout.split('\n').filter((l) => /^\d+,[01],/.test(l));
      assert.equal(rows.length, 12, stdout);
      assert.equal(rows.filter((l) => l.startsWith(`${rows.indexOf(l)},0,`) && /,2,,[\d.]+,ok,$/.test(l)).length, 6, stdout);
      assert.match(stdout, /accuracy: 0\.(6|7|8|9)/);
    },
  },
  'Example: records from a service': {
    check: '',
    stdout: /\[ 'tenure', 'calls', 'premium' \]/,
    verify: (stdout) => {
      assert.match(stdout, /Int32Array\(1\) \[ 1 \]/);
      assert.match(stdout, /accuracy: (0\.9|1)/);
    },
  },
  'Example: many models on one Dataset': {
    check: '',
    needs: 'fashion-mnist',
    verify: (stdout) => assert.equal(stdout.split('\n').filter((l) => /^seed [1-4]: test accuracy 0\.(7|8|9)/.test(l)).length, 4, stdout),
  },
  // Started with plain node: an MPI job of one rank (test/99.distributed runs two under mpirun).
  'Example: data-parallel training over MPI': { check: '', stdout: /^valAccuracy 0\.(8|9)\d\d$/m, needs: 'mpi' },
  'Example: a table': {
    check: '',
    stdout: /\[ 'large', 'small' \]/,
    verify: (stdout) => {
      const [acc] = stdout.trim().split('\n').pop()!.split(' ').map(Number);
      assert.ok(acc > 0.9, stdout);
    },
  },
};

describe('README examples', () => {
  const canTrain = nativeAvailable() && fs.existsSync(path.join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));
  const all = examples();

  it('every TypeScript example has a check here', () => {
    assert.deepEqual(all.map((e) => e.title).sort(), Object.keys(CHECKS).sort());
  });

  it('every TypeScript example type-checks under strict against the package\'s types', function () {
    // As a user's project compiles them: `import ... from 'blasnet'` resolved to this tree's
    // exports (lib/index.ts), strict mode, Node's types. One program for all the blocks.
    this.timeout(120000);
    const blocks = new Map<string, { title: string; code: string }>();
    const re = /^## (.+)$|```ts\n([\s\S]*?)```/gm;
    let title = '';
    for (let m = re.exec(readme); m; m = re.exec(readme)) {
      if (m[1] !== undefined) title = m[1];
      else blocks.set(path.join(ROOT, 'readme-examples', `example-${blocks.size + 1}.ts`), { title, code: `${m[2]}\nexport {};\n` });
    }
    // Records typed with an interface (no index signature), as database drivers and JSON schemas
    // type rows: every function that takes records takes them.
    blocks.set(path.join(ROOT, 'readme-examples', 'interface-records.ts'), {
      title: 'records typed with an interface',
      code: [
        "import { Dataset, dense, recordColumn, recordsToMatrix, Sequential, TabularPreprocessor } from 'blasnet';",
        'interface Customer { tenure: number; calls: number; premium: boolean; churned: number }',
        'const rows: Customer[] = [{ tenure: 1, calls: 2, premium: true, churned: 0 }, { tenure: 3, calls: 0, premium: false, churned: 1 }];',
        "const model = new Sequential({ inputSize: 2, layers: [dense(2)] }).compile({ loss: 'crossEntropy', optimizer: 'adam' });",
        "model.setInputColumns(['tenure', 'calls']);",
        "model.fit(rows, 'churned', { epochs: 1 });",
        "model.evaluate(rows, 'churned');",
        'model.predictClasses(rows);',
        "TabularPreprocessor.fit(rows, { label: 'churned' });",
        "Dataset.from(rows, 'churned');",
        "recordsToMatrix(rows, ['tenure']);",
        "recordColumn(rows, 'churned');",
        'export {};',
      ].join('\n'),
    });
    const options: ts.CompilerOptions = {
      strict: true, noEmit: true, skipLibCheck: true, esModuleInterop: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      baseUrl: ROOT, paths: { blasnet: ['lib/index.ts'] },
    };
    const host = ts.createCompilerHost(options);
    const { fileExists, readFile, getSourceFile } = host;
    host.fileExists = (f) => blocks.has(f) || fileExists.call(host, f);
    host.readFile = (f) => blocks.get(f)?.code ?? readFile.call(host, f);
    host.getSourceFile = (f, v, ...rest) => {
      const b = blocks.get(f);
      return b ? ts.createSourceFile(f, b.code, v) : getSourceFile.call(host, f, v, ...rest);
    };
    const program = ts.createProgram([...blocks.keys()], options, host);
    const errors = ts.getPreEmitDiagnostics(program).filter((d) => d.file && blocks.has(d.file.fileName)).map((d) => {
      const { line } = (d.file as ts.SourceFile).getLineAndCharacterOfPosition(d.start ?? 0);
      return `${blocks.get((d.file as ts.SourceFile).fileName)?.title}, line ${line + 1}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    });
    assert.equal(blocks.size, all.length + 1);
    assert.deepEqual(errors, []);
  });

  for (const { title, code } of all) {
    const c = CHECKS[title];
    const skip = (c?.needs === 'fashion-mnist' && !canTrain) || (c?.needs === 'mpi' && !mpiAvailable() && !process.env.CI);
    (skip ? it.skip : it)(`runs as written: ${title}`, function () {
      this.timeout(120000);
      const r = run(`${code}\n${c?.check ?? ''}`);
      assert.equal(r.status, 0, r.stderr);
      if (c?.stdout) assert.match(r.stdout, c.stdout);
      c?.verify?.(r.stdout);
    });
  }
});
