/**
 * Hyperparameter search: spaces and their sampling, the four strategies, fold assignment,
 * reproducibility, parallel trials equal to sequential ones, failed and diverged trials,
 * cancellation, bad input, and the CLI command.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PassThrough } from 'stream';
import {
  checkSpace, choice, defaultBuild, dense, getBackend, integers, logUniform, Matrix, nativeAvailable, MLP_SPACE, Rng, search, searchPlotSpec, searchTableCsv, Sequential, spaceFromJSON,
  uniform, writeSearchPlot,
} from '../lib';
import type { Config, SearchOptions, SearchResult, Table, TrialResult } from '../lib';
import { assignFolds } from '../lib/search/search';
import { gridConfigs, narrowSpace, sampleConfig } from '../lib/search/space';
import { forEachBackend, rejectsCode } from './helpers';

/** A seeded 3-class table: the class is decided by two of four features. */
function table(rows: number, seed = 1): { x: Matrix; y: Int32Array } {
  const rng = new Rng(seed);
  const x = new Matrix(new Float32Array(rows * 4).map(() => rng.normal()), rows, 4);
  const y = new Int32Array(rows).map((_, i) => (x.data[i * 4] > 0 ? 1 : 0) + (x.data[i * 4 + 1] > 0.5 ? 1 : 0));
  return { x, y };
}

const data = table(120);
const BUILD_MODULE = path.join(__dirname, 'fixtures', 'search-build.js');

/** A table without its timings, which differ run to run. */
function rowsOf(r: SearchResult): Omit<TrialResult, 'seconds'>[] {
  return r.trials.map(({ seconds: _s, ...rest }) => rest);
}


