/**
 * A search worker: runs trials on the shared training data, one at a time, its native kernels
 * capped at its share of the kernel threads.
 */
import { parentPort, workerData } from 'worker_threads';
import { setDefaultBackend } from '../backend/select';
import { BlasnetError, ErrorCode } from '../errors';
import { encodeModel, fileCarries } from '../io/model-file';
import { defaultBuild, refitModel, runTrial, thrownMessage } from './trial';
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
    // A model a file cannot carry whole (a loss, metric, optimiser or layer of one's own) is
    // retrained by the searching thread instead, before any training here.
    const model = refitModel(m.best, input.data, env, (built) => {
      if (!fileCarries(built)) throw new BlasnetError(ErrorCode.UNSUPPORTED, 'the model holds what a model file does not carry');
    });
    // The dropout stream too, which a model file does not hold: the model is the one a retrain on the calling thread gives.
    port.postMessage({ bytes: new Uint8Array(encodeModel(model)), maskState: model.maskState() });
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code;
    port.postMessage({ error: thrownMessage(e), code: typeof code === 'string' ? code : undefined });
  }
});
