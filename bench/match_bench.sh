#!/usr/bin/env bash
# match_bench.sh — `evalmix match` at scale: about 100,000 treated among 2,000,000
# comparison students, matched within exact cells (grade x subject), end to end (read
# the CSV, fit the propensity model, match, balance, write the matched CSV, the HDF5
# report and the Love plot).
#
#   bash bench/match_bench.sh [--quick]        (--quick: a tenth of the rows)
#
# Needs an evalmix build (EVALMIX=build/evalmix by default).  The data come from
# bench/gen_match.c (seed 1); the file is kept in bench/out/ for the next run.  Writes
# bench/out/match_results.md and prints it.  Wall time depends on what else the machine
# is running: the table also gives user and system CPU seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
EVALMIX=${EVALMIX:-build/evalmix}
OUT=bench/out
mkdir -p "$OUT"
rows=2100000
[ "${1:-}" = "--quick" ] && rows=210000
cc -O2 -o "$OUT/gen_match" bench/gen_match.c -lm
csv="$OUT/match_$rows.csv"
if [ ! -s "$csv" ]; then
    "$OUT/gen_match" "$rows" 0.036 1 400 > "$csv"
fi
treated=$(awk -F, 'NR > 1 && $5 == 1 {n++} END {print n}' "$csv")
results="$OUT/match_results.md"
{
    echo "| run | rows | treated | wall (s) | user (s) | sys (s) | peak RSS (MB) | output rows |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
} > "$results"

COMMON=(--treatment treat --id student --site school --exact grade,subject
        --covariates prior,frl,ell,school_frl,urban --quiet)

bench_one() {   # name, then the extra options
    local name=$1
    shift
    /usr/bin/time -f "%e %U %S %M" -o "$OUT/$name.time" \
        "$EVALMIX" match "$csv" "${COMMON[@]}" "$@" --out "$OUT/$name.csv" \
        --report "$OUT/$name.h5" --plot "$OUT/$name.svg" 2> "$OUT/$name.err" || {
        cat "$OUT/$name.err"
        exit 1
    }
    read -r wall user sys rss < "$OUT/$name.time"
    local nout=$(($(wc -l < "$OUT/$name.csv") - 1))
    printf '| %s | %d | %d | %.2f | %.2f | %.2f | %.0f | %d |\n' "$name" "$rows" "$treated" \
        "$wall" "$user" "$sys" "$((rss / 1024))" "$nout" >> "$results"
}

bench_one nearest_1to1_logit_caliper --distance logit --caliper 0.2
bench_one nearest_3to1_ps --ratio 3
bench_one vcg_51_window --method vcg --distance logit --window prior=3
rm -f "$OUT"/nearest_*.csv "$OUT"/vcg_*.csv   # hundreds of MB
cat "$results"
