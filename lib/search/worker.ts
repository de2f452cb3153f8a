/**
 * A search worker: runs trials on the shared training data, one at a time, its native kernels
 * capped at its share of the kernel threads.
 */
import { parentPort, workerData } from 'worker_threads';
import { setDefaultBackend } from '../backend/select';
import { encodeModel } from '../io/model-file';
import { defaultBuild, refitModel, runTrial } from './trial';
import type { BuildFunction, TrialEnv } from './trial';
import type { SearchWorkerInput, SearchWorkerMessage } from './runner';

const input = workerData as SearchWorkerInput;
const port = parentPort as NonNullable<typeof parentPort>;
const backend = setDefaultBackend(input.backend);
// The pool's count is the process's, which the searching thread holds in the shared record
// (lib/backend/threads.ts) with any other search or fitAsync; a worker caps its own kernels.
if (input.backend === 'native') backend.setThreadLimit(input.threads);

let build: BuildFunction = defaultBuild;
if (input.build) {
  const { module, name } = input.build;
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const f = (require(module) as Record<string, unknown>)[name];
    if (typeof f !== 'function') throw new TypeError(`${module} exports no function ${name}`);
    build = f as BuildFunction;
  } catch (e) {
    // Every trial then fails with the reason, as a build that throws would.
    const why = e as Error;
    build = () => {
      throw why;
    };
  }
}
const env: TrialEnv = { build, metric: input.metric, backend: input.backend, ...(input.trialTimeMs !== undefined ? { trialTimeMs: input.trialTimeMs } : {}) };
port.on('message', (m: SearchWorkerMessage) => {
  if (m.kind === 'trial') {
    port.postMessage(runTrial(m.trial, input.data, env));
    return;
  }
  try {
    port.postMessage({ bytes: new Uint8Array(encodeModel(refitModel(m.best, input.data, env))) });
  } catch (e) {
    const err = e as Error & { code?: string };
    port.postMessage({ error: `${err.message}${err.code ? ` (${err.code})` : ''}`, code: err.code });
  }
});
