/**
 * fitAsync: training in a worker thread, in place, without blocking the event loop.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { batchNorm, compileInference, Dataset, dense, dropout, earlyStopping, encodeOnnx, encodeSafetensors, loadModel, Matrix, modelCheckpoint, reduceLrOnPlateau, Rng, saveModel, saveSafetensors, Sequential, updateBatchNorm } from '../lib';
import type { Backend, Callback, FitOptions, LoadedModel, Optimizer, TrainContext } from '../lib';
import { Identity } from './fixtures/own-layer';
import { forEachBackend, rejectsCode, throwsCode } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-async-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function data(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rng = new Rng(seed);
  const x = new Float32Array(n * 8), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 4;
    for (let j = 0; j < 8; j++) x[i * 8 + j] = (j === 2 * y[i] ? 2 : 0) + rng.normal();
  }
  return { x, y };
}

function make(b: Backend, seed = 1): Sequential {
  return new Sequential({ inputSize: 8, seed, backend: b, layers: [dense(32, { activation: 'relu' }), batchNorm(), dropout(0.2), dense(4)] })
    .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 3e-3 }, metrics: ['accuracy'] });
}

/**
 * Asserts that a (trained by fitAsync) and s (by fit) hold the same weights, running statistics,
 * optimiser state and dropout stream, and that one more epoch of fit keeps them equal: the
 * optimiser state belongs to the weights it ended with.
 */
function sameTrainingState(a: Sequential, s: Sequential, x: Float32Array, y: Int32Array, what: string): void {
  assert.deepEqual(a.params, s.params, `${what}: weights`);
  assert.deepEqual(a.buffers().map((v) => v.data), s.buffers().map((v) => v.data), `${what}: running statistics`);
  // The moments compared apart: a diff of two long base64 strings says nothing.
  const [fromAsync, fromFit] = [a, s].map((m) => m.optimizer?.state());
  assert.deepEqual({ ...fromAsync, arena: null }, { ...fromFit, arena: null }, `${what}: optimiser state`);
  assert.ok(fromAsync?.arena === fromFit?.arena, `${what}: optimiser moments`);
  assert.deepEqual(a.maskState(), s.maskState(), `${what}: dropout stream`);
  a.fit(x, y, { epochs: 1, batchSize: 50 });
  s.fit(x, y, { epochs: 1, batchSize: 50 });
  assert.deepEqual(a.params, s.params, `${what}: weights after one more epoch`);
}

/** What fit throws, or null. */
function thrownBy(f: () => unknown): (Error & { code?: string }) | null {
  try {
    f();
    return null;
  } catch (e) {
    return e as Error & { code?: string };
  }
}


