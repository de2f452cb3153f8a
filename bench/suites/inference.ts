/**
 * Serving throughput: the reference 784-256-128-10 ReLU MLP and a small tabular-sized 16-32-4 one
 * (softmax outputs) answering batches of 1 and 1000 rows through model.predict and through
 * compileInference's function, on the native backend (default threads) and the js backend.
 */
import { compileInference, dense, Rng, Sequential } from '../../lib';
import { BackendDriver, jsDriver, nativeDriver } from '../drivers';
import { measure, Stats } from '../harness';
import { num, Suite, SuiteResult, timeCell } from '../report';

const NETS = [[784, 256, 128, 10], [16, 32, 4]];
const BATCHES = [1, 1000];

interface Row {
  net: string;
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
  summary: `Time per call and rows per second of the ${NETS.map((n) => n.join('-')).join(' and ')} ReLU MLPs (softmax outputs) in inference mode, through ` +
    'model.predict (checks and converts its input, returns a new Matrix, 256 rows per pass) and through the function compileInference returns ' +
    '(one pass over the whole batch into a reused buffer, nothing allocated per call).',
  defaults: { warmup: 0.2, minTime: 0.2, runs: 5 },

  run(ctx): SuiteResult {
    const rows: Row[] = [];
    const drivers: BackendDriver[] = [nativeDriver(), jsDriver()];
    for (const sizes of NETS) for (const d of drivers) {
      const model = new Sequential({
        inputSize: sizes[0], seed: 1, backend: d.backend,
        layers: [...sizes.slice(1, -1).map((s) => dense(s, { activation: 'relu' })), dense(sizes[sizes.length - 1], { activation: 'softmax' })],
      });
      const infer = compileInference(model);
      const net = sizes.join('-');
      for (const batch of BATCHES) {
        const x = new Rng(batch).uniformArray(batch * sizes[0], 0, 1);
        ctx.progress(`inference ${net} ${d.name} batch ${batch}`);
        const predict = d.use(() => measure((reps) => {
          for (let r = 0; r < reps; r++) model.predict(x, { batchSize: batch });
        }, ctx.timing));
        const compiled = d.use(() => measure((reps) => {
          for (let r = 0; r < reps; r++) infer(x);
        }, ctx.timing));
        rows.push({ net, driver: d.name, threads: d.threads, batch, predict, compiled });
      }
    }
    return {
      tables: [{
        title: 'µs per call (median, min–max of the runs) and rows per second',
        notes: [
          'predict is given batchSize = the batch, so both make one pass; the difference is the per-call work around the kernels.',
          'js rows: the TypeScript kernels run at whatever speed the JIT left them in (the first caller after a change of shapes often runs faster), so differences between the two paths there are mostly that, not the paths.',
        ],
        columns: ['net', 'backend', 'threads', 'batch', 'predict µs', 'compiled µs', 'predict rows/s', 'compiled rows/s', 'speedup'],
        rows: rows.map((r) => [r.net, r.driver, String(r.threads), String(r.batch), timeCell(r.predict, 1e-6), timeCell(r.compiled, 1e-6),
          num(r.batch / r.predict.median), num(r.batch / r.compiled.median), `${num(r.predict.median / r.compiled.median)}x`]),
      }],
      targets: [],
      records: rows.map((r) => ({
        net: r.net, driver: r.driver, threads: r.threads, batch: r.batch,
        predictSeconds: r.predict.median, compiledSeconds: r.compiled.median,
        predictRowsPerSecond: r.batch / r.predict.median, compiledRowsPerSecond: r.batch / r.compiled.median,
      })),
    };
  },
};
