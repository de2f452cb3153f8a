/**
 * What a suite returns and how it is printed: markdown tables (readable on a terminal and pasted
 * as is into bench/RESULTS.md) or one JSON document.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import type { Load, Rate, Stats, TimingOptions } from './harness';

/** A printed table; every cell is already formatted. */
export interface Table {
  title: string;
  /** Lines under the title: what the rows mean, backends and thread counts, skipped cells. */
  notes: string[];
  columns: string[];
  rows: string[][];
}

/** One of the issue's performance targets, checked against what was measured. */
export interface Target {
  name: string;
  /** null when the figures it needs were not measured (a driver was skipped). */
  met: boolean | null;
  /** The measured figure and how it compares with the requirement. */
  measured: string;
}

/** What a suite measured. */
export interface SuiteResult {
  tables: Table[];
  targets: Target[];
  /** Raw figures (seconds per operation, rates) for --json. */
  records: unknown[];
}

/** A suite's result with how it was run. */
export interface SuiteReport extends SuiteResult {
  name: string;
  title: string;
  summary: string;
  timing: TimingOptions;
  /** Other processes' share of the machine while the suite ran. */
  load: Load | null;
}

/** Handed to a suite while it runs. */
export interface SuiteContext {
  timing: TimingOptions;
  /** Progress for the operator; goes to stderr so that stdout stays a clean report. */
  progress(msg: string): void;
  /** Trial ids to run (--trial), for suites that name their trials; all when absent. */
  only?: string[];
  /** mlp: an older build's dist/bench/mlp-native.js whose runs join the rounds as "native (before)" (--before). */
  before?: string;
  /**
   * mlp: blasnet native, PyTorch, js and naive JS read one value of every 4 KB page of their data
   * before each timed run, untimed (default true; --no-touch). Between its runs a driver idles
   * while the others run, and on this VM the first epoch after an idle of a minute ran 10-30%
   * slower until the data's pages had been read again (bench/RESULTS.md, run T).
   */
  touch?: boolean;
}

/** A table of trials run by every driver. */
export interface Suite {
  name: string;
  title: string;
  /** What the suite measures, printed under its heading. */
  summary: string;
  /** Timing that fits the suite into the overall budget (CLI flags override it). */
  defaults: TimingOptions;
  run(ctx: SuiteContext): SuiteResult | Promise<SuiteResult>;
}

/** The machine the figures belong to. */
export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  openblasConfig: string;
  openblasCoreName: string;
  defaultThreads: number;
  openblasCoretypeEnv: string;
  cc: string;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim();
  } catch {
    return 'unavailable';
  }
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'));
    if (m) return `${m[1]}, ${os.type()} ${os.release()} ${os.arch()}`;
  } catch {
    // Not every system has /etc/os-release; the kernel line alone still identifies it.
  }
  return `${os.type()} ${os.release()} ${os.arch()}`;
}

/** Describes this machine; `native` is the native backend's info() at its default thread count. */
export function describeMachine(native: { config: string; coreName: string; numThreads: number }): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: osName(),
    node: process.version,
    openblasConfig: native.config,
    openblasCoreName: native.coreName,
    defaultThreads: native.numThreads,
    openblasCoretypeEnv: process.env.OPENBLAS_CORETYPE ?? '(unset)',
    cc: firstLine('cc', ['--version']),
  };
}

/** A number with about three significant digits and no exponent, for table cells. */
export function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a === 0) return '0';
  return x.toPrecision(3);
}

/** "median (min–max)" of a rate. */
export function rateCell(r: Rate, scale = 1): string {
  return `${num(r.median / scale)} (${num(r.min / scale)}–${num(r.max / scale)})`;
}

/** "median (min–max)" of a time, in `unit` seconds (1e-9 for ns). */
export function timeCell(s: Stats, unit: number): string {
  return `${num(s.median / unit)} (${num(s.min / unit)}–${num(s.max / unit)})`;
}

/** A column header naming the driver and its thread count. */
export function driverHeader(name: string, threads: number, unit: string): string {
  return `${name}, ${threads} thr: ${unit}`;
}

function markdownTable(t: Table): string {
  const widths = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => (r[i] ?? '').length), 3));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(t.columns), rule, ...t.rows.map(line)].join('\n');
}

/** Share of the machine's CPU time that other work took, as a percentage. */
export function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** Above this share of the machine, other work has probably moved the figures. */
export const BUSY_MACHINE = 0.05;

function loadLine(l: Load): string {
  const warn = l.others + l.steal > BUSY_MACHINE ? ' The machine was not idle: figures from this suite may be low or noisy.' : '';
  return `Background: other processes used ${pct(l.others)} of the machine's CPU time during this suite, hypervisor steal ${pct(l.steal)}.${warn}`;
}

function targetLine(t: Target): string {
  const verdict = t.met === null ? 'NOT MEASURED' : t.met ? 'PASS' : 'FAIL';
  return `- **${verdict}** ${t.name}: ${t.measured}`;
}

/** The whole run as markdown. */
export function renderMarkdown(run: { date: string; command: string; machine: Machine; suites: SuiteReport[];
  cBuild: string | null; suiteNames: readonly string[]; }): string {
  const m = run.machine;
  const out: string[] = [];
  out.push('# blasnet benchmarks', '');
  out.push(`Measured ${run.date} with \`${run.command}\`.`);
  out.push(`Reproduce with \`npm run build && node dist/bench/run.js\` (append suite names to run fewer: ${run.suiteNames.map((n) => `\`${n}\``).join(', ')}; \`--json\` for JSON).`, '');
  out.push('## Machine', '');
  out.push(markdownTable({
    title: 'machine',
    notes: [],
    columns: ['what', 'value'],
    rows: [
      ['CPU', `${m.cpu} (${m.cores} cores as seen by os.cpus())`],
      ['memory', `${m.memoryGiB} GiB`],
      ['OS', m.os],
      ['Node', m.node],
      ['OpenBLAS', m.openblasConfig],
      ['OpenBLAS core', m.openblasCoreName],
      ['blasnet kernel threads (default; OpenBLAS itself runs on 1)', String(m.defaultThreads)],
      ['OPENBLAS_CORETYPE', m.openblasCoretypeEnv],
      ['C compiler', m.cc],
      ['c driver build', run.cBuild ?? 'not built (no GEMM suite in this run)'],
    ],
  }), '');
  out.push('Cells are the median over the timed samples, with the lowest and highest sample in brackets.',
    'Each sample repeats the operation until it lasts at least the suite\'s minimum time, after an untimed warmup.', '');

  for (const s of run.suites) {
    out.push(`## ${s.title}`, '', s.summary, '');
    out.push(`Timing: ${s.timing.warmup} s warmup, samples of at least ${s.timing.minTime} s, ${s.timing.runs} samples.`);
    if (s.load) out.push(loadLine(s.load));
    out.push('');
    for (const t of s.tables) {
      out.push(`### ${t.title}`, '');
      for (const n of t.notes) out.push(n);
      if (t.notes.length) out.push('');
      out.push(markdownTable(t), '');
    }
  }

  const targets = run.suites.flatMap((s) => s.targets);
  if (targets.length) {
    out.push('## Targets', '');
    for (const t of targets) out.push(targetLine(t));
    out.push('');
  }
  return out.join('\n');
}
