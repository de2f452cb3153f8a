/**
 * Where a training step's time goes, kernel by kernel, next to the mlp suite's GEMM-only bound
 * (issue 14 item 2): the reference workload (Fashion-MNIST, 784-256-128-10 ReLU and 784-32-10,
 * softmax cross-entropy, Adam lr 1e-3) on the native backend, with every backend call timed.
 *
 * For each trial a fresh model trains `--warm` untimed epochs, then one epoch with the backend's
 * calls wrapped in timers (two clock reads per call, about 0.1 us, so the per-call figures of
 * small kernels carry that much). Reported per step: each kernel's time (denseForward and
 * denseBackward hold the GEMMs with their bias, activation and column-sum passes), the time
 * outside any kernel (TypeScript, iteration, per-epoch work such as the shuffle, the N-API
 * calls' own cost), and the GEMM-only time of the mlp suite (timeStepGemms, right after the
 * epoch). Two ceilings follow: the share of the GEMM-only bound the step would reach if only the
 * dense kernels took time, and if only they, the gather, the optimiser step and the loss did
 * (everything TypeScript does free). For the optimiser step, also its time alone over the same
 * arena with the arrays in cache and out of cache (after 64 MB of other traffic): a step in the
 * loop finds its arrays somewhere between.
 *
 * Each trial starts with the CPUs' round trip over one cache line (bench/link.ts): on a VM it
 * moves with where the vCPUs run, and the kernels that write lines the other core has read with it.
 *
 * --threads 1,2 runs every trial at each kernel thread count in turn (setNumThreads, in this one
 * process) and ends with a table of the step, its GEMM-only bound and their ratio per count: how
 * much of the bound's gain from a second thread the whole step keeps.
 *
 *   node dist/bench/step-phases.js [--trial ref-32,ref-128,ref-512,small-32] [--warm 1] [--threads N,...] [--json]
 */
import { Dataset, getBackend, loadFashionMnist, Rng } from '../lib';
import { optimizerKernelId } from '../lib/optim/kernels';
import { arg, median, timedBackend } from './harness';
import type { CallTime } from './harness';
import { linkState, measureLink } from './link';
import { buildMlp, timeStepGemms, TRIALS } from './suites/mlp';

