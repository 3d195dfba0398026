#!/usr/bin/env bash
# help.sh — the help texts and docs/cli.md name every subcommand, every option (read from
# the option tables in cli/cmd_*.c) and every exit status; --version prints the version.
#
# Run from the repository root:  bash tests/cli/help.sh build/evalmix
# shellcheck source=tests/cli/common.bash
source "$(dirname "$0")/common.bash"
cli_init cli_help "${1:-}"

DOC=docs/cli.md
if [ ! -f cli/cmd_fit.c ] || [ ! -f $DOC ]; then echo "cli_help: run from the repository root"; exit 1; fi

# expect_help LABEL ARGS...: help on stdout, nothing on stderr, exit 0.
expect_help() {
    local label=$1
    shift
    run "$@"
    check "$label: exit 0, got $RC" [ "$RC" -eq 0 ]
    check "$label: nothing on stderr" [ ! -s "$TMP/err" ]
    check "$label: usage line" has "$TMP/out" "^Usage: evalmix"
    check "$label: an example" has "$TMP/out" "^  evalmix [a-z]+ "
    for status in 0 1 2; do
        check "$label: exit status $status" has "$TMP/out" "^  $status  "
    done
}

expect_help "evalmix --help" --help
cp "$TMP/out" "$TMP/main_help"
expect_help "evalmix -h" -h
check "-h same as --help" diff "$TMP/main_help" "$TMP/out"
for cmd in fit show compare effects match wwc simulate; do
    check "evalmix --help lists $cmd" has "$TMP/main_help" "^  $cmd  "
    check "$DOC documents $cmd" has $DOC "^## \`evalmix $cmd\`"
done
check "evalmix --help: exit status 3" has "$TMP/main_help" "^  3  "

expect_help "fit --help" fit --help
cp "$TMP/out" "$TMP/fit_help"
check "fit --help: exit status 3" has "$TMP/fit_help" "^  3  "
expect_help "fit -h among other arguments" fit data.csv --bogus -h
check "fit -h: same text" diff "$TMP/fit_help" "$TMP/out"
expect_help "show --help" show --help

# Every option in the table of cmd_fit.c, in the help and in the docs.
opts=$(grep -oE '^ *\{"[a-z-]+", CLI_' cli/cmd_fit.c | sed -E 's/^ *\{"([a-z-]+)".*/\1/')
check "cmd_fit.c: option table found" [ "$(printf '%s\n' "$opts" | wc -l)" -ge 10 ]
for o in $opts; do
    check "fit --help: --$o" has "$TMP/fit_help" "^  --$o( |$)"
    check "$DOC: --$o" has $DOC "\`--$o"
done
for status in 0 1 2 3; do
    check "$DOC: exit status $status" has $DOC "^\| $status \|"
done

run --version
check "--version: exit 0" [ "$RC" -eq 0 ]
check "--version: 'evalmix X.Y.Z'" has "$TMP/out" '^evalmix [0-9]+\.[0-9]+\.[0-9]+$'

cli_done
