/**
 * Event-loop delay while training (run by the training suite in its own process):
 * monitorEventLoopDelay samples the main thread's delay while the reference MLP trains one epoch
 * of Fashion-MNIST, first with fitAsync (in a worker), then with fit (on the main thread) for
 * contrast. Prints one JSON object.
 *
 *   node dist/bench/eventloop.js [batchSize] [epochs]
 */
import { monitorEventLoopDelay } from 'perf_hooks';
import { dense, loadFashionMnist, Sequential } from '../lib';

function model(): Sequential {
  return new Sequential({
    inputSize: 784, seed: 1,
    layers: [dense(256, { activation: 'relu' }), dense(128, { activation: 'relu' }), dense(10)],
  }).compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 }, metrics: ['accuracy'] });
}

async function main(): Promise<void> {
  const batchSize = Number(process.argv[2] ?? 128);
  const epochs = Number(process.argv[3] ?? 1);
  const train = loadFashionMnist({ split: 'train' });
  const ms = (ns: number) => ns / 1e6;
  const stats = (h: ReturnType<typeof monitorEventLoopDelay>) => ({
    p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), samples: h.count,
  });
  // A timer keeps the loop ticking so there is a delay to measure even when nothing else runs.
  const tick = setInterval(() => undefined, 1);

  const a = model();
  const ha = monitorEventLoopDelay({ resolution: 1 });
  ha.enable();
  await new Promise((r) => setTimeout(r, 20));
  const t0 = process.hrtime.bigint();
  const hist = await a.fitAsync(train.x, train.labels, { epochs, batchSize });
  const asyncSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  ha.disable();

  const s = model();
  const hs = monitorEventLoopDelay({ resolution: 1 });
  hs.enable();
  // Let the sampling timer arm before the loop is blocked, so the blocked time is recorded.
  await new Promise((r) => setTimeout(r, 20));
  const t1 = process.hrtime.bigint();
  s.fit(train.x, train.labels, { epochs, batchSize });
  await new Promise((r) => setTimeout(r, 5));
  const syncSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
  hs.disable();
  clearInterval(tick);

  const same = a.params.every((v, i) => v === s.params[i]);
  process.stdout.write(`${JSON.stringify({
    batchSize, epochs, backend: a.backend.name, threads: a.backend.getNumThreads(),
    async: { seconds: asyncSeconds, samplesPerSecond: (epochs * train.x.rows) / asyncSeconds, delay: stats(ha), loss: hist.epochs[hist.epochs.length - 1].loss },
    sync: { seconds: syncSeconds, samplesPerSecond: (epochs * train.x.rows) / syncSeconds, delay: stats(hs) },
    sameWeights: same,
  })}\n`);
}

void main();
