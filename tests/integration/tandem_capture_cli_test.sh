#!/usr/bin/env bash
# tandem-capture as a user runs it: --help tells the truth, bad flags and bad
# files get clear errors and the right exit status, a synthetic capture
# writes a Y4M that reads back frame for frame and a valid PNG.
set -u
cap=${1:?usage: tandem_capture_cli_test.sh PATH_TO_TANDEM_CAPTURE}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
checks=0

check() { # check NAME COMMAND...: the command must succeed
  local name=$1; shift
  checks=$((checks + 1))
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}

# run EXPECTED_STATUS: runs the capture, keeping stdout/stderr in files.
run() {
  local want=$1; shift
  "$cap" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "  exit status $got, wanted $want for: $*"; cat "$work/err"; return 1
  fi
}

check "help exits 0 and names every source" \
  bash -c "'$cap' --help | grep -q 'synthetic:SCENARIO' && '$cap' --help | grep -q 'x11' && '$cap' --help | grep -q 'y4m:FILE'"
check "unknown flag: status 2 and says which" \
  bash -c "run() { :; }; '$cap' --bogus 2>&1 >/dev/null | grep -q \"unknown option '--bogus'\"; [ \${PIPESTATUS[0]} -eq 2 ]"
check "bad size: status 2" run 2 --size 12x --frames 1
grep -q "WIDTHxHEIGHT" "$work/err" || { echo "FAIL bad size message"; failures=$((failures + 1)); }
check "unknown scenario: status 2" run 2 --source synthetic:dance
grep -q "unknown scenario 'dance'" "$work/err" || { echo "FAIL scenario message"; failures=$((failures + 1)); }
check "tiny synthetic size: status 1 with a reason" run 1 --size 10x10 --frames 1
[ -s "$work/err" ] || { echo "FAIL tiny size gave no message"; failures=$((failures + 1)); }
check "missing y4m file: status 1, names the file" run 1 --source "y4m:$work/nope.y4m"
grep -q "nope.y4m" "$work/err" || { echo "FAIL missing-file message"; failures=$((failures + 1)); }

check "synthetic capture writes Y4M and PNG" \
  run 0 --source synthetic:drag --size 640x360 --frames 12 --fps 25 --y4m "$work/a.y4m" --png "$work/a.png" --quiet
# 12 frames of 640x360 I420 plus the header and FRAME lines.
frame_bytes=$((640 * 360 * 3 / 2))
size=$(stat -c %s "$work/a.y4m")
header=$(head -c 80 "$work/a.y4m" | head -n 1)
check "Y4M header is right" bash -c "[[ '$header' == 'YUV4MPEG2 W640 H360 F25:1'* ]]"
check "Y4M holds 12 frames" bash -c "[ $(( (size - ${#header} - 1) / (frame_bytes + 6) )) -eq 12 ]"
check "PNG signature and size" bash -c \
  "[ \"\$(od -An -tx1 -N8 '$work/a.png' | tr -d ' ')\" = 89504e470d0a1a0a ] &&
   [ \"\$(od -An -tu1 -j16 -N8 '$work/a.png' | tr -s ' ')\" = ' 0 0 2 128 0 0 1 104' ]"
check "summary names the files" bash -c "grep -q 'a.y4m' '$work/out' && grep -q 'a.png' '$work/out'"

check "the Y4M reads back through the y4m source" \
  run 0 --source "y4m:$work/a.y4m" --frames 100 --y4m "$work/b.y4m" --quiet
check "read-back stops at the file's 12 frames" grep -q "^tandem-capture: 12 frames 640x360" "$work/out"
check "re-written Y4M is byte-identical" cmp -s "$work/a.y4m" "$work/b.y4m"

head -c $((size - 1000)) "$work/a.y4m" >"$work/cut.y4m"
check "truncated Y4M: status 1" run 1 --source "y4m:$work/cut.y4m" --frames 100
check "truncated Y4M: says truncated and which frame" grep -qi "truncated.*frame 11\|frame 11.*truncated" "$work/err"

check "unwritable output: status 1, no crash" run 1 --frames 2 --size 320x240 --y4m /nonexistent-dir/x.y4m

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
