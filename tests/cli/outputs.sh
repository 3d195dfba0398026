#!/usr/bin/env bash
# outputs.sh — the output files of every command (docs/cli.md, "Output files"): checked
# before anything is read or written, by one function for all commands; never the input,
# however spelled; never a folder, device or FIFO; two options naming one file, however
# spelled, are a usage error; simulate checks --truth and --params before it writes --out;
# a run stopped by SIGINT, SIGTERM or SIGHUP leaves no temporary file.  Also the shared
# --seed and --threads parsers, the seed a bootstrap fit records, --help=VALUE,
# `--version extra` and the documented exit statuses.
#
# Every refused run must leave the work folder exactly as it was: same names, types,
# sizes and checksums, no temporary file.
#
# Run from the repository root:  bash tests/cli/outputs.sh build/evalmix
# shellcheck source=tests/cli/common.bash
source "$(dirname "$0")/common.bash"
cli_init cli_outputs "${1:-}"

ROOT=$PWD
EV=$ROOT/datasets/evaluation_example.csv
SLEEP=$ROOT/datasets/sleepstudy.csv
if [ ! -f cli/cmd_fit.c ] || [ ! -f "$EV" ] || [ ! -f "$SLEEP" ]; then
    echo "cli_outputs: run from the repository root"
    exit 1
fi
EF='score ~ prior + treat + (1 + treat|school)'
SF='Reaction ~ Days + (1|Subject)'

# ---------------------------------------------------------------- the work folder
mkdir "$TMP/w" && cd "$TMP/w" || exit 1
cp "$EV" in.csv
ln -s in.csv link.csv            # the input under another name
ln -s . here                     # the work folder under another name
mkdir adir
mkfifo fifo                      # not a regular file: renaming over it would replace it
echo OLD >old.csv
echo OLD >old.h5
run fit "$SLEEP" --formula "$SF" --ml --quiet --out a.h5
check "setup: a.h5, exit 0, got $RC" [ "$RC" -eq 0 ]
run fit "$SLEEP" --formula 'Reaction ~ Days + (Days|Subject)' --ml --quiet --out b.h5
check "setup: b.h5, exit 0, got $RC" [ "$RC" -eq 0 ]
# a device node of our own, where we may make one (never a real /dev file)
DEV=
if mknod dev c 1 3 2>"$TMP/mknod.err"; then DEV=dev; fi

# Names, types, sizes and checksums of everything in the work folder (a FIFO or a device
# is listed, never read).
snapshot() {
    find . -mindepth 1 -printf '%p %y %s\n' | sort
    find . -type f -exec cksum {} + | sort -k3
}

# refuse LABEL STATUS REGEX ARGS...: `evalmix ARGS` exits with STATUS, its only stderr
# line matches "^evalmix: error: REGEX" (extended regex), stdout stays empty and the work
# folder is exactly as it was.
refuse() {
    local label=$1 status=$2 re=$3 before
    shift 3
    before=$(snapshot)
    run "$@"
    check "$label: exit status $status, got $RC" [ "$RC" -eq "$status" ]
    check "$label: message /$re/" has <(head -n 1 "$TMP/err") "^evalmix: error: $re"
    check "$label: one stderr line, got $(wc -l <"$TMP/err")" nlines "$TMP/err" 1
    check "$label: nothing on stdout" [ ! -s "$TMP/out" ]
    check "$label: no file created, changed or removed" [ "$(snapshot)" = "$before" ]
}

# ---------------------------------------------------------------- 1. never the input
E=(effects in.csv --formula "$EF" --treatment treat --no-profile --quiet)
refuse "effects --out the input" 1 "in\.csv: cannot write the result file: it is the input file$" \
    "${E[@]}" --out in.csv
refuse "effects --table the input" 1 "in\.csv: cannot write the table: it is the input file$" \
    "${E[@]}" --table in.csv
refuse "effects --plot the input" 1 "in\.csv: cannot write the plot: it is the input file$" \
    "${E[@]}" --plot in.csv
refuse "effects --out ./the input" 1 "\./in\.csv: cannot write the result file: it is the input file$" \
    "${E[@]}" --out ./in.csv
refuse "effects --out the input by its full path" 1 "$TMP/w/in\.csv: cannot write the result file: it is the input file$" \
    "${E[@]}" --out "$TMP/w/in.csv"
refuse "effects --table a link to the input" 1 "link\.csv: cannot write the table: it is the input file$" \
    "${E[@]}" --table link.csv
refuse "fit --out ./the input" 1 "\./in\.csv: cannot write the result file: it is the input file$" \
    fit in.csv --formula "$EF" --out ./in.csv
