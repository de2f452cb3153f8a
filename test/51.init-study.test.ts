/**
 * The lecture notes' initialisation study (examples/init-study.ts) at a width small enough for
 * the js backend: 512 units, with the notes' stds (for 4096 units) scaled by sqrt(4096 / 512) so
 * that each layer's gain is the notes'. Too-small weights make the activations collapse toward
 * zero, too-large ones saturate the tanh units, Xavier keeps them healthy.
 */
import { strict as assert } from 'assert';
import { runInitStudy } from '../examples/init-study';
import type { Regime } from '../examples/init-study';
import { forEachBackend } from './helpers';

forEachBackend('initialisation study: 6-layer tanh network', (b) => {
  let small: Regime, large: Regime, xavier: Regime;
  before(() => {
    [small, large, xavier] = runInitStudy({ width: 512, batch: 64, backend: b });
  });

  it('N(0, 0.01 sqrt 8): activations collapse toward zero', () => {
    const stds = small.layers.map((d) => d.std);
    for (let i = 1; i < stds.length; i++) assert.ok(stds[i] < 0.8 * stds[i - 1], `std ${stds.join(', ')}`);
    assert.ok(stds[5] < 0.1, `last layer std ${stds[5]}`);
    for (const d of small.layers) assert.ok((d.saturated as number) < 0.01);
  });

  it('N(0, 0.05 sqrt 8): most units saturate', () => {
    for (const d of large.layers) assert.ok((d.saturated as number) > 0.4, `layer ${d.layer}: ${d.saturated}`);
  });

  it('xavier: activations stay well scaled', () => {
    for (const d of xavier.layers) {
      assert.ok((d.saturated as number) < 0.1, `layer ${d.layer} saturated ${d.saturated}`);
      assert.ok(d.std > 0.2, `layer ${d.layer} std ${d.std}`);
    }
    assert.ok(xavier.layers[5].std > 3 * small.layers[5].std);
  });
});
