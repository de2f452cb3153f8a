/**
 * Serving throughput: the reference 784-256-128-10 ReLU MLP (softmax output) answering batches of
 * 1 and 1000 rows through model.predict and through compileInference's function, on the native
 * backend (default threads) and the js backend.
 */
import { compileInference, dense, Rng, Sequential } from '../../lib';
import { BackendDriver, jsDriver, nativeDriver } from '../drivers';
import { measure, Stats } from '../harness';
import { num, Suite, SuiteResult, timeCell } from '../report';

const SIZES = [784, 256, 128, 10];
const BATCHES = [1, 1000];

interface Row {
  driver: string;
  threads: number;
  batch: number;
  predict: Stats;
  compiled: Stats;
}

/** predict vs compileInference at batch 1 and 1000. */
export const inferenceSuite: Suite = {
  name: 'inference',
  title: 'Inference: predict vs compileInference',
  summary: `Time per call and rows per second of the ${SIZES.join('-')} ReLU MLP (softmax output) in inference mode, through ` +
    'model.predict (checks and converts its input, returns a new Matrix, 256 rows per pass) and through the function compileInference returns ' +
    '(one pass over the whole batch into a reused buffer, nothing allocated per call).',
  defaults: { warmup: 0.2, minTime: 0.2, runs: 5 },

  run(ctx): SuiteResult {
    const rows: Row[] = [];
    const drivers: BackendDriver[] = [nativeDriver(), jsDriver()];
    for (const d of drivers) {
      const model = new Sequential({
        inputSize: SIZES[0], seed: 1, backend: d.backend,
        layers: [...SIZES.slice(1, -1).map((s) => dense(s, { activation: 'relu' })), dense(SIZES[SIZES.length - 1], { activation: 'softmax' })],
      });
      const infer = compileInference(model);
      for (const batch of BATCHES) {
        const x = new Rng(batch).uniformArray(batch * SIZES[0], 0, 1);
        ctx.progress(`inference ${d.name} batch ${batch}`);
        const predict = d.use(() => measure((reps) => {
          for (let r = 0; r < reps; r++) model.predict(x, { batchSize: batch });
        }, ctx.timing));
        const compiled = d.use(() => measure((reps) => {
          for (let r = 0; r < reps; r++) infer(x);
        }, ctx.timing));
        rows.push({ driver: d.name, threads: d.threads, batch, predict, compiled });
      }
    }
    return {
      tables: [{
        title: 'µs per call (median, min–max of the runs) and rows per second',
        notes: ['predict is given batchSize = the batch, so both make one pass; the difference is the per-call work around the kernels.'],
        columns: ['backend', 'threads', 'batch', 'predict µs', 'compiled µs', 'predict rows/s', 'compiled rows/s', 'speedup'],
        rows: rows.map((r) => [r.driver, String(r.threads), String(r.batch), timeCell(r.predict, 1e-6), timeCell(r.compiled, 1e-6),
          num(r.batch / r.predict.median), num(r.batch / r.compiled.median), `${num(r.predict.median / r.compiled.median)}x`]),
      }],
      targets: [],
      records: rows.map((r) => ({
        driver: r.driver, threads: r.threads, batch: r.batch,
        predictSeconds: r.predict.median, compiledSeconds: r.compiled.median,
        predictRowsPerSecond: r.batch / r.predict.median, compiledRowsPerSecond: r.batch / r.compiled.median,
      })),
    };
  },
};
