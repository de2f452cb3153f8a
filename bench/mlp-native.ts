/**
 * The mlp suite's blasnet native runs in a process of their own, so that they can run under
 * another environment than the suite's (OPENBLAS_CORETYPE unset: OpenBLAS reads it once, when it
 * loads). `node dist/bench/mlp-native.js TRIAL GEMM_TIMING_JSON [--touch]`, TRIAL an mlp trial
 * id (ref-32, ref-128, ref-512, small-32). The process stays up so that the suite can interleave its runs
 * with other drivers' without paying the start-up, the data load and the warmup again: it loads
 * the data, warms up (20 batches and the GEMMs), prints one JSON line {threads, coreName,
 * kernelIsa}, then reads stdin line by line; each "run" line gets one run (nativeRun: first epoch
 * of a fresh model, its second epoch, one GEMM-only sample) and one JSON line back, {first,
 * steady, gemm} in seconds. With --touch each run first reads one value of every 4 KB page of
 * the data set, untimed (SuiteContext.touch says why). End of input (or "quit") ends it with
 * status 0, any other line with 2.
 */
import * as readline from 'readline';
import { loadFashionMnist } from '../lib';
import { nativeDriver } from './drivers';
import type { TimingOptions } from './harness';
import { NativeChildInfo, nativeRun, TRIALS } from './suites/mlp';

async function main(): Promise<number> {
  const [id, timingArg, ...flags] = process.argv.slice(2);
  const touch = flags.includes('--touch');
  const t = TRIALS.find((x) => x.id === id);
  if (!t || !timingArg || flags.some((f) => f !== '--touch')) {
    process.stderr.write(`usage: mlp-native TRIAL GEMM_TIMING_JSON [--touch] (TRIAL one of ${TRIALS.map((x) => x.id).join(', ')})\n`);
    return 2;
  }
  const gemmTiming = JSON.parse(timingArg) as TimingOptions;
  const loaded = loadFashionMnist({ split: 'train' });
  const train = { x: loaded.x, labels: loaded.labels };
  const native = nativeDriver();
  nativeRun(native, t, train, gemmTiming, Math.min(train.x.rows, 20 * t.batch), true);
  const info = native.backend.info();
  const ready: NativeChildInfo = { threads: native.threads, coreName: info.coreName, kernelIsa: info.kernelIsa };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    const command = line.trim();
    if (command === 'quit') break;
    if (command !== 'run') {
      process.stderr.write(`mlp-native: expected "run" or "quit" on stdin, got ${JSON.stringify(command)}\n`);
      return 2;
    }
    process.stdout.write(`${JSON.stringify(nativeRun(native, t, train, gemmTiming, train.x.rows, false, touch))}\n`);
  }
  return 0;
}

// Exits at once: the parent may still hold stdin open after a "quit" or a bad line.
main().then((code) => process.exit(code), (e: Error) => {
  process.stderr.write(`mlp-native: ${e.message}\n`);
  process.exit(1);
});
