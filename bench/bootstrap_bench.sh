#!/usr/bin/env bash
# bootstrap_bench.sh — parametric bootstrap: evalmix vs lme4's bootMer in one run.
#
#   bash bench/bootstrap_bench.sh [NBOOT [NSIM_R]]      (defaults 10000 and 1000)
#
# sleepstudy, Reaction ~ Days + (Days|Subject), REML.  evalmix runs NBOOT replicates on 1
# and on 2 threads (bench/bootstrap_bench.c, built here against the static engine
# library); lme4's bootMer (serial; about 9 s per 1,000 replicates on an idle core) runs
# NSIM_R replicates and its times are scaled linearly to NBOOT, as the output says.
# Both time the bootstrap alone (the model is fitted before the clock starts).  Wall and
# CPU seconds are shown: on a shared machine the CPU ratio is the steadier figure, the
# wall ratio on 2 threads is what a user waits for.  Needs R with lme4.
# BUILD=<dir> selects the CMake build folder (default build-boot).  Writes
# bench/out/bootstrap.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
NBOOT=${1:-10000}
NSIM_R=${2:-1000}
BUILD=${BUILD:-build-boot}
OUT=bench/out
CSV=datasets/sleepstudy.csv
FORMULA='Reaction ~ Days + (Days|Subject)'
mkdir -p "$OUT"

cmake -S . -B "$BUILD" > /dev/null
cmake --build "$BUILD" -j2 --target evalmix_engine > /dev/null
# shellcheck disable=SC2046
cc -O2 -ffp-contract=off -Iengine/include -Iengine -Iengine/core -o "$OUT/bootstrap_bench" \
  bench/bootstrap_bench.c "$BUILD/engine/libevalmix_engine.a" \
  $(pkg-config --libs lapacke nlopt openssl hdf5) -lopenblas -lpthread -lm

load0=$(cut -d' ' -f1 /proc/loadavg)
read -r _ w1 c1 _ ok1 _ < <("$OUT/bootstrap_bench" "$CSV" "$FORMULA" "$NBOOT" 1)
read -r _ w2 c2 _ ok2 _ < <("$OUT/bootstrap_bench" "$CSV" "$FORMULA" "$NBOOT" 2)
read -r _ rw rc _ rfail < <(OPENBLAS_NUM_THREADS=1 Rscript bench/bootmer_time.R "$CSV" "$FORMULA" "$NSIM_R")
load1=$(cut -d' ' -f1 /proc/loadavg)

awk -v n="$NBOOT" -v nr="$NSIM_R" -v w1="$w1" -v c1="$c1" -v w2="$w2" -v c2="$c2" \
    -v rw="$rw" -v rc="$rc" -v ok1="$ok1" -v ok2="$ok2" -v rf="$rfail" \
    -v load="$load0 -> $load1" -v cores="$(nproc)" 'BEGIN {
  s = n / nr; RW = rw * s; RC = rc * s
  printf "sleepstudy parametric bootstrap, %d replicates (%d cores, load average %s)\n", n, cores, load
  printf "                       wall s     CPU s\n"
  printf "  evalmix, 1 thread  %8.2f  %8.2f   (%d refits ok)\n", w1, c1, ok1
  printf "  evalmix, 2 threads %8.2f  %8.2f   (%d refits ok)\n", w2, c2, ok2
  printf "  lme4 bootMer       %8.1f  %8.1f   (measured %.2f / %.2f s for %d replicates, x%g; %d failed)\n", RW, RC, rw, rc, nr, s, rf
  printf "  speed-up, wall: %.0fx on 1 thread, %.0fx on 2 threads\n", RW / w1, RW / w2
  printf "  speed-up, CPU : %.0fx (evalmix 1 thread), %.0fx (evalmix 2 threads, summed)\n", RC / c1, RC / c2
}' | tee "$OUT/bootstrap.txt"