describe('search spaces', () => {
  it('samples every kind within its bounds, integers as integers', () => {
    const space = { a: uniform(-2, 3), b: logUniform(1e-4, 1e-1), c: integers(2, 6), d: integers(8, 256, { log: true }), e: choice(['x', 'y']), f: 7 };
    const rng = new Rng(5);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const c = sampleConfig(space, rng);
      assert.ok((c.a as number) >= -2 && (c.a as number) <= 3);
      assert.ok((c.b as number) >= 1e-4 && (c.b as number) <= 1e-1);
      assert.ok(Number.isInteger(c.c) && (c.c as number) >= 2 && (c.c as number) <= 6);
      assert.ok(Number.isInteger(c.d) && (c.d as number) >= 8 && (c.d as number) <= 256);
      assert.ok(c.e === 'x' || c.e === 'y');
      assert.equal(c.f, 7);
      seen.add(c.c as number);
    }
    assert.deepEqual([...seen].sort(), [2, 3, 4, 5, 6]);
  });

  it('log-uniform puts the same share of samples in every decade', () => {
    const rng = new Rng(11);
    const decades = [0, 0, 0];
    const n = 6000;
    for (let i = 0; i < n; i++) decades[Math.min(2, Math.floor(Math.log10((sampleConfig({ lr: logUniform(1e-4, 1e-1) }, rng).lr as number) / 1e-4)))]++;
    for (const k of decades) assert.ok(Math.abs(k / n - 1 / 3) < 0.03, `decade shares ${decades.map((d) => d / n)}`);
    // A uniform sample would put about 90% in the top decade.
  });

  it('grid enumerates the product, log ranges spaced on a log scale', () => {
    const g = gridConfigs({ lr: logUniform(1e-3, 1e-1), act: choice(['relu', 'tanh']), depth: integers(1, 2), batchSize: 32 }, 3);
    assert.equal(g.length, 3 * 2 * 2);
    const lrs = [...new Set(g.map((c) => c.lr as number))].sort((a, b) => a - b);
    assert.equal(lrs.length, 3);
    lrs.forEach((v, i) => assert.ok(Math.abs(v - [1e-3, 1e-2, 1e-1][i]) < 1e-12, `${v}`));
    // The ends are the bounds exactly: never above high or below low.
    assert.deepEqual([lrs[0], lrs[2]], [1e-3, 1e-1]);
    assert.equal(new Set(g.map((c) => JSON.stringify(c))).size, 12);
    assert.ok(g.every((c) => c.batchSize === 32));
  });

  it('narrowSpace shrinks ranges around a point (in log space for log ranges) and fixes choices', () => {
    const n = narrowSpace({ lr: logUniform(1e-5, 1e-1), p: uniform(0, 1), act: choice(['a', 'b']) }, { lr: 1e-3, p: 0.95, act: 'b' }, 0.25);
    const lr = n.lr as { low: number; high: number };
    assert.ok(Math.abs(Math.log10(lr.low) + 3.5) < 1e-9 && Math.abs(Math.log10(lr.high) + 2.5) < 1e-9, `${lr.low} ${lr.high}`);
    const p = n.p as { low: number; high: number };
    assert.ok(Math.abs(p.low - 0.825) < 1e-12 && p.high === 1);
    assert.equal(n.act, 'b');
  });

  it('checkSpace and the public helpers refuse what is not a space, a result or a build context, with codes', async () => {
    assert.throws(() => checkSpace({ lr: logUniform(1, 0.1) }), { code: 'ERR_BLASNET_ARG_RANGE', message: /checkSpace: space.lr has low 1 > high 0.1/ });
    assert.throws(() => checkSpace(null), { code: 'ERR_BLASNET_ARG_TYPE' });
    assert.throws(() => searchTableCsv({} as never), { code: 'ERR_BLASNET_ARG_TYPE' });
    assert.throws(() => searchPlotSpec({ trials: [1] } as never), { code: 'ERR_BLASNET_ARG_TYPE' });
    await assert.rejects(writeSearchPlot({ trials: [] } as never, ''), { code: 'ERR_BLASNET_ARG_TYPE' });
    const ctx = { inputSize: 4, outputSize: 3, task: 'classification' as const, seed: 0, backend: 'js' as const };
    assert.throws(() => defaultBuild(null as never, ctx), { code: 'ERR_BLASNET_ARG_TYPE' });
    assert.throws(() => defaultBuild({ depth: 0.5 }, ctx), { code: 'ERR_BLASNET_ARG_RANGE' });
    assert.throws(() => defaultBuild({}, { ...ctx, outputSize: 0 }), { code: 'ERR_BLASNET_ARG_RANGE' });
    assert.equal(defaultBuild({ width: 5, depth: 2 }, ctx).layers.filter((l) => (l.config() as { kind: string }).kind === 'dense').length, 3);
    // weightDecay 0 is 0 (AdamW's own default, 0.01, only when the key is absent).
    const wd = (c: Config) => defaultBuild(c, ctx).optimizer?.options.weightDecay;
    assert.equal(wd({ optimizer: 'adamw', weightDecay: 0 }), 0);
    assert.equal(wd({ optimizer: 'adamw' }), 0.01);
    assert.equal(wd({ optimizer: 'adam', weightDecay: 1e-4 }), 1e-4);
  });

  it('checkSpace refuses a key a range or choice given in code does not take, naming the entry and the key', async () => {
    const BAD: [unknown, RegExp][] = [
      [{ lr: { kind: 'logUniform', low: 1e-4, high: 0.1, hihg: 1 } }, /checkSpace: space.lr has an unknown key "hihg"; a logUniform range takes only "kind", "low", "high" and "log"/],
      [{ lr: { ...logUniform(1e-4, 0.1), lgo: true } }, /checkSpace: space.lr has an unknown key "lgo"; a logUniform range takes only/],
      [{ p: { ...uniform(0, 1), hgih: 2 } }, /checkSpace: space.p has an unknown key "hgih"; a uniform range takes only "kind", "low", "high" and "log"/],
      [{ w: { ...integers(8, 64), lgo: true } }, /checkSpace: space.w has an unknown key "lgo"; an integer range takes only "kind", "low", "high" and "log"/],
      [{ h: { kind: 'choice', values: [[8]], vlaues: [[4]] } }, /checkSpace: space.h has an unknown key "vlaues"; a choice takes only "kind" and "values"/],
      [{ h: { ...choice([1, 2]), log: true } }, /checkSpace: space.h has an unknown key "log"; a choice takes only "kind" and "values"/],
    ];
    for (const [space, message] of BAD) assert.throws(() => checkSpace(space), { code: 'ERR_BLASNET_ARG_RANGE', message }, JSON.stringify(space));
    await assert.rejects(search({ space: { lr: { ...logUniform(1e-3, 0.1), hihg: 1 } } as never, data, trials: 1, refit: false }),
      { code: 'ERR_BLASNET_ARG_RANGE', message: /^search: space.lr has an unknown key "hihg"/ });
  });

  it('a range written in code takes its scale from its kind: logUniform without log: true draws, grids, narrows and plots as logUniform()', async function () {
    this.timeout(20000);
    const hand = checkSpace({ lr: { kind: 'logUniform', low: 1e-4, high: 1e-1 }, width: { kind: 'integer', low: 8, high: 256 } });
    const helpers = { lr: logUniform(1e-4, 1e-1), width: integers(8, 256) };
    const r1 = new Rng(3);
    const r2 = new Rng(3);
    for (let i = 0; i < 200; i++) assert.deepEqual(sampleConfig(hand, r1), sampleConfig(helpers, r2));
    assert.deepEqual(gridConfigs(hand, 4), gridConfigs(helpers, 4));
    // The narrowed space is the helpers' too, log field and all.
    assert.deepEqual(narrowSpace(hand, { lr: 1e-3, width: 32 }, 0.25), narrowSpace(helpers, { lr: 1e-3, width: 32 }, 0.25));
    // A seeded coarse-to-fine search draws the same configurations, coarse and fine.
    const opts = { data, trials: 4, strategy: 'coarseToFine' as const, budget: { epochs: 2 }, refit: false, seed: 4 };
    const a = await search({ space: hand, ...opts });
    const b = await search({ space: helpers, ...opts });
    assert.deepEqual(a.trials.map((r) => r.config), b.trials.map((r) => r.config));
    const spec = searchPlotSpec(a, { space: hand }) as { hconcat: { layer: { encoding: { x: { title: string; scale?: { type?: string } } } }[] }[] };
    assert.equal(spec.hconcat[0].layer[0].encoding.x.title, 'lr');
    assert.equal(spec.hconcat[0].layer[0].encoding.x.scale?.type, 'log');
    // On a log scale, so a range from 0 is refused.
    assert.throws(() => checkSpace({ lr: { kind: 'logUniform', low: 0, high: 1 } }), { code: 'ERR_BLASNET_ARG_RANGE', message: /space.lr is on a log scale and needs low > 0/ });
  });

  it('checkSpace refuses a range whose log contradicts its kind; the helpers\' entries pass', () => {
    assert.throws(() => checkSpace({ p: { kind: 'uniform', low: 0, high: 1, log: true } }),
      { code: 'ERR_BLASNET_ARG_RANGE', message: /checkSpace: space.p is uniform but has log true; for a log scale use logUniform/ });
    assert.throws(() => checkSpace({ lr: { kind: 'logUniform', low: 1e-4, high: 0.1, log: false } }),
      { code: 'ERR_BLASNET_ARG_RANGE', message: /checkSpace: space.lr is logUniform but has log false; for a linear scale use uniform/ });
    assert.throws(() => checkSpace({ w: { kind: 'integer', low: 1, high: 8, log: 'yes' } }),
      { code: 'ERR_BLASNET_ARG_TYPE', message: /checkSpace: Expected boolean for space.w.log but received string/ });
    assert.throws(() => checkSpace({ lr: { kind: 'logUniform', low: 1e-4, high: 0.1, log: 1 } }), { code: 'ERR_BLASNET_ARG_TYPE', message: /space.lr.log/ });
    const helpers = { a: uniform(0, 1), b: logUniform(1e-3, 1), c: integers(1, 4), d: integers(1, 64, { log: true }), e: choice([1, 'x']), f: 3 };
    assert.equal(checkSpace(helpers), helpers);
    assert.equal(checkSpace(MLP_SPACE), MLP_SPACE);
    // A log that agrees with the kind is taken.
    checkSpace({ p: { kind: 'uniform', low: 0, high: 1, log: false }, lr: { kind: 'logUniform', low: 1e-3, high: 1, log: true }, w: { kind: 'integer', low: 1, high: 8, log: false } });
  });

  it('spaceFromJSON reads every kind and rejects malformed entries with codes', () => {
    const s = spaceFromJSON('{"lr": {"logUniform": [1e-4, 0.1]}, "w": {"integers": [8, 64], "log": true}, "h": {"choice": [[8], [8, 4]]}, "opt": "sgd"}');
    assert.equal((s.lr as { kind: string }).kind, 'logUniform');
    assert.equal((s.w as { log: boolean }).log, true);
    assert.equal(s.opt, 'sgd');
    assert.throws(() => spaceFromJSON('{'), { code: 'ERR_BLASNET_FORMAT' });
    assert.throws(() => spaceFromJSON('{"lr": {"logUniform": [1]}}'), { code: 'ERR_BLASNET_FORMAT' });
    assert.throws(() => spaceFromJSON('{"lr": {"logUniform": [0, 1]}}'), { code: 'ERR_BLASNET_ARG_RANGE' });
    assert.throws(() => spaceFromJSON('{"w": {"integers": [8, 64], "log": 1}}'), { code: 'ERR_BLASNET_FORMAT', message: /w\.log must be true or false/ });
  });

  it('spaceFromJSON refuses a key an entry does not take, naming the key and the entry', () => {
    const BAD: [string, RegExp][] = [
      ['{"lr": {"logUniform": [1e-4, 0.1], "lgo": true}}', /spaceFromJSON: lr has an unknown key "lgo"; a logUniform entry takes only "logUniform"/],
      ['{"w": {"integers": [8, 64], "lgo": true}}', /spaceFromJSON: w has an unknown key "lgo"; an integers entry takes only "integers" and "log"/],
      ['{"h": {"choice": [[8], [16]], "vlaues": [[4]]}}', /spaceFromJSON: h has an unknown key "vlaues"; a choice entry takes only "choice"/],
      ['{"p": {"uniform": [0, 1], "log": true}}', /spaceFromJSON: p has an unknown key "log"; a uniform entry takes only "uniform" \(for a log scale write logUniform\)/],
      ['{"p": {"uniform": [0, 1], "choice": [1, 2]}}', /spaceFromJSON: p gives both "uniform" and "choice"; an entry is one kind/],
      ['{"p": {"vlaues": [1, 2]}}', /spaceFromJSON: p has no "uniform", "logUniform", "integers" or "choice" key \(its keys: "vlaues"\)/],
    ];
    for (const [text, message] of BAD) assert.throws(() => spaceFromJSON(text), { code: 'ERR_BLASNET_FORMAT', message }, text);
    // Keys the prototype has are unknown too, and "log": false is an integers entry's default.
    assert.throws(() => spaceFromJSON('{"p": {"choice": [1], "constructor": 1}}'), { code: 'ERR_BLASNET_FORMAT', message: /unknown key "constructor"/ });
    assert.equal((spaceFromJSON('{"w": {"integers": [1, 4], "log": false}}').w as { log: boolean }).log, false);
  });

  it('spaceFromJSON refuses values nested deeper than a space holds, and bad bounds of any kind are described', () => {
    const deep = '['.repeat(100000) + ']'.repeat(100000);
    for (const text of [`{"hidden": ${deep}}`, `{"hidden": {"choice": [${deep}]}}`, `{"lr": {"uniform": [${deep}, 1]}}`,
      `{"x": {"integers": [1, 2], "log": ${deep}}}`, '{"h": {"choice": [[[8]]]}}']) {
      assert.throws(() => spaceFromJSON(text), { code: 'ERR_BLASNET_FORMAT', message: /nests deeper than 4 levels/ }, text.slice(0, 40));
    }
    // The deepest a space goes: an entry, its choices, a choice of widths.
    assert.deepEqual((spaceFromJSON('{"h": {"choice": [[8, 4]]}}').h as { values: unknown }).values, [[8, 4]]);
    let deepArray: unknown[] = [];
    for (let i = 0; i < 100000; i++) deepArray = [deepArray];
    for (const low of [deepArray, Object.create(null), { toString: 1 }, [1, 2]]) {
      assert.throws(() => checkSpace({ lr: uniform(low as number, 1) }), { code: 'ERR_BLASNET_ARG_RANGE', message: /Expected finite numbers for space.lr low and high but received/ });
    }
    assert.throws(() => spaceFromJSON('{"lr": {"uniform": [[1, 2], 3]}}'), { code: 'ERR_BLASNET_ARG_RANGE', message: /received \[1, 2\] and 3/ });
  });
});

