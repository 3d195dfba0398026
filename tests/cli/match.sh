#!/usr/bin/env bash
# match.sh — `evalmix match`: help and docs name every option; the matched CSV (input
# records kept byte for byte, plus distance, weights, subclass, site), the HDF5 report
# and the Love plot; one-line errors with the documented exit status and nothing
# written; warnings for unmatched students (--strict: exit 3); and a weighted fit of
# the matched sample with `evalmix fit`.
#
# Run from the repository root:  bash tests/cli/match.sh build/evalmix
# shellcheck source=tests/cli/common.bash
source "$(dirname "$0")/common.bash"
cli_init cli_match "${1:-}"

DOC=docs/cli.md
ROOT=$PWD
LAL=$ROOT/datasets/lalonde.csv
EV=$ROOT/tests/data/match_eval.csv
if [ ! -f cli/cmd_match.c ] || [ ! -f "$LAL" ] || [ ! -f "$EV" ]; then
    echo "cli_match: run from the repository root"
    exit 1
fi
cd "$TMP" || exit 1
LCOV=age,educ,race,married,nodegree,re74,re75
ECOV=prior,frl,ell,school_frl

# ---------------------------------------------------------------- help and docs
run match --help
check "match --help: exit 0, got $RC" [ "$RC" -eq 0 ]
check "match --help: nothing on stderr" [ ! -s "$TMP/err" ]
check "match --help: usage line" has "$TMP/out" "^Usage: evalmix match"
cp "$TMP/out" "$TMP/help"
for status in 0 1 2 3; do
    check "match --help: exit status $status" has "$TMP/help" "^  $status  "
done
opts=$(grep -oE '^ *\{"[a-z-]+", CLI_' "$ROOT/cli/cmd_match.c" | sed -E 's/^ *\{"([a-z-]+)".*/\1/')
check "cmd_match.c: option table found" [ "$(printf '%s\n' "$opts" | wc -l)" -ge 15 ]
for o in $opts; do
    check "match --help: --$o" has "$TMP/help" "^  --$o( |$)"
    check "$DOC: --$o" has "$ROOT/$DOC" "\`--$o"
done
check "$DOC documents match" has "$ROOT/$DOC" "^## \`evalmix match\`"
run --help
check "evalmix --help lists match" has "$TMP/out" "^  match "
run match x.csv --bogus -h
check "match -h wins over a bad option" [ "$RC" -eq 0 ]

# ---------------------------------------------------------------- a match, its files
mkdir o
run match "$LAL" --treatment treat --id id --covariates "$LCOV" --out o/m.csv \
    --report o/m.h5 --plot o/m.svg
check "lalonde 1:1: exit 0, got $RC" [ "$RC" -eq 0 ]
check "lalonde 1:1: no warnings" [ ! -s "$TMP/err" ]
check "summary: method" has "$TMP/out" "^Matching: nearest neighbour, 1:1, without replacement"
check "summary: sample sizes" has "$TMP/out" "^  Matched +185 +185$"
check "summary: balance row" has "$TMP/out" "^  re74 "
check "summary: WWC verdicts" has "$TMP/out" "satisfied, .* need statistical adjustment"
check "matched CSV: 370 rows and a header" nlines o/m.csv 371
check "matched CSV: added columns" has o/m.csv '^"id",.*,"re78",distance,weights,subclass,site$'
check "matched CSV: input record kept as written" \
    has o/m.csv '^"NSW1",1,37,11,"black",1,1,0,0,9930.046,0\.6387699332965[0-9]*,1,1,NA$'
check "matched CSV: weights 1 without replacement" \
    [ "$(awk -F, 'NR > 1 && $(NF-2) != 1' o/m.csv | wc -l)" -eq 0 ]
check "report written" [ -s o/m.h5 ]
check "plot written (SVG)" has o/m.svg "<svg"
if command -v h5ls >/dev/null; then
    h5ls -r o/m.h5 >"$TMP/h5" 2>&1
    for path in /balance/covariate /balance/smd_after /balance/wwc_verdict /match/unmatched_id \
        /match/model/estimate; do
        check "report: $path" has "$TMP/h5" "^$path "
    done
fi

# the same run again: identical files; a seed changes nothing when no distances tie
run match "$EV" --treatment treat --id student --covariates "$ECOV" --distance logit \
    --ratio 2 --out o/e1.csv --quiet
check "eval 2:1: exit 0, got $RC" [ "$RC" -eq 0 ]
check "--quiet: nothing on stdout" [ ! -s "$TMP/out" ]
run match "$EV" --treatment treat --id student --covariates "$ECOV" --distance logit \
    --ratio 2 --out o/e2.csv --quiet --seed 99 --threads 1
check "same sets with --seed (no ties) and 1 thread" cmp -s o/e1.csv o/e2.csv

# calipers: unmatched treated students are reported, never dropped silently
run match "$EV" --treatment treat --id student --site school --exact grade,subject \
    --covariates "$ECOV" --distance logit --caliper 0.2 --ratio 3 --out o/c.csv
