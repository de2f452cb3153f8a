/**
 * Serving throughput: the reference 784-256-128-10 ReLU MLP and a small tabular-sized 16-32-4 one
 * (softmax outputs) answering batches of 1, 16 and 1000 rows through model.predict, through
 * compileInference's function (weights read live) and through its frozen function (weights packed
 * once, blasnet's own kernels), on the native backend (default threads) and the js backend; then
 * the reference MLP with the same weights in onnxruntime-node (the model blasnet's exportOnnx
 * writes) and PyTorch (the state_dict saveSafetensors writes), each in a process of its own
 * (bench/peers.ts), their outputs checked against blasnet's.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compileInference, dense, exportOnnx, Rng, saveSafetensors, Sequential } from '../../lib';
import { BackendDriver, jsDriver, nativeDriver } from '../drivers';
import { measure, Stats } from '../harness';
import { InferencePeerJob, runOrtInference, runTorchInference } from '../peers';
import { num, Suite, SuiteResult, Target, timeCell } from '../report';

const NETS = [[784, 256, 128, 10], [16, 32, 4]];
const BATCHES = [1, 16, 1000];
/** The net the peers run. */
const REFERENCE = NETS[0];

/** One peer row of the comparison table. */
interface PeerRow {
  who: string;
  threads: string;
  byBatch: Map<number, Stats>;
  /** Largest absolute difference of its outputs from blasnet's compiled function's, per batch. */
  maxDiff: Map<number, number>;
  /** The peer's version as it reported it. */
  version: unknown;
}

const buildNet = (sizes: readonly number[], backend: BackendDriver['backend']): Sequential => new Sequential({
  inputSize: sizes[0], seed: 1, backend,
  layers: [...sizes.slice(1, -1).map((s) => dense(s, { activation: 'relu' })), dense(sizes[sizes.length - 1], { activation: 'softmax' })],
});

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return a.length === b.length ? d : Infinity;
}

interface Row {
  net: string;
  driver: string;
  threads: number;
  batch: number;
  predict: Stats;
  compiled: Stats;
  /** compileInference(model, { freeze: true }). */
  frozen: Stats;
}

/** predict vs compileInference at batch 1 and 1000. */
export const inferenceSuite: Suite = {
  name: 'inference',
  title: 'Inference: predict vs compileInference',
  summary: `Time per call and rows per second of the ${NETS.map((n) => n.join('-')).join(' and ')} ReLU MLPs (softmax outputs) in inference mode, through ` +
    'model.predict (checks and converts its input, returns a new Matrix, 256 rows per pass) and through the function compileInference returns ' +
    '(one pass over the whole batch into a reused buffer, nothing allocated per call), live and frozen (freeze: true, the weights packed once for ' +
    'blasnet\'s own kernels); then the reference MLP against onnxruntime-node and PyTorch ' +
    'with the same weights, each peer in a process of its own.',
  defaults: { warmup: 0.2, minTime: 0.2, runs: 5 },

  run(ctx): SuiteResult {
    const rows: Row[] = [];
    const drivers: BackendDriver[] = [nativeDriver(), jsDriver()];
    for (const sizes of NETS) for (const d of drivers) {
      const model = buildNet(sizes, d.backend);
      const infer = compileInference(model);
      const frozen = compileInference(model, { freeze: true });
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
        const frozenStats = d.use(() => measure((reps) => {
          for (let r = 0; r < reps; r++) frozen(x);
        }, ctx.timing));
        rows.push({ net, driver: d.name, threads: d.threads, batch, predict, compiled, frozen: frozenStats });
      }
    }
    const peers = comparePeers(ctx.timing, rows, (msg) => ctx.progress(msg));
    return {
      tables: [{
        title: 'µs per call (median, min–max of the runs) and rows per second',
        notes: [
          'predict is given batchSize = the batch, so both make one pass; the difference is the per-call work around the kernels.',
          'frozen = compileInference(model, { freeze: true }): the dense layers run packedDenseForward over weights packed at compile time (native: AVX-512/AVX2 micro-kernels, bias and activation fused); "frozen speedup" is compiled / frozen.',
          'js rows: the TypeScript kernels run at whatever speed the JIT left them in (the first caller after a change of shapes often runs faster), so differences between the two paths there are mostly that, not the paths.',
        ],
        columns: ['net', 'backend', 'threads', 'batch', 'predict µs', 'compiled µs', 'frozen µs', 'predict rows/s', 'compiled rows/s', 'frozen rows/s', 'speedup', 'frozen speedup'],
        rows: rows.map((r) => [r.net, r.driver, String(r.threads), String(r.batch), timeCell(r.predict, 1e-6), timeCell(r.compiled, 1e-6),
          timeCell(r.frozen, 1e-6), num(r.batch / r.predict.median), num(r.batch / r.compiled.median), num(r.batch / r.frozen.median),
          `${num(r.predict.median / r.compiled.median)}x`, `${num(r.compiled.median / r.frozen.median)}x`]),
      }, peers.table],
      targets: peers.targets,
      records: [...rows.map((r) => ({
        net: r.net, driver: r.driver, threads: r.threads, batch: r.batch,
        predictSeconds: r.predict.median, compiledSeconds: r.compiled.median, frozenSeconds: r.frozen.median,
        predictRowsPerSecond: r.batch / r.predict.median, compiledRowsPerSecond: r.batch / r.compiled.median,
        frozenRowsPerSecond: r.batch / r.frozen.median,
      })), ...peers.records],
    };
  },
};