describe('search folds', () => {
  it('k folds keep every class within one row of its share in each fold', () => {
    const y = new Int32Array(103).map((_, i) => (i < 60 ? 0 : i < 90 ? 1 : 2));
    const ids = assignFolds('t', y, y.length, 'classification', 3, 4, 0.2, new Rng(2));
    for (let f = 0; f < 4; f++) {
      for (const [c, n] of [[0, 60], [1, 30], [2, 13]]) {
        let k = 0;
        for (let r = 0; r < y.length; r++) if (ids[r] === f && y[r] === c) k++;
        assert.ok(k === Math.floor(n / 4) || k === Math.ceil(n / 4), `fold ${f} class ${c}: ${k}`);
      }
    }
    const sizes = [0, 1, 2, 3].map((f) => ids.filter((v) => v === f).length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `fold sizes ${sizes}`);
  });

  it('a holdout takes round(n_c * fraction) rows of each class when those add up to round(rows * fraction)', () => {
    const y = new Int32Array(50).map((_, i) => (i < 40 ? 0 : 1));
    const ids = assignFolds('t', y, 50, 'classification', 2, undefined, 0.2, new Rng(3));
    assert.equal(ids.filter((v, r) => v === 0 && y[r] === 0).length, 8);
    assert.equal(ids.filter((v, r) => v === 0 && y[r] === 1).length, 2);
    assert.equal(ids.filter((v) => v === -1).length, 40);
  });

  it('a holdout of many small classes takes round(rows * fraction) rows, each class floor or ceil of its share', () => {
    // 100 classes of 2 rows and 100 of 3: round per class held out none of the first and a third of the second.
    const y = new Int32Array(500);
    let r = 0;
    for (let c = 0; c < 200; c++) for (let k = 0; k < (c < 100 ? 2 : 3); k++) y[r++] = c;
    const ids = assignFolds('t', y, 500, 'classification', 200, undefined, 0.2, new Rng(4));
    assert.equal(ids.filter((v) => v === 0).length, 100);
    for (let c = 0; c < 200; c++) {
      const held = ids.filter((v, i) => v === 0 && y[i] === c).length;
      const share = (c < 100 ? 2 : 3) * 0.2;
      assert.ok(held === Math.floor(share) || held === Math.ceil(share), `class ${c}: ${held} held out of a share of ${share}`);
    }
    // Classes of 2 rows alone: round per class held out nothing and the search refused.
    const pairs = new Int32Array(200).map((_, i) => i >> 1);
    assert.equal(assignFolds('t', pairs, 200, 'classification', 100, undefined, 0.2, new Rng(4)).filter((v) => v === 0).length, 40);
  });
});

