#!/usr/bin/env bash
# tandem-replay's errors as a user meets them: a wrong key, a file that is
# not a recording, a truncated header, one flipped byte, a removed record,
# appended garbage (each exit 1 with a clear message naming the place),
# `list` over a directory of good, bad and cut recordings, bad usage (exit
# 2), and --help.
# usage: recording_cli_test.sh TANDEM_REPLAY RECORDING_SYNTH WEBM_CHECK
set -euo pipefail
replay=$1 synth=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/master.key"
head -c 32 /dev/urandom > "$dir/wrong.key"
fail() { echo "FAIL: $*" >&2; exit 1; }
"$synth" "$dir/s.rec" --key-file "$dir/master.key" --frames 30 >/dev/null
size=$(stat -c %s "$dir/s.rec")
k=(--key-file "$dir/master.key")

# expect RC PATTERN CMD...: runs CMD, checks its exit status and that its
# stdout+stderr match PATTERN.
expect() {
  local want=$1 pat=$2; shift 2
  set +e; local out; out=$("$@" 2>&1); local rc=$?; set -e
  [[ $rc == "$want" ]] || fail "'$*' exited $rc (want $want): $out"
  grep -Eq "$pat" <<<"$out" || fail "'$*' said '$out', not /$pat/"
}

expect 0 "OK: .* complete" "$replay" verify "$dir/s.rec" "${k[@]}"
expect 1 "wrong key" "$replay" verify "$dir/s.rec" --key-file "$dir/wrong.key"
expect 1 "wrong key" "$replay" export "$dir/s.rec" --key-file "$dir/wrong.key" --out "$dir/x.webm"
[[ ! -e $dir/x.webm ]] || fail "export with a wrong key left a file"
printf 'hello, this is not a recording\n' > "$dir/text"
expect 1 "not a Tandem recording" "$replay" info "$dir/text" "${k[@]}"
: > "$dir/empty"
expect 1 "not a Tandem recording|truncated" "$replay" verify "$dir/empty" "${k[@]}"
head -c 40 "$dir/s.rec" > "$dir/head"
expect 1 "truncated inside its header" "$replay" verify "$dir/head" "${k[@]}"
expect 1 "cannot open" "$replay" verify "$dir/missing" "${k[@]}"

# One byte flipped in the middle: verify names a record and its offset.
cp "$dir/s.rec" "$dir/flip.rec"
mid=$((size / 2))
b=$(od -An -tu1 -j $mid -N1 "$dir/flip.rec" | tr -d ' ')
printf "$(printf '\\%03o' $(( b ^ 1 )))" | dd of="$dir/flip.rec" bs=1 seek=$mid conv=notrunc status=none
expect 1 "FAILED: record [0-9]+ at byte [0-9]+ fails verification" "$replay" verify "$dir/flip.rec" "${k[@]}"
expect 1 "fails verification, not exported" "$replay" export "$dir/flip.rec" "${k[@]}" --out "$dir/f.webm"

# A record removed: the one verify named above (its length field says how
# long it is), cut out of the intact file.
off=$("$replay" verify "$dir/flip.rec" "${k[@]}" | sed -E 's/.* at byte ([0-9]+) .*/\1/' || true)
len=$(( 4 + 0x$(od -An -tx1 -j $off -N4 "$dir/s.rec" | tr -d ' ') ))
{ head -c $off "$dir/s.rec"; tail -c +$((off + len + 1)) "$dir/s.rec"; } > "$dir/removed.rec"
expect 1 "FAILED: record [0-9]+ at byte $off fails verification" "$replay" verify "$dir/removed.rec" "${k[@]}"

# Garbage appended after the end record.
{ cat "$dir/s.rec"; printf 'appended'; } > "$dir/app.rec"
expect 1 "FAILED: 8 bytes after the end record, at byte $size" "$replay" verify "$dir/app.rec" "${k[@]}"

# list: every recording in a directory with its state; other files skipped.
mkdir "$dir/lib"
cp "$dir/s.rec" "$dir/lib/a.rec"
cp "$dir/app.rec" "$dir/lib/b.rec"
head -c $((size - 10)) "$dir/s.rec" > "$dir/lib/c.rec"
cp "$dir/text" "$dir/lib/notes.txt"
expect 1 "a.rec  session synthetic-session .* complete" "$replay" list "$dir/lib" "${k[@]}"
expect 1 "b.rec .* FAULT" "$replay" list "$dir/lib" "${k[@]}"
expect 1 "c.rec .* TRUNCATED" "$replay" list "$dir/lib" "${k[@]}"
expect 1 "WRONG KEY" "$replay" list "$dir/lib" --key-file "$dir/wrong.key"
set +e; out=$("$replay" list "$dir/lib" "${k[@]}"); set -e
! grep -q notes <<<"$out" || fail "list shows a file that is not a recording"
rm "$dir/lib/b.rec" "$dir/lib/c.rec"
expect 0 "a.rec .* complete" "$replay" list "$dir/lib" "${k[@]}"

# Usage.
expect 2 "missing command" "$replay"
expect 2 "unknown command" "$replay" frobnicate "$dir/s.rec" "${k[@]}"
expect 2 "key-file is required" "$replay" verify "$dir/s.rec"
expect 2 "needs --out" "$replay" export "$dir/s.rec" "${k[@]}"
expect 2 "timeline needs --db" "$replay" timeline "$dir/s.rec" "${k[@]}"
expect 2 "thumbs needs --out" "$replay" thumbs "$dir/s.rec" "${k[@]}"
expect 2 "only for thumbs" "$replay" verify "$dir/s.rec" "${k[@]}" --every 2
expect 0 "usage: tandem-replay" "$replay" --help
echo "recording_cli_test: ok"
