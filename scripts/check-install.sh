#!/usr/bin/env bash
# Installs blasnet the ways a user does, each into a scratch project, and checks that it works
# there (CI runs this; it takes a couple of minutes, reusing the npm cache):
#
#   tarball   `npm pack` (prepack: compile, build, put the addon in prebuilds/), then
#             `npm install <tarball>`: the prebuilt addon must load without building
#   git       `npm install git+file://<fresh clone of HEAD>`: npm runs `prepare` (compiles the
#             TypeScript) and the install script builds the addon
#   no plots  `npm install --omit=optional <tarball>`: no plotting packages; the CLI still trains
#
# In each: one training step through CommonJS `require`, through ESM `import`, on the native
# backend, and a TypeScript consumer type-checks. The git check tests committed work only (HEAD).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TMP="$(mktemp -d /tmp/blasnet-install-XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
NPM_FLAGS=(--prefer-offline --no-audit --no-fund --loglevel=error)
fail() { echo "check-install: $*" >&2; exit 1; }

# The consumers, written once, copied into every scratch project.
mkdir -p "$TMP/consumer"
cat > "$TMP/consumer/cjs.js" <<'EOF'
const { Sequential, dense, defaultBackend } = require('blasnet');
const model = new Sequential({ inputSize: 2, seed: 1, layers: [dense(4, { activation: 'tanh' }), dense(1)] });
model.compile({ loss: 'mse', optimizer: { name: 'sgd', lr: 0.1 } });
const history = model.fit([[0, 0], [0, 1], [1, 0], [1, 1]], new Float32Array([0, 1, 1, 0]), { epochs: 1, batchSize: 4 });
if (!(history.epochs[0].loss > 0)) process.exit(3);
console.log(`cjs: ${defaultBackend().name} backend, loss ${history.epochs[0].loss.toFixed(4)}`);
EOF
cat > "$TMP/consumer/esm.mjs" <<'EOF'
import { Sequential, dense, defaultBackend } from 'blasnet';
const model = new Sequential({ inputSize: 2, seed: 1, layers: [dense(4, { activation: 'tanh' }), dense(1)] });
model.compile({ loss: 'mse', optimizer: { name: 'sgd', lr: 0.1 } });
const history = model.fit([[0, 0], [0, 1], [1, 0], [1, 1]], new Float32Array([0, 1, 1, 0]), { epochs: 1, batchSize: 4 });
if (!(history.epochs[0].loss > 0)) process.exit(3);
console.log(`esm: ${defaultBackend().name} backend, loss ${history.epochs[0].loss.toFixed(4)}`);
EOF
cat > "$TMP/consumer/consumer.ts" <<'EOF'
import { dense, Sequential } from 'blasnet';
import type { History } from 'blasnet';
const model: Sequential = new Sequential({ inputSize: 2, seed: 1, layers: [dense(1)] });
model.compile({ loss: 'mse', optimizer: { name: 'adam', lr: 1e-3 } });
const history: History = model.fit([[0, 1]], new Float32Array([1]), { epochs: 1 });
const loss: number = history.epochs[0].loss;
console.log(loss);
EOF
printf 'a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n0.1,0,0\n0,0.9,1\n0.9,0.1,1\n1,0.9,0\n' > "$TMP/consumer/xor.csv"

