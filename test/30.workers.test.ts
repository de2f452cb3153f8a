/**
 * The addon is context-aware: it loads in several worker threads at once, and kernels run in
 * each over SharedArrayBuffer-backed arrays.
 */
import { strict as assert } from 'assert';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { Worker } from 'worker_threads';
import { nativeAvailable } from '../lib';
import { requireNative } from './helpers';
import { addonPath } from '../lib/backend/native';

const LIB = path.resolve(__dirname, '..', 'lib');

// Each worker multiplies its own slice of a shared buffer by a shared matrix, many times.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('worker_threads');
const { getBackend } = require(workerData.lib);
const b = getBackend('native');
const { n, index } = workerData;
const shared = new Float32Array(workerData.buffer);
const a = shared.subarray(0, n * n);
const out = shared.subarray(n * n * (1 + index), n * n * (2 + index));
for (let r = 0; r < 50; r++) b.gemm(false, false, n, n, n, 1, a, a, 0, out);
const y = new Float32Array(n * n);
b.activation(3, 0, n * n, out, y);
parentPort.postMessage({ sum: b.dot(n * n, y, y), threads: b.getNumThreads() });
`;

function runWorker(buffer: SharedArrayBuffer, n: number, index: number): Promise<{ sum: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { lib: LIB, buffer, n, index } });
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  });
}

(nativeAvailable() || requireNative ? describe : describe.skip)('native backend in worker threads', () => {
  it('loads in two workers at once and both compute the same product as the main thread', async () => {
    const n = 96;
    const buffer = new SharedArrayBuffer(4 * n * n * 3);
    const a = new Float32Array(buffer, 0, n * n);
    for (let i = 0; i < a.length; i++) a[i] = Math.sin(i) * 0.1;
    const [r0, r1] = await Promise.all([runWorker(buffer, n, 0), runWorker(buffer, n, 1)]);
    const { getBackend } = await import('../lib');
    const b = getBackend('native');
    const expected = new Float32Array(n * n);
    b.gemm(false, false, n, n, n, 1, a, a, 0, expected);
    const y = new Float32Array(n * n);
    b.activation(3, 0, n * n, expected, y);
    const sum = b.dot(n * n, y, y);
    assert.ok(sum > 0);
    assert.equal(r0.sum, sum);
    assert.equal(r1.sum, sum);
    // Each worker wrote its own output slice of the shared buffer.
    assert.deepEqual(new Float32Array(buffer, 4 * n * n, n * n), expected);
    assert.deepEqual(new Float32Array(buffer, 8 * n * n, n * n), expected);
  });
});

(nativeAvailable() || requireNative ? describe : describe.skip)('setThreadLimit is per thread', () => {
  // A product cut in two on two threads that rounds differently from the whole under OpenBLAS's
  // Haswell and its AVX-512 kernels alike (many shapes give the same bits cut or whole under the
  // latter).
  const [m, n, k] = [128, 128, 784];
  const LIMIT_SOURCE = `
const { workerData, parentPort } = require('worker_threads');
const b = require(workerData.lib).getBackend('native');
const a = new Float32Array(workerData.a), w = new Float32Array(workerData.w), c = new Float32Array(${m * n});
b.gemm(false, true, ${m}, ${n}, ${k}, 1, a, w, 0, c);
parentPort.postMessage({ limit: b.setThreadLimit(0), threads: b.getNumThreads(), c });
`;

  it('caps the calling thread only: the same bits as setNumThreads(1) there, no cap seen by a worker', async () => {
    const { getBackend, Rng } = await import('../lib');
    const b = getBackend('native');
    const threads = b.getNumThreads();
    const rng = new Rng(5);
    const a = rng.uniformArray(m * k, -1, 1), w = rng.uniformArray(n * k, -1, 1);
    const product = (): Float32Array => {
      const c = new Float32Array(m * n);
      b.gemm(false, true, m, n, k, 1, a, w, 0, c);
      return c;
    };
    try {
      b.setNumThreads(1);
      const one = product();
      b.setNumThreads(2);
      const two = product();
      assert.notDeepEqual(two, one, 'two threads must change the bits for this test to tell');
      assert.equal(b.setThreadLimit(1), 0);
      assert.deepEqual(product(), one);
      assert.equal(b.getNumThreads(), 2, 'the process count is unchanged');
      const r = await new Promise<{ limit: number; threads: number; c: Float32Array }>((resolve, reject) => {
        const worker = new Worker(LIMIT_SOURCE, { eval: true, workerData: { lib: LIB, a: a.buffer, w: w.buffer } });
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      assert.equal(r.limit, 0, 'the worker has no cap of its own');
      assert.equal(r.threads, 2);
      assert.deepEqual(r.c, two, 'the worker ran on two threads');
      assert.equal(b.setThreadLimit(0), 1);
      assert.deepEqual(product(), two);
    } finally {
      b.setThreadLimit(0);
      b.setNumThreads(threads);
    }
  });
});

/**
 * Starts `times` workers running `source` (with `data` as workerData) one after another in a
 * child process, and terminates each a few milliseconds after it says it is ready; asserts that
 * the child lived to the end. In a child process, so that a regression fails the test instead of
 * aborting the test run.
 */
function survivesTerminations(source: string, data: string, times: number): void {
  const script = [
    "const { Worker } = require('worker_threads');",
    '(async () => {',
    `  for (let i = 0; i < ${times}; i++) {`,
    `    const w = new Worker(${JSON.stringify(source)}, { eval: true, workerData: ${JSON.stringify(data)} });`,
    "    await new Promise((r) => w.once('message', r));",
    '    await new Promise((r) => setTimeout(r, (i % 5) + 0.5));',
    '    await w.terminate();',
    '  }',
    "  console.log('survived');",
    '})();',
  ].join('\n');
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 55000 });
  assert.equal(r.status, 0, `exit ${r.status} (${r.signal}): ${r.stderr}`);
  assert.match(r.stdout, /survived/);
}

(nativeAvailable() || requireNative ? describe : describe.skip)('a worker terminated while it calls the addon', () => {
  // Each worker loops over calls that throw (a bad argument) and calls that return, and is
  // terminated a few milliseconds into the loop, 40 times.
  const WORKER = [
    "const { parentPort, workerData } = require('worker_threads');",
    "const b = require(workerData).getBackend('native');",
    'const x = new Float32Array(4), y = new Float32Array(4);',
    "parentPort.postMessage('ready');",
    'for (;;) {',
    '  try { b.gemm(false, false, 1, 1, 1, 1, x, x, 0, null); } catch (e) {}',
    '  b.colSum(1, 1, 0, x, y);',
    '}',
  ].join('\n');

  it('leaves the process running: an error the dying worker cannot take is dropped, not thrown out of the addon', function () {
    this.timeout(60000);
    survivesTerminations(WORKER, LIB, 40);
  });

  it('leaves the process running when the worker is terminated while it loads the addon', function () {
    this.timeout(60000);
    // process.dlopen runs the addon's entry point on every call, so the worker spends its time
    // in it and a terminate lands there most times; before the entry point caught what failed,
    // 100 workers aborted the process every run.
    const loader = [
      "const { parentPort, workerData } = require('worker_threads');",
      "parentPort.postMessage('ready');",
      'for (;;) process.dlopen({ exports: {} }, workerData);',
    ].join('\n');
    survivesTerminations(loader, addonPath(), 100);
  });
});
