#!/usr/bin/env bash
# errors.sh — every bad input gives one error line "evalmix: error: ..." on stderr (plus a
# caret line for formula errors), the documented exit status, nothing on stdout and no
# result file.  Engine messages are matched on their stable parts (file:line:col, names,
# key words) so that rewording them does not break this test; the command line's own
# usage messages are matched exactly.
#
# Run from the repository root:  bash tests/cli/errors.sh build/evalmix
# shellcheck source=tests/cli/common.bash
source "$(dirname "$0")/common.bash"
cli_init cli_errors "${1:-}"
cd "$TMP" || exit 1

# ---------------------------------------------------------------- small inputs
# good.csv fits: three groups of four rows, y rising with x, noise, group shifts.
printf '%s\n' y,x,g,w 3.1,1,a,1 4.9,2,a,2 7.2,3,a,1 8.8,4,a,2 1.2,1,b,1 3.3,2,b,2 \
    4.7,3,b,1 7.1,4,b,2 5.0,1,c,1 7.3,2,c,2 8.6,3,c,1 11.2,4,c,2 >good.csv
sed 's/,2$/,0/' good.csv >zeroweight.csv
printf 'y,x,g\n1.5,1,a\n2.5,2,b\n3.5,3,a,extra\n4.5,4,b\n' >ragged.csv
printf 'y,x,g\n1.5,1,a\n2.5,2,b\n3.5,3,a\n4.5,abc,b\n5.5,5,a\n' >nonnum.csv
printf 'y,x,g\n1.5,1,a\nNaN,2,b\n3.5,3,a\n4.5,4,b\n' >nan.csv
printf 'y,x,g\n1.5,1,a\n2.5,2,a\n3.5,3,a\n4.5,4,a\n' >onelevel.csv
printf 'y,x,g\n5,1,a\n5,2,b\n5,3,a\n5,4,b\n5,5,a\n5,6,b\n' >constant.csv
printf 'y,x,z,g\n1.5,1,7,a\n2.5,2,3,b\n' >fewrows.csv
printf 'not an HDF5 file\n' >notes.h5

OUT=o/fit.h5
FIT="y ~ x + (1|g)"

# expect_error LABEL STATUS REGEX ARGS...: `evalmix ARGS` exits with STATUS, its first
# stderr line matches "^evalmix: error: REGEX" (extended regex), stdout stays empty and
# the folder o/ (where the tests point --out) stays empty.  Sets LINES to the number of
# stderr lines for the caller to check.
expect_error() {
    local label=$1 status=$2 re=$3
    shift 3
    rm -rf o && mkdir o
    run "$@"
    check "$label: exit status $status, got $RC" [ "$RC" -eq "$status" ]
    check "$label: message /$re/" has <(head -n 1 "$TMP/err") "^evalmix: error: $re"
    check "$label: nothing on stdout" [ ! -s "$TMP/out" ]
    check "$label: no file written" [ -z "$(ls -A o)" ]
    LINES=$(wc -l <"$TMP/err")
}

# expect_one_line LABEL ...: as expect_error, and the message is the only stderr line.
expect_one_line() {
    expect_error "$@"
    check "$1: one stderr line, got $LINES" [ "$LINES" -eq 1 ]
}