forEachBackend('search', (b) => {
  const base = (o: Partial<SearchOptions> = {}): SearchOptions => ({
    space: { lr: logUniform(1e-3, 1e-1), hidden: choice([[8], [12, 6]]), activation: choice(['relu', 'tanh']) },
    data, trials: 6, seed: 7, backend: b.name as 'js' | 'native', budget: { epochs: 3 }, ...o,
  });

  it('random search: a row per trial, the best of them, a refitted model; the same seed gives the same table', async function () {
    this.timeout(20000);
    const r1 = await search(base());
    const r2 = await search(base());
    assert.equal(r1.trials.length, 6);
    assert.deepEqual(rowsOf(r1), rowsOf(r2));
    assert.ok(r1.trials.every((t) => t.status === 'ok' && t.score >= 0 && t.score <= 1 && t.epochs === 3));
    const top = Math.max(...r1.trials.map((t) => t.score));
    assert.equal(r1.best?.score, top);
    assert.equal(r1.higherIsBetter, true);
    assert.ok(r1.model && r1.model.optimizer);
    assert.deepEqual(r1.model.predict(data.x).data, r2.model?.predict(data.x).data);
    const r3 = await search(base({ seed: 8 }));
    assert.notDeepEqual(rowsOf(r1).map((t) => t.config), rowsOf(r3).map((t) => t.config));
    const csv = searchTableCsv(r1).trim().split('\n');
    assert.equal(csv[0], 'index,stage,lr,hidden,activation,score,epochs,trainedEpochs,seconds,status,error');
    assert.equal(csv.length, 7);
  });

  it('k-fold scores every configuration on every fold; regression takes valLoss, lower is better', async function () {
    this.timeout(20000);
    const y = new Float32Array(data.x.rows).map((_, i) => data.x.data[i * 4] - 0.5 * data.x.data[i * 4 + 2]);
    const r = await search(base({ data: { x: data.x, y }, folds: 3, trials: 3 }));
    assert.equal(r.metric, 'valLoss');
    assert.equal(r.higherIsBetter, false);
    assert.equal(r.best?.score, Math.min(...r.trials.map((t) => t.score)));
    assert.equal(r.model?.outputSize, 1);
  });

  it('runs in 2 worker threads with the same table as on this thread', async function () {
    this.timeout(30000);
    const seq = await search(base({ trials: 5, threads: 1 }));
    const before = b.getNumThreads();
    const par = await search(base({ trials: 5, workers: 2, threads: 1 }));
    assert.deepEqual(rowsOf(par), rowsOf(seq));
    assert.equal(b.getNumThreads(), before);
    // The best configuration retrained in a worker (off the calling thread) is the model retrained here, compiled alike.
    assert.ok(seq.model && par.model);
    assert.deepEqual(par.model.params, seq.model.params);
    assert.deepEqual(par.model.lossSpec, seq.model.lossSpec);
    assert.deepEqual(par.model.optimizer?.state(), seq.model.optimizer?.state());
    assert.deepEqual(par.model.evaluate(data.x, data.y), seq.model.evaluate(data.x, data.y));
    const halvingSeq = await search(base({ strategy: 'halving', trials: 4, budget: { epochs: 4, eta: 2 }, threads: 1 }));
    const halvingPar = await search(base({ strategy: 'halving', trials: 4, budget: { epochs: 4, eta: 2 }, workers: 2, threads: 1, build: { module: BUILD_MODULE } }));
    assert.deepEqual(rowsOf(halvingPar), rowsOf(halvingSeq));
  });

  it('halving keeps the best 1/eta of each rung and gives them eta times the epochs', async function () {
    this.timeout(20000);
    const r = await search(base({ strategy: 'halving', trials: 9, budget: { epochs: 9, eta: 3 } }));
    const rung = (k: number) => r.trials.filter((t) => t.stage === k);
    assert.deepEqual([0, 1, 2].map((k) => rung(k).length), [9, 3, 1]);
    assert.deepEqual([0, 1, 2].map((k) => rung(k)[0].epochs), [1, 3, 9]);
    for (const k of [0, 1]) {
      const sorted = [...rung(k)].sort((p, q) => q.score - p.score || p.index - q.index).slice(0, rung(k + 1).length);
      assert.deepEqual(rung(k + 1).map((t) => JSON.stringify(t.config)), sorted.map((t) => JSON.stringify(t.config)));
      assert.deepEqual(rung(k + 1).map((t) => t.seed), sorted.map((t) => t.seed));
    }
    assert.equal(r.best?.index, rung(2)[0].index);
  });

  it('coarseToFine samples its fine stage around the coarse best, with more epochs', async function () {
    this.timeout(20000);
    const space = { lr: logUniform(1e-4, 1e-1), dropout: uniform(0, 0.4), activation: choice(['relu', 'tanh']) };
    const r = await search(base({ space, strategy: 'coarseToFine', trials: 8, narrow: 0.2, budget: { epochs: 4 } }));
    const coarse = r.trials.filter((t) => t.stage === 0);
    const fine = r.trials.filter((t) => t.stage === 1);
    assert.equal(coarse.length, 4);
    assert.equal(fine.length, 4);
    assert.ok(coarse.every((t) => t.epochs === 1) && fine.every((t) => t.epochs === 4));
    const best = [...coarse].sort((p, q) => q.score - p.score || p.index - q.index)[0].config;
    for (const t of fine) {
      // 0.2 of the log range of 3 decades: within 0.3 decades of the coarse best.
      assert.ok(Math.abs(Math.log10(t.config.lr as number) - Math.log10(best.lr as number)) <= 0.3 + 1e-9, `${t.config.lr} vs ${best.lr}`);
      assert.ok(Math.abs((t.config.dropout as number) - (best.dropout as number)) <= 0.04 + 1e-9);
      assert.equal(t.config.activation, best.activation);
    }
  });

  it('a trial whose build throws is failed, one whose loss explodes is diverged, and the search goes on', async function () {
    this.timeout(20000);
    const build = (c: Config, ctx: Parameters<typeof defaultBuild>[1]) => {
      if (c.optimizer === 'broken') throw new Error('cannot build this one');
      return defaultBuild(c, ctx);
    };
    const space = { optimizer: choice(['sgd', 'broken']), lr: choice([0.05, 1e9]) };
    const r = await search(base({ space, strategy: 'grid', build }));
    const by = (o: string, lr: number) => r.trials.find((t) => t.config.optimizer === o && t.config.lr === lr) as TrialResult;
    assert.equal(r.trials.length, 4);
    assert.equal(by('broken', 0.05).status, 'failed');
    assert.match(by('broken', 0.05).error as string, /cannot build this one/);
    assert.equal(by('sgd', 1e9).status, 'diverged');
    assert.ok(Number.isNaN(by('sgd', 1e9).score));
    assert.equal(by('sgd', 0.05).status, 'ok');
    assert.equal(r.best?.index, by('sgd', 0.05).index);
    // In workers, through a build module, the same.
    const p = await search(base({ space: { broken: choice([false, true]), lr: 0.05 }, strategy: 'grid', workers: 2, threads: 1, build: { module: BUILD_MODULE } }));
    assert.deepEqual(p.trials.map((t) => t.status), ['ok', 'failed']);
    // A worker that dies mid-trial fails that trial and is replaced; the other trials still run.
    const d = await search(base({ space: { exit: choice([false, true, false, false]), lr: 0.05 }, strategy: 'grid', workers: 2, threads: 1, build: { module: BUILD_MODULE } }));
    assert.deepEqual(d.trials.map((t) => t.status), ['ok', 'failed', 'ok', 'ok']);
    assert.match(d.trials[1].error as string, /exited with code 3/);
  });

  it('a build that throws what is no Error (null, undefined, a string) fails its trial, saying what it threw', async function () {
    for (const thrown of [null, undefined, 'nope']) {
      const r = await search(base({ space: { lr: choice([0.05, 0.1]) }, strategy: 'grid', build: () => { throw thrown; } }));
      assert.deepEqual(r.trials.map((t) => t.status), ['failed', 'failed']);
      assert.ok(r.trials.every((t) => t.error === `the build or training threw ${thrown === 'nope' ? '"nope"' : String(thrown)}`), JSON.stringify(r.trials.map((t) => t.error)));
    }
  });

  it('a refit that fails or diverges leaves the trials and best, with a null model and refitError saying why', async function () {
    this.timeout(20000);
    // The build counts its calls: one per trial and fold, then the refit's.
    let calls = 0;
    const failing = (c: Config, ctx: Parameters<typeof defaultBuild>[1]) => {
      if (++calls > 2) throw new Error('the refit cannot build');
      return defaultBuild(c, ctx);
    };
    const r = await search(base({ space: { lr: choice([0.05, 0.1]) }, strategy: 'grid', build: failing }));
    assert.deepEqual(r.trials.map((t) => t.status), ['ok', 'ok']);
    assert.ok(r.best);
    assert.equal(r.model, null);
    assert.match(r.refitError as string, /the refit cannot build/);
    // Diverging on all the data where the held-out folds did not: the refit's weights are not returned.
    calls = 0;
    const diverging = (c: Config, ctx: Parameters<typeof defaultBuild>[1]) => defaultBuild({ ...c, lr: ++calls > 2 ? 1e12 : (c.lr as number), optimizer: 'sgd' }, ctx);
    const d = await search(base({ space: { lr: choice([0.05, 0.1]) }, strategy: 'grid', build: diverging }));
    assert.deepEqual(d.trials.map((t) => t.status), ['ok', 'ok']);
    assert.equal(d.model, null);
    assert.match(d.refitError as string, /retraining the best configuration on all the data diverged.*\(ERR_BLASNET_DIVERGED\)/);
    const fine = await search(base({ trials: 2 }));
    assert.equal(fine.refitError, null);
  });

  it('with workers the best configuration is retrained in a worker: the model, its compile settings and dropout stream as on the calling thread', async function () {
    this.timeout(30000);
    const log = path.join(os.tmpdir(), `blasnet-build-log-${process.pid}`);
    process.env.BLASNET_TEST_BUILD_LOG = log;
    try {
      const recording = { module: BUILD_MODULE, name: 'recording' };
      const space = { lr: choice([0.01, 0.05]), dropout: 0.2 };
      fs.writeFileSync(log, '');
      const par = await search(base({ space, strategy: 'grid', workers: 2, threads: 1, build: recording }));
      const where = fs.readFileSync(log, 'utf8').trim().split('\n');
      // One build per trial and fold, then the refit's, all in workers.
      assert.ok(where.length > 2 && where.every((w) => w === 'false'), `main thread per build: ${where.join(', ')}`);
      const seq = await search(base({ space, strategy: 'grid', threads: 1, build: recording }));
      assert.ok(par.model && seq.model);
      assert.deepEqual(par.model.params, seq.model.params);
      assert.deepEqual(par.model.maskState(), seq.model.maskState());
      assert.deepEqual(par.model.optimizer?.state(), seq.model.optimizer?.state());
    } finally {
      delete process.env.BLASNET_TEST_BUILD_LOG;
      fs.rmSync(log, { force: true });
    }
  });

  it('a best configuration whose model no file carries whole (a layer or loss of the build\'s own) is retrained on the calling thread', async function () {
    this.timeout(30000);
    for (const name of ['withOwnLayer', 'withOwnLoss']) {
      const own = { module: BUILD_MODULE, name };
      const par = await search(base({ space: { lr: choice([0.01, 0.05]) }, strategy: 'grid', workers: 2, threads: 1, build: own }));
      assert.equal(par.refitError, null, name);
      assert.ok(par.model, name);
      if (name === 'withOwnLayer') assert.equal(par.model.layers[1].kind, 'identity');
      else assert.equal(par.model.lossSpec?.custom?.name, 'halfSq');
      // Compiled as the build left it: it evaluates and trains on.
      assert.ok(Number.isFinite(par.model.evaluate(data.x, data.y).loss), name);
      const seq = await search(base({ space: { lr: choice([0.01, 0.05]) }, strategy: 'grid', threads: 1, build: own }));
      assert.deepEqual(par.model.params, seq.model?.params, name);
    }
  });

  it('a trial time limit records the epochs the folds trained, and the refit trains as many', async function () {
    this.timeout(20000);
    const r = await search(base({ trials: 2, folds: 2, budget: { epochs: 100000, trialTimeMs: 60 } }));
    for (const t of r.trials) {
      assert.equal(t.status, 'ok');
      assert.ok(t.trainedEpochs !== undefined && t.trainedEpochs >= 1 && t.trainedEpochs < 100000, `trained ${t.trainedEpochs}`);
    }
    const best = r.best as TrialResult;
    const model = r.model as Sequential;
    const steps = Math.ceil(data.x.rows / ((best.config.batchSize as number | undefined) ?? 32));
    assert.equal(model.optimizer?.stepCount, (best.trainedEpochs as number) * steps);
    assert.match(searchTableCsv(r), new RegExp(`,100000,${best.trainedEpochs},`));
  });

  it('a build that returns models of the same layer objects fails every trial after the first with ERR_BLASNET_STATE', async function () {
    this.timeout(20000);
    const layers = [dense(8, { activation: 'relu' }), dense(3)];
    const build = (c: Config, ctx: Parameters<typeof defaultBuild>[1]) => new Sequential({ inputSize: ctx.inputSize, seed: ctx.seed, backend: ctx.backend, layers })
      .compile({ loss: 'crossEntropy', optimizer: { name: 'sgd', lr: c.lr as number } });
    const r = await search(base({ space: { lr: choice([0.05, 0.1, 0.2]) }, strategy: 'grid', build, refit: false }));
    assert.deepEqual(r.trials.map((t) => t.status), ['ok', 'failed', 'failed']);
    assert.match(r.trials[1].error as string, /layer 0 \(dense\) belongs to a built model.*create new layers for this model.*\(ERR_BLASNET_STATE\)$/);
  });

  it('an AbortSignal stops the workers and rejects with ERR_BLASNET_ABORTED and the reason', async function () {
    this.timeout(20000);
    const ac = new AbortController();
    const reason = new Error('enough');
    let seen = 0;
    const err = await rejectsCode(() => search(base({ trials: 30, workers: 2, threads: 1, signal: ac.signal, onTrial: () => {
      seen++;
      ac.abort(reason);
    } })), 'ERR_BLASNET_ABORTED');
    assert.equal(err.cause, reason);
    assert.ok(seen >= 1 && seen < 30);
    const early = new AbortController();
    early.abort('before');
    const e2 = await rejectsCode(() => search(base({ signal: early.signal })), 'ERR_BLASNET_ABORTED');
    assert.equal(e2.cause, 'before');
  });

  it('on the calling thread (workers 1) an abort stops the search between trials, and no trial trains after it', async function () {
    this.timeout(20000);
    let built = 0;
    const build = (c: Config, ctx: Parameters<typeof defaultBuild>[1]) => {
      built++;
      return defaultBuild(c, ctx);
    };
    const ac = new AbortController();
    await rejectsCode(() => search(base({ trials: 20, build, signal: ac.signal, onTrial: () => ac.abort(new Error('enough')) })), 'ERR_BLASNET_ABORTED');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(built, 1, 'only the first trial trained');
    // A timer fires between trials: a timed abort ends a long stage early.
    let ticks = 0;
    const tick = setInterval(() => { ticks++; }, 5);
    const started = Date.now();
    try {
      await rejectsCode(() => search(base({ trials: 200, budget: { epochs: 20 }, signal: AbortSignal.timeout(100) })), 'ERR_BLASNET_ABORTED');
    } finally {
      clearInterval(tick);
    }
    assert.ok(ticks > 1, `the interval ran ${ticks} times`);
    assert.ok(Date.now() - started < 5000);
  });
});

