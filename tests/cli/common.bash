# common.bash — helpers sourced by the command-line tests (*.sh).  Named .bash so that
# tests/CMakeLists.txt, which registers every tests/cli/*.sh, does not run it.
#
# Usage in a test:  source "$(dirname "$0")/common.bash"; cli_init NAME "$1"; ...; cli_done

cli_init() {
    CLI_NAME=$1
    EVM=${2:-}
    if [ -z "$EVM" ] || [ ! -x "$EVM" ]; then
        echo "$CLI_NAME: usage: bash $0 /path/to/evalmix" >&2
        exit 2
    fi
    case $EVM in /*) ;; *) EVM=$PWD/$EVM ;; esac
    PASS=0
    FAIL=0
    TMP=$(mktemp -d)
    trap 'rm -rf "$TMP"' EXIT
}

pass() { PASS=$((PASS + 1)); }
fail() {
    FAIL=$((FAIL + 1))
    echo "FAIL: $*"
    if [ -s "$TMP/err" ]; then sed 's/^/    stderr: /' "$TMP/err" | head -5; fi
}

cli_done() {
    echo "$CLI_NAME: $PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
    exit
}

# run ARGS...: run evalmix; stdout in $TMP/out, stderr in $TMP/err, status in $RC.
# shellcheck disable=SC2034  # RC is read by the tests that source this file
run() {
    "$EVM" "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
}

# check LABEL CONDITION...: pass if the command CONDITION succeeds.
check() {
    local label=$1
    shift
    if "$@"; then pass; else fail "$label"; fi
}

# Is $2 (extended regex) found in file $1?
has() { grep -Eq -- "$2" "$1"; }
hasnt() { ! grep -Eq -- "$2" "$1"; }
# Does file $1 hold exactly $2 lines?
h5ok() { h5dump -d "$2" "$1" >/dev/null 2>&1; }   # h5ok FILE PATH: the dataset exists
nlines() { [ "$(wc -l <"$1")" -eq "$2" ]; }