# expect_caret LABEL TEXT: the second stderr line is blanks and a '^' standing under
# the first byte of TEXT in the first line.
expect_caret() {
    local label=$1 text=$2 l1 l2 col
    l1=$(sed -n 1p "$TMP/err")
    l2=$(sed -n 2p "$TMP/err")
    check "$label: two stderr lines, got $LINES" [ "$LINES" -eq 2 ]
    check "$label: caret line is blanks and '^'" has <(printf '%s\n' "$l2") '^ *\^$'
    col=$((${#l2} - 1))
    check "$label: caret under '$text' (col $col: '${l1:col:${#text}}')" \
        [ "${l1:col:${#text}}" = "$text" ]
}

# ---------------------------------------------------------------- usage errors: exit 2
expect_one_line "unknown option" 2 \
    "fit: unknown option '--bogus' \(see 'evalmix fit --help'\)$" \
    fit good.csv --formula "$FIT" --out $OUT --bogus
expect_one_line "unknown option with value" 2 "fit: unknown option '--bogus' " \
    fit good.csv --formula "$FIT" --out $OUT --bogus=1
expect_one_line "missing --formula" 2 \
    "fit: missing required option '--formula' \(see 'evalmix fit --help'\)$" \
    fit good.csv --out $OUT
expect_one_line "missing FILE" 2 \
    "fit: missing input file FILE.csv \(see 'evalmix fit --help'\)$" \
    fit --formula "$FIT" --out $OUT
expect_one_line "missing value" 2 "fit: option '--formula' needs a value " \
    fit good.csv --out $OUT --formula
expect_one_line "option as value" 2 "fit: option '--weights' needs a value " \
    fit good.csv --formula "$FIT" --out $OUT --weights --ml
expect_one_line "bad --threads" 2 "fit: --threads 'two' is not a positive whole number " \
    fit good.csv --formula "$FIT" --out $OUT --threads two
expect_one_line "zero --threads" 2 "fit: --threads '0' is not a positive whole number " \
    fit good.csv --formula "$FIT" --out $OUT --threads 0
expect_one_line "bad --max-eval" 2 "fit: --max-eval '-5' is not a positive whole number " \
    fit good.csv --formula "$FIT" --out $OUT --max-eval=-5
expect_one_line "--ref without =" 2 "fit: --ref 'g' is not VAR=LEVEL \(see 'evalmix fit --help'\)$" \
    fit good.csv --formula "$FIT" --out $OUT --ref g
expect_one_line "--ref twice" 2 "fit: --ref given twice for 'g' " \
    fit good.csv --formula "$FIT" --out $OUT --ref g=g1,g=g2
expect_one_line "--ml and --reml" 2 "fit: options '--ml' and '--reml' exclude each other " \
    fit good.csv --formula "$FIT" --out $OUT --ml --reml
expect_one_line "option twice" 2 "fit: option '--out' given more than once " \
    fit good.csv --formula "$FIT" --out $OUT --out o/other.h5
expect_one_line "flag with value" 2 "fit: option '--quiet' takes no value " \
    fit good.csv --formula "$FIT" --out $OUT --quiet=yes
expect_one_line "two input files" 2 "fit: unexpected argument 'good2.csv' " \
    fit good.csv good2.csv --formula "$FIT" --out $OUT
expect_one_line "unknown command" 2 "unknown command 'fti' \(see 'evalmix --help'\)$" \
    fti good.csv --formula "$FIT" --out $OUT
expect_one_line "no command" 2 "missing command \(see 'evalmix --help'\)$"
expect_one_line "show: missing FILE" 2 \
    "show: missing result file FILE.h5 \(see 'evalmix show --help'\)$" show
expect_one_line "show: unknown option" 2 "show: unknown option '--all' " show x.h5 --all

# ---------------------------------------------------------------- input errors: exit 1
expect_one_line "missing file" 1 "nope\.csv: cannot open" \
    fit nope.csv --formula "$FIT" --out $OUT
expect_one_line "ragged row" 1 "ragged\.csv:4:4: .*4 fields" \
    fit ragged.csv --formula "$FIT" --out $OUT
expect_one_line "non-numeric value" 1 "nonnum\.csv:5:2: .*'x'.*'abc'" \
    fit nonnum.csv --formula "$FIT" --out $OUT
expect_one_line "NaN value" 1 "nan\.csv:3:1: .*'y'.*'NaN'" \
    fit nan.csv --formula "$FIT" --out $OUT
expect_one_line "one-level grouping factor" 1 "grouping factor 'g' has only 1 level" \
    fit onelevel.csv --formula "$FIT" --out $OUT
expect_one_line "constant response" 1 "response 'y' is constant" \
    fit constant.csv --formula "$FIT" --out $OUT
expect_one_line "fewer rows than parameters" 1 "fewer rows \(2\) than" \
    fit fewrows.csv --formula "y ~ x + z + (1|g)" --out $OUT
expect_one_line "unknown weights column" 1 "--weights: unknown column 'wt'" \
    fit good.csv --formula "$FIT" --weights wt --out $OUT
expect_one_line "unknown --robust column" 1 "cluster-robust SEs: cluster variable: unknown column 'nosuch' \\(columns: " \
    fit good.csv --formula "$FIT" --robust nosuch --out $OUT
expect_one_line "unknown --ref level" 1 "--ref g=g9: .*'g9'" \
    fit good.csv --formula "$FIT" --ref g=g9 --out $OUT
expect_one_line "zero weight" 1 "--weights: column 'w' must be positive" \
    fit zeroweight.csv --formula "$FIT" --weights w --out $OUT
expect_one_line "--ref of a numeric variable" 1 "--ref x=1: 'x' is numeric" \
    fit good.csv --formula "$FIT" --ref x=1 --out $OUT
expect_error "factor response" 1 "--formula: .*'g'.*: g ~ x \+ \(1\|g\)$" \
    fit good.csv --formula "g ~ x + (1|g)" --out $OUT
expect_caret "factor response" "g ~"
expect_one_line "--out into a missing folder" 1 \
    "nodir/fit\.h5: cannot write the result file: folder 'nodir': No such file or directory$" \
    fit good.csv --formula "$FIT" --out nodir/fit.h5
check "--out into a missing folder: folder not created" [ ! -e nodir ]
expect_one_line "--out is the input" 1 "good\.csv: cannot write the result file: it is the input file$" \
    fit good.csv --formula "$FIT" --out good.csv
check "--out is the input: input intact" [ "$(head -n 1 good.csv)" = "y,x,g,w" ]
mkdir -p adir
expect_one_line "--out is a folder" 1 "adir: cannot write the result file: it is a folder$" \
    fit good.csv --formula "$FIT" --out adir
expect_one_line "--out is a device" 1 "/dev/null: cannot write the result file: not a regular file$" \
    fit good.csv --formula "$FIT" --out /dev/null
check "--out is a device: still a device" [ -c /dev/null ]
expect_one_line "show: missing file" 1 "nope\.h5: cannot open" show nope.h5
expect_one_line "show: not a result file" 1 "notes\.h5: not an evalmix result file" show notes.h5

# Data that are not CSV text, or CSV that is not what it seems.
printf '%s\n' y,x,g,t 3.1,1,a,1 4.9,2,a,0 7.2,3,a,1 8.8,4,a,0 1.2,1,b,1 3.3,2,b,0 \
    4.7,3,b,1 7.1,4,b,0 5.0,1,c,1 7.3,2,c,0 8.6,3,c,1 11.2,4,c,0 >treat.csv
"$EVM" fit good.csv --formula "$FIT" --ml --out res.h5 --quiet
"$EVM" fit good.csv --formula "y ~ 1 + (1|g)" --ml --out res0.h5 --quiet
"$EVM" compare res.h5 res0.h5 --out cmp.h5 >/dev/null
"$EVM" match treat.csv --treatment t --covariates x --report rep.h5 >/dev/null
check "result files for the cases below" [ -s res.h5 ] && [ -s cmp.h5 ] && [ -s rep.h5 ]
expect_one_line "fit: an HDF5 file as data" 1 "res\.h5: not a CSV text file \(an HDF5 file\?\)$" \
    fit res.h5 --formula "$FIT" --out $OUT
expect_one_line "effects: an HDF5 file as data" 1 "res\.h5: not a CSV text file \(an HDF5 file\?\)$" \
    effects res.h5 --formula "y ~ t + (1|g)" --treatment t --out $OUT
expect_one_line "match: an HDF5 file as data" 1 "res\.h5: not a CSV text file \(an HDF5 file\?\)$" \
    match res.h5 --treatment t --covariates x --report $OUT
printf 'y,x,g\r1,1,a\r2,2,b\r' >cr.csv
expect_one_line "CR-only line ends" 1 \
    "cr\.csv:1: line ends are CR only \(classic Mac\); convert them to LF or CRLF$" \
    fit cr.csv --formula "$FIT" --out $OUT
printf 'y,x,g\n1.5,1,a\n2\0,2,b\n3.5,3,a\n4.5,4,b\n' >nul.csv
expect_one_line "NUL byte in a field" 1 "nul\.csv:3:1: NUL byte in the field" \
    fit nul.csv --formula "$FIT" --out $OUT
printf 'y,x,g\n1,abc,a\n2,2,b\n3,3,a\n4,4,b\n5,5,a\n' >firstrow.csv
expect_one_line "text in the first data row" 1 \
    "firstrow\.csv:2:2: column 'x' mixes numbers and text: 'abc' \(first number at line 3" \
    fit firstrow.csv --formula "$FIT" --out $OUT
sed '2s/,1$/,heavy/' good.csv >textweight.csv
expect_one_line "text weight in the first data row" 1 \
    "textweight\.csv:2:4: column 'w' mixes numbers and text: 'heavy' \(first number at line 3" \
    fit textweight.csv --formula "$FIT" --weights w --out $OUT
printf 'y,x,g,t\n' >header.csv
expect_one_line "fit: header only" 1 "header\.csv: no data rows \(only a header\)$" \
    fit header.csv --formula "$FIT" --out $OUT
expect_one_line "effects: header only" 1 "header\.csv: no data rows \(only a header\)$" \
    effects header.csv --formula "y ~ t + (1|g)" --treatment t --out $OUT
expect_one_line "match: header only" 1 "header\.csv: no data rows \(only a header\)$" \
    match header.csv --treatment t --covariates x --report $OUT

# Result files of another kind, and damaged ones: one line, exit 1, never a crash or a
# hang (HDF5 itself follows damaged pointers unless the reader checks first).
expect_one_line "show: a match report" 1 "rep\.h5: a match report .*not a model fit" show rep.h5
expect_one_line "show: a comparison" 1 "cmp\.h5: a model comparison .*not a model fit" show cmp.h5
expect_one_line "compare: a match report" 1 "rep\.h5: a match report .*not a model fit" \
    compare res.h5 rep.h5
# damage_at FILE OFFSET BYTES OUT: a copy of FILE with BYTES (printf escapes) at OFFSET
damage_at() { cp "$1" "$4" && printf "$3" | dd of="$4" bs=1 seek="$2" conv=notrunc status=none; }
gcol=$(grep -obUa GCOL res.h5 | head -n 1 | cut -d: -f1)
damage_at res.h5 $((gcol + 24)) '\377\377\377\377\377\377' heap.h5
expect_one_line "show: damaged string storage" 1 \
    "heap\.h5: not a valid evalmix result file \(damaged string storage at byte $gcol\)$" show heap.h5
ohdr=$(grep -obUa OHDR res.h5 | sed -n 3p | cut -d: -f1)
damage_at res.h5 $((ohdr + 21)) '\132' meta.h5
expect_one_line "show: damaged metadata" 1 "meta\.h5: not a valid evalmix result file \(" show meta.h5
# one byte changed at 40 places across the file: exit 0 or 1, one stderr line on failure
size=$(wc -c <res.h5)
bad=0
for k in $(seq 0 39); do
    damage_at res.h5 $((k * size / 40 + 7)) '\055' flip.h5
    timeout 10 "$EVM" show flip.h5 >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ $rc -gt 1 ] || { [ $rc -eq 1 ] && [ "$(wc -l <"$TMP/err")" -ne 1 ]; }; then
        bad=$((bad + 1))
        echo "  flip at $((k * size / 40 + 7)): exit $rc, $(wc -l <"$TMP/err") stderr lines"
    fi
done
check "show: 40 damaged copies, no crash, hang or multi-line error ($bad bad)" [ $bad -eq 0 ]

# Formula errors: the caret stands under the offending part of the formula.
expect_error "unknown column" 1 "--formula: unknown column 'Nope'.*: y ~ x \+ Nope \+ \(1\|g\)$" \
    fit good.csv --formula "y ~ x + Nope + (1|g)" --out $OUT
expect_caret "unknown column" "Nope"
expect_error "unknown grouping column" 1 "--formula: unknown column 'School'" \
    fit good.csv --formula "y ~ x + (1|School)" --out $OUT
expect_caret "unknown grouping column" "School"
expect_error "formula syntax" 1 "--formula: .*: y ~ x \+ \(1\|g$" \
    fit good.csv --formula "y ~ x + (1|g" --out $OUT
check "formula syntax: two stderr lines, got $LINES" [ "$LINES" -eq 2 ]
expect_error "formula syntax: operator" 1 "--formula: .*'\*'.*: y ~ x \+ \* g$" \
    fit good.csv --formula "y ~ x + * g" --out $OUT
expect_caret "formula syntax: operator" "*"

# The good file does fit: the errors above come from what was changed.
rm -rf o && mkdir o
run fit good.csv --formula "$FIT" --out $OUT --quiet
check "control: good.csv fits (status $RC)" [ "$RC" -eq 0 ]
check "control: file written" [ -s $OUT ]

cli_done
