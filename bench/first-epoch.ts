/**
 * What the first epoch costs in a fresh process (issue 14 item 3): the CLI's default job
 * (784-256-128-10 ReLU, softmax output, cross-entropy, Adam lr 1e-3, batch 128, cosine over 15
 * epochs, 10% validation split, seed 1) on Fashion-MNIST. Each sample is a fresh process that
 * loads the data, builds the model, and times a one-epoch fit call from start to return (every
 * check, allocation and first touch included); then the same model trains `steady` + 1 more
 * epochs in one fit and the steady-state epoch is the median time between consecutive epoch
 * ends after the first of those (the loop, validation and epoch-end work, as in the one-epoch
 * call). Reports per sample and the median and range of first / steady - 1 over the samples,
 * in wall time and in process CPU time (all threads; a loaded machine stretches wall time by
 * whatever else runs, CPU time much less).
 *
 *   node dist/bench/first-epoch.js [--samples 7] [--steady 3] [--lib dist/lib] [--before OLD/dist/lib] [--kernels] [--json]
 *
 * --lib loads another build of the library (an older checkout's dist/lib) for a before/after
 * comparison with the same script. --before PATH alternates samples of that build (PATH, its
 * dist/lib) with this one's, one process each in turn, and reports both and their paired
 * difference: the machine's drift then falls on both alike.
 *
 * Node flags given to this script (node --no-opt dist/bench/first-epoch.js) pass to every child.
 *
 * --kernels also times every backend call (two clock reads per call, about 0.1 us, in both
 * epochs alike) and reports each kernel's time in the one-epoch call against a steady epoch's:
 * which kernels the first epoch pays more for (the first epoch's checked gather, first calls).
 */
import * as fs from 'fs';
import * as path from 'path';
import { alternateBuilds, arg, median, timedBackend } from './harness';
import type { CallTime } from './harness';

interface Sample {
  firstMs: number;
  /** The one-epoch call's own loop time (History.epochs[0].seconds). */
  firstLoopMs: number;
  steadyMs: number;
  /** The steady epochs' loop time alone (History seconds), median. */
  steadyLoopMs: number;
  /** Process CPU time (every thread) of the one-epoch call and of the median steady epoch: less sensitive to a loaded machine than wall time. */
  firstCpuMs: number;
  steadyCpuMs: number;
  threads: number;
  backend: string;
  /** Where the one-epoch call's time went (first) against a steady epoch's (median), ms. */
  phases: { first: Phases; steady: Phases };
  /** With --kernels: ms in each backend function over the one-epoch call and over a steady epoch (median). */
  kernels?: { first: Record<string, number>; steady: Record<string, number> };
}

/**
 * One epoch cut into phases, ms: `before` from the call's start (or the previous epoch's end) to
 * the epoch's first batch; the first step (with the epoch's shuffle and gather); steps 2-10, 11-100
 * and the rest; `after` from the last step to the epoch's end (validation, epoch-end work); and the
 * CPU time of the process's other threads than the main one and blasnet's pool (V8's compiler
 * and collector, libuv) over the epoch.
 */
interface Phases {
  before: number;
  step1: number;
  steps2to10: number;
  steps11to100: number;
  rest: number;
  after: number;
  otherThreadsCpu: number;
}

const PHASE_KEYS: readonly (keyof Phases)[] = ['before', 'step1', 'steps2to10', 'steps11to100', 'rest', 'after', 'otherThreadsCpu'];

