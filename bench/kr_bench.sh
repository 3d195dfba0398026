#!/usr/bin/env bash
# kr_bench.sh — Kenward-Roger: evalmix vs pbkrtest in one run.
#
#   bash bench/kr_bench.sh [REPS_EVALMIX [REPS_R]]      (defaults 200 and 3)
#
# HSB, MathAch ~ SES*Sector + (SES|School), REML (7185 rows, 160 schools).  Both sides fit
# the model first (not timed), then time one Kenward-Roger analysis: the adjusted Var(β)
# and the F test of SES:SectorPublic and SectorPublic jointly.  pbkrtest: vcovAdj(m) plus
# KRmodcomp(m, L) (which recomputes vcovAdj inside, as pbkrtest is used), best of REPS_R;
# evalmix: evm__kr_create + evm__kr_ftest (bench/kr_bench.c, built here against the
# static engine library, one thread), best and median of REPS_EVALMIX.  The ratio is
# printed both against the whole pbkrtest call and against its vcovAdj alone.
# Needs R with lme4 and pbkrtest.  BUILD=<dir> selects the CMake build folder (default
# build-kr).
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-200}
REPS_R=${2:-3}
BUILD=${BUILD:-build-kr}
OUT=bench/out
CSV=datasets/hsb.csv
FORMULA='MathAch ~ SES*Sector + (SES|School)'
COEFS='SES:SectorPublic,SectorPublic'
mkdir -p "$OUT"

cmake -S . -B "$BUILD" > /dev/null
cmake --build "$BUILD" -j2 --target evalmix_engine > /dev/null
# shellcheck disable=SC2046
cc -O2 -ffp-contract=off -Iengine/include -Iengine -Iengine/core -o "$OUT/kr_bench" \
  bench/kr_bench.c "$BUILD/engine/libevalmix_engine.a" \
  $(pkg-config --libs lapacke nlopt openssl hdf5) -lopenblas -lpthread -lm

read -r _ ebest emed eF eddf < <("$OUT/kr_bench" "$CSV" "$FORMULA" "$COEFS" "$REPS")
read -r _ radj rkr rF rddf < <(OPENBLAS_NUM_THREADS=1 Rscript bench/kr_pbkrtest.R "$CSV" "$FORMULA" "$COEFS" "$REPS_R")

awk -v eb="$ebest" -v em="$emed" -v eF="$eF" -v ed="$eddf" -v ra="$radj" -v rk="$rkr" \
    -v rF="$rF" -v rd="$rddf" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
  printf "HSB Kenward-Roger (vcovAdj + joint F test of SES:SectorPublic, SectorPublic; load %s)\n", load
  printf "  pbkrtest vcovAdj          : %9.4f s\n", ra
  printf "  pbkrtest KRmodcomp        : %9.4f s   F %.6f  ddf %.4f\n", rk, rF, rd
  printf "  evalmix create + ftest    : %9.6f s best, %.6f s median   F %.6f  ddf %.4f\n", eb, em, eF, ed
  printf "  speed-up (vcovAdj + KRmodcomp) / evalmix median: %.0fx\n", (ra + rk) / em
  printf "  speed-up vcovAdj alone / evalmix median        : %.0fx\n", ra / em
}' | tee "$OUT/kr_bench.txt"
