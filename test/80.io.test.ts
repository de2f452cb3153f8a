/**
 * Model files: exact round trips, atomic saves (a process killed mid-save never leaves a broken
 * file), and clear coded errors for missing, truncated, corrupted and incompatible files.
 */
import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { batchNorm, createSchedule, dense, dropout, Matrix, prelu, Rng, Sequential, Standardizer } from '../lib';
import type { SequentialOptions } from '../lib';
import { decode, encode } from '../lib/io/format';
import { decodeModel, encodeModel, loadModel, saveModel } from '../lib/io/model-file';
import { forEachBackend, throwsCode, warningsDuring } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-io-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function model(backend?: SequentialOptions['backend'], seed = 4): Sequential {
  return new Sequential({
    inputSize: 6, seed, backend, loss: { name: 'huber', param: 0.5 },
    layers: [dense(9, { activation: 'leakyRelu', activationParam: 0.2, l2: 1e-3, dropConnect: 0.1, name: 'in' }), batchNorm({ momentum: 0.2 }),
      dropout(0.3, { mode: 'classic' }), prelu({ perUnit: true }), dense(3, { activation: 'softmax', init: 'orthogonal' })],
  });
}

describe('file format', () => {
  it('round-trips nested documents with tensors, NaN and infinities exactly', () => {
    const doc = { a: [1, 'x', null, { t: new Float32Array([1.5, -2, NaN]) }], b: new Float32Array(0), c: Infinity, d: -Infinity, e: NaN };
    const back = decode(encode(doc)) as typeof doc;
    assert.deepEqual(back.a.slice(0, 3), [1, 'x', null]);
    assert.deepEqual((back.a[3] as { t: Float32Array }).t, doc.a[3] && (doc.a[3] as { t: Float32Array }).t);
    assert.equal(back.b.length, 0);
    assert.equal(back.c, Infinity);
    assert.equal(back.d, -Infinity);
    assert.ok(Number.isNaN(back.e));
  });
});

