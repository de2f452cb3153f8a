/**
 * Output paths checked before any work starts, so that a long job never ends by failing to write,
 * by overwriting one of its own outputs with another, or by replacing a file it reads.
 */
import * as fs from 'fs';
import * as path from 'path';
import { BlasnetError, ErrorCode, rangeError } from '../errors';
import { absolutePath, checkWritable } from './format';
import { FASHION_MNIST_DIR } from '../data/idx';

/** One file a command will write: the option that named it (for messages) and its path. */
export interface OutputPath {
  readonly option: string;
  readonly path: string;
}

/** A file a command reads: the option that named it (for messages) and its path. */
export type InputPath = OutputPath;

/**
 * What a path names, for telling whether two paths are one file: its real path (symbolic links
 * resolved; for a file not there yet, its directory's real path and its name) and, when it
 * exists, its device and inode, which also match for two hard links of one file.
 */
function fileIdentity(p: string): { key: string; id: string | null } {
  // Resolved as the kernel resolves it ("link/.." through the link), not lexically.
  const abs = absolutePath(p);
  try {
    const st = fs.statSync(abs);
    return { key: fs.realpathSync.native(abs), id: `${st.dev}:${st.ino}` };
  } catch {
    // Not there (or not reachable): the directory's real path, if it has one.
  }
  try {
    return { key: path.join(fs.realpathSync.native(path.dirname(abs)), path.basename(abs)), id: null };
  } catch {
    return { key: path.resolve(abs), id: null };
  }
}

function sameFile(a: { key: string; id: string | null }, b: { key: string; id: string | null }): boolean {
  return a.key === b.key || (a.id !== null && a.id === b.id);
}

/**
 * Checks that every output can be written: distinct files (ERR_BLASNET_ARG_RANGE naming both
 * options), none of them a file the command reads (`inputs`: ERR_BLASNET_ARG_RANGE naming both),
 * each in an existing, writable directory, not itself a directory, FIFO, socket or device, and
 * with a name the file system takes, for the file and for the temporary a save writes beside it
 * (checkWritable creates and removes that temporary) (ERR_BLASNET_IO). Existing regular files are
 * fine: they are replaced (a symbolic link to one replaces its target). Two paths are one file
 * when they resolve to it through symbolic links, or are hard links of it.
 */
export function checkOutputPaths(outputs: readonly OutputPath[], inputs: readonly InputPath[] = []): void {
  const read = inputs.map((i) => ({ ...i, file: fileIdentity(i.path) }));
  const seen: { option: string; file: { key: string; id: string | null } }[] = [];
  for (const { option, path: p } of outputs) {
    const abs = absolutePath(p);
    const file = fileIdentity(p);
    const other = seen.find((s) => sameFile(s.file, file));
    if (other !== undefined) {
      throw rangeError(ErrorCode.ARG_RANGE, `${other.option} and ${option} name the same file (${abs}); give them different paths`);
    }
    const input = read.find((i) => sameFile(i.file, file));
    if (input !== undefined) {
      throw rangeError(ErrorCode.ARG_RANGE, `${option} names ${abs}, which is the ${input.option} file this command reads; ` +
        'writing it would replace that file: give the output another path');
    }
    seen.push({ option, file });
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
    } catch (e) {
      // ENOENT: not there yet, it will be created. Anything else (a name too long for the file
      // system, a loop of symbolic links, a directory that cannot be searched) would fail the save.
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENAMETOOLONG') {
        throw new BlasnetError(ErrorCode.IO, `${option}: cannot write ${abs}: its name is too long for the file system ` +
          `(${Buffer.byteLength(path.basename(abs))} bytes; most take at most 255)`);
      }
      if (err.code !== 'ENOENT') throw new BlasnetError(ErrorCode.IO, `${option}: cannot write ${abs}: ${err.message}`);
    }
    if (target?.isDirectory()) throw new BlasnetError(ErrorCode.IO, `${option}: ${abs} is a directory`);
    // Files are replaced atomically (saveModel refuses anything else), so a FIFO or a device
    // such as /dev/null is refused here too, before the work rather than after it.
    if (target && !target.isFile()) throw new BlasnetError(ErrorCode.IO, `${option}: ${abs} is not a regular file (a FIFO, socket or device)`);
    // What the save will do, done once now: create its temporary beside the file, then remove it.
    try {
      checkWritable(abs);
    } catch (e) {
      throw new BlasnetError(ErrorCode.IO, `${option}: ${(e as Error).message}`);
    }
  }
}

/**
 * The files a command reads, which none of its outputs may replace: its tables (`csv`,
 * `testCsv`), model, search space and the IDX files of its `data` directory, or Fashion-MNIST's
 * (FASHION_MNIST_DIR) when neither a directory nor a table is given (both splits, plain or gzipped).
 */
export function commandInputs(o: { csv?: string; testCsv?: string; model?: string; space?: string; data?: string }): InputPath[] {
  const inputs: InputPath[] = [];
  if (o.csv) inputs.push({ option: '--csv', path: o.csv });
  if (o.testCsv) inputs.push({ option: '--test-csv', path: o.testCsv });
  if (o.model) inputs.push({ option: '--model', path: o.model });
  if (o.space) inputs.push({ option: '--space', path: o.space });
  // Without a table or a directory, the commands read Fashion-MNIST's.
  if (o.data || !o.csv) {
    const [dir, option] = o.data ? [o.data, '--data'] : [FASHION_MNIST_DIR, `default data (${FASHION_MNIST_DIR})`];
    for (const prefix of ['train', 't10k']) {
      for (const kind of ['images-idx3-ubyte', 'labels-idx1-ubyte']) {
        for (const ext of ['', '.gz']) inputs.push({ option, path: path.join(dir, `${prefix}-${kind}${ext}`) });
      }
    }
  }
  return inputs;
}
