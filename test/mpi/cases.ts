/** The models and data the distributed tests train, shared by the rank script and the test. */
import { batchNorm, dense, dropout, getBackend, Rng, Sequential } from '../../lib';
import type { BackendName } from '../../lib';

/** One training configuration: optimiser, dropout rate, global batch size, epochs. */
export interface DistributedCase {
  name: string;
  optimizer: { name: 'sgd'; lr: number; momentum: number } | { name: 'adam'; lr: number };
  dropout: number;
  batchSize: number;
  epochs: number;
}

/** SGD with momentum and Adam, each with and without dropout; 2 epochs of 6 global batches of 16. */
export function distributedCases(): DistributedCase[] {
  const sgd = { name: 'sgd' as const, lr: 0.05, momentum: 0.9 }, adam = { name: 'adam' as const, lr: 0.01 };
  return [
    { name: 'sgd', optimizer: sgd, dropout: 0, batchSize: 16, epochs: 2 },
    { name: 'adam', optimizer: adam, dropout: 0, batchSize: 16, epochs: 2 },
    { name: 'sgd+dropout', optimizer: sgd, dropout: 0.3, batchSize: 16, epochs: 2 },
    { name: 'adam+dropout', optimizer: adam, dropout: 0.3, batchSize: 16, epochs: 2 },
  ];
}

/** Three seeded Gaussian blobs in 6 dimensions: 96 training rows and 30 validation rows. */
export function distributedData(): { x: Float32Array; y: Int32Array; xVal: Float32Array; yVal: Int32Array } {
  const rng = new Rng(41);
  const make = (n: number) => {
    const x = new Float32Array(n * 6), y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = rng.int(3);
      for (let j = 0; j < 6; j++) x[i * 6 + j] = (j === y[i] ? 2 : 0) + rng.normal();
    }
    return { x, y };
  };
  const t = make(96), v = make(30);
  return { x: t.x, y: t.y, xVal: v.x, yVal: v.y };
}

/**
 * The case's model (6-16-3, ReLU, optional dropout; with `bn` a BatchNorm after the hidden layer),
 * compiled, on BLASNET_BACKEND or the default backend. `seed` (default 7) sets the initial weights.
 */
export function distributedModel(c: DistributedCase, options: { seed?: number; bn?: boolean } = {}): Sequential {
  const name = process.env.BLASNET_BACKEND as BackendName | undefined;
  return new Sequential({
    inputSize: 6, seed: options.seed ?? 7, backend: name ? getBackend(name) : undefined,
    layers: [dense(16, { activation: 'relu' }), ...(options.bn ? [batchNorm()] : []), ...(c.dropout > 0 ? [dropout(c.dropout)] : []),
      dense(3, { activation: 'softmax' })],
  }).compile({ loss: 'crossEntropy', optimizer: c.optimizer, metrics: ['accuracy'] });
}
