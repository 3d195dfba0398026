#!/usr/bin/env bash
# effects.sh — `evalmix effects` end to end on tests/data/effects_sites.csv (30 schools,
# treatment by classroom, schools S29 and S30 with 6 comparison students): the stdout
# table, privacy flagging (--min-cell) in every printed output, the result file's /effects
# sections, CSV and Markdown tables, the SVG plot, a model without a random slope, and the
# errors and usage errors.
#
# Run from the repository root:  bash tests/cli/effects.sh build/evalmix
# shellcheck source=tests/cli/common.bash
source "$(dirname "$0")/common.bash"
cli_init cli_effects "${1:-}"

D=tests/data/effects_sites.csv
F='score ~ prior + frl + treat*factor(cohort) + treat*black + (1 + treat|school) + (1|school:classroom)'
[ -f $D ] || { echo "cli_effects: $D missing (run from the repository root)"; exit 1; }
command -v h5dump >/dev/null || { echo "cli_effects: h5dump not found (apt-get install hdf5-tools)"; exit 1; }

# ---------------------------------------------------------------- help
run effects --help
check "--help: exit 0" [ "$RC" -eq 0 ]
check "--help: usage" has "$TMP/out" "^Usage: evalmix effects FILE.csv"
check "--help: --min-cell" has "$TMP/out" "--min-cell N"
run --help
check "evalmix --help lists effects" has "$TMP/out" "^  effects "

# ---------------------------------------------------------------- full run
mkdir "$TMP/res"
run effects $D --formula "$F" --treatment treat --by cohort --subgroup black \
    --out "$TMP/res/e.h5" --table "$TMP/res/e.csv" --plot "$TMP/res/e.svg"
cp "$TMP/out" "$TMP/run.txt"
check "run: exit 0, got $RC" [ "$RC" -eq 0 ]
check "run: no warnings" [ ! -s "$TMP/err" ]
check "run: overall row" has "$TMP/run.txt" "^overall +3\.138 +0\.420 +26\.1"
check "run: cohort rows" has "$TMP/run.txt" "^cohort = 2 +3\.433"
check "run: cohort difference" has "$TMP/run.txt" "^cohort: 2 - 1 +0\.589"
check "run: subgroup difference" has "$TMP/run.txt" "^black: 1 - 0 +0\.822"
check "run: 2 schools not shown" has "$TMP/run.txt" "30, 2 not shown \(fewer than 10 students"
check "run: S01 shown" has "$TMP/run.txt" "^S01 "
check "run: S29 not shown" hasnt "$TMP/run.txt" "S29"
check "run: S30 not shown" hasnt "$TMP/run.txt" "S30"
check "run: heterogeneity line" has "$TMP/run.txt" "SD of school effects \(treat \| school\): 1\.03"
check "run: only the three outputs" [ "$(ls "$TMP/res" | tr '\n' ' ')" = "e.csv e.h5 e.svg " ]

# effect sizes: the SDs, the overall row (model-based ES and CI, comparison-SD ES, Hedges'
# g and CI, improvement index), the ICCs with profile intervals
check "run: effect sizes" has "$TMP/run.txt" "^Effect sizes: effect / SD; g = omega x effect / pooled SD \(omega 0\.9998, N = 3013\)"
check "run: SDs" has "$TMP/run.txt" "^SD model 8\.503 \(residual \+ school:classroom \+ school\), comparison 10\.575 \(n = 1375\), pooled 10\.511$"
check "run: overall effect sizes" has "$TMP/run.txt" "^overall +0\.369 +\[ 0\.268, +0\.471\] +0\.297 +0\.298 +\[ 0\.216, +0\.381\] +11\.7$"
check "run: difference without improvement index" has "$TMP/run.txt" "^cohort: 2 - 1 +0\.069 .* NA$"
check "run: ICCs" has "$TMP/run.txt" "^ICC of the random intercepts \(95% CI from the profile of the SD\): school:classroom 0\.025 \[0\.008, 0\.047\]; school 0\.096 \[0\.045, 0\.161\]$"
check "run: school ES" has "$TMP/run.txt" "^S01 .* 0\.394 +5\.642"

