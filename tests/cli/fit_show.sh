#!/usr/bin/env bash
# fit_show.sh — `evalmix fit` end to end on bundled datasets: the summary, the result
# file (checked with h5dump), `evalmix show` printing the same summary, --ml, --quiet,
# --weights, --ref, --threads, and the exit status of a boundary fit with and without
# --strict.
#
# Run from the repository root:  bash tests/cli/fit_show.sh build/evalmix
# shellcheck source=tests/cli/common.bash
source "$(dirname "$0")/common.bash"
cli_init cli_fit_show "${1:-}"

SLEEP=datasets/sleepstudy.csv
SLEEP_F='Reaction ~ Days + (Days|Subject)'
for f in $SLEEP datasets/Dyestuff2.csv datasets/hsb.csv; do
    [ -f "$f" ] || { echo "cli_fit_show: $f missing (run from the repository root)"; exit 1; }
done
command -v h5dump >/dev/null || { echo "cli_fit_show: h5dump not found (apt-get install hdf5-tools)"; exit 1; }

# h5attr FILE PATH: the value h5dump prints for the attribute at PATH ("/fit/method").
h5attr() { h5dump -a "$2" "$1" 2>/dev/null | sed -n 's/^ *(0): *//p'; }

# ---------------------------------------------------------------- REML fit with --out
mkdir "$TMP/res"
H5=$TMP/res/sleep.h5
run fit $SLEEP --formula "$SLEEP_F" --out "$H5"
cp "$TMP/out" "$TMP/fit.txt"
check "sleepstudy: exit 0, got $RC" [ "$RC" -eq 0 ]
check "sleepstudy: no warnings" [ ! -s "$TMP/err" ]
check "sleepstudy: REML" has "$TMP/fit.txt" "REML criterion at convergence"
check "sleepstudy: 180 obs" has "$TMP/fit.txt" "Number of obs: 180"
check "sleepstudy: 18 subjects" has "$TMP/fit.txt" "Subject, 18"
check "sleepstudy: fixef (Intercept)" has "$TMP/fit.txt" "^\(Intercept\) +251\.4"
check "sleepstudy: fixef Days" has "$TMP/fit.txt" "^Days +10\.46"
check "sleepstudy: file written" [ -s "$H5" ]
check "sleepstudy: no temporary file left" [ "$(ls -A "$TMP/res")" = sleep.h5 ]

# The file: dataset paths and attributes of docs/hdf5.md.
check "h5: /fixef/estimate" h5dump -d /fixef/estimate "$H5" >/dev/null 2>&1
check "h5: /fixef/name" h5dump -d /fixef/name "$H5" >/dev/null 2>&1
check "h5: /fit/theta" h5dump -d /fit/theta "$H5" >/dev/null 2>&1
check "h5: /fit method REML" [ "$(h5attr "$H5" /fit/method)" = '"REML"' ]
check "h5: /fit n_obs 180" [ "$(h5attr "$H5" /fit/n_obs)" = 180 ]
check "h5: /fit formula" [ "$(h5attr "$H5" /fit/formula)" = "\"$SLEEP_F\"" ]
check "h5: version" [ "$(h5attr "$H5" /evalmix_version)" = "\"$("$EVM" --version | cut -d' ' -f2)\"" ]
check "h5: command, shell-quoted" has <(h5attr "$H5" /command) \
    "evalmix fit $SLEEP --formula 'Reaction ~ Days \+ \(Days\|Subject\)' --out "
check "h5: created, ISO 8601 UTC" has <(h5attr "$H5" /created) \
    '^"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"$'
check "h5: input" [ "$(h5attr "$H5" /input)" = "\"$SLEEP\"" ]
check "h5: input_sha256" [ "$(h5attr "$H5" /input_sha256)" = "\"$(sha256sum $SLEEP | cut -c1-64)\"" ]
check "h5: seed 0" [ "$(h5attr "$H5" /seed)" = 0 ]

# show prints what fit printed.
run show "$H5"
check "show: exit 0, got $RC" [ "$RC" -eq 0 ]
check "show: same summary as fit" diff "$TMP/fit.txt" "$TMP/out"

# --quiet: no summary, the same file.
run fit $SLEEP --formula "$SLEEP_F" --out "$TMP/quiet.h5" --quiet
check "quiet: exit 0, got $RC" [ "$RC" -eq 0 ]
check "quiet: nothing on stdout" [ ! -s "$TMP/out" ]

# --timings: one line on stderr with every stage and the evaluation count.
run fit $SLEEP --formula "$SLEEP_F" --quiet --timings
check "timings: exit 0, got $RC" [ "$RC" -eq 0 ]
check "timings: one line with every stage" has "$TMP/err" \
    "^evalmix: timings: read [0-9.]* s, model [0-9.]* s, fit [0-9.]* s \\([1-9][0-9]* evaluations\\), inference [0-9.]* s, write [0-9.]* s; total [0-9.]* s$"
