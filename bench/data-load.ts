/**
 * What loading the data costs in a fresh process: Fashion-MNIST's training and test sets read
 * from Debian's gzipped IDX files (loadFashionMnist: read, gunzip, convert to float32 in [0, 1])
 * and the training set copied into a Dataset (its SharedArrayBuffer), each timed in wall time with
 * the minor page faults it took (process.resourceUsage). Every fresh page a buffer's first write
 * touches is a fault; with transparent huge pages one fault covers 2 MB.
 *
 * Setups alternate process by process, so the machine's drift falls on all alike: this build;
 * this build with BLASNET_HUGE_PAGES=0 (no huge-page advice); with BLASNET_PREFAULT=0 (buffers
 * about to be filled are not mapped ahead in one system call); and with --before PATH, another
 * build's dist/lib.
 *
 *   node dist/bench/data-load.js [--samples 7] [--before OLD/dist/lib] [--json]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { arg, freshProcessSample, median } from './harness';

const PHASES = ['train', 'test', 'dataset'] as const;
type Phase = typeof PHASES[number];

interface Sample {
  ms: Record<Phase, number>;
  faults: Record<Phase, number>;
  /** AnonHugePages of the process at the end, kB. */
  anonHugeKb: number;
}

function child(): void {
  const lib = path.resolve(arg('lib', path.join(__dirname, '..', 'lib')));
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const b = require(lib) as typeof import('../lib');
  const faults = () => process.resourceUsage().minorPageFault;
  const ms = {} as Record<Phase, number>, counts = {} as Record<Phase, number>;
  const time = <T>(phase: Phase, body: () => T): T => {
    const f0 = faults(), t0 = performance.now();
    const out = body();
    ms[phase] = performance.now() - t0;
    counts[phase] = faults() - f0;
    return out;
  };
  const train = time('train', () => b.loadFashionMnist({ split: 'train' }));
  time('test', () => b.loadFashionMnist({ split: 'test' }));
  const data = time('dataset', () => b.Dataset.from(train.x, train.labels));
  if (data.rows !== train.x.rows) throw new Error('Dataset lost rows');
  const rollup = fs.readFileSync('/proc/self/smaps_rollup', 'utf8');
  const anonHugeKb = Number(/^AnonHugePages:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
  process.stdout.write(`${JSON.stringify({ ms, faults: counts, anonHugeKb } satisfies Sample)}\n`);
}

interface Setup {
  label: string;
  lib: string;
  env: Record<string, string>;
}

function thp(): string {
  const read = (f: string) => {
    try {
      return fs.readFileSync(f, 'utf8').trim();
    } catch {
      return 'absent';
    }
  };
  return `transparent huge pages: enabled ${read('/sys/kernel/mm/transparent_hugepage/enabled')}, ` +
    `defrag ${read('/sys/kernel/mm/transparent_hugepage/defrag')}, size ${read('/sys/kernel/mm/transparent_hugepage/hpage_pmd_size')} B`;
}

function main(): void {
  const samples = Number(arg('samples', '7'));
  const before = arg('before', '');
  const lib = path.resolve(arg('lib', path.join(__dirname, '..', 'lib')));
  const setups: Setup[] = [
    ...(before ? [{ label: `before (${path.resolve(before)})`, lib: path.resolve(before), env: {} }] : []),
    { label: 'this build, BLASNET_HUGE_PAGES=0', lib, env: { BLASNET_HUGE_PAGES: '0' } },
    { label: 'this build, BLASNET_PREFAULT=0', lib, env: { BLASNET_PREFAULT: '0' } },
    { label: 'this build', lib, env: {} },
  ];
  const rows = setups.map(() => [] as Sample[]);
  for (let s = 0; s < samples; s++) setups.forEach((setup, i) => rows[i].push(freshProcessSample<Sample>(__filename, ['--lib', setup.lib], setup.label, setup.env)));
  const summary = setups.map((setup, i) => ({
    label: setup.label,
    ms: Object.fromEntries(PHASES.map((p) => [p, {
      median: median(rows[i].map((r) => r.ms[p])), min: Math.min(...rows[i].map((r) => r.ms[p])), max: Math.max(...rows[i].map((r) => r.ms[p])),
    }])),
    faults: Object.fromEntries(PHASES.map((p) => [p, median(rows[i].map((r) => r.faults[p]))])),
    totalMs: median(rows[i].map((r) => PHASES.reduce((t, p) => t + r.ms[p], 0))),
    anonHugeKb: median(rows[i].map((r) => r.anonHugeKb)),
  }));
  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} CPUs, Linux ${os.release()}, Node ${process.version}; ${thp()}`;
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ machine, samples, summary, rows })}\n`);
    return;
  }
  process.stdout.write(`data loading in fresh processes, ${samples} per setup, alternating; ${machine}\n`);
  process.stdout.write('ms: median (min-max); faults: minor page faults, median\n');
  process.stdout.write('| setup | train set: ms | faults | test set: ms | faults | Dataset.from(train): ms | faults | all three, ms | AnonHugePages at the end, MB |\n');
  process.stdout.write('| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n');
  const f = (m: { median: number; min: number; max: number }) => `${m.median.toFixed(0)} (${m.min.toFixed(0)}-${m.max.toFixed(0)})`;
  for (const s of summary) {
    process.stdout.write(`| ${s.label} | ${PHASES.map((p) => `${f(s.ms[p])} | ${s.faults[p]}`).join(' | ')} | ${s.totalMs.toFixed(0)} | ${(s.anonHugeKb / 1024).toFixed(0)} |\n`);
  }
}

if (process.argv.includes('--child')) child();
else main();
