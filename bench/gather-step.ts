/**
 * The minibatch gather as a training step meets it: each batch of Fashion-MNIST's training rows
 * (shuffled, as fit's epochs are) is gathered into a 64-byte aligned batch buffer, and then a GEMM
 * of the reference MLP's first layer (batch x 784 by 784 x 256, on the kernel threads) reads that
 * buffer, as the step's forward pass does. Epochs alternate between gatherRows (every epoch after
 * fit's first) and gatherRowsChecked (fit's first epoch, which tests every gathered value for NaN
 * and infinity); only the gathers are timed.
 *
 * Each sample is a fresh process. With --before PATH (another build's dist/lib) the two builds
 * alternate process by process and the report pairs them.
 *
 *   node dist/bench/gather-step.js [--samples 7] [--epochs 6] [--batch 128] [--no-gemm] [--before OLD/dist/lib] [--json]
 *
 * --no-gemm leaves the GEMM out: the gather alone, back to back.
 */
import * as os from 'os';
import * as path from 'path';
import { alternateBuilds, arg, median } from './harness';

interface Sample {
  /** Microseconds per gather call, median over the epochs of each kind. */
  plainUs: number;
  checkedUs: number;
  threads: number;
  isa: string;
  core: string;
  /** Where the source rows and the batch start, bytes past a 64-byte boundary. */
  srcOffset: number;
  dstOffset: number;
}

function child(): void {
  const lib = path.resolve(arg('lib', path.join(__dirname, '..', 'lib')));
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const b = require(lib) as typeof import('../lib');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const memory = require(path.join(lib, 'backend', 'memory')) as typeof import('../lib/backend/memory');
  const be = b.getBackend('native');
  const batch = Number(arg('batch', '128')), epochs = Number(arg('epochs', '6'));
  const gemm = !process.argv.includes('--no-gemm');
  const train = b.loadFashionMnist({ split: 'train' });
  const rows = train.x.rows, cols = train.x.cols, src = train.x.data;
  const dst = memory.alignedFloat32Array(batch * cols);
  const w = new b.Rng(1).uniformArray(256 * cols, -0.05, 0.05), z = memory.alignedFloat32Array(batch * 256);
  const order = new Int32Array(rows), state = new Int32Array([1, 2, 3, 4]);
  const times: Record<'plain' | 'checked', number[]> = { plain: [], checked: [] };
  for (let e = 0; e < 2 * epochs; e++) {
    const checked = e % 2 === 1;
    be.shuffledRange(rows, state, order);
    let ns = 0n, calls = 0;
    for (let s = 0; s + batch <= rows; s += batch) {
      const index = order.subarray(s, s + batch);
      const t0 = process.hrtime.bigint();
      if (checked) be.gatherRowsChecked(batch, cols, rows, index, src, dst);
      else be.gatherRows(batch, cols, rows, index, src, dst);
      ns += process.hrtime.bigint() - t0;
      calls++;
      if (gemm) be.gemm(false, true, batch, 256, cols, 1, dst, w, 0, z);
    }
    times[checked ? 'checked' : 'plain'].push(Number(ns) / 1e3 / calls);
  }
  const info = be.info() as { kernelIsa?: string; coreName?: string };
  // The addon that build loaded (its own, or BLASNET_ADDON_PATH), for where the arrays start.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { addonPath } = require(path.join(lib, 'backend', 'native')) as typeof import('../lib/backend/native');
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const addon = require(addonPath()) as { addressOffset(x: Float32Array): number };
  const out: Sample = {
    plainUs: median(times.plain.slice(1)), checkedUs: median(times.checked.slice(1)), threads: be.getNumThreads(),
    isa: String(info.kernelIsa), core: String(info.coreName), srcOffset: addon.addressOffset(src), dstOffset: addon.addressOffset(dst),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

const range = (xs: number[]) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`;

function main(): void {
  const { rows, before: beforeRows, beforeLib: before } = alternateBuilds<Sample>(__filename);
  const samples = rows.length;
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ rows, before: beforeRows })}\n`);
    return;
  }
  const r0 = rows[0];
  process.stdout.write(`gather of ${arg('batch', '128')} Fashion-MNIST rows per call, ${process.argv.includes('--no-gemm') ? 'back to back' : 'each followed by a 784 -> 256 GEMM reading the batch'}; ` +
    `${r0.threads} threads, kernels ${r0.isa}, OpenBLAS core ${r0.core}, ${os.cpus()[0].model}; ${samples} fresh processes per build\n`);
  process.stdout.write('| build | gatherRows, us | gatherRowsChecked, us | checked / plain | source, batch offset (bytes past 64) |\n| --- | --- | --- | --- | --- |\n');
  const line = (name: string, s: Sample[]) => process.stdout.write(`| ${name} | ${range(s.map((r) => r.plainUs))} | ${range(s.map((r) => r.checkedUs))} | ` +
    `${median(s.map((r) => r.checkedUs / r.plainUs)).toFixed(3)} | ${[...new Set(s.map((r) => `${r.srcOffset}, ${r.dstOffset}`))].join('; ')} |\n`);
  if (before) line(`before (${before})`, beforeRows);
  line('this build', rows);
  if (before) {
    const d = rows.map((r, i) => r.checkedUs - beforeRows[i].checkedUs);
    process.stdout.write(`gatherRowsChecked, this build minus before, per pair: median ${median(d).toFixed(1)} us (${Math.min(...d).toFixed(1)} to ${Math.max(...d).toFixed(1)})\n`);
  }
}

if (process.argv.includes('--child')) child();
else main();
