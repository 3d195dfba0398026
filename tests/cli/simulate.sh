#!/usr/bin/env bash
# simulate.sh — `evalmix simulate`: the same seed gives a byte-identical file (for any
# thread count); columns, counts and the truth table are right; bad options are usage
# errors that write nothing.
#
# Run from the repository root:  bash tests/cli/simulate.sh build/evalmix
# shellcheck source=tests/cli/common.bash
source "$(dirname "$0")/common.bash"
cli_init cli_simulate "${1:-}"

HEADER='student,school,classroom,site,cohort,treat,prior,frl,ell,black,score'

# ---------------------------------------------------------------- determinism
run simulate --students 3000 --schools 24 --seed 42 --out "$TMP/a.csv" --truth "$TMP/ta.csv" \
    --params "$TMP/pa.csv"
check "simulate: exit 0, got $RC" [ "$RC" -eq 0 ]
check "simulate: nothing on stderr" [ ! -s "$TMP/err" ]
check "summary names the file" has "$TMP/out" "a.csv"
check "summary gives the true effect" has "$TMP/out" "^  treat +0\.2000$"
run simulate --students 3000 --schools 24 --seed 42 --out "$TMP/b.csv" --truth "$TMP/tb.csv" \
    --threads 1 --quiet
check "--quiet: nothing on stdout" [ ! -s "$TMP/out" ]
check "same seed, 1 thread: identical data" cmp -s "$TMP/a.csv" "$TMP/b.csv"
check "same seed: identical truth" cmp -s "$TMP/ta.csv" "$TMP/tb.csv"
run simulate --students 3000 --schools 24 --seed 43 --out "$TMP/c.csv" --quiet
differ() { ! cmp -s "$1" "$2"; }
check "another seed: another file" differ "$TMP/a.csv" "$TMP/c.csv"
run simulate --students 3000 --schools 24 --seed 42 --out - --quiet
check "--out -: the same bytes on stdout" cmp -s "$TMP/a.csv" "$TMP/out"

# ---------------------------------------------------------------- columns and counts
check "header" [ "$(head -1 "$TMP/a.csv")" = "$HEADER" ]
check "3000 students + header" nlines "$TMP/a.csv" 3001
check "every row has 11 fields" \
    [ "$(awk -F, 'NF != 11' "$TMP/a.csv" | wc -l)" -eq 0 ]
check "student ids 1..3000 in order" \
    [ "$(awk -F, 'NR > 1 && $1 != NR - 1' "$TMP/a.csv" | wc -l)" -eq 0 ]
check "24 schools" [ "$(tail -n +2 "$TMP/a.csv" | cut -d, -f2 | sort -u | wc -l)" -eq 24 ]
check "12 sites (the implementing schools)" \
    [ "$(tail -n +2 "$TMP/a.csv" | cut -d, -f4 | sort -u | wc -l)" -eq 12 ]
check "cohorts 1 and 2" [ "$(tail -n +2 "$TMP/a.csv" | cut -d, -f5 | sort -u | tr '\n' ' ')" = "1 2 " ]
check "treat, frl, ell, black are 0/1" \
    [ "$(awk -F, 'NR > 1 && ($6 > 1 || $8 > 1 || $9 > 1 || $10 > 1 || $6 < 0)' "$TMP/a.csv" | wc -l)" -eq 0 ]
check "prior and score with 3 decimals" \
    [ "$(awk -F, 'NR > 1 && ($7 !~ /^-?[0-9]+\.[0-9][0-9][0-9]$/ || $11 !~ /^-?[0-9]+\.[0-9][0-9][0-9]$/)' "$TMP/a.csv" | wc -l)" -eq 0 ]
# Treated students only in implementing schools (site = school), and such schools
# have comparison classrooms too.
check "no treated student in a comparison school" \
    [ "$(awk -F, 'NR > 1 && $6 == 1 && $2 != $4' "$TMP/a.csv" | wc -l)" -eq 0 ]
check "implementing schools have comparison students" \
    [ "$(awk -F, 'NR > 1 && $6 == 0 && $2 == $4' "$TMP/a.csv" | wc -l)" -gt 0 ]
check "truth: header" \
    [ "$(head -1 "$TMP/ta.csv")" = "school,cohort,true_effect,role,site,students,treated,classrooms,true_intercept" ]
check "truth: 24 schools" nlines "$TMP/ta.csv" 25
check "truth: students add up to 3000" \
    [ "$(awk -F, 'NR > 1 { s += $6 } END { print s }' "$TMP/ta.csv")" -eq 3000 ]
# The truth's per-school counts agree with the data.
awk -F, 'NR > 1 { n[$2]++; t[$2] += $6 } END { for (s in n) print s "," n[s] "," t[s] }' \
    "$TMP/a.csv" | sort >"$TMP/counts_data"
awk -F, 'NR > 1 { print $1 "," $6 "," $7 }' "$TMP/ta.csv" | sort >"$TMP/counts_truth"
check "truth: students and treated per school match the data" \
    cmp -s "$TMP/counts_data" "$TMP/counts_truth"
check "params: 13 parameters" nlines "$TMP/pa.csv" 14
check "params: treat:factor(cohort)2 = effect2 - effect" has "$TMP/pa.csv" '^,treat:factor\(cohort\)2,,0\.1$'

