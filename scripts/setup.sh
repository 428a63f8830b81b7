#!/usr/bin/env bash
# Idempotent setup: system packages (Debian/Ubuntu as root), pnpm, dependencies, build.
# Quick when everything is already there: each step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

# System packages: OpenBLAS and a C++ toolchain build the native backend (oneDNN adds its bf16
# matmuls and convolutions where the CPU has AVX512-BF16 or AMX); Fashion-MNIST is the
# default dataset; Chromium renders the trainer's report and runs the web page's end-to-end test.
SYSTEM_PACKAGES=(libopenblas-dev libdnnl-dev pkg-config g++ make python3 dataset-fashion-mnist chromium ffmpeg)

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
    say "(without libopenblas-dev the native backend is unavailable and the slower wasm backend is used;"
    say " without libdnnl-dev it runs float32 only)"
  fi
else
  say "not a Debian/Ubuntu system: install OpenBLAS (with cblas.h), a C++17 compiler, make and python3"
  say "for the native backend; Fashion-MNIST falls back to the subset committed in packages/data/fixtures"
fi

# CPU Vulkan (Mesa's lavapipe) lets the WebGPU backend's tests run without a GPU. Dawn refuses
# Mesa older than 24 (Debian 12 ships 22.3), so on bookworm it comes from bookworm-backports.
mesa_major=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^([0-9]+:)?([0-9]+).*/\2/' || true)
if [ -n "$mesa_major" ] && [ "$mesa_major" -ge 24 ] && dpkg-query -W libvulkan1 >/dev/null 2>&1; then
  say "CPU Vulkan present (Mesa $mesa_major)"
elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  target=()
  if [ "$codename" = bookworm ]; then
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
      say "adding the bookworm-backports apt source (for Mesa 25)"
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        >/etc/apt/sources.list.d/bookworm-backports.sources
    fi
    target=(-t bookworm-backports)
  fi
  say "installing CPU Vulkan: mesa-vulkan-drivers libvulkan1 ${target[*]}"
  apt-get update -qq
  apt-get install -y -qq "${target[@]}" mesa-vulkan-drivers libvulkan1 >/dev/null
else
  say "no CPU Vulkan (Mesa >= 24 mesa-vulkan-drivers + libvulkan1): the webgpu tests are skipped without a GPU driver"
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
