/**
 * Pictures of diagnosticsLogger's data: per-layer histograms of activations and gradients at the
 * start and the end of training, and each layer's update-to-weight ratio over the steps (log
 * scale, with the notes' healthy 1e-3 marked).
 */
import { optionsArg, typeName } from '../describe';
import { BlasnetError, ErrorCode, typeError } from '../errors';
import type { DiagnosticsData, Histogram } from '../recipe/diagnostics';
import { checkBase, renderSvg, writePicture } from './curves';

type Row = Record<string, number | string>;

function histogramRows(h: Histogram, layer: string, when: string): Row[] {
  return h.counts.map((c, i) => ({ layer, when, lo: h.edges[i], hi: h.edges[i + 1], share: c / Math.max(1, h.counts.reduce((s, v) => s + v, 0)) }));
}

function checkTitle(fn: string, options: { title?: string } | undefined): void {
  const title: unknown = optionsArg(fn, options, { title: true }).title;
  if (title !== undefined && typeof title !== 'string') throw typeError(ErrorCode.ARG_TYPE, `${fn}: Expected string for options.title but received ${typeName(title)}`);
}

/** The vega-lite specification of the diagnostics pictures. */
export function diagnosticsSpec(data: DiagnosticsData, options: { title?: string } = {}): Record<string, unknown> {
  checkTitle('diagnosticsSpec', options);
  if (!data || !Array.isArray(data.ratios) || !Array.isArray(data.histograms) || (data.ratios.length === 0 && data.histograms.length === 0)) {
    throw new BlasnetError(ErrorCode.STATE, 'diagnostics: nothing was recorded; pass diagnosticsLogger() to fit as a callback first');
  }
  const label = (i: number) => (i === 0 ? `step ${data.histograms[0].step} (start)` : `step ${data.histograms[i].step} (end)`);
  const hist = (key: 'activations' | 'gradients'): Row[] => data.histograms.flatMap((s, i) =>
    Object.entries(s[key]).flatMap(([layer, h]) => histogramRows(h, layer, label(i))));
  const panel = (title: string, values: Row[]) => ({
    title,
    data: { values },
    facet: { row: { field: 'layer', type: 'nominal', title: null, header: { labelAngle: 0, labelAlign: 'left' } } },
    spec: {
      width: 360, height: 60,
      mark: { type: 'rect', opacity: 0.55 },
      encoding: {
        x: { field: 'lo', type: 'quantitative', title: 'value' }, x2: { field: 'hi' },
        y: { field: 'share', type: 'quantitative', title: 'share' },
        color: { field: 'when', type: 'nominal', title: null },
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  });
  const parts: Record<string, unknown>[] = [];
  const acts = hist('activations'), grads = hist('gradients');
  const top = [acts.length ? panel('Activations per layer', acts) : null, grads.length ? panel('Gradients per layer', grads) : null].filter(Boolean);
  if (top.length) parts.push({ hconcat: top });
  if (data.ratios.length) {
    parts.push({
      title: 'Update-to-weight ratio per layer (about 1e-3 is healthy)',
      width: 760, height: 220,
      layer: [
        { data: { values: data.ratios.filter((r) => r.ratio > 0) }, mark: { type: 'line', point: { size: 10 } },
          encoding: {
            x: { field: 'step', type: 'quantitative', title: 'step' },
            y: { field: 'ratio', type: 'quantitative', title: '||dW|| / ||W||', scale: { type: 'log' } },
            color: { field: 'layer', type: 'nominal', title: null },
          } },
        { data: { values: [{ y: 1e-3 }] }, mark: { type: 'rule', strokeDash: [4, 4], color: '#7f7f7f' }, encoding: { y: { field: 'y', type: 'quantitative' } } },
      ],
    });
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: options.title ?? 'Training diagnostics',
    config: { font: 'DejaVu Sans', view: { stroke: null } },
    resolve: { scale: { color: 'independent' } },
    vconcat: parts,
  };
}

/**
 * Writes `<base>.svg` and `<base>.png` with the diagnostics pictures; returns their paths.
 * Throws ERR_BLASNET_DEPENDENCY, before writing anything, when a plotting package is missing.
 */
export async function writeDiagnostics(data: DiagnosticsData, base: string, options: { title?: string } = {}): Promise<{ svg: string; png: string }> {
  checkTitle('writeDiagnostics', options);
  const spec = diagnosticsSpec(data, options);
  checkBase('writeDiagnostics', base);
  return writePicture('writeDiagnostics', base, await renderSvg(spec));
}
