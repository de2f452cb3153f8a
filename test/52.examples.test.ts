/**
 * The README's model examples (examples/models.ts) learn what they claim, on every backend.
 */
import { strict as assert } from 'assert';
import { logisticRegression, regression, xor } from '../examples/models';
import { forEachBackend } from './helpers';

forEachBackend('examples', (b) => {
  it('XOR: a 2-4-1 network separates the four points', () => {
    const r = xor(b);
    assert.ok(r.loss < 0.01, `loss ${r.loss}`);
    r.predictions.forEach((p, i) => assert.equal(p > 0.5 ? 1 : 0, [0, 1, 1, 0][i]));
  });

  it('logistic regression: about the Bayes accuracy on two Gaussian classes', () => {
    // The classes overlap: the best linear rule gets about 92% (Phi(sqrt 2)).
    const r = logisticRegression(b);
    assert.ok(r.accuracy > 0.88, `accuracy ${r.accuracy}`);
    assert.ok(r.weights[0] > 0.5 && r.weights[1] > 0.5, 'both features point the same way');
  });

  it('regression: fits sin(x) on held-out points', () => {
    const r = regression(b);
    assert.ok(r.testMse < 0.02, `test mse ${r.testMse}`);
  });
});
