/**
 * A search's results drawn: the score of every trial against each hyperparameter (one panel
 * per hyperparameter that varies; log axes for log-scaled ranges), as vega-lite, SVG and PNG.
 */
import { optionsArg, typeName } from '../describe';
import { ErrorCode, typeError } from '../errors';
import { checkResult } from '../search/search';
import type { SearchResult } from '../search/search';
import type { SearchSpace } from '../search/space';
import { isSpec, onLogScale } from '../search/space';
import { checkBase, renderSvg, writePicture } from './curves';

function checkOptions(fn: string, options: { space?: SearchSpace; title?: string } | undefined): void {
  const { space, title } = optionsArg(fn, options, { space: true, title: true }) as { space?: unknown; title?: unknown };
  if (space !== undefined && (space === null || typeof space !== 'object' || Array.isArray(space))) {
    throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected a search space object for options.space but received ${typeName(space)}`);
  }
  if (title !== undefined && typeof title !== 'string') throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected string for options.title but received ${typeName(title)}`);
}

/**
 * The vega-lite specification: a row of scatter panels, score against each hyperparameter that
 * takes more than one value among the 'ok' trials, coloured by stage; the best trial ringed.
 */
export function searchPlotSpec(result: Pick<SearchResult, 'trials' | 'best' | 'metric'>, options: { space?: SearchSpace; title?: string } = {}): Record<string, unknown> {
  checkResult('searchPlotSpec', result);
  checkOptions('searchPlotSpec', options);
  const ok = result.trials.filter((r) => r.status === 'ok');
  const names: string[] = [];
  for (const r of ok) for (const k of Object.keys(r.config)) if (!names.includes(k)) names.push(k);
  const label = (v: unknown) => (Array.isArray(v) ? v.join('-') : v);
  const varying = names.filter((k) => new Set(ok.map((r) => JSON.stringify(r.config[k]))).size > 1);
  const panels = (varying.length ? varying : names.slice(0, 1)).map((k) => {
    const numeric = ok.every((r) => typeof r.config[k] === 'number');
    const spec = options.space?.[k];
    const log = numeric && isSpec(spec) && spec.kind !== 'choice' && onLogScale(spec);
    const values = ok.map((r) => ({ value: label(r.config[k]), score: r.score, stage: String(r.stage), best: r.index === result.best?.index }));
    return {
      width: 220, height: 180,
      data: { values },
      layer: [
        {
          mark: { type: 'point', filled: true, opacity: 0.7 },
          encoding: {
            x: { field: 'value', type: numeric ? 'quantitative' : 'nominal', title: k, ...(log ? { scale: { type: 'log' } } : numeric ? { scale: { zero: false } } : {}) },
            y: { field: 'score', type: 'quantitative', title: result.metric, scale: { zero: false } },
            color: { field: 'stage', type: 'nominal', title: 'stage' },
          },
        },
        {
          transform: [{ filter: 'datum.best' }],
          mark: { type: 'point', size: 220, color: 'black', strokeWidth: 2 },
          encoding: {
            x: { field: 'value', type: numeric ? 'quantitative' : 'nominal', ...(log ? { scale: { type: 'log' } } : numeric ? { scale: { zero: false } } : {}) },
            y: { field: 'score', type: 'quantitative' },
          },
        },
      ],
    };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: options.title ?? `${result.metric} of ${ok.length} trials (best ringed)`,
    hconcat: panels,
  };
}

/** Writes `<base>.svg` and `<base>.png` with searchPlotSpec's panels; returns their paths. */
export async function writeSearchPlot(result: Pick<SearchResult, 'trials' | 'best' | 'metric'>, base: string,
  options: { space?: SearchSpace; title?: string } = {}): Promise<{ svg: string; png: string }> {
  checkResult('writeSearchPlot', result);
  checkOptions('writeSearchPlot', options);
  const spec = searchPlotSpec(result, options);
  checkBase('writeSearchPlot', base);
  return writePicture('writeSearchPlot', base, await renderSvg(spec));
}