describe('search on a raw table', () => {
  /** 60 rows: two numbers, a colour (one row 'violet', the only one), a class or a price label. */
  function rawTable(): Table {
    const rng = new Rng(4);
    const rows: string[][] = [];
    for (let i = 0; i < 60; i++) {
      const a = rng.normal();
      const b = rng.normal();
      const colour = i === 7 ? 'violet' : ['red', 'green'][i % 2];
      rows.push([a.toFixed(3), i % 11 === 0 ? '' : b.toFixed(3), colour, a + b > 0 ? 'yes' : 'no', (1000 * a + 300 * b + 5000).toFixed(1)]);
    }
    return { columns: ['a', 'b', 'colour', 'label', 'price'], rows };
  }
  const features = { features: ['a', 'b', 'colour'] };

  it('fits the preprocessing inside each fold: the fold without the rare category has one input fewer', async function () {
    this.timeout(60000);
    const sizes: number[] = [];
    const build = (c: Config, ctx: Parameters<typeof defaultBuild>[1]) => {
      sizes.push(ctx.inputSize);
      return defaultBuild(c, ctx);
    };
    const r = await search({ space: { lr: 1e-2, hidden: 4 }, data: { table: rawTable(), label: 'label', preprocessing: features }, trials: 1, folds: 3, budget: { epochs: 1 }, build });
    const all = r.preprocessor?.inputSize as number;
    // a, b, b's missing indicator, and a one-hot colour block of 3 (red, green, violet) on all rows.
    assert.equal(all, 6);
    assert.deepEqual(sizes.slice(0, 3).sort(), [all - 1, all, all]);
    assert.equal(sizes[3], all);
    assert.equal(r.model?.inputSize, all);
  });

  it('regression: targets scaled per fold, mse scored in the label units, the same table in worker threads', async function () {
    this.timeout(60000);
    const options: SearchOptions = { space: { lr: logUniform(1e-3, 1e-1), hidden: 8 }, data: { table: rawTable(), label: 'price', preprocessing: features }, trials: 3, folds: 2, budget: { epochs: 2 }, seed: 2, backend: 'js' };
    const one = await search(options);
    assert.equal(one.metric, 'mse');
    // Scaled units would give about 1; the price's variance is about 1000^2 + 300^2.
    assert.ok(one.trials.every((t) => t.status === 'ok' && t.score > 1e4), JSON.stringify(one.trials.map((t) => t.score)));
    const two = await search({ ...options, workers: 2 });
    assert.deepEqual(rowsOf(two), rowsOf(one));
    // Records (plain objects by column) are the same table.
    const t = rawTable();
    const records = t.rows.map((r) => Object.fromEntries(t.columns.map((c, j) => [c, r[j]])));
    const fromRecords = await search({ ...options, data: { table: records, label: 'price', preprocessing: features } });
    assert.deepEqual(rowsOf(fromRecords), rowsOf(one));
    assert.equal(one.preprocessor?.task, 'regression');
  });
});

