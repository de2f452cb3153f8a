/**
 * Every public function, class, static method and instance method, called with every bad value
 * and every pair of bad values (test/cases/sweep.ts), either works or throws (or rejects with) an
 * error carrying an ERR_BLASNET_* code; no call hangs. The sweep runs in a child process in an
 * empty temporary directory, so that a hanging call can be killed and named.
 */
import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Finding, SweepResult } from './cases/sweep';
import { NOT_PUBLIC, PRIVATE_CONSTRUCTORS } from './cases/sweep';

/** A call that shows no progress for this long is a hang. */
const STALL_MS = 30000;

interface Run { result?: SweepResult; hang?: string; failure?: string; stderr: string }

function runSweep(): Promise<Run> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-sweep-'));
  const child = spawn(process.execPath, [path.join(__dirname, 'cases', 'sweep.js')], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let hang: string | undefined;
  let lastCount = '';
  let lastChange = Date.now();
  const read = (name: string): string => {
    try {
      return fs.readFileSync(path.join(dir, name), 'utf8');
    } catch {
      return '';
    }
  };
  const watchdog = setInterval(() => {
    const now = read('progress');
    const count = now.split(' ', 1)[0];
    if (count !== lastCount) {
      lastCount = count;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > STALL_MS) {
      hang = now.slice(count.length + 1) || '(before the first call)';
      child.kill('SIGKILL');
    }
  }, 1000);
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-4000); });
  return new Promise((resolve) => {
    child.on('close', () => {
      clearInterval(watchdog);
      const text = read('result.json');
      fs.rmSync(dir, { recursive: true, force: true });
      const parsed = text ? (JSON.parse(text) as SweepResult & { failure?: string }) : undefined;
      resolve({ result: parsed?.failure ? undefined : parsed, failure: parsed?.failure, hang, stderr });
    });
  });
}

/** One line per callee: how many calls failed, the first of them and where it threw. */
function report(findings: Finding[]): string {
  const byFn = new Map<string, Finding[]>();
  for (const f of findings) byFn.set(f.fn, [...(byFn.get(f.fn) ?? []), f]);
  return [...byFn.values()].map((fs) => `  ${fs[0].call} [${fs.length} calls]: ${fs[0].error}${fs[0].at ? ` (at ${fs[0].at})` : ''}`).join('\n');
}

describe('bad-argument sweep over the public API', function () {
  this.timeout(300000);

  it('every member the sweep skips is private or @internal in the sources', function () {
    const wrong: string[] = [];
    for (const [kind, { source, names }] of Object.entries(NOT_PUBLIC)) {
      const text = fs.readFileSync(path.join(__dirname, '..', '..', 'lib', source), 'utf8');
      for (const n of names) {
        const isPrivate = new RegExp(`\\bprivate (readonly )?${n}\\b`).test(text);
        // A doc comment that says @internal, right before the member.
        const internal = new RegExp(`/\\*\\*(?:(?!\\*/)[\\s\\S])*@internal(?:(?!\\*/)[\\s\\S])*\\*/\\s*${n}\\(`).test(text);
        if (!isPrivate && !internal) wrong.push(`${kind}.${n} (${source})`);
      }
    }
    for (const [name, source] of Object.entries(PRIVATE_CONSTRUCTORS)) {
      const text = fs.readFileSync(path.join(__dirname, '..', '..', 'lib', source), 'utf8');
      const start = text.indexOf(`export class ${name} `);
      const end = text.indexOf('\nexport ', start + 1);
      if (start < 0 || !text.slice(start, end < 0 ? undefined : end).includes('private constructor(')) wrong.push(`new ${name} (${source})`);
    }
    assert.deepEqual(wrong, [], `public members excluded from the sweep: ${wrong.join(', ')}`);
  });

  it('every error is coded and no call hangs', async function () {
    const run = await runSweep();
    assert.equal(run.hang, undefined, `no progress for ${STALL_MS} ms after starting ${run.hang}`);
    assert.equal(run.failure, undefined, `the sweep itself failed: ${run.failure}\n${run.stderr}`);
    assert.ok(run.result, `the sweep ended without a result:\n${run.stderr}`);
    const { calls, callees, findings } = run.result;
    // The sweep must actually reach the API: ~230 callees, ~70,000 calls today.
    assert.ok(callees > 200 && calls > 60000, `only ${callees} callees and ${calls} calls swept`);
    assert.equal(findings.length, 0,
      `${findings.length} uncoded errors from ${new Set(findings.map((f) => f.fn)).size} callees:\n${report(findings)}`);
  });
});