/** Median microseconds of `runs` calls of body, each after `before` (untimed). */
function us(runs: number, body: () => void, before?: () => void): number {
  const xs: number[] = [];
  for (let r = 0; r < runs; r++) {
    before?.();
    const t0 = process.hrtime.bigint();
    body();
    xs.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  return median(xs);
}

function main(): void {
  const ids = arg('trial', TRIALS.map((t) => t.id).join(',')).split(',');
  const warm = Number(arg('warm', '1'));
  const native = getBackend('native');
  const defaultThreads = native.getNumThreads();
  const threadCounts = arg('threads', String(defaultThreads)).split(',').map(Number);
  if (threadCounts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--threads takes positive integers, e.g. 1,2');
  const train = loadFashionMnist({ split: 'train' });
  const data = Dataset.from(train.x, train.labels);
  const results: Record<string, unknown>[] = [];
  // 64 MB of unrelated traffic: enough to push an arena of a few MB out of the caches.
  const junkA = new Float32Array(8 << 20), junkB = new Float32Array(8 << 20);
  const evict = (): void => native.axpy(junkA.length, 1, junkA, junkB);
  for (const threads of threadCounts) for (const id of ids) {
    native.setNumThreads(threads);
    const linkNs = measureLink();
    const t = TRIALS.find((x) => x.id === id);
    if (!t) throw new Error(`unknown trial ${id}`);
    const spent = new Map<string, CallTime>();
    const model = buildMlp(t.sizes, timedBackend(native, spent));
    for (let e = 0; e < warm; e++) model.fit(data, { epochs: 1, batchSize: t.batch });
    spent.clear();
    const t0 = process.hrtime.bigint();
    model.fit(data, { epochs: 1, batchSize: t.batch });
    const epochUs = Number(process.hrtime.bigint() - t0) / 1e3;
    const steps = Math.ceil(data.rows / t.batch);
    const gemmUs = timeStepGemms(native, t.sizes, t.batch, { warmup: 0.05, minTime: 0.05, runs: 5 }).median * 1e6;
    // The optimiser step alone over an arena of the model's size, in cache and out of it.
    const n = model.params.length;
    const hyper = new Float32Array([1e-3, 0.9, 0.1, 0.999, 0.001, 1e-8, 0, 0, 0, 0, 0.5, 0.5]);
    const p = model.params.slice(), g = new Rng(1).uniformArray(n, -1e-3, 1e-3), s = new Float32Array(3 * n);
    const adam = optimizerKernelId('adam');
    const stepCold = us(30, () => native.optimizerStep(adam, n, hyper, p, g, s), evict);
    const stepHot = us(30, () => native.optimizerStep(adam, n, hyper, p, g, s));
    let inKernels = 0;
    const kernels: Record<string, { usPerStep: number; callsPerStep: number }> = {};
    for (const [k, v] of [...spent.entries()].sort((a, b) => b[1].ns - a[1].ns)) {
      inKernels += v.ns / 1e3;
      kernels[k] = { usPerStep: v.ns / 1e3 / steps, callsPerStep: v.calls / steps };
    }
    const stepUs = epochUs / steps;
    const per = (k: string): number => kernels[k]?.usPerStep ?? 0;
    const dense = per('denseForward') + per('denseBackward');
    results.push({
      trial: t.id, net: t.sizes.join('-'), batch: t.batch, threads: native.getNumThreads(), steps,
      stepUs, gemmOnlyUs: gemmUs, fractionOfBound: gemmUs / stepUs, kernels,
      outsideKernelsUsPerStep: (epochUs - inKernels) / steps,
      ceilings: {
        denseOnly: gemmUs / dense,
        denseGatherOptimizerLoss: gemmUs / (dense + per('gatherRows') + per('optimizerStep') + per('loss')),
      },
      optimizerAlone: { inCacheUs: stepHot, outOfCacheUs: stepCold },
      linkNs,
    });
  }
  native.setNumThreads(defaultThreads);
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(results)}\n`);
    return;
  }
  const info = native.info();
  console.log(`native backend, ${threadCounts.join(' and ')} thread(s), OpenBLAS core ${info.coreName}, kernels ${info.kernelIsa}, ` +
    `dense forward on ${info.packedForward ? 'the packed kernels' : 'OpenBLAS'}; one timed epoch after ${warm} untimed, fresh model per trial (Dataset, so no first-epoch scan)`);
  for (const r of results) {
    const link = r.linkNs === null ? 'n/a' : `${(r.linkNs as number).toFixed(0)} ns, ${linkState(r.linkNs as number)}`;
    console.log(`\n${r.net} at batch ${r.batch}, ${r.threads} thread(s), CPUs' round trip ${link}: ${(r.stepUs as number).toFixed(1)} us/step, GEMM-only ${(r.gemmOnlyUs as number).toFixed(1)} us ` +
      `(${(100 * (r.fractionOfBound as number)).toFixed(1)}% of the bound)`);
    console.log('| kernel | us/step | share of step | calls/step |');
    console.log('| --- | --- | --- | --- |');
    for (const [k, v] of Object.entries(r.kernels as Record<string, { usPerStep: number; callsPerStep: number }>)) {
      console.log(`| ${k} | ${v.usPerStep.toFixed(1)} | ${(100 * v.usPerStep / (r.stepUs as number)).toFixed(1)}% | ${v.callsPerStep} |`);
    }
    const out = r.outsideKernelsUsPerStep as number;
    console.log(`| outside kernels | ${out.toFixed(1)} | ${(100 * out / (r.stepUs as number)).toFixed(1)}% | |`);
    const c = r.ceilings as Record<string, number>, o = r.optimizerAlone as Record<string, number>;
    console.log(`share of the bound if only the dense kernels took time: ${(100 * c.denseOnly).toFixed(1)}%; ` +
      `if only they, the gather, the optimiser step and the loss did: ${(100 * c.denseGatherOptimizerLoss).toFixed(1)}%`);
    console.log(`the Adam step alone over these weights: ${o.inCacheUs.toFixed(1)} us in cache, ${o.outOfCacheUs.toFixed(1)} us out of cache`);
  }
  if (threadCounts.length > 1) {
    const base = threadCounts[0];
    console.log(`\nper thread count: the step, its GEMM-only bound and the step's share of it; speed-ups over ${base} thread(s)`);
    console.log('| net | batch | threads | step us | GEMM-only us | share of bound | dense kernels over their GEMMs | step speed-up | bound speed-up |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of results) {
      const b = results.find((x) => x.trial === r.trial && x.threads === base) as Record<string, unknown>;
      const c = r.ceilings as Record<string, number>;
      console.log(`| ${r.net} | ${r.batch} | ${r.threads} | ${(r.stepUs as number).toFixed(1)} | ${(r.gemmOnlyUs as number).toFixed(1)} | ` +
        `${(100 * (r.fractionOfBound as number)).toFixed(1)}% | ${(1 / c.denseOnly).toFixed(2)}x | ` +
        `${((b.stepUs as number) / (r.stepUs as number)).toFixed(2)}x | ${((b.gemmOnlyUs as number) / (r.gemmOnlyUs as number)).toFixed(2)}x |`);
    }
  }
}

main();
