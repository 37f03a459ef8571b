#!/usr/bin/env bash
# Installs every package liaison needs to build, test, benchmark and fuzz, from Debian 12 only.
# Idempotent and non-interactive: packages already present are not touched, so a second run
# costs one dpkg query. Run as root (or through sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libsimdjson-dev libabsl-dev libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev
  tao-pegtl-dev libre2-dev libicu-dev libsodium-dev libboost-dev libssl-dev libsqlite3-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql libpq-dev
  libphonenumber-dev libidn2-dev
  curl  # the end-to-end shell tests read the server back over HTTP
)
# clang's libFuzzer is only needed for scripts/fuzz.sh; install it with LIAISON_FUZZ=1.
if [[ "${LIAISON_FUZZ:-0}" == 1 ]]; then packages+=(clang libclang-rt-14-dev); fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]}; run this script as root" >&2
  exit 3
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
