/**
 * The optional MPI addon (build/Release/blasnet_mpi.node), loaded on first use. The main addon
 * and the rest of the library never load it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { BlasnetError, ErrorCode } from '../errors';
import { PACKAGE_ROOT } from '../backend/native';

/** The binding's exports (binding/mpi.cc); every collective takes a timeout in milliseconds. */
export interface MpiAddon {
  init(): { rank: number; size: number; threadLevel: string };
  rank(): number;
  size(): number;
  allreduce(timeoutMs: number, buffer: Float32Array | Float64Array): void;
  broadcast(root: number, timeoutMs: number, buffer: Float32Array | Float64Array): void;
  barrier(timeoutMs: number): void;
  finalize(): void;
  abort(exitCode: number): void;
  version(): string;
}

let addon: MpiAddon | null = null;

/** Where the MPI addon is looked for: BLASNET_MPI_ADDON_PATH, else the local build. */
export function mpiAddonPath(): string {
  return process.env.BLASNET_MPI_ADDON_PATH || path.join(PACKAGE_ROOT, 'build', 'Release', 'blasnet_mpi.node');
}

/** Whether the MPI addon file exists (it is built only when CMake finds MPI). */
export function mpiAvailable(): boolean {
  return fs.existsSync(mpiAddonPath());
}

/** The loaded MPI addon; ERR_BLASNET_DEPENDENCY when it was not built or does not load. */
export function loadMpi(): MpiAddon {
  if (addon) return addon;
  const file = mpiAddonPath();
  if (!fs.existsSync(file)) {
    throw new BlasnetError(ErrorCode.DEPENDENCY,
      `distributed: the MPI addon ${file} is not built; install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) and rebuild (npm run build:native)`);
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    addon = require(file) as MpiAddon;
  } catch (e) {
    throw new BlasnetError(ErrorCode.DEPENDENCY, `distributed: the MPI addon ${file} does not load: ${(e as Error).message}`, { cause: e });
  }
  return addon;
}