/** CPU ms of this process's threads other than the main one and blasnet's pool (their names say which). */
function otherThreadsCpuMs(): number {
  let ns = 0;
  for (const tid of fs.readdirSync('/proc/self/task')) {
    if (Number(tid) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'blasnet-pool') continue;
      ns += Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return ns / 1e6;
}

/** Records phases of every epoch of a fit call through its callbacks. */
function phaseRecorder(): { callbacks: object[]; start(): void; epochs: Phases[] } {
  const epochs: Phases[] = [];
  let mark = 0, cpu0 = 0, step = 0, cur: Phases | null = null;
  const now = () => performance.now();
  return {
    epochs,
    start() {
      mark = now();
      cpu0 = otherThreadsCpuMs();
    },
    callbacks: [{
      onEpochBegin: () => {
        const t = now();
        cur = { before: t - mark, step1: 0, steps2to10: 0, steps11to100: 0, rest: 0, after: 0, otherThreadsCpu: 0 };
        mark = t;
        step = 0;
      },
      onBatchEnd: () => {
        const t = now(), p = cur as Phases;
        step++;
        if (step === 1) p.step1 += t - mark;
        else if (step <= 10) p.steps2to10 += t - mark;
        else if (step <= 100) p.steps11to100 += t - mark;
        else p.rest += t - mark;
        mark = t;
      },
      onEpochEnd: () => {
        const t = now(), c = otherThreadsCpuMs(), p = cur as Phases;
        p.after = t - mark;
        p.otherThreadsCpu = c - cpu0;
        epochs.push(p);
        mark = t;
        cpu0 = c;
      },
    }],
  };
}


function child(): void {
  const lib = path.resolve(arg('lib', path.join(__dirname, '..', 'lib')));
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const b = require(lib) as typeof import('../lib');
  const steady = Number(arg('steady', '3'));
  const train = b.loadFashionMnist({ split: 'train' });
  const spent = new Map<string, CallTime>();
  const byEpoch: Record<string, number>[] = [];
  const kernels = process.argv.includes('--kernels');
  const model = new b.Sequential({
    inputSize: 784, seed: 1, ...(kernels ? { backend: timedBackend(b.getBackend('native'), spent) } : {}),
    layers: [b.dense(256, { activation: 'relu' }), b.dense(128, { activation: 'relu' }), b.dense(10, { activation: 'softmax' })],
  }).compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 }, metrics: ['accuracy'] });
  const options = { batchSize: 128, seed: 1, validationSplit: 0.1, schedule: { name: 'cosineAnnealing' as const, tMax: 15 } };
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e3;
  };
  const r1 = phaseRecorder(), r2 = phaseRecorder();
  // Kernel time per epoch; the one-epoch call's includes its set-up (the recorder's `before`).
  const kernelEpochs = { onEpochEnd: () => { byEpoch.push(Object.fromEntries([...spent].map(([k, v]) => [k, v.ns / 1e6]))); spent.clear(); } };
  r1.callbacks.push(kernelEpochs);
  r2.callbacks.push(kernelEpochs);
  const c0 = cpu();
  r1.start();
  const t0 = performance.now();
  const h1 = model.fit(train.x, train.labels, { ...options, epochs: 1, callbacks: r1.callbacks });
  const firstMs = performance.now() - t0, firstCpuMs = cpu() - c0;
  const ends: number[] = [], cpuEnds: number[] = [];
  r2.start();
  const h2 = model.fit(train.x, train.labels, {
    ...options, epochs: steady + 1, callbacks: [...r2.callbacks, { onEpochEnd: () => { ends.push(performance.now()); cpuEnds.push(cpu()); } }],
  });
  const steadyPhases = Object.fromEntries(PHASE_KEYS.map((k) => [k, median(r2.epochs.slice(1).map((e) => e[k]))])) as unknown as Phases;
  const gaps = ends.slice(1).map((t, i) => t - ends[i]);
  const cpuGaps = cpuEnds.slice(1).map((t, i) => t - cpuEnds[i]);
  const out: Sample = {
    firstMs, firstLoopMs: h1.epochs[0].seconds * 1e3, steadyMs: median(gaps),
    steadyLoopMs: median(h2.epochs.slice(1).map((e) => e.seconds * 1e3)), firstCpuMs, steadyCpuMs: median(cpuGaps), threads: model.backend.getNumThreads(), backend: model.backend.name,
    phases: { first: r1.epochs[0], steady: steadyPhases },
  };
  if (kernels) {
    // byEpoch[0] is the one-epoch call, [1] the multi-epoch call's first epoch, then the steady ones.
    const steadyEpochs = byEpoch.slice(2);
    const names = [...new Set(byEpoch.flatMap((e) => Object.keys(e)))];
    out.kernels = {
      first: byEpoch[0],
      steady: Object.fromEntries(names.map((k) => [k, median(steadyEpochs.map((e) => e[k] ?? 0))])),
    };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

const over = (r: Sample) => r.firstMs / r.steadyMs - 1;

function summarise(lib: string, rows: Sample[]) {
  const o = rows.map(over);
  const overCpu = rows.map((r) => r.firstCpuMs / r.steadyCpuMs - 1);
  return {
    lib, backend: rows[0].backend, threads: rows[0].threads, samples: rows.length,
    firstMs: median(rows.map((r) => r.firstMs)), steadyMs: median(rows.map((r) => r.steadyMs)),
    overhead: { median: median(o), min: Math.min(...o), max: Math.max(...o) },
    cpuOverhead: { median: median(overCpu), min: Math.min(...overCpu), max: Math.max(...overCpu) },
    firstOutsideLoopMs: median(rows.map((r) => r.firstMs - r.firstLoopMs)),
    steadyOutsideLoopMs: median(rows.map((r) => r.steadyMs - r.steadyLoopMs)),
    firstLoopOverSteadyLoop: median(rows.map((r) => r.firstLoopMs / r.steadyLoopMs - 1)),
    rows,
  };
}

function print(summary: ReturnType<typeof summarise>): void {
  const rows = summary.rows;
  const f = (v: number) => v.toFixed(0);
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  process.stdout.write(`first epoch vs steady epoch, ${summary.backend} backend, ${summary.threads} threads, ${summary.samples} fresh processes (${summary.lib})\n`);
  process.stdout.write('| sample | one-epoch fit ms | steady epoch ms | over steady | CPU ms one-epoch / steady | CPU over steady |\n');
  process.stdout.write('| --- | --- | --- | --- | --- | --- |\n');
  rows.forEach((r, i) => process.stdout.write(`| ${i + 1} | ${f(r.firstMs)} | ${f(r.steadyMs)} | ${pct(over(r))} | ` +
    `${f(r.firstCpuMs)} / ${f(r.steadyCpuMs)} | ${pct(r.firstCpuMs / r.steadyCpuMs - 1)} |\n`));
  const phaseRows = rows.filter((r) => r.phases !== undefined);
  if (phaseRows.length > 0) {
    process.stdout.write('where the time goes, medians over the samples (ms; the one-epoch call against a steady epoch):\n');
    process.stdout.write('| phase | one-epoch call | steady epoch | difference |\n| --- | --- | --- | --- |\n');
    for (const k of PHASE_KEYS) {
      const a = median(phaseRows.map((r) => r.phases.first[k])), b = median(phaseRows.map((r) => r.phases.steady[k]));
      process.stdout.write(`| ${k} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(a - b).toFixed(1)} |\n`);
    }
  }
  const kernelRows = rows.filter((r) => r.kernels !== undefined);
  if (kernelRows.length > 0) {
    const k = kernelRows.map((r) => r.kernels as NonNullable<Sample['kernels']>);
    const names = [...new Set(k.flatMap((e) => [...Object.keys(e.first), ...Object.keys(e.steady)]))];
    const first = (n: string) => median(k.map((e) => e.first[n] ?? 0)), steady = (n: string) => median(k.map((e) => e.steady[n] ?? 0));
    process.stdout.write('backend calls, medians over the samples (ms per epoch; the one-epoch call against a steady epoch):\n');
    process.stdout.write('| function | one-epoch call | steady epoch | difference |\n| --- | --- | --- | --- |\n');
    for (const n of names.sort((x, y) => first(y) + steady(y) - first(x) - steady(x))) {
      process.stdout.write(`| ${n} | ${first(n).toFixed(2)} | ${steady(n).toFixed(2)} | ${(first(n) - steady(n)).toFixed(2)} |\n`);
    }
  }
  process.stdout.write(`wall: median ${pct(summary.overhead.median)} (range ${pct(summary.overhead.min)} to ${pct(summary.overhead.max)}); ` +
    `CPU: median ${pct(summary.cpuOverhead.median)} (range ${pct(summary.cpuOverhead.min)} to ${pct(summary.cpuOverhead.max)}); ` +
    `outside the loop: first call ${f(summary.firstOutsideLoopMs)} ms, steady epoch ${f(summary.steadyOutsideLoopMs)} ms; ` +
    `first loop over steady loop ${pct(summary.firstLoopOverSteadyLoop)}\n`);
}

function main(): void {
  const lib = path.resolve(arg('lib', path.join(__dirname, '..', 'lib')));
  const { rows, before: beforeRows, beforeLib: before } = alternateBuilds<Sample>(__filename);
  const summary = summarise(lib, rows);
  const old = before ? summarise(path.resolve(before), beforeRows) : null;
  // Per pair of neighbouring samples: this build's excess over the steady epoch minus the other's, in points.
  const paired = old ? rows.map((r, i) => 100 * (over(r) - over(beforeRows[i]))) : [];
  const pairedSummary = old ? { medianPoints: median(paired), lowerInPairs: paired.filter((d) => d < 0).length, pairs: paired.length } : null;
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(old ? { ...summary, before: old, paired: pairedSummary } : summary)}\n`);
    return;
  }
  if (old) {
    print(old);
    process.stdout.write('\n');
  }
  print(summary);
  if (pairedSummary) {
    process.stdout.write(`paired with ${old?.lib} sample by sample: this build's excess minus the other's, median ` +
      `${pairedSummary.medianPoints.toFixed(2)} points; lower in ${pairedSummary.lowerInPairs} of ${pairedSummary.pairs} pairs\n`);
  }
}

if (process.argv.includes('--child')) child();
else main();
