/**
 * Tables to model inputs (TabularPreprocessor, readTable, takeRows) and the evaluation metrics,
 * checked against values worked out by hand.
 */
import { strict as assert } from 'assert';
import {
  classificationReport, confusionMatrix, confusionMatrixSpec, decodeModel, dense, encodeModel, formatClassificationReport,
  formatRegressionReport, Matrix, readCsv, readTable, regressionReport, rocAuc, Sequential, Standardizer, TabularPreprocessor, takeRows,
} from '../lib';
import type { Cell, Table, TabularOptions } from '../lib';
import { decode, encode } from '../lib/io/format';
import { forEachBackend, throwsCode, warningsDuring } from './helpers';

const CSV = [
  'size,color,weight,y',
  '1,red,10,a',
  '2,blue,,b',
  '3,red,30,a',
  'NA,green,40,c',
  '5,,50,b',
].join('\n') + '\n';

/** The messages of the process warnings emitted while fn runs. */
async function warnings(fn: () => void): Promise<string[]> {
  return (await warningsDuring(fn)).map((w) => w.message);
}

describe('readTable and takeRows', () => {
  it('reads raw cells and names rows 1-based in errors', () => {
    const t = readTable(CSV);
    assert.deepEqual(t.columns, ['size', 'color', 'weight', 'y']);
    assert.equal(t.rows.length, 5);
    assert.deepEqual(t.rows[1], ['2', 'blue', '', 'b']);
    throwsCode(() => readTable('a,b\n1,2\n3\n'), 'ERR_BLASNET_DATA', undefined, 'data row 2 (line 3) has 1 fields but the header has 2');
    throwsCode(() => readTable('a,a\n1,2\n'), 'ERR_BLASNET_DATA', undefined, 'more than once');
  });

  it('takeRows keeps the source row numbers for messages', () => {
    const part = takeRows(readTable(CSV), [3, 0]);
    assert.deepEqual(part.rowNumbers, [4, 1]);
    const p = TabularPreprocessor.fit(readTable(CSV), { label: 'y' });
    const bad = takeRows(readTable(CSV.replace('5,,50,b', '5,,50,z')), [0, 4]);
    throwsCode(() => p.targets(bad), 'ERR_BLASNET_LABEL', RangeError, 'label "z" at data row 5, column "y" was not seen in training');
  });
});

