/**
 * Output paths checked before any work starts, so that a long job never ends by failing to write
 * (or by overwriting one of its own outputs with another).
 */
import * as fs from 'fs';
import * as path from 'path';
import { BlasnetError, ErrorCode, rangeError } from '../errors';

/** One file a command will write: the option that named it (for messages) and its path. */
export interface OutputPath {
  readonly option: string;
  readonly path: string;
}

/**
 * Checks that every output can be written: distinct files (ERR_BLASNET_ARG_RANGE naming both
 * options), each in an existing, writable directory and not itself a directory, FIFO, socket or
 * device (ERR_BLASNET_IO). Existing regular files are fine: they are replaced (a symbolic link to
 * one replaces its target).
 */
export function checkOutputPaths(outputs: readonly OutputPath[]): void {
  const seen = new Map<string, string>();
  for (const { option, path: p } of outputs) {
    const abs = path.resolve(p);
    const other = seen.get(abs);
    if (other !== undefined) {
      throw rangeError(ErrorCode.ARG_RANGE, `${other} and ${option} name the same file (${abs}); give them different paths`);
    }
    seen.set(abs, option);
    const dir = path.dirname(abs);
    let stat: fs.Stats;
    try {
      stat = fs.statSync(dir);
    } catch {
      throw new BlasnetError(ErrorCode.IO, `${option}: the directory ${dir} does not exist; create it first`);
    }
    if (!stat.isDirectory()) throw new BlasnetError(ErrorCode.IO, `${option}: ${dir} is not a directory`);
    try {
      fs.accessSync(dir, fs.constants.W_OK);
    } catch {
      throw new BlasnetError(ErrorCode.IO, `${option}: the directory ${dir} is not writable`);
    }
    let target: fs.Stats | null = null;
    try {
      target = fs.statSync(abs);
    } catch {
      // Not there yet: it will be created.
    }
    if (target?.isDirectory()) throw new BlasnetError(ErrorCode.IO, `${option}: ${abs} is a directory`);
    // Files are replaced atomically (saveModel refuses anything else), so a FIFO or a device
    // such as /dev/null is refused here too, before the work rather than after it.
    if (target && !target.isFile()) throw new BlasnetError(ErrorCode.IO, `${option}: ${abs} is not a regular file (a FIFO, socket or device)`);
  }
}
