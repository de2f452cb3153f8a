import { show } from '../describe';
import { ErrorCode, rangeError, typeError } from '../errors';

/** Option checks shared by the layers, with one message format. */
export function positiveInt(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw rangeError(ErrorCode.ARG_RANGE, `${where}: Expected positive integer for ${name} but received ${show(v)}`);
  }
  return v;
}

export function finiteIn(where: string, name: string, v: unknown, lo: number, hi: number, hiOpen = false): number {
  if (typeof v !== 'number') {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected number for ${name} but received ${typeof v}`);
  }
  if (!(v >= lo && (hiOpen ? v < hi : v <= hi))) {
    throw rangeError(ErrorCode.ARG_RANGE,
      `${where}: Expected ${name} in [${lo}, ${hi}${hiOpen ? ')' : ']'} but received ${v}`);
  }
  return v;
}

/** A layer's name option: undefined (then the layer's index names it) or a non-empty string. */
export function layerName(where: string, v: unknown): string | undefined {
  if (v !== undefined && (typeof v !== 'string' || v === '')) {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected a non-empty string for name but received ${show(v)}`);
  }
  return v;
}

export function oneOf<T extends string>(where: string, name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) {
    throw rangeError(ErrorCode.UNKNOWN_NAME,
      `${where}: Unknown ${name} ${show(v)}; expected one of ${allowed.join(', ')}`);
  }
  return v as T;
}

/**
 * The name each layer's tensors are called by (`<id>.weight`, `<id>.runningMean`, ...): the
 * layer's name, or its index in the model when it has none. Two layers with the same one would
 * give two tensors one name, which exports and files look tensors up by: ERR_BLASNET_ARG_RANGE
 * naming the name and both layers.
 */
export function layerIds(where: string, layers: readonly { readonly name?: string | null }[]): string[] {
  const ids: string[] = [];
  const first = new Map<string, number>();
  layers.forEach((layer, i) => {
    const id = String(layer.name ?? i);
    const j = first.get(id);
    if (j !== undefined) {
      const unnamed = layers[j].name == null ? j : layer.name == null ? i : -1;
      const named = unnamed === j ? i : j;
      const clash = unnamed < 0 ? `layers ${j} and ${i} are both named ${JSON.stringify(id)}`
        : `layer ${named} is named ${JSON.stringify(id)}, the name unnamed layer ${unnamed} takes from its index`;
      throw rangeError(ErrorCode.ARG_RANGE, `${where}: ${clash}; layer names must be unique, as they name the parameters (${id}.weight, ...)`);
    }
    first.set(id, i);
    ids.push(id);
  });
  return ids;
}