check "caliper: exit 0, got $RC" [ "$RC" -eq 0 ]
check "caliper: unmatched listed" \
    has "$TMP/err" "^evalmix: warning: 7 of 119 treated students have no match .*within the caliper\): ids 118, 134,"
check "caliper: fewer than 3 matches" has "$TMP/err" "^evalmix: warning: [0-9]+ matched treated students have fewer than 3"
check "site: the treated student's school" \
    [ "$(awk -F, 'NR > 1 && $NF !~ /^S[0-9]+$/' o/c.csv | wc -l)" -eq 0 ]
run match "$EV" --treatment treat --exact grade,subject --covariates "$ECOV" \
    --distance logit --caliper 0.2 --ratio 3 --out o/s.csv --strict --quiet
check "--strict with warnings: exit 3, got $RC" [ "$RC" -eq 3 ]
check "--strict: the file is still written" [ -s o/s.csv ]

# vcg: one row per (set, student), as get_matches(); weights 1/k in each set
run match "$EV" --treatment treat --id student --site school --method vcg --ratio 5 \
    --exact grade --window prior=10 --covariates "$ECOV" --out o/v.csv --quiet
check "vcg: exit 0, got $RC" [ "$RC" -eq 0 ]
check "vcg: weights of each set sum to 2" \
    [ "$(awk -F, 'NR > 1 {w[$(NF-1)] += $(NF-2)} END {for (s in w) if (w[s] < 1.999999 || w[s] > 2.000001) n++; print n + 0}' o/v.csv)" -eq 0 ]
check "vcg: window respected" \
    [ "$(awk -F, 'NR > 1 {if ($5 == 1) p[$(NF-1)] = $6; else {c[NR] = $(NF-1); q[NR] = $6}} END {for (r in c) {d = q[r] - p[c[r]]; if (d > 10 || d < -10) n++}; print n + 0}' o/v.csv)" -eq 0 ]

# cem and Mahalanobis
run match "$LAL" --treatment treat --method cem --covariates age,educ,race,married \
    --cutpoints age=4,educ=3 --out o/cem.csv --quiet
check "cem: exit 0, got $RC" [ "$RC" -eq 0 ]
run match "$LAL" --treatment treat --distance mahalanobis --covariates "$LCOV" --quiet
check "mahalanobis: exit 0, got $RC" [ "$RC" -eq 0 ]

# the matched sample in a weighted mixed model
run fit o/c.csv --formula 'score ~ treat + prior + (1|site) + (1|subclass)' --weights weights
check "weighted fit of the matched sample: exit 0, got $RC" [ "$RC" -eq 0 ]
check "fit: all matched rows used" has "$TMP/out" "Number of obs: $(($(wc -l < o/c.csv) - 1)),"
check "fit: the treatment effect" has "$TMP/out" "^treat "
# CR2 by matched set with the matching weights (vcg: weights 1/k vary within sets), and by
# site with the sets nested in the sites
run fit o/v.csv --formula 'score ~ treat + prior + (1|subclass)' --weights weights \
    --robust subclass --out o/vr.h5
check "weighted fit, --robust subclass: exit 0, got $RC" [ "$RC" -eq 0 ]
check "weighted fit, --robust subclass: CR2 table" has "$TMP/out" \
    "Cluster-robust \(CR2\) standard errors by subclass \([0-9]+ clusters\)"
check "weighted fit, --robust subclass: /robust/se" h5ok o/vr.h5 /robust/se
run fit o/v.csv --formula 'score ~ treat + prior + (1|site) + (1|subclass)' --weights weights \
    --robust site
check "weighted fit, --robust site: exit 0, got $RC" [ "$RC" -eq 0 ]
check "weighted fit, --robust site: CR2 table" has "$TMP/out" \
    "Cluster-robust \(CR2\) standard errors by site"

# ---------------------------------------------------------------- errors
printf '%s\n' t,x,k,m,g 0,1,5,1,a 0,2,5,2,b 0,3,5,NA,a 0,4,5,4,b 0,5,5,5,a >none.csv
printf '%s\n' t,x,k,m,g 1,1,5,1,a 1,2,5,2,b 0,3,5,,a 0,4,5,4,b 0,5,5,5,a 0,6,5,6,b >bad.csv
printf '%s\n' t,x 1,1 2,2 0,3 0,4 >two.csv

# expect_error LABEL STATUS REGEX ARGS...: exit STATUS, one stderr line matching
# "^evalmix: error: REGEX", nothing on stdout, nothing in o2/.
expect_error() {
    local label=$1 status=$2 re=$3
    shift 3
    rm -rf o2 && mkdir o2
    run "$@"
    check "$label: exit status $status, got $RC" [ "$RC" -eq "$status" ]
    check "$label: message /$re/" has <(head -n 1 "$TMP/err") "^evalmix: error: $re"
    check "$label: one stderr line" nlines "$TMP/err" 1
    check "$label: nothing on stdout" [ ! -s "$TMP/out" ]
    check "$label: nothing written" [ -z "$(ls -A o2)" ]
}
OUTS=(--out o2/m.csv --report o2/m.h5 --plot o2/m.svg)
expect_error "no treated rows" 1 "--treatment: no treated rows \(column 't' is 0 in all 5 rows\)" \
    match none.csv --treatment t --covariates x "${OUTS[@]}"
