#!/usr/bin/env node
/**
 * onnxruntime-node peer for the inference suite: times InferenceSession.run on an ONNX model (the
 * one blasnet's exportOnnx wrote) at several batch sizes, the way a Node.js server calls it.
 *
 *   node bench/peers/ort-infer.js --model=FILE --input=FILE --features=784 --batches=1,16,1000 \
 *     [--threads=N] [--warmup=S] [--min-time=S] [--runs=N] [--outputs=FILE] [--serve]
 *
 * --input is raw little-endian float32 rows of --features values, at least as many rows as the
 * largest batch; batch b uses its first b rows. --threads sets intraOpNumThreads (default:
 * onnxruntime's own, one per physical core). --outputs, when given, receives each batch's outputs
 * as raw float32, the batches one after another in --batches order, so the caller can compare
 * them with its own.
 *
 * Timing follows bench/harness.ts measure: growing untimed batches of calls until --warmup seconds
 * have passed, then --runs samples of enough calls to last --min-time each; every call awaits its
 * result (run is asynchronous in onnxruntime-node: the computation happens on its own threads and
 * the promise settles on the event loop), which is the latency a caller sees.
 *
 * --serve: warm up and size each batch's sample as above, write --outputs, print one JSON line
 *   {"peer":"onnxruntime-node","version":...,"threads":...,"reps":{"1":n,...}}
 * then time one sample for each line "run B" read from stdin (B one of --batches) and answer it
 * with one JSON line {"batch":B,"secondsPerCall":s}; exit when stdin ends. The caller can then
 * interleave this peer's samples with its own and other peers' (bench/peers.ts ServedPeer).
 *
 * Needs `ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix bench/peers` (onnxruntime-node's bundled
 * CPU build; nothing else is downloaded).
 *
 * Progress goes to stderr; stdout carries exactly one JSON line:
 *   {"peer":"onnxruntime-node","version":"1.30.0","threads":n|null,
 *    "results":[{"batch":n,"reps":n,"secondsPerCall":[...]}, ...]}
 *
 * Exit codes: 0 success, 1 error, 2 bad arguments, 3 onnxruntime-node not installed.
 */
'use strict';

const fs = require('fs');

const EXIT_ERROR = 1;
const EXIT_USAGE = 2;
const EXIT_NOT_INSTALLED = 3;

function usage(message) {
  process.stderr.write(`ort-infer: ${message}\n`);
  process.exit(EXIT_USAGE);
}

function parseArgs(argv) {
  const opts = { threads: null, warmup: 0.2, minTime: 0.2, runs: 5, outputs: null, serve: false };
  for (const arg of argv) {
    if (arg === '--serve') {
      opts.serve = true;
      continue;
    }
    const eq = arg.indexOf('=');
    if (!arg.startsWith('--') || eq < 0) usage(`expected --name=value, got ${JSON.stringify(arg)}`);
    const name = arg.slice(2, eq);
    const value = arg.slice(eq + 1);
    const positive = (integer) => {
      const x = Number(value);
      if (!(x > 0) || !Number.isFinite(x) || (integer && !Number.isInteger(x))) usage(`--${name} expects a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}`);
      return x;
    };
    if (name === 'model' || name === 'input' || name === 'outputs') opts[name] = value;
    else if (name === 'features') opts.features = positive(true);
    else if (name === 'batches') {
      opts.batches = value.split(',').map((v) => Number(v));
      if (opts.batches.some((b) => !(b > 0) || !Number.isInteger(b))) usage(`--batches expects positive integers, got ${JSON.stringify(value)}`);
    } else if (name === 'threads') opts.threads = positive(true);
    else if (name === 'warmup') opts.warmup = positive(false);
    else if (name === 'min-time') opts.minTime = positive(false);
    else if (name === 'runs') opts.runs = positive(true);
    else usage(`unknown option --${name}`);
  }
  for (const k of ['model', 'input', 'features', 'batches']) if (opts[k] === undefined) usage(`--${k} is required`);
  return opts;
}

