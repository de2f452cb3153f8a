/**
 * The benchmark entry point: `node dist/bench/run.js [suite ...] [--json] [--warmup=S] [--min-time=S] [--runs=N] [--trial=ID,...]`.
 * Suites: gemm, kernels, bandwidth, overhead, optim, training, mlp, js, ablation, scaling, inference (default: all, in that order). Prints a markdown report to stdout,
 * or one JSON document with --json; progress goes to stderr.
 */
import { buildCDriver, nativeBackend, nativeDefaultThreads } from './drivers';
import { cpuSnapshot, loadBetween, TimingOptions } from './harness';
import { describeMachine, renderMarkdown, Suite, SuiteReport } from './report';
import { ablationSuite } from './suites/ablation';
import { bandwidthSuite } from './suites/bandwidth';
import { gemmSuite } from './suites/gemm';
import { inferenceSuite } from './suites/inference';
import { jsSuite } from './suites/js';
import { kernelsSuite } from './suites/kernels';
import { mlpSuite } from './suites/mlp';
import { optimSuite } from './suites/optim';
import { overheadSuite } from './suites/overhead';
import { scalingSuite } from './suites/scaling';
import { trainingSuite } from './suites/training';

const SUITES: readonly Suite[] = [gemmSuite, kernelsSuite, bandwidthSuite, overheadSuite, optimSuite, trainingSuite, mlpSuite, jsSuite, ablationSuite, scalingSuite, inferenceSuite];

const USAGE = `usage: node dist/bench/run.js [suite ...] [--json] [--warmup=S] [--min-time=S] [--runs=N] [--trial=ID,...] [--before=PATH] [--no-touch]
  suites: ${SUITES.map((s) => s.name).join(', ')} (default: all)
  --json        print one JSON document instead of the markdown report
  --warmup=S    untimed seconds before each trial (default per suite)
  --min-time=S  minimum seconds per timed sample (default per suite)
  --runs=N      timed samples per trial; the median is reported with min and max (default per suite)
  --trial=IDS   only these trials, comma-separated, in suites that name theirs (mlp: ref-32, ref-128, ref-512, small-32)
  --before=PATH mlp: also run "native (before)" rows, interleaved with the others, from PATH = an older
                checkout's dist/bench/mlp-native.js built from this bench (copy this dist/bench there)
  --no-touch    mlp: the drivers do not read their data's pages before each timed run`;

interface Options {
  suites: Suite[];
  json: boolean;
  timing: Partial<TimingOptions>;
  only?: string[];
  before?: string;
  touch: boolean;
}

function fail(msg: string): never {
  process.stderr.write(`${msg}\n${USAGE}\n`);
  process.exit(2);
}

function positive(flag: string, v: string, integer: boolean): number {
  const x = Number(v);
  if (!(x > 0) || !Number.isFinite(x) || (integer && !Number.isInteger(x))) {
    fail(`${flag} expects a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`);
  }
  return x;
}

/** Parses the command line; exits with usage on anything it does not know. */
function parseArgs(argv: readonly string[]): Options {
  const opts: Options = { suites: [], json: false, timing: {}, touch: true };
  for (const arg of argv) {
    const [flag, value] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, ''];
    if (flag === '--help' || flag === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (flag === '--json') opts.json = true;
    else if (flag === '--warmup') opts.timing.warmup = positive(flag, value, false);
    else if (flag === '--min-time') opts.timing.minTime = positive(flag, value, false);
    else if (flag === '--runs') opts.timing.runs = positive(flag, value, true);
    else if (flag === '--trial') {
      opts.only = value.split(',').filter((id) => id !== '');
      if (opts.only.length === 0) fail('--trial expects one or more trial ids, comma-separated');
    }
    else if (flag === '--before') {
      if (value === '') fail('--before expects the path of an older build\'s dist/bench/mlp-native.js');
      opts.before = value;
    }
    else if (flag === '--no-touch' && value === '') opts.touch = false;
    else if (flag.startsWith('-')) fail(`unknown option ${arg}`);
    else {
      const suite = SUITES.find((s) => s.name === arg);
      if (!suite) fail(`unknown suite ${JSON.stringify(arg)}`);
      if (!opts.suites.includes(suite)) opts.suites.push(suite);
    }
  }
  if (opts.suites.length === 0) opts.suites = [...SUITES];
  return opts;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opts = parseArgs(args);
  const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

  let native;
  try {
    native = nativeBackend();
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`);
    process.exit(1);
  }
  // Read before any suite changes the thread count.
  nativeDefaultThreads();
  const machine = describeMachine(native.info());
  const date = new Date().toISOString();
  const command = ['node dist/bench/run.js', ...args].join(' ');

  const reports: SuiteReport[] = [];
  for (const suite of opts.suites) {
    const timing: TimingOptions = { ...suite.defaults, ...opts.timing };
    const start = Date.now();
    progress(`suite ${suite.name}: warmup ${timing.warmup} s, samples >= ${timing.minTime} s, ${timing.runs} runs`);
    const before = cpuSnapshot();
    const result = await suite.run({ timing, progress, only: opts.only, before: opts.before, touch: opts.touch });
    const load = loadBetween(before, cpuSnapshot());
    reports.push({ name: suite.name, title: suite.title, summary: suite.summary, timing, load, ...result });
    progress(`suite ${suite.name} took ${((Date.now() - start) / 1000).toFixed(1)} s`);
  }
  const cBuild = opts.suites.some((s) => s === gemmSuite || s === overheadSuite) ? buildCDriver() : null;
  const cDesc = cBuild ? (cBuild.error ? `failed: ${cBuild.error}` : `\`${cBuild.command}\``) : null;

  if (opts.json) {
    const targets = reports.flatMap((r) => r.targets);
    process.stdout.write(`${JSON.stringify({ date, command, machine, cBuild, suites: reports, targets }, null, 2)}\n`);
  } else {
    process.stdout.write(`${renderMarkdown({ date, command, machine, suites: reports, cBuild: cDesc, suiteNames: SUITES.map((x) => x.name) })}\n`);
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
  process.exit(1);
});
