/**
 * Faults during training: divergence is never silent, fitAsync behaves exactly like fit (stop
 * points, errors, async callbacks, aborts), racing calls are refused, and bad input changes
 * nothing. On every backend.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  batchNorm, clipGradNorm, dense, dropout, loadModel, modelCheckpoint, saveModel, Sequential, terminateOnNaN,
} from '../lib';
import type { Backend, Callback, FitOptions } from '../lib';
import { blobs, forEachBackend, throwsCode } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-faults-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** SGD with momentum at lr 1e3 on this data: finite for the first epoch, NaN in the second. */
function exploding(b: Backend): Sequential {
  return new Sequential({ inputSize: 4, seed: 1, backend: b, layers: [dense(16, { activation: 'relu' }), dense(3)] })
    .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 1e3, momentum: 0.9 } });
}

function classifier(b: Backend, seed = 1): Sequential {
  return new Sequential({ inputSize: 4, seed, backend: b, layers: [dense(16, { activation: 'relu' }), batchNorm(), dropout(0.2), dense(3)] })
    .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 }, metrics: ['accuracy'] });
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; cause?: unknown }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

function allFinite(a: Float32Array): boolean {
  return a.every((v) => Number.isFinite(v));
}

forEachBackend('divergence', (b) => {
  const { x, y } = blobs(150, 3);
  const opts: FitOptions = { epochs: 5, batchSize: 30 };

  it('a non-finite loss stops fit and restores the weights of the last finite epoch', () => {
    const m = exploding(b);
    const h = m.fit(x, y, opts);
    assert.ok(h.diverged, 'History.diverged is set');
    assert.equal(h.diverged.epoch, 1);
    assert.equal(h.diverged.restoredEpoch, 1);
    assert.match(h.stopReason as string, /^diverged: the loss was NaN at epoch 2/);
    assert.equal(h.epochs.length, 1, 'the diverged epoch leaves no epoch logs');
    assert.ok(allFinite(m.params));
    // The restored weights are exactly those after one clean epoch.
    const ref = exploding(b);
    ref.fit(x, y, { ...opts, epochs: 1 });
    assert.deepEqual(m.params, ref.params);
    // The optimiser state came back too, all of it: step count, lr, options, momentum buffers.
    assert.deepEqual(m.optimizer?.state(), ref.optimizer?.state());
  });

  it('a step that leaves weights that are not finite, its loss finite, is a divergence too: no snapshot keeps them, fit does not return them', async () => {
    // One step per epoch at lr 1e38: the first loss is finite and its update overflows the weights.
    const overflowing = () => new Sequential({ inputSize: 4, seed: 1, backend: b, layers: [dense(8, { activation: 'relu' }), dense(1)] })
      .compile({ loss: 'mse', optimizer: { name: 'sgd', lr: 1e38 } });
    const rows = y.length;
    const t = new Float32Array(rows).map((_, i) => 100 * (i % 3));
    for (const epochs of [1, 3]) {
      const m = overflowing();
      const start = m.params.slice();
      const h = m.fit(x, t, { epochs, batchSize: rows });
      assert.ok(h.diverged, `epochs ${epochs}: History.diverged is set`);
      assert.equal(h.diverged.epoch, 0);
      assert.equal(h.diverged.restoredEpoch, 0);
      assert.ok(Number.isFinite(h.diverged.loss));
      assert.match(h.stopReason as string, /^diverged: the weights were not finite at the end of epoch 1 \(its losses were\); restored the weights of the start of training/);
      assert.deepEqual(m.params, start);
      assert.equal(h.epochs.length, 0);
      throwsCode(() => overflowing().fit(x, t, { epochs, batchSize: rows, onNonFinite: 'throw' }), 'ERR_BLASNET_DIVERGED', undefined, 'weights were not finite');
      const a = overflowing();
      const ha = await a.fitAsync(x, t, { epochs, batchSize: rows });
      assert.deepEqual(ha.diverged, h.diverged);
      assert.deepEqual(a.params, start);
    }
    // Weights that were not finite when training started (a -Infinity bias on a relu unit) are the caller's: no divergence.
    const dead = new Sequential({ inputSize: 4, seed: 1, backend: b, layers: [dense(8, { activation: 'relu' }), dense(3)] })
      .compile({ loss: 'crossEntropy', optimizer: 'adam' });
    const w = dead.getWeights();
    (w.find((t) => t.name === '0.bias') as { data: Float32Array }).data[0] = -Infinity;
    dead.setWeights(w);
    const hd = dead.fit(x, y, { epochs: 2, batchSize: 30 });
    assert.equal(hd.diverged, null, String(hd.stopReason));
    assert.equal(hd.epochs.length, 2);
    // 'continue' keeps no snapshot, and so checks nothing.
    const c = overflowing();
    assert.equal(c.fit(x, t, { epochs: 1, batchSize: rows, onNonFinite: 'continue' }).diverged, null);
    assert.ok(!allFinite(c.params));
  });

  it("onNonFinite 'throw' restores and throws ERR_BLASNET_DIVERGED; 'continue' keeps the old behaviour", () => {
    const m = exploding(b);
    throwsCode(() => m.fit(x, y, { ...opts, onNonFinite: 'throw' }), 'ERR_BLASNET_DIVERGED', undefined, 'diverged');
    assert.ok(allFinite(m.params));
    const c = exploding(b);
    const h = c.fit(x, y, { ...opts, onNonFinite: 'continue', callbacks: [terminateOnNaN()] });
    assert.equal(h.diverged, null);
    assert.match(h.stopReason as string, /terminateOnNaN/);
    throwsCode(() => exploding(b).fit(x, y, { onNonFinite: 'never' as never }), 'ERR_BLASNET_ARG_RANGE');
  });

  it('fitAsync diverges exactly as fit does', async () => {
    const s = exploding(b), a = exploding(b);
    const hs = s.fit(x, y, opts);
    const ha = await a.fitAsync(x, y, opts);
    assert.deepEqual(ha.diverged, hs.diverged);
    assert.equal(ha.stopReason, hs.stopReason);
    assert.deepEqual(a.params, s.params);
    const t = await rejection(exploding(b).fitAsync(x, y, { ...opts, onNonFinite: 'throw' }));
    assert.equal(t.code, 'ERR_BLASNET_DIVERGED');
  });
});

