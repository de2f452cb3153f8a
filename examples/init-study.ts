/**
 * Initialisation and the health of a deep net, after the lecture notes' study: a 6-layer tanh
 * network with 4096 units per layer, fed zero-mean unit-variance inputs. With weights drawn
 * from N(0, 0.01) the activations shrink layer by layer toward zero; with N(0, 0.05) most units
 * saturate at +-1; with Xavier initialisation (std 1/sqrt(fan_in) for these square layers) they
 * stay well scaled. The printed per-layer statistics come from model.diagnostics().
 *
 *   node dist/examples/init-study.js           (width 4096, as in the notes)
 *   node dist/examples/init-study.js 1024      (same regimes: stds scaled by sqrt(4096 / width))
 */
import { dense, Matrix, Rng, Sequential } from '../lib';
import type { Backend, InitSpec, LayerDiagnostics } from '../lib';

export interface StudyOptions {
  width?: number;
  depth?: number;
  batch?: number;
  seed?: number;
  backend?: Backend;
}

export interface Regime {
  label: string;
  init: InitSpec;
  layers: LayerDiagnostics[];
}

/** Runs the three regimes and returns each layer's diagnostics after one forward and backward pass. */
export function runInitStudy(options: StudyOptions = {}): Regime[] {
  const width = options.width ?? 4096;
  const depth = options.depth ?? 6;
  const batch = options.batch ?? 256;
  // The notes' stds are for 4096 units; keeping std * sqrt(width) fixed keeps each regime.
  const k = Math.sqrt(4096 / width);
  const regimes: [string, InitSpec][] = [
    [`N(0, ${+(0.01 * k).toPrecision(3)})`, { name: 'normal', std: 0.01 * k }],
    [`N(0, ${+(0.05 * k).toPrecision(3)})`, { name: 'normal', std: 0.05 * k }],
    ['xavier', 'xavierNormal'],
  ];
  const rng = new Rng(options.seed ?? 1);
  const x = new Float32Array(batch * width);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const target = Matrix.zeros(batch, width);
  return regimes.map(([label, init]) => {
    const model = new Sequential({
      inputSize: width,
      seed: options.seed ?? 1,
      backend: options.backend,
      layers: Array.from({ length: depth }, () => dense(width, { activation: 'tanh', init, bias: false })),
    });
    // Any loss shows how much gradient reaches each layer; mse against zero is the simplest.
    model.lossAndGradient(x, target, { loss: 'mse' });
    return { label, init, layers: model.diagnostics() };
  });
}

function main(): void {
  const width = Number(process.argv[2] ?? 4096);
  console.log(`6-layer tanh network, ${width} units per layer, inputs N(0, 1)\n`);
  for (const r of runInitStudy({ width })) {
    console.log(`weights ${r.label}`);
    console.log('  layer   act mean   act std   saturated   grad norm');
    for (const d of r.layers) {
      console.log(`  ${String(d.layer + 1).padStart(5)} ${d.mean.toFixed(5).padStart(10)} ${d.std.toFixed(5).padStart(9)} ` +
        `${((d.saturated ?? 0) * 100).toFixed(1).padStart(10)}% ${d.gradNorm.toExponential(2).padStart(11)}`);
    }
    console.log('');
  }
}

if (require.main === module) main();