# show: the fit's summary, then the effects table exactly as effects printed it
run show "$TMP/res/e.h5"
check "show: exit 0, got $RC" [ "$RC" -eq 0 ]
check "show: fit summary first" has "$TMP/out" "^Linear mixed model fit by REML"
tail -n "$(wc -l <"$TMP/run.txt")" "$TMP/out" >"$TMP/show_tail.txt"
check "show: effects as printed by effects" cmp -s "$TMP/show_tail.txt" "$TMP/run.txt"

# CSV: contrasts, schools without the flagged ones, SDs, variance components (blank lines between)
check "csv: contrast header" has "$TMP/res/e.csv" "^contrast,variable,level,estimate,se,df,t,p,p_adjusted,lower,upper,es_model,es_model_lower,es_model_upper,ii_model,es_comparison,es_comparison_lower,es_comparison_upper,ii_comparison,g,g_lower,g_upper,ii_g$"
check "csv: 7 contrasts + 28 schools + 3 SDs + 3 components + 4 headers + 3 blanks" nlines "$TMP/res/e.csv" 48
check "csv: school ES columns" has "$TMP/res/e.csv" "^school,.*,shrinkage,es_model,es_model_lower,es_model_upper,ii_model,"
check "csv: pooled SD" has "$TMP/res/e.csv" "^pooled \(g\),10\.51086399,3013,0\.9997508926$"
# the school variance lies in a flat direction of the objective: it is determined to ~1e-4
# relative (lme4 agreement is tested to 1e-3 in tests/reference), so 4 digits are pinned
check "csv: ICC" has "$TMP/res/e.csv" "^school,6\.90[78].*,0\.0955[34].*,0\.04486.*,0\.16115"
check "csv: residual" has "$TMP/res/e.csv" "^Residual,63\.5778.*,NA,NA,NA$"
check "csv: S29 left out" hasnt "$TMP/res/e.csv" "S29"
check "csv: school row" has "$TMP/res/e.csv" "^S02,2,52,31,"
# SVG: schools shown, flagged ones absent
check "svg: an svg" has "$TMP/res/e.svg" "<svg"
check "svg: S01" has "$TMP/res/e.svg" ">S01<"
check "svg: S30 left out" hasnt "$TMP/res/e.svg" ">S30<"

# HDF5: the fit and /effects (every school, with the privacy flag)
H5=$TMP/res/e.h5
for p in /fixef/estimate /effects/contrasts/estimate /effects/contrasts/L /effects/contrasts/label \
         /effects/schools/id /effects/schools/pred_se /effects/schools/np_se /effects/schools/suppressed; do
    check "h5: $p" h5dump -d $p "$H5" >/dev/null 2>&1
done
h5dump -d /effects/schools/suppressed "$H5" >"$TMP/supp.txt" 2>&1
check "h5: S29, S30 flagged" has "$TMP/supp.txt" "0, 0, 0, 0, 1, 1"
h5dump -a /effects/schools/n_suppressed "$H5" >"$TMP/ns.txt" 2>&1
check "h5: n_suppressed 2" has "$TMP/ns.txt" "\(0\): 2"
h5dump -a /effects/treatment "$H5" >"$TMP/tr.txt" 2>&1
check "h5: treatment attribute" has "$TMP/tr.txt" '"treat"'
for p in /effects/contrasts/es_model /effects/contrasts/es_model_se /effects/contrasts/es_comparison_upper \
         /effects/contrasts/g /effects/contrasts/ii_g /effects/contrasts/es_ref /effects/schools/es_model \
         /effects/schools/g_lower /effects/icc/group /effects/icc/icc /effects/icc/lower; do
    check "h5: $p" h5dump -d $p "$H5" >/dev/null 2>&1
done
h5dump -a /effects/sd_model "$H5" >"$TMP/sd.txt" 2>&1
check "h5: sd_model attribute" has "$TMP/sd.txt" "\(0\): 8\.503"
h5dump -a /effects/icc/ci "$H5" >"$TMP/ci.txt" 2>&1
check "h5: ICC interval by profile" has "$TMP/ci.txt" '"profile"'

# --min-cell 0 shows every school; Markdown table; --adjust none
run effects $D --formula "$F" --treatment treat --by cohort --min-cell 0 --adjust none \
    --no-profile --table "$TMP/res/t.md"
