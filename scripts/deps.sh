#!/usr/bin/env bash
# deps.sh — install the Debian 12 packages evalmix needs to build and test, if missing.
# R is not needed to build or test (reference values are stored under tests/reference/);
# it is needed only to regenerate them and to run the side-by-side benchmarks (bench/).
# libgfortran-12-dev gives the static libgfortran that EVM_STATIC_DEPS links (faster start).
set -euo pipefail
pkgs="build-essential cmake pkg-config libopenblas-dev liblapacke-dev libhdf5-dev
      libnlopt-dev libssl-dev libgfortran-12-dev hdf5-tools time"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "deps.sh: installing:$missing" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
