#!/usr/bin/env bash
# A writer killed with SIGKILL mid-recording (recording_synth --realtime)
# leaves a file that verifies up to its end: `verify` says it is incomplete
# (exit 1) and where it ends, `verify --allow-truncated` exits 0, `info`
# says where it ends, and `export` writes a WebM whose frames, decoded, are
# 0, 1, 2, ... with none missing, at least a second's worth (fsync once a
# second; what reached the page cache survives a killed process too).
# usage: recording_kill_test.sh TANDEM_REPLAY RECORDING_SYNTH WEBM_CHECK
set -euo pipefail
replay=$1 synth=$2 check=$3
dir=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill -9 $pid 2>/dev/null; rm -rf "$dir"' EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/master.key"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$synth" "$dir/cut.rec" --key-file "$dir/master.key" --frames 900 --opus --realtime > "$dir/progress" &
pid=$!
for _ in $(seq 200); do
  grep -q "^frame 75$" "$dir/progress" 2>/dev/null && break
  sleep 0.05
done
grep -q "^frame 75$" "$dir/progress" || fail "the writer did not get to frame 75"
kill -9 $pid
wait $pid 2>/dev/null || true
pid=

set +e
out=$("$replay" verify "$dir/cut.rec" --key-file "$dir/master.key"); rc=$?
set -e
[[ $rc == 1 ]] || fail "verify of a cut file exited $rc: $out"
grep -q "INCOMPLETE: truncated: no end record" <<<"$out" || fail "verify said: $out"
grep -q "byte [0-9]" <<<"$out" || fail "verify does not say where it ends: $out"
"$replay" verify --allow-truncated "$dir/cut.rec" --key-file "$dir/master.key" | grep -q "OK (truncated)" \
  || fail "verify --allow-truncated"
set +e
info=$("$replay" info "$dir/cut.rec" --key-file "$dir/master.key"); rc=$?
set -e
[[ $rc == 1 ]] || fail "info of a cut file exited $rc"
grep -q "ends: truncated" <<<"$info" || fail "info: $info"
out=$("$replay" export "$dir/cut.rec" --key-file "$dir/master.key" --out "$dir/cut.webm") || fail "export"
grep -q "cut short" <<<"$out" || fail "export does not say the file is cut: $out"
res=$("$check" "$dir/cut.webm" --frames 0 --opus) || fail "stamps"
n=$(sed -E 's/^ok: ([0-9]+) frames.*/\1/' <<<"$res")
(( n >= 30 )) || fail "only $n frames survived"
echo "recording_kill_test: ok ($res)"