(nativeAvailable() ? describe : describe.skip)('search and the kernel threads', () => {
  it("two searches at once give the process its thread count back when the last ends, not one search's setting", async function () {
    this.timeout(30000);
    const native = getBackend('native');
    const before = native.getNumThreads();
    native.setNumThreads(2);
    try {
      const one = (seed: number) => search({ space: { lr: logUniform(1e-3, 1e-1) }, data, trials: 2, budget: { epochs: 1 }, threads: 1, seed, refit: false });
      const first = one(1);
      await new Promise((r) => setImmediate(r));
      await Promise.all([first, one(2)]);
      assert.equal(native.getNumThreads(), 2);
      // A search and a fitAsync at once, ending in either order: the count they found comes back.
      for (const fitLast of [true, false]) {
        const m = new Sequential({ inputSize: data.x.cols, seed: 1, layers: [dense(8, { activation: 'relu' }), dense(3)] })
          .compile({ loss: 'crossEntropy', optimizer: { name: 'adam', lr: 0.01 } });
        const s = one(3);
        for (let i = 0; i < 20 && native.getNumThreads() !== 1; i++) await new Promise((r) => setImmediate(r));
        assert.equal(native.getNumThreads(), 1, 'the search holds the pool');
        const f = m.fitAsync(data.x, data.y, { epochs: fitLast ? 40 : 1, batchSize: 8 });
        await Promise.all([s, f]);
        assert.equal(native.getNumThreads(), 2, fitLast ? 'fitAsync ended last' : 'the search ended last');
      }
    } finally {
      native.setNumThreads(before);
    }
  });

  it('a search over worker threads leaves the pool at the count the record gives, its workers capped at their threads', async function () {
    this.timeout(60000);
    const native = getBackend('native');
    const before = native.getNumThreads();
    native.setNumThreads(2);
    try {
      // A search of threads 1 holds the pool at 1; another of threads 2 over workers must not raise it.
      const counts: number[] = [];
      // It runs until the other ends, then is cancelled.
      const stopLow = new AbortController();
      const low = search({ space: { lr: logUniform(1e-3, 1e-1) }, data, trials: 1e6, budget: { epochs: 1 }, threads: 1, seed: 1, refit: false, signal: stopLow.signal })
        .catch((e: { code?: string }) => assert.equal(e.code, 'ERR_BLASNET_ABORTED'));
      for (let i = 0; i < 20 && native.getNumThreads() !== 1; i++) await new Promise((r) => setImmediate(r));
      const high = search({
        space: { lr: logUniform(1e-3, 1e-1) }, data, trials: 4, budget: { epochs: 2 }, workers: 2, threads: 2, seed: 2, refit: false,
        onTrial: () => { counts.push(native.getNumThreads()); },
      });
      await high.finally(() => stopLow.abort());
      await low;
      assert.ok(counts.length > 0 && counts.every((n) => n === 1), `pool counts seen after the workers' trials: ${counts.join(', ')}`);
      assert.equal(native.getNumThreads(), 2);
    } finally {
      native.setNumThreads(before);
    }
  });
});