function loadOrt() {
  try {
    return { ort: require('onnxruntime-node'), version: require('onnxruntime-node/package.json').version };
  } catch (e) {
    process.stderr.write(`ort-infer: onnxruntime-node is not installed (${e.message}); ` +
      'run ONNXRUNTIME_NODE_INSTALL=skip npm ci --prefix bench/peers\n');
    process.exit(EXIT_NOT_INSTALLED);
  }
}

const now = () => Number(process.hrtime.bigint()) / 1e9;

/** bench/harness.ts repsFor, for an asynchronous call: warms up and sizes a sample. */
async function repsFor(call, warmup, minTime) {
  let batch = 1;
  let perOp = 0;
  const t0 = now();
  for (;;) {
    const s = now();
    for (let i = 0; i < batch; i++) await call();
    const e = now();
    perOp = (e - s) / batch;
    if (e - t0 >= warmup) break;
    batch *= 2;
  }
  return Math.max(1, Math.ceil(minTime / Math.max(perOp, 1e-10)));
}

/** Seconds per call over one sample of `reps` awaited calls. */
async function sample(call, reps) {
  const s = now();
  for (let i = 0; i < reps; i++) await call();
  return (now() - s) / reps;
}

/** bench/harness.ts measure, for an asynchronous call. */
async function measure(call, warmup, minTime, runs) {
  const reps = await repsFor(call, warmup, minTime);
  const samples = [];
  for (let r = 0; r < runs; r++) samples.push(await sample(call, reps));
  return { reps, samples };
}

/** --serve: one sample per "run B" line of stdin, answered on stdout. */
async function serve(version, threads, calls, reps) {
  process.stdout.write(`${JSON.stringify({ peer: 'onnxruntime-node', version, threads, reps: Object.fromEntries(reps) })}\n`);
  const lines = require('readline').createInterface({ input: process.stdin });
  for await (const line of lines) {
    const m = /^run (\d+)$/.exec(line.trim());
    const batch = m ? Number(m[1]) : NaN;
    if (!calls.has(batch)) {
      process.stderr.write(`ort-infer: expected "run B" with B one of the batches, got ${JSON.stringify(line)}\n`);
      process.exit(EXIT_USAGE);
    }
    const secondsPerCall = await sample(calls.get(batch), reps.get(batch));
    process.stdout.write(`${JSON.stringify({ batch, secondsPerCall })}\n`);
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { ort, version } = loadOrt();
  const raw = fs.readFileSync(opts.input);
  const input = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength >> 2);
  const most = Math.max(...opts.batches);
  if (input.length < most * opts.features) usage(`--input holds ${input.length} values, fewer than ${most} rows of ${opts.features}`);
  const session = await ort.InferenceSession.create(opts.model, opts.threads === null ? {} : { intraOpNumThreads: opts.threads });
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  const results = [];
  const outputs = [];
  const calls = new Map();
  const repsByBatch = new Map();
  for (const batch of opts.batches) {
    process.stderr.write(`ort-infer: batch ${batch}\n`);
    // A copy per batch: the tensor must own exactly batch rows.
    const feeds = { [inputName]: new ort.Tensor('float32', input.slice(0, batch * opts.features), [batch, opts.features]) };
    const call = () => session.run(feeds);
    if (opts.serve) {
      calls.set(batch, call);
      repsByBatch.set(batch, await repsFor(call, opts.warmup, opts.minTime));
    } else {
      const { reps, samples } = await measure(call, opts.warmup, opts.minTime, opts.runs);
      results.push({ batch, reps, secondsPerCall: samples });
    }
    if (opts.outputs) outputs.push(Buffer.from((await session.run(feeds))[outputName].data.slice().buffer));
  }
  if (opts.outputs) fs.writeFileSync(opts.outputs, Buffer.concat(outputs));
  if (opts.serve) return serve(version, opts.threads, calls, repsByBatch);
  process.stdout.write(`${JSON.stringify({ peer: 'onnxruntime-node', version, threads: opts.threads, results })}\n`);
}

main().catch((e) => {
  process.stderr.write(`ort-infer: ${e && e.stack ? e.stack : e}\n`);
  process.exit(EXIT_ERROR);
});
