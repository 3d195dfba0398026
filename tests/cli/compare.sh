#!/usr/bin/env bash
# compare.sh — `evalmix compare` against lme4's anova(m1, m2) (tests/reference/
# compare_reference.json, made by compare_reference.R): ML fits of sleepstudy (a
# variance-component test, with the boundary mixture p-value) and of HSB (fixed effects),
# REML fits with the same fixed effects; npar, AIC, BIC, logLik, deviance, Chisq, Df and
# p from the --out file to 1e-6 relative, the printed table line for line as R prints it;
# the refusals (REML fits with different fixed effects, different data, different
# responses, REML mixed with ML), their one-line messages and exit statuses, usage errors
# and --help.
#
# Run from the repository root:  bash tests/cli/compare.sh build/evalmix
# shellcheck source=tests/cli/common.bash
source "$(dirname "$0")/common.bash"
cli_init cli_compare "${1:-}"

REF=tests/reference/compare_reference.json
for f in $REF datasets/sleepstudy.csv datasets/hsb.csv docs/cli.md; do
    [ -f "$f" ] || { echo "cli_compare: $f missing (run from the repository root)"; exit 1; }
done
command -v h5dump >/dev/null || { echo "cli_compare: h5dump not found (apt-get install hdf5-tools)"; exit 1; }

# ref CASE KEY: the array KEY of case CASE in the JSON, one element a line (null as nan).
ref() {
    awk -v c="  \"$1\": {" -v k="    \"$2\": [" '
        $0 == c { inside = 1; next }
        inside && /^  }/ { inside = 0 }
        inside && index($0, k) == 1 {
            s = substr($0, length(k) + 1); sub(/\],?$/, "", s)
            n = split(s, a, /, /)
            for (i = 1; i <= n; i++) { v = a[i]; gsub(/"/, "", v); if (v == "null") v = "nan"; print v }
        }' $REF
}
# h5col FILE NAME: the dataset /compare/NAME, one element a line, full precision.
h5col() {
    h5dump -m %.17g -d "/compare/$2" "$1" 2>/dev/null |
        sed -n '/DATA {/,/}/p' | grep -oE '\([0-9]+\): [^,]*' | sed -E 's/^\([0-9]+\): //; s/"//g'
}
# same_nums A B TOL: files A and B hold the same numbers (nan = nan) to TOL relative.
same_nums() {
    paste "$1" "$2" | awk -v tol="$3" -F'\t' '
        { n++; a = $1; b = $2
          if (a == "nan" || b == "nan") { if (a != b) bad++; next }
          d = a - b; if (d < 0) d = -d; s = b < 0 ? -b : b
          if (d > tol * s) { bad++; printf "    %s vs %s\n", a, b } }
        END { exit (n == 0 || bad > 0) }' &&
        [ "$(wc -l <"$1")" -eq "$(wc -l <"$2")" ]
}
# fit_to FILE CSV FORMULA ARGS...: a quiet fit saved to $TMP/FILE.h5
fit_to() {
    local out=$1 csv=$2 formula=$3
    shift 3
    "$EVM" fit "$csv" --formula "$formula" --out "$TMP/$out.h5" --quiet "$@" 2>"$TMP/fit_err" ||
        { echo "cli_compare: fit $out failed:"; cat "$TMP/fit_err"; exit 1; }
}

# check_case CASE FILE1 FILE2: compare FILE1 FILE2 --out against the reference CASE.
check_case() {
    local id=$1
    run compare "$TMP/$2.h5" "$TMP/$3.h5" --out "$TMP/$id.cmp.h5"
    check "$id: exit 0, got $RC" [ "$RC" -eq 0 ]
    check "$id: nothing on stderr" [ ! -s "$TMP/err" ]
    cp "$TMP/out" "$TMP/$id.txt"
    for col in npar aic bic loglik deviance chisq df p p_mixture; do
        ref "$id" $col >"$TMP/want"
        h5col "$TMP/$id.cmp.h5" $col >"$TMP/got"
        check "$id: /compare/$col equals anova() to 1e-6" same_nums "$TMP/got" "$TMP/want" 1e-6
    done
    ref "$id" model >"$TMP/want"
    h5col "$TMP/$id.cmp.h5" model >"$TMP/got"
    check "$id: /compare/model" diff "$TMP/got" "$TMP/want"
    # the table as R prints it: from the column header to the last row
    ref "$id" printed >"$TMP/want"
    sed -n '/^ *npar /,/^---$/p' "$TMP/$id.txt" | grep -v '^---$' >"$TMP/got"
    check "$id: table printed as R prints it" diff "$TMP/got" "$TMP/want"
}