describe('search bad input', () => {
  const ok: SearchOptions = { space: { lr: logUniform(1e-3, 1e-1) }, data, trials: 2, budget: { epochs: 1 } };
  const cases: [string, Partial<SearchOptions>, string, string?][] = [
    ['an empty space', { space: {} }, 'ERR_BLASNET_ARG_RANGE'],
    ['low > high', { space: { p: uniform(1, 0) } }, 'ERR_BLASNET_ARG_RANGE'],
    ['a log range with low <= 0', { space: { lr: logUniform(0, 1) } }, 'ERR_BLASNET_ARG_RANGE'],
    ['empty choices', { space: { act: choice([]) } }, 'ERR_BLASNET_ARG_RANGE'],
    ['integer range with fractional bounds', { space: { w: integers(1.5, 4) } }, 'ERR_BLASNET_ARG_RANGE'],
    ['a non-value constant', { space: { f: (() => 1) as never } }, 'ERR_BLASNET_ARG_TYPE'],
    ['a misspelt key in a range', { space: { lr: { ...logUniform(1e-3, 1e-1), hihg: 1 } as never } }, 'ERR_BLASNET_ARG_RANGE'],
    ['a uniform range with log: true', { space: { p: { kind: 'uniform', low: 0.1, high: 1, log: true } } }, 'ERR_BLASNET_ARG_RANGE'],
    ['a regression metric for classes', { metric: 'mse' }, 'ERR_BLASNET_ARG_RANGE'],
    ['an unknown metric', { metric: 'f1' as never }, 'ERR_BLASNET_UNKNOWN_NAME'],
    ['an unknown strategy', { strategy: 'bayes' as never }, 'ERR_BLASNET_UNKNOWN_NAME'],
    ['trials 0', { trials: 0 }, 'ERR_BLASNET_ARG_RANGE'],
    ['trials 1.5', { trials: 1.5 }, 'ERR_BLASNET_ARG_RANGE'],
    ['folds 1', { folds: 1 }, 'ERR_BLASNET_ARG_RANGE'],
    ['more folds than the smallest class', { folds: 200 }, 'ERR_BLASNET_ARG_RANGE'],
    ['folds and validationFraction', { folds: 3, validationFraction: 0.2 }, 'ERR_BLASNET_ARG_RANGE'],
    ['a grid larger than trials', { strategy: 'grid', space: { dropout: choice([0, 0.1, 0.2]) }, trials: 2 }, 'ERR_BLASNET_ARG_RANGE', 'grid'],
    // The default build reads its own names: any other would vary nothing (a misspelt lr, say).
    ['names the default build does not read', { build: undefined, space: { learningRate: logUniform(1e-4, 1e-1), hiden: choice([[8], [64]]), momentum: 0.9 } }, 'ERR_BLASNET_ARG_RANGE',
      'the space names "learningRate" (did you mean "lr"?), "hiden" (did you mean "hidden"?), "momentum", which the default build does not read'],
    ['epochs in the space with halving', { strategy: 'halving', space: { epochs: integers(1, 5) } }, 'ERR_BLASNET_ARG_RANGE'],
    ['a build function with workers', { workers: 2, build: defaultBuild.bind(null) }, 'ERR_BLASNET_ARG_TYPE'],
    ['a build module that does not load', { workers: 2, build: { module: './no-such-build-module.js' } }, 'ERR_BLASNET_IO'],
    ['a build module without the function', { workers: 2, build: { module: BUILD_MODULE, name: 'nothing' } }, 'ERR_BLASNET_ARG_TYPE'],
    // Rows and columns of data.x are numbered from 1, as fit and the input checks number them.
    ['NaN in x', { data: { x: new Matrix(Float32Array.from([0, 1, 2, 3, 4, NaN, 6, 7]), 4, 2), y: new Int32Array([0, 1, 0, 1]) } }, 'ERR_BLASNET_DATA',
      'data.x has NaN at row 3, column 2'],
    ['too few labels', { data: { x: data.x, y: new Int32Array(3) } }, 'ERR_BLASNET_SHAPE'],
    // A label of 2e9 would make 2e9 outputs in every model; a grid of 40 ranges, 5^40 trials: neither is built.
    ['labels past 65536 classes', { data: { x: data.x, y: Int32Array.from(data.y, (c, i) => (i === 0 ? 2e9 : c)) } }, 'ERR_BLASNET_LABEL',
      'the labels run to 2000000000'],
    ['a grid of 5^40 configurations', { strategy: 'grid', trials: undefined, space: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, uniform(0, 1)])) },
      'ERR_BLASNET_ARG_RANGE', 'more than the 1000000 a search lists'],
    // Refused before a list of 2^31 values or 3e7 configurations is made (the heap would run out).
    ['gridPoints 2^31', { strategy: 'grid', trials: undefined, gridPoints: 2 ** 31 }, 'ERR_BLASNET_ARG_RANGE', 'Expected gridPoints <= 1000000'],
    ['3e7 random trials', { trials: 3e7 }, 'ERR_BLASNET_ARG_RANGE', 'Expected trials <= 1000000'],
    ['an infinite trialTimeMs', { budget: { epochs: 1, trialTimeMs: Infinity } }, 'ERR_BLASNET_ARG_RANGE', 'positive finite number for budget.trialTimeMs'],
    // One class, whichever it is: every trial would score perfectly and learn nothing.
    ['labels of one class, 1', { data: { x: data.x, y: new Int32Array(data.y.length).fill(1) } }, 'ERR_BLASNET_LABEL', 'at least 2 classes in data.y (every label is 1)'],
  ];
  for (const [what, patch, code, mentions] of cases) {
    it(`${what}: ${code} before any trial runs`, async () => {
      let built = 0;
      const build = (c: Config, ctx: Parameters<typeof defaultBuild>[1]) => {
        built++;
        return defaultBuild(c, ctx);
      };
      await rejectsCode(() => search({ ...ok, ...(patch.workers ? {} : { build }), ...patch }), code, mentions);
      assert.equal(built, 0);
    });
  }
});