check "min-cell 0: exit 0" [ "$RC" -eq 0 ]
check "min-cell 0: S30 shown" has "$TMP/out" "^S30 "
check "md: table" has "$TMP/res/t.md" "^\| contrast \| variable \| level \|"
check "md: S30 row" has "$TMP/res/t.md" "^\| S30 \| 2 \|"
check "md: effect sizes" has "$TMP/res/t.md" "^\| contrast \| .* \| upper \| es_model \| es_comparison \| g \| ii_g \|$"
check "md: no profile, no ICC interval" has "$TMP/res/t.md" "^\| school \| 6\.908 \| 0\.0955[34] \|  \|  \|$"
check "adjust none: p.adj = p" has "$TMP/out" "^cohort: 2 - 1 .* 0\.4765 +0\.4765"

# A model without a random slope: contrasts only, with a warning
run effects $D --formula 'score ~ prior + treat*factor(cohort) + (1|school)' --treatment treat --by cohort
check "no slope: exit 0" [ "$RC" -eq 0 ]
check "no slope: warning" has "$TMP/err" "no random slope of 'treat'"
check "no slope: contrasts" has "$TMP/out" "^cohort = 1 "
check "no slope: no school table" hasnt "$TMP/out" "^Schools"

# ---------------------------------------------------------------- errors: nothing written
run effects $D --formula "$F" --treatment prior --out "$TMP/res/bad.h5"
check "treatment not 0/1: exit 1" [ "$RC" -eq 1 ]
check "treatment not 0/1: message" has "$TMP/err" "^evalmix: error: --treatment 'prior': value .* is not 0"
check "treatment not 0/1: nothing written" [ ! -e "$TMP/res/bad.h5" ]
# No treated student at all: an error, not a table of NA
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "treat") t = i } NR > 1 { $t = 0 } 1' \
    $D > "$TMP/allc.csv"
run effects "$TMP/allc.csv" --formula "$F" --treatment treat --out "$TMP/res/bad.h5"
check "no treated: exit 1" [ "$RC" -eq 1 ]
check "no treated: message" has "$TMP/err" "^evalmix: error: --treatment 'treat' is 0 in all [0-9]* rows used: no treated students$"
check "no treated: nothing written" [ ! -e "$TMP/res/bad.h5" ]
# No treated student in cohort 2: that cohort's effect is NA, with a warning saying why
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "treat") t = i; if ($i == "cohort") k = i } }
    NR > 1 && $k == 2 { $t = 0 } 1' $D > "$TMP/c2.csv"
run effects "$TMP/c2.csv" --formula 'score ~ prior + treat*factor(cohort) + (1|school)' --treatment treat --by cohort
check "cohort without treated: exit 0" [ "$RC" -eq 0 ]
check "cohort without treated: NA row" has "$TMP/out" "^cohort = 2 +NA "
check "cohort without treated: warning" has "$TMP/err" "effect of 'treat' at cohort = 2 is not estimable"
run effects $D --formula 'score ~ prior + (1|school)' --treatment treat
check "treatment not in model: exit 1" [ "$RC" -eq 1 ]
check "treatment not in model: message" has "$TMP/err" "--treatment 'treat' is not a variable of the fixed part"
run effects $D --formula "$F" --treatment treat --by grade --out "$TMP/res/bad.h5"
check "unknown --by: exit 1" [ "$RC" -eq 1 ]
check "unknown --by: message" has "$TMP/err" "grade"
check "unknown --by: nothing written" [ ! -e "$TMP/res/bad.h5" ]
# --sd-ref: a column more in the table
run effects $D --formula "$F" --treatment treat --no-profile --sd-ref 10 --quiet --table "$TMP/res/r.csv"
check "sd-ref: exit 0" [ "$RC" -eq 0 ]
check "sd-ref: columns" has "$TMP/res/r.csv" "^contrast,.*,ii_g,es_ref,es_ref_lower,es_ref_upper,ii_ref$"
check "sd-ref: overall" has "$TMP/res/r.csv" "^overall,,,3\.138.*,0\.3138.*,0\.2275.*,0\.4000.*,12\.3166.*$"
check "sd-ref: SD row" has "$TMP/res/r.csv" "^reference,10,NA,1$"
rm -f "$TMP/res/r.csv"

# all outputs or none: a --plot that cannot be written leaves no --out and no --table
# (and no temporary file)
mkdir "$TMP/set"
run effects $D --formula "$F" --treatment treat --no-profile --out "$TMP/set/e.h5" \
    --table "$TMP/set/e.csv" --plot "$TMP/nofolder/x.svg"
