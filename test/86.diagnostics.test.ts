/**
 * diagnosticsLogger: histograms of activations and gradients at the start and end of training and
 * the update-to-weight ratio over training, and their pictures; on every backend.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dense, diagnosticsLogger, diagnosticsSpec, histogram, Rng, Sequential, writeDiagnostics } from '../lib';
import { forEachBackend, throwsCode } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-diag-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('histogram', () => {
  it('counts every finite value once in equal bins over the range', () => {
    const h = histogram([0, 1, 2, 3, 4, NaN], 6, 4);
    assert.deepEqual(h.edges, [0, 1, 2, 3, 4]);
    assert.deepEqual(h.counts, [1, 1, 1, 2]);
    assert.deepEqual(histogram([2, 2], 2, 2).counts, [0, 2]);
  });
});

forEachBackend('diagnosticsLogger', (b) => {
  const rng = new Rng(21);
  const n = 200;
  const x = Float32Array.from({ length: n * 6 }, () => rng.normal());
  const y = Int32Array.from({ length: n }, (_, i) => i % 3);

  it('records ratios every `every` steps equal to ||W_t - W_(t-1)|| / ||W_(t-1)||, and histograms at start and end', async () => {
    const m = new Sequential({ inputSize: 6, seed: 1, backend: b, layers: [dense(10, { activation: 'tanh' }), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } });
    const log = diagnosticsLogger({ every: 4, bins: 8 });
    const before = new Map<number, Float32Array>();
    const after = new Map<number, Float32Array>();
    const spy = { onBatchEnd: (l: { step: number }, ctx: { model: Sequential }) => { after.set(l.step + 1, ctx.model.params.slice()); before.set(l.step + 2, ctx.model.params.slice()); } };
    m.fit(x, y, { epochs: 2, batchSize: 20, callbacks: [log, spy] });
    const steps = [...new Set(log.data.ratios.map((r) => r.step))];
    assert.deepEqual(steps, [4, 8, 12, 16, 20]);
    const r = log.data.ratios.find((v) => v.step === 8 && v.layer.startsWith('0 ')) as { ratio: number };
    const w0 = before.get(8) as Float32Array, w1 = after.get(8) as Float32Array;
    let u = 0, p = 0;
    for (let k = 0; k < 70; k++) {
      u += (w1[k] - w0[k]) ** 2;
      p += w0[k] ** 2;
    }
    assert.ok(Math.abs(r.ratio - Math.sqrt(u / p)) < 1e-6 * r.ratio);
    assert.equal(log.data.histograms.length, 2);
    const [start, end] = log.data.histograms;
    assert.equal(start.step, 1);
    assert.equal(end.step, 20);
    assert.equal(start.activations['0 dense tanh'].counts.reduce((s, c) => s + c, 0), 20 * 10);
    assert.equal(start.gradients['1 dense'].counts.reduce((s, c) => s + c, 0), 33);
    const files = await writeDiagnostics(log.data, path.join(tmp, `diag-${b.name}`));
    assert.match(fs.readFileSync(files.svg, 'utf8'), /^<svg[\s\S]*Update-to-weight ratio/);
    assert.ok(fs.statSync(files.png).size > 5000);
  });

  it('under fitAsync records gradients and ratios (the forward passes run in the worker)', async () => {
    const m = new Sequential({ inputSize: 6, seed: 1, backend: b, layers: [dense(10, { activation: 'relu' }), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } });
    const log = diagnosticsLogger({ every: 5 });
    await m.fitAsync(x, y, { epochs: 1, batchSize: 20, callbacks: [log] });
    assert.equal(log.data.ratios.length, 2 * 2);
    assert.deepEqual(log.data.histograms[0].activations, {});
    assert.ok(Object.keys(log.data.histograms[0].gradients).length === 2);
    // With probe rows, the activations are those rows' through the model in inference mode, at the same points.
    const probe = x.subarray(0, 30 * 6);
    const probed = diagnosticsLogger({ every: 5, probe });
    const fresh = new Sequential({ inputSize: 6, seed: 1, backend: b, layers: [dense(10, { activation: 'relu' }), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } });
    await fresh.fitAsync(x, y, { epochs: 1, batchSize: 20, callbacks: [probed] });
    const last = probed.data.histograms[probed.data.histograms.length - 1];
    assert.equal(Object.keys(last.activations).length, 2);
    fresh.forward(probe, { training: false });
    const out = fresh.layerOutput(1);
    assert.equal(Object.values(last.activations)[1].counts.reduce((a, c) => a + c, 0), out.length);
  });

  it('bad options and empty data are coded errors', () => {
    throwsCode(() => diagnosticsLogger({ every: 0 }), 'ERR_BLASNET_ARG_RANGE');
    throwsCode(() => diagnosticsSpec({ ratios: [], histograms: [] }), 'ERR_BLASNET_STATE');
  });
});
