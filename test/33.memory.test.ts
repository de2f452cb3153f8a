/**
 * Alignment of the arrays the native kernels stream through (lib/backend/memory.ts): once the
 * addon has loaded, a model's arenas, its workspaces and the batch buffers start on a 64-byte
 * boundary, as the addon itself reports (addressOffset); and addressOffset, like every export of
 * the addon, rejects what is not a Float32Array with a coded error.
 */
import { strict as assert } from 'assert';
import { BatchIterator, dense, getBackend, Matrix, nativeAvailable, Rng, Sequential } from '../lib';
import { alignedFloat32Array } from '../lib/backend/memory';
import { addonPath } from '../lib/backend/native';
import { requireNative } from './helpers';

(nativeAvailable() || requireNative ? describe : describe.skip)('aligned arrays (native)', () => {
  let offset: (x: unknown) => number;
  before(() => {
    getBackend('native');
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    offset = (require(addonPath()) as { addressOffset(x: unknown): number }).addressOffset;
  });

  it('alignedFloat32Array starts on a 64-byte boundary, holds n zeros and stays inside its view', () => {
    for (const n of [0, 1, 3, 16, 1000, 100003]) {
      for (const shared of [false, true]) {
        const a = shared ? alignedFloat32Array(n, true) : alignedFloat32Array(n);
        assert.equal(a.length, n);
        assert.equal(a.buffer instanceof SharedArrayBuffer, shared);
        if (n > 0) assert.equal(offset(a), 0, `n ${n}, shared ${shared}`);
        assert.ok(a.every((v) => v === 0));
        a.fill(1);
        const whole = new Float32Array(a.buffer);
        assert.equal(whole.reduce((s, v) => s + v, 0), n, 'writes stay in the view');
      }
    }
  });

  it("a trained model's arenas, its layers' outputs and the batches start on a 64-byte boundary", () => {
    const rng = new Rng(3);
    const x = new Matrix(rng.uniformArray(200 * 37), 200, 37);
    const y = Int32Array.from({ length: 200 }, () => rng.int(5));
    const model = new Sequential({ inputSize: 37, seed: 2, backend: 'native', layers: [dense(24, { activation: 'relu' }), dense(5)] })
      .compile({ loss: 'crossEntropy', optimizer: 'adam' });
    model.fit(x, y, { epochs: 1, batchSize: 32 });
    assert.equal(offset(model.params), 0, 'params');
    assert.equal(offset(model.grads), 0, 'grads');
    assert.equal(offset(model.forward(x).data), 0, 'output workspace');
    for (const b of new BatchIterator(x, y, { batchSize: 32, backend: 'native' })) assert.equal(offset(b.x.data), 0, 'batch buffer');
  });

  it('addressOffset rejects anything but one Float32Array with a coded error', () => {
    for (const bad of [undefined, null, 1, 'x', {}, [1], new Int32Array(4), new Float64Array(4), new ArrayBuffer(8)]) {
      assert.throws(() => offset(bad), (e: Error & { code?: string }) => e instanceof TypeError && /^ERR_BLASNET_/.test(e.code ?? ''), String(bad));
    }
    assert.throws(() => (offset as unknown as () => number)(), (e: Error & { code?: string }) => e.code === 'ERR_BLASNET_ARG_COUNT');
    assert.equal(offset(new Float32Array(0)), 0);
  });
});
