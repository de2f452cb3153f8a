/**
 * Backend selection. `BLASNET_BACKEND=js|native` forces one; otherwise the native addon is used
 * when it loads, and the js backend (with one warning) when it does not.
 */
import { show, typeName } from '../describe';
import { ErrorCode, BlasnetError, typeError } from '../errors';
import { jsBackend } from './js';
import * as fs from 'fs';
import * as path from 'path';
import { setHugePageAdvisorLoader } from './memory';
import { BUILD_LOG, loadNativeBackend } from './native';
import type { Backend } from './types';

/** The backends by name. */
export type BackendName = 'js' | 'native';

let native: Backend | null = null;
let nativeError: Error | null = null;
let warned = false;
let current: Backend | null = null;

/** The native backend, or the reason it cannot be loaded. */
function tryNative(): Backend | null {
  if (native || nativeError) return native;
  try {
    native = loadNativeBackend();
  } catch (e) {
    nativeError = e as Error;
  }
  return native;
}

// Large buffers ask the addon for huge-page advice (lib/backend/memory.ts), unless the js backend
// is forced: then the addon stays unloaded, as it does for training.
setHugePageAdvisorLoader(() => {
  if (process.env.BLASNET_BACKEND !== 'js') tryNative();
});

/** Whether the native addon loads on this machine. */
export function nativeAvailable(): boolean {
  return tryNative() !== null;
}

/** Why the native addon did not load (null if it did or was not tried). */
export function nativeLoadError(): Error | null {
  tryNative();
  return nativeError;
}

/** A backend by name. Throws ERR_BLASNET_BACKEND if `native` is asked for and cannot load. */
export function getBackend(name: BackendName): Backend {
  if (name === 'js') return jsBackend;
  if (name === 'native') {
    const b = tryNative();
    if (!b) {
      throw new BlasnetError(ErrorCode.BACKEND, `The native backend is not available: ${nativeError?.message}`);
    }
    return b;
  }
  throw new BlasnetError(ErrorCode.UNKNOWN_NAME, `Unknown backend ${show(name)}; expected "js" or "native"`);
}

/**
 * Why the js backend is used and how to fix it: the load error, the last lines of a failed
 * install-time build (npm hides that build's output) and the command that rebuilds the addon.
 */
function fallbackMessage(error: Error | null): string {
  let build = '';
  try {
    const lines = fs.readFileSync(BUILD_LOG, 'utf8').trimEnd().split('\n').slice(-12);
    build = ` The install-time build failed; the end of ${BUILD_LOG}:\n  ${lines.join('\n  ')}\n`;
  } catch {
    // No log: the build succeeded, was skipped for a prebuilt addon, or never ran.
  }
  const own = process.env.BLASNET_ADDON_PATH;
  // The addon named by BLASNET_ADDON_PATH failed: that file is the first thing to fix.
  const fix = `${own ? `BLASNET_ADDON_PATH names ${path.resolve(own)}: point it at a blasnet.node that loads, or unset it for the package's own. ` : ''}` +
    'To build the addon: install cmake, g++ and libopenblas-dev (Debian), then run `npm rebuild blasnet`.';
  return `blasnet: the native addon did not load (${error?.message.split('\n')[0]}); using the js backend, which is much slower.${build || ' '}${fix}`;
}

/**
 * The default backend: BLASNET_BACKEND if set, else native if it loads, else js (saying so once
 * through process.emitWarning).
 */
export function defaultBackend(): Backend {
  if (current) return current;
  const forced = process.env.BLASNET_BACKEND;
  if (forced !== undefined && forced !== '') {
    if (forced !== 'js' && forced !== 'native') {
      throw new BlasnetError(ErrorCode.UNKNOWN_NAME,
        `BLASNET_BACKEND=${JSON.stringify(forced)} is not a backend; expected "js" or "native"`);
    }
    current = getBackend(forced);
    return current;
  }
  const native = tryNative();
  // A setting of the native backend that names nothing is the user's to fix, not a reason to
  // train on the js backend (and the rebuild the fallback message advises would not help).
  if (!native && nativeError instanceof BlasnetError && nativeError.code === ErrorCode.UNKNOWN_NAME) {
    throw new BlasnetError(ErrorCode.BACKEND, `The native backend is not available: ${nativeError.message} (BLASNET_BACKEND=js uses the js backend)`);
  }
  current = native ?? jsBackend;
  if (current === jsBackend && !warned) {
    warned = true;
    process.emitWarning(fallbackMessage(nativeError), { code: 'BLASNET_JS_FALLBACK' });
  }
  return current;
}

/**
 * Checks the type of a backend option: undefined, a name (getBackend checks which) or a Backend
 * object; anything else is a TypeError ERR_BLASNET_ARG_TYPE.
 */
export function checkBackendOption(where: string, v: unknown): void {
  if (v === undefined || typeof v === 'string') return;
  if (typeof v !== 'object' || v === null || typeof (v as Backend).gemm !== 'function') {
    throw typeError(ErrorCode.ARG_TYPE, `${where}: Expected 'js', 'native' or a Backend for backend but received ${typeName(v)}`);
  }
}

/** A backend option: the default backend when undefined, a name's backend, or the Backend given. */
export function backendOption(where: string, v: Backend | BackendName | undefined): Backend {
  checkBackendOption(where, v);
  return v === undefined ? defaultBackend() : typeof v === 'string' ? getBackend(v) : v;
}

/** Makes `name` the default backend for this process (or thread). */
export function setDefaultBackend(name: BackendName): Backend {
  current = getBackend(name);
  return current;
}
