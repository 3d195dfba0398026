#!/usr/bin/env bash
# flip_h5.sh — byte-flip fuzzing of the result-file reader: copies FILE.h5 with one byte
# changed and runs `evalmix show` on the copy under `timeout 5`.  Any outcome is fine
# except a crash (exit >= 128), a hang (timeout: exit 124), a failure without exactly one
# stderr line, or stdout on failure.  Not part of ctest (a full pass takes minutes).
#
#   bash tests/fuzz/flip_h5.sh EVALMIX FILE.h5 [all|N [SEED]] [JOBS]
#
# all (the default): every offset once, the byte XORed with a mask that varies with the
# offset (never 0); N: N random (offset, value) pairs from SEED.  Prints one line per
# bad run ("OFFSET VALUE: crash|hang|lines=K|stdout ...") and a summary; exits 1 if any
# run was bad.
set -u
EVM=${1:?usage: flip_h5.sh EVALMIX FILE.h5 [all|N [SEED]] [JOBS]}
SRC=${2:?usage: flip_h5.sh EVALMIX FILE.h5 [all|N [SEED]] [JOBS]}
MODE=${3:-all}
SEED=${4:-1}
JOBS=${5:-$(nproc 2>/dev/null || echo 2)}
case $EVM in /*) ;; *) EVM=$PWD/$EVM ;; esac
case $SRC in /*) ;; *) SRC=$PWD/$SRC ;; esac
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
SIZE=$(stat -c %s "$SRC")

# "OFFSET VALUE" lines: the byte at OFFSET becomes VALUE (0..255, never the original).
od -An -v -tu1 "$SRC" | tr -s ' ' '\n' | sed '/^$/d' >"$W/orig"
if [ "$MODE" = all ]; then
    awk 'function xor8(a, b,   r, k) {   # mawk has no xor()
             for (k = 1; k < 256; k *= 2) r += ((int(a / k) + int(b / k)) % 2) * k
             return r }
         { m = ((NR - 1) * 37 + 11) % 255 + 1; printf "%d %d\n", NR - 1, xor8($1, m) }' \
        "$W/orig" >"$W/cases"
else
    awk -v n="$MODE" -v seed="$SEED" -v size="$SIZE" 'BEGIN { srand(seed) }
        { b[NR - 1] = $1 }
        END { for (i = 0; i < n; i++) { o = int(rand() * size); v = int(rand() * 255);
                                        if (v >= b[o]) v++; printf "%d %d\n", o, v } }' \
        "$W/orig" >"$W/cases"
fi

one() { # OFFSET VALUE: run show on the mutated copy; print a line if the run was bad
    local off=$1 val=$2 f="$W/c.$1.$2.h5" rc lines
    cp "$SRC" "$f"
    printf "\\$(printf %03o "$val")" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
    timeout 5 "$EVM" show "$f" >"$f.out" 2>"$f.err"
    rc=$?
    lines=$(wc -l <"$f.err")
    if [ $rc -eq 124 ]; then echo "$off $val: hang"
    elif [ $rc -ge 128 ]; then echo "$off $val: crash (exit $rc) $(head -c 200 "$f.err" | tr '\n' ' ')"
    elif [ $rc -ne 0 ] && [ "$lines" -ne 1 ]; then echo "$off $val: lines=$lines $(head -c 200 "$f.err" | tr '\n' ' ')"
    elif [ $rc -ne 0 ] && [ -s "$f.out" ]; then echo "$off $val: stdout on failure"
    fi
    echo "$rc" >>"$W/rcs"
    rm -f "$f" "$f.out" "$f.err"
}
export -f one
export EVM W SRC

xargs -P "$JOBS" -n 2 bash -c 'one "$@"' _ <"$W/cases" | sort -n >"$W/bad"
cat "$W/bad"
runs=$(wc -l <"$W/cases")
ok=$(grep -cx 0 "$W/rcs")
rej=$(grep -cx 1 "$W/rcs")
echo "flip_h5: $runs runs on $(basename "$SRC") ($SIZE bytes): $ok shown, $rej rejected," \
    "$(grep -c ': crash' "$W/bad") crashes, $(grep -c ': hang' "$W/bad") hangs," \
    "$(grep -c ': lines=' "$W/bad") without exactly one stderr line," \
    "$(grep -c ': stdout' "$W/bad") with stdout on failure"
[ ! -s "$W/bad" ]