forEachBackend('model files', (b) => {
  it('save and load round trip is exact: weights, running statistics, predictions, extras', () => {
    const m = model(b);
    const x = new Rng(1).uniformArray(20 * 6);
    m.lossAndGradient(x, new Rng(2).uniformArray(20 * 3), {});
    const file = path.join(tmp, `m-${b.name}.blasnet`);
    const extras = { optimizer: { name: 'adam', step: 3, state: new Float32Array([1, 2, 3]) }, schedule: { count: 3, lr: 0.1 },
      preprocessing: { mean: [0.5] }, metadata: { epochs: 2, note: 'test' } };
    saveModel(file, m, extras);
    const loaded = loadModel(file, { backend: b });
    assert.deepEqual(loaded.model.params, m.params);
    assert.deepEqual(loaded.model.buffers().map((v) => v.data), m.buffers().map((v) => v.data));
    assert.deepEqual(loaded.model.predict(x).data, m.predict(x).data);
    assert.deepEqual(loaded.model.config(), m.config());
    assert.deepEqual(loaded.optimizer, extras.optimizer);
    assert.deepEqual(loaded.schedule, extras.schedule);
    assert.deepEqual(loaded.preprocessing, extras.preprocessing);
    assert.deepEqual(loaded.metadata, extras.metadata);
    assert.equal(loaded.model.summary(), m.summary());
  });

  it('a schedule or an optimiser given itself is saved as its state(), which loads back into one', () => {
    const m = model(b);
    m.compile({ loss: 'mse', optimizer: { name: 'adam', lr: 0.01 } });
    const x = new Rng(1).uniformArray(20 * 6);
    m.fit(x, new Rng(2).uniformArray(20 * 3), { epochs: 2, batchSize: 5 });
    const schedule = createSchedule({ name: 'step', stepSize: 2, gamma: 0.5 }, 0.01);
    for (let i = 0; i < 3; i++) schedule.step();
    const file = path.join(tmp, `objects-${b.name}.blasnet`);
    saveModel(file, m, { schedule, optimizer: m.optimizer });
    const loaded = loadModel(file, { backend: b });
    assert.deepEqual(loaded.schedule, schedule.state());
    const again = createSchedule({ name: 'step', stepSize: 2, gamma: 0.5 }, 0.01);
    again.load(loaded.schedule as never);
    assert.equal(again.step(), schedule.step());
    assert.deepEqual(loaded.model.optimizer?.state(), m.optimizer?.state());
    // Another model's optimiser, or a state of another kind than the compile settings name: refused at save, not a file that cannot load.
    const other = new Sequential({ inputSize: 6, seed: 2, backend: b, layers: [dense(5), dense(3)] }).compile({ loss: 'mse', optimizer: 'adam' });
    throwsCode(() => saveModel(file, other, { optimizer: m.optimizer }), 'ERR_BLASNET_ARG_RANGE', RangeError, `the optimiser state is of ${m.params.length} parameters and the model has ${other.params.length}`);
    const sgd = model(b).compile({ loss: 'mse', optimizer: { name: 'sgd', lr: 0.1 } });
    throwsCode(() => saveModel(file, sgd, { optimizer: m.optimizer }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'the optimiser state is "adam"\'s and the compile settings saved with it name "sgd"');
    // The refused saves left the file as it was.
    assert.equal((loadModel(file, { backend: b }).schedule as { count: number }).count, 3);
  });

  it('a layer option this version does not know (a file of a later release) is ERR_BLASNET_FORMAT naming it, not dropped', () => {
    // Each kind in turn: dense, batchNorm, prelu, dropout.
    for (let i = 0; i < 4; i++) {
      const m = new Sequential({ inputSize: 2, seed: 1, layers: [dense(3, { activation: 'relu' }), batchNorm(), prelu(), dropout(0.2), dense(2)] });
      const layer = m.layers[i];
      const own = layer.config.bind(layer);
      layer.config = () => ({ ...own(), weightNorm: true });
      throwsCode(() => decodeModel(encodeModel(m)), 'ERR_BLASNET_FORMAT', undefined, `option "weightNorm", which this version of blasnet does not know`);
    }
    // Compile settings that are not an object: a coded message, not a TypeError's.
    const plain = new Sequential({ inputSize: 2, seed: 1, layers: [dense(2)], loss: 'mse' });
    throwsCode(() => decodeModel(encodeModel(plain, { compile: 3 } as never)), 'ERR_BLASNET_FORMAT', undefined, 'invalid compile settings: expected an object, found number');
    throwsCode(() => decodeModel(encodeModel(plain, { compile: [1] } as never)), 'ERR_BLASNET_FORMAT', undefined, 'found an array');
    // Every key a layer writes reads back.
    const m = new Sequential({ inputSize: 2, seed: 1, layers: [dense(3, { activation: 'leakyRelu', activationParam: 0.2, l1: 0.1, maxNorm: 2, dropConnect: 0.1, name: 'a' }), batchNorm(), prelu({ perUnit: true })] });
    assert.deepEqual(decodeModel(encodeModel(m)).model.layers.map((l) => l.config()), m.layers.map((l) => l.config()));
  });

  it('a truncated file fails with ERR_BLASNET_FORMAT, at every length', () => {
    const bytes = encodeModel(model(b));
    const rng = new Rng(3);
    const cuts = [0, 1, 7, 8, 31, 32, 40, bytes.length - 1, ...Array.from({ length: 30 }, () => rng.int(bytes.length))];
    for (const n of cuts) throwsCode(() => decodeModel(bytes.subarray(0, n), { backend: b }), 'ERR_BLASNET_FORMAT');
  });

  it('a corrupted byte anywhere fails with ERR_BLASNET_FORMAT', () => {
    const bytes = encodeModel(model(b));
    const rng = new Rng(4);
    for (let k = 0; k < 60; k++) {
      const bad = Buffer.from(bytes);
      const i = rng.int(bad.length);
      bad[i] ^= 1 << rng.int(8);
      throwsCode(() => decodeModel(bad, { backend: b }), 'ERR_BLASNET_FORMAT');
    }
  });

  it('an incompatible file fails clearly', () => {
    const bytes = Buffer.from(encodeModel(model(b)));
    bytes.writeUInt32LE(99, 8);
    throwsCode(() => decodeModel(bytes), 'ERR_BLASNET_FORMAT', undefined, 'version 99');
    throwsCode(() => decodeModel(encode({ format: 'something-else' })), 'ERR_BLASNET_FORMAT', undefined, 'not a blasnet model');
    const doc = decode(encodeModel(model(b))) as { model: { layers: { kind: string }[] }; params: Float32Array };
    doc.model.layers[0].kind = 'conv2d';
    throwsCode(() => decodeModel(encode(doc)), 'ERR_BLASNET_FORMAT', undefined, 'conv2d');
    const doc2 = decode(encodeModel(model(b))) as { params: Float32Array };
    doc2.params = doc2.params.subarray(1);
    throwsCode(() => decodeModel(encode(doc2)), 'ERR_BLASNET_FORMAT', undefined, 'parameters');
    throwsCode(() => loadModel(path.join(tmp, 'missing.blasnet')), 'ERR_BLASNET_IO', undefined, 'missing.blasnet');
    fs.writeFileSync(path.join(tmp, 'text.blasnet'), 'hello');
    throwsCode(() => loadModel(path.join(tmp, 'text.blasnet')), 'ERR_BLASNET_FORMAT', undefined, 'magic');
  });

  it('layer names that clash: a file holding them is ERR_BLASNET_FORMAT naming the name; a built model\'s layers cannot be renamed into a clash', () => {
    const doc = decode(encodeModel(model(b))) as { model: { layers: { name: string | null }[] } };
    doc.model.layers[4].name = 'in';
    throwsCode(() => decodeModel(encode(doc), { backend: b }), 'ERR_BLASNET_FORMAT', undefined, 'layers 0 and 4 are both named "in"');
    doc.model.layers[4].name = '2';
    throwsCode(() => decodeModel(encode(doc), { backend: b }), 'ERR_BLASNET_FORMAT', undefined, '"2"');
    const m = model(b);
    throwsCode(() => { m.layers[1].name = 'in'; }, 'ERR_BLASNET_STATE', undefined, 'cannot be renamed "in"');
    const file = path.join(tmp, `renamed-${b.name}.blasnet`);
    saveModel(file, m);
    assert.deepEqual(loadModel(file, { backend: b }).model.parameters().map((v) => v.name), m.parameters().map((v) => v.name));
  });

  it('a scaler returning another width than the model takes is not saved (ERR_BLASNET_SHAPE); a file holding one is ERR_BLASNET_FORMAT', () => {
    const wrong = new Standardizer().fit(new Matrix(new Rng(5).uniformArray(30 * 5, -1, 1), 30, 5));
    const m = model(b);
    // Assigning the field skips setPreprocessing's checks.
    m.preprocessing = wrong;
    const file = path.join(tmp, `wide-${b.name}.blasnet`);
    throwsCode(() => saveModel(file, m), 'ERR_BLASNET_SHAPE', RangeError, 'the Standardizer returns 5 features per row but the model takes 6');
    assert.ok(!fs.existsSync(file));
    throwsCode(() => encodeModel(model(b), { preprocessing: wrong }), 'ERR_BLASNET_SHAPE', RangeError, 'returns 5 features');
    throwsCode(() => encodeModel(model(b), { preprocessing: wrong.toJSON() }), 'ERR_BLASNET_SHAPE', RangeError, 'returns 5 features');
    throwsCode(() => encodeModel(model(b), { preprocessing: { ...wrong.toJSON(), std: [] } }), 'ERR_BLASNET_FORMAT', undefined, 'invalid preprocessing');
    const doc = decode(encodeModel(model(b))) as Record<string, unknown>;
    doc.preprocessing = wrong.toJSON();
    throwsCode(() => decodeModel(encode(doc), { backend: b }), 'ERR_BLASNET_FORMAT', undefined, 'the Standardizer returns 5 features per row but the model takes 6');
  });

  it('a loss param: 0 as saved for a loss that takes none loads; another value (ignored when it was saved) is dropped with a warning', async () => {
    const saved = new Sequential({ inputSize: 6, seed: 1, backend: b, layers: [dense(3)], loss: 'crossEntropy' });
    const doc = decode(encodeModel(saved)) as { model: { loss: { name: string; param: number } } };
    assert.deepEqual(doc.model.loss, { name: 'crossEntropy', param: 0, reduction: 'mean' });
    assert.deepEqual(decodeModel(encode(doc), { backend: b }).model.config().loss, doc.model.loss);
    doc.model.loss.param = 0.1;
    let loaded: Sequential | null = null;
    const warnings = await warningsDuring(() => {
      loaded = decodeModel(encode(doc), { backend: b, source: 'smoothed.blasnet' }).model;
    });
    assert.deepEqual((loaded as Sequential | null)?.config().loss, { name: 'crossEntropy', param: 0, reduction: 'mean' });
    assert.deepEqual(warnings.map((w) => w.code), ['BLASNET_LOSS_PARAM_DROPPED']);
    assert.match(warnings[0].message, /smoothed\.blasnet: .*crossEntropy takes no param.*0\.1/);
    doc.model.loss = { name: 'huber', param: 0.5 };
    assert.equal(decodeModel(encode(doc), { backend: b }).model.lossSpec?.param, 0.5);
  });

  it('saving into a missing directory is an IO error and writes nothing', () => {
    throwsCode(() => saveModel(path.join(tmp, 'no', 'such', 'dir.blasnet'), model(b)), 'ERR_BLASNET_IO');
  });
});

describe('atomic saves', () => {
  it('a process killed while saving never leaves a broken file', async function () {
    this.timeout(60000);
    const file = path.join(tmp, 'atomic.blasnet');
    const big = new Sequential({ inputSize: 512, seed: 1, backend: 'js', layers: [dense(1024), dense(512)] });
    saveModel(file, big);
    const lib = path.resolve(__dirname, '..', 'lib');
    // The child saves different models over the same file as fast as it can until killed.
    const code = `
      const { dense, Sequential } = require(${JSON.stringify(lib)});
      const { saveModel } = require(${JSON.stringify(path.join(lib, 'io', 'model-file'))});
      for (let s = 2; ; s++) saveModel(${JSON.stringify(file)}, new Sequential({ inputSize: 512, seed: s, backend: 'js', layers: [dense(1024), dense(512)] }));
    `;
    const rng = new Rng(9);
    for (let round = 0; round < 5; round++) {
      const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 150 + rng.int(400)));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const loaded = loadModel(file, { backend: 'js' });
      assert.equal(loaded.model.params.length, big.params.length);
    }
    // A killed writer may leave its temporary behind; the next save of the same file removes it.
    saveModel(file, big);
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith('.atomic.blasnet.')), []);
  });
});
