/**
 * ONNX export, checked by running the exported graphs in onnxruntime: for every layer kind, every
 * activation and every stored preprocessing, onnxruntime's outputs equal model.predict within
 * 1e-5 (normalised error) on random inputs, at batch sizes 1 and 1000. onnxruntime-node lives in
 * its own test-only package (test/interop; `ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix
 * test/interop`); without it these tests skip, except in CI (CI set), where they fail.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  activation, ACTIVATION_NAMES, batchNorm, dense, dropout, encodeOnnx, gaussianNoise, exportOnnx, Layer, Matrix, MinMaxScaler, PCA, prelu, Rng,
  decodeModel, encodeModel, encodeSafetensors, loadModel, modelCheckpoint, readTable, saveModel, Sequential, Standardizer, TabularPreprocessor,
} from '../lib';
import type { ActivationLayerName, Backend, DenseActivation, OnnxAttribute, OnnxGraph, OnnxPreprocessing, ParamSpec, PassContext } from '../lib';
import { OnnxGraph as OnnxGraphClass } from '../lib/interop/onnx';
import { onnxModelType } from '../lib/interop/onnx-schema';
import { forEachBackend, normError, throwsCode } from './helpers';

const ROOT = path.resolve(__dirname, '..', '..');
const ORT_DIR = path.join(ROOT, 'test', 'interop', 'node_modules', 'onnxruntime-node');

interface OrtTensor { data: Float32Array; dims: readonly number[] }
interface Ort {
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => OrtTensor;
  InferenceSession: { create(bytes: Uint8Array): Promise<{ run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>> }> };
}

function loadOrt(): Ort | null {
  try {
    return require(ORT_DIR) as Ort;
  } catch (e) {
    if (process.env.CI) throw new Error(`onnxruntime-node is required in CI: run ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix test/interop (${(e as Error).message})`);
    return null;
  }
}

const ort = loadOrt();
if (!ort) {
  process.stderr.write('  82.onnx: onnxruntime-node not installed (ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix test/interop); skipping the onnxruntime checks\n');
}
const withOrt = ort ? it : it.skip;

/** onnxruntime's output for x ([rows, cols]) on the exported bytes. */
async function runOrt(bytes: Uint8Array, x: Float32Array, rows: number, cols: number): Promise<OrtTensor> {
  const o = ort as Ort;
  const session = await o.InferenceSession.create(bytes);
  const result = await session.run({ input: new o.Tensor('float32', x, [rows, cols]) });
  return result.output;
}

/** Moves BatchNorm's running statistics away from 0 and 1 with a few training passes. */
function warmStatistics(model: Sequential, rng: Rng): void {
  model.train();
  for (let i = 0; i < 4; i++) model.forward(rng.uniformArray(64 * model.inputSize, -1.5, 2.5));
  model.eval();
}

/** Asserts that onnxruntime on the export equals predict at batch sizes 1 and 1000. */
async function agrees(model: Sequential, seed: number, cols = model.inputSize, options: { opset?: number } = {}): Promise<void> {
  const bytes = encodeOnnx(model, options);
  const rng = new Rng(seed);
  for (const rows of [1, 1000]) {
    const x = rng.uniformArray(rows * cols, -2, 2);
    const expected = model.predict(new Matrix(x, rows, cols)).data;
    const got = await runOrt(bytes, x, rows, cols);
    assert.deepEqual(got.dims, [rows, model.outputSize]);
    const err = normError(got.data, expected);
    assert.ok(err < 1e-5, `batch ${rows}: normalised error ${err}`);
  }
}

const HIDDEN_ACTIVATIONS: DenseActivation[] = [...ACTIVATION_NAMES];

