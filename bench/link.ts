/**
 * The round trip of one cache line between CPUs 0 and 1 (bench/c/core-link.c --round-trip),
 * compiled here once per process as peak.ts compiles fma.c. On the two-vCPU VM of
 * bench/RESULTS.md it is either about 90-190 ns or about 420-850 ns, and moves between the two
 * from one minute to the next, most likely with where the hypervisor runs the vCPUs (run AD);
 * the kernels that write lines the other core has read slow down with it. Benches tag their
 * samples with it.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './drivers';

let binary: string | null | undefined;

/** The compiled probe, or null when there is no C compiler or fewer than two CPUs. */
function probe(): string | null {
  if (binary !== undefined) return binary;
  binary = null;
  if (os.cpus().length < 2) return binary;
  const out = path.join(ROOT, 'build', 'bench-core-link');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const cc = spawnSync('cc', ['-O2', '-pthread', '-I', path.join(ROOT, 'bench', 'c'), path.join(ROOT, 'bench', 'c', 'core-link.c'), '-o', out],
    { encoding: 'utf8' });
  if (!cc.error && cc.status === 0) binary = out;
  return binary;
}

/** The round trip in ns (about 10 ms to measure), or null when it cannot be measured here. */
export function measureLink(): number | null {
  const bin = probe();
  if (bin === null) return null;
  const r = spawnSync(bin, ['--round-trip'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  const line = r.stdout.trim().split('\n')[0];
  try {
    const ns = (JSON.parse(line) as { ns?: unknown }).ns;
    return typeof ns === 'number' && Number.isFinite(ns) ? ns : null;
  } catch {
    return null;
  }
}

/** 'near' below 300 ns, 'far' above: the two states seen on the VM of run AD. */
export function linkState(ns: number | null): string {
  return ns === null ? 'n/a' : ns < 300 ? 'near' : 'far';
}