refuse "match --report here/the input" 1 "--report here/in\.csv: cannot write: it is the input file$" \
    match in.csv --treatment treat --covariates prior --report here/in.csv

# ---------------------------------------------------------------- 2. never a device or FIFO
refuse "effects --out a FIFO" 1 "fifo: cannot write the result file: not a regular file$" \
    "${E[@]}" --out fifo
refuse "effects --table a FIFO" 1 "fifo: cannot write the table: not a regular file$" \
    "${E[@]}" --table fifo
refuse "effects --plot a FIFO" 1 "fifo: cannot write the plot: not a regular file$" \
    "${E[@]}" --plot fifo
refuse "compare --out a FIFO" 1 "fifo: cannot write the comparison table: not a regular file$" \
    compare a.h5 b.h5 --out fifo
refuse "fit --out a FIFO" 1 "fifo: cannot write the result file: not a regular file$" \
    fit in.csv --formula "$EF" --out fifo
refuse "match --plot a FIFO" 1 "--plot fifo: cannot write: not a regular file$" \
    match in.csv --treatment treat --covariates prior --plot fifo
refuse "effects --out a folder" 1 "adir: cannot write the result file: it is a folder$" \
    "${E[@]}" --out adir
refuse "compare --out a folder" 1 "adir: cannot write the comparison table: it is a folder$" \
    compare a.h5 b.h5 --out adir
refuse "compare --out in a missing folder" 1 "nowhere/c\.h5: cannot write the comparison table: folder 'nowhere': No such file or directory$" \
    compare a.h5 b.h5 --out nowhere/c.h5
check "FIFO: still a FIFO" [ -p fifo ]
if [ -n "$DEV" ]; then
    refuse "effects --out a device" 1 "dev: cannot write the result file: not a regular file$" \
        "${E[@]}" --out dev
    refuse "compare --out a device" 1 "dev: cannot write the comparison table: not a regular file$" \
        compare a.h5 b.h5 --out dev
    check "device: still a device" [ -c dev ]
fi

# ---------------------------------------------------------------- 3. one file, two names
refuse "effects --out x.h5 --plot ./x.h5" 2 \
    "effects: --out and --plot name the same file 'x\.h5' \(see 'evalmix effects --help'\)$" \
    "${E[@]}" --out x.h5 --plot ./x.h5
refuse "effects --out e.h5 --table ./e.h5" 2 "effects: --out and --table name the same file 'e\.h5' " \
    "${E[@]}" --out e.h5 --table ./e.h5
refuse "effects --table e.csv --plot here/e.csv" 2 "effects: --table and --plot name the same file 'e\.csv' " \
    "${E[@]}" --table e.csv --plot here/e.csv
refuse "effects: an existing file twice" 2 "effects: --out and --table name the same file 'old\.h5' " \
    "${E[@]}" --out old.h5 --table "$TMP/w/old.h5"
refuse "match --out m.csv --report ./m.csv" 2 "match: --out and --report name the same file 'm\.csv' " \
    match in.csv --treatment treat --covariates prior --out m.csv --report ./m.csv
refuse "match --report r.h5 --plot adir/../r.h5" 2 "match: --report and --plot name the same file 'r\.h5' " \
    match in.csv --treatment treat --covariates prior --report r.h5 --plot adir/../r.h5
refuse "simulate --out s.csv --truth ./s.csv" 2 "simulate: --out and --truth name the same file 's\.csv' " \
    simulate --students 100 --schools 4 --out s.csv --truth ./s.csv
refuse "simulate --truth t.csv --params ./t.csv" 2 "simulate: --truth and --params name the same file 't\.csv' " \
    simulate --students 100 --schools 4 --out s.csv --truth t.csv --params ./t.csv
refuse "simulate: an existing file twice" 2 "simulate: --out and --params name the same file 'old\.csv' " \
    simulate --students 100 --schools 4 --out old.csv --params here/old.csv

# ---------------------------------------------------------------- 4. simulate: all paths first
refuse "simulate --truth a FIFO: --out untouched" 1 "fifo: cannot write the true school effects: not a regular file$" \
    simulate --students 100 --schools 4 --out old.csv --truth fifo
refuse "simulate --params a folder: --out untouched" 1 "adir: cannot write the true parameters: it is a folder$" \
    simulate --students 100 --schools 4 --out old.csv --params adir
refuse "simulate --out - --truth a FIFO: nothing on stdout" 1 "fifo: cannot write the true school effects: not a regular file$" \
    simulate --students 100 --schools 4 --out - --truth fifo
