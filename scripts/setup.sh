#!/usr/bin/env bash
# Idempotent setup: system packages (Debian/Ubuntu as root), pnpm, dependencies, build.
# Quick when everything is already there: each step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

# System packages: OpenBLAS and a C++ toolchain build the native backend; Fashion-MNIST is the
# default dataset; Chromium renders the trainer's report and runs the web page's end-to-end test.
SYSTEM_PACKAGES=(libopenblas-dev pkg-config g++ make python3 dataset-fashion-mnist chromium)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${SYSTEM_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "system packages present: ${SYSTEM_PACKAGES[*]}"
  elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
    say "installed: ${missing[*]}"
  else
    say "missing system packages: ${missing[*]}"
    say "install them as root: apt-get install ${missing[*]}"
    say "(without libopenblas-dev the native backend is unavailable and the slower wasm backend is used)"
  fi
else
  say "not a Debian/Ubuntu system: install OpenBLAS (with cblas.h), a C++17 compiler, make and python3"
  say "for the native backend; Fashion-MNIST falls back to the subset committed in packages/data/fixtures"
fi

want_pnpm=$(node -p "require('./package.json').packageManager.split('@')[1]")
if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version)" = "$want_pnpm" ]; then
  say "pnpm $want_pnpm present"
else
  say "installing pnpm $want_pnpm"
  npm install -g --silent "pnpm@$want_pnpm"
fi

say "pnpm install"
pnpm install --frozen-lockfile --reporter=silent
say "pnpm build"
pnpm run --silent build --output-logs=errors-only
say "ready"