# Options change what they say they change.
run simulate --students 2000 --schools 10 --effect 0.5 --effect2 0.5 --effect-sd 0 \
    --out "$TMP/d.csv" --truth "$TMP/td.csv" --quiet
check "--effect-sd 0: every school effect equals --effect" \
    [ "$(awk -F, 'NR > 1 && $3 != "0.500000"' "$TMP/td.csv" | wc -l)" -eq 0 ]
check "--schools 10, --students 2000" \
    [ "$(tail -n +2 "$TMP/d.csv" | cut -d, -f2 | sort -u | wc -l)" -eq 10 ]
run simulate --students 20 --schools 10 --out "$TMP/e.csv" --quiet
check "2 students per school is enough" [ "$RC" -eq 0 ]

# The fit recovers the generating model (a quick smoke test; with 12 implementing schools
# the slope variance may be on the boundary, so warnings are allowed here;
# tests/unit/test_coverage.c checks the school effects properly).
run fit "$TMP/a.csv" --formula 'score ~ prior + frl + ell + black + treat*factor(cohort) + (1 + treat|school) + (1|school:classroom)'
check "fit of simulated data: exit 0" [ "$RC" -eq 0 ]
check "fit: prior near 0.6" \
    [ "$(awk '$1 == "prior" { print ($2 > 0.55 && $2 < 0.65); exit }' "$TMP/out")" = 1 ]

# ---------------------------------------------------------------- usage errors
# expect_usage LABEL PATTERN ARGS...: exit 2, the pattern on stderr, no file written.
expect_usage() {
    local label=$1 pattern=$2
    shift 2
    rm -f "$TMP/u.csv"
    run simulate "$@"
    check "$label: exit 2, got $RC" [ "$RC" -eq 2 ]
    check "$label: message" has "$TMP/err" "$pattern"
    check "$label: one line" nlines "$TMP/err" 1
    check "$label: nothing written" [ ! -e "$TMP/u.csv" ]
}
expect_usage "missing --out" "missing required option '--out'" --students 100
expect_usage "--students abc" "--students 'abc' is not a positive whole number" \
    --students abc --out "$TMP/u.csv"
expect_usage "--students -5" "--students '-5' is not a positive whole number" \
    --students=-5 --out "$TMP/u.csv"
expect_usage "--students too few" "--students 30: must be between 2 per school \(80\)" \
    --students 30 --schools 40 --out "$TMP/u.csv"
expect_usage "--schools 1" "--schools 1: must be between 2 and" --schools 1 --out "$TMP/u.csv"
expect_usage "--schools 0" "--schools '0' is not a positive whole number" --schools 0 \
    --out "$TMP/u.csv"
expect_usage "--seed -1" "--seed '-1' is not a whole number" --seed=-1 --out "$TMP/u.csv"
expect_usage "--effect x" "--effect 'x' is not a number" --effect x --out "$TMP/u.csv"
expect_usage "--effect inf" "--effect 'inf' is not a number" --effect inf --out "$TMP/u.csv"
expect_usage "--effect-sd -0.1" "--effect-sd -0.1: must be a number in \[0, 100\]" \
    --effect-sd=-0.1 --out "$TMP/u.csv"
expect_usage "--icc-school 1" "--icc-school 1: must be in \[0, 1\)" --icc-school 1 \
    --out "$TMP/u.csv"
expect_usage "ICCs add to 1" "must add up to less than 1" --icc-school 0.6 --icc-class 0.4 \
    --out "$TMP/u.csv"
expect_usage "unknown option" "unknown option '--bogus'" --bogus --out "$TMP/u.csv"
expect_usage "positional argument" "unexpected argument 'extra'" extra --out "$TMP/u.csv"
expect_usage "same file twice" "--out and --truth name the same file" --out "$TMP/u.csv" \
    --truth "$TMP/u.csv"
expect_usage "--truth -" "only --out may be '-'" --out "$TMP/u.csv" --truth -
check "usage errors point to the help" has "$TMP/err" "see 'evalmix simulate --help'"

# A folder that does not exist: an error (exit 1), nothing written anywhere.
run simulate --out "$TMP/nowhere/x.csv" --truth "$TMP/t_never.csv"
check "missing folder: exit 1, got $RC" [ "$RC" -eq 1 ]
check "missing folder: message names the file" has "$TMP/err" "nowhere/x.csv: cannot write"
check "missing folder: truth not written either" [ ! -e "$TMP/t_never.csv" ]
run simulate --out "$TMP"
check "--out a folder: exit 1" [ "$RC" -eq 1 ]
check "--out a folder: message" has "$TMP/err" "it is a folder"
check "no temporary files left" [ "$(find "$TMP" -name '*.tmp.*' | wc -l)" -eq 0 ]

# ---------------------------------------------------------------- help
run simulate --help
check "--help: exit 0" [ "$RC" -eq 0 ]
opts=$(grep -oE '\{"[a-z0-9-]+", CLI_' cli/cmd_simulate.c | sed -E 's/\{"([a-z0-9-]+)".*/\1/')
check "cmd_simulate.c: option table found" [ "$(printf '%s\n' "$opts" | wc -l)" -ge 12 ]
for o in $opts; do
    check "simulate --help: --$o" has "$TMP/out" "^  --$o( |$)"
    check "docs/simulate.md: --$o" has docs/simulate.md "\`--$o"
done
check "evalmix --help lists simulate" sh -c "'$EVM' --help | grep -q '^  simulate  '"

cli_done
