#!/usr/bin/env node
// Builds the API reference (typedoc.json: lib/index.ts into docs/api) and fails on any warning
// TypeDoc's validation gives: a broken {@link}, an exported type that is referenced but not
// exported, a public export or interface member without a doc comment. One kind is left out:
// members of an object-literal type (`ACTIVATIONS.__type.relu.__type.f`), the rows of the
// tables, whose fields the row interfaces (ActivationDef, LossDef, ...) document once.
'use strict';
const { spawnSync } = require('child_process');
const path = require('path');

const root = path.resolve(__dirname, '..');
const typedoc = path.join(path.dirname(require.resolve('typedoc/package.json', { paths: [root] })), 'bin', 'typedoc');
const r = spawnSync(process.execPath, [typedoc, '--logLevel', 'Warn'], { cwd: root, encoding: 'utf8' });
const lines = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '').split('\n');
const problems = lines.filter((l) => /^\[(warning|error)\]/.test(l) && !/^\[warning\] Found \d+ errors/.test(l) && !/\.__type\./.test(l));
const tableRows = lines.filter((l) => /^\[warning\] .*\.__type\./.test(l)).length;
if (r.status !== 0 || problems.length > 0) {
  console.error(problems.length ? problems.join('\n') : lines.join('\n'));
  console.error(`docs: ${problems.length} problem(s) in the API reference`);
  process.exit(1);
}
console.log(`docs: docs/api built; every export documented, no broken links (${tableRows} table-row members left to their row interfaces)`);
