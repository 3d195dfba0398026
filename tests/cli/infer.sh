#!/usr/bin/env bash
# infer.sh — the inference options of `evalmix fit`: --ddf, --contrast, --anova, --ci,
# --level, --bootstrap/--seed (identical results for any --threads), --robust; their
# HDF5 paths; and their usage errors.  Values are checked against lmerTest/pbkrtest/lme4
# in tests/reference/; here the command line is checked end to end.
#
# Run from the repository root:  bash tests/cli/infer.sh build/evalmix
# shellcheck source=tests/cli/common.bash
source "$(dirname "$0")/common.bash"
cli_init cli_infer "${1:-}"

SLEEP=datasets/sleepstudy.csv
F='Reaction ~ Days + (Days|Subject)'
h5vals() { h5dump -m '%.17g' -d "$2" "$1" 2>/dev/null | sed -n '/DATA {/,/}/p'; }

# ---------------------------------------------------------------- default: Satterthwaite
run fit $SLEEP --formula "$F" --out "$TMP/s.h5"
check "default: exit 0, got $RC" [ "$RC" -eq 0 ]
check "default: lmerTest title" has "$TMP/out" "Satterthwaite's method"
check "default: df column" has "$TMP/out" "Estimate Std. Error +df t value Pr\(>\|t\|\)"
check "default: Days df 17" has "$TMP/out" "^Days +10\.467 +1\.546 +17\.000"
check "default: /fixef/df" h5ok "$TMP/s.h5" /fixef/df
check "default: ddf attribute" has <(h5dump -a /fixef/ddf "$TMP/s.h5") "Satterthwaite"

run fit $SLEEP --formula "$F" --ddf none
check "none: lme4 layout" has "$TMP/out" "Estimate Std. Error t value$"
check "none: no p column" hasnt "$TMP/out" "Pr\(>"

run fit $SLEEP --formula "$F" --ddf kenward-roger --out "$TMP/kr.h5"
check "kr: exit 0, got $RC" [ "$RC" -eq 0 ]
check "kr: title" has "$TMP/out" "Kenward-Roger"
check "kr: adjusted vcov stored" h5ok "$TMP/kr.h5" /fixef/vcov_adj

run fit $SLEEP --formula "$F" --ddf residual
check "residual: df 178" has "$TMP/out" "^Days .* 178\.000"

run fit $SLEEP --formula "$F" --ddf bogus
check "bad ddf: usage error, got $RC" [ "$RC" -eq 2 ]
check "bad ddf: message" has "$TMP/err" "--ddf 'bogus' is not one of"

# ---------------------------------------------------------------- contrasts and F tests
run fit $SLEEP --formula "$F" --contrast 'day5=(Intercept) + 5*Days' --contrast 'slope=Days' \
    --anova --out "$TMP/c.h5"
check "contrast: exit 0, got $RC" [ "$RC" -eq 0 ]
check "contrast: table" has "$TMP/out" "^Contrasts:"
check "contrast: day5 estimate" has "$TMP/out" "^day5 +303\.7"
check "contrast: slope equals Days" has "$TMP/out" "^slope +10\.467 +1\.546 +17\.000"
check "anova: table" has "$TMP/out" "Type III Analysis of Variance Table"
check "anova: Days F" has "$TMP/out" "^Days +1 +17 +45\.85"
check "contrast: /contrasts/estimate" h5ok "$TMP/c.h5" /contrasts/estimate
check "anova: /anova/F" h5ok "$TMP/c.h5" /anova/F
# An intercept-only model has no term to test: lmerTest's bare header, and /anova with
# zero-length datasets (docs/hdf5.md: empty tables are written, not left out).
run fit datasets/Dyestuff.csv --formula 'Yield ~ 1 + (1|Batch)' --anova --out "$TMP/a0.h5"
check "anova, no terms: exit 0, got $RC" [ "$RC" -eq 0 ]
check "anova, no terms: header" has "$TMP/out" "^Type III Analysis of Variance Table with Satterthwaite's method$"
check "anova, no terms: column names" has "$TMP/out" "^     NumDF DenDF F value Pr\(>F\)$"
check "anova, no terms: /anova/term of length 0" has <(h5dump -H -d /anova/term "$TMP/a0.h5") "DATASPACE +SIMPLE \{ \( 0 \)"
run show "$TMP/a0.h5"
check "anova, no terms: show prints the header" has "$TMP/out" "^     NumDF DenDF F value Pr\(>F\)$"