forEachBackend('ONNX export', (backend: Backend) => {
  const make = (layers: Layer[], inputSize = 5, seed = 3) => new Sequential({ inputSize, layers, seed, backend });

  for (const act of [...HIDDEN_ACTIVATIONS, 'softmax' as const]) {
    withOrt(`dense with activation ${act} equals predict`, async () => {
      await agrees(make([dense(9, { activation: act, activationParam: act === 'leakyRelu' ? 0.2 : act === 'elu' ? 0.7 : undefined }), dense(4)]), 11);
    });
  }

  for (const head of ['softmax', 'sigmoid'] as const) {
    withOrt(`a ${head} output layer: the graph outputs the probabilities predict returns`, async () => {
      const m = make([dense(8, { activation: 'relu' }), dense(3, { activation: head })]);
      await agrees(m, 12);
    });
  }

  for (const fn of [...ACTIVATION_NAMES, 'softmax', 'logSoftmax'] as ActivationLayerName[]) {
    withOrt(`activation layer ${fn} equals predict`, async () => {
      await agrees(make([dense(6), activation(fn)]), 13);
    });
  }

  withOrt('batchNorm in inference form (running statistics, eps) equals predict', async () => {
    const m = make([dense(8, { activation: 'tanh' }), batchNorm({ eps: 1e-3 }), dense(7), batchNorm(), dense(2)]);
    warmStatistics(m, new Rng(4));
    await agrees(m, 14);
  });

  withOrt('prelu with one slope and with a slope per unit equals predict', async () => {
    const m = make([dense(8), prelu({ init: 0.1 }), dense(6), prelu({ perUnit: true }), dense(3)]);
    new Rng(5).uniformArray(6).forEach((v, i) => { m.parameters()[4].data[i] = v; });
    await agrees(m, 15);
  });

  withOrt('dropout (inverted and classic), DropConnect, Gaussian noise, maxNorm and a dense layer without bias equal predict', async () => {
    const m = make([gaussianNoise(0.3), dense(10, { activation: 'relu', dropConnect: 0.3, maxNorm: 2 }), dropout(0.4), dense(8, { bias: false }), dropout(0.25, { mode: 'classic' }), dense(3)]);
    await agrees(m, 16);
  });

  withOrt('every layer kind in one model, at opsets 13 and 21', async () => {
    const m = make([dense(12, { activation: 'gelu' }), batchNorm(), prelu({ perUnit: true }), dropout(0.2), activation('silu'),
      dense(8, { activation: 'selu', dropConnect: 0.1 }), dense(4, { activation: 'softmax' })]);
    warmStatistics(m, new Rng(6));
    await agrees(m, 17, 5, { opset: 13 });
    await agrees(m, 18, 5, { opset: 21 });
  });

  const rawData = (rng: Rng, rows: number, cols: number) => {
    const x = new Matrix(rng.uniformArray(rows * cols, -1, 1), rows, cols);
    for (let i = 0; i < x.data.length; i++) x.data[i] = x.data[i] * (1 + (i % cols)) + (i % cols) - 2;
    return x;
  };
  const preprocessors: [string, (x: Matrix) => Standardizer | MinMaxScaler | PCA, number][] = [
    ['Standardizer', (x) => new Standardizer().fit(x), 7],
    ['MinMaxScaler to [-1, 1]', (x) => new MinMaxScaler({ range: [-1, 1] }).fit(x), 7],
    ['PCA (4 of 7 components)', (x) => new PCA({ components: 4, backend }).fit(x), 4],
    ['PCA whitened', (x) => new PCA({ components: 5, whiten: true, backend }).fit(x), 5],
  ];
  for (const [name, fit, width] of preprocessors) {
    withOrt(`stored preprocessing ${name}: the graph takes raw rows and equals predict`, async () => {
      const m = make([dense(6, { activation: 'elu' }), dense(2, { activation: 'sigmoid' })], width);
      m.setPreprocessing(fit(rawData(new Rng(7), 200, 7)));
      await agrees(m, 19, 7);
    });
  }

  /** Rows of a table with a text column, a missing cell and two regression labels far from mean 0, std 1. */
  const houses = (rng: Rng, rows: number) => Array.from({ length: rows }, (_, i) => {
    const size = 50 + rng.uniform() * 60, city = 'ABC'[i % 3];
    return { size, city: i % 11 === 0 ? null : city, price: 3 * size + (city === 'B' ? 60 : 0) + rng.normal(), rent: size / 4 + rng.normal() };
  });

  withOrt('a table with a text column, input \'preprocessed\': the graph takes transform\'s output and ends in the labels\' units', async () => {
    const records = houses(new Rng(22), 90);
    const prep = TabularPreprocessor.fit(records, { label: ['price', 'rent'], task: 'regression' });
    const m = make([dense(6, { activation: 'tanh' }), dense(2)], prep.inputSize);
    const x = prep.transform(records);
    const expected = prep.inverseTargets(m.predict(x));
    const got = await runOrt(encodeOnnx(m, { preprocessing: prep, input: 'preprocessed' }), x.data, x.rows, x.cols);
    assert.deepEqual(got.dims, [x.rows, 2]);
    assert.ok(normError(got.data, expected.data) < 1e-5, `onnxruntime ${Array.from(got.data.subarray(0, 4))} vs ${Array.from(expected.data.subarray(0, 4))}`);
  });

  withOrt('columns and labels far from zero next to their spread: means, fills and target means are not rounded to float32', async () => {
    // A column near 1e6 with a spread of 0.1 (its mean is not a float32 number), an imputed cell,
    // and a label near 1e6: x - float32(mean) was off by up to 0.03, 30% of a standardised value.
    const rng = new Rng(31);
    const rows = Array.from({ length: 60 }, (_, i) => {
      // float32 values, as the graph's input holds them (predict reads records in float64).
      const t = Math.fround(1000000.3 + 0.1 * rng.normal());
      return { t: i % 7 === 0 ? null : t, u: rng.normal(), y: 1000000.7 + 20 * (t - 1000000.3) + rng.normal() * 0.1 };
    });
    const prep = TabularPreprocessor.fit(rows, { label: 'y', task: 'regression' });
    const m = make([dense(1)], prep.inputSize);
    m.setWeights([new Float32Array(prep.inputSize).fill(1), new Float32Array([0.25])]);
    const x = new Float32Array(rows.flatMap((r) => [r.t ?? NaN, r.u]));
    const expected = prep.inverseTargetsFloat64(m.predict(prep.transform(rows)));
    const got = await runOrt(encodeOnnx(m, { preprocessing: prep }), x, rows.length, 2);
    // The graph's float32 output is within two units of its last place (0.0625 near 1e6): its
    // multiply and two adds round once each.
    for (let i = 0; i < rows.length; i++) assert.ok(Math.abs(got.data[i] - expected[i]) <= 0.125, `row ${i + 1}: ${got.data[i]} vs ${expected[i]}`);
    // A Standardizer the same way: standardised values to float32's rounding, not 3% off.
    const raw = new Matrix(Float32Array.from({ length: 200 }, () => 1000000 + rng.int(3) + 0.25 * rng.int(2)), 100, 2);
    const s = make([dense(2)], 2);
    s.setWeights([new Float32Array([1, 0, 0, 1]), new Float32Array(2)]);
    s.setPreprocessing(new Standardizer().fit(raw));
    const out = await runOrt(encodeOnnx(s), raw.data, 100, 2);
    const want = s.predict(raw).data;
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(out.data[i] - want[i]) < 1e-5, `value ${i}: ${out.data[i]} vs ${want[i]}`);
  });

  withOrt('input \'preprocessed\' with a stored Standardizer: the graph is the network alone', async () => {
    const raw = rawData(new Rng(23), 100, 7);
    const m = make([dense(5, { activation: 'relu' }), dense(3)], 7);
    m.setPreprocessing(new Standardizer().fit(raw));
    const x = (m.preprocessing as Standardizer).transform(raw);
    const got = await runOrt(encodeOnnx(m, { input: 'preprocessed' }), x.data, x.rows, x.cols);
    assert.ok(normError(got.data, m.predict(raw).data) < 1e-5);
  });

  withOrt('a preprocessor with toOnnx() contributes its own input and output nodes', async () => {
    // Doubles the raw rows on the way in and adds 1 to the outputs on the way out.
    class Doubler {
      transform(x: Matrix): Matrix {
        return new Matrix(x.data.map((v) => 2 * v), x.rows, x.cols);
      }
      toJSON() {
        return { type: 'Doubler', cols: 5 };
      }
      toOnnx(): OnnxPreprocessing {
        return {
          inputSize: 5,
          input: (g: OnnxGraph, x: string) => g.node('Mul', [x, g.constant('two', [], [2])]),
          output: (g: OnnxGraph, y: string) => g.node('Add', [y, g.constant('one', [], [1])]),
        };
      }
    }
    const m = make([dense(4, { activation: 'tanh' }), dense(3)]);
    (m as { preprocessing: unknown }).preprocessing = new Doubler();
    const x = new Rng(20).uniformArray(50 * 5);
    const expected = m.predict(new Matrix(x, 50, 5)).data.map((v) => v + 1);
    const got = await runOrt(encodeOnnx(m), x, 50, 5);
    assert.ok(normError(got.data, expected) < 1e-6);
  });
});

