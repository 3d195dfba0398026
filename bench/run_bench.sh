#!/usr/bin/env bash
# run_bench.sh — evalmix and lme4 on the same files, in one run, as ratios.
#
#   bash bench/run_bench.sh [--quick]
#
# Needs build/evalmix (cmake --build build) and R with lme4 (apt-get install r-cran-lme4).
# Writes bench/out/results.md (copy the table into docs/performance.md) and prints it.
# evalmix is timed end to end (read CSV, fit, write HDF5: the whole command), RUNS times
# per file (default 5; the median is reported, and the first run); lme4 is timed for
# lmer() alone (system.time inside R, data already in memory), which favours
# lme4.  Peak memory is the maximum resident set size of the whole process.
# EVM_FLAGS adds options to every evalmix run; the default `--ddf none` does the work
# lmer() does (no denominator df); EVM_FLAGS= (empty) measures the default fit, which
# adds Satterthwaite df.
set -euo pipefail
cd "$(dirname "$0")/.."
EVALMIX=${EVALMIX:-build/evalmix}
EVM_FLAGS=${EVM_FLAGS---ddf none}
OUT=bench/out
mkdir -p "$OUT"
RUNS=${RUNS:-5}   # evalmix runs per file (the median is reported)
quick=0
[ "${1:-}" = "--quick" ] && quick=1
cc -O2 -o "$OUT/gen_evaluation" bench/gen_evaluation.c -lm

FORMULA='score ~ prior + frl + ell + treat*factor(year) + (1|school/classroom)'
results="$OUT/results.md"
{
  echo "| dataset | rows | evalmix end to end (s): median (first run) | evalmix peak RSS (MB) | lme4 lmer() (s) | lme4 peak RSS (MB) | speed-up | objective evalmix | objective lme4 |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$results"

# time_cmd OUTFILE CMD... : runs CMD, writes "seconds maxrss_kb" to OUTFILE
time_cmd() {
  local outfile=$1; shift
  /usr/bin/time -f "%e %M" -o "$outfile" "$@"
}

objective_of() {   # the objective attribute of /fit in an evalmix result file
  h5dump -m '%.10g' -a /fit/objective "$1" | awk '/\(0\)/ {print $2}'
}

bench_one() {   # name csv formula run_lme4
  local name=$1 csv=$2 formula=$3 run_lme4=$4
  local rows; rows=$(($(wc -l < "$csv") - 1))
  # RUNS runs in a row: the median is reported (the first, which follows R's run of the
  # previous file, is often much slower on a VM: it is reported too), peak RSS the largest
  local times="" em=0 first="" i t m
  for ((i = 0; i < RUNS; i++)); do
    time_cmd "$OUT/$name.evm.time" "$EVALMIX" fit "$csv" --formula "$formula" \
      --out "$OUT/$name.h5" --threads 2 --quiet $EVM_FLAGS
    read -r t m < "$OUT/$name.evm.time"
    [ -n "$first" ] || first=$t
    times="$times $t"
    [ "$m" -gt "$em" ] && em=$m
  done
  local et; et=$(echo $times | tr ' ' '\n' | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  local eobj; eobj=$(objective_of "$OUT/$name.h5")
  local lt="–" lm="–" ratio="–" lobj="–"
  if [ "$run_lme4" = 1 ]; then
    time_cmd "$OUT/$name.r.time" Rscript bench/lme4_fit.R "$csv" "$formula" > "$OUT/$name.r.out"
    read -r _ lt lobj < "$OUT/$name.r.out"
    read -r _ lm < "$OUT/$name.r.time"
    lm=$((lm / 1024))
    ratio=$(awk -v a="$lt" -v b="$et" 'BEGIN { printf "%.0f×", a / b }')
  fi
  echo "| $name | $rows | $et ($first) | $((em / 1024)) | $lt | $lm | $ratio | $eobj | $lobj |" >> "$results"
  echo "$name done: evalmix ${et}s, lme4 ${lt}s" >&2
}

sizes="200000 1000000 5000000"
[ $quick = 1 ] && sizes="200000"
for n in $sizes; do
  csv="$OUT/eval_$n.csv"
  [ -f "$csv" ] || "$OUT/gen_evaluation" "$n" 1 > "$csv" 2> /dev/null
  run_r=1
  [ "$n" -gt 1000000 ] && run_r=0   # lme4 at 5M rows takes minutes and several GB
  bench_one "evaluation_$n" "$csv" "$FORMULA" $run_r
done

[ -f "$OUT/insteval.csv" ] || Rscript bench/export_insteval.R "$OUT/insteval.csv"
bench_one insteval "$OUT/insteval.csv" 'y ~ service + (1|s) + (1|d) + (1|dept)' 1

{
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m);"
  echo "evalmix $("$EVALMIX" --version 2>/dev/null | head -1), R $(Rscript -e 'cat(R.version.string)' 2>/dev/null), lme4 $(Rscript -e 'cat(as.character(packageVersion("lme4")))' 2>/dev/null); $(date -u +%Y-%m-%d)."
} >> "$results"
cat "$results"
