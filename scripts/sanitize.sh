#!/usr/bin/env bash
# Builds the addon under AddressSanitizer + UndefinedBehaviorSanitizer (CMake option
# BLASNET_SANITIZE) into build-sanitize/, then runs the kernel tests against it (the js halves
# too: the parity tests need both). Exits
# non-zero on any sanitizer report or test failure. Needs gcc and a TypeScript build (dist/).
#
#   bash scripts/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."

node node_modules/cmake-js/bin/cmake-js compile --log-level warn --out build-sanitize --CDBLASNET_SANITIZE=ON

# node itself is not instrumented, so the ASan runtime must be loaded before anything else.
# detect_leaks=0: node keeps memory to the end by design. allow_user_segv_handler=0: node installs
# its own SIGSEGV handler, which would otherwise turn a wild access into a silent crash.
libasan="$(gcc -print-file-name=libasan.so)"
[ -f "$libasan" ] || { echo "sanitize: libasan.so not found ($libasan)" >&2; exit 1; }
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
LD_PRELOAD="$libasan" \
  ASAN_OPTIONS=detect_leaks=0:allow_user_segv_handler=0:abort_on_error=0 \
  UBSAN_OPTIONS=print_stacktrace=1 \
  BLASNET_ADDON_PATH="$PWD/build-sanitize/Release/blasnet.node" \
  BLASNET_BACKEND=native BLASNET_REQUIRE_NATIVE=1 \
  node node_modules/mocha/bin/mocha.js --no-config --timeout 120000 --reporter dot \
    dist/test/10.kernels.test.js dist/test/11.gradients.test.js dist/test/12.parity.test.js \
    dist/test/20.errors.test.js dist/test/21.fuzz.test.js dist/test/22.races.test.js \
    2>&1 | tee "$log" || status=$?
# A report that did not end the process (a worker's, or one a test caught) still fails the run.
if grep -qE 'ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer' "$log"; then
  echo "sanitize: sanitizer report above" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "sanitize: tests failed (status $status)" >&2
  exit "$status"
fi
echo "sanitize: native kernel tests clean under ASan + UBSan"