check "timings: nothing else on stderr" nlines "$TMP/err" 1
run show "$TMP/quiet.h5"
check "quiet: file holds the same fit" diff "$TMP/fit.txt" "$TMP/out"

# The thread count does not change the numbers (house rule 10), and --threads is recorded.
run fit $SLEEP --formula "$SLEEP_F" --threads 1 --out "$TMP/t1.h5"
check "threads 1: same summary" diff "$TMP/fit.txt" "$TMP/out"
run fit $SLEEP --formula="$SLEEP_F" --threads=2 --max-eval 10000
check "threads 2, --opt=value forms: same summary" diff "$TMP/fit.txt" "$TMP/out"
check "h5: threads 1" [ "$(h5attr "$TMP/t1.h5" /threads)" = 1 ]

# ---------------------------------------------------------------- ML
run fit $SLEEP --formula "$SLEEP_F" --ml --out "$TMP/ml.h5"
check "ml: exit 0, got $RC" [ "$RC" -eq 0 ]
check "ml: maximum likelihood" has "$TMP/out" "maximum likelihood"
check "ml: no REML criterion" hasnt "$TMP/out" "REML criterion"
check "ml: /fit method ML" [ "$(h5attr "$TMP/ml.h5" /fit/method)" = '"ML"' ]

# ---------------------------------------------------------------- --weights, --ref
# Unit weights from a column that is not in the formula: the same fit.
awk -F, -v OFS=, 'NR == 1 { print $0, "\"w\""; next } { print $0, 1 }' $SLEEP >"$TMP/sleepw.csv"
run fit "$TMP/sleepw.csv" --formula "$SLEEP_F" --weights w
check "weights: exit 0, got $RC" [ "$RC" -eq 0 ]
check "weights: same estimates" diff <(grep -E '^(\(Intercept\)|Days) ' "$TMP/fit.txt") \
    <(grep -E '^(\(Intercept\)|Days) ' "$TMP/out")

run fit datasets/hsb.csv --formula 'MathAch ~ SES*Sector + (1|School)' --quiet --out "$TMP/hsb.h5"
check "hsb: exit 0, got $RC" [ "$RC" -eq 0 ]
check "hsb: default reference level" has <(h5dump -d /fixef/name "$TMP/hsb.h5") '"SectorPublic"'
run fit datasets/hsb.csv --formula 'MathAch ~ SES*Sector + (1|School)' --ref Sector=Public
check "ref: exit 0, got $RC" [ "$RC" -eq 0 ]
check "ref: Sector=Public" has "$TMP/out" '^SectorCatholic '
check "ref: interaction renamed" has "$TMP/out" '^SES:SectorCatholic '
run fit datasets/hsb.csv --formula 'MathAch ~ SES*Sector + Sex + (1|School)' \
    --ref Sector=Public,Sex=Male
check "ref a,b: exit 0, got $RC" [ "$RC" -eq 0 ]
check "ref a,b: Sector=Public" has "$TMP/out" '^SectorCatholic '
check "ref a,b: Sex=Male" has "$TMP/out" '^SexFemale '

# ---------------------------------------------------------------- boundary fits
# Dyestuff2: the REML estimate of the batch variance is 0 (lme4: singular fit).
for strict in "" --strict; do
    want=0
    [ -n "$strict" ] && want=3
    rm -f "$TMP/dye2.h5"
    run fit datasets/Dyestuff2.csv --formula 'Yield ~ 1 + (1|Batch)' --out "$TMP/dye2.h5" $strict
    check "Dyestuff2 $strict: exit $want, got $RC" [ "$RC" -eq "$want" ]
    check "Dyestuff2 $strict: singular warning" has "$TMP/err" \
        "^evalmix: warning: boundary \(singular\) fit"
    check "Dyestuff2 $strict: only warning lines" [ "$(grep -vc '^evalmix: warning: ' "$TMP/err")" -eq 0 ]
    check "Dyestuff2 $strict: summary printed" has "$TMP/out" "REML criterion at convergence"
    check "Dyestuff2 $strict: file written" [ -s "$TMP/dye2.h5" ]
    check "Dyestuff2 $strict: /fit singular 1" [ "$(h5attr "$TMP/dye2.h5" /fit/singular)" = 1 ]
done