check "plot in a missing folder: exit 1" [ "$RC" -eq 1 ]
check "plot in a missing folder: message" has "$TMP/err" "^evalmix: error: $TMP/nofolder/x\.svg: cannot write"
check "plot in a missing folder: nothing written" [ -z "$(ls -A "$TMP/set")" ]
run effects $D --formula "$F" --treatment treat --no-profile --out "$TMP/nofolder/e.h5" \
    --table "$TMP/set/e.csv" --plot "$TMP/set/e.svg"
check "out in a missing folder: exit 1" [ "$RC" -eq 1 ]
check "out in a missing folder: message names the file" has "$TMP/err" "^evalmix: error: $TMP/nofolder/e\.h5: "
check "out in a missing folder: nothing written" [ -z "$(ls -A "$TMP/set")" ]
run effects $D --formula 'score ~ prior + treat + (1|school)' --treatment treat --no-profile \
    --out "$TMP/set/e.h5" --table "$TMP/set/e.csv" --plot "$TMP/set/e.svg"
check "plot without a slope: exit 1" [ "$RC" -eq 1 ]
check "plot without a slope: nothing written" [ -z "$(ls -A "$TMP/set")" ]
run effects $D --formula "$F" --treatment treat --no-profile --out "$TMP/set/e.h5" --table "$TMP/set/e.h5"
check "one file for two outputs: usage error, exit 2" [ "$RC" -eq 2 ]
check "one file for two outputs: message" has "$TMP/err" "--out and --table name the same file"
check "one file for two outputs: nothing written" [ -z "$(ls -A "$TMP/set")" ]

# ---------------------------------------------------------------- usage errors
run effects $D --formula "$F"
check "no --treatment: exit 2" [ "$RC" -eq 2 ]
check "no --treatment: message" has "$TMP/err" "missing required option '--treatment'"
run effects --formula "$F" --treatment treat
check "no file: exit 2" [ "$RC" -eq 2 ]
run effects $D --formula "$F" --treatment treat --adjust bonferroni
check "bad --adjust: exit 2" [ "$RC" -eq 2 ]
check "bad --adjust: message" has "$TMP/err" "--adjust 'bonferroni'"
run effects $D --formula "$F" --treatment treat --min-cell ten
check "bad --min-cell: exit 2" [ "$RC" -eq 2 ]
run effects $D --formula "$F" --treatment treat --level 95
check "bad --level: exit 2" [ "$RC" -eq 2 ]
run effects $D --formula "$F" --treatment treat --ml --reml
check "--ml --reml: exit 2" [ "$RC" -eq 2 ]
run effects $D --formula "$F" --treatment treat --bogus
check "unknown option: exit 2" [ "$RC" -eq 2 ]

# ---------------------------------------------------------------- --ddf kenward-roger
# On the bundled example, as emmeans 1.8 with emm_options(lmer.df = "kenward-roger"):
#   contrast(emmeans(m, ~ treat | cohort, at = list(treat = c(0, 1))), "revpairwise")
#   cohort 1: 0.2458057 SE 0.10371804 df 22.65;  cohort 2: 0.3786929 SE 0.10477348 df 23.31
EX=datasets/evaluation_example.csv
EXF='score ~ prior + frl + ell + black + treat*factor(cohort) + (1 + treat|school) + (1|school:classroom)'
run effects $EX --formula "$EXF" --treatment treat --by cohort --ddf kenward-roger --no-profile
check "kr: exit 0, got $RC" [ "$RC" -eq 0 ]
check "kr: method named" has "$TMP/out" "Kenward-Roger df"
check "kr: cohort 1 as emmeans" has "$TMP/out" "^cohort = 1 +0\.246 +0\.104 +22\.[67] "
check "kr: cohort 2 as emmeans" has "$TMP/out" "^cohort = 2 +0\.379 +0\.105 +23\.3 "
run effects $EX --formula "$EXF" --treatment treat --ddf residual --no-profile
check "residual ddf: exit 0, got $RC" [ "$RC" -eq 0 ]
run effects $EX --formula "$EXF" --treatment treat --ddf wrong
check "bad ddf: usage error, got $RC" [ "$RC" -eq 2 ]

cli_done