refuse "simulate --out - --params a FIFO: nothing on stdout" 1 "fifo: cannot write the true parameters: not a regular file$" \
    simulate --students 100 --schools 4 --out - --params fifo
check "simulate: the old --out kept" [ "$(cat old.csv)" = OLD ]

# ---------------------------------------------------------------- 5. one shared check
check "no command has its own check_out_path" \
    [ -z "$(grep -l 'check_out_path' "$ROOT"/cli/cmd_*.c)" ]
for c in fit match simulate effects compare; do
    check "cmd_$c.c uses cli_check_outputs" grep -q 'cli_check_outputs(' "$ROOT/cli/cmd_$c.c"
done
# the same refusal, worded the same, from every command that writes files
refuse "simulate --out a FIFO" 1 "fifo: cannot write the simulated data: not a regular file$" \
    simulate --students 100 --schools 4 --out fifo
refuse "effects --plot in a missing folder" 1 "nowhere/p\.svg: cannot write the plot: folder 'nowhere': No such file or directory$" \
    "${E[@]}" --out e.h5 --plot nowhere/p.svg

# ---------------------------------------------------------------- 6. signals, --students bound
# A run stopped while it writes leaves no temporary file, no output, and ends by the signal.
# timeout forwards the signal it gets to the command (whose signals are then not ignored,
# as they would be for a plain background job).
stop_while_writing() {
    local sig=$1 code=$2 pid i
    rm -rf sig && mkdir sig
    timeout -s KILL 120 "$EVM" simulate --out sig/s.csv --students 2147483647 --schools 4 \
        --truth sig/t.csv --quiet >"$TMP/out" 2>"$TMP/err" &
    pid=$!
    for ((i = 0; i < 600; i++)); do
        [ -n "$(find sig -name 's.csv.tmp.*' -size +0c)" ] && break
        sleep 0.05
    done
    check "SIG$sig: the temporary file was being written" [ "$i" -lt 600 ]
    kill -s "$sig" "$pid"
    { wait "$pid"; } 2>"$TMP/wait.err"   # bash's own "Hangup" line
    RC=$?
    check "SIG$sig: ended by the signal (status $code), got $RC" [ "$RC" -eq "$code" ]
    check "SIG$sig: no file left: $(ls -A sig | tr '\n' ' ')" [ -z "$(ls -A sig)" ]
    rm -rf sig
}
stop_while_writing INT 130
stop_while_writing TERM 143
stop_while_writing HUP 129

# (--out in a missing folder: a build without the bound fails at once instead of writing
# 100 GB)
refuse "--students 2^31" 2 "simulate: --students '2147483648' is too many: at most 2147483647 " \
    simulate --students 2147483648 --schools 4 --out nowhere/s.csv
refuse "--students 99999999999" 2 "simulate: --students '99999999999' is too many: at most 2147483647 " \
    simulate --students 99999999999 --schools 4 --out nowhere/s.csv
refuse "--students 2^64" 2 "simulate: --students '18446744073709551616' is too many: at most 2147483647 " \
    simulate --students 18446744073709551616 --schools 4 --out nowhere/s.csv
run simulate --help
check "simulate --help: the bound of --students" has "$TMP/out" "2147483647"

# ---------------------------------------------------------------- 7. --seed, /@seed
# (--out in a missing folder: a build that takes the seed fails at once, with status 1)
refuse "fit --seed 2^64" 2 "fit: --seed '18446744073709551616' is not a whole number from 0 to 2\^64-1 \(see" \
    fit in.csv --formula "$EF" --bootstrap 10 --seed 18446744073709551616 --out nowhere/f.h5
refuse "fit --seed 1e3" 2 "fit: --seed '1e3' is not a whole number from 0 to 2\^64-1 " \
    fit in.csv --formula "$EF" --bootstrap 10 --seed 1e3 --out nowhere/f.h5
refuse "fit --seed abc" 2 "fit: --seed 'abc' is not a whole number from 0 to 2\^64-1 " \
    fit in.csv --formula "$EF" --seed abc --out f.h5
refuse "fit --seed -1" 2 "fit: --seed '-1' is not a whole number from 0 to 2\^64-1 " \
    fit in.csv --formula "$EF" --seed=-1 --out f.h5
refuse "match --seed 2^64" 2 "match: --seed '18446744073709551616' is not a whole number from 0 to 2\^64-1 " \
    match in.csv --treatment treat --covariates prior --seed 18446744073709551616 --out m.csv
