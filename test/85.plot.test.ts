/**
 * Learning curves: the moving average, the SVG and PNG a History renders to, and their errors.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { learningCurveSpec, learningCurvesSvg, movingAverage, svgToPng, writeLearningCurves } from '../lib/plot/curves';
import type { History } from '../lib/train/fit';
import { throwsCode } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-plot-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function history(withVal: boolean): History {
  const epochs = [0, 1, 2].map((e) => ({
    epoch: e, loss: 1 / (e + 1), accuracy: 0.5 + 0.1 * e, lr: 0.01, seconds: 1, samplesPerSecond: 100,
    ...(withVal ? { valLoss: 1.2 / (e + 1), valAccuracy: 0.45 + 0.1 * e } : {}),
  }));
  const stepLoss = Float64Array.from({ length: 30 }, (_, i) => 1 / (1 + i / 10) + (i % 3) * 0.01);
  return { epochs, stepLoss, stepLr: new Float64Array(30).fill(0.01), steps: 30, stopReason: null, diverged: null };
}

describe('learning curves', () => {
  it('moving average is the trailing mean over the window', () => {
    const m = movingAverage([1, 2, 3, 4, 5], 5, 2);
    assert.deepEqual(Array.from(m), [1, 1.5, 2.5, 3.5, 4.5]);
    assert.deepEqual(Array.from(movingAverage([1, NaN, 3], 3, 3)), [1, 1, 2]);
  });

  it('the spec plots loss and metric per epoch and every step with its average', () => {
    const spec = learningCurveSpec(history(true), { title: 'T' }) as { title: string; vconcat: { hconcat?: { title: string; data: { values: { set: string }[] } }[]; data?: { values: unknown[] } }[] };
    assert.equal(spec.title, 'T');
    const [top, bottom] = spec.vconcat;
    assert.deepEqual(top.hconcat?.map((c) => c.title), ['Loss per epoch', 'accuracy per epoch']);
    assert.equal(top.hconcat?.[0].data.values.filter((r) => r.set === 'validation').length, 3);
    assert.equal(bottom.data?.values.length, 30);
    throwsCode(() => learningCurveSpec({ ...history(false), epochs: [] }), 'ERR_BLASNET_STATE');
  });

  it('renders SVG and PNG and writes both files', async () => {
    const svg = await learningCurvesSvg(history(true), { title: 'curves of a test' });
    assert.match(svg, /^<svg/);
    assert.match(svg, /curves of a test/);
    assert.match(svg, /Loss per epoch/);
    const png = svgToPng(svg, 600);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(png.readUInt32BE(16), 600, 'PNG width');
    const files = await writeLearningCurves(history(false), path.join(tmp, 'c'));
    assert.ok(fs.statSync(files.svg).size > 1000);
    assert.ok(fs.statSync(files.png).size > 1000);
    await assert.rejects(writeLearningCurves(history(false), path.join(tmp, 'no', 'dir', 'c')), (e: Error & { code?: string }) => e.code === 'ERR_BLASNET_IO');
  });

  it('without a plotting package (an optional dependency) asks for it with ERR_BLASNET_DEPENDENCY and writes nothing', () => {
    // A child process in which resolving each package in turn fails as it does when npm left it out.
    const lib = path.resolve(__dirname, '..', 'lib');
    for (const missing of ['vega', 'vega-lite', '@resvg/resvg-js']) {
      const code = `
        const Module = require('module');
        const resolve = Module._resolveFilename;
        Module._resolveFilename = function (request, ...rest) {
          if (request === ${JSON.stringify(missing)}) throw Object.assign(new Error('Cannot find module ' + request), { code: 'MODULE_NOT_FOUND' });
          return resolve.call(this, request, ...rest);
        };
        const { writeLearningCurves } = require(${JSON.stringify(lib)});
        const h = { epochs: [{ epoch: 0, loss: 1 }], stepLoss: new Float64Array([1]), stepLr: new Float64Array([1]), steps: 1, stopReason: null };
        writeLearningCurves(h, ${JSON.stringify(path.join(tmp, 'missing'))}).then(() => process.exit(3), (e) => console.log(e.code, e.message));`;
      const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^ERR_BLASNET_DEPENDENCY /, missing);
      assert.ok(r.stdout.includes(`the optional package ${missing} is not installed`), r.stdout);
      assert.ok(r.stdout.includes('npm install vega@5 vega-lite@5 @resvg/resvg-js@2'), r.stdout);
      assert.ok(!fs.existsSync(path.join(tmp, 'missing.svg')), `${missing}: no half-written pictures`);
    }
  });

  it("an application's own vega of another major version, or one that fails to load, is ERR_BLASNET_DEPENDENCY, not a crash", () => {
    const lib = path.resolve(__dirname, '..', 'lib');
    for (const [what, hook, mention] of [
      ['vega 6', '', 'vega 6.1.2 is installed, and the pictures are drawn with vega 5.x'],
      ['an ESM graph', "if (request === 'vega') throw Object.assign(new Error('require() cannot be used on an ESM graph with top-level await'), { code: 'ERR_REQUIRE_ASYNC_MODULE' });",
        'the optional package vega could not be loaded (ERR_REQUIRE_ASYNC_MODULE: require() cannot be used'],
    ]) {
      // vega 6's package.json as the library reads it (from disk: vega 6 exports no ./package.json).
      const six = what === 'vega 6' ? `
        const fs = require('fs'), path = require('path');
        const read = fs.readFileSync;
        fs.readFileSync = function (file, ...rest) {
          if (String(file).endsWith(path.join('node_modules', 'vega', 'package.json'))) return JSON.stringify({ name: 'vega', version: '6.1.2' });
          return read.call(this, file, ...rest);
        };` : '';
      const code = `${six}
        const Module = require('module');
        const load = Module._load;
        Module._load = function (request, ...rest) {
          ${hook}
          return load.call(this, request, ...rest);
        };
        const { writeLearningCurves } = require(${JSON.stringify(lib)});
        const h = { epochs: [{ epoch: 0, loss: 1 }], stepLoss: new Float64Array([1]), stepLr: new Float64Array([1]), steps: 1, stopReason: null };
        writeLearningCurves(h, ${JSON.stringify(path.join(tmp, 'versions'))}).then(() => process.exit(3), (e) => console.log(e.code, e.message));`;
      const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${what}: ${r.stderr}`);
      assert.match(r.stdout, /^ERR_BLASNET_DEPENDENCY /, what);
      assert.ok(r.stdout.includes(mention), r.stdout);
      assert.ok(r.stdout.includes('npm install vega@5 vega-lite@5 @resvg/resvg-js@2'), r.stdout);
    }
  });
});