describe('TabularPreprocessor', () => {
  const table = readTable(CSV);

  it('imputes, standardises, one-hot encodes and adds indicator columns, as worked out by hand', () => {
    const p = TabularPreprocessor.fit(table, { label: 'y' });
    assert.equal(p.task, 'classification');
    assert.deepEqual(p.classNames, ['a', 'b', 'c']);
    assert.deepEqual(p.featureNames, ['size', 'size (missing)', 'color=blue', 'color=green', 'color=red', 'color (missing)', 'weight', 'weight (missing)']);
    assert.equal(p.inputSize, 8);
    const x = p.transform(table);
    // size: observed 1,2,3,5 -> median 2.5; imputed column 1,2,3,2.5,5: mean 2.7, population std sqrt(8.8 / 5).
    const size = [1, 2, 3, 2.5, 5].map((v) => (v - 2.7) / Math.sqrt(1.76));
    // weight: observed 10,30,40,50 -> median 35; imputed 10,35,30,40,50: mean 33, std sqrt(880 / 5).
    const weight = [10, 35, 30, 40, 50].map((v) => (v - 33) / Math.sqrt(176));
    // color: categories blue, green, red; the mode is red (2 of 4), filled in row 5.
    const color = [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 1]];
    for (let i = 0; i < 5; i++) {
      const want = [size[i], i === 3 ? 1 : 0, ...color[i], weight[i], i === 1 ? 1 : 0];
      want.forEach((v, j) => assert.ok(Math.abs(x.data[i * 8 + j] - v) < 1e-6, `row ${i} col ${j}: ${x.data[i * 8 + j]} vs ${v}`));
    }
    assert.deepEqual(Array.from(p.targets(table) as Int32Array), [0, 1, 0, 2, 1]);
  });

  it('records and tables give the same inputs; toJSON round-trips exactly', () => {
    const p = TabularPreprocessor.fit(table, { label: 'y', categorical: ['size'] });
    const records = table.rows.map((r) => Object.fromEntries(table.columns.map((c, j) => [c, r[j] === '' || r[j] === 'NA' ? null : r[j]])));
    assert.deepEqual(p.transform(records), p.transform(table));
    const q = TabularPreprocessor.fromJSON(JSON.parse(JSON.stringify(p.toJSON())));
    assert.deepEqual(q.toJSON(), p.toJSON());
    assert.deepEqual(q.transform(table), p.transform(table));
    // A number matches the category spelt as its shortest form; '1.0' is another spelling.
    assert.deepEqual(p.transform([{ size: '1', color: 'red', weight: 10 }]).data, p.transform([{ size: 1, color: 'red', weight: '10' }]).data);
    throwsCode(() => TabularPreprocessor.fit(table, { label: 'y', categorical: ['size'], unknownCategory: 'error' }).transform([{ size: '1.0', color: 'red', weight: 10 }]),
      'ERR_BLASNET_DATA', undefined, 'category "1.0" was not seen in training');
    throwsCode(() => TabularPreprocessor.fromJSON({ type: 'TabularPreprocessor', columns: [] }), 'ERR_BLASNET_FORMAT');
  });

  it('an unknown category is all zeros with one warning, or an error when asked', async () => {
    const p = TabularPreprocessor.fit(table, { label: 'y' });
    const rows = [{ size: 1, color: 'purple', weight: 10 }, { size: 1, color: 'purple', weight: 10 }];
    let x = new Matrix(new Float32Array(0), 0, 0);
    const seen = await warnings(() => { x = p.transform(rows); });
    assert.equal(seen.length, 1);
    assert.match(seen[0], /2 rows of column "color" had categories not seen in training \(first "purple" at records\[0\]\); encoded as all zeros/);
    assert.deepEqual(Array.from(x.data.subarray(2, 6)), [0, 0, 0, 0]);
    const strict = TabularPreprocessor.fit(table, { label: 'y', unknownCategory: 'error' });
    throwsCode(() => strict.transform(rows), 'ERR_BLASNET_DATA', undefined, 'category "purple" was not seen in training at records[0], column "color"');
  });

  it('impute off makes a missing cell a coded error naming row and column; bad cells and columns fail clearly', () => {
    throwsCode(() => TabularPreprocessor.fit(table, { label: 'y', impute: false }), 'ERR_BLASNET_DATA', undefined, 'missing value "NA" at data row 4, column "size" (imputation is off)');
    const p = TabularPreprocessor.fit(table, { label: 'y' });
    throwsCode(() => p.transform(readTable('size,color,weight\n1,red,heavy\n')), 'ERR_BLASNET_DATA', undefined, '"heavy" is not a number (the column was numeric in training) at data row 1, column "weight"');
    throwsCode(() => p.transform(readTable('size,color\n1,red\n')), 'ERR_BLASNET_DATA', undefined, 'feature column "weight" is missing');
    throwsCode(() => TabularPreprocessor.fit(table, { label: 'nope' }), 'ERR_BLASNET_DATA', undefined, 'label column "nope" does not exist');
    // A categorical column is a feature: the label column, one left out of options.features and one not in the table each say which.
    throwsCode(() => TabularPreprocessor.fit(table, { label: 'y', categorical: ['color', 'y'] }), 'ERR_BLASNET_ARG_RANGE', RangeError,
      'column "y" is the label column and cannot be a categorical feature');
    throwsCode(() => TabularPreprocessor.fit(table, { label: 'y', features: ['size'], categorical: ['color'] }), 'ERR_BLASNET_ARG_RANGE', RangeError,
      'categorical column "color" is not one of options.features');
    throwsCode(() => TabularPreprocessor.fit(table, { label: 'y', categorical: ['colour'] }), 'ERR_BLASNET_DATA', undefined,
      'categorical column (a feature) "colour" does not exist; the columns are "size", "color", "weight", "y"');
    throwsCode(() => TabularPreprocessor.fit(readTable('a,b,c\n1,2,3\n'), { label: ['b', 'c'], task: 'classification' }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'several label columns are for regression');
    throwsCode(() => TabularPreprocessor.fit(table, { label: 'y', task: 'regression' }), 'ERR_BLASNET_DATA', undefined, 'label "a" at data row 1, column "y" is not a number (the task is regression)');
  });

  it('an infinite or float32-overflowing number in a column of numbers is an error, not a column of categories', async () => {
    const numbers = (cell: string) => readTable('x,y\n' + Array.from({ length: 30 }, (_, i) => `${i === 7 ? cell : (i * 0.37).toFixed(2)},${i % 2}`).join('\n') + '\n');
    for (const cell of ['inf', '-Infinity', '1e39', '-4e38']) {
      throwsCode(() => TabularPreprocessor.fit(numbers(cell), { label: 'y' }), 'ERR_BLASNET_DATA', undefined,
        `"${cell}" at data row 8, column "x", is not a finite float32 number, in a column of numbers`);
    }
    throwsCode(() => TabularPreprocessor.fit([{ x: 1, y: 0 }, { x: Infinity, y: 1 }], { label: 'y' }), 'ERR_BLASNET_DATA', undefined,
      'Infinity at records[1], column "x", is not a finite float32 number');
    // Asked for categories, the column is categories; a missing cell is still imputed.
    // (one category per row: BLASNET_MANY_CATEGORIES, taken here so it does not reach the checks below)
    const many = await warningsDuring(() => assert.equal(TabularPreprocessor.fit(numbers('inf'), { label: 'y', categorical: ['x'] }).toJSON().columns[0].kind, 'categorical'));
    assert.deepEqual(many.map((w) => w.code), ['BLASNET_MANY_CATEGORIES']);
    assert.equal(TabularPreprocessor.fit(numbers('NA'), { label: 'y' }).toJSON().columns[0].kind, 'numeric');
    // After training, such a cell in a numeric column says what is wrong with it.
    const p = TabularPreprocessor.fit(numbers('1'), { label: 'y' });
    throwsCode(() => p.transform(readTable('x\ninf\n')), 'ERR_BLASNET_DATA', undefined, '"inf" is not a finite float32 number (the column was numeric in training) at data row 1, column "x"');
    // A text cell among many numbers still makes categories, with a warning naming the cell.
    let kind = '';
    const seen = await warnings(() => { kind = TabularPreprocessor.fit(numbers('"1,234"'), { label: 'y' }).toJSON().columns[0].kind; });
    assert.equal(kind, 'categorical');
    assert.equal(seen.length, 1, seen.join('\n'));
    assert.match(seen[0], /column "x" holds numbers but 1 of its 30 cells are text \("1,234" at data row 8\), so it is one-hot encoded by value \(30 categories\)/);
    assert.deepEqual(await warnings(() => TabularPreprocessor.fit(table, { label: 'y' })), [], 'a column of words warns of nothing');
  });

  it('? marks a missing cell, as NA does: imputed by TabularPreprocessor, missing to readCsv', () => {
    const t = readTable('x,c,y\n1,a,0\n?,b,1\n3, ? ,0\n4,a,1\n');
    const p = TabularPreprocessor.fit(t, { label: 'y', standardize: false });
    assert.deepEqual(p.featureNames, ['x', 'x (missing)', 'c=a', 'c=b', 'c (missing)']);
    assert.deepEqual(Array.from(p.transform(t).data.subarray(5, 15)), [3, 1, 0, 1, 0, 3, 0, 1, 0, 1]);
    throwsCode(() => TabularPreprocessor.fit(t, { label: 'y', impute: false }), 'ERR_BLASNET_DATA', undefined, 'missing value "?" at data row 2, column "x"');
    throwsCode(() => readCsv('x,y\n1,0\n?,1\n'), 'ERR_BLASNET_DATA', undefined, 'missing value "?" at data row 2 (line 3), column "x"');
    assert.deepEqual(Array.from(readCsv('x,y\n1,0\n?,1\n', { label: 'y', missing: 'skipRow' }).x.data), [1]);
  });

  it('a column made categories while most of its cells are numbers warns, naming cells that are not; so does one of nearly a category per row', async () => {
    const warned = async (t: Table | Record<string, Cell>[], options: TabularOptions = { label: 'y' }) =>
      (await warningsDuring(() => TabularPreprocessor.fit(t, options))).map((w) => ({ code: w.code, message: w.message }));
    // Fewer than 20 numbers, and more than 5% text: a thousands separator, a decimal comma, a unit.
    const small = readTable('x,y\n12,0\n"1,234",1\n7,0\n"2,500",1\n3,0\n9 kg,1\n5,0\n');
    const w1 = await warned(small);
    assert.equal(w1.length, 1);
    assert.equal(w1[0].code, 'BLASNET_MOSTLY_NUMERIC');
    assert.match(w1[0].message, /column "x" holds numbers but 3 of its 7 cells are text \("1,234" at data row 2, "2,500" at data row 4, "9 kg" at data row 6\)/);
    assert.match(w1[0].message, /thousands separators or decimal commas, rewrite them as plain decimals/);
    assert.match(w1[0].message, /a number not seen in training encodes as all zeros/);
    // Decimal commas throughout (a ';' file): none is a number to blasnet, all read as numbers written with commas.
    const commas = readTable('price;y\n' + Array.from({ length: 30 }, (_, i) => `${i},${i % 10};${i % 2}`).join('\n') + '\n', { delimiter: ';' });
    const w2 = await warned(commas);
    assert.deepEqual(w2.map((w) => w.code), ['BLASNET_MOSTLY_NUMERIC']);
    assert.match(w2[0].message, /column "price" holds numbers but 30 of its 30 cells are text \("0,0" at data row 1, "1,1" at data row 2, "2,2" at data row 3, \.\.\. \(30 in all\)\)/);
    // Not reinterpreted: the cells stay categories.
    let kind = '';
    await warningsDuring(() => { kind = TabularPreprocessor.fit(commas, { label: 'y' }).toJSON().columns[0].kind; });
    assert.equal(kind, 'categorical');
    // A column of words with a few numbers, and one named categorical, warn of nothing.
    assert.deepEqual(await warned(readTable('c,y\nred,0\n1,1\nblue,0\ngreen,1\n')), []);
    assert.deepEqual(await warned(small, { label: 'y', categorical: ['x'] }), []);
    // Nearly one category per row (an id): its one-hot block says nothing about new rows.
    const ids = Array.from({ length: 60 }, (_, i) => ({ name: `user${i}`, c: ['a', 'b', 'c'][i % 3], y: i % 2 }));
    const w3 = await warned(ids);
    assert.deepEqual(w3.map((w) => w.code), ['BLASNET_MANY_CATEGORIES']);
    assert.match(w3[0].message, /records: column "name" has 60 categories in 60 cells, nearly one per row/);
    assert.deepEqual((await warned(ids, { label: 'y', categorical: ['name'] })).map((w) => w.code), ['BLASNET_MANY_CATEGORIES']);
    // 20 categories or fewer, or at most one per two cells, do not warn.
    assert.deepEqual(await warned(ids.slice(0, 20)), []);
    assert.deepEqual(await warned(ids.map((r, i) => ({ ...r, name: `user${i % 30}` }))), []);
  });

  it('kindsFrom keeps the kinds fitted on all rows: a split cannot make a column numeric, and a column empty in it is left out with a warning', async () => {
    // "age" is numbers with one text cell, in the last row; "note" has one value, in the first.
    const rows = Array.from({ length: 12 }, (_, i) => ({ x: i, age: i === 11 ? 'unknown' : 20 + i, note: i === 0 ? 3.5 : '', y: i % 2 ? 'a' : 'b' }));
    let whole: TabularPreprocessor | null = null;
    await warnings(() => { whole = TabularPreprocessor.fit(rows, { label: 'y' }); });
    const part = rows.slice(1, 11);
    // Fitted on the part alone, "age" is numeric and "note" has no values.
    throwsCode(() => TabularPreprocessor.fit(part, { label: 'y' }), 'ERR_BLASNET_DATA', undefined, 'column "note" has no values, only missing cells');
    let p = whole as unknown as TabularPreprocessor;
    const seen = await warnings(() => { p = TabularPreprocessor.fit(part, { label: 'y', kindsFrom: whole as unknown as TabularPreprocessor }); });
    assert.deepEqual(p.featureColumns, ['x', 'age']);
    assert.ok(p.featureNames.includes('age=21'), p.featureNames.join(', '));
    assert.equal(seen.filter((m) => /column "note" has no values in these 10 rows, only missing cells, and is left out/.test(m)).length, 1, seen.join('\n'));
    // The held-out rows transform through it, the text cell included (an unknown category).
    await warnings(() => { assert.equal(p.transform(rows.slice(11)).cols, p.inputSize); });
    throwsCode(() => TabularPreprocessor.fit(part, { label: 'y', kindsFrom: {} as TabularPreprocessor }), 'ERR_BLASNET_ARG_TYPE', TypeError, 'options.kindsFrom');
    // The caller's options are read, not written: kindsFrom's categorical columns join a copy.
    const options = { label: 'y', categorical: ['x'], kindsFrom: whole as unknown as TabularPreprocessor };
    await warnings(() => { TabularPreprocessor.fit(part, options); });
    assert.deepEqual(options.categorical, ['x']);
    const onlyNote = rows.map((r) => ({ note: r.note, y: r.y }));
    const noteWhole = TabularPreprocessor.fit(onlyNote, { label: 'y' });
    throwsCode(() => TabularPreprocessor.fit(onlyNote.slice(1), { label: 'y', kindsFrom: noteWhole }), 'ERR_BLASNET_DATA', undefined, 'every feature column has only missing cells');
  });

  it('integer labels past 2^53 stay distinct classes; a label of one class is an error', () => {
    const ids = readTable('x,id\n' + Array.from({ length: 12 }, (_, i) => `${i},${i % 2 ? '9007199254740993' : '9007199254740992'}`).join('\n') + '\n');
    const p = TabularPreprocessor.fit(ids, { label: 'id' });
    assert.equal(p.task, 'classification');
    assert.deepEqual(p.classNames, ['9007199254740992', '9007199254740993']);
    assert.deepEqual(Array.from(p.targets(ids) as Int32Array).slice(0, 4), [0, 1, 0, 1]);
    assert.match(p.taskReason as string, /2 distinct integers/);
    // As a feature too: two categories, not one.
    const feature = TabularPreprocessor.fit(ids, { label: 'x', task: 'regression', categorical: ['id'] });
    assert.deepEqual((feature.toJSON().columns[0] as { categories: string[] }).categories, ['9007199254740992', '9007199254740993']);
    throwsCode(() => TabularPreprocessor.fit(readTable('x,y\n1,a\n2,a\n3,a\n'), { label: 'y' }), 'ERR_BLASNET_DATA', undefined,
      'the label column "y" holds one class, "a", in all 3 rows; a classifier needs rows of two classes or more');
  });

  it('detects the task from the label and says why', () => {
    const rows = (f: (i: number) => number) => Array.from({ length: 30 }, (_, i) => ({ x: i, y: f(i) }));
    const few = TabularPreprocessor.fit(rows((i) => i % 3), { label: 'y' });
    assert.equal(few.task, 'classification');
    assert.match(few.taskReason as string, /3 distinct integers/);
    const many = TabularPreprocessor.fit(rows((i) => i * 7), { label: 'y' });
    assert.equal(many.task, 'regression');
    assert.match(many.taskReason as string, /30 distinct integers/);
    const real = TabularPreprocessor.fit(rows((i) => (i % 2) + 0.5), { label: 'y' });
    assert.equal(real.task, 'regression');
    assert.match(real.taskReason as string, /non-integer/);
    assert.equal(TabularPreprocessor.fit(rows((i) => i % 3), { label: 'y', task: 'regression' }).taskReason, null);
  });

  it('regression targets are standardised and inverseTargets brings predictions back to the label units', () => {
    const rows = [{ x: 1, a: 10, b: -1 }, { x: 2, a: 20, b: -2 }, { x: 3, a: 30, b: -3 }, { x: 4, a: 40, b: -4 }];
    const p = TabularPreprocessor.fit(rows, { label: ['a', 'b'] });
    assert.equal(p.task, 'regression');
    assert.equal(p.outputSize, 2);
    const y = p.targets(rows) as Matrix;
    // a: mean 25, population std sqrt(125).
    assert.ok(Math.abs(y.data[0] - (10 - 25) / Math.sqrt(125)) < 1e-6);
    const back = p.inverseTargets(y);
    rows.forEach((r, i) => {
      assert.ok(Math.abs(back.data[i * 2] - r.a) < 1e-4);
      assert.ok(Math.abs(back.data[i * 2 + 1] - r.b) < 1e-5);
    });
    assert.equal((TabularPreprocessor.fit(rows, { label: 'a', scaleTargets: false }).targets(rows) as Matrix).data[0], 10);
    // classIndices is a classifier's: here a coded refusal, there the targets themselves.
    throwsCode(() => p.classIndices(rows), 'ERR_BLASNET_STATE', undefined, 'fitted on a regression label');
    throwsCode(() => TabularPreprocessor.fit(rows).classIndices(rows), 'ERR_BLASNET_STATE', undefined, 'fitted without a label column');
    const named = [{ x: 1, k: 'b' }, { x: 2, k: 'a' }, { x: 3, k: 'b' }];
    const c = TabularPreprocessor.fit(named, { label: 'k' });
    assert.deepEqual(c.classIndices(named), c.targets(named));
    assert.ok(c.classIndices(named) instanceof Int32Array);
  });

  it('inverseTargets rounds to float32 as a Matrix does; inverseTargetsFloat64 keeps float64', () => {
    const rows = [5015949080, 5015948080, 4.9e9, 5.1e9].map((y, i) => ({ x: i, y, small: i * 1e-3 }));
    const p = TabularPreprocessor.fit(rows, { label: ['y', 'small'] });
    const { mean, std } = p.toJSON().target as { mean: number[]; std: number[] };
    const y = new Matrix(Float32Array.from([0, 1, 0.5, -1.25]), 2, 2);
    const exact = Array.from(y.data, (z, k) => z * std[k % 2] + mean[k % 2]);
    const f64 = p.inverseTargetsFloat64(y);
    assert.ok(f64 instanceof Float64Array);
    assert.deepEqual(Array.from(f64), exact);
    assert.deepEqual(Array.from(p.inverseTargets(y).data), exact.map(Math.fround));
    // A label of 5015949080 comes back from its own target within float32's rounding of the
    // standardised value, far closer than float32's spacing of 512 at that magnitude.
    const back = p.inverseTargetsFloat64(p.targets(rows) as Matrix);
    assert.ok(Math.abs(back[0] - 5015949080) < 16, `${back[0]}`);
    assert.equal(p.inverseTargets(p.targets(rows) as Matrix).data[0], Math.fround(back[0]));
    throwsCode(() => p.inverseTargetsFloat64(new Matrix(new Float32Array(3), 1, 3)), 'ERR_BLASNET_SHAPE', RangeError, 'Expected y with 2 columns but received [1, 3]');
    throwsCode(() => TabularPreprocessor.fit(table, { label: 'y' }).inverseTargetsFloat64(y), 'ERR_BLASNET_STATE', undefined, 'only a regression');
  });

  it('labelValues: the regression labels as the cells hold them, float64, row-major', () => {
    const rows = [{ x: 0, ts: 1700000000, v: 0.1 }, { x: 1, ts: 1700000300, v: -2 }, { x: 2, ts: '1700000995', v: '3e-3' }];
    const p = TabularPreprocessor.fit(rows, { label: ['ts', 'v'] });
    const v = p.labelValues(rows);
    assert.ok(v instanceof Float64Array);
    // Unlike inverseTargets(targets(rows)), no float32 step of 128 near 1.7e9.
    assert.deepEqual(Array.from(v), [1700000000, 0.1, 1700000300, -2, 1700000995, 3e-3]);
    assert.deepEqual(Array.from(p.labelValues(readTable('x,v,ts\n5,7,1700000001\n'))), [1700000001, 7]);
    throwsCode(() => p.labelValues([{ x: 1, ts: 5 }]), 'ERR_BLASNET_DATA', undefined, 'label column "v" is missing');
    throwsCode(() => p.labelValues([{ x: 1, ts: 5, v: 'NA' }]), 'ERR_BLASNET_DATA', undefined, 'missing label at records[0], column "v"');
    throwsCode(() => p.labelValues([{ x: 1, ts: 'soon', v: 1 }]), 'ERR_BLASNET_DATA', undefined, 'label "soon" at records[0], column "ts" is not a number');
    throwsCode(() => TabularPreprocessor.fit(table, { label: 'y' }).labelValues(table), 'ERR_BLASNET_STATE', undefined, 'only a regression');
  });

  it('a column constant in training is centred, not divided by the rounding noise of its mean', () => {
    // The float64 mean of 1000 x 0.1 is not 0.1, so the computed std is about 1e-15, not 0.
    const rows = Array.from({ length: 1000 }, (_, i) => ({ x: i % 10, rate: 0.1, y: i % 2 }));
    const p = TabularPreprocessor.fit(rows, { label: 'y' });
    const rate = p.toJSON().columns[1] as { mean: number; std: number };
    assert.deepEqual([rate.mean, rate.std], [0.1, 1]);
    assert.equal(p.transform(rows).data[1], 0);
    const s = new Standardizer().fit(new Matrix(new Float32Array(1000).fill(0.1), 1000, 1));
    const other = p.transform([{ x: 3, rate: 0.11 }]).data[1];
    assert.ok(Math.abs(other - 0.01) < 1e-7, `0.11 -> ${other}`);
    assert.ok(Math.abs(other - s.transform(new Matrix(new Float32Array([0.11]), 1, 1)).data[0]) < 1e-7);
    // Values that differ only by float64 arithmetic noise (0.1 + 0.2 against 0.3) are constant too,
    // and so is a column whose one value is imputed into the missing cells.
    const noisy = Array.from({ length: 100003 }, (_, i) => ({ c: i % 2 ? 0.1 + 0.2 : 0.3, d: i % 3 ? 7.7 : null, y: i % 2 }));
    const q = TabularPreprocessor.fit(noisy, { label: 'y' });
    for (const c of q.toJSON().columns as { std: number }[]) assert.equal(c.std, 1);
    assert.ok(Math.abs(q.transform([{ c: 0.33, d: 8.7 }]).data[0] - 0.03) < 1e-6);
    // A column of tiny numbers that do vary is still standardised.
    const tiny = TabularPreprocessor.fit(Array.from({ length: 50 }, (_, i) => ({ t: (i % 5) * 1e-12, y: i % 2 })), { label: 'y' });
    assert.ok(Math.abs((tiny.toJSON().columns[0] as { std: number }).std - Math.sqrt(2) * 1e-12) < 1e-20);
    // A constant regression target: the targets are 0 and come back as the constant.
    const flat = TabularPreprocessor.fit(Array.from({ length: 1000 }, (_, i) => ({ x: i, y: 0.1 })), { label: 'y', task: 'regression' });
    const t = flat.targets([{ x: 1, y: 0.1 }, { x: 2, y: 0.35 }]) as Matrix;
    assert.equal(t.data[0], 0);
    assert.ok(Math.abs(t.data[1] - 0.25) < 1e-7);
    assert.equal(flat.inverseTargets(new Matrix(new Float32Array([0]), 1, 1)).data[0], Math.fround(0.1));
  });

  it('reads a BigInt cell as the number it holds, in features, labels and messages', () => {
    const rows = Array.from({ length: 30 }, (_, i) => ({ amount: BigInt(i * 10), y: i % 2 }));
    const p = TabularPreprocessor.fit(rows, { label: 'y' });
    assert.equal(p.describe(), '1 feature columns -> 1 inputs: 1 numeric (standardised)');
    assert.deepEqual(p.transform([{ amount: 30n }]), p.transform([{ amount: 30 }]));
    assert.deepEqual(p.transform(rows), TabularPreprocessor.fit(rows.map((r) => ({ ...r, amount: Number(r.amount) })), { label: 'y' }).transform(rows));
    throwsCode(() => p.transform([{ amount: 10n ** 40n }]), 'ERR_BLASNET_DATA', undefined,
      `${10n ** 40n}n is not a finite float32 number (the column was numeric in training) at records[0], column "amount"`);
    // A label of 300 distinct amounts is a quantity; one of two ids a class each, digits kept.
    const prices = TabularPreprocessor.fit(Array.from({ length: 300 }, (_, i) => ({ x: i, price: BigInt(1000 + 7 * i) })), { label: 'price' });
    assert.equal(prices.task, 'regression');
    assert.equal(prices.outputSize, 1);
    const ids = Array.from({ length: 12 }, (_, i) => ({ x: i, id: i % 2 ? 9007199254740993n : 9007199254740992n }));
    const classes = TabularPreprocessor.fit(ids, { label: 'id' });
    assert.deepEqual(classes.classNames, ['9007199254740992', '9007199254740993']);
    assert.deepEqual(Array.from(classes.targets([{ id: '9007199254740993' }, { id: 9007199254740992n }]) as Int32Array), [1, 0]);
    const feature = TabularPreprocessor.fit(ids, { label: 'x', task: 'regression', categorical: ['id'] });
    assert.deepEqual((feature.toJSON().columns[0] as { categories: string[] }).categories, ['9007199254740992', '9007199254740993']);
  });

  it('a boolean cell and the words true and false in any case are one category each, named as first seen', async () => {
    const rows = Array.from({ length: 8 }, (_, i) => ({ member: i % 3 === 0, y: i % 2 }));
    const p = TabularPreprocessor.fit(rows, { label: 'y' });
    assert.deepEqual(p.featureNames, ['member=false', 'member=true']);
    const csv = readTable('member,y\n' + rows.map((r) => `${r.member},${r.y}`).join('\n') + '\n');
    assert.deepEqual(p.transform(csv), p.transform(rows));
    // A CSV file written by pandas spells them True and False; spreadsheets TRUE and FALSE.
    const pandas = readTable('member,y\n' + rows.map((r) => `${r.member ? 'True' : 'False'},${r.y}`).join('\n') + '\n');
    const upper = readTable('member\n' + rows.map((r) => (r.member ? 'TRUE' : 'false')).join('\n') + '\n');
    assert.deepEqual(await warnings(() => assert.deepEqual(p.transform(pandas), p.transform(rows))), []);
    assert.deepEqual(await warnings(() => assert.deepEqual(p.transform(upper), p.transform(rows))), []);
    const fromPandas = TabularPreprocessor.fit(pandas, { label: 'y' });
    assert.deepEqual(fromPandas.featureNames, ['member=False', 'member=True']);
    assert.deepEqual(await warnings(() => assert.deepEqual(fromPandas.transform(rows), p.transform(rows))), []);
    assert.deepEqual(fromPandas.transform([{ member: 'TRUE' }, { member: ' false ' }]), p.transform([{ member: true }, { member: false }]));
    // Several spellings in training make one category, named by the first.
    const mixed = TabularPreprocessor.fit(['TRUE', true, 'true', 'False', false].map((member, i) => ({ member, y: i % 2 })), { label: 'y' });
    assert.deepEqual(mixed.featureNames, ['member=False', 'member=TRUE']);
    // As labels too.
    const labels = TabularPreprocessor.fit(rows.map((r, i) => ({ x: i, y: r.member })), { label: 'y' });
    assert.deepEqual(labels.classNames, ['false', 'true']);
    assert.deepEqual(Array.from(labels.targets([{ y: 'True' }, { y: 'FALSE' }, { y: false }]) as Int32Array), [1, 0, 0]);
    const numeric = TabularPreprocessor.fit(rows.map((r, i) => ({ member: i, y: r.y })), { label: 'y' });
    throwsCode(() => numeric.transform([{ member: true }]), 'ERR_BLASNET_DATA', undefined, 'true is not a number (the column was numeric in training) at records[0], column "member"');
  });

  it('class names and categories keep the spelling first seen in training; text matches as text, a number as its shortest form', () => {
    const codes = ['007', '010', '100'];
    const zips = ['02134', '2134', '02134', '10001'];
    const table = readTable('zip,y\n' + Array.from({ length: 12 }, (_, i) => `${zips[i % 4]},${codes[i % 3]}`).join('\n') + '\n');
    const p = TabularPreprocessor.fit(table, { label: 'y', categorical: ['zip'], unknownCategory: 'error' });
    assert.equal(p.task, 'classification');
    assert.deepEqual(p.classNames, ['007', '010', '100']);
    // Sorted by value, equal values by their text.
    assert.deepEqual(p.featureNames, ['zip=02134', 'zip=2134', 'zip=10001']);
    assert.deepEqual(Array.from(p.targets(table) as Int32Array).slice(0, 3), [0, 1, 2]);
    assert.deepEqual(Array.from(p.transform([{ zip: '02134' }, { zip: 2134 }, { zip: ' 2134' }]).data), [1, 0, 0, 0, 1, 0, 0, 1, 0]);
    throwsCode(() => p.transform([{ zip: '2134.0' }]), 'ERR_BLASNET_DATA', undefined, 'category "2134.0" was not seen in training at records[0], column "zip"');
    assert.deepEqual(Array.from(p.targets([{ y: '100' }, { y: 100 }, { y: ' 007 ' }]) as Int32Array), [2, 2, 0]);
    for (const y of ['7', 7, '07', '7.0']) {
      throwsCode(() => p.targets([{ y }]), 'ERR_BLASNET_LABEL', RangeError, `label ${JSON.stringify(String(y))} at records[0], column "y" was not seen in training (classes: "007", "010", "100")`);
    }
    const q = TabularPreprocessor.fromJSON(JSON.parse(JSON.stringify(p.toJSON())));
    assert.deepEqual(q.toJSON(), p.toJSON());
    assert.deepEqual(q.classNames, ['007', '010', '100']);
    assert.equal(p.toJSON().matching, 'text');
    const dup = { ...p.toJSON(), target: { task: 'classification', column: 'y', classNames: ['True', '7', 'true'] } };
    throwsCode(() => TabularPreprocessor.fromJSON(dup), 'ERR_BLASNET_FORMAT', undefined, 'target holds the class "true" twice');
    throwsCode(() => TabularPreprocessor.fromJSON({ ...p.toJSON(), matching: 'value' }), 'ERR_BLASNET_FORMAT', undefined, 'matching is malformed');
    // Signs and decimals are kept too; numbers from records are named by their shortest form.
    const signs = TabularPreprocessor.fit(readTable('x,y\n' + Array.from({ length: 12 }, (_, i) => `${i},${['+1', '-1', '1.0'][i % 3]}`).join('\n') + '\n'), { label: 'y' });
    assert.deepEqual(signs.classNames, ['-1', '+1', '1.0']);
    const numbers = TabularPreprocessor.fit(Array.from({ length: 12 }, (_, i) => ({ x: i, y: [1, 2.5, 10][i % 3] })), { label: 'y', task: 'classification' });
    assert.deepEqual(numbers.classNames, ['1', '2.5', '10']);
    assert.deepEqual(Array.from(numbers.targets([{ y: '10' }, { y: 2.5 }, { y: 1n }]) as Int32Array), [2, 1, 0]);
  });

  it('a model file written before names kept their spelling loads and predicts as it did', async () => {
    // TabularPreprocessor.fit on zip (categorical) 02134, 2134, 02134; flag True, False, True and
    // y 007, 010, 100, 7 (12 rows), as the version before stored it: numeric names in their
    // shortest form, no matching field.
    const old = {
      type: 'TabularPreprocessor', standardize: true, impute: true, unknownCategory: 'warn',
      columns: [
        { name: 'zip', kind: 'categorical', categories: ['2134'], fill: '2134', indicator: false },
        { name: 'flag', kind: 'categorical', categories: ['False', 'True'], fill: 'True', indicator: false },
      ],
      target: { task: 'classification', column: 'y', classNames: ['7', '10', '100'] },
      taskReason: 'label "y" holds 3 distinct integers (at most 4 means classes)', rows: 12,
    };
    const zips = ['02134', '2134', '02134'], flags = ['True', 'False', 'True'], codes = ['007', '010', '100', '7'];
    const table = readTable('zip,flag,y\n' + Array.from({ length: 12 }, (_, i) => `${zips[i % 3]},${flags[i % 3]},${codes[i % 4]}`).join('\n') + '\n');
    const model = new Sequential({ inputSize: 3, layers: [dense(3)] });
    const direct = TabularPreprocessor.fromJSON(JSON.parse(JSON.stringify(old)));
    const loaded = decodeModel(encodeModel(model, { preprocessing: old })).preprocessor as TabularPreprocessor;
    for (const p of [direct, loaded]) {
      assert.deepEqual(p.toJSON(), old);
      assert.deepEqual(p.classNames, ['7', '10', '100']);
      // What that version computed for these rows.
      assert.deepEqual(Array.from(p.targets(table) as Int32Array), [0, 1, 2, 0, 0, 1, 2, 0, 0, 1, 2, 0]);
      assert.equal(Array.from(p.transform(table).data).join(''), '101110101101110101101110101101110101');
      assert.deepEqual(Array.from(p.targets([{ y: 7 }, { y: '7.0' }, { y: '+10' }]) as Int32Array), [0, 0, 1]);
      // Booleans now match the words in any case there too.
      assert.deepEqual(await warnings(() => assert.deepEqual(Array.from(p.transform([{ zip: 2134, flag: true }, { zip: '2134', flag: 'FALSE' }]).data), [1, 0, 1, 1, 1, 0])), []);
    }
  });

  it('an infinite or float32-overflowing number in a numeric label is an error naming the row, not a reason for classes', () => {
    const labels = (cell: string) => readTable('x,price\n' + Array.from({ length: 30 }, (_, i) => `${i},${i === 7 ? cell : (100 + i * 3.5).toFixed(1)}`).join('\n') + '\n');
    for (const cell of ['inf', '-Infinity', '1e39']) {
      throwsCode(() => TabularPreprocessor.fit(labels(cell), { label: 'price' }), 'ERR_BLASNET_DATA', undefined,
        `label "${cell}" at data row 8, column "price", is not a finite float32 number, in a column of numbers`);
      throwsCode(() => TabularPreprocessor.fit(labels(cell), { label: 'price', task: 'regression' }), 'ERR_BLASNET_DATA', undefined,
        `label "${cell}" at data row 8, column "price" is not a finite float32 number (the task is regression)`);
    }
    throwsCode(() => TabularPreprocessor.fit([{ x: 1, a: 1, b: 2 }, { x: 2, a: 3, b: -Infinity }], { label: ['a', 'b'] }), 'ERR_BLASNET_DATA', undefined,
      'label -Infinity at records[1], column "b", is not a finite float32 number');
    // With text among the labels they are classes, and "inf" one of them; asked for, too.
    assert.deepEqual(TabularPreprocessor.fit(readTable('x,y\n1,inf\n2,low\n3,inf\n'), { label: 'y' }).classNames, ['inf', 'low']);
    assert.deepEqual(TabularPreprocessor.fit(readTable('x,y\n1,inf\n2,1\n3,inf\n'), { label: 'y', task: 'classification' }).classNames, ['1', 'inf']);
    const p = TabularPreprocessor.fit(labels('1'), { label: 'price' });
    assert.equal(p.task, 'regression');
    throwsCode(() => p.targets([{ x: 1, price: 'inf' }]), 'ERR_BLASNET_DATA', undefined, 'label "inf" at records[0], column "price" is not a finite float32 number (the task is regression)');
  });

  it('a column named twice, in label, features or categorical, is a coded error naming it', () => {
    const rows = Array.from({ length: 6 }, (_, i) => ({ a: i, b: i % 2 ? 'u' : 'v', y: i % 2 }));
    throwsCode(() => TabularPreprocessor.fit(rows, { label: ['y', 'y'] }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.label names column "y" more than once');
    throwsCode(() => TabularPreprocessor.fit(rows, { label: ['y', 'a', 'y'], task: 'classification' }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.label names column "y" more than once');
    throwsCode(() => TabularPreprocessor.fit(rows, { label: 'y', features: ['a', 'b', 'a'] }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.features names column "a" more than once');
    throwsCode(() => TabularPreprocessor.fit(rows, { label: 'y', categorical: ['b', 'b'] }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'options.categorical names column "b" more than once');
    throwsCode(() => TabularPreprocessor.fit(rows, { label: 'y', features: ['a', 'y'] }), 'ERR_BLASNET_ARG_RANGE', RangeError, 'column "y" is both a label and a feature');
  });

  it('records without any field: the message says so', () => {
    throwsCode(() => TabularPreprocessor.fit([{}, {}], { label: 'y' }), 'ERR_BLASNET_DATA', undefined, 'records: label column "y" does not exist; the records have no columns');
    throwsCode(() => TabularPreprocessor.fit({ columns: [], rows: [[], []] }, { label: 'y' }), 'ERR_BLASNET_DATA', undefined, 'table: label column "y" does not exist; the table has no columns');
    throwsCode(() => TabularPreprocessor.fit([{ a: 1 }], { label: 'y' }), 'ERR_BLASNET_DATA', undefined, 'label column "y" does not exist; the columns are "a"');
  });

  it('a Date, object, array, function or symbol cell is a coded error naming the row and column', () => {
    const base = Array.from({ length: 6 }, (_, i) => ({ x: i, y: i % 2 }));
    const cases: [unknown, string][] = [
      [new Date(Date.UTC(2024, 0, 2)), 'a Date (2024-01-02T00:00:00.000Z) at records[3], column "x" is not a cell value; convert it first, e.g. to a number with getTime()'],
      [{ city: 'Oslo' }, 'an object at records[3], column "x" is not a cell value; spread its fields into columns of their own'],
      [['a', 1n], 'an array at records[3], column "x" is not a cell value; spread it into columns of their own or join it into text'],
      [() => 1, 'a function at records[3], column "x" is not a cell value'],
      [Symbol('s'), 'a symbol at records[3], column "x" is not a cell value'],
    ];
    const p = TabularPreprocessor.fit(base, { label: 'y' });
    for (const [cell, message] of cases) {
      const rows = base.map((r, i) => (i === 3 ? { ...r, x: cell } : r)) as never;
      throwsCode(() => TabularPreprocessor.fit(rows, { label: 'y' }), 'ERR_BLASNET_DATA', undefined, `TabularPreprocessor.fit: records: ${message}`);
      throwsCode(() => TabularPreprocessor.fit(rows, { label: 'x', task: 'classification' }), 'ERR_BLASNET_DATA', undefined, message);
      throwsCode(() => p.transform(rows), 'ERR_BLASNET_DATA', undefined, `TabularPreprocessor.transform: records: ${message}`);
      const labels = base.map((r, i) => (i === 3 ? { ...r, y: cell } : r)) as never;
      throwsCode(() => p.targets(labels), 'ERR_BLASNET_DATA', undefined, message.replace('"x"', '"y"'));
    }
    // In a Table built by hand too.
    throwsCode(() => p.transform({ columns: ['x'], rows: [[1], [new Date(0)]] } as never), 'ERR_BLASNET_DATA', undefined, 'a Date (1970-01-01T00:00:00.000Z) at data row 2, column "x"');
  });

  it('records: the columns are the keys of all records in first-seen order; a record without one has a missing value there', () => {
    // The first record lacks income (a JSON body that leaves out a null field); y follows income.
    const rows = Array.from({ length: 200 }, (_, i) => ({ a: (i % 10) / 10, ...(i === 0 ? {} : { income: 1000 * (i % 7) }), y: i % 7 > 3 ? 1 : 0 }));
    const p = TabularPreprocessor.fit(rows, { label: 'y' });
    assert.deepEqual(p.featureColumns, ['a', 'income']);
    assert.deepEqual(p.featureNames, ['a', 'income', 'income (missing)']);
    const x = p.transform(rows.slice(0, 2));
    const income = p.toJSON().columns[1] as { fill: number; mean: number; std: number };
    assert.equal(income.fill, 3000);
    assert.deepEqual(Array.from(x.data.subarray(1, 3)), [Math.fround((3000 - income.mean) / income.std), 1]);
    assert.deepEqual(Array.from(x.data.subarray(4, 6)), [Math.fround((1000 - income.mean) / income.std), 0]);
    // The same rows with another record first give the same columns, and the same inputs.
    const reordered = [rows[1], rows[0], ...rows.slice(2)];
    assert.deepEqual(TabularPreprocessor.fit(reordered, { label: 'y' }).transform(rows), p.transform(rows));
    assert.deepEqual(TabularPreprocessor.fit([{ a: 1, y: 0 }, { a: 2, b: 1, y: 1 }, { c: 'u', a: 3, y: 0 }], { label: 'y' }).featureColumns, ['a', 'b', 'c']);
    throwsCode(() => TabularPreprocessor.fit(rows, { label: 'y', impute: false }), 'ERR_BLASNET_DATA', undefined,
      'missing value null at records[0], column "income" (imputation is off)');
    // A column no record has is still missing as a whole.
    throwsCode(() => p.transform([{ a: 1 }, { a: 2 }]), 'ERR_BLASNET_DATA', undefined, 'feature column "income" is missing');
    assert.ok(p.hasLabels([{ a: 1, income: 2 }, { a: 1, income: 2, y: 1 }]));
    throwsCode(() => p.targets([{ a: 1, income: 2 }, { a: 1, income: 2, y: 1 }]), 'ERR_BLASNET_DATA', undefined, 'missing label at records[0], column "y"');
  });

  it('a file from before the constant-column rule, with a std of rounding noise: the training value maps as that fit mapped it, others only centred around it; a target keeps its std', () => {
    // What an older version stored for 1000 rows of a constant 0.1: its float64 mean, and a std
    // of about 1e-15 (no row count: files did not record it then).
    const old = {
      type: 'TabularPreprocessor', standardize: true, impute: true, unknownCategory: 'warn', taskReason: null,
      columns: [
        { name: 'x', kind: 'numeric', fill: 4.5, mean: 4.5, std: 2.8722813232690143, indicator: false },
        { name: 'rate', kind: 'numeric', fill: 0.1, mean: 0.09999999999999859, std: 0.1 - 0.09999999999999859, indicator: false },
      ],
      target: { task: 'regression', columns: ['y'], mean: [0.09999999999999859], std: [1.4e-15] },
    };
    const model = new Sequential({ inputSize: 2, layers: [dense(1)] });
    const direct = TabularPreprocessor.fromJSON(JSON.parse(JSON.stringify(old)));
    const loaded = decodeModel(encodeModel(model, { preprocessing: old })).preprocessor as TabularPreprocessor;
    // What that version's fit gave the training rows' 0.1, and its network learnt.
    const seen = 1;
    for (const p of [direct, loaded]) {
      const rate = p.toJSON().columns[1] as { mean: number; std: number };
      assert.equal(rate.std, 1);
      const z = p.transform([{ x: 3, rate: 0.1 }, { x: 3, rate: 0.11 }]).data;
      assert.ok(Math.abs(z[0] - (3 - 4.5) / 2.8722813232690143) < 1e-6, `x -> ${z[0]}`);
      assert.equal(z[1], Math.fround(seen), `0.1 -> ${z[1]}`);
      assert.ok(Math.abs(z[3] - (seen + 0.01)) < 1e-6, `0.11 -> ${z[3]}`);
      // The target's std stays: the network learnt to give `(0.1 - mean) / std` for its one value.
      const tseen = (0.1 - 0.09999999999999859) / 1.4e-15;
      assert.ok(Math.abs(p.inverseTargets(new Matrix(new Float32Array([tseen]), 1, 1)).data[0] - 0.1) < 1e-7);
      assert.equal(p.inverseTargets(new Matrix(new Float32Array([0]), 1, 1)).data[0], Math.fround(0.09999999999999859));
    }
    // A file written now records its training rows, and so keeps a std that is small against its
    // mean but above the noise those rows can carry: milliseconds over 100 s near 1.7e12.
    const times = TabularPreprocessor.fit(Array.from({ length: 100 }, (_, i) => ({ t: 1.7e12 + i * 1000, y: i % 2 })), { label: 'y', task: 'regression' });
    const std = (times.toJSON().columns[0] as { std: number }).std;
    assert.ok(Math.abs(std - 28866.07) < 0.01, `std ${std}`);
    const one = new Sequential({ inputSize: 1, layers: [dense(1)] });
    const again = decodeModel(encodeModel(one, { preprocessing: times })).preprocessor as TabularPreprocessor;
    assert.deepEqual(again.toJSON(), times.toJSON());
    // The same column in a file without a row count keeps its std too: the bound for such files
    // (2^24 rows, about 4e-9 relative) stays below a real spread of 1.7e-8 of the mean.
    const oldTimes = { ...times.toJSON() } as Record<string, unknown>;
    delete oldTimes.rows;
    const read = TabularPreprocessor.fromJSON(JSON.parse(JSON.stringify(oldTimes)));
    assert.equal((read.toJSON().columns[0] as { std: number }).std, std);
    // So does a real column whose spread is under that bound (5 timestamps 1 s apart near 1.7e12,
    // about 8e-10 of the mean): its std is not its median's distance from its mean.
    const ts = [-2, -1, 0, 1, 2].map((d) => 1.7e12 + d * 1000);
    const mean = ts.reduce((a, b) => a + b) / 5, spread = Math.sqrt(ts.reduce((a, t) => a + (t - mean) ** 2, 0) / 5);
    const close = TabularPreprocessor.fromJSON({ type: 'TabularPreprocessor', standardize: true, impute: true, unknownCategory: 'warn', taskReason: null,
      columns: [{ name: 't', kind: 'numeric', fill: ts[2], mean, std: spread, indicator: false }], target: null });
    const z = close.transform(ts.map((t) => ({ t }))).data;
    ts.forEach((t, i) => assert.ok(Math.abs(z[i] - (t - mean) / spread) < 1e-6, `${t} -> ${z[i]}`));
  });

  it('is not stored with a model of another input width: ERR_BLASNET_SHAPE naming both widths', () => {
    const p = TabularPreprocessor.fit(table, { label: 'y' });
    const model = new Sequential({ inputSize: p.inputSize + 1, layers: [dense(3, { activation: 'softmax' })] });
    throwsCode(() => encodeModel(model, { preprocessing: p }), 'ERR_BLASNET_SHAPE', RangeError,
      `the table preprocessing returns ${p.inputSize} features per row but the model takes ${p.inputSize + 1}`);
    throwsCode(() => encodeModel(model, { preprocessing: p.toJSON() }), 'ERR_BLASNET_SHAPE', RangeError, `returns ${p.inputSize} features`);
  });

  it('is not stored, nor loaded, with a model whose outputs are not one per class or label column: ERR_BLASNET_SHAPE / FORMAT', () => {
    const p = TabularPreprocessor.fit(table, { label: 'y' });
    assert.equal(p.outputSize, 3);
    for (const outputs of [1, 2, 4]) {
      const model = new Sequential({ inputSize: p.inputSize, layers: [dense(outputs, { activation: outputs === 1 ? 'sigmoid' : 'softmax' })] });
      throwsCode(() => encodeModel(model, { preprocessing: p }), 'ERR_BLASNET_SHAPE', RangeError,
        `the table preprocessing has 3 classes ("a", "b", "c"), one output each, but the model has ${outputs} output${outputs === 1 ? '' : 's'}`);
    }
    // A file written with such a pair (by hand, or before this check) does not load.
    const ok = new Sequential({ inputSize: p.inputSize, layers: [dense(3, { activation: 'softmax' })] });
    const doc = decode(encodeModel(ok, { preprocessing: p })) as { preprocessing: { target: { classNames: string[] } } };
    doc.preprocessing.target.classNames.push('d');
    throwsCode(() => decodeModel(encode(doc)), 'ERR_BLASNET_FORMAT', undefined, 'the table preprocessing has 4 classes');
    const two = new Sequential({ inputSize: 1, layers: [dense(2)] });
    const regression = TabularPreprocessor.fit([{ a: 1, t: 2 }, { a: 2, t: 3 }, { a: 3, t: 5 }], { label: 't', task: 'regression' });
    throwsCode(() => encodeModel(two, { preprocessing: regression }), 'ERR_BLASNET_SHAPE', RangeError, 'has 1 label column, one output each, but the model has 2 outputs');
    // Features only (no label): any output width.
    const featuresOnly = TabularPreprocessor.fit(table, { features: ['size', 'color', 'weight'] });
    assert.ok(encodeModel(new Sequential({ inputSize: featuresOnly.inputSize, layers: [dense(7)] }), { preprocessing: featuresOnly }).length > 0);
  });

  forEachBackend('is stored in the model file and returned by loadModel', (b) => {
    const p = TabularPreprocessor.fit(table, { label: 'y' });
    const model = new Sequential({ inputSize: p.inputSize, backend: b, seed: 3, layers: [dense(4, { activation: 'relu' }), dense(3, { activation: 'softmax' })] });
    const loaded = decodeModel(encodeModel(model, { preprocessing: p }), { backend: b });
    assert.ok(loaded.preprocessor instanceof TabularPreprocessor);
    assert.equal(loaded.model.preprocessing, null);
    const x = (loaded.preprocessor as TabularPreprocessor).transform(table);
    assert.deepEqual(loaded.model.predict(x).data, model.predict(p.transform(table)).data);
    // A model that applies its own scaler cannot also store another preprocessing.
    const s = new Standardizer().fit(p.transform(table));
    model.setPreprocessing(s);
    throwsCode(() => encodeModel(model, { preprocessing: p }), 'ERR_BLASNET_STATE', undefined, 'twice');
  });
});

describe('metrics', () => {
  // Worked by hand: true 0,0,0,1,1,2 vs predicted 0,1,0,1,2,2.
  const yTrue = Int32Array.from([0, 0, 0, 1, 1, 2]);
  const yPred = Int32Array.from([0, 1, 0, 1, 2, 2]);

  it('confusionMatrix counts true rows by predicted columns', () => {
    assert.deepEqual(confusionMatrix(yTrue, yPred), [[2, 1, 0], [0, 1, 1], [0, 0, 1]]);
    assert.deepEqual(confusionMatrix([1], [1], 3), [[0, 0, 0], [0, 1, 0], [0, 0, 0]]);
    throwsCode(() => confusionMatrix([0, 1], [0]), 'ERR_BLASNET_SHAPE');
    throwsCode(() => confusionMatrix([0, 3], [0, 1], 3), 'ERR_BLASNET_LABEL', RangeError, 'yTrue[1] = 3');
    // A label that is an id or a year, not a class number: a coded error, not a matrix of 10^10
    // cells that fills the heap and aborts the process.
    throwsCode(() => classificationReport([0, 1, 100000], [0, 1, 100000]), 'ERR_BLASNET_LABEL', RangeError, 'yTrue[2] = 100000: labels are class numbers');
    throwsCode(() => confusionMatrix([0, 1], [0, 20240101]), 'ERR_BLASNET_LABEL', RangeError, 'yPred[1] = 20240101');
    throwsCode(() => confusionMatrix([0, 1], [0, 1], 9000), 'ERR_BLASNET_ARG_RANGE', RangeError, 'at most 8192 classes');
    assert.equal(confusionMatrix([8191], [0]).length, 8192);
  });

  it('classificationReport: per-class precision, recall, F1, macro and weighted averages', () => {
    const r = classificationReport(yTrue, yPred, { classNames: ['x', 'y', 'z'] });
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
    close(r.accuracy, 4 / 6);
    // class 0: P 2/2, R 2/3, F1 0.8; class 1: P 1/2, R 1/2, F1 0.5; class 2: P 1/2, R 1, F1 2/3.
    const want = [[1, 2 / 3, 0.8, 3], [0.5, 0.5, 0.5, 2], [0.5, 1, 2 / 3, 1]];
    r.classes.forEach((c, i) => {
      close(c.precision, want[i][0]);
      close(c.recall, want[i][1]);
      close(c.f1, want[i][2]);
      assert.equal(c.support, want[i][3]);
    });
    close(r.macro.f1, (0.8 + 0.5 + 2 / 3) / 3);
    close(r.weighted.f1, (0.8 * 3 + 0.5 * 2 + 2 / 3) / 6);
    close(r.macro.precision, 2 / 3);
    // A class never predicted has precision 0, not NaN.
    assert.equal(classificationReport([0, 1], [0, 0]).classes[1].precision, 0);
    // Without classNames the averages are over the labels that occur (scikit-learn's
    // classification_report([0, 2, 2], [0, 2, 0]): macro F1 (2/3 + 2/3) / 2); label 1, in neither,
    // is listed with zeros. With classNames every named class counts, as with sklearn's labels=.
    const gap = classificationReport([0, 2, 2], [0, 2, 0]);
    assert.equal(gap.classes.length, 3);
    assert.deepEqual([gap.classes[1].support, gap.classes[1].f1], [0, 0]);
    close(gap.macro.f1, 2 / 3);
    close(gap.macro.precision, (0.5 + 1) / 2);
    close(classificationReport([0, 2, 2], [0, 2, 0], { classNames: ['a', 'b', 'c'] }).macro.f1, (2 / 3 + 0 + 2 / 3) / 3);
    const text = formatClassificationReport(r);
    assert.match(text, /\n {11}x {4}1\.0000 {4}0\.6667 {4}0\.8000 {9}3\n/);
    assert.match(text, /macro avg {4}0\.6667 {4}0\.7222 {4}0\.6556 {9}6/);
  });

  it('a report and its confusion-matrix picture of 400 classes (160,000 cells) are made, not a call-stack overflow', () => {
    const k = 400;
    const yTrue = Array.from({ length: 2 * k }, (_, i) => i % k);
    const yPred = yTrue.map((c, i) => (i < k ? c : (c + 1) % k));
    const r = classificationReport(yTrue, yPred);
    assert.equal(r.classes.length, k);
    const text = formatClassificationReport(r);
    assert.equal(text.split('\n').filter((l) => /^ *\d+( +\d+){400}$/.test(l)).length, k, 'a confusion row per class');
    const spec = confusionMatrixSpec(r.confusion, r.classes.map((c) => c.name)) as { data: { values: unknown[] } };
    assert.equal(spec.data.values.length, k * k);
  });

  it('rocAuc is the Mann-Whitney statistic with ties counted half', () => {
    // Positives scored 0.8, 0.4; negatives 0.4, 0.1: pairs (0.8 > 0.4, 0.8 > 0.1, 0.4 = 0.4, 0.4 > 0.1) = 3.5 / 4.
    assert.equal(rocAuc([1, 1, 0, 0], [0.8, 0.4, 0.4, 0.1]), 0.875);
    assert.equal(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]), 1);
    assert.ok(Number.isNaN(rocAuc([1, 1], [0.2, 0.3])));
    const r = classificationReport([1, 1, 0, 0], [1, 0, 0, 0], { scores: [0.8, 0.4, 0.4, 0.1] });
    assert.equal(r.rocAuc, 0.875);
    throwsCode(() => classificationReport(yTrue, yPred, { scores: [0, 0, 0, 0, 0, 0] }), 'ERR_BLASNET_ARG_RANGE');
  });

  it('rocAuc refuses scores that are not finite numbers, wherever they sit', () => {
    // A NaN compares false with everything, so a sort would put it anywhere and the area would be any value.
    throwsCode(() => rocAuc([0, 1, 0, 1], [NaN, 0.9, 0.1, NaN]), 'ERR_BLASNET_DATA', undefined, 'scores[0] is NaN');
    throwsCode(() => rocAuc([0, 1, 0, 1], [0.2, NaN, 0.1, 0.8]), 'ERR_BLASNET_DATA', undefined, 'scores[1] is NaN');
    throwsCode(() => rocAuc([0, 1, 0, 1], Float32Array.from([0.2, Infinity, 0.1, 0.8])), 'ERR_BLASNET_DATA', undefined, 'scores[1] is Infinity');
    throwsCode(() => rocAuc([0, 1], [0.2, '0.9' as unknown as number]), 'ERR_BLASNET_ARG_TYPE', TypeError, 'scores[1]');
    throwsCode(() => classificationReport([1, 1, 0, 0], [1, 0, 0, 0], { scores: [0.8, NaN, 0.4, 0.1] }), 'ERR_BLASNET_DATA');
  });

  it('regressionReport: R2, MAE and RMSE, per output and averaged', () => {
    // y 1,2,3,4 (mean 2.5, SS_tot 5), p 1,2,3,5: SS_res 1 -> R2 0.8; MAE 0.25; RMSE 0.5.
    const r = regressionReport([1, 2, 3, 4], [1, 2, 3, 5]);
    assert.ok(Math.abs(r.r2 - 0.8) < 1e-12);
    assert.equal(r.mae, 0.25);
    assert.equal(r.rmse, 0.5);
    // Two outputs: the second is constant 7, predicted exactly (R2 1): mean R2 0.9.
    const t = new Matrix(Float32Array.from([1, 7, 2, 7, 3, 7, 4, 7]), 4, 2);
    const p = new Matrix(Float32Array.from([1, 7, 2, 7, 3, 7, 5, 7]), 4, 2);
    const two = regressionReport(t, p, { names: ['a', 'b'] });
    assert.ok(Math.abs(two.r2 - 0.9) < 1e-12);
    assert.equal(two.outputs[1].r2, 1);
    assert.equal(two.mae, 0.125);
    // RMSE averages the outputs' RMSEs (sklearn's root_mean_squared_error, uniform_average):
    // per output sqrt(1/3) and sqrt(49/3), mean 1.9811; not the root of the pooled MSE, 2.3892.
    const uneven = regressionReport([[1, 10], [2, 20], [3, 30]], [[1, 12], [2.5, 18], [2, 35]]);
    assert.ok(Math.abs(uneven.rmse - (Math.sqrt(1.25 / 3) + Math.sqrt(33 / 3)) / 2) < 1e-12, String(uneven.rmse));
    assert.ok(Math.abs(uneven.rmse - 1.9811) < 1e-4);
    assert.equal(uneven.rmse, (uneven.outputs[0].rmse + uneven.outputs[1].rmse) / 2);
    assert.equal(formatRegressionReport(r), 'R2 0.8000  MAE 0.2500  RMSE 0.5000');
    throwsCode(() => regressionReport([1, 2], [1]), 'ERR_BLASNET_SHAPE');
    // A constant y whose float64 mean is a few ulps off (ten 0.7s; three 0.1s) is constant: R2 0
    // when missed (scikit-learn's), 1 when hit; not 1 - SS_res / (rounding noise), about -1e30.
    assert.equal(regressionReport(new Array(10).fill(0.7), new Array(10).fill(0.8)).r2, 0);
    assert.equal(regressionReport([0.1, 0.1, 0.1], [0.2, 0.2, 0.2]).r2, 0);
    assert.equal(regressionReport([0.1, 0.1, 0.1], [0.1, 0.1, 0.1]).r2, 1);
    // A y that varies only a little against its size is not constant (1e15 and 1e15 + 1).
    const large = Array.from({ length: 1000 }, (_, i) => 1e15 + (i % 2));
    assert.equal(regressionReport(large, large.map((v) => v + 0.25)).r2, 0.75);
    // A y that varies by a millionth of its mean is not constant.
    assert.ok(Math.abs(regressionReport([1e6, 1e6 + 1, 1e6 + 2], [1e6, 1e6 + 1, 1e6 + 3]).r2 - 0.5) < 1e-9);
    throwsCode(() => regressionReport([[], []], [[], []]), 'ERR_BLASNET_SHAPE', RangeError, 'at least one output');
    // Rows of outputs, read in float64: the same figures as the Matrices.
    const rowsOf = (m: Matrix) => Array.from({ length: m.rows }, (_, i) => Float64Array.from(m.data.subarray(i * 2, i * 2 + 2)));
    assert.deepEqual(regressionReport(rowsOf(t), rowsOf(p), { names: ['a', 'b'] }), two);
    assert.deepEqual(regressionReport([[1, 7], [2, 7], [3, 7], [4, 7]], rowsOf(p)), regressionReport(t, p));
    const big = regressionReport([[1700000000, 1], [1700000300, 2]], [[1700000001, 1], [1700000300, 2]]);
    assert.equal(big.outputs[0].mae, 0.5);
    throwsCode(() => regressionReport([[1, 2], [3]], [[1, 2], [3, 4]]), 'ERR_BLASNET_SHAPE', RangeError, 'yTrue row 1 holds 2 values but row 2 holds 1');
    throwsCode(() => regressionReport([[1, 2], [3, 4]], [[1, 2], [3, 4], [5, 6]]), 'ERR_BLASNET_SHAPE', RangeError, 'yTrue is [2, 2] but yPred is [3, 2]');
    throwsCode(() => regressionReport([[1, 2], [3, NaN]], [[1, 2], [3, 4]]), 'ERR_BLASNET_DATA', undefined, 'yTrue row 2, column 2 is NaN');
    throwsCode(() => regressionReport([[1, 2], 3 as never], [[1, 2], [3, 4]]), 'ERR_BLASNET_SHAPE', RangeError, 'row 2 is 3');
  });

  it('regressionReport refuses values that are not finite numbers, in arrays and Matrices', () => {
    throwsCode(() => regressionReport([1, 2, NaN], [1, 2, 3]), 'ERR_BLASNET_DATA', undefined, 'yTrue[2] is NaN');
    throwsCode(() => regressionReport([1, 2, 3], [1, -Infinity, 3]), 'ERR_BLASNET_DATA', undefined, 'yPred[1] is -Infinity');
    throwsCode(() => regressionReport(new Matrix(Float32Array.from([1, 2, 3, NaN]), 2, 2), new Matrix(new Float32Array(4), 2, 2)),
      'ERR_BLASNET_DATA', undefined, 'yTrue row 2, column 2 is NaN');
    throwsCode(() => regressionReport([1, 2], [1, '2' as unknown as number]), 'ERR_BLASNET_ARG_TYPE', TypeError, 'yPred[1]');
    throwsCode(() => regressionReport([1, null as unknown as number], [1, 2]), 'ERR_BLASNET_ARG_TYPE', TypeError, 'yTrue[1]');
    // Plain arrays are read in float64: values 1 apart at 1e8 are not rounded together as float32 would.
    assert.equal(regressionReport([100000001], [100000000]).mae, 1);
  });

  it('the confusion-matrix picture has a cell per pair of classes', () => {
    const spec = confusionMatrixSpec([[2, 1], [0, 3]], ['cat', 'dog']) as { data: { values: unknown[] } };
    assert.deepEqual(spec.data.values, [
      { truth: 'cat', predicted: 'cat', count: 2 }, { truth: 'cat', predicted: 'dog', count: 1 },
      { truth: 'dog', predicted: 'cat', count: 0 }, { truth: 'dog', predicted: 'dog', count: 3 },
    ]);
    throwsCode(() => confusionMatrixSpec([[1]], ['a', 'b']), 'ERR_BLASNET_SHAPE');
  });
});