describe('search plot and CLI', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-search-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('progress off a terminal is a line per trial', async function () {
    this.timeout(20000);
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
    await search({ space: { lr: logUniform(1e-3, 1e-1) }, data, trials: 3, budget: { epochs: 1 }, refit: false, progress: stream });
    await new Promise((r) => setImmediate(r));
    assert.equal(lines.length, 3);
    assert.match(lines[2], /^trial 3\/3 {2}#2 stage 0 {2}ok {2}accuracy 0\.\d+ {2}1 epochs/);
  });

  it('the plot has a panel per varying hyperparameter, log axes for log ranges', async function () {
    this.timeout(20000);
    const space = { lr: logUniform(1e-3, 1e-1), hidden: choice([[8], [4]]), batchSize: 16 };
    const r = await search({ space, data, trials: 4, budget: { epochs: 1 }, refit: false });
    assert.equal(r.model, null);
    const spec = searchPlotSpec(r, { space }) as { hconcat: { layer: { encoding: { x: { title: string; type: string; scale?: { type?: string } } } }[] }[] };
    assert.deepEqual(spec.hconcat.map((p) => p.layer[0].encoding.x.title), ['lr', 'hidden']);
    assert.equal(spec.hconcat[0].layer[0].encoding.x.scale?.type, 'log');
    assert.equal(spec.hconcat[1].layer[0].encoding.x.type, 'nominal');
  });

  it('blasnet search writes the table and plot and prints the best configuration', function () {
    this.timeout(60000);
    const lines = ['a,b,c,d,label'];
    for (let i = 0; i < 80; i++) lines.push(`${[0, 1, 2, 3].map((j) => data.x.data[i * 4 + j]).join(',')},${['no', 'yes', 'maybe'][data.y[i]]}`);
    const csv = path.join(tmp, 'd.csv');
    fs.writeFileSync(csv, `${lines.join('\n')}\n`);
    const cli = path.resolve(__dirname, '..', 'lib', 'cli.js');
    const r = spawnSync(process.execPath, [cli, 'search', '--csv', csv, '--test-csv', csv, '--trials', '4', '--epochs', '2', '--workers', '2',
      '--backend', 'js', '--out-table', path.join(tmp, 't.csv'), '--plot', path.join(tmp, 'p'), '--out', path.join(tmp, 'best.blasnet')], { encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /best accuracy 0\.\d+ \(trial \d\): \{"lr"/);
    const last = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    assert.equal(last.trials, 4);
    assert.ok(last.testAccuracy >= 0 && last.testAccuracy <= 1);
    assert.equal(fs.readFileSync(path.join(tmp, 't.csv'), 'utf8').trim().split('\n').length, 5);
    assert.match(fs.readFileSync(path.join(tmp, 'p.svg'), 'utf8'), /^<svg/);
    assert.ok(fs.statSync(path.join(tmp, 'p.png')).size > 1000);
    assert.ok(fs.statSync(path.join(tmp, 'best.blasnet')).size > 100);
    // Regression on the same table: the first feature is the label, scored in its units.
    const reg = spawnSync(process.execPath, [cli, 'search', '--csv', csv, '--test-csv', csv, '--label', 'a', '--trials', '2', '--epochs', '2',
      '--backend', 'js', '--out-table', path.join(tmp, 'r.csv'), '--quiet'], { encoding: 'utf8', timeout: 60000 });
    assert.equal(reg.status, 0, reg.stderr);
    const regLast = JSON.parse(reg.stdout.trim().split('\n').pop() as string);
    assert.equal(regLast.metric, 'mse');
    assert.ok(regLast.testMse > 0 && regLast.testMae > 0);
    // A misspelt key in the --space file stops the command before any trial, naming the file, the entry and the key.
    const spaceFile = path.join(tmp, 'space.json');
    fs.writeFileSync(spaceFile, '{"lr": {"logUniform": [1e-3, 0.1], "lgo": true}}');
    const misspelt = spawnSync(process.execPath, [cli, 'search', '--csv', csv, '--space', spaceFile, '--trials', '1', '--epochs', '1', '--backend', 'js',
      '--out-table', path.join(tmp, 'never.csv')], { encoding: 'utf8', timeout: 60000 });
    assert.equal(misspelt.status, 1, misspelt.stderr);
    assert.equal(misspelt.stderr, `blasnet: search --space ${spaceFile}: lr has an unknown key "lgo"; a logUniform entry takes only "logUniform" (ERR_BLASNET_FORMAT)\n`);
    assert.ok(!fs.existsSync(path.join(tmp, 'never.csv')), 'no table written');
    const bad = spawnSync(process.execPath, [cli, 'search', '--csv', csv, '--folds', '1'], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--folds must be an integer >= 2/);
  });

  it('blasnet search reads and checks --test-csv before any trial, and writes --out before scoring on it', function () {
    this.timeout(60000);
    const lines = ['a,b,c,d,label'];
    for (let i = 0; i < 60; i++) lines.push(`${[0, 1, 2, 3].map((j) => data.x.data[i * 4 + j]).join(',')},${['no', 'yes', 'maybe'][data.y[i]]}`);
    const csv = path.join(tmp, 'early.csv');
    fs.writeFileSync(csv, `${lines.join('\n')}\n`);
    const unseen = path.join(tmp, 'early-unseen.csv');
    fs.writeFileSync(unseen, `${lines.slice(0, 4).join('\n')}\n1,2,3,4,perhaps\n`);
    const unlabeled = path.join(tmp, 'early-unlabeled.csv');
    fs.writeFileSync(unlabeled, `${lines.slice(0, 4).map((l) => l.split(',').slice(0, 4).join(',')).join('\n')}\n`);
    const cli = path.resolve(__dirname, '..', 'lib', 'cli.js');
    const table = path.join(tmp, 'early-table.csv');
    const out = path.join(tmp, 'early.blasnet');
    const run = (test: string) => spawnSync(process.execPath, [cli, 'search', '--csv', csv, '--test-csv', test, '--trials', '1', '--epochs', '1',
      '--backend', 'js', '--out-table', table, '--out', out], { encoding: 'utf8', timeout: 60000 });
    for (const [test, message] of [
      [path.join(tmp, 'absent.csv'), /absent\.csv.*\(ERR_BLASNET_IO\)/],
      [unseen, /label "perhaps" at data row 4, column "label" was not seen in training .*\(ERR_BLASNET_LABEL\)/],
      [unlabeled, /search: .*early-unlabeled\.csv has no label column "label"; --test-csv needs the labels \(ERR_BLASNET_DATA\)/],
    ] as const) {
      const r = run(test);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stdout, /trial/);
      assert.ok(!fs.existsSync(table) && !fs.existsSync(out), 'nothing written');
    }
    const r = run(csv);
    assert.equal(r.status, 0, r.stderr);
    const written = r.stdout.indexOf('model written to');
    assert.ok(written >= 0 && written < r.stdout.indexOf('test accuracy'), r.stdout);
    assert.ok(fs.existsSync(out));
  });
});