# A tiny file where every group has the same mean: the group variance is exactly 0.
printf 'y,g\n1,a\n2,a\n3,a\n1,b\n2,b\n3,b\n1,c\n2,c\n3,c\n' >"$TMP/flat.csv"
run fit "$TMP/flat.csv" --formula 'y ~ 1 + (1|g)' --strict --quiet --out "$TMP/flat.h5"
check "flat groups --strict: exit 3, got $RC" [ "$RC" -eq 3 ]
check "flat groups --strict: warning" has "$TMP/err" "^evalmix: warning: .*singular"
check "flat groups --strict: file written" [ -s "$TMP/flat.h5" ]

# Other warnings: no convergence (--max-eval) and a dropped aliased column.
run fit $SLEEP --formula "$SLEEP_F" --max-eval 5 --quiet --strict --out "$TMP/noconv.h5"
check "max-eval 5 --strict: exit 3, got $RC" [ "$RC" -eq 3 ]
check "max-eval 5: warning" has "$TMP/err" "^evalmix: warning: .*converge"
check "max-eval 5: file written" [ -s "$TMP/noconv.h5" ]
check "max-eval 5: /fit converged 0" [ "$(h5attr "$TMP/noconv.h5" /fit/converged)" = 0 ]
check "max-eval 5: at most 5 evaluations, the start's included" \
    [ "$(h5attr "$TMP/noconv.h5" /fit/n_evaluations)" = 5 ]
awk -F, -v OFS=, 'NR == 1 { print $0, "\"D2\""; next } { print $0, 2 * $2 }' $SLEEP >"$TMP/alias.csv"
run fit "$TMP/alias.csv" --formula 'Reaction ~ Days + D2 + (1|Subject)'
check "aliased column: exit 0, got $RC" [ "$RC" -eq 0 ]
check "aliased column: warning names it" has "$TMP/err" "^evalmix: warning: .*dropping 1 column: D2$"
check "aliased column: summary printed" has "$TMP/out" "^Days "
run fit datasets/Pastes.csv --formula 'strength ~ 1 + (1|batch) + (1|batch)' --quiet --ddf none
check "repeated term: exit 0, got $RC" [ "$RC" -eq 0 ]
check "repeated term: warning" has "$TMP/err" "^evalmix: warning: two random-effects terms have the same columns by 'batch': their variances are not identifiable \(only their sum is\)$"
run fit "$TMP/alias.csv" --formula 'Reaction ~ Days + D2 + (1|Subject)' --contrast 'a=Days - D2'
check "contrast of a dropped column: exit 1, got $RC" [ "$RC" -eq 1 ]
check "contrast of a dropped column: says so" has "$TMP/err" "^evalmix: error: --contrast: coefficient 'D2' was dropped from the model as aliased \(the fixed effects are rank deficient\): Days - D2$"
check "contrast of a dropped column: caret under D2" has "$TMP/err" "^ {130}\^$"

# Rows with missing values: dropped, and the summary (of fit and of show) says how many.
awk -F, -v OFS=, 'NR >= 2 && NR <= 4 { $1 = "NA" } 1' $SLEEP >"$TMP/na.csv"
run fit "$TMP/na.csv" --formula 'Reaction ~ Days + (1|Subject)' --out "$TMP/na.h5"
check "missing values: exit 0, got $RC" [ "$RC" -eq 0 ]
check "missing values: summary says so" has "$TMP/out" "^\(3 observations deleted: missing values in: Reaction\)$"
run show "$TMP/na.h5"
check "missing values: show says so" has "$TMP/out" "^\(3 observations deleted: missing values in: Reaction\)$"

# Degenerate data: errors that say what is wrong with the data, and no file.
printf 'y,x,g\n1,1,a\n2,2,a\n3,3,b\n4,4,b\n5,5,c\n6,6,c\n' >"$TMP/exact.csv"
run fit "$TMP/exact.csv" --formula 'y ~ x + (1|g)' --out "$TMP/exact.h5"
check "exact fit: exit 1, got $RC" [ "$RC" -eq 1 ]
check "exact fit: message" has "$TMP/err" "^evalmix: error: the fixed effects reproduce the response 'y' exactly \(residual SD .*, response SD 1\.87\): no residual variation to model$"
check "exact fit: no file" [ ! -e "$TMP/exact.h5" ]
awk -F, -v OFS=, 'NR > 1 { $1 = $1 * 1e300 } 1' $SLEEP >"$TMP/huge.csv"
run fit "$TMP/huge.csv" --formula 'Reaction ~ Days + (1|Subject)' --out "$TMP/huge.h5"
check "response near 1e300: exit 1, got $RC" [ "$RC" -eq 1 ]
check "response near 1e300: names it" has "$TMP/err" "^evalmix: error: the objective is not finite .*: the response 'Reaction' is at most 4\.66354e\+302 in absolute value; rescale it$"
check "response near 1e300: no file" [ ! -e "$TMP/huge.h5" ]

cli_done