run fit $SLEEP --formula "$F" --contrast 'x=Days + Dayz' --out "$TMP/bad.h5"
check "bad contrast: exit 1, got $RC" [ "$RC" -eq 1 ]
check "bad contrast: names it" has "$TMP/err" "Dayz"
check "bad contrast: caret line" [ "$(sed -n 2p "$TMP/err" | tr -d ' ')" = "^" ]
check "bad contrast: no file" [ ! -e "$TMP/bad.h5" ]
run fit $SLEEP --formula "$F" --contrast 'nameonly'
check "contrast without '=': usage error" [ "$RC" -eq 2 ]

# ---------------------------------------------------------------- intervals
run fit $SLEEP --formula "$F" --ci wald --out "$TMP/w.h5"
check "wald: table" has "$TMP/out" "Confidence intervals \(wald, 95%\)"
check "wald: /ci/lower" h5ok "$TMP/w.h5" /ci/lower
run fit $SLEEP --formula "$F" --ci profile --level 0.9
check "profile: exit 0, got $RC" [ "$RC" -eq 0 ]
check "profile: 90%" has "$TMP/out" "Confidence intervals \(profile, 90%\)"
check "profile: .sig01 row" has "$TMP/out" "^\.sig01 "
run fit $SLEEP --formula "$F" --ci boot
check "boot ci without --bootstrap: usage error" [ "$RC" -eq 2 ]
run fit $SLEEP --formula "$F" --level 1.5
check "bad level: usage error" [ "$RC" -eq 2 ]
run fit $SLEEP --formula "$F" --ci median
check "bad ci: usage error" [ "$RC" -eq 2 ]

# ---------------------------------------------------------------- bootstrap: thread-invariant
run fit $SLEEP --formula "$F" --bootstrap 200 --seed 7 --ci boot --threads 1 --out "$TMP/b1.h5"
check "boot 1 thread: exit 0, got $RC" [ "$RC" -eq 0 ]
check "boot: summary line" has "$TMP/out" "Parametric bootstrap: 200 replicates"
run fit $SLEEP --formula "$F" --bootstrap 200 --seed 7 --ci boot --threads 2 --out "$TMP/b2.h5"
check "boot 2 threads: exit 0, got $RC" [ "$RC" -eq 0 ]
check "boot: identical estimates for 1 and 2 threads" \
    diff <(h5vals "$TMP/b1.h5" /bootstrap/estimates) <(h5vals "$TMP/b2.h5" /bootstrap/estimates)
check "boot: estimates not empty" [ -n "$(h5vals "$TMP/b1.h5" /bootstrap/estimates)" ]
run fit $SLEEP --formula "$F" --bootstrap 200 --seed 8 --threads 1 --out "$TMP/b3.h5"
check "boot: another seed differs" \
    bash -c "! diff -q <(h5dump -d /bootstrap/estimates '$TMP/b1.h5') <(h5dump -d /bootstrap/estimates '$TMP/b3.h5') >/dev/null"

# ---------------------------------------------------------------- cluster-robust
run fit $SLEEP --formula "$F" --robust Subject --out "$TMP/r.h5"
check "robust: exit 0, got $RC" [ "$RC" -eq 0 ]
check "robust: table" has "$TMP/out" "Cluster-robust \(CR2\) standard errors by Subject \(18 clusters\)"
check "robust: /robust/se" h5ok "$TMP/r.h5" /robust/se
run fit $SLEEP --formula "$F" --robust Nope
check "robust unknown column: exit 1, got $RC" [ "$RC" -eq 1 ]
# with prior weights every cluster is eigendecomposed densely: one of 4,050 rows is refused,
# by name, and nothing is written
awk 'BEGIN { print "y,x,g,c,w"; for (i = 1; i <= 4100; i++) {
    c = i <= 4050 ? "big" : "small"; printf "%.4f,%d,%s%d,%s,%d\n", sin(i) + (i % 7) / 3, i % 5, c, i % 10, c, 1 + i % 3 } }' \
    > "$TMP/big.csv"
rm -f "$TMP/big.h5"
run fit "$TMP/big.csv" --formula 'y ~ x + (1|g)' --weights w --robust c --out "$TMP/big.h5"
check "robust, weights, cluster too large: exit 1, got $RC" [ "$RC" -eq 1 ]
check "robust, weights, cluster too large: message" has "$TMP/err" \
    "cluster 'big' of 'c' is too large \(4050 rows, .*with prior weights at most 4000 rows\)"
check "robust, weights, cluster too large: no file" [ ! -e "$TMP/big.h5" ]

cli_done