forEachBackend('fitAsync', (b) => {
  const { x, y } = data(600, 1);
  // Steps per epoch of the tests below: 600 rows in batches of 50.
  const perEpoch = 12;

  it('reaches the same weights, running statistics and history as fit for the same seed', async () => {
    const s = make(b), a = make(b);
    const hs = s.fit(x, y, { epochs: 3, batchSize: 50 });
    const ha = await a.fitAsync(x, y, { epochs: 3, batchSize: 50 });
    assert.deepEqual(a.params, s.params);
    assert.deepEqual(a.buffers().map((v) => v.data), s.buffers().map((v) => v.data));
    assert.deepEqual(ha.epochs.map((e) => e.loss), hs.epochs.map((e) => e.loss));
    assert.equal(a.optimizer?.stepCount, s.optimizer?.stepCount);
    // Training continues identically afterwards: optimiser state and dropout masks came back.
    s.fit(x, y, { epochs: 1, batchSize: 50 });
    a.fit(x, y, { epochs: 1, batchSize: 50 });
    assert.deepEqual(a.params, s.params);
  });

  it('keeps its worker for the next call: other models train exactly as fit, and an idle worker never holds the process', () => {
    // A child process counts the workers fitAsync starts (a spy on the constructor) and must
    // exit by itself with the idle worker still kept.
    const lib = path.join(__dirname, '..', 'lib');
    const script = `
      const wt = require('worker_threads');
      let started = 0;
      const Real = wt.Worker;
      wt.Worker = class extends Real { constructor(...a) { super(...a); started++; } };
      const bn = require(${JSON.stringify(lib)});
      const b = bn.getBackend(${JSON.stringify(b.name)});
      const rng = new bn.Rng(3);
      const x = new Float32Array(300 * 6).map(() => rng.normal());
      const y = new Int32Array(300).map((_, i) => (x[i * 6] > 0 ? 1 : 0));
      const make = (w, seed) => new bn.Sequential({ inputSize: 6, seed, backend: b, layers: [bn.dense(w, { activation: 'tanh' }), bn.dropout(0.1), bn.dense(2)] })
        .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-2 } });
      (async () => {
        for (const [w, seed] of [[16, 1], [7, 2], [16, 1]]) {
          const s = make(w, seed), a = make(w, seed);
          s.fit(x, y, { epochs: 2, batchSize: 32 });
          await a.fitAsync(x, y, { epochs: 2, batchSize: 32 });
          if (a.params.some((v, i) => v !== s.params[i])) throw new Error('fitAsync differs from fit for width ' + w);
        }
        console.log('workers started ' + started);
      })().catch((e) => { console.error(e); process.exitCode = 1; });
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, `status ${r.status} signal ${r.signal}: ${r.stderr}`);
    assert.match(r.stdout, /^workers started 1$/m);
  });

  /**
   * The start of a child script for the memory tests: the library as bn, a 256-4 model m, `rows`
   * labels y, and buffers(), the process's array buffer bytes after two collections. The
   * collector is this thread's, made once the training worker runs, so that the worker finds no
   * --expose-gc of the process's and takes its own (the way a user's process runs it).
   */
  const memoryPrelude = (rows: number) => `
      const bn = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});
      const m = new bn.Sequential({ inputSize: 256, seed: 1, backend: ${JSON.stringify(b.name)}, layers: [bn.dense(4)] })
        .compile({ loss: 'crossEntropy', optimizer: 'adam' });
      const rows = ${rows}, y = new Int32Array(rows).map((_, i) => i % 4);
      let gc = null;
      const buffers = () => {
        if (!gc) { require('v8').setFlagsFromString('--expose-gc'); gc = require('vm').runInNewContext('gc'); }
        gc(); gc();
        return process.memoryUsage().arrayBuffers;
      };`;

  it("frees each call's data once it ends, though the worker is kept: retraining on fresh data does not grow memory", () => {
    const script = `
      ${memoryPrelude(20000)}
      (async () => {
        const seen = [];
        for (let i = 0; i < 6; i++) {
          // Fresh data every call (20 MB), as plain arrays (copied to shared memory) and as a Dataset.
          const x = new Float32Array(rows * 256).fill(i);
          await m.fitAsync(x, y, { epochs: 1, batchSize: 256, maxSteps: 2 });
          await m.fitAsync(bn.Dataset.from(new bn.Matrix(x, rows, 256), y), { epochs: 1, batchSize: 256, maxSteps: 2 });
          await new Promise((r) => setTimeout(r, 50));
          seen.push(buffers());
        }
        console.log(JSON.stringify(seen));
      })();
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    const seen = JSON.parse(r.stdout) as number[];
    // Each call holds at most its own 20 MB copy; kept, six calls of two copies each would hold 240 MB.
    assert.ok(seen[5] - seen[0] < 30e6, `array buffers after each retrain (bytes): ${seen.join(', ')}`);
  });

  it("small calls' data is freed once the kept worker has waited a while, not after each call", () => {
    const script = `
      ${memoryPrelude(1000)}
      (async () => {
        await m.fitAsync(new Float32Array(rows * 256), y, { epochs: 1, batchSize: 256, maxSteps: 1 });
        await new Promise((r) => setTimeout(r, 1500));
        const base = buffers();
        // Ten calls of 1 MB each, back to back: fewer bytes than a collection right after a call takes.
        for (let i = 0; i < 10; i++) await m.fitAsync(new Float32Array(rows * 256).fill(i), y, { epochs: 1, batchSize: 256, maxSteps: 1 });
        const busy = buffers();
        await new Promise((r) => setTimeout(r, 1500));
        console.log(JSON.stringify({ base, busy, idle: buffers() }));
      })();
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    const { base, busy, idle } = JSON.parse(r.stdout) as { base: number; busy: number; idle: number };
    // Right after the burst the worker still holds some of the calls' copies; after its wait, none.
    assert.ok(busy - base > 2e6, `array buffers: ${base} before, ${busy} right after ten calls of 1 MB`);
    assert.ok(idle - base < 1e6, `array buffers: ${base} before, ${idle} after the worker waited`);
  });

  it("warns once, through the application's 'warning' listeners, never raw from its worker", () => {
    const lib = path.join(__dirname, '..', 'lib');
    const script = `
      const bn = require(${JSON.stringify(lib)});
      process.removeAllListeners('warning');
      const seen = [];
      process.on('warning', (w) => seen.push(w.code));
      const m = new bn.Sequential({ inputSize: 2, seed: 1, backend: ${JSON.stringify(b.name)}, layers: [bn.dense(2)] })
        .compile({ loss: 'crossEntropy', optimizer: { name: 'adadelta', lr: 0.5 } });
      m.fitAsync(new Float32Array(40), new Int32Array(20), { epochs: 2, schedule: { name: 'exponential', gamma: 1.5 } })
        .then(() => new Promise((r) => setTimeout(r, 200)))
        .then(() => console.log(JSON.stringify(seen)));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), ['BLASNET_ADADELTA_LR', 'BLASNET_EXPONENTIAL_GROWTH']);
    assert.equal(r.stderr, '');
  });

  it('updateBatchNorm during fitAsync is refused before it writes: the running statistics are those of fit', async () => {
    const bn = () => new Sequential({ inputSize: 8, seed: 4, backend: b, layers: [dense(6), batchNorm(), dense(4)] })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.05 } });
    const s = bn(), a = bn();
    s.fit(x, y, { epochs: 2, batchSize: 20 });
    const running = a.fitAsync(x, y, { epochs: 2, batchSize: 20 });
    let refused = 0;
    while (a.isTraining) {
      throwsCode(() => updateBatchNorm(a, x), 'ERR_BLASNET_BUSY', undefined, 'updateBatchNorm');
      refused++;
      await new Promise((r) => setImmediate(r));
    }
    await running;
    assert.ok(refused > 0);
    assert.deepEqual(a.buffers().map((v) => Array.from(v.data)), s.buffers().map((v) => Array.from(v.data)));
  });

  it('reports progress and runs callbacks on this thread; a callback can stop it', async () => {
    const m = make(b);
    let batches = 0, epochs = 0;
    const file = path.join(tmp, `async-${b.name}.blasnet`);
    const h = await m.fitAsync(x, y, {
      epochs: 20, batchSize: 100, validationData: { x, y },
      onProgress: (e) => (e.type === 'batch' ? batches++ : epochs++),
      callbacks: [
        { onEpochEnd: (l) => { (l as Record<string, number>).fake = l.epoch < 1 ? -l.epoch : 1; } },
        earlyStopping({ monitor: 'fake', patience: 2 }),
        modelCheckpoint(file),
      ],
    });
    assert.equal(h.epochs.length, 3);
    assert.match(h.stopReason as string, /earlyStopping/);
    assert.equal(epochs, 3);
    assert.equal(batches, 3 * 6);
    const saved = loadModel(file, { backend: b });
    assert.equal(saved.metadata?.epoch, 3);
    assert.deepEqual(saved.model.params, m.params, 'the checkpoint of the last epoch holds the final weights');
  });

  it('is busy while training: racing calls fail with ERR_BLASNET_BUSY, predict works', async () => {
    const m = make(b);
    const running = m.fitAsync(x, y, { epochs: 2, batchSize: 20 });
    assert.equal(m.isTraining, true);
    throwsCode(() => m.fit(x, y), 'ERR_BLASNET_BUSY');
    throwsCode(() => m.lossAndGradient(x, y), 'ERR_BLASNET_BUSY');
    throwsCode(() => m.setWeights(m.getWeights()), 'ERR_BLASNET_BUSY');
    // Copies of tensors the worker is stepping would mix steps.
    throwsCode(() => m.getWeights(), 'ERR_BLASNET_BUSY', undefined, 'getWeights: the model is training in the background');
    throwsCode(() => m.compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: 0.1 } }), 'ERR_BLASNET_BUSY');
    throwsCode(() => m.forward(x, { training: true }), 'ERR_BLASNET_BUSY');
    // The worker's lr, momentum and optimiser state: a value set between callbacks would never
    // reach it and be replaced at the next one.
    const opt = m.optimizer as Optimizer;
    const lr = opt.lr;
    throwsCode(() => { opt.lr = 0; }, 'ERR_BLASNET_BUSY', undefined, 'adam.lr: the model is training in the background (fitAsync)');
    throwsCode(() => { opt.momentum = 0.5; }, 'ERR_BLASNET_BUSY');
    throwsCode(() => opt.load(opt.state()), 'ERR_BLASNET_BUSY');
    throwsCode(() => opt.zeroState(), 'ERR_BLASNET_BUSY');
    assert.equal(opt.lr, lr);
    await rejectsCode(m.fitAsync(x, y), 'ERR_BLASNET_BUSY');
    assert.equal(m.predict(x.subarray(0, 80)).rows, 10);
    await running;
    assert.equal(m.isTraining, false);
    m.fit(x, y, { epochs: 1 });
    // On a Dataset the call reaches its worker without waiting for a copy: busy all the same.
    const d = make(b);
    const onData = d.fitAsync(Dataset.from(new Matrix(x, x.length / 8, 8), y), { epochs: 1, batchSize: 20 });
    throwsCode(() => d.setWeights(d.getWeights()), 'ERR_BLASNET_BUSY');
    throwsCode(() => saveModel(path.join(tmp, `busy-${b.name}.blasnet`), d), 'ERR_BLASNET_BUSY');
    // Exports and frozen copies too: the weights are consistent only while the worker waits.
    throwsCode(() => encodeOnnx(d), 'ERR_BLASNET_BUSY', undefined, 'encodeOnnx');
    throwsCode(() => encodeSafetensors(d), 'ERR_BLASNET_BUSY', undefined, 'encodeSafetensors');
    throwsCode(() => saveSafetensors(d, path.join(tmp, `busy-${b.name}.safetensors`)), 'ERR_BLASNET_BUSY');
    await onData;
    const plain = () => new Sequential({ inputSize: 8, seed: 2, backend: b, layers: [dense(6, { activation: 'relu' }), dense(4)] })
      .compile({ loss: 'crossEntropy', optimizer: 'adam' });
    const f = plain();
    const frozenOnes = f.fitAsync(x, y, { epochs: 1, batchSize: 20 });
    throwsCode(() => compileInference(f, { freeze: true }), 'ERR_BLASNET_BUSY', undefined, 'compileInference (freeze)');
    assert.equal(compileInference(f)(x.subarray(0, 16)).length, 8, 'a live function reads the weights as predict does');
    await frozenOnes;
    // From a callback, where the worker waits, all of them work.
    const c = plain();
    let exported = 0;
    await c.fitAsync(x, y, { epochs: 1, batchSize: 20, callbacks: [{ onEpochEnd: () => {
      exported = encodeOnnx(c).length + encodeSafetensors(c).length + compileInference(c, { freeze: true })(x.subarray(0, 16)).length;
    } }] });
    assert.ok(exported > 0);
  });

  it("train(), eval() and setting training are ERR_BLASNET_BUSY while it runs, from its callbacks too; evaluate and predict there leave the training as fit's", async () => {
    const held = data(100, 2);
    for (const mode of [true, false]) {
      const s = make(b), a = make(b);
      if (mode) a.train();
      s.fit(x, y, { epochs: 2, batchSize: 50 });
      const refused: string[] = [];
      const attempt = (hook: string) => {
        for (const [where, f] of Object.entries({ train: () => a.train(), eval: () => a.eval(), training: () => { a.training = !mode; } })) {
          throwsCode(f, 'ERR_BLASNET_BUSY', undefined, `${where}: fitAsync sets the model's mode itself`);
          refused.push(`${hook}.${where}`);
        }
        assert.ok(Number.isFinite(a.evaluate(held.x, held.y).loss));
        assert.equal(a.predict(held.x).rows, 100);
        assert.equal(a.predict(held.x, { mcSamples: 2 }).mean.rows, 100);
      };
      const running = a.fitAsync(x, y, { epochs: 2, batchSize: 50, callbacks: [{ onBatchEnd: () => attempt('batch'), onEpochEnd: () => attempt('epoch') }] });
      throwsCode(() => a.eval(), 'ERR_BLASNET_BUSY', undefined, "eval: fitAsync sets the model's mode itself");
      await running;
      assert.equal(refused.length, 3 * 2 * (perEpoch + 1));
      assert.equal(a.training, mode, `fitAsync called in ${mode ? 'training' : 'inference'} mode leaves it so`);
      a.eval();
      sameTrainingState(a, s, x, y, 'with evaluate and predict in the callbacks');
    }
  });

  it('stops between batches on abort and rejects with the signal reason', async () => {
    const m = make(b);
    const before = m.params.slice();
    const ac = new AbortController();
    let batches = 0;
    const p = m.fitAsync(x, y, {
      epochs: 1000, batchSize: 10, signal: ac.signal,
      onProgress: (e) => { if (e.type === 'batch' && ++batches === 5) ac.abort(); },
    });
    await assert.rejects(p, (e: Error) => e.name === 'AbortError');
    assert.equal(m.isTraining, false);
    assert.notDeepEqual(m.params, before, 'the batches trained before the abort are kept');
    assert.equal(m.optimizer?.stepCount, batches, 'the optimiser state is that of the weights kept');
    const done = new AbortController();
    done.abort();
    await assert.rejects(m.fitAsync(x, y, { signal: done.signal }), (e: Error) => e.name === 'AbortError');
  });

  it('an abort while onTrainBegin runs rejects before any step, the model as the call found it', async () => {
    const m = make(b);
    const before = m.params.slice();
    const lr = m.optimizer?.lr;
    const ac = new AbortController();
    let batches = 0;
    const p = m.fitAsync(x, y, {
      epochs: 1000, batchSize: 10, signal: ac.signal, schedule: { name: 'exponential', gamma: 0.5 },
      onProgress: (e) => { if (e.type === 'batch') batches++; },
      callbacks: [{ onTrainBegin: () => new Promise<void>((r) => setTimeout(() => { ac.abort(); r(); }, 5)) }],
    });
    await assert.rejects(p, (e: Error) => e.name === 'AbortError');
    assert.equal(batches, 0);
    assert.deepEqual(m.params, before);
    assert.equal(m.optimizer?.stepCount, 0);
    assert.equal(m.optimizer?.lr, lr);
    assert.equal(m.isTraining, false);
  });

  it('two models train at once', async () => {
    const [a, c] = [make(b, 1), make(b, 2)];
    const [s1, s2] = [make(b, 1), make(b, 2)];
    await Promise.all([a.fitAsync(x, y, { epochs: 2 }), c.fitAsync(x, y, { epochs: 2 })]);
    s1.fit(x, y, { epochs: 2 });
    s2.fit(x, y, { epochs: 2 });
    assert.deepEqual(a.params, s1.params);
    assert.deepEqual(c.params, s2.params);
  });

  it('after a callback throws, leaves the optimiser state and dropout stream of its weights, as fit does', async () => {
    // The call of each hook that throws: all in the second epoch, with a schedule in play.
    const at = { onEpochBegin: 2, onBatchEnd: 16, onEpochEnd: 2 } as const;
    for (const hook of Object.keys(at) as (keyof typeof at)[]) {
      const throwing = (): Callback => {
        let calls = 0;
        return {
          [hook]: () => {
            if (++calls === at[hook]) throw new Error(`boom in ${hook}`);
          },
        };
      };
      const options = (): FitOptions => ({ epochs: 3, batchSize: 50, schedule: { name: 'step', stepSize: 1, gamma: 0.5 }, callbacks: [throwing()] });
      const s = make(b), a = make(b);
      assert.equal(thrownBy(() => s.fit(x, y, options()))?.message, `boom in ${hook}`);
      await assert.rejects(a.fitAsync(x, y, options()), { message: `boom in ${hook}` });
      assert.ok((s.optimizer?.stepCount ?? 0) > 0);
      sameTrainingState(a, s, x, y, hook);
    }
  });

  it('after onProgress throws, rejects with its error and leaves the optimiser state of the weights trained', async () => {
    // With and without a handshake the worker waits at.
    for (const callbacks of [[], [{ onEpochEnd: () => undefined }]]) {
      const a = make(b);
      let batches = 0;
      const onProgress = () => {
        if (++batches === 3) throw new Error('boom in onProgress');
      };
      await assert.rejects(a.fitAsync(x, y, { epochs: 50, batchSize: 50, callbacks, onProgress }), { message: 'boom in onProgress' });
      const steps = a.optimizer?.stepCount ?? 0;
      assert.ok(steps >= 3, `${steps} steps`);
      const s = make(b);
      s.fit(x, y, { epochs: 50, batchSize: 50, maxSteps: steps });
      sameTrainingState(a, s, x, y, `onProgress, ${callbacks.length} callbacks`);
    }
  });

  it("with onNonFinite 'throw', restores the optimiser state with the weights, as fit does", async () => {
    // From the third epoch on the lr is 3e27: the loss becomes NaN and epoch 2's state comes back.
    const options: FitOptions = { epochs: 5, batchSize: 50, onNonFinite: 'throw', schedule: { name: 'multiStep', milestones: [2], gamma: 1e30 } };
    const s = make(b), a = make(b);
    assert.equal(thrownBy(() => s.fit(x, y, options))?.code, 'ERR_BLASNET_DIVERGED');
    // Errors raised in the worker name the call that was made.
    await rejectsCode(a.fitAsync(x, y, options), 'ERR_BLASNET_DIVERGED', 'fitAsync: diverged: ');
    assert.equal(s.optimizer?.stepCount, 2 * perEpoch);
    for (const m of [a, s]) (m.optimizer as NonNullable<typeof m.optimizer>).lr = 1e-3;
    sameTrainingState(a, s, x, y, 'diverged');
  });

  it('follows learning rates set by reduceLrOnPlateau, as fit does', async () => {
    // threshold 10 ('rel'): no epoch counts as an improvement, so the lr halves after each.
    const options = (): FitOptions => ({ epochs: 4, batchSize: 50, callbacks: [reduceLrOnPlateau({ monitor: 'loss', patience: 0, factor: 0.5, threshold: 10 })] });
    const s = make(b), a = make(b);
    const hs = s.fit(x, y, options());
    const ha = await a.fitAsync(x, y, options());
    assert.ok(hs.stepLr[hs.steps - 1] < 3e-3 / 4, 'the lr falls');
    assert.deepEqual(ha.stepLr, hs.stepLr);
    assert.deepEqual(ha.epochs.map((e) => e.lr), hs.epochs.map((e) => e.lr));
    sameTrainingState(a, s, x, y, 'reduceLrOnPlateau');
  });

  it('takes the lr and momentum a callback sets before the next step, at every hook, as fit does', async () => {
    const setters: Record<string, () => Callback> = {
      'every hook': () => ({
        onEpochBegin(epoch, ctx) {
          ctx.optimizer.lr = 1e-3 * (epoch + 1);
        },
        onBatchEnd(logs, ctx) {
          if (logs.batch === 3) ctx.optimizer.lr /= 2;
          if (logs.batch === 7) ctx.optimizer.momentum = 0.8;
        },
        onEpochEnd(logs, ctx) {
          ctx.optimizer.momentum = 0.85;
          ctx.optimizer.lr *= 3;
        },
      }),
      'onEpochEnd only, lr 0': () => ({
        onEpochEnd(logs, ctx) {
          ctx.optimizer.lr = 0;
        },
      }),
    };
    for (const [what, setter] of Object.entries(setters)) {
      const options = (): FitOptions => ({ epochs: 3, batchSize: 50, callbacks: [setter()] });
      const s = make(b), a = make(b);
      const hs = s.fit(x, y, options());
      const ha = await a.fitAsync(x, y, options());
      assert.notDeepEqual(Array.from(new Set(hs.stepLr)), [3e-3], `${what}: the callback changes the lr`);
      assert.deepEqual(ha.stepLr, hs.stepLr, `${what}: lr of every step`);
      sameTrainingState(a, s, x, y, what);
    }
  });

  it('takes the lr and momentum onTrainBegin sets with a schedule attached, and shows it the schedule\'s first lr, as fit does', async () => {
    const cases: Record<string, Pick<FitOptions, 'schedule' | 'scheduleEvery'>> = {
      'step every epoch': { schedule: { name: 'step', stepSize: 1, gamma: 0.5 } },
      'oneCycle every step': { scheduleEvery: 'step', schedule: { name: 'oneCycle', maxLr: 1e-2, totalSteps: 3 * perEpoch } },
    };
    for (const [what, schedule] of Object.entries(cases)) {
      const options = (seen: number[][]): FitOptions => ({
        epochs: 3, batchSize: 50, ...schedule,
        callbacks: [{
          onTrainBegin(ctx) {
            seen.push([ctx.optimizer.lr, ctx.optimizer.momentum as number]);
            ctx.optimizer.lr = 2e-2;
            ctx.optimizer.momentum = 0.7;
          },
        }],
      });
      const fromFit: number[][] = [], fromAsync: number[][] = [];
      const s = make(b), a = make(b);
      const hs = s.fit(x, y, options(fromFit));
      const ha = await a.fitAsync(x, y, options(fromAsync));
      assert.equal(hs.stepLr[0], 2e-2, `${what}: the callback's lr takes the first step`);
      assert.deepEqual(fromAsync, fromFit, `${what}: what onTrainBegin sees`);
      assert.deepEqual(ha.stepLr, hs.stepLr, `${what}: lr of every step`);
      assert.deepEqual(ha.epochs.map((e) => e.lr), hs.epochs.map((e) => e.lr), `${what}: lr of every epoch`);
      hs.epochs.forEach((e, i) => assert.equal(e.lr, hs.stepLr[(i + 1) * perEpoch - 1], `${what}: epoch ${i + 1} logs its last step's lr`));
      sameTrainingState(a, s, x, y, what);
    }
  });

  it("shows callbacks each step's lr and momentum when a schedule changes both every step, as fit does", async () => {
    const options = (seen: number[][]): FitOptions => ({
      epochs: 2, batchSize: 50, scheduleEvery: 'step', schedule: { name: 'oneCycle', maxLr: 1e-2, totalSteps: 2 * perEpoch },
      callbacks: [{ onBatchEnd: (_, ctx) => void seen.push([ctx.optimizer.lr, ctx.optimizer.momentum as number]) }],
    });
    const fromFit: number[][] = [], fromAsync: number[][] = [];
    make(b).fit(x, y, options(fromFit));
    await make(b).fitAsync(x, y, options(fromAsync));
    assert.ok(new Set(fromFit.map((v) => v[1])).size > perEpoch, 'the momentum changes every step');
    assert.deepEqual(fromAsync, fromFit);
  });

  it("shows callbacks the optimiser and schedule of the last epoch end, and each batch's lr, whichever hooks they have", async () => {
    type Seen = { stepCount: number; lr: number; count: number | undefined };
    const options = (seen: Seen[], hook: 'onEpochBegin' | 'onBatchEnd'): FitOptions => ({
      epochs: 3, batchSize: 50, schedule: { name: 'step', stepSize: 1, gamma: 0.5 },
      callbacks: [{
        [hook]: (_: unknown, ctx: TrainContext) => {
          seen.push({ stepCount: ctx.optimizer.stepCount, lr: ctx.optimizer.lr, count: ctx.schedule?.count });
        },
      }],
    });
    for (const hook of ['onEpochBegin', 'onBatchEnd'] as const) {
      const fromFit: Seen[] = [], fromAsync: Seen[] = [];
      make(b).fit(x, y, options(fromFit, hook));
      await make(b).fitAsync(x, y, options(fromAsync, hook));
      // fit's callbacks see the optimiser after every step; fitAsync's, after the last epoch's.
      const epochEnds = fromFit.map((v, i) => (hook === 'onEpochBegin' ? v.stepCount : perEpoch * Math.floor(i / perEpoch)));
      assert.deepEqual(fromAsync, fromFit.map((v, i) => ({ ...v, stepCount: epochEnds[i] })), hook);
    }
  });

  it('trains a oneCycle schedule to its totalSteps as fit does, and refuses more steps before the worker starts', async () => {
    const schedule = { name: 'oneCycle' as const, maxLr: 1e-2, totalSteps: 2 * perEpoch, annealStrategy: 'linear' as const };
    const s = make(b), a = make(b);
    const limits: (number | undefined)[] = [];
    const seeLimit: Callback = { onTrainBegin: (ctx) => void limits.push(ctx.schedule?.stepLimit) };
    const hs = s.fit(x, y, { epochs: 2, batchSize: 50, scheduleEvery: 'step', schedule, callbacks: [seeLimit] });
    const ha = await a.fitAsync(x, y, { epochs: 2, batchSize: 50, scheduleEvery: 'step', schedule, callbacks: [seeLimit] });
    assert.deepEqual(limits, [2 * perEpoch, 2 * perEpoch], 'callbacks see the schedule\'s stepLimit');
    assert.deepEqual(ha.stepLr, hs.stepLr);
    assert.deepEqual(ha.epochs.map((e) => e.lr), hs.epochs.map((e) => e.lr));
    assert.equal(a.optimizer?.lr, hs.stepLr[2 * perEpoch - 1], 'the last lr an update used');
    sameTrainingState(a, s, x, y, 'oneCycle to its end');
    const m = make(b);
    const before = m.params.slice();
    let begun = 0;
    await rejectsCode(m.fitAsync(x, y, { epochs: 3, batchSize: 50, scheduleEvery: 'step', schedule, callbacks: [{ onTrainBegin: () => void begun++ }] }),
      'ERR_BLASNET_ARG_RANGE', `at most ${2 * perEpoch} steps (totalSteps ${2 * perEpoch}) but this fit would step it ${3 * perEpoch} times`);
    await rejectsCode(m.fitAsync(x, y, { epochs: 25, batchSize: 50, schedule }), 'ERR_BLASNET_ARG_RANGE', 'would step it 25 times (25 epochs');
    assert.deepEqual(m.params, before);
    assert.equal(m.optimizer?.lr, 3e-3);
    assert.equal(begun, 0);
  });

  it('counts the batches dropLast leaves: stepsPerEpoch, and a oneCycle of exactly that many steps', async () => {
    // 600 rows in batches of 70: 8 whole batches, the last 40 rows left out.
    const schedule = { name: 'oneCycle' as const, maxLr: 1e-2, totalSteps: 2 * 8 };
    const seen: number[] = [];
    const h = await make(b).fitAsync(x, y, {
      epochs: 2, batchSize: 70, dropLast: true, scheduleEvery: 'step', schedule, callbacks: [{ onTrainBegin: (ctx) => void seen.push(ctx.stepsPerEpoch) }],
    });
    assert.deepEqual(seen, [8]);
    assert.equal(h.steps, 16);
  });

  it('checks its inputs before starting the worker', async () => {
    const m = make(b);
    const bad = x.slice();
    bad[3] = NaN;
    await rejectsCode(m.fitAsync(bad, y), 'ERR_BLASNET_DATA');
    await rejectsCode(m.fitAsync(x, y.map((v) => v + 4)), 'ERR_BLASNET_LABEL');
    await rejectsCode(m.fitAsync(x, y, { epochs: 0 }), 'ERR_BLASNET_ARG_RANGE');
    assert.equal(m.isTraining, false);
    const custom = new Sequential({ inputSize: 8, backend: b, layers: [dense(4)] })
      .compile({ loss: { name: 'mine', compute: () => 0 }, optimizer: { name: 'sgd', lr: 0.1 } });
    await rejectsCode(custom.fitAsync(x, new Float32Array(600 * 4)), 'ERR_BLASNET_ARG_RANGE');
    await rejectsCode(new Sequential({ inputSize: 8, backend: b, layers: [dense(4)] }).fitAsync(x, y), 'ERR_BLASNET_STATE');
    // A layer of the caller's own cannot be rebuilt in the worker: said so, as for a custom loss.
    const own = new Sequential({ inputSize: 8, backend: b, layers: [dense(4), new Identity()] }).compile({ loss: 'crossEntropy', optimizer: 'adam' });
    await rejectsCode(own.fitAsync(x, y), 'ERR_BLASNET_ARG_RANGE', 'fitAsync: layer 1 ("identity", kind "identity") is a layer of your own, which cannot move to the training worker');
    assert.equal(own.isTraining, false);
    own.fit(x, y, { epochs: 1 });
  });

  it("x detached or shrunk while it is copied to shared memory is ERR_BLASNET_DETACHED or _ARG_LENGTH naming x; the model is left as it was", async () => {
    // Four chunks of the copy, each made to look 10 ms long so that the copy yields to the event
    // loop after every one, where x changes.
    const rows = 131072;
    // A resizable ArrayBuffer (ES2024; the compiler's lib here is older).
    type Resizable = ArrayBuffer & { resize(bytes: number): void };
    const Buffer2024 = ArrayBuffer as unknown as new (bytes: number, options?: { maxByteLength: number }) => Resizable;
    for (const mode of ['detach', 'shrink'] as const) {
      const buffer = new Buffer2024(rows * 8 * 4, mode === 'shrink' ? { maxByteLength: rows * 8 * 4 } : undefined);
      const big = new Float32Array(buffer);
      for (let i = 0; i < big.length; i++) big[i] = (i % 7) / 7;
      const labels = Int32Array.from({ length: rows }, (_, i) => i % 4);
      const m = make(b);
      const before = m.params.slice();
      const now = performance.now;
      let clock = now.call(performance);
      performance.now = () => (clock += 10);
      let e: Error & { code?: string };
      try {
        const training = m.fitAsync(big, labels, { epochs: 1, batchSize: 256 });
        setImmediate(() => (mode === 'shrink' ? buffer.resize(1024) : structuredClone(buffer, { transfer: [buffer] })));
        e = await rejectsCode(training, mode === 'shrink' ? 'ERR_BLASNET_ARG_LENGTH' : 'ERR_BLASNET_DETACHED');
      } finally {
        performance.now = now;
      }
      assert.match(e.message, mode === 'shrink'
        ? /^fitAsync: x holds 256 values now, fewer than the 1048576 it held \(rows \* cols\), while it was being copied to shared memory; leave x unchanged until fitAsync settles$/
        : /^fitAsync: x's buffer was detached while it was being copied to shared memory; leave x unchanged until fitAsync settles$/);
      assert.equal(m.isTraining, false, mode);
      assert.deepEqual(m.params, before, mode);
      m.fit(x, y, { epochs: 1, batchSize: 50 });
    }
    // Validation rows are read after the training rows: detached meanwhile, the same code.
    const val = x.slice();
    const m = make(b);
    const training = m.fitAsync(x, y, { epochs: 1, batchSize: 50, validationData: { x: new Matrix(val, y.length, 8), y } });
    structuredClone(val.buffer, { transfer: [val.buffer] });
    const e = await rejectsCode(training, 'ERR_BLASNET_DETACHED');
    assert.match(e.message, /^fitAsync \(validationData\): x's buffer was detached before it was copied to shared memory/);
    assert.equal(m.isTraining, false);
  });
});

