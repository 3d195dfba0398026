#!/usr/bin/env bash
# wwc.sh — `evalmix wwc`: golden output for a continuous and a binary outcome (values as
# R computes them: metafor escalc for g, the WWC clustering-correction formulas; see
# tests/reference/test_effsize.c), the help (every option of the table in cli/cmd_wwc.c,
# also in docs/cli.md), and errors: one line "evalmix: error: ...", nothing on stdout,
# exit 2 for usage errors and 1 for statistics that admit no effect size.
#
# Run from the repository root:  bash tests/cli/wwc.sh build/evalmix
# shellcheck source=tests/cli/common.bash
source "$(dirname "$0")/common.bash"
cli_init cli_wwc "${1:-}"

DOC=docs/cli.md
if [ ! -f cli/cmd_wwc.c ] || [ ! -f $DOC ]; then echo "cli_wwc: run from the repository root"; exit 1; fi

# value LABEL: the value after the label on the first matching line of $TMP/out.
value() { grep -F -m 1 -- "  $1 " "$TMP/out" | sed -E 's/^ +.{38} //; s/ .*//'; }
# expect LABEL VALUE: that line shows VALUE.
expect() {
    local got
    got=$(value "$1")
    check "$CASE: $1 = $2, got '$got'" [ "$got" = "$2" ]
}

# ---------------------------------------------------------------- continuous outcome
CASE=continuous
CONT=(--mean-t 52.3 --sd-t 9.8 --n-t 120 --mean-c 49.1 --sd-c 10.2 --n-c 118)
run wwc "${CONT[@]}" --clusters 12 --icc 0.2
check "$CASE: exit 0, got $RC" [ "$RC" -eq 0 ]
check "$CASE: nothing on stderr" [ ! -s "$TMP/err" ]
# R: escalc("SMD", 52.3, 9.8, 120, 49.1, 10.2, 118): yi 0.31897206, vi 0.01702166 (SE
# 0.1305); omega = 1 - 3/(4*238 - 9) = 0.99682; WWC g 0.3189722; 100*pnorm(g) - 50 = 12.51;
# t = g/sqrt(238/(120*118) + g^2/476) = 2.445 (236 df, p 0.0152); n = 238/12 = 19.83:
# t_A = 1.102, h = 140.37, p = 2*pt(-1.102, 140.37) = 0.2724.
check "$CASE: title" has "$TMP/out" '^WWC effect size from group statistics: continuous outcome$'
check "$CASE: WWC g line" has "$TMP/out" "^  Hedges' g \(WWC, omega = 0\.99682\) +0\.3190  \(SE 0\.1305\)$"
check "$CASE: exact g line" has "$TMP/out" "^  Hedges' g \(exact J, as metafor SMD\) +0\.3190  \(SE 0\.1305\)$"
expect "improvement index" "+12.51"
expect "t ignoring clustering (236 df)" "2.445"
expect "t_A" "1.102"
expect "h (degrees of freedom)" "140.37"
check "$CASE: corrected p" has "$TMP/out" '^  p +0\.2724$'
check "$CASE: correction heading" has "$TMP/out" '^WWC clustering correction: 12 clusters, average size 19\.83, ICC 0\.20$'
check "$CASE: verdict" has "$TMP/out" '^  verdict: not statistically significant at the 0\.05 level after the clustering correction$'

# Default ICC: 0.20 for achievement (also with --outcome achievement), 0.10 for other.
cp "$TMP/out" "$TMP/explicit"
run wwc "${CONT[@]}" --clusters 12
check "default ICC is 0.20" diff "$TMP/explicit" "$TMP/out"
run wwc "${CONT[@]}" --clusters 12 --outcome achievement
check "--outcome achievement: ICC 0.20" diff "$TMP/explicit" "$TMP/out"
run wwc "${CONT[@]}" --clusters 12 --outcome other
check "--outcome other: ICC 0.10" has "$TMP/out" 'ICC 0\.10$'