# Runs the consumers in scratch project $1 on the native backend.
consumers() {
  local dir="$1"
  cp "$TMP"/consumer/* "$dir/"
  (cd "$dir" && BLASNET_BACKEND=native node cjs.js && BLASNET_BACKEND=native node esm.mjs)
  # node16 resolution reads the exports map's "types" condition, as modern TypeScript projects do.
  (cd "$dir" && "$ROOT/node_modules/.bin/tsc" --noEmit --strict --module node16 --moduleResolution node16 \
    --typeRoots "$ROOT/node_modules/@types" --types node consumer.ts)
  echo "typescript: consumer.ts type-checks"
}

# The size of what an install brought: node_modules on disk and its packages.
footprint() {
  echo "footprint: $(du -sh "$1/node_modules" | cut -f1), $(cd "$1" && npm ls --all --parseable 2>/dev/null | tail -n +2 | sort -u | wc -l) packages"
}

scratch() {
  mkdir -p "$TMP/$1"
  (cd "$TMP/$1" && npm init -y >/dev/null)
  echo "$TMP/$1"
}

echo "== npm pack"
(cd "$ROOT" && npm pack --pack-destination "$TMP" --loglevel=error >/dev/null)
TARBALL="$(ls "$TMP"/blasnet-*.tgz)"
contents="$(tar tzf "$TARBALL")"
grep -qx 'package/prebuilds/linux-x64/node.napi.glibc.node' <<<"$contents" || fail "the tarball has no prebuilt addon"
grep -qx 'package/LICENSE' <<<"$contents" || fail "the tarball has no LICENSE"
grep -qx 'package/dist/lib/index.d.ts' <<<"$contents" || fail "the tarball has no type declarations"
! grep -E '\.map$|^package/dist/(test|bench|examples)/|^package/build/' <<<"$contents" || fail "the tarball ships files it should not"
[ ! -e "$ROOT/prebuilds" ] || fail "postpack left prebuilds/ in the working tree"
echo "tarball: $(wc -l <<<"$contents") files, prebuilt addon, LICENSE, no source maps or tests"

echo "== install from the tarball"
dir="$(scratch tarball)"
(cd "$dir" && npm install "$TARBALL" "${NPM_FLAGS[@]}" --foreground-scripts) | tee "$TMP/tarball.log"
grep -q 'using the prebuilt addon' "$TMP/tarball.log" || fail "the install built the addon instead of using the prebuilt one"
[ ! -e "$dir/node_modules/blasnet/build" ] || fail "the install built the addon instead of using the prebuilt one"
footprint "$dir"
consumers "$dir"
(cd "$dir" && npx blasnet train --csv xor.csv --test-csv xor.csv --label y --hidden 4 --epochs 1 --batch-size 4 --quiet \
  --out m.blasnet --history h.csv --curves curves >/dev/null)
[ -s "$dir/curves.svg" ] && [ -s "$dir/curves.png" ] || fail "the CLI drew no learning curves"
echo "cli: trains and draws its learning curves"

echo "== install from the tarball without optional dependencies"
dir="$(scratch no-plots)"
(cd "$dir" && npm install "$TARBALL" "${NPM_FLAGS[@]}" --omit=optional)
[ ! -e "$dir/node_modules/vega" ] || fail "--omit=optional installed vega"
footprint "$dir"
consumers "$dir"
(cd "$dir" && npx blasnet train --csv xor.csv --test-csv xor.csv --label y --hidden 4 --epochs 1 --batch-size 4 --quiet \
  --out m.blasnet --history h.csv --curves curves 2>"$TMP/no-plots.err" >/dev/null) || fail "the CLI failed without the plotting packages: $(cat "$TMP/no-plots.err")"
grep -q 'ERR_BLASNET_DEPENDENCY\|npm install vega' "$TMP/no-plots.err" || fail "the CLI did not say why it drew no curves: $(cat "$TMP/no-plots.err")"
[ -s "$dir/m.blasnet" ] && [ ! -e "$dir/curves.svg" ] || fail "the CLI without plotting packages wrote the wrong files"
(cd "$dir" && node -e "
  const { writeLearningCurves } = require('blasnet');
  const h = { epochs: [{ epoch: 0, loss: 1 }], stepLoss: new Float64Array([1]), stepLr: new Float64Array([0.1]), steps: 1, stopReason: null };
  writeLearningCurves(h, 'c').then(() => process.exit(3), (e) => { console.log(e.code); process.exit(e.code === 'ERR_BLASNET_DEPENDENCY' ? 0 : 4); });")
echo "cli: trains, says why there are no curves: $(head -c 160 "$TMP/no-plots.err")"

echo "== install from a fresh git clone"
git -C "$ROOT" rev-parse --verify HEAD >/dev/null || fail "$ROOT is not a git checkout"
git clone -q --depth 1 "file://$ROOT" "$TMP/clone"
dir="$(scratch git)"
(cd "$dir" && npm install "git+file://$TMP/clone" "${NPM_FLAGS[@]}")
[ -e "$dir/node_modules/blasnet/dist/lib/index.js" ] || fail "the git install has no dist/ (prepare did not run)"
consumers "$dir"
echo "check-install: all installs work"
