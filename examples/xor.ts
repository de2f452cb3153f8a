/**
 * XOR with the kernel layer alone: a 2-8-1 network (tanh hidden layer, sigmoid output folded into
 * binary cross-entropy on logits), full-batch gradient descent with momentum. Every step is two
 * fused dense forwards, one fused loss, two fused dense backwards and one axpy per parameter.
 *
 *   node dist/examples/xor.js
 */
import { activationId, defaultBackend, lossId, Rng } from '../lib';

const b = defaultBackend();
const rng = new Rng(7);

const X = new Float32Array([0, 0, 0, 1, 1, 0, 1, 1]);
const Y = new Float32Array([0, 1, 1, 0]);
const batch = 4, inDim = 2, hidden = 8, outDim = 1;

// Parameters and their gradients, each in one flat array with views per tensor.
const sizes = [hidden * inDim, hidden, outDim * hidden, outDim];
const total = sizes.reduce((s, n) => s + n, 0);
const params = new Float32Array(total);
const grads = new Float32Array(total);
const velocity = new Float32Array(total);
const views = (arena: Float32Array) => {
  let off = 0;
  return sizes.map((n) => arena.subarray(off, (off += n)));
};
const [w1, b1, w2, b2] = views(params);
const [dw1, db1, dw2, db2] = views(grads);

// Xavier-uniform weights (tanh layer), zero biases.
const init = (w: Float32Array, fanIn: number, fanOut: number) => {
  const bound = Math.sqrt(6 / (fanIn + fanOut));
  for (let i = 0; i < w.length; i++) w[i] = rng.range(-bound, bound);
};
init(w1, inDim, hidden);
init(w2, hidden, outDim);

// Workspaces, allocated once.
const z1 = new Float32Array(batch * hidden), h = new Float32Array(batch * hidden);
const logits = new Float32Array(batch * outDim);
const dLogits = new Float32Array(batch * outDim), dh = new Float32Array(batch * hidden), dz1 = new Float32Array(batch * hidden);

const TANH = activationId('tanh'), IDENTITY = activationId('identity'), BCE = lossId('binaryCrossEntropy');
const lr = 0.5, momentum = 0.9;

console.log(`blasnet XOR demo on the ${b.name} backend (${b.info().config})`);
let loss = Infinity;
for (let step = 1; step <= 500; step++) {
  b.denseForward(TANH, 0, batch, inDim, hidden, X, w1, b1, z1, h);
  b.denseForward(IDENTITY, 0, batch, hidden, outDim, h, w2, b2, logits, logits);
  loss = b.loss(BCE, 0, batch, outDim, logits, Y, dLogits);
  b.denseBackward(IDENTITY, 0, batch, hidden, outDim, 0, h, w2, logits, logits, dLogits, dLogits, dw2, db2, dh);
  b.denseBackward(TANH, 0, batch, inDim, hidden, 0, X, w1, z1, h, dh, dz1, dw1, db1, null);
  // v = momentum * v + g; p -= lr * v (PyTorch SGD with momentum), over the whole arena at once.
  b.scale(total, momentum, velocity);
  b.axpy(total, 1, grads, velocity);
  b.axpy(total, -lr, velocity, params);
  if (step === 1 || step % 100 === 0) console.log(`step ${String(step).padStart(3)}  loss ${loss.toFixed(6)}`);
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
let correct = 0;
for (let i = 0; i < batch; i++) {
  const p = sigmoid(logits[i]);
  if ((p > 0.5 ? 1 : 0) === Y[i]) correct++;
  console.log(`  ${X[2 * i]} xor ${X[2 * i + 1]} -> ${p.toFixed(4)} (target ${Y[i]})`);
}
console.log(`${correct}/4 correct, final loss ${loss.toFixed(6)}`);
if (correct !== 4) process.exitCode = 1;
