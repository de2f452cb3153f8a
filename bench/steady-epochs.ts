/**
 * Epoch after epoch of the reference MLP on Fashion-MNIST, one fit call per epoch on one
 * Dataset, and the subnormal numbers left in the optimiser's state at the end: shows whether
 * later epochs run as fast as the first (they did not while Adam's moments of always-zero
 * gradients decayed into float32's subnormal range).
 *
 *   node dist/bench/steady-epochs.js [--batch 32] [--epochs 4] [--hidden 256,128] [--backend native]
 */
import { Dataset, dense, getBackend, loadFashionMnist, Sequential } from '../lib';
import { arg } from './harness';

const batch = Number(arg('batch', '32'));
const epochs = Number(arg('epochs', '4'));
const hidden = arg('hidden', '256,128').split(',').map(Number);
const backend = getBackend(arg('backend', 'native') as 'js' | 'native');
const train = loadFashionMnist({ split: 'train' });
const data = Dataset.from(train.x, train.labels);
const model = new Sequential({ inputSize: 784, seed: 1, backend, layers: [...hidden.map((h) => dense(h, { activation: 'relu' })), dense(10)] })
  .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 1e-3 } });
console.log(`784-${hidden.join('-')}-10, Adam 1e-3, batch ${batch}, ${backend.name} backend, ${backend.getNumThreads()} thread(s), kernels ${JSON.stringify(backend.info().kernelIsa ?? null)}`);
for (let e = 1; e <= epochs; e++) {
  const t0 = process.hrtime.bigint();
  model.fit(data, { epochs: 1, batchSize: batch });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`epoch ${e}: ${Math.round(data.rows / s)} samples/s`);
}
const state = Buffer.from(model.optimizer?.state().arena as string, 'base64');
const moments = new Float32Array(state.buffer, state.byteOffset, state.length / 4);
let subnormal = 0;
for (const v of moments) if (v !== 0 && Math.abs(v) < 2 ** -126) subnormal++;
console.log(`subnormal values in the optimiser state: ${subnormal} of ${moments.length}`);
