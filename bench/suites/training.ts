/**
 * Training as a user runs it: the default job (`blasnet train`, the README's main job) for its
 * test accuracy and time, and the event loop's delay while the reference MLP trains with
 * fitAsync (in a worker) against fit (on the main thread). Each runs in its own process.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from '../drivers';
import { num, Suite, SuiteResult, Target } from '../report';

const ACCURACY_TARGET = 0.89;
const TIME_TARGET_S = 60;
const DELAY_TARGET_MS = 10;

function runJson(args: string[], cwd: string): { json: Record<string, unknown> | null; wall: number; error: string | null } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 600000, maxBuffer: 64 << 20 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) return { json: null, wall, error: `exit ${r.status}: ${r.stderr.trim().split('\n').pop()}` };
  try {
    return { json: JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, unknown>, wall, error: null };
  } catch {
    return { json: null, wall, error: 'no JSON result line' };
  }
}

export const trainingSuite: Suite = {
  name: 'training',
  title: 'Training: the default job and the event loop',
  summary: 'The README\'s main job (`blasnet train`: 784-256-128-10 ReLU MLP, Adam 1e-3 with a cosine schedule, batch 128, 15 epochs, Fashion-MNIST) run as a user runs it, and the main thread\'s event-loop delay (perf_hooks monitorEventLoopDelay, 1 ms resolution) while the same MLP trains one epoch with fitAsync and with fit, at batch 128 and at batch 512 (the fastest setting of the mlp suite), at the default kernel thread count.',
  defaults: { warmup: 0, minTime: 0, runs: 1 },

  run(ctx): SuiteResult {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-bench-'));
    try {
      ctx.progress('training: blasnet train (the default job)');
      const cli = path.join(ROOT, 'dist', 'lib', 'cli.js');
      const job = runJson([cli, 'train', '--quiet', '--out', 'm.blasnet', '--history', 'h.csv', '--curves', 'c'], tmp);
      // The event loop at the default job's batch and at the fastest batch of the mlp suite (512),
      // both at the default thread count: the speed must not come from blocking the main thread.
      type Side = { seconds: number; samplesPerSecond: number; delay: { p50: number; p99: number; max: number; samples: number } };
      type Loop = { async: Side; sync: Side; sameWeights: boolean; backend: string; threads: number; batchSize: number };
      const loops: { batch: number; run: ReturnType<typeof runJson>; json: Loop | null }[] = [];
      for (const batch of [128, 512]) {
        ctx.progress(`training: event-loop delay at batch ${batch}, fitAsync vs fit`);
        const run = runJson([path.join(ROOT, 'dist', 'bench', 'eventloop.js'), String(batch), '1'], tmp);
        loops.push({ batch, run, json: run.json as Loop | null });
      }
      const j = job.json as { testAccuracy: number; seconds: number; epochs: number; backend: string } | null;
      const targets: Target[] = [
        {
          name: `default job: test accuracy >= ${ACCURACY_TARGET} in under ${TIME_TARGET_S} s on this machine`,
          met: j ? j.testAccuracy >= ACCURACY_TARGET && job.wall < TIME_TARGET_S : null,
          measured: j ? `test accuracy ${j.testAccuracy.toFixed(4)}, ${num(job.wall)} s from command to exit (${num(j.seconds)} s loading, training and testing)` : `not measured: ${job.error}`,
        },
        ...loops.map(({ batch, run, json: l }) => ({
          name: `event-loop delay p99 under ${DELAY_TARGET_MS} ms while fitAsync trains the reference MLP at batch ${batch}${l ? `, ${l.threads} kernel threads` : ''}`,
          met: l ? l.async.delay.p99 < DELAY_TARGET_MS : null,
          measured: l ? `p99 ${num(l.async.delay.p99)} ms (p50 ${num(l.async.delay.p50)}, max ${num(l.async.delay.max)}); with fit on the main thread: p99 ${num(l.sync.delay.p99)} ms, max ${num(l.sync.delay.max)} ms` : `not measured: ${run.error}`,
        })),
      ];
      const rows: string[][] = [];
      if (j) rows.push(['blasnet train (default job)', j.backend, '128', String(j.epochs), `${num(job.wall)} s`, '–', j.testAccuracy.toFixed(4), '–', '–', '–']);
      for (const { batch, json: l } of loops) {
        if (!l) continue;
        for (const [name, side] of [['fitAsync, 1 epoch', l.async], ['fit, 1 epoch', l.sync]] as const) {
          rows.push([name, `${l.backend} (${l.threads} thr)`, String(batch), '1', `${num(side.seconds)} s`, num(side.samplesPerSecond), '–', num(side.delay.p50), num(side.delay.p99), num(side.delay.max)]);
        }
      }
      return {
        tables: [{
          title: 'Default job and event-loop delay',
          notes: [
            'Wall time is from starting the process to its exit, data loading included. Delay columns are the main thread\'s event-loop delay in ms.',
            ...loops.filter((x) => x.json).map(({ batch, json: l }) => `Batch ${batch}: fitAsync and fit reached ${(l as Loop).sameWeights ? 'bit-identical' : 'DIFFERENT'} weights from the same seed.`),
            'fitAsync\'s time includes starting its worker and copying the training set to shared memory (pass SharedArrayBuffer-backed data to skip the copy); the epochs run with metrics: [\'accuracy\'].',
          ].filter(Boolean),
          columns: ['run', 'backend', 'batch', 'epochs', 'time', 'samples/s', 'test accuracy', 'delay p50', 'delay p99', 'delay max'],
          rows,
        }],
        targets,
        records: [{ job: job.json, jobWall: job.wall, eventLoop: loops.map((x) => x.json) }],
      };
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
};