# Without --clusters: the uncorrected test only.
CASE=noclusters
run wwc "${CONT[@]}"
check "$CASE: exit 0, got $RC" [ "$RC" -eq 0 ]
check "$CASE: no correction" hasnt "$TMP/out" 't_A'
check "$CASE: verdict" has "$TMP/out" '^  verdict: statistically significant at the 0\.05 level \(no clustering correction'
run wwc "${CONT[@]}" --alpha 0.01
check "$CASE: --alpha 0.01" has "$TMP/out" '^  verdict: not statistically significant at the 0\.01 level'

# --baseline: the equivalence verdict (g 0.319 > 0.25).
run wwc "${CONT[@]}" --baseline
check "--baseline: not satisfied" has "$TMP/out" '^  baseline equivalence \(WWC\) +not satisfied$'
run wwc --mean-t 51 --sd-t 10 --n-t 100 --mean-c 50 --sd-c 10 --n-c 100 --baseline
check "--baseline: requires adjustment" has "$TMP/out" 'baseline equivalence \(WWC\) +requires statistical adjustment$'
run wwc --mean-t 50.2 --sd-t 10 --n-t 100 --mean-c 50 --sd-c 10 --n-c 100 --baseline
check "--baseline: satisfied" has "$TMP/out" 'baseline equivalence \(WWC\) +satisfied$'

# ---------------------------------------------------------------- binary outcome
CASE=binary
run wwc --prop-t 0.62 --n-t 150 --prop-c 0.51 --n-c 140 --clusters 10
check "$CASE: exit 0, got $RC" [ "$RC" -eq 0 ]
# R: lor = qlogis(.62) - qlogis(.51) = 0.4495; /1.65 = 0.2725 (OR2DN), times
# omega = 1 - 3/(4*290 - 9) = 0.99739: 0.2717; t 2.302 (288 df); n 29: t_A 0.878, h 145.20.
check "$CASE: title" has "$TMP/out" '^WWC effect size from group statistics: binary outcome$'
expect "log odds ratio" "0.4495"
check "$CASE: Cox line" has "$TMP/out" '^  Cox index \(WWC, omega = 0\.99739\) +0\.2717  \(SE 0\.1442\)$'
expect "Cox index without omega (OR2DN)" "0.2725"
expect "improvement index" "+10.71"
expect "t ignoring clustering (288 df)" "2.302"
expect "t_A" "0.878"
expect "h (degrees of freedom)" "145.20"

# ---------------------------------------------------------------- help
run wwc --help
check "--help: exit 0" [ "$RC" -eq 0 ]
check "--help: nothing on stderr" [ ! -s "$TMP/err" ]
check "--help: usage line" has "$TMP/out" '^Usage: evalmix wwc '
check "--help: an example" has "$TMP/out" '^  evalmix wwc '
for status in 0 1 2; do check "--help: exit status $status" has "$TMP/out" "^  $status  "; done
cp "$TMP/out" "$TMP/help"
run wwc --mean-t 1 --bogus -h
check "-h among other arguments: same text" diff "$TMP/help" "$TMP/out"
opts=$(grep -oE '^ *\{"[a-z-]+", CLI_' cli/cmd_wwc.c | sed -E 's/^ *\{"([a-z-]+)".*/\1/')
check "cmd_wwc.c: option table found" [ "$(printf '%s\n' "$opts" | wc -l)" -ge 12 ]
for o in $opts; do
    check "wwc --help: --$o" has "$TMP/help" "(^ +|, )--$o( |,|$)"
    check "$DOC: --$o" has $DOC "\`--$o"
done
check "$DOC documents wwc" has $DOC '^## `evalmix wwc`'
run --help
check "evalmix --help lists wwc" has "$TMP/out" '^  wwc  '