describe('ONNX export: the graph and bad input', () => {
  const model = () => new Sequential({ inputSize: 5, layers: [dense(4, { activation: 'relu' }), dropout(0.5), dense(3, { activation: 'softmax' })] });

  it('names the input and output, keeps the batch dimension dynamic and records the opset', () => {
    const type = onnxModelType();
    const doc = type.toObject(type.decode(encodeOnnx(model(), { opset: 15 })), { longs: Number }) as {
      irVersion: number; opsetImport: { version: number }[]; producerName: string;
      graph: { input: { name: string; type: { tensorType: { shape: { dim: { dimParam?: string; dimValue?: number }[] } } } }[];
        output: { name: string; type: { tensorType: { shape: { dim: { dimParam?: string; dimValue?: number }[] } } } }[];
        node: { opType: string }[] };
    };
    assert.equal(doc.producerName, 'blasnet');
    assert.equal(doc.irVersion, 8);
    assert.deepEqual(doc.opsetImport.map((o) => o.version), [15]);
    assert.equal(doc.graph.input[0].name, 'input');
    assert.equal(doc.graph.output[0].name, 'output');
    assert.deepEqual(doc.graph.input[0].type.tensorType.shape.dim, [{ dimParam: 'batch' }, { dimValue: 5 }]);
    assert.deepEqual(doc.graph.output[0].type.tensorType.shape.dim, [{ dimParam: 'batch' }, { dimValue: 3 }]);
    // Inverted dropout leaves no node behind.
    assert.deepEqual(doc.graph.node.map((n) => n.opType), ['Gemm', 'Relu', 'Gemm', 'Softmax']);
  });

  it('a custom layer is ERR_BLASNET_UNSUPPORTED naming its kind and position', () => {
    class Doubling extends Layer {
      readonly kind = 'doubling';
      build(inSize: number): ParamSpec[] {
        this.inSize = this.outSize = inSize;
        return [];
      }
      protected allocate(): void {}
      forward(_c: PassContext, _b: number, x: Float32Array): Float32Array {
        return x;
      }
      backward(): Float32Array | null {
        return null;
      }
      config() {
        return { kind: this.kind };
      }
    }
    const m = new Sequential({ inputSize: 3, layers: [dense(4), new Doubling(), dense(2)] });
    throwsCode(() => encodeOnnx(m), 'ERR_BLASNET_UNSUPPORTED', undefined, 'layer 1');
    throwsCode(() => encodeOnnx(m), 'ERR_BLASNET_UNSUPPORTED', undefined, '"doubling"');
    // onnx.checker requires a graph name.
    throwsCode(() => encodeOnnx(new Sequential({ inputSize: 3, layers: [dense(2)] }), { graphName: '' }), 'ERR_BLASNET_ARG_RANGE', undefined, 'non-empty string for options.graphName');
    // An eps float32 holds as 0 would make the kernels refuse every pass and the graph divide by 0.
    throwsCode(() => batchNorm({ eps: 1e-46 }), 'ERR_BLASNET_ARG_RANGE', undefined, 'rounds to 0 in float32');
    assert.equal(batchNorm({ eps: 1e-44 }).eps, 1e-44);
    // A model file could be written but never read back: refused too, and a checkpoint before any step.
    throwsCode(() => encodeModel(m), 'ERR_BLASNET_UNSUPPORTED', undefined, 'layer 1 ("doubling", kind "doubling") is a layer of your own');
    const file = path.join(os.tmpdir(), `custom-${process.pid}.blasnet`);
    throwsCode(() => saveModel(file, m), 'ERR_BLASNET_UNSUPPORTED', undefined, 'loadModel could not rebuild');
    assert.ok(!fs.existsSync(file));
    m.compile({ loss: 'mse', optimizer: { name: 'sgd', lr: 0.1 } });
    const before = m.params.slice();
    throwsCode(() => m.fit(new Float32Array(6), new Float32Array(4), { epochs: 1, callbacks: [modelCheckpoint(file)] }), 'ERR_BLASNET_UNSUPPORTED', undefined, 'modelCheckpoint: layer 1');
    assert.deepEqual(m.params, before, 'no step was taken');
    // The weights still leave: safetensors holds the dense layers' tensors.
    assert.equal(encodeSafetensors(m).length > 0, true);
  });

  it('a built model\'s layers cannot be renamed to share a name (ERR_BLASNET_STATE), so no graph has one layer\'s weights in both places', () => {
    const m = new Sequential({ inputSize: 4, layers: [dense(4, { activation: 'tanh', name: 'hidden' }), dense(4, { name: 'out' })] });
    throwsCode(() => { m.layers[1].name = 'hidden'; }, 'ERR_BLASNET_STATE', undefined, 'cannot be renamed "hidden"');
    throwsCode(() => { m.layers[0].name = undefined; }, 'ERR_BLASNET_STATE', undefined, 'cannot be renamed undefined');
    const type = onnxModelType();
    const doc = type.toObject(type.decode(encodeOnnx(m))) as { graph: { initializer: { name: string }[] } };
    assert.deepEqual(doc.graph.initializer.map((t) => t.name), ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']);
  });

  it('a CustomLoss head is ERR_BLASNET_UNSUPPORTED naming it', () => {
    const m = new Sequential({
      inputSize: 3, layers: [dense(2)],
      loss: { name: 'myMarginLoss', compute: () => 0 },
    });
    throwsCode(() => encodeOnnx(m), 'ERR_BLASNET_UNSUPPORTED', undefined, 'myMarginLoss');
  });

  it('preprocessing without toOnnx() is ERR_BLASNET_UNSUPPORTED naming it', () => {
    class Hashing {}
    const m = model();
    (m as { preprocessing: unknown }).preprocessing = new Hashing();
    throwsCode(() => encodeOnnx(m), 'ERR_BLASNET_UNSUPPORTED', undefined, 'Hashing');
    class Broken {
      toOnnx() {
        return { inputSize: 0, input: (_g: OnnxGraph, x: string) => x };
      }
    }
    (m as { preprocessing: unknown }).preprocessing = new Broken();
    throwsCode(() => encodeOnnx(m), 'ERR_BLASNET_ARG_TYPE', TypeError, 'Broken.toOnnx()');
  });

  it('preprocessing returning another width than the model takes is ERR_BLASNET_SHAPE naming both widths', () => {
    const raw = new Matrix(new Rng(8).uniformArray(20 * 7, -1, 1), 20, 7);
    const m = model();
    throwsCode(() => encodeOnnx(m, { preprocessing: new Standardizer().fit(raw) }), 'ERR_BLASNET_SHAPE', RangeError,
      'the Standardizer returns 7 features per row but the model takes 5');
    throwsCode(() => encodeOnnx(m, { preprocessing: new PCA({ components: 4 }).fit(raw), input: 'preprocessed' }), 'ERR_BLASNET_SHAPE', RangeError,
      'the PCA returns 4 features per row but the model takes 5');
    // Assigning the field skips setPreprocessing's checks.
    m.preprocessing = new MinMaxScaler().fit(raw);
    throwsCode(() => encodeOnnx(m), 'ERR_BLASNET_SHAPE', RangeError, 'the MinMaxScaler returns 7 features per row but the model takes 5');
    const records = [{ size: 50, rooms: 2, price: 150 }, { size: 60, rooms: 3, price: 260 }, { size: 70, rooms: 3, price: 210 }];
    const prep = TabularPreprocessor.fit(records, { label: 'price', task: 'regression' });
    const wide = new Sequential({ inputSize: prep.inputSize + 1, layers: [dense(1)] });
    throwsCode(() => encodeOnnx(wide, { preprocessing: prep }), 'ERR_BLASNET_SHAPE', RangeError,
      `the table preprocessing returns ${prep.inputSize} features per row but the model takes ${prep.inputSize + 1}`);
    // The outputs as saveModel checks them: one per label column (or class).
    const two = TabularPreprocessor.fit(records.map((r) => ({ ...r, rent: r.price / 10 })), { label: ['price', 'rent'], task: 'regression' });
    for (const outputs of [1, 3]) {
      const m2 = new Sequential({ inputSize: two.inputSize, layers: [dense(outputs)] });
      throwsCode(() => encodeOnnx(m2, { preprocessing: two }), 'ERR_BLASNET_SHAPE', RangeError,
        `the table preprocessing has 2 label columns, one output each, but the model has ${outputs} output`);
    }
  });

  it('OnnxGraph.node refuses an attribute that is not one typed value, naming its key', () => {
    const g = new OnnxGraphClass(17);
    for (const [a, what] of [[null, 'is null'], [{ zz: 1 }, 'has the field "zz"'], [{ f: 1, i: 2 }, 'has the fields'], [{ i: 1.5 }, 'i is 1.5, not an integer'],
      [{ ints: [1, 'x'] }, 'ints is'], [{ s: 3 }, 's is 3']] as [unknown, string][]) {
      throwsCode(() => g.node('Relu', ['x'], { alpha: a as OnnxAttribute }), 'ERR_BLASNET_ARG_TYPE', TypeError, `attribute "alpha" ${what}`);
    }
    assert.equal(typeof g.node('LeakyRelu', ['x'], { alpha: { f: 0.1 } }), 'string');
  });

  it("takes a loaded file's preprocessing in its JSON form, as saveModel does", () => {
    const records = [{ size: 50, rooms: 2, price: 150 }, { size: 60, rooms: 3, price: 260 }, { size: 70, rooms: 3, price: 210 }];
    const prep = TabularPreprocessor.fit(records, { label: 'price', task: 'regression' });
    const m = new Sequential({ inputSize: prep.inputSize, seed: 4, layers: [dense(1)] });
    const loaded = decodeModel(encodeModel(m, { preprocessing: prep }));
    assert.deepEqual(encodeOnnx(loaded.model, { preprocessing: loaded.preprocessing as object }), encodeOnnx(m, { preprocessing: prep }));
    throwsCode(() => encodeOnnx(m, { preprocessing: { type: 'TabularPreprocessor' } }), 'ERR_BLASNET_FORMAT', undefined, 'invalid preprocessing');
  });

  it('a table with a text column needs input \'preprocessed\': ERR_BLASNET_UNSUPPORTED naming the column and the option', () => {
    const records = [{ size: 50, city: 'A', price: 150 }, { size: 60, city: 'B', price: 260 }, { size: 70, city: 'A', price: 210 }];
    const prep = TabularPreprocessor.fit(records, { label: 'price', task: 'regression' });
    const m = new Sequential({ inputSize: prep.inputSize, layers: [dense(1)] });
    throwsCode(() => encodeOnnx(m, { preprocessing: prep }), 'ERR_BLASNET_UNSUPPORTED', undefined, '"city"');
    throwsCode(() => encodeOnnx(m, { preprocessing: prep }), 'ERR_BLASNET_UNSUPPORTED', undefined, "input: 'preprocessed'");
    for (const input of ['features', '', 0, true]) {
      throwsCode(() => encodeOnnx(m, { preprocessing: prep, input: input as 'raw' }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.input');
    }
  });

  it('an opset outside 13..21, a bad model and a bad path are coded errors', () => {
    for (const opset of [12, 22, 17.5, '17']) throwsCode(() => encodeOnnx(model(), { opset: opset as number }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'opset');
    throwsCode(() => encodeOnnx({} as Sequential), 'ERR_BLASNET_ARG_TYPE', TypeError);
    throwsCode(() => exportOnnx(model(), '' as string), 'ERR_BLASNET_ARG_TYPE', TypeError);
  });

  describe('blasnet export (CLI)', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-onnx-'));
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));
    const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'dist', 'lib', 'cli.js'), ...args], { cwd: tmp, encoding: 'utf8', timeout: 60000 });

    it('says what an IDX-trained model reads: pixels divided by 255, which the file does not apply', () => {
      const m = model();
      saveModel(path.join(tmp, 'idx.blasnet'), m, { metadata: { source: '/data/fashion-mnist', data: 'idx' } });
      for (const args of [['--onnx', 'idx.onnx'], ['--safetensors', 'idx.safetensors']]) {
        const r = cli('export', '--model', 'idx.blasnet', ...args);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /input: 5 pixels per image as float32, each divided by 255 \(0 to 1\), as train and predict read the IDX files; the file applies no scaling itself/);
      }
      // A model of no recorded data, or of another source, gets no such line.
      saveModel(path.join(tmp, 'plain.blasnet'), model());
      assert.doesNotMatch(cli('export', '--model', 'plain.blasnet', '--onnx', 'plain.onnx').stdout, /pixels/);
      saveModel(path.join(tmp, 'sensors.blasnet'), model(), { metadata: { source: 'sensors.parquet' } });
      assert.doesNotMatch(cli('export', '--model', 'sensors.blasnet', '--onnx', 'sensors.onnx').stdout, /pixels/);
    });

    withOrt('writes an ONNX file that onnxruntime runs to predict\'s outputs', async () => {
      const m = model();
      saveModel(path.join(tmp, 'm.blasnet'), m);
      const r = cli('export', '--model', 'm.blasnet', '--onnx', 'm.onnx', '--opset', '13');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /ONNX \(opset 13\) written/);
      const x = new Rng(21).uniformArray(10 * 5);
      const got = await runOrt(fs.readFileSync(path.join(tmp, 'm.onnx')), x, 10, 5);
      assert.ok(normError(got.data, m.predict(new Matrix(x, 10, 5)).data) < 1e-6);
    });

    withOrt('a model trained on a numeric table takes raw columns (NaN for missing) and predicts in the label\'s units', async () => {
      const rng = new Rng(31);
      const lines = ['a,b,c,y'];
      for (let i = 0; i < 300; i++) {
        const a = rng.normal() * 10 + 50, b = rng.normal(), c = rng.uniform() * 3;
        const y = 2 * a - 5 * b + c + rng.normal() * 0.1;
        lines.push([i % 17 === 0 ? '' : a.toFixed(3), b.toFixed(3), i % 23 === 0 ? 'NA' : c.toFixed(3), y.toFixed(3)].join(','));
      }
      fs.writeFileSync(path.join(tmp, 'reg.csv'), `${lines.join('\n')}\n`);
      const t = cli('train', '--csv', 'reg.csv', '--label', 'y', '--out', 'reg.blasnet', '--quiet', '--epochs', '30');
      assert.equal(t.status, 0, t.stderr);
      const r = cli('export', '--model', 'reg.blasnet', '--onnx', 'reg.onnx');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /input: the raw columns a, b, c as float32 \(NaN for a missing cell\); the graph imputes and standardises them/);
      assert.match(r.stdout, /output: y in the label's units/);
      // Trained without standardising, the note says only what the graph does.
      const ns = cli('train', '--csv', 'reg.csv', '--label', 'y', '--out', 'reg-ns.blasnet', '--quiet', '--epochs', '1', '--no-standardize');
      assert.equal(ns.status, 0, ns.stderr);
      const e = cli('export', '--model', 'reg-ns.blasnet', '--onnx', 'reg-ns.onnx');
      assert.equal(e.status, 0, e.stderr);
      assert.match(e.stdout, /; the graph imputes them \(float32/);
      const loaded = loadModel(path.join(tmp, 'reg.blasnet'));
      const prep = loaded.preprocessor as TabularPreprocessor;
      const rows = [[51.5, 0.3, 1.2], [NaN, -1, 2.5], [40, 0.1, NaN], [NaN, NaN, NaN]];
      const x = Float32Array.from(rows.flat());
      const table = { columns: ['a', 'b', 'c'], rows: rows.map((r) => r.map((v) => (Number.isNaN(v) ? null : v))) };
      const expected = prep.inverseTargets(loaded.model.predict(prep.transform(table)));
      const got = await runOrt(fs.readFileSync(path.join(tmp, 'reg.onnx')), x, 4, 3);
      assert.ok(normError(got.data, expected.data) < 1e-5, `onnxruntime ${Array.from(got.data)} vs ${Array.from(expected.data)}`);
    });

    withOrt('a regression on a table with a text column takes the preprocessed features and predicts in the label\'s units', async () => {
      const rng = new Rng(32);
      const lines = ['size,city,price'];
      for (let i = 0; i < 120; i++) {
        const size = 50 + rng.uniform() * 60, city = 'ABC'[i % 3];
        const price = 3 * size + (city === 'B' ? 60 : city === 'C' ? -40 : 0) + rng.normal() * 2;
        lines.push([size.toFixed(2), i % 29 === 0 ? '' : city, price.toFixed(2)].join(','));
      }
      fs.writeFileSync(path.join(tmp, 'houses.csv'), `${lines.join('\n')}\n`);
      const t = cli('train', '--csv', 'houses.csv', '--label', 'price', '--task', 'regression', '--out', 'houses.blasnet', '--quiet', '--epochs', '20');
      assert.equal(t.status, 0, t.stderr);
      const r = cli('export', '--model', 'houses.blasnet', '--onnx', 'houses.onnx', '--safetensors', 'houses.safetensors');
      assert.equal(r.status, 0, r.stderr);
      const loaded = loadModel(path.join(tmp, 'houses.blasnet'));
      const prep = loaded.preprocessor as TabularPreprocessor;
      const x = prep.transform(readTable(path.join(tmp, 'houses.csv')));
      const expected = prep.inverseTargets(loaded.model.predict(x));
      const got = await runOrt(fs.readFileSync(path.join(tmp, 'houses.onnx')), x.data, x.rows, x.cols);
      assert.deepEqual(got.dims, [x.rows, 1]);
      assert.ok(normError(got.data, expected.data) < 1e-5, `onnxruntime ${Array.from(got.data.subarray(0, 3))} vs predict ${Array.from(expected.data.subarray(0, 3))}`);
      assert.ok(r.stdout.includes(`input: the preprocessed features, ${prep.inputSize} float32 columns (${prep.featureNames.join(', ')})`), r.stdout);
      assert.match(r.stdout, /one-hot encoded/);
      assert.match(r.stdout, /output: price in the label's units/);
      // The safetensors file holds weights only, so the note gives the target un-scaling predict applies.
      const target = prep.toJSON().target as { std: number[]; mean: number[] };
      assert.ok(r.stdout.includes(`y * std + mean with std [${target.std[0]}] and mean [${target.mean[0]}]`), r.stdout);
    });

    it("--safetensors of a model with its own scaler says the file holds the weights alone, not the scaler", () => {
      const m = model();
      m.setPreprocessing(new Standardizer().fit(new Matrix(new Rng(9).uniformArray(40 * 5), 40, 5)));
      saveModel(path.join(tmp, 's.blasnet'), m);
      const r = cli('export', '--model', 's.blasnet', '--safetensors', 's.safetensors');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /note: the weights alone: the network takes the rows after the model's Standardizer \(Standardizer\.transform\), which the file does not hold/);
      saveModel(path.join(tmp, 'p.blasnet'), model());
      assert.doesNotMatch(cli('export', '--model', 'p.blasnet', '--safetensors', 'p.safetensors').stdout, /note/);
    });

    it('--safetensors of a model with classic dropout says what nn.Dropout does not do', () => {
      const m = new Sequential({ inputSize: 5, seed: 1, layers: [dense(8, { activation: 'relu' }), dropout(0.25, { mode: 'classic' }), dropout(0.5), dense(3)] });
      saveModel(path.join(tmp, 'c.blasnet'), m);
      const r = cli('export', '--model', 'c.blasnet', '--safetensors', 'c.safetensors');
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /note: layer 1 is classic dropout, which scales its input by 0\.75 \(1 - rate\) at inference, where nn\.Dropout in eval\(\) does nothing/);
      assert.doesNotMatch(r.stdout, /layer 2/, 'inverted dropout is nn.Dropout');
    });

    it('fails clearly without an output or with a bad opset', () => {
      saveModel(path.join(tmp, 'n.blasnet'), model());
      const none = cli('export', '--model', 'n.blasnet');
      assert.equal(none.status, 1);
      assert.match(none.stderr, /nothing to write.*ERR_BLASNET_ARG_RANGE/);
      const bad = cli('export', '--model', 'n.blasnet', '--onnx', 'n.onnx', '--opset', '30');
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /opset.*ERR_BLASNET_ARG_RANGE/);
      assert.ok(!fs.existsSync(path.join(tmp, 'n.onnx')));
    });
  });
});
