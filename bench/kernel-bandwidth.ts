/**
 * The bandwidth suite's measuring child: times blasnet's non-GEMM native kernels at the
 * instruction-set level this process loaded with (BLASNET_ISA), on one kernel thread, and prints
 * one JSON line {isa, threads, kernels: [{id, seconds: Stats}]}. IDS (comma-separated) measures only
 * those kernels: an older build (BLASNET_ADDON_PATH) lacks the newer ones.
 *
 *   node dist/bench/kernel-bandwidth.js N TIMING_JSON [IDS]
 */
import { activationId, createOptimizer, getBackend, lossId, Rng } from '../lib';
import type { Backend, OptimizerSpec } from '../lib';
import { Body, measure, Stats, TimingOptions } from './harness';

/** A kernel over n elements and the bytes per element it must read and write. */
export interface BandwidthKernel {
  id: string;
  label: string;
  bytes: number;
  traffic: string;
  /** Whether its loop is compiled per instruction-set level (native/isa.h). */
  leveled: boolean;
}

/** Class count of the cross-entropy row: the reference MLP's. */
const CLASSES = 10;
/** Gathered row width: a Fashion-MNIST image. */
const GATHER_COLS = 784;

export const BANDWIDTH_KERNELS: readonly BandwidthKernel[] = [
  { id: 'adam', label: 'Adam step', bytes: 28, traffic: 'p, g, m, v read; p, m, v written', leveled: true },
  { id: 'sgd', label: 'SGD step, momentum 0.9', bytes: 20, traffic: 'p, g, buf read; p, buf written', leveled: true },
  { id: 'relu', label: 'ReLU forward', bytes: 8, traffic: 'x read, y written', leveled: true },
  { id: 'relu-back', label: 'ReLU backward', bytes: 12, traffic: 'x, dy read; dx written', leveled: true },
  { id: 'sigmoid', label: 'sigmoid forward', bytes: 8, traffic: 'x read, y written', leveled: true },
  { id: 'tanh', label: 'tanh forward', bytes: 8, traffic: 'x read, y written', leveled: true },
  { id: 'tanh-back', label: 'tanh backward', bytes: 12, traffic: 'y, dy read; dx written', leveled: true },
  { id: 'colsum', label: 'colSum (bias gradient), 256 columns', bytes: 4, traffic: 'x read', leveled: true },
  { id: 'mul', label: 'mul', bytes: 12, traffic: 'x, y read; out written', leveled: true },
  { id: 'axpy', label: 'axpy', bytes: 12, traffic: 'x, y read; y written', leveled: true },
  { id: 'scale', label: 'scale', bytes: 8, traffic: 'x read and written', leveled: true },
  { id: 'clamp', label: 'clamp', bytes: 8, traffic: 'x read and written', leveled: true },
  { id: 'scan', label: 'firstNonFinite (fit\'s NaN scan)', bytes: 4, traffic: 'x read', leveled: true },
  { id: 'gather', label: `gatherRows, ${GATHER_COLS}-float rows`, bytes: 8, traffic: 'source rows read, batch written', leveled: false },
  {
    id: 'gather-checked', label: `gatherRowsChecked (fit's first epoch), ${GATHER_COLS}-float rows`, bytes: 8,
    traffic: 'source rows read, batch written, then read again from cache to test it', leveled: true,
  },
  { id: 'labels', label: 'firstLabelOutside (fit\'s label check)', bytes: 4, traffic: 'labels read', leveled: true },
  { id: 'softmax', label: `softmax, rows of ${CLASSES}`, bytes: 8, traffic: 'x read, y written', leveled: true },
  { id: 'xent', label: `crossEntropy loss + gradient, ${CLASSES} classes`, bytes: 8, traffic: 'logits read, gradient written', leveled: true },
];