# ---------------------------------------------------------------- errors
# expect_error LABEL STATUS REGEX ARGS...: exit STATUS, one stderr line matching
# "^evalmix: error: REGEX", nothing on stdout.
expect_error() {
    local label=$1 status=$2 re=$3
    shift 3
    run "$@"
    check "$label: exit status $status, got $RC" [ "$RC" -eq "$status" ]
    check "$label: message /$re/" has <(head -n 1 "$TMP/err") "^evalmix: error: $re"
    check "$label: one stderr line" nlines "$TMP/err" 1
    check "$label: nothing on stdout" [ ! -s "$TMP/out" ]
}
U="\(see 'evalmix wwc --help'\)$"
expect_error "no statistics" 2 "wwc: missing group statistics: .*$U" wwc
expect_error "missing --sd-c" 2 "wwc: missing required option '--sd-c' $U" \
    wwc --mean-t 52.3 --sd-t 9.8 --n-t 120 --mean-c 49.1 --n-c 118
expect_error "missing --n-t" 2 "wwc: missing required option '--n-t' $U" \
    wwc --prop-t 0.5 --prop-c 0.4 --n-c 100
expect_error "mixed kinds" 2 "wwc: give means and SDs .* not both $U" \
    wwc "${CONT[@]}" --prop-t 0.5 --prop-c 0.4
expect_error "not a number" 2 "wwc: --mean-t 'abc' is not a number $U" \
    wwc --mean-t abc --sd-t 9.8 --n-t 120 --mean-c 49.1 --sd-c 10.2 --n-c 118
expect_error "n not whole" 2 "wwc: --n-c '11.5' is not a positive whole number $U" \
    wwc --mean-t 1 --sd-t 1 --n-t 12 --mean-c 0 --sd-c 1 --n-c 11.5
expect_error "negative SD" 2 "wwc: standard deviations must not be negative $U" \
    wwc --mean-t 1 --sd-t -1 --n-t 12 --mean-c 0 --sd-c 1 --n-c 11
expect_error "proportion > 1" 2 "wwc: proportions must lie in \[0, 1\] $U" \
    wwc --prop-t 1.2 --n-t 10 --prop-c 0.5 --n-c 10
expect_error "icc without clusters" 2 "wwc: --icc applies to the clustering correction: give --clusters too $U" \
    wwc "${CONT[@]}" --icc 0.1
expect_error "icc 1" 2 "wwc: --icc must lie in \[0, 1\) $U" wwc "${CONT[@]}" --clusters 12 --icc 1
expect_error "one cluster" 2 "wwc: --clusters must be at least 2 $U" wwc "${CONT[@]}" --clusters 1
expect_error "bad outcome" 2 "wwc: --outcome 'reading' is not 'achievement' or 'other' $U" \
    wwc "${CONT[@]}" --clusters 12 --outcome reading
expect_error "bad alpha" 2 "wwc: --alpha must lie strictly between 0 and 1 $U" \
    wwc "${CONT[@]}" --alpha 5
expect_error "unknown option" 2 "wwc: unknown option '--mean' $U" wwc --mean 3
expect_error "positional" 2 "wwc: unexpected argument 'extra' $U" wwc extra "${CONT[@]}"
expect_error "repeated option" 2 "wwc: option '--n-t' given more than once $U" \
    wwc "${CONT[@]}" --n-t 3
# Statistics that admit no effect size: exit 1, the library's message.
expect_error "proportion 1" 1 "Cox index: proportions must lie strictly between 0 and 1" \
    wwc --prop-t 1 --n-t 10 --prop-c 0.5 --n-c 10
expect_error "no variation" 1 "effect size: the pooled standard deviation is 0" \
    wwc --mean-t 1 --sd-t 0 --n-t 12 --mean-c 0 --sd-c 0 --n-c 11
expect_error "too small" 1 "effect size: 3 members in all" \
    wwc --mean-t 1 --sd-t 1 --n-t 2 --mean-c 0 --sd-c 1 --n-c 1
expect_error "more clusters than students" 1 "clustering correction: 300 clusters for 238 members" \
    wwc "${CONT[@]}" --clusters 300

cli_done
