/**
 * The native backend: the addon's exports are the kernels themselves (no wrapper on the hot
 * path); the addon validates every argument. Loading checks that the addon's activation, loss and
 * optimiser tables hold the same names, in the same order, as the TypeScript tables (and, for the
 * optimisers, the same slot counts and hyper lengths).
 */
import * as path from 'path';
import { ACTIVATION_NAMES } from '../activations';
import { ErrorCode, BlasnetError } from '../errors';
import { LOSS_NAMES } from '../losses';
import { OPTIMIZER_KERNEL_LIST, OPTIMIZER_KERNEL_NAMES } from '../optim/kernels';
import { setAddressProbe, setHugePageAdvisor, setPagePopulator } from './memory';
import { argCount, dim, i32 } from './check';
import { checkBlocks, jsBackend } from './js';
import type { Backend, BackendInfo } from './types';

type Addon = Omit<Backend, 'name' | 'info'> & {
  blasInfo(): Omit<BackendInfo, 'backend'>;
  activationNames: string[];
  lossNames: string[];
  optimizerNames: string[];
  optimizerSlots: number[];
  optimizerHyperLengths: number[];
  napiVersion: number;
  addressOffset(x: Float32Array): number;
  adviseHugePages(x: ArrayBufferView): number;
  populatePages(x: ArrayBufferView): number;
};

/** The package's root directory (this file is dist/lib/backend/native.js). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');

/** Where the install script keeps the output of a failed build (npm hides it). */
export const BUILD_LOG = path.join(PACKAGE_ROOT, 'build', 'blasnet-build.log');

/**
 * The addon to load: BLASNET_ADDON_PATH if set (a build of one's own); else a local build
 * (`build/Release/blasnet.node`, from `npm rebuild blasnet` or the install script); else the
 * prebuilt addon the package ships for this platform (`prebuilds/linux-x64/node.napi.glibc.node`,
 * node-gyp-build's layout and naming). Throws if there is none.
 */