expect_error "constant covariate" 1 "--covariates: covariate 'k' is constant \(every row has 5\)" \
    match bad.csv --treatment t --covariates x,k "${OUTS[@]}"
expect_error "missing values" 1 "bad.csv:4:4: --covariates: column 'm' is missing \(NA\) in 1 row;" \
    match bad.csv --treatment t --covariates m "${OUTS[@]}"
expect_error "caliper leaves nobody" 1 "no treated student could be matched: no comparison student is within the caliper; widen --caliper" \
    match "$EV" --treatment treat --covariates "$ECOV" --caliper 1e-9 "${OUTS[@]}"
expect_error "unknown column" 1 ".*lalonde.csv:1: --covariates: no column 'agee' in the header \(columns: id, treat, age," \
    match "$LAL" --treatment treat --covariates agee,educ "${OUTS[@]}"
expect_error "unknown --exact column" 1 ".*lalonde.csv:1: --exact: no column 'grade'" \
    match "$LAL" --treatment treat --covariates age --exact grade "${OUTS[@]}"
expect_error "treatment not 0/1" 1 "two.csv:3:1: --treatment: column 't' is 2; it must be 0 \(comparison\) or 1 \(treated\)" \
    match two.csv --treatment t --covariates x "${OUTS[@]}"
expect_error "text treatment" 1 "--treatment: column 'race' must be 0 \(comparison\) or 1 \(treated\), not text" \
    match "$LAL" --treatment race --covariates age "${OUTS[@]}"
expect_error "an output column already there" 1 ".*o/m.csv:1: the input already has a column 'distance'" \
    match "$TMP/o/m.csv" --treatment treat --covariates age "${OUTS[@]}"
expect_error "treatment as a covariate" 1 "--covariates: 'treat' is the --treatment column$" \
    match "$LAL" --treatment treat --covariates treat,age "${OUTS[@]}"
expect_error "covariate given twice" 1 "--covariates: 'age' is given twice$" \
    match "$LAL" --treatment treat --covariates age --covariates educ,age "${OUTS[@]}"
expect_error "identifier as a covariate" 1 "--covariates: 'id' has a different value in each of the 614 rows \(an identifier\?\): it cannot be a covariate$" \
    match "$LAL" --treatment treat --covariates id,age "${OUTS[@]}"
printf '%s\n' t,x 1,1e200 0,2e200 1,3e200 0,1.5e200 1,5e200 0,4e200 >huge.csv
run match huge.csv --treatment t --covariates x --quiet --out o/huge.csv
check "covariate near 1e200: exit 0, got $RC" [ "$RC" -eq 0 ]
check "covariate near 1e200: the propensity of x / 1e200" has o/huge.csv "^1,1e200,0\.389598159286253[0-9]*,1,1,"
expect_error "missing FILE" 2 "match: missing input file FILE.csv \(see 'evalmix match --help'\)$" \
    match --treatment t --covariates x
expect_error "missing --treatment" 2 "match: missing required option '--treatment'" \
    match "$LAL" --covariates age
expect_error "missing --covariates" 2 "match: missing required option '--covariates'" \
    match "$LAL" --treatment treat
expect_error "bad --method" 2 "match: --method 'optimal' is not nearest, vcg or cem" \
    match "$LAL" --treatment treat --covariates age --method optimal
expect_error "bad --ratio" 2 "match: --ratio '0' is not a positive whole number" \
    match "$LAL" --treatment treat --covariates age --ratio 0
expect_error "bad --caliper" 2 "match: --caliper '-1' is not a positive number" \
    match "$LAL" --treatment treat --covariates age --caliper=-1
expect_error "--window without vcg" 2 "match: --window applies to --method vcg only" \
    match "$LAL" --treatment treat --covariates age --window age=2
expect_error "bad --window" 2 "match: --window 'age' is not VAR=W" \
    match "$LAL" --treatment treat --covariates age --method vcg --window age
expect_error "--caliper with mahalanobis" 2 "match: --caliper needs --distance ps or logit" \
    match "$LAL" --treatment treat --covariates age --distance mahalanobis --caliper 0.2
expect_error "same output twice" 2 "match: --out and --report name the same file" \
    match "$LAL" --treatment treat --covariates age --out o2/x --report o2/x
expect_error "output folder missing" 1 "--out nowhere/m.csv: cannot write: folder 'nowhere'" \
    match "$LAL" --treatment treat --covariates age --out nowhere/m.csv

cli_done
