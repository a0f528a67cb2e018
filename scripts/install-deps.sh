#!/usr/bin/env bash
# Installs the Debian packages natsim builds with, if any are missing.
# Runs as root through apt-get, otherwise through sudo. Idempotent and quiet when
# everything is already present.
set -euo pipefail

packages=(
  build-essential cmake make pkg-config clang clang-format
  libboost1.81-dev   # Asio, Beast, CRC, unordered_flat_map, system::result (1.74 lacks these)
  nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev libpugixml-dev libcli11-dev
  libclang-rt-14-dev # libFuzzer and sanitizer runtimes for clang
  python3-jsonschema # checks scenarios/natsim.schema.json against every scenario file
)
# Extra packages a caller wants too (e.g. interop peers), space-separated.
if [[ -n "${NATSIM_EXTRA_PACKAGES:-}" ]]; then
  read -r -a extra <<<"${NATSIM_EXTRA_PACKAGES}"
  packages+=("${extra[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "natsim: installing missing packages: ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
else
  command -v sudo >/dev/null || { echo "natsim: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
