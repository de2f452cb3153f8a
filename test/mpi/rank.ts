/**
 * One rank of the distributed tests (test/99.distributed.test.ts runs it under mpirun).
 *
 *   node rank.js train <out.json>   trains every case of distributedCases() with fitDistributed
 *                                   and writes each rank's weights and history to <out>.rank<r>
 *   node rank.js throw|kill|stall   rank 1 fails at its third step (throws, SIGKILLs itself, or
 *                                   stops calling collectives); every rank prints its outcome
 *
 * Every rank prints one line `RESULT {"rank":r,"code":...,"message":...}` before it exits.
 */
import * as fs from 'fs';
import { batchNorm, dense, dropout, fitDistributed, initDistributed, loadModel, modelCheckpoint, Sequential } from '../../lib';
import type { Callback } from '../../lib';
import { distributedCases, distributedData, distributedModel } from './cases';

function report(rank: number, e: unknown): void {
  const err = e as Error & { code?: string };
  process.stdout.write(`RESULT ${JSON.stringify({ rank, code: err?.code ?? null, message: err?.message ?? String(e) })}\n`);
}

function main(): void {
  const mode = process.argv[2];
  const comm = initDistributed({ timeoutMs: mode === 'stall' ? 3000 : mode === 'retry' ? 300 : 30_000 });
  const { x, y, xVal, yVal } = distributedData();
  try {
    if (mode === 'train') {
      const out: Record<string, unknown> = {};
      for (const c of distributedCases()) {
        const m = distributedModel(c);
        const h = fitDistributed(m, x, y, {
          epochs: c.epochs, batchSize: c.batchSize / comm.size, seed: 5, validationData: { x: xVal, y: yVal }, communicator: comm,
        });
        out[c.name] = { params: Array.from(m.params), epochs: h.epochs, steps: h.steps };
      }
      const sgd = distributedCases()[0];
      const opts = { epochs: 2, batchSize: 8, seed: 5, validationData: { x: xVal, y: yVal }, communicator: comm };
      // Each rank builds its model from another seed: rank 0's weights must win.
      const seeds = distributedModel(sgd, { seed: 7 + 100 * comm.rank });
      fitDistributed(seeds, x, y, opts);
      out.seeds = { params: Array.from(seeds.params) };
      const bn = distributedModel(sgd, { bn: true });
      fitDistributed(bn, x, y, opts);
      out.bn = { params: Array.from(bn.params), buffers: bn.buffers().map((b) => Array.from(b.data)) };
      // BatchNorm and dropout under swa and ema: the statistics recomputed for the averaged weights
      // (each rank's dropout masks its own) are averaged too.
      for (const averaging of [{ swa: { startEpoch: 1 } }, { ema: { decay: 0.9 } }]) {
        const avg = new Sequential({
          inputSize: 6, seed: 7, backend: bn.backend, layers: [dense(16, { activation: 'relu' }), dropout(0.5), batchNorm(), dense(3)],
        }).compile({ loss: 'crossEntropy', optimizer: sgd.optimizer });
        fitDistributed(avg, x, y, { ...opts, ...averaging });
        out['ema' in averaging ? 'bnEma' : 'bnSwa'] = { params: Array.from(avg.params), buffers: avg.buffers().map((b) => Array.from(b.data)) };
      }
      // Rank 1 alone asks to stop after its fourth step; rank 0 must stop with it.
      const stop = distributedModel(sgd);
      const h = fitDistributed(stop, x, y, { ...opts, callbacks: [{ onBatchEnd: (l, ctx) => { if (comm.rank === 1 && l.step === 3) ctx.stop('rank 1 stops'); } }] });
      out.stop = { steps: h.steps, stopReason: h.stopReason, params: Array.from(stop.params) };
      // Rank 0 alone (a callback of rank 0's, as rootOnly ones are) stops at an epoch end: rank 1 stops there too.
      const epochStop = distributedModel(sgd);
      const he = fitDistributed(epochStop, x, y, { ...opts, epochs: 3, callbacks: [{ onEpochEnd: (_l, ctx) => { if (comm.rank === 0) ctx.stop('rank 0 stops'); } }] });
      out.epochStop = { steps: he.steps, stopReason: he.stopReason, params: Array.from(epochStop.params) };
      // One validation row for two ranks, under a summed loss: every rank scores it, and it counts once.
      const sum = distributedCases()[4];
      const one = distributedModel(sum);
      const hs = fitDistributed(one, x, y, { ...opts, epochs: 1, validationData: { x: xVal.subarray(0, 6), y: yVal.subarray(0, 1) } });
      out.oneRow = { valLoss: hs.epochs[0].valLoss, evaluated: one.evaluate(xVal.subarray(0, 6), yVal.subarray(0, 1)).loss };
      // Rank 0 alone writes a checkpoint after epoch 1; every rank resumes from it, rank 1 with a
      // fresh optimiser state in place of the saved one: rank 0's state must win.
      const adam = distributedCases()[1];
      const ckFile = `${process.argv[3]}.ck-{epoch}.blasnet`;
      const first = distributedModel(adam);
      fitDistributed(first, x, y, { ...opts, epochs: 1, callbacks: [modelCheckpoint(ckFile)] });
      comm.barrier();
      const ck = loadModel(ckFile.replace('{epoch}', '1'), { backend: first.backend });
      const resume = comm.rank === 1 ? { ...ck, optimizer: distributedModel(adam).optimizer?.state() } : ck;
      const resumed = ck.model.compile({ loss: 'crossEntropy', optimizer: adam.optimizer, metrics: ['accuracy'] });
      const hr = fitDistributed(resumed, x, y, { ...opts, resume });
      out.resume = { params: Array.from(resumed.params), steps: hr.steps };
      fs.writeFileSync(`${process.argv[3]}.rank${comm.rank}`, JSON.stringify(out));
      report(comm.rank, { code: 'OK', message: 'trained' });
      return;
    }
    if (mode === 'differ') {
      // Rank 1 compiles another lr: every rank refuses before the first step.
      const c = distributedCases()[0];
      const m = distributedModel(comm.rank === 1 ? { ...c, optimizer: { ...c.optimizer, lr: 0.5 } } : c);
      fitDistributed(m, x, y, { epochs: 2, batchSize: 8, communicator: comm });
      report(comm.rank, { code: 'OK', message: 'trained with different options' });
      return;
    }
    if (mode === 'resumeWeights') {
      // A checkpoint written by rank 0, resumed on freshly built models: rank 0's refusal counts on every rank.
      const c = distributedCases()[1];
      const ckFile = `${process.argv[3]}.ck.blasnet`;
      fitDistributed(distributedModel(c), x, y, { epochs: 1, batchSize: 8, communicator: comm, callbacks: [modelCheckpoint(ckFile)] });
      comm.barrier();
      const ck = loadModel(ckFile);
      fitDistributed(distributedModel(c, { seed: 99 }), x, y, { epochs: 2, batchSize: 8, communicator: comm, resume: ck });
      report(comm.rank, { code: 'OK', message: 'resumed on other weights' });
      return;
    }
    if (mode === 'retry') {
      // Rank 1 is late; rank 0's collective times out, and a retry must be a coded error, not a crash.
      if (comm.rank === 1) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          comm.allreduce(new Float32Array(1 << 18).fill(1));
        } catch (e) {
          if (attempt === 2) throw e;
          (global as { gc?: () => void }).gc?.();
        }
      }
      report(comm.rank, { code: 'OK', message: 'reduced' });
      return;
    }
    const failing: Callback = {
      onBatchEnd(logs) {
        if (comm.rank !== 1 || logs.step !== 2) return;
        if (mode === 'throw') throw new Error('injected failure on rank 1');
        if (mode === 'kill') process.kill(process.pid, 'SIGKILL');
        // Stalls without exiting: the others must give up on their own deadline.
        if (mode === 'stall') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
      },
    };
    const c = distributedCases()[0];
    fitDistributed(distributedModel(c), x, y, { epochs: 50, batchSize: 8, communicator: comm, callbacks: [failing] });
    report(comm.rank, { code: 'OK', message: 'finished without noticing the failure' });
  } catch (e) {
    report(comm.rank, e);
    process.exitCode = 3;
  }
}

main();