/** Stops training at the end of epoch `epochs` (1-based), as an interrupted run would. */
function stopAfter(epochs: number): Callback {
  return { onEpochEnd: (l, ctx) => { if (l.epoch + 1 === epochs) ctx.stop('interrupted'); } };
}

forEachBackend('fitAsync resuming from a checkpoint', (b) => {
  const { x, y } = data(600, 1);
  let files = 0;

  /** The checkpoint of epoch 2 of a run of `options`, loaded twice: one for fit, one for fitAsync. */
  function checkpoint(options: Parameters<Sequential['fit']>[2]): [LoadedModel, LoadedModel] {
    const file = path.join(tmp, `resume-${b.name}-${files++}-{epoch}.blasnet`);
    make(b).fit(x, y, { ...options, callbacks: [modelCheckpoint(file), stopAfter(2)] });
    const at2 = file.replace('{epoch}', '2');
    return [loadModel(at2, { backend: b }), loadModel(at2, { backend: b })];
  }

  it('takes a loadModel() result as resume and trains on as fit and an uninterrupted run do', async () => {
    const o = { epochs: 4, batchSize: 50 };
    const [s, a] = checkpoint(o);
    const hs = s.model.fit(x, y, { ...o, resume: s });
    const ha = await a.model.fitAsync(x, y, { ...o, resume: a });
    assert.equal(a.model.isTraining, false);
    assert.deepEqual(a.model.params, s.model.params);
    assert.deepEqual(a.model.buffers().map((v) => v.data), s.model.buffers().map((v) => v.data));
    assert.deepEqual(ha.epochs.map((e) => [e.epoch, e.loss]), hs.epochs.map((e) => [e.epoch, e.loss]));
    const whole = make(b);
    whole.fit(x, y, o);
    assert.deepEqual(a.model.params, whole.params);
  });

  it("takes the lr onTrainBegin sets over the checkpoint's, with a schedule attached, as fit does", async () => {
    const o = { epochs: 4, batchSize: 50, schedule: { name: 'step' as const, stepSize: 1, gamma: 0.5 } };
    const [s, a] = checkpoint(o);
    const begin = (seen: number[]): Callback => ({
      onTrainBegin(ctx) {
        seen.push(ctx.optimizer.lr);
        ctx.optimizer.lr = 1e-2;
      },
    });
    const fromFit: number[] = [], fromAsync: number[] = [];
    const hs = s.model.fit(x, y, { ...o, resume: s, callbacks: [begin(fromFit)] });
    const ha = await a.model.fitAsync(x, y, { ...o, resume: a, callbacks: [begin(fromAsync)] });
    assert.deepEqual(fromAsync, fromFit);
    assert.equal(hs.stepLr[0], 1e-2);
    assert.deepEqual(ha.stepLr, hs.stepLr);
    assert.deepEqual(a.model.params, s.model.params);
  });

  for (const every of ['epoch', 'step'] as const) {
    it(`resumes without compile() once the schedule has moved the lr, as an uninterrupted run (scheduleEvery '${every}')`, async () => {
      // 12 steps per epoch: the lr halves every epoch, or every 6 steps.
      const o = { epochs: 4, batchSize: 50, scheduleEvery: every, schedule: { name: 'step' as const, stepSize: every === 'epoch' ? 1 : 6, gamma: 0.5 } };
      const [s, a] = checkpoint(o);
      // The loaded optimiser holds the scheduled lr, not the compiled one the schedule was made from.
      assert.equal(a.model.optimizer?.lr, every === 'epoch' ? 3e-3 / 4 : 3e-3 / 16);
      const hs = s.model.fit(x, y, { ...o, resume: s });
      const ha = await a.model.fitAsync(x, y, { ...o, resume: a });
      const whole = make(b);
      const hw = whole.fit(x, y, o);
      assert.deepEqual(s.model.params, whole.params);
      assert.deepEqual(a.model.params, whole.params);
      assert.deepEqual(ha.epochs.map((e) => [e.loss, e.lr]), hw.epochs.slice(2).map((e) => [e.loss, e.lr]));
      assert.deepEqual(hs.stepLr, hw.stepLr.slice(24));
      assert.deepEqual(ha.stepLr, hw.stepLr.slice(24));
      assert.equal(a.model.optimizer?.lr, whole.optimizer?.lr);
    });
  }

  it('resumes a oneCycle within its totalSteps as an uninterrupted run, and refuses before the worker a resume that would step it further', async () => {
    const o = { epochs: 4, batchSize: 50, scheduleEvery: 'step' as const, schedule: { name: 'oneCycle' as const, maxLr: 1e-2, totalSteps: 48, annealStrategy: 'linear' as const } };
    const [s, a] = checkpoint(o);
    const before = a.model.params.slice();
    await rejectsCode(a.model.fitAsync(x, y, { ...o, epochs: 5, resume: a }), 'ERR_BLASNET_ARG_RANGE',
      'would step it 60 times (the checkpoint\'s 24, then 3 epochs of 12 steps');
    assert.deepEqual(a.model.params, before);
    const hs = s.model.fit(x, y, { ...o, resume: s });
    const ha = await a.model.fitAsync(x, y, { ...o, resume: a });
    const whole = make(b);
    const hw = whole.fit(x, y, o);
    assert.deepEqual(a.model.params, whole.params);
    assert.deepEqual(s.model.params, whole.params);
    assert.deepEqual(ha.stepLr, hw.stepLr.slice(24));
    assert.deepEqual(hs.stepLr, hw.stepLr.slice(24));
    assert.equal(a.model.optimizer?.lr, whole.optimizer?.lr);
  });
});