refuse "simulate --seed 2^64" 2 "simulate: --seed '18446744073709551616' is not a whole number from 0 to 2\^64-1 " \
    simulate --seed 18446744073709551616 --out s.csv

h5attr() { h5dump -a "$2" "$1" 2>"$TMP/h5err" | sed -n 's/^ *(0): *//p'; }
mkdir res
run fit "$SLEEP" --formula "$SF" --bootstrap 20 --seed 42 --quiet --out res/boot.h5
check "bootstrap fit: exit 0, got $RC" [ "$RC" -eq 0 ]
check "bootstrap fit: /@seed is the seed used" [ "$(h5attr res/boot.h5 /seed)" = 42 ]
check "bootstrap fit: /bootstrap@seed" [ "$(h5attr res/boot.h5 /bootstrap/seed)" = 42 ]
run fit "$SLEEP" --formula "$SF" --seed 42 --quiet --out res/plain.h5
check "fit without bootstrap: exit 0, got $RC" [ "$RC" -eq 0 ]
check "fit without bootstrap: /@seed 0 (no random numbers)" [ "$(h5attr res/plain.h5 /seed)" = 0 ]
run fit "$SLEEP" --formula "$SF" --bootstrap 5 --seed 18446744073709551615 --quiet --out res/max.h5
check "--seed 2^64-1: exit 0, got $RC" [ "$RC" -eq 0 ]
check "--seed 2^64-1: /@seed stored exactly (uint64)" \
    [ "$(h5attr res/max.h5 /seed)" = 18446744073709551615 ]
check "--seed 2^64-1: /bootstrap@seed stored exactly" \
    [ "$(h5attr res/max.h5 /bootstrap/seed)" = 18446744073709551615 ]
run show res/max.h5
check "--seed 2^64-1: show prints it" has "$TMP/out" "seed 18446744073709551615$"
rm -rf res

# ---------------------------------------------------------------- 8. --help=, --version, --threads
refuse "fit --help=yes" 2 "fit: option '--help' takes no value \(see 'evalmix fit --help'\)$" \
    fit in.csv --formula "$EF" --help=yes
refuse "--help=yes" 2 "option '--help' takes no value \(see 'evalmix --help'\)$" --help=yes
refuse "--version extra" 2 "unexpected argument 'extra' \(see 'evalmix --help'\)$" --version extra
refuse "fit --threads 100000" 2 "fit: --threads '100000' is too many: at most 65536 " \
    fit in.csv --formula "$EF" --threads 100000 --out f.h5
refuse "fit --threads 65537" 2 "fit: --threads '65537' is too many: at most 65536 " \
    fit in.csv --formula "$EF" --threads 65537 --out f.h5
refuse "effects --threads 2^64" 2 "effects: --threads '18446744073709551616' is too many: at most 65536 " \
    "${E[@]}" --threads 18446744073709551616 --out f.h5
refuse "match --threads 100000" 2 "match: --threads '100000' is too many: at most 65536 " \
    match in.csv --treatment treat --covariates prior --threads 100000
refuse "simulate --threads 100000" 2 "simulate: --threads '100000' is too many: at most 65536 " \
    simulate --threads 100000 --out s.csv
refuse "fit --threads two" 2 "fit: --threads 'two' is not a positive whole number " \
    fit in.csv --formula "$EF" --threads two
for c in fit effects match simulate; do
    run "$c" --help
    check "$c --help: the limit of --threads" has "$TMP/out" "^  --threads N .*65536"
done

# ---------------------------------------------------------------- 9. exit status 3, docs
DOC=$ROOT/docs/cli.md
run --help
check "evalmix --help: status 3 is not fit's only" has "$TMP/out" "^  3  .*--strict.*effects.*match"
check "evalmix --help: no 'fit --strict only'" hasnt "$TMP/out" "'fit --strict' only"
check "$DOC: status 3 of effects and match" has "$DOC" "^\| 3 \| .*--strict.*effects.*match"
check "$DOC: an 'Output files' section" has "$DOC" "^## Output files$"
check "$DOC: the input, however spelled" has "$DOC" "it is the input file"
check "$DOC: not a regular file" has "$DOC" "not a regular file"
check "$DOC: two options, one file" has "$DOC" "name the same file"
check "$DOC: temporary files on signals" has "$DOC" "SIGINT.*SIGTERM.*SIGHUP"
check "$DOC: --students bound" has "$DOC" "2\^31 − 1"
check "$DOC: --seed range" has "$DOC" "0 to 2\^64 − 1"
check "$DOC: --threads range" has "$DOC" "1 to 65536"

cli_done