forEachBackend('fitAsync behaves exactly like fit', (b) => {
  const { x, y } = blobs(300, 5);
  const opts = { epochs: 4, batchSize: 10 };

  it('a batch callback that stops at step 50 stops both after 51 steps with the same weights', async () => {
    // The callback takes a while to decide: a worker that did not wait for it would run ahead.
    const stopAt50: Callback = {
      onBatchEnd: (l, ctx) => {
        if (l.step !== 50) return;
        const until = Date.now() + 30;
        while (Date.now() < until);
        ctx.stop('enough');
      },
    };
    const s = classifier(b), a = classifier(b);
    const hs = s.fit(x, y, { ...opts, callbacks: [stopAt50] });
    const ha = await a.fitAsync(x, y, { ...opts, callbacks: [stopAt50] });
    assert.equal(hs.steps, 51);
    assert.equal(ha.steps, 51);
    assert.equal(ha.stopReason, 'enough');
    assert.deepEqual(a.params, s.params);
    assert.deepEqual(ha.epochs.map((e) => e.loss), hs.epochs.map((e) => e.loss));
  });

  it('a stop in onTrainBegin or onEpochBegin takes effect where it does in fit', async () => {
    for (const cb of [
      { onTrainBegin: (ctx) => ctx.stop('before') },
      { onEpochBegin: (e, ctx) => { if (e === 2) ctx.stop('at epoch 3'); } },
    ] as Callback[]) {
      const s = classifier(b), a = classifier(b);
      const hs = s.fit(x, y, { ...opts, callbacks: [cb] });
      const ha = await a.fitAsync(x, y, { ...opts, callbacks: [cb] });
      assert.equal(ha.steps, hs.steps);
      assert.deepEqual(a.params, s.params);
    }
  });

  it("an error thrown in any callback rejects with the user's own error, weights as fit leaves them", async () => {
    const hooks = ['onTrainBegin', 'onEpochBegin', 'onBatchEnd', 'onEpochEnd', 'onTrainEnd'] as const;
    for (const hook of hooks) {
      const mine = new Error(`boom in ${hook}`);
      const cb = { [hook]: (...args: unknown[]) => {
        const step = hook === 'onBatchEnd' ? (args[0] as { step: number }).step : hook === 'onEpochBegin' || hook === 'onEpochEnd' ? 2 : 0;
        if (hook !== 'onBatchEnd' || step === 17) throw mine;
      } } as Callback;
      const s = classifier(b), a = classifier(b);
      assert.throws(() => s.fit(x, y, { ...opts, callbacks: [cb] }), (e) => e === mine);
      const e = await rejection(a.fitAsync(x, y, { ...opts, callbacks: [cb] }));
      assert.equal(e, mine, `${hook}: the same error object`);
      assert.equal(a.isTraining, false);
      assert.deepEqual(a.params, s.params, `${hook}: weights as fit leaves them`);
    }
  });

  it('awaits async callbacks: the worker waits, and a rejection rejects fitAsync', async () => {
    const seen: Float32Array[] = [];
    const slow: Callback = {
      async onEpochEnd(_l, ctx) {
        await new Promise((r) => setTimeout(r, 15));
        seen.push(ctx.model.params.slice());
      },
    };
    const s = classifier(b), a = classifier(b);
    const expected: Float32Array[] = [];
    s.fit(x, y, { ...opts, callbacks: [{ onEpochEnd: (_l, ctx) => { expected.push(ctx.model.params.slice()); } }] });
    await a.fitAsync(x, y, { ...opts, callbacks: [slow] });
    assert.deepEqual(seen, expected, 'each epoch end saw the weights of that epoch end');

    let unhandled = 0;
    const onUnhandled = () => unhandled++;
    process.on('unhandledRejection', onUnhandled);
    try {
      const mine = new Error('async failure');
      const e = await rejection(classifier(b).fitAsync(x, y, { ...opts, callbacks: [{ onEpochEnd: async () => { throw mine; } }] }));
      assert.equal(e, mine);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(unhandled, 0);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('fit refuses a callback that returns a Promise (it cannot await it); one declared async, before any step', () => {
    throwsCode(() => classifier(b).fit(x, y, { ...opts, callbacks: [{ onEpochEnd: async () => undefined }] }), 'ERR_BLASNET_STATE', undefined, 'fitAsync');
    const m = classifier(b);
    const before = m.params.slice();
    throwsCode(() => m.fit(x, y, { ...opts, callbacks: [{}, { onBatchEnd: async () => undefined }] }), 'ERR_BLASNET_STATE', undefined,
      'callbacks[1].onBatchEnd is an async function');
    assert.deepEqual(m.params, before);
    assert.equal(m.optimizer?.stepCount, 0);
    // A plain function that returns a Promise is known only once called.
    throwsCode(() => m.fit(x, y, { ...opts, callbacks: [{ onBatchEnd: () => Promise.resolve() }] }), 'ERR_BLASNET_STATE', undefined, 'returned a Promise');
  });

  it('an abort rejects with code ERR_BLASNET_ABORTED and the signal reason as cause', async () => {
    const ac = new AbortController();
    const reason = new Error('user gave up');
    const p = classifier(b).fitAsync(x, y, { epochs: 1000, batchSize: 10, signal: ac.signal, onProgress: (e) => { if (e.type === 'batch' && e.logs.step === 3) ac.abort(reason); } });
    const e = await rejection(p);
    assert.equal(e.name, 'AbortError');
    assert.equal(e.code, 'ERR_BLASNET_ABORTED');
    assert.equal(e.cause, reason);
  });
});

forEachBackend('racing calls during fitAsync', (b) => {
  const { x, y } = blobs(300, 6);

  it('optimizer.step, clipping, lossValue in training mode, reseed and saveModel are refused', async () => {
    const m = classifier(b);
    const file = path.join(tmp, `race-${b.name}.blasnet`);
    saveModel(file, m);
    const before = fs.readFileSync(file);
    const running = m.fitAsync(x, y, { epochs: 3, batchSize: 10 });
    throwsCode(() => m.optimizer?.step(), 'ERR_BLASNET_BUSY');
    throwsCode(() => clipGradNorm(m, 1), 'ERR_BLASNET_BUSY');
    throwsCode(() => m.lossValue(x, y, { training: true }), 'ERR_BLASNET_BUSY');
    throwsCode(() => m.reseed(3), 'ERR_BLASNET_BUSY');
    throwsCode(() => saveModel(file, m), 'ERR_BLASNET_BUSY', undefined, 'callback');
    assert.deepEqual(fs.readFileSync(file), before, 'the refused save wrote nothing');
    assert.ok(Number.isFinite(m.lossValue(x, y)), 'an inference-mode loss is fine');
    await running;
  });

  it('saving from a callback sees a consistent model (the worker waits)', async () => {
    const s = classifier(b), a = classifier(b);
    const file = path.join(tmp, `cb-${b.name}-{epoch}.blasnet`);
    s.fit(x, y, { epochs: 2, batchSize: 10 });
    await a.fitAsync(x, y, { epochs: 2, batchSize: 10, callbacks: [modelCheckpoint(file)] });
    assert.deepEqual(loadModel(file.replace('{epoch}', '2'), { backend: b }).model.params, s.params);
  });
});

forEachBackend('bad input changes nothing', (b) => {
  const { x, y } = blobs(60, 7);

  it('fit options must be an object; callbacks an array of hook objects', () => {
    const m = classifier(b);
    const before = m.params.slice();
    throwsCode(() => m.fit(x, y, 5 as never), 'ERR_BLASNET_ARG_TYPE', TypeError);
    throwsCode(() => m.fit(x, y, null as never), 'ERR_BLASNET_ARG_TYPE', TypeError);
    throwsCode(() => m.fit(x, y, { callbacks: {} as never }), 'ERR_BLASNET_ARG_TYPE', TypeError);
    throwsCode(() => m.fit(x, y, { callbacks: [null] as never }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'callbacks[0]');
    throwsCode(() => m.fit(x, y, { callbacks: [{ onEpochEnd: 5 }] as never }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'onEpochEnd');
    assert.deepEqual(m.params, before);
    return Promise.all([5, null, { callbacks: {} }].map(async (o) => {
      const e = await rejection(m.fitAsync(x, y, o as never));
      assert.equal(e.code, 'ERR_BLASNET_ARG_TYPE');
    }));
  });

  it('bad targets are refused before the forward pass moves running statistics', () => {
    const hinge = new Sequential({ inputSize: 4, backend: b, layers: [dense(8), batchNorm(), dense(3)], loss: 'hinge' });
    const stats = () => hinge.buffers().map((v) => v.data.slice());
    const before = stats();
    const targets = new Float32Array(60 * 3).fill(1);
    targets[7] = 0.5;
    throwsCode(() => hinge.lossAndGradient(x, targets), 'ERR_BLASNET_TARGET');
    throwsCode(() => hinge.lossValue(x, targets, { training: true }), 'ERR_BLASNET_TARGET');
    assert.deepEqual(stats(), before);
    const ce = classifier(b);
    const bn = () => ce.buffers().map((v) => v.data.slice());
    const bnBefore = bn();
    throwsCode(() => ce.lossAndGradient(x, y.map((v) => (v === 2 ? 3 : v))), 'ERR_BLASNET_LABEL');
    throwsCode(() => ce.lossAndGradient(x, new Float32Array(y.length * 3), { loss: { name: 'huber', param: -1 } }), 'ERR_BLASNET_ARG_RANGE');
    assert.deepEqual(bn(), bnBefore);
  });
});