SLEEP=datasets/sleepstudy.csv
HSB=datasets/hsb.csv
fit_to sleep_ri $SLEEP 'Reaction ~ Days + (1 | Subject)' --ml
fit_to sleep_rs $SLEEP 'Reaction ~ Days + (Days | Subject)' --ml
fit_to sleep_ri_reml $SLEEP 'Reaction ~ Days + (1 | Subject)'
fit_to sleep_rs_reml $SLEEP 'Reaction ~ Days + (Days | Subject)'
fit_to hsb_ses $HSB 'MathAch ~ SES + (1 | School)' --ml
fit_to hsb_sector $HSB 'MathAch ~ SES * Sector + (1 | School)' --ml
fit_to hsb_ses_reml $HSB 'MathAch ~ SES + (1 | School)'
fit_to hsb_sector_reml $HSB 'MathAch ~ SES * Sector + (1 | School)'

# ---------------------------------------------------------------- against anova()
# larger model first: rows are still ordered by npar
check_case sleepstudy sleep_rs sleep_ri
T=$TMP/sleepstudy.txt
check "sleepstudy: Data line" has "$T" "^Data: $SLEEP$"
check "sleepstudy: Models lines" has "$T" "^sleep_ri: Reaction ~ Days \+ \(1 \| Subject\)$"
check "sleepstudy: signif legend" has "$T" "^Signif. codes:  0 "
check "sleepstudy: mixture note" has "$T" \
    "^Note: sleep_rs adds only random-effect parameters to sleep_ri"
check "sleepstudy: mixture p printed" has "$T" "chi-squared\(2\)$"
check "sleepstudy: mixture p value" has "$T" "and chi-squared\(1\) gives p = 3.961e-10\.$"
check "sleepstudy: no REML note" hasnt "$T" "REML"

check_case sleepstudy_reml sleep_ri_reml sleep_rs_reml
check "sleepstudy_reml: REML note" has "$TMP/sleepstudy_reml.txt" "^Note: REML fits with the same fixed effects"
check "sleepstudy_reml: method" has <(h5dump -a /compare/method "$TMP/sleepstudy_reml.cmp.h5") '"REML"'

check_case hsb hsb_ses hsb_sector
check "hsb: p < 2.2e-16 as R" has "$TMP/hsb.txt" "< 2\.2e-16 \*\*\*$"
check "hsb: no mixture note (fixed effects differ)" hasnt "$TMP/hsb.txt" "mixture"
check "hsb: method ML" has <(h5dump -a /compare/method "$TMP/hsb.cmp.h5") '"ML"'

# three models: each row against the one before it; labels from the paths when two file
# names clash, MODEL1.. (as lme4) when the paths do too
mkdir "$TMP/x"
cp "$TMP/sleep_ri.h5" "$TMP/x/sleep_ri.h5"
(cd "$TMP" && "$EVM" compare sleep_rs.h5 sleep_ri.h5 x/sleep_ri.h5 >out 2>err)
RC=$?
check "three models: exit 0, got $RC" [ "$RC" -eq 0 ]
check "three models: clashing names labelled by path" has "$TMP/out" "^x/sleep_ri.h5 +4 "
check "three models: Df 0 row, no p-value (as R)" \
    has "$TMP/out" "^x/sleep_ri.h5    4 1802.1 1814.8 -897.04   1794.1  0.000  0               $"
check "three models: last row tested against the second" \
    has "$TMP/out" "^sleep_rs.h5      6 1763.9 1783.1 -875.97   1751.9 42.139  2  7.072e-10 \*\*\*$"
run compare "$TMP/sleep_rs.h5" "$TMP/sleep_ri.h5" "$TMP/sleep_ri.h5"
check "same file twice: MODEL labels" has "$TMP/out" "^MODEL3    4 1802.1 "

# ---------------------------------------------------------------- refusals
# expect_refusal LABEL PATTERN ARGS...: exit 1, one error line matching PATTERN, no stdout,
# no --out file.
expect_refusal() {
    local label=$1 pattern=$2
    shift 2
    rm -f "$TMP/refused.h5"
    run compare "$@" --out "$TMP/refused.h5"
    check "$label: exit 1, got $RC" [ "$RC" -eq 1 ]
    check "$label: nothing on stdout" [ ! -s "$TMP/out" ]
    check "$label: one line on stderr" nlines "$TMP/err" 1
    check "$label: message" has "$TMP/err" "^evalmix: error: $pattern"
    check "$label: no --out file" [ ! -e "$TMP/refused.h5" ]
}
expect_refusal "REML, different fixed effects" \
    "$TMP/hsb_ses_reml.h5 and $TMP/hsb_sector_reml.h5 are REML fits with different fixed effects: their REML criteria are not comparable \(refit both with --ml\)$" \
    "$TMP/hsb_ses_reml.h5" "$TMP/hsb_sector_reml.h5"
