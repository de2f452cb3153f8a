#!/usr/bin/env bash
# Sets blasnet up on a Debian machine and runs its main job.
#
#   bash scripts/setup.sh            install what is missing, build, run the main job
#   bash scripts/setup.sh --no-run   the same without the main job
#
# System packages come from apt-get (only those missing); Node packages from `npm ci`, which also
# builds the native addon; then TypeScript is compiled.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake g++ make libopenblas-dev dataset-fashion-mnist openmpi-bin libopenmpi-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
npm run build

if [ "${1:-}" != "--no-run" ]; then
  npm start
fi