/**
 * The reference MLP (native backend, seed 1) exported to ONNX and safetensors in a temporary
 * directory, run by onnxruntime-node (its default threads and 1 thread) and PyTorch (its default)
 * on the same rows; their times beside blasnet's rows of this run, and how far their outputs are
 * from blasnet's compiled function's.
 */
function comparePeers(timing: InferencePeerJob['timing'], rows: readonly Row[], progress: (msg: string) => void):
  { table: SuiteResult['tables'][number]; targets: Target[]; records: unknown[] } {
  const net = REFERENCE.join('-');
  const native = nativeDriver();
  const model = buildNet(REFERENCE, native.backend);
  const infer = compileInference(model);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-inference-'));
  const most = Math.max(...BATCHES);
  const x = new Rng(7).uniformArray(most * REFERENCE[0], 0, 1);
  const ours = new Map(BATCHES.map((b) => [b, native.use(() => infer(x.subarray(0, b * REFERENCE[0])).slice())]));
  const frozen = compileInference(model, { freeze: true });
  const frozenDiff = new Map(BATCHES.map((b) => [b, maxAbsDiff(ours.get(b) as Float32Array, native.use(() => frozen(x.subarray(0, b * REFERENCE[0]))))]));
  const onnxFile = path.join(dir, 'model.onnx');
  const weightsFile = path.join(dir, 'model.safetensors');
  const inputFile = path.join(dir, 'input.f32');
  exportOnnx(model, onnxFile);
  saveSafetensors(model, weightsFile);
  fs.writeFileSync(inputFile, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));

  const peers: PeerRow[] = [];
  const skipped: string[] = [];
  const settle = (who: string, threads: string, r: ReturnType<typeof runOrtInference>, outputsFile: string) => {
    if (!r.ok) {
      skipped.push(`${who}: ${r.reason}`);
      return;
    }
    const raw = fs.readFileSync(outputsFile);
    const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const maxDiff = new Map<number, number>();
    let o = 0;
    for (const b of BATCHES) {
      const mine = ours.get(b) as Float32Array;
      maxDiff.set(b, maxAbsDiff(mine, all.subarray(o, o + mine.length)));
      o += mine.length;
    }
    const reported = (r.run.info.threads as number | null | undefined) ?? null;
    peers.push({ who, threads: reported === null ? threads : String(reported), byBatch: r.run.byBatch, maxDiff, version: r.run.info.version });
  };
  try {
    for (const threads of [null, 1]) {
      const who = `onnxruntime-node ${threads === null ? '(default threads)' : `(${threads} thread)`}`;
      progress(`inference ${net} ${who}`);
      const outputsFile = path.join(dir, `ort-${threads ?? 'default'}.f32`);
      settle(who, threads === null ? 'default' : String(threads),
        runOrtInference(onnxFile, { sizes: REFERENCE, batches: BATCHES, inputFile, outputsFile, timing, threads }), outputsFile);
    }
    progress(`inference ${net} PyTorch (default threads)`);
    const outputsFile = path.join(dir, 'torch.f32');
    settle('PyTorch (default threads)', 'default',
      runTorchInference(weightsFile, { sizes: REFERENCE, batches: BATCHES, inputFile, outputsFile, timing, threads: null }), outputsFile);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const mine = rows.filter((r) => r.net === net && r.driver === 'native');
  const version = (prefix: string): string => String(peers.find((p) => p.who.startsWith(prefix))?.version ?? '');
  const tableRows: string[][] = [];
  for (const r of mine) {
    tableRows.push([`blasnet predict`, String(r.threads), String(r.batch), timeCell(r.predict, 1e-6), num(r.batch / r.predict.median), '—']);
    tableRows.push([`blasnet compileInference`, String(r.threads), String(r.batch), timeCell(r.compiled, 1e-6), num(r.batch / r.compiled.median), '0 (reference)']);
    tableRows.push([`blasnet compileInference freeze`, String(r.threads), String(r.batch), timeCell(r.frozen, 1e-6), num(r.batch / r.frozen.median),
      frozenDiff.has(r.batch) ? (frozenDiff.get(r.batch) as number).toExponential(1) : '—']);
    for (const p of peers) {
      const s = p.byBatch.get(r.batch);
      if (s) tableRows.push([p.who, p.threads, String(r.batch), timeCell(s, 1e-6), num(r.batch / s.median), (p.maxDiff.get(r.batch) as number).toExponential(1)]);
    }
  }

  // The targets compare the compiled function with onnxruntime's faster thread setting.
  const ortBest = (batch: number): { who: string; s: Stats } | null => {
    let best: { who: string; s: Stats } | null = null;
    for (const p of peers) {
      const s = p.byBatch.get(batch);
      if (p.who.startsWith('onnxruntime') && s && (!best || s.median < best.s.median)) best = { who: p.who, s };
    }
    return best;
  };
  const ourRow = (batch: number) => mine.find((r) => r.batch === batch);
  const targets: Target[] = [];
  const versus = (batch: number, path: 'compiled' | 'frozen', name: string): void => {
    const best = ortBest(batch), ours = ourRow(batch);
    const t = ours ? ours[path].median : 0;
    targets.push({
      name: `native ${net} ${name} at batch ${batch} at least onnxruntime-node's best rows/s`,
      met: best && ours ? t <= best.s.median : null,
      measured: best && ours ? `${num(batch / t)} vs ${num(batch / best.s.median)} rows/s, ${num(t * 1e6)} vs ${num(best.s.median * 1e6)} µs per call (${best.who}; medians)` : 'onnxruntime-node not run',
    });
  };
  for (const batch of BATCHES) versus(batch, 'compiled', 'compileInference');
  for (const batch of BATCHES) versus(batch, 'frozen', 'compileInference freeze');
  const worst = Math.max(0, ...peers.flatMap((p) => [...p.maxDiff.values()]));
  targets.push({
    name: 'the peers compute the same outputs (largest absolute difference from blasnet\'s at most 1e-5)',
    met: peers.length === 0 ? null : worst <= 1e-5,
    measured: peers.length === 0 ? 'no peer ran' : `largest difference ${worst.toExponential(1)} over ${peers.map((p) => p.who).join(', ')}`,
  });

  const frozenWorst = Math.max(...frozenDiff.values());
  targets.push({
    name: 'the frozen function computes the live one\'s outputs (largest absolute difference at most 1e-5)',
    met: frozenWorst <= 1e-5,
    measured: `largest difference ${frozenWorst.toExponential(1)} at batch ${BATCHES.join(', ')}`,
  });

  return {
    table: {
      title: `The reference MLP ${net} against onnxruntime-node and PyTorch, µs per call and rows per second`,
      notes: [
        'Same weights everywhere: blasnet\'s model (seed 1, softmax outputs) written by exportOnnx for onnxruntime-node and by saveSafetensors for PyTorch ' +
          '(nn.Sequential of Linear/ReLU/Softmax, model(x) under torch.inference_mode()); the same input rows (uniform in [0, 1]), batch b taking the first b.',
        `onnxruntime-node ${version('onnxruntime')} = bench/peers/ort-infer.js: InferenceSession.run awaited per call (run is asynchronous in onnxruntime-node), ` +
          `at its default intra-op threads and at 1. PyTorch ${version('PyTorch')} = bench/peers/torch_infer.py at its default threads. Each peer in a process of its own, timed like blasnet's rows.`,
        '"max |diff|" is the largest absolute difference of the peer\'s outputs (probabilities) from blasnet\'s compiled function\'s on the same rows.',
        ...skipped.map((s) => `Not run: ${s}.`),
      ],
      columns: ['who', 'threads', 'batch', 'µs per call', 'rows/s', 'max |diff|'],
      rows: tableRows,
    },
    targets,
    records: peers.map((p) => ({
      net, peer: p.who, threads: p.threads,
      byBatch: Object.fromEntries([...p.byBatch].map(([b, s]) => [b, { seconds: s.median, min: s.min, max: s.max, maxDiff: p.maxDiff.get(b) }])),
    })),
  };
}