expect_refusal "different data (file)" \
    "$TMP/sleep_ri.h5 and $TMP/hsb_ses.h5 were fitted to different data \(input_sha256 differs: [0-9a-f]{12}\.\.\. and [0-9a-f]{12}\.\.\.\)$" \
    "$TMP/sleep_ri.h5" "$TMP/hsb_ses.h5"
# same file, but a variable with a missing value in one model only: 179 vs 180 rows
awk -F, -v OFS=, 'NR == 1 { print $0, "\"Z\""; next } { print $0, (NR == 2 ? "NA" : $2) }' \
    $SLEEP >"$TMP/sleepz.csv"
fit_to z_days "$TMP/sleepz.csv" 'Reaction ~ Days + (1 | Subject)' --ml
fit_to z_z "$TMP/sleepz.csv" 'Reaction ~ Z + (1 | Subject)' --ml
expect_refusal "different data (rows used)" \
    "$TMP/z_days.h5 and $TMP/z_z.h5 were fitted to different data \(180 and 179 observations: missing values in different variables\?\)$" \
    "$TMP/z_days.h5" "$TMP/z_z.h5"
fit_to sleep_days $SLEEP 'Days ~ Reaction + (1 | Subject)' --ml
expect_refusal "different responses" \
    "$TMP/sleep_ri.h5 and $TMP/sleep_days.h5 have different responses \('Reaction' and 'Days'\)$" \
    "$TMP/sleep_ri.h5" "$TMP/sleep_days.h5"
expect_refusal "REML and ML" \
    "$TMP/sleep_ri.h5 was fitted by ML and $TMP/sleep_rs_reml.h5 by REML: fit both by ML \(--ml\) to compare them$" \
    "$TMP/sleep_ri.h5" "$TMP/sleep_rs_reml.h5"
expect_refusal "missing file" "$TMP/nope.h5: cannot open: No such file or directory$" \
    "$TMP/sleep_ri.h5" "$TMP/nope.h5"
expect_refusal "not a result file" "$SLEEP: not an evalmix result file" \
    "$TMP/sleep_ri.h5" "$SLEEP"

# ---------------------------------------------------------------- usage
expect_usage() {
    local label=$1 pattern=$2
    shift 2
    run "$@"
    check "$label: exit 2, got $RC" [ "$RC" -eq 2 ]
    check "$label: nothing on stdout" [ ! -s "$TMP/out" ]
    check "$label: message" has "$TMP/err" "^evalmix: error: compare: $pattern \(see 'evalmix compare --help'\)$"
}
expect_usage "no files" "missing result files A.h5 B.h5" compare
expect_usage "one file" "need at least two result files" compare "$TMP/sleep_ri.h5"
expect_usage "unknown option" "unknown option '--bogus'" compare "$TMP/sleep_ri.h5" "$TMP/sleep_rs.h5" --bogus
expect_usage "--out needs a value" "option '--out' needs a value" compare "$TMP/sleep_ri.h5" "$TMP/sleep_rs.h5" --out
expect_usage "--out is an input" "--out '$TMP/sleep_ri.h5' is one of the files compared" \
    compare "$TMP/sleep_ri.h5" "$TMP/sleep_rs.h5" --out "$TMP/sleep_ri.h5"

# ---------------------------------------------------------------- help and docs
run compare --help
check "--help: exit 0" [ "$RC" -eq 0 ]
check "--help: nothing on stderr" [ ! -s "$TMP/err" ]
check "--help: usage line" has "$TMP/out" "^Usage: evalmix compare "
check "--help: --out" has "$TMP/out" "^  --out FILE.h5 "
check "--help: an example" has "$TMP/out" "^  evalmix compare "
for status in 0 1 2; do check "--help: exit status $status" has "$TMP/out" "^  $status  "; done
cp "$TMP/out" "$TMP/help"
run compare "$TMP/sleep_ri.h5" -h --bogus
check "-h among other arguments: same help" diff "$TMP/help" "$TMP/out"
run --help
check "evalmix --help lists compare" has "$TMP/out" "^  compare  "
check "docs/cli.md documents compare" has docs/cli.md "^## \`evalmix compare\`"
check "docs/cli.md: --out of compare" has docs/cli.md "evalmix compare .*--out"

cli_done
