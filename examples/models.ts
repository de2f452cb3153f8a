/**
 * Three small models with the Sequential API and plain full-batch gradient descent (one axpy over
 * the whole parameter arena per step):
 *
 *   - XOR, the classic a linear model cannot learn: 2-4-1, tanh hidden layer, sigmoid output
 *     fused with binary cross-entropy;
 *   - logistic regression as a one-layer network: Dense(1, sigmoid) on two Gaussian classes;
 *   - a regression net: 1-32-32-1 tanh MLP fitting sin(x) with mean squared error.
 *
 *   node dist/examples/models.js
 */
import { dense, Matrix, Rng, Sequential } from '../lib';
import type { Backend } from '../lib';

/** Plain gradient descent: params -= lr * grads, one kernel call over every parameter. */
function step(model: Sequential, lr: number): void {
  model.backend.axpy(model.params.length, -lr, model.grads, model.params);
}

export function xor(backend?: Backend): { loss: number; predictions: number[] } {
  const model = new Sequential({
    inputSize: 2, seed: 3, backend,
    layers: [dense(4, { activation: 'tanh' }), dense(1, { activation: 'sigmoid' })],
    loss: 'binaryCrossEntropy',
  });
  const x = Matrix.from([[0, 0], [0, 1], [1, 0], [1, 1]]);
  const y = new Float32Array([0, 1, 1, 0]);
  let loss = 0;
  for (let i = 0; i < 2000; i++) {
    loss = model.lossAndGradient(x, y);
    step(model, 1);
  }
  return { loss, predictions: Array.from(model.predict(x).data) };
}

export function logisticRegression(backend?: Backend): { loss: number; accuracy: number; weights: number[] } {
  // Two Gaussian classes centred at (-1, -1) and (1, 1).
  const rng = new Rng(11);
  const n = 400;
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    const c = y[i] ? 1 : -1;
    x[2 * i] = c + rng.normal();
    x[2 * i + 1] = c + rng.normal();
  }
  const model = new Sequential({ inputSize: 2, seed: 1, backend, layers: [dense(1, { activation: 'sigmoid' })], loss: 'binaryCrossEntropy' });
  let loss = 0;
  for (let i = 0; i < 500; i++) {
    loss = model.lossAndGradient(x, y);
    step(model, 0.5);
  }
  const p = model.predict(x).data;
  let correct = 0;
  for (let i = 0; i < n; i++) if ((p[i] > 0.5 ? 1 : 0) === y[i]) correct++;
  return { loss, accuracy: correct / n, weights: Array.from(model.params) };
}

export function regression(backend?: Backend): { trainMse: number; testMse: number } {
  const rng = new Rng(5);
  const sample = (n: number) => {
    const x = new Float32Array(n), y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = rng.range(-Math.PI, Math.PI);
      y[i] = Math.sin(x[i]);
    }
    return { x, y };
  };
  const train = sample(256), test = sample(100);
  const model = new Sequential({
    inputSize: 1, seed: 2, backend,
    layers: [dense(32, { activation: 'tanh' }), dense(32, { activation: 'tanh' }), dense(1)],
    loss: 'mse',
  });
  let trainMse = 0;
  for (let i = 0; i < 3000; i++) {
    trainMse = model.lossAndGradient(train.x, train.y);
    step(model, 0.1);
  }
  const p = model.predict(test.x).data;
  let se = 0;
  for (let i = 0; i < test.y.length; i++) se += (p[i] - test.y[i]) ** 2;
  return { trainMse, testMse: se / test.y.length };
}

function main(): void {
  const x = xor();
  console.log(`XOR: loss ${x.loss.toFixed(4)}, predictions ${x.predictions.map((v) => v.toFixed(3)).join(' ')}`);
  const l = logisticRegression();
  console.log(`logistic regression: loss ${l.loss.toFixed(4)}, accuracy ${l.accuracy.toFixed(3)}, ` +
    `w = [${l.weights.slice(0, 2).map((v) => v.toFixed(3)).join(', ')}], b = ${l.weights[2].toFixed(3)}`);
  const r = regression();
  console.log(`regression of sin(x): train mse ${r.trainMse.toExponential(2)}, test mse ${r.testMse.toExponential(2)}`);
}

if (require.main === module) main();