/** A body running kernel `id` over n elements (rounded to whole rows where it has rows). */
function body(b: Backend, id: string, n: number): Body {
  const rng = new Rng(5);
  const x = rng.uniformArray(n, -4, 4), y = rng.uniformArray(n, -1, 1), out = new Float32Array(n);
  const act = (name: 'relu' | 'sigmoid' | 'tanh') => activationId(name);
  const rows = Math.floor(n / CLASSES);
  const loop = (f: () => void): Body => (reps) => { for (let r = 0; r < reps; r++) f(); };
  switch (id) {
    case 'adam':
    case 'sgd': {
      const spec: OptimizerSpec = id === 'adam' ? { name: 'adam' } : { name: 'sgd', lr: 0.01, momentum: 0.9 };
      const opt = createOptimizer(spec, { params: x, grads: y, backend: b });
      return loop(() => opt.step());
    }
    case 'relu': return loop(() => b.activation(act('relu'), 0, n, x, out));
    case 'relu-back': return loop(() => b.activationBackward(act('relu'), 0, n, x, x, y, out));
    case 'sigmoid': return loop(() => b.activation(act('sigmoid'), 0, n, x, out));
    case 'tanh': return loop(() => b.activation(act('tanh'), 0, n, x, out));
    case 'tanh-back': return loop(() => b.activationBackward(act('tanh'), 0, n, x, x, y, out));
    case 'colsum': {
      const cols = 256, sums = new Float32Array(cols);
      return loop(() => b.colSum(Math.floor(n / cols), cols, 0, x, sums));
    }
    case 'mul': return loop(() => b.mul(n, x, y, out));
    case 'axpy': return loop(() => b.axpy(n, 1e-9, x, out));
    case 'scale': return loop(() => b.scale(n, 1, out));
    case 'clamp': return loop(() => b.clamp(n, -1, 1, out));
    case 'scan': return loop(() => { b.firstNonFinite(n, x); });
    case 'gather':
    case 'gather-checked': {
      const rows = Math.floor(n / GATHER_COLS), srcRows = 60000;
      const src = new Rng(6).uniformArray(srcRows * GATHER_COLS, 0, 1);
      const index = Int32Array.from({ length: rows }, () => Math.floor(rng.uniform() * srcRows));
      if (id === 'gather') return loop(() => b.gatherRows(rows, GATHER_COLS, srcRows, index, src, out));
      return loop(() => { b.gatherRowsChecked(rows, GATHER_COLS, srcRows, index, src, out); });
    }
    case 'labels': {
      const labels = Int32Array.from({ length: n }, (_, i) => i % CLASSES);
      return loop(() => { b.firstLabelOutside(n, labels, CLASSES); });
    }
    case 'softmax': return loop(() => b.softmax(rows, CLASSES, x, out));
    case 'xent': {
      const labels = Int32Array.from({ length: rows }, (_, i) => i % CLASSES);
      return loop(() => { b.loss(lossId('crossEntropy'), 0, rows, CLASSES, x, labels, out); });
    }
    default: throw new Error(`unknown kernel ${id}`);
  }
}

function main(): void {
  const n = Number(process.argv[2]);
  const timing = JSON.parse(process.argv[3] ?? '{}') as TimingOptions;
  if (!Number.isInteger(n) || n < 1 || !(timing.runs >= 1)) {
    process.stderr.write('usage: kernel-bandwidth N TIMING_JSON\n');
    process.exit(2);
  }
  const b = getBackend('native');
  b.setNumThreads(1);
  const only = process.argv[4] ? process.argv[4].split(',') : null;
  const kernels: { id: string; seconds: Stats }[] = BANDWIDTH_KERNELS.filter((k) => !only || only.includes(k.id))
    .map((k) => ({ id: k.id, seconds: measure(body(b, k.id, n), timing) }));
  process.stdout.write(`${JSON.stringify({ isa: b.info().kernelIsa, threads: 1, kernels })}\n`);
}

if (require.main === module) main();
