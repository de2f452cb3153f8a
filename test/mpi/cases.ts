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
  /** The loss reduces by 'sum' (default 'mean'). */
  sum?: boolean;
  /** L1 and L2 strengths on the dense weights (default none). */
  l1?: number;
  l2?: number;
}

/**
 * SGD with momentum and Adam, each with and without dropout, and SGD on a summed loss with L1 and
 * L2 penalties; 2 epochs of 6 global batches of 16.
 */
export function distributedCases(): DistributedCase[] {
  const sgd = { name: 'sgd' as const, lr: 0.05, momentum: 0.9 }, adam = { name: 'adam' as const, lr: 0.01 };
  return [
    { name: 'sgd', optimizer: sgd, dropout: 0, batchSize: 16, epochs: 2 },
    { name: 'adam', optimizer: adam, dropout: 0, batchSize: 16, epochs: 2 },
    { name: 'sgd+dropout', optimizer: sgd, dropout: 0.3, batchSize: 16, epochs: 2 },
    { name: 'adam+dropout', optimizer: adam, dropout: 0.3, batchSize: 16, epochs: 2 },
    // The summed loss's gradient is 16x the mean's: a 16th of the lr.
    { name: 'sgd+sum+penalty', optimizer: { ...sgd, lr: sgd.lr / 16 }, dropout: 0, batchSize: 16, epochs: 2, sum: true, l1: 0.02, l2: 0.1 },
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
    layers: [dense(16, { activation: 'relu', l1: c.l1, l2: c.l2 }), ...(options.bn ? [batchNorm()] : []), ...(c.dropout > 0 ? [dropout(c.dropout)] : []),
      dense(3, { activation: 'softmax', l1: c.l1, l2: c.l2 })],
  }).compile({ loss: c.sum ? { name: 'crossEntropy', reduction: 'sum' } : 'crossEntropy', optimizer: c.optimizer, metrics: ['accuracy'] });
}
