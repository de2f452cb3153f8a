/**
 * The mlp suite's blasnet native epochs in a process of their own, so that they can run under
 * another environment than the suite's (OPENBLAS_CORETYPE unset: OpenBLAS reads it once, when it
 * loads). `node dist/bench/mlp-native.js TRIAL RUNS GEMM_TIMING_JSON`, TRIAL an mlp trial id
 * (ref-32, ref-128, ref-512, small-32); prints one JSON line: {stats, gemm, threads, coreName,
 * kernelIsa}.
 */
import { loadFashionMnist } from '../lib';
import { nativeDriver } from './drivers';
import type { TimingOptions } from './harness';
import { nativeEpochs, TRIALS } from './suites/mlp';

function main(): void {
  const [id, runsArg, timingArg] = process.argv.slice(2);
  const t = TRIALS.find((x) => x.id === id);
  const runs = Number(runsArg);
  if (!t || !Number.isInteger(runs) || runs < 1 || !timingArg) {
    process.stderr.write(`usage: mlp-native TRIAL RUNS GEMM_TIMING_JSON (TRIAL one of ${TRIALS.map((x) => x.id).join(', ')})\n`);
    process.exit(2);
  }
  const gemmTiming = JSON.parse(timingArg) as TimingOptions;
  const train = loadFashionMnist({ split: 'train' });
  const native = nativeDriver();
  const { stats, gemm } = nativeEpochs(native, t, { x: train.x, labels: train.labels }, runs, gemmTiming);
  const info = native.backend.info();
  process.stdout.write(`${JSON.stringify({ stats, gemm, threads: native.threads, coreName: info.coreName, kernelIsa: info.kernelIsa })}\n`);
}

main();