export function addonPath(): string {
  const own = process.env.BLASNET_ADDON_PATH;
  // A path of one's own, relative to the working directory as a path on a command line is (a bare
  // require of it would look beside this file). Resolved once, at the first load: the absolute
  // path goes back into the environment, which worker threads (fitAsync, search) copy when they
  // start, so a later process.chdir changes nothing.
  if (own) {
    const absolute = path.resolve(own);
    if (absolute !== own) process.env.BLASNET_ADDON_PATH = absolute;
    return absolute;
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
  return nodeGypBuild.path(PACKAGE_ROOT);
}

function sameNames(what: string, native: readonly (string | number)[], ts: readonly (string | number)[]): void {
  if (!Array.isArray(native) || native.length !== ts.length || native.some((n, i) => n !== ts[i])) {
    throw new BlasnetError(
      ErrorCode.BACKEND,
      `The addon's ${what} table [${native.join(', ')}] does not match the library's [${ts.join(', ')}]; rebuild the addon`,
    );
  }
}

/** The values BLASNET_ISA may take, lowest level first (native/isa.h). */
export const KERNEL_ISA_LEVELS = ['portable', 'avx2', 'avx512'] as const;

/**
 * Runs load (the addon's require) with OPENBLAS_NUM_THREADS=1 unless the environment sets it,
 * restoring the environment after. OpenBLAS starts its worker threads when it loads (one per
 * further CPU, from OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS, OMP_NUM_THREADS or the CPU count),
 * but blasnet calls it on one thread only, from its own pool: a worker it never used still spun
 * about 0.1 s of CPU through the first training call (bench/RESULTS.md, run T). A value the user
 * set is left alone.
 */
function withOneBlasThread<T>(load: () => T): T {
  const key = 'OPENBLAS_NUM_THREADS';
  if (process.env[key] !== undefined) return load();
  process.env[key] = '1';
  try {
    return load();
  } finally {
    delete process.env[key];
  }
}

/**
 * Loads the addon and returns it as a Backend. Throws if it is missing or does not match, if
 * BLASNET_ISA names no instruction-set level, if BLASNET_NUM_THREADS is not a thread count, or if
 * BLASNET_PACKED_FORWARD is neither 0 nor 1 (the addon reads them once, when it loads).
 */
export function loadNativeBackend(file: string = addonPath()): Backend {
  const isa = process.env.BLASNET_ISA;
  if (isa !== undefined && isa !== '' && !(KERNEL_ISA_LEVELS as readonly string[]).includes(isa)) {
    throw new BlasnetError(ErrorCode.UNKNOWN_NAME,
      `BLASNET_ISA=${JSON.stringify(isa)} is not an instruction-set level; expected one of ${KERNEL_ISA_LEVELS.map((l) => `"${l}"`).join(', ')}`);
  }
  const threads = process.env.BLASNET_NUM_THREADS;
  if (threads !== undefined && threads !== '' && !(/^[0-9]+$/.test(threads) && Number(threads) >= 1 && Number(threads) <= 1024)) {
    throw new BlasnetError(ErrorCode.UNKNOWN_NAME,
      `BLASNET_NUM_THREADS=${JSON.stringify(threads)} is not a thread count; expected an integer in [1, 1024], as setNumThreads takes`);
  }
  const packed = process.env.BLASNET_PACKED_FORWARD;
  if (packed !== undefined && packed !== '' && packed !== '0' && packed !== '1') {
    throw new BlasnetError(ErrorCode.UNKNOWN_NAME,
      `BLASNET_PACKED_FORWARD=${JSON.stringify(packed)} is not a switch; expected "0" (OpenBLAS) or "1" (blasnet's packed kernels)`);
  }
  const addon = withOneBlasThread(() => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require(file) as Addon;
  });
  sameNames('activation', addon.activationNames, ACTIVATION_NAMES);
  sameNames('loss', addon.lossNames, LOSS_NAMES);
  sameNames('optimizer', addon.optimizerNames, OPTIMIZER_KERNEL_NAMES);
  // A layout mismatch would make the kernels read the wrong scalars, so it is checked too.
  sameNames('optimizer slot count', addon.optimizerSlots, OPTIMIZER_KERNEL_LIST.map((k) => k.slots.length));
  sameNames('optimizer hyper length', addon.optimizerHyperLengths, OPTIMIZER_KERNEL_LIST.map((k) => k.hyper.length));
  // An older addon without it still trains; its arrays are just not aligned.
  if (typeof addon.addressOffset === 'function') setAddressProbe(addon.addressOffset);
  if (typeof addon.adviseHugePages === 'function') setHugePageAdvisor(addon.adviseHugePages);
  if (typeof addon.populatePages === 'function') setPagePopulator(addon.populatePages);
  const backend: Backend = {
    name: 'native',
    gemm: addon.gemm,
    gemmBatched: addon.gemmBatched,
    addBias: addon.addBias,
    colSum: addon.colSum,
    gatherRows: addon.gatherRows,
    gatherRowsChecked: addon.gatherRowsChecked,
    shuffledRange: addon.shuffledRange,
    argmaxRows: addon.argmaxRows,
    scale: addon.scale,
    axpy: addon.axpy,
    dot: addon.dot,
    sumSquares: addon.sumSquares,
    firstNonFinite: addon.firstNonFinite,
    firstLabelOutside: addon.firstLabelOutside,
    mul: addon.mul,
    penalty: addon.penalty,
    activation: addon.activation,
    activationBackward: addon.activationBackward,
    softmax: addon.softmax,
    logSoftmax: addon.logSoftmax,
    softmaxBackward: addon.softmaxBackward,
    logSoftmaxBackward: addon.logSoftmaxBackward,
    prelu: addon.prelu,
    preluBackward: addon.preluBackward,
    batchNormForward: addon.batchNormForward,
    batchNormBackward: addon.batchNormBackward,
    denseForward: addon.denseForward,
    denseBackward: addon.denseBackward,
    packDense: addon.packDense,
    packedDenseForward: addon.packedDenseForward,
    loss: addon.loss,
    lossWeighted: addon.lossWeighted,
    optimizerStep: addon.optimizerStep,
    // An addon built before optimizerStepBlocks existed (BLASNET_ADDON_PATH) checks the blocks here
    // and cuts the step its own way.
    optimizerStepBlocks: typeof addon.optimizerStepBlocks === 'function' ? addon.optimizerStepBlocks
      : function optimizerStepBlocks(opt: number, n: number, hyper: Float32Array, param: Float32Array, grad: Float32Array,
        state: Float32Array, nBlocks: number, blocks: Int32Array): void {
        const fn = 'optimizerStepBlocks';
        argCount(fn, arguments.length, 8);
        dim(fn, 'n', n);
        dim(fn, 'nBlocks', nBlocks);
        i32(fn, 'blocks', blocks, 2 * nBlocks, '2*nBlocks');
        checkBlocks(fn, n, nBlocks, blocks);
        addon.optimizerStep(opt, n, hyper, param, grad, state);
      },
    clamp: addon.clamp,
    maxNormRows: addon.maxNormRows,
    setNumThreads: addon.setNumThreads,
    getNumThreads: addon.getNumThreads,
    // An addon built before setThreadLimit existed (BLASNET_ADDON_PATH) runs uncapped.
    setThreadLimit: typeof addon.setThreadLimit === 'function' ? addon.setThreadLimit : jsBackend.setThreadLimit,
    info: () => ({ backend: 'native', ...addon.blasInfo() }),
  };
  return Object.freeze(backend);
}
