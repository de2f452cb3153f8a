/**
 * The confusion matrix as a picture: a heat map of counts (true class down, predicted across)
 * with each cell's count written in it, drawn with vega-lite and rendered as the learning curves
 * are (vega to SVG, resvg to PNG).
 */
import { optionsArg, show, typeName } from '../describe';
import { BlasnetError, ErrorCode, typeError } from '../errors';
import { largest } from '../math';
import { checkBase, renderSvg, writePicture } from './curves';

/** The vega-lite specification of a confusion matrix (confusion[t][p], as confusionMatrix returns). */
export function confusionMatrixSpec(confusion: number[][], classNames: readonly string[], options: { title?: string } = {}): Record<string, unknown> {
  if (!Array.isArray(confusion) || !confusion.every((r) => Array.isArray(r) && r.every((v) => Number.isInteger(v) && v >= 0))) {
    throw typeError(ErrorCode.ARG_TYPE, `confusionMatrixSpec: Expected rows of counts (as confusionMatrix returns) for confusion but received ${show(confusion)}`);
  }
  if (!Array.isArray(classNames) || !classNames.every((c) => typeof c === 'string')) {
    throw typeError(ErrorCode.ARG_TYPE, `confusionMatrixSpec: Expected an array of strings for classNames but received ${show(classNames)}`);
  }
  const title = optionsArg('confusionMatrixSpec', options, { title: true }).title;
  if (title !== undefined && typeof title !== 'string') {
    throw typeError(ErrorCode.ARG_TYPE, `confusionMatrixSpec: Expected string for options.title but received ${typeName(title)}`);
  }
  const k = confusion.length;
  if (k === 0 || classNames.length !== k || confusion.some((r) => r.length !== k)) {
    throw new BlasnetError(ErrorCode.SHAPE, `confusionMatrixSpec: Expected a square matrix with one row per class name (${classNames.length}) but received ${k} rows`);
  }
  const values = confusion.flatMap((row, t) => row.map((count, p) => ({ truth: classNames[t], predicted: classNames[p], count })));
  const max = largest(confusion.map((row) => largest(row)), 1);
  const size = Math.min(640, Math.max(200, 40 * k));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: options.title ?? 'Confusion matrix',
    config: { font: 'DejaVu Sans', view: { stroke: null } },
    width: size,
    height: size,
    data: { values },
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: classNames, title: 'predicted class' },
      y: { field: 'truth', type: 'nominal', sort: classNames, title: 'true class' },
    },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'count', type: 'quantitative', scale: { scheme: 'blues', domain: [0, max] }, title: 'rows' } } },
      {
        mark: { type: 'text', fontSize: k > 15 ? 8 : 12 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: `datum.count > ${max / 2}`, value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}

/**
 * Writes `<base>.svg` and `<base>.png` with a confusion matrix; returns their paths. Throws
 * ERR_BLASNET_DEPENDENCY, before writing anything, when a plotting package is missing.
 */
export async function writeConfusionMatrix(confusion: number[][], classNames: readonly string[], base: string,
  options: { title?: string } = {}): Promise<{ svg: string; png: string }> {
  optionsArg('writeConfusionMatrix', options, { title: true });
  const spec = confusionMatrixSpec(confusion, classNames, options);
  checkBase('writeConfusionMatrix', base);
  return writePicture('writeConfusionMatrix', base, await renderSvg(spec), 800);
}
