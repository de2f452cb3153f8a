/**
 * Per-call overhead: how long the smallest calls take, which is what bounds the native backend on
 * small layers and batches. The direct-C 4x4 GEMM is the floor the N-API path adds to.
 */
import { Backend } from '../../lib';
import { BackendDriver, cGemmDriver, GemmTrial, jsDriver, nativeDefaultThreads, nativeDriver, nativeSingleDriver } from '../drivers';
import { Body, measure, Stats } from '../harness';
import { num, Suite, SuiteResult, Target, timeCell } from '../report';

const TINY: GemmTrial = { id: 'gemm4', label: 'gemm 4×4×4', transA: false, transB: false, m: 4, n: 4, k: 4 };
const OVERHEAD_TARGET_NS = 1000;

interface Row {
  call: string;
  driver: string;
  threads: number;
  stats: Stats | null;
  skipped?: string;
}

/** Per-call times of the smallest calls, native, js and direct C. */
export const overheadSuite: Suite = {
  name: 'overhead',
  title: 'Per-call overhead',
  summary: 'Nanoseconds per call, from loops of many back-to-back calls on tiny arrays (loop cost included, spread over the calls).',
  defaults: { warmup: 0.1, minTime: 0.2, runs: 7 },

  run(ctx): SuiteResult {
    const a = new Float32Array(16).fill(0.5);
    const b = new Float32Array(16).fill(0.25);
    const c = new Float32Array(16);
    const x = new Float32Array(16).fill(1);
    const calls: [string, (be: Backend) => Body][] = [
      ['gemm 4×4×4 (NN, alpha 1, beta 0)', (be) => (reps) => {
        for (let r = 0; r < reps; r++) be.gemm(false, false, 4, 4, 4, 1, a, b, 0, c);
      }],
      ['scale(16)', (be) => (reps) => { for (let r = 0; r < reps; r++) be.scale(16, 1, x); }],
      ['getNumThreads() (no arguments)', (be) => (reps) => { for (let r = 0; r < reps; r++) be.getNumThreads(); }],
    ];
    const run = (d: BackendDriver, call: string, make: (be: Backend) => Body): Row => {
      ctx.progress(`overhead ${call} ${d.name} (${d.threads} thr)`);
      return { call, driver: d.name, threads: d.threads, stats: d.use(() => measure(make(d.backend), ctx.timing)) };
    };

    const native = nativeDriver();
    const rows: Row[] = [];
    for (const [call, make] of calls) rows.push(run(native, call, make));
    rows.push(run(nativeSingleDriver(), calls[0][0], calls[0][1]));
    for (const [call, make] of calls.slice(0, 2)) rows.push(run(jsDriver(), call, make));
    const threads = nativeDefaultThreads();
    for (const t of [threads, 1]) {
      const [r] = cGemmDriver(t).run([TINY], ctx.timing, ctx.progress);
      rows.push({ call: 'cblas_sgemm 4×4×4 (NN, alpha 1, beta 0)', driver: 'c', threads: t, stats: r.stats, skipped: r.skipped ?? undefined });
    }

    const nativeGemm = rows[0].stats as Stats;
    const cGemm = rows.find((r) => r.driver === 'c' && r.threads === threads)?.stats ?? null;
    const ns = nativeGemm.median * 1e9;
    const target: Target = {
      name: `per-call cost of a 4×4×4 GEMM from JS on the native backend under ${OVERHEAD_TARGET_NS} ns (${threads} threads)`,
      met: ns < OVERHEAD_TARGET_NS,
      measured: `${num(ns)} ns/call` +
        (cGemm ? ` (direct C: ${num(cGemm.median * 1e9)} ns/call, so N-API adds about ${num(ns - cGemm.median * 1e9)} ns)` : ''),
    };

    return {
      tables: [{
        title: 'ns per call',
        notes: [
          'native = the addon at the given kernel thread count; js = the TypeScript backend; c = bench/c/gemm.c calling cblas_sgemm in a loop. ' +
            'Native calls include argument validation (types, lengths, aliasing) in the binding; js calls include the same checks in TypeScript.',
          'getNumThreads() is the cheapest addon call (no arguments to check), i.e. the fixed cost of crossing N-API.',
        ],
        columns: ['call', 'backend', 'threads', 'ns/call'],
        rows: rows.map((r) => [r.call, r.driver, String(r.threads), r.stats ? timeCell(r.stats, 1e-9) : `skipped: ${r.skipped}`]),
      }],
      targets: [target],
      records: rows.map((r) => ({ ...r, nsPerCall: r.stats ? r.stats.median * 1e9 : null })),
    };
  },
};