forEachBackend('fitAsync when the job cannot start or its worker dies', (b) => {
  const lib = path.join(__dirname, '..', 'lib');

  /**
   * Runs `body` (the statements of an async function given bn, the library; b, the backend; make;
   * x and y) in a child process that must exit by itself: a worker left running, or listening,
   * would hold it until the timeout.
   */
  function child(body: string): string {
    const script = `
      const bn = require(${JSON.stringify(lib)});
      const b = bn.getBackend(${JSON.stringify(b.name)});
      const rng = new bn.Rng(3);
      const x = new Float32Array(300 * 6).map(() => rng.normal());
      const y = new Int32Array(300).map((_, i) => (x[i * 6] > 0 ? 1 : 0));
      const make = () => new bn.Sequential({ inputSize: 6, seed: 1, backend: b, layers: [bn.dense(8, { activation: 'tanh' }), bn.dropout(0.1), bn.dense(2)] })
        .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-2 } });
      (async () => { ${body} })().catch((e) => { console.error(e); process.exitCode = 1; });
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, `status ${r.status} signal ${r.signal}: ${r.stdout} ${r.stderr}`);
    return r.stdout;
  }

  it('an option the worker cannot receive rejects with ERR_BLASNET_ARG_RANGE and leaves the model as it was', () => {
    const file = path.join(tmp, `unsendable-${b.name}-{epoch}.blasnet`);
    const out = child(`
      // Two threads, so that a share of the kernel pool not given back would show as one.
      if (b.name === 'native') b.setNumThreads(2);
      const threads = b.getNumThreads();
      make().fit(x, y, { epochs: 2, callbacks: [bn.modelCheckpoint(${JSON.stringify(file)})] });
      const ck = bn.loadModel(${JSON.stringify(file.replace('{epoch}', '1'))}, { backend: b });
      const m = make();
      // The checkpoint's weights, as resume needs them.
      m.setWeights(ck.model.getWeights());
      const before = m.params.slice();
      const bad = {
        ema: { ema: { decay: 0.9, f() {} } },
        swa: { swa: { startEpoch: 0, f() {} } },
        // Passes every check fit makes (optimizer.load reads the fields it knows), so it reaches postMessage.
        // onTrainBegin runs first; the lr and momentum it sets are put back with the rest.
        resume: {
          resume: { ...ck, optimizer: { ...ck.optimizer, note: () => 'nightly' } },
          callbacks: [{ onTrainBegin(ctx) { ctx.optimizer.lr = 0.5; ctx.optimizer.momentum = 0.5; } }],
        },
      };
      for (const [name, options] of Object.entries(bad)) {
        try {
          await m.fitAsync(x, y, { epochs: 2, ...options });
          console.log(name + ' resolved');
        } catch (e) {
          console.log(name + ' ' + e.code + ' ' + /\\b(ema|swa|resume)\\b/.exec(e.message)?.[0] + ' training ' + m.isTraining);
        }
      }
      console.log('unchanged ' + m.params.every((v, i) => v === before[i]) + ' ' + m.optimizer.lr + ' ' + m.optimizer.momentum);
      m.fit(x, y, { epochs: 1 });
      bn.saveModel(${JSON.stringify(path.join(tmp, `unsendable-${b.name}.blasnet`))}, m);
      let during = 0;
      await m.fitAsync(x, y, { epochs: 1, onProgress: () => { during = b.getNumThreads(); } });
      console.log('threads ' + (during === threads) + ' ' + (b.getNumThreads() === threads));
    `);
    assert.match(out, /^ema ERR_BLASNET_ARG_RANGE ema training false$/m);
    assert.match(out, /^swa ERR_BLASNET_ARG_RANGE swa training false$/m);
    assert.match(out, /^resume ERR_BLASNET_ARG_RANGE resume training false$/m);
    assert.match(out, /^unchanged true 0.01 0.9$/m);
    assert.match(out, /^threads true true$/m);
  });

  it('a worker that cannot start, or dies starting, rejects with ERR_BLASNET_INTERNAL and leaves the model usable', () => {
    const out = child(`
      const wt = require('worker_threads');
      const Real = wt.Worker;
      for (const [name, Broken] of [
        ['throws', class { constructor() { throw new Error('no more threads'); } }],
        ['dies', class extends Real { constructor() { super('throw new Error("cannot load the addon")', { eval: true }); } }],
      ]) {
        wt.Worker = Broken;
        const m = make();
        try {
          // The first worker dies while onTrainBegin holds the job back, with no job listening.
          await m.fitAsync(x, y, { epochs: 1, callbacks: [{ onTrainBegin: () => new Promise((r) => setTimeout(r, 500)) }] });
          console.log(name + ' resolved');
        } catch (e) {
          console.log(name + ' ' + e.code + ' training ' + m.isTraining);
        }
        wt.Worker = Real;
        m.fit(x, y, { epochs: 1 });
      }
    `);
    assert.match(out, /^throws ERR_BLASNET_INTERNAL training false$/m);
    assert.match(out, /^dies ERR_BLASNET_INTERNAL training false$/m);
  });

  it('a worker that dies mid-epoch puts the model back at the start of the call, or at the last epoch end its callbacks saw, and says so', () => {
    const out = child(`
      const wt = require('worker_threads');
      const Real = wt.Worker;
      const workers = [];
      wt.Worker = class extends Real { constructor(...a) { super(...a); workers.push(this); } };
      const build = () => new bn.Sequential({ inputSize: 6, seed: 1, backend: b, layers: [bn.dense(8, { activation: 'relu' }), bn.batchNorm(), bn.dropout(0.1), bn.dense(2)] })
        .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-2 } });
      const stateOf = (m) => JSON.stringify({ params: Array.from(m.params), buffers: m.buffers().map((v) => Array.from(v.data)), optimizer: m.optimizer.state(), masks: m.maskState() });
      // Terminated after its fifth reported batch of epoch 3 (0-based 2), with or without an onEpochEnd callback.
      for (const watched of [false, true]) {
        const m = build();
        const start = stateOf(m);
        // The state at each epoch end the callbacks saw, by 1-based epoch: terminate() takes effect
        // asynchronously, so the worker may finish epoch 3 (and report its end) first.
        const atEnd = {};
        const callbacks = watched ? [{ onEpochEnd: (l, ctx) => { atEnd[l.epoch + 1] = stateOf(ctx.model); } }] : [];
        let killed = false;
        const onProgress = (e) => {
          if (!killed && e.type === 'batch' && e.logs.epoch === 2 && e.logs.batch === 4) {
            killed = true;
            void workers[workers.length - 1].terminate();
          }
        };
        try {
          await m.fitAsync(x, y, { epochs: 500, batchSize: 10, callbacks, onProgress });
          console.log('resolved');
        } catch (e) {
          const end = /at the end of epoch (\\d+)$/.exec(e.message);
          const back = stateOf(m) === (watched ? (end ? atEnd[end[1]] : null) : start);
          console.log((watched ? 'watched ' : 'unwatched ') + e.code + ' training ' + m.isTraining + ' back ' + back + ' | ' + e.message);
        }
        m.fit(x, y, { epochs: 1 });
        await m.fitAsync(x, y, { epochs: 1 });
        bn.saveModel(${JSON.stringify(path.join(tmp, `died-${b.name}.blasnet`))}, m, { optimizer: m.optimizer.state() });
      }
    `);
    assert.match(out, /^unwatched ERR_BLASNET_INTERNAL training false back true \| fitAsync: the training worker exited with code 1; the model's weights, running statistics, optimiser state and dropout stream are back as they were when fitAsync was called$/m);
    const watched = /^watched ERR_BLASNET_INTERNAL training false back true \| fitAsync: the training worker exited with code 1; the model's weights, running statistics, optimiser state and dropout stream are back as they were at the end of epoch (\d+)$/m.exec(out);
    assert.ok(watched, out);
    assert.ok(Number(watched[1]) >= 2, `killed in epoch 3 or later: ${watched[1]}`);
  });
});
