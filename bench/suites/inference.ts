/**
 * Serving throughput: the reference 784-256-128-10 ReLU MLP and a small tabular-sized 16-32-4 one
 * (softmax outputs) answering batches of 1, 16 and 1000 rows through model.predict, through
 * compileInference's function (weights read live) and through its frozen function (weights packed
 * once, blasnet's own kernels), on the native backend (default threads) and the js backend; then
 * the reference MLP with the same weights in blasnet (native) and in onnxruntime-node (the model
 * blasnet's exportOnnx writes) and PyTorch (the state_dict saveSafetensors writes), each peer in a
 * process of its own serving one sample per request (bench/peers.ts ServedPeer), all of them
 * interleaved in rounds, their outputs checked against blasnet's.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compileInference, dense, exportOnnx, Rng, saveSafetensors, Sequential } from '../../lib';
import { BackendDriver, jsDriver, nativeDriver } from '../drivers';
import { measure, repsFor, roundOrder, sampleOnce, Stats, statsOf } from '../harness';
import { InferencePeerJob, ServedPeer, startOrtInference, startTorchInference } from '../peers';
import { num, Suite, SuiteResult, Target, timeCell } from '../report';

const NETS = [[784, 256, 128, 10], [16, 32, 4]];
const BATCHES = [1, 16, 1000];
/** The net the peers run. */
const REFERENCE = NETS[0];

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

  async run(ctx): Promise<SuiteResult> {
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
    const peers = await comparePeers(ctx.timing, (msg) => ctx.progress(msg));
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

/** Pause after each sample, for idle threads that spin (OpenBLAS's, onnxruntime's) to go to sleep before the next driver's. */
const SETTLE_MS = 150;

/** One row group of the comparison: a way of answering a batch, timed one sample at a time. */
interface Contender {
  who: string;
  threads: string;
  /** One sample at `batch`: seconds per call, or why there is none (the contender is then dropped). */
  sample(batch: number): Promise<number | { reason: string }>;
  close(): Promise<void>;
  samples: Map<number, number[]>;
  /** Largest absolute difference of its outputs from blasnet's compiled function's, per batch. */
  maxDiff: Map<number, number>;
  /** The version the peer reported ('' for blasnet). */
  version: string;
  /** A peer in a process of its own (its samples' targets compare against blasnet's). */
  peer: boolean;
}

/**
 * The reference MLP (native backend, seed 1) answered by blasnet (predict, compileInference live
 * and frozen, in this process) and, with the same weights and rows, by onnxruntime-node (its
 * default threads and 1 thread) and PyTorch (its default), each peer in a process of its own
 * kept across the rounds. Per round and batch every contender takes one sample, in an order
 * that changes from round to round (harness roundOrder, a balanced Latin square), so that a slow spell of the machine lands on
 * all of them alike; medians and min-max are over the rounds.
 */
async function comparePeers(timing: InferencePeerJob['timing'], progress: (msg: string) => void):
  Promise<{ table: SuiteResult['tables'][number]; targets: Target[]; records: unknown[] }> {
  const net = REFERENCE.join('-');
  const native = nativeDriver();
  const model = buildNet(REFERENCE, native.backend);
  const infer = compileInference(model);
  const frozen = compileInference(model, { freeze: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-inference-'));
  const most = Math.max(...BATCHES);
  const x = new Rng(7).uniformArray(most * REFERENCE[0], 0, 1);
  const rowsOf = (b: number) => x.subarray(0, b * REFERENCE[0]);
  const ours = new Map(BATCHES.map((b) => [b, native.use(() => infer(rowsOf(b)).slice())]));
  const onnxFile = path.join(dir, 'model.onnx');
  const weightsFile = path.join(dir, 'model.safetensors');
  const inputFile = path.join(dir, 'input.f32');
  exportOnnx(model, onnxFile);
  saveSafetensors(model, weightsFile);
  fs.writeFileSync(inputFile, new Uint8Array(x.buffer, x.byteOffset, x.byteLength));

  const contenders: Contender[] = [];
  const skipped: string[] = [];
  const emptyByBatch = () => new Map(BATCHES.map((b) => [b, [] as number[]]));
  const diffsFrom = (outputs: (b: number) => Float32Array) => new Map(BATCHES.map((b) => [b, maxAbsDiff(ours.get(b) as Float32Array, outputs(b))]));

  // predict's outputs are not compared (it is the live function's pass in batches); the live function is the reference.
  const ownRows: { who: string; call: (b: number) => unknown; maxDiff: Map<number, number> }[] = [
    { who: 'blasnet predict', call: (b) => model.predict(rowsOf(b), { batchSize: b }), maxDiff: new Map() },
    { who: 'blasnet compileInference', call: (b) => infer(rowsOf(b)), maxDiff: new Map(BATCHES.map((b) => [b, 0])) },
    { who: 'blasnet compileInference freeze', call: (b) => frozen(rowsOf(b)), maxDiff: diffsFrom((b) => native.use(() => frozen(rowsOf(b))).slice()) },
  ];
  for (const own of ownRows) {
    progress(`inference ${net} ${own.who}: warmup`);
    const body = (b: number) => (n: number) => {
      for (let r = 0; r < n; r++) own.call(b);
    };
    const reps = new Map(BATCHES.map((b) => [b, native.use(() => repsFor(body(b), timing))]));
    contenders.push({
      who: own.who, threads: String(native.threads), version: '', peer: false, samples: emptyByBatch(), maxDiff: own.maxDiff,
      sample: async (b) => native.use(() => sampleOnce(body(b), reps.get(b) as number)),
      close: async () => undefined,
    });
  }

  const servedPeer = async (who: string, threads: string, start: (job: InferencePeerJob) => ReturnType<typeof startOrtInference>, jobThreads: number | null, tag: string) => {
    progress(`inference ${net} ${who}: start and warmup`);
    const outputsFile = path.join(dir, `${tag}.f32`);
    const started = await start({ sizes: REFERENCE, batches: BATCHES, inputFile, outputsFile, timing, threads: jobThreads });
    if (!started.ok) {
      skipped.push(`${who}: ${started.reason}`);
      return;
    }
    const peer: ServedPeer = started.peer;
    const raw = fs.readFileSync(outputsFile);
    const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const offsets = new Map<number, number>();
    let o = 0;
    for (const b of BATCHES) {
      offsets.set(b, o);
      o += (ours.get(b) as Float32Array).length;
    }
    const reported = (started.info.threads as number | null | undefined) ?? null;
    contenders.push({
      who, threads: reported === null ? threads : String(reported), version: String(started.info.version ?? ''), peer: true,
      samples: emptyByBatch(),
      maxDiff: diffsFrom((b) => all.subarray(offsets.get(b) as number, (offsets.get(b) as number) + (ours.get(b) as Float32Array).length)),
      sample: async (b) => {
        const r = await peer.run(`run ${b}`);
        return r.ok ? r.json.secondsPerCall as number : { reason: r.reason };
      },
      close: () => peer.close(),
    });
  };

  try {
    for (const threads of [null, 1]) {
      await servedPeer(`onnxruntime-node ${threads === null ? '(default threads)' : `(${threads} thread)`}`, threads === null ? 'default' : String(threads),
        (job) => startOrtInference(onnxFile, job), threads, `ort-${threads ?? 'default'}`);
    }
    await servedPeer('PyTorch (default threads)', 'default', (job) => startTorchInference(weightsFile, job), null, 'torch');

    let live = contenders.slice();
    for (let round = 0; round < timing.runs; round++) {
      progress(`inference ${net} round ${round + 1}/${timing.runs}: ${live.length} contenders`);
      for (const b of BATCHES) {
        for (const k of roundOrder(live.length, round)) {
          const c = live[k];
          const r = await c.sample(b);
          if (typeof r === 'number') (c.samples.get(b) as number[]).push(r);
          else skipped.push(`${c.who}: ${r.reason} (in round ${round + 1})`);
          await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
        }
        live = live.filter((c) => (c.samples.get(b) as number[]).length === round + 1);
      }
    }
  } finally {
    await Promise.all(contenders.map((c) => c.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const complete = contenders.filter((c) => BATCHES.every((b) => (c.samples.get(b) as number[]).length === timing.runs));
  const stats = (c: Contender, b: number): Stats => statsOf(c.samples.get(b) as number[]);
  const diffCell = (c: Contender, b: number): string => {
    const d = c.maxDiff.get(b);
    return d === undefined ? '—' : c.who === 'blasnet compileInference' ? '0 (reference)' : d.toExponential(1);
  };
  const tableRows: string[][] = [];
  for (const b of BATCHES) {
    for (const c of complete) {
      const s = stats(c, b);
      tableRows.push([c.who, c.threads, String(b), timeCell(s, 1e-6), num(b / s.median), diffCell(c, b)]);
    }
  }

  // The targets compare blasnet's functions with onnxruntime's faster thread setting at each batch.
  const find = (who: string) => complete.find((c) => c.who === who);
  const ortBest = (batch: number): Contender | null => {
    let best: Contender | null = null;
    for (const c of complete) {
      if (c.who.startsWith('onnxruntime') && (!best || stats(c, batch).median < stats(best, batch).median)) best = c;
    }
    return best;
  };
  // Per round, ours over theirs: both took their sample of that round within a few seconds of each other.
  const perRound = (a: Contender, p: Contender, b: number): string => {
    const xs = a.samples.get(b) as number[], ys = p.samples.get(b) as number[];
    const r = xs.map((t, i) => ys[i] / t);
    return r.length > 1 ? `; per round ${num(Math.min(...r))}–${num(Math.max(...r))}×, ahead in ${r.filter((v) => v >= 1).length} of ${r.length}` : '';
  };
  const targets: Target[] = [];
  for (const [who, name] of [['blasnet compileInference', 'compileInference'], ['blasnet compileInference freeze', 'compileInference freeze']]) {
    for (const batch of BATCHES) {
      const best = ortBest(batch), ours2 = find(who);
      const t = ours2 ? stats(ours2, batch).median : 0;
      const theirs = best ? stats(best, batch).median : 0;
      targets.push({
        name: `native ${net} ${name} at batch ${batch} at least onnxruntime-node's best rows/s`,
        met: best && ours2 ? t <= theirs : null,
        measured: best && ours2 ? `${num(batch / t)} vs ${num(batch / theirs)} rows/s, ${num(t * 1e6)} vs ${num(theirs * 1e6)} µs per call ` +
          `(${best.who}; medians over ${timing.runs} interleaved rounds${perRound(ours2, best, batch)})` : 'onnxruntime-node not run',
      });
    }
  }
  const peersRun = complete.filter((c) => c.peer);
  const worst = Math.max(0, ...peersRun.flatMap((c) => [...c.maxDiff.values()]));
  targets.push({
    name: 'the peers compute the same outputs (largest absolute difference from blasnet\'s at most 1e-5)',
    met: peersRun.length === 0 ? null : worst <= 1e-5,
    measured: peersRun.length === 0 ? 'no peer ran' : `largest difference ${worst.toExponential(1)} over ${peersRun.map((c) => c.who).join(', ')}`,
  });
  const frozenWorst = Math.max(...ownRows[2].maxDiff.values());
  targets.push({
    name: 'the frozen function computes the live one\'s outputs (largest absolute difference at most 1e-5)',
    met: frozenWorst <= 1e-5,
    measured: `largest difference ${frozenWorst.toExponential(1)} at batch ${BATCHES.join(', ')}`,
  });
  const version = (prefix: string): string => contenders.find((c) => c.who.startsWith(prefix))?.version ?? '';

  return {
    table: {
      title: `The reference MLP ${net} against onnxruntime-node and PyTorch, interleaved, µs per call and rows per second`,
      notes: [
        'Same weights everywhere: blasnet\'s model (seed 1, softmax outputs) written by exportOnnx for onnxruntime-node and by saveSafetensors for PyTorch ' +
          '(nn.Sequential of Linear/ReLU/Softmax, model(x) under torch.inference_mode()); the same input rows (uniform in [0, 1]), batch b taking the first b.',
        `onnxruntime-node ${version('onnxruntime')} = bench/peers/ort-infer.js --serve: InferenceSession.run awaited per call (run is asynchronous in onnxruntime-node), ` +
          `at its default intra-op threads and at 1. PyTorch ${version('PyTorch')} = bench/peers/torch_infer.py --serve at its default threads. ` +
          'Each peer in a process of its own, started and warmed up once, then serving one sample per request.',
        `Interleaved: ${timing.runs} rounds; in each round, batch by batch, every row takes one sample of at least ${timing.minTime} s (its size fixed after its warmup), ` +
          `in an order that changes from round to round (rows of a balanced Latin square, so that no row always runs first, last or after the same one), with a pause of ${SETTLE_MS} ms after each; median (min–max) over the rounds.`,
        '"max |diff|" is the largest absolute difference of the row\'s outputs (probabilities) from blasnet\'s compiled function\'s on the same rows.',
        ...skipped.map((s) => `Not run: ${s}.`),
      ],
      columns: ['who', 'threads', 'batch', 'µs per call', 'rows/s', 'max |diff|'],
      rows: tableRows,
    },
    targets,
    records: complete.map((c) => ({
      net, who: c.who, threads: c.threads,
      byBatch: Object.fromEntries(BATCHES.map((b) => {
        const s = stats(c, b);
        return [b, { seconds: s.median, min: s.min, max: s.max, samples: s.samples, maxDiff: c.maxDiff.get(b) }];
      })),
    })),
  };
}
