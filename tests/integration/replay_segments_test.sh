#!/usr/bin/env bash
# A session recorded in two segments (as when its relay dies and the
# session goes on on another relay): segment 1 frames 0..89, a gap of 2 s,
# segment 2 frames 90..149 from a new publisher (new RTP sequence, clock and
# recorder clock), both of a session played into a real signaling database.
# tandem-replay: list shows one session with 2 segments; verify passes and
# names both; export joins them into one WebM that decodes (ffmpeg, and
# codec/ frame by frame) with every frame number in order across the seam,
# the gap kept in the timestamps and marked by a chapter; timeline has the
# gap event; a tampered second segment, a second segment under another
# key, and a second segment of another codec or picture size are refused
# naming segment 2; segments that overlap join with the overlap left out;
# a first segment cut short (kill -9) still joins.
# usage: replay_segments_test.sh TANDEM_REPLAY RECORDING_SYNTH WEBM_CHECK TANDEM_SIGNAL SESSION_HELPER
set -euo pipefail
replay=$1 synth=$2 check=$3 signal=$4 helper=$5
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/master.key"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/other.key"
k=(--key-file "$dir/master.key")
db=$dir/signal.db

echo 'alice-password-1' | "$signal" user add alice --role rep --may-invite \
  --invite-profiles view_only,pointer --db "$db" >/dev/null
base_ms=$(( $(date +%s) * 1000 ))
"$helper" "$db" alice "$base_ms" > "$dir/ids"
sid=$(awk '$1=="session"{print $2}' "$dir/ids")
[[ $sid == s_* ]] || fail "no session id from the helper"
t0=$((base_ms * 1000))

mkdir "$dir/recs"
# Names sort the other way round from the start times: order comes from
# the headers. Segment 1 is 90 frames (3.0 s), segment 2 starts at +5.0 s.
seg() { # NAME KEY START_US FIRST_FRAME FRAMES CLOCK_US [more options]
  local name=$1 key=$2 start=$3 first=$4 frames=$5 clock=$6; shift 6
  "$synth" "$dir/recs/$name" --key-file "$key" --session "$sid" --opus --frames "$frames" \
    --start-unix-us "$start" --first-frame "$first" --clock-us "$clock" "$@" >/dev/null
}
seg z-first.tdmrec "$dir/master.key" "$t0" 0 90 7000000000
seg a-second.tdmrec "$dir/master.key" "$((t0 + 5000000))" 90 60 123
"$synth" "$dir/recs/other.tdmrec" "${k[@]}" --session other-session --frames 30 >/dev/null

out=$("$replay" list "$dir/recs" "${k[@]}") || fail "list: $out"
grep -Eq "^  session $sid  2 segments .* 1 gap \(2\.0 s\)  complete$" <<<"$out" || fail "list: $out"
grep -Eq "^  session other-session  1 segment " <<<"$out" || fail "list (other): $out"
[[ $(grep -c "^  session " <<<"$out") == 2 ]] || fail "list: sessions: $out"

# verify: by DIR/SESSION and by --dir.
out=$("$replay" verify "$dir/recs/$sid" "${k[@]}") || fail "verify: $out"
grep -q "segment 1: z-first.tdmrec, .*OK: .* complete" <<<"$out" || fail "verify seg 1: $out"
grep -q "segment 2: a-second.tdmrec, .*(+5.000 s).*OK: .* complete" <<<"$out" || fail "verify seg 2: $out"
grep -q "gap (nothing recorded) between segment 1 and 2: 2.000 s" <<<"$out" || fail "verify gap: $out"
grep -q "session $sid: OK: 2 segments verified" <<<"$out" || fail "verify: $out"
(cd "$dir" && "$replay" verify "$sid" --dir recs "${k[@]}" >/dev/null) || fail "verify --dir"
out=$("$replay" info "$dir/recs/$sid" "${k[@]}") || fail "info: $out"
grep -q "^segments: 2$" <<<"$out" || fail "info: $out"

# export: one WebM, frames 0..149 in order across the seam, audio too.
out=$("$replay" export "$dir/recs/$sid" "${k[@]}" --out "$dir/joined.webm") || fail "export: $out"
grep -q "exported session $sid (2 segments)" <<<"$out" || fail "export: $out"
"$check" "$dir/joined.webm" --frames 150 --opus || fail "joined: stamps"
if command -v ffprobe >/dev/null; then
  err=$(ffmpeg -v error -i "$dir/joined.webm" -f null - 2>&1) || fail "ffmpeg cannot decode"
  [[ -z $err ]] || fail "ffmpeg complains: $err"
  # The gap is real time: frame 89 near 2.97 s, frame 90 (a keyframe) at 5.0 s.
  ffprobe -v error -select_streams v -show_entries packet=pts_time,flags -of csv=p=0 \
    "$dir/joined.webm" > "$dir/pts"
  [[ $(wc -l < "$dir/pts") == 150 ]] || fail "ffprobe: $(wc -l < "$dir/pts") video packets"
  python3 - "$dir/pts" <<'PY' || fail "seam timestamps"
import sys
rows = [l.strip().split(",") for l in open(sys.argv[1]) if l.strip()]
t = [float(r[0]) for r in rows]
if t != sorted(t): sys.exit("pts not increasing")
if not (2.9 < t[89] < 3.01): sys.exit("frame 89 at %r" % t[89])
if abs(t[90] - 5.0) > 0.01: sys.exit("frame 90 at %r, want 5.0 (the gap kept)" % t[90])
if not rows[90][1].startswith("K"): sys.exit("frame 90 is not a keyframe")
PY
  ch=$(ffprobe -v error -show_chapters -of csv=p=0 "$dir/joined.webm")
  grep -q "gap: nothing recorded for 2.000 s" <<<"$ch" || fail "no gap chapter: $ch"
  grep -q "segment 2: a-second.tdmrec" <<<"$ch" || fail "no segment chapter: $ch"
fi

# timeline: the gap event, both segments' events, one time axis.
"$replay" timeline "$dir/recs/$sid" "${k[@]}" --db "$db" > "$dir/tl.json" || fail "timeline exit"
python3 - "$dir/tl.json" "$sid" <<'PY' || fail "timeline"
import json, sys
doc = json.load(open(sys.argv[1]))
rec, ev = doc["recording"], doc["events"]
def fail(m): sys.exit("FAIL: " + m)
if rec["session"] != sys.argv[2] or rec["segments"] != 2: fail("recording %r" % rec)
if rec["files"] != ["z-first.tdmrec", "a-second.tdmrec"]: fail("files %r" % rec["files"])
if rec["ends"] != "complete" or not rec["verified"]: fail("not complete: %r" % rec)
if abs(rec["duration_s"] - 7.0) > 0.05 or abs(rec["recorded_s"] - 5.0) > 0.05: fail("durations %r" % rec)
if doc["audit"]["verified"] is not True: fail("audit")
t = [e["unix_s"] for e in ev]
if t != sorted(t): fail("events out of order")
gaps = [e for e in ev if e["kind"] == "gap" and e["details"].get("what") == "no recording"]
if len(gaps) != 1: fail("gap events %r" % gaps)
g = gaps[0]["details"]
if abs(g["start_offset_s"] - 3.0) > 0.05 or abs(g["end_offset_s"] - 5.0) > 1e-3: fail("gap %r" % g)
if abs(gaps[0]["offset_s"] - g["start_offset_s"]) > 1e-3: fail("gap placed at %r" % gaps[0])
if (g["after_segment"], g["before_segment"]) != (1, 2): fail("gap segments %r" % g)
starts = [e for e in ev if e["kind"] == "recording_start"]
if [s["details"]["segment"] for s in starts] != [1, 2]: fail("starts %r" % starts)
if abs(starts[1]["offset_s"] - 5.0) > 1e-3: fail("segment 2 starts at %r" % starts[1]["offset_s"])
if len(doc["seams"]) != 1 or doc["seams"][0]["kind"] != "gap": fail("seams %r" % doc["seams"])
if [s["segment"] for s in doc["segments"]] != [1, 2]: fail("segments")
PY

expect_fail() { # PATTERN CMD...: exit 1 and PATTERN in its output
  local pat=$1; shift
  set +e; local o; o=$("$@" 2>&1); local rc=$?; set -e
  [[ $rc == 1 ]] || fail "exit $rc, want 1: $* -> $o"
  grep -q -- "$pat" <<<"$o" || fail "want '$pat' from $*: $o"
}

# A byte of segment 2 changed: verify and export name segment 2.
cp -r "$dir/recs" "$dir/tampered"
f=$dir/tampered/a-second.tdmrec
size=$(stat -c %s "$f")
printf '\xff' | dd of="$f" bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_fail "FAILED at segment 2 (a-second.tdmrec): record .* fails verification" \
  "$replay" verify "$dir/tampered/$sid" "${k[@]}"
expect_fail "segment 1: z-first.tdmrec, .*OK" "$replay" verify "$dir/tampered/$sid" "${k[@]}"
expect_fail "segment 2 (a-second.tdmrec) fails verification" \
  "$replay" export "$dir/tampered/$sid" "${k[@]}" --out "$dir/t.webm"
[[ ! -e $dir/t.webm ]] || fail "a refused export left a file"

# Segment 2 under another master key: named, with the words "wrong key".
mkdir "$dir/keys"
cp "$dir/recs/z-first.tdmrec" "$dir/keys/"
(dir=$dir; "$synth" "$dir/keys/a-second.tdmrec" --key-file "$dir/other.key" --session "$sid" \
   --opus --frames 60 --start-unix-us $((t0 + 5000000)) --first-frame 90 >/dev/null)
expect_fail "segment 2: a-second.tdmrec, .*WRONG KEY: wrong key" \
  "$replay" verify "$dir/keys/$sid" "${k[@]}"
expect_fail "FAILED at segment 2 (a-second.tdmrec)" "$replay" verify "$dir/keys/$sid" "${k[@]}"
expect_fail "segment 2 (a-second.tdmrec) cannot be opened with this key" \
  "$replay" export "$dir/keys/$sid" "${k[@]}" --out "$dir/t.webm"

# Segment 2 in VP9 after VP8: one WebM track has one codec: refused, named.
mkdir "$dir/codec"
cp "$dir/recs/z-first.tdmrec" "$dir/codec/"
"$synth" "$dir/codec/b.tdmrec" "${k[@]}" --session "$sid" --codec vp9 --opus --frames 30 \
  --start-unix-us $((t0 + 5000000)) >/dev/null
"$replay" verify "$dir/codec/$sid" "${k[@]}" >/dev/null || fail "vp9 segment: verify"
expect_fail "segment 2 has a VP9 stream the first segment has not" \
  "$replay" export "$dir/codec/$sid" "${k[@]}" --out "$dir/t.webm"

# Segment 2 of another picture size: refused, named.
mkdir "$dir/size"
cp "$dir/recs/z-first.tdmrec" "$dir/size/"
"$synth" "$dir/size/b.tdmrec" "${k[@]}" --session "$sid" --opus --frames 30 --size 320x240 \
  --start-unix-us $((t0 + 5000000)) >/dev/null
expect_fail "segment 2's VP8 picture is 320x240, the first segment's 640x360" \
  "$replay" export "$dir/size/$sid" "${k[@]}" --out "$dir/t.webm"
[[ ! -e $dir/t.webm ]] || fail "a refused export left a file"

# Segment 1 cut short, as kill -9 of its relay leaves it: verify passes (the
# session went on), export joins what there is, in order, the gap marked.
mkdir "$dir/cut"
cp "$dir/recs/a-second.tdmrec" "$dir/cut/"
f=$dir/recs/z-first.tdmrec
head -c $(( $(stat -c %s "$f") * 2 / 3 )) "$f" > "$dir/cut/z-first.tdmrec"
out=$("$replay" verify "$dir/cut/$sid" "${k[@]}") || fail "cut: verify: $out"
grep -q "segment 1: .*OK up to its cut (the session went on in the next segment)" <<<"$out" \
  || fail "cut: verify: $out"
out=$("$replay" export "$dir/cut/$sid" "${k[@]}" --out "$dir/cut.webm") || fail "cut: export: $out"
grep -q "segment 1: .*cut short" <<<"$out" || fail "cut: export: $out"
frames=$(sed -n 's/^  stream 1: VP8, exported, 640x360, .* -> \([0-9]*\) frames.*/\1/p' <<<"$out")
[[ $frames -gt 60 && $frames -lt 150 ]] || fail "cut: $frames video frames: $out"
"$check" "$dir/cut.webm" --frames "$frames" --missing "$((frames - 60)):90" --opus \
  || fail "cut: stamps"
out=$("$replay" verify "$dir/cut/$sid" "${k[@]}")
grep -q "gap (nothing recorded) between segment 1 and 2" <<<"$out" || fail "cut: no gap: $out"

# Segment 2 starting before segment 1 ended (a drained relay still
# recording while the new one has started): an overlap; the export leaves
# out segment 1's frames from segment 2's start on.
mkdir "$dir/overlap"
cp "$dir/recs/z-first.tdmrec" "$dir/overlap/"
seg_in() { "$synth" "$dir/overlap/$1" "${k[@]}" --session "$sid" --opus --frames 60 \
  --first-frame 90 --start-unix-us "$2" >/dev/null; }
seg_in b.tdmrec "$((t0 + 2000000))"
out=$("$replay" list "$dir/overlap" "${k[@]}") || fail "overlap: list: $out"
grep -q "session $sid  2 segments .* 0 gaps (0.0 s)  1 overlap  complete" <<<"$out" \
  || fail "overlap: list: $out"
out=$("$replay" export "$dir/overlap/$sid" "${k[@]}" --out "$dir/overlap.webm") \
  || fail "overlap: export: $out"
grep -q "segment 1: .* (.* left out: the next segment had started)" <<<"$out" \
  || fail "overlap: export: $out"
"$check" "$dir/overlap.webm" --frames 120 --missing 60:90 --opus || fail "overlap: stamps"
"$replay" timeline "$dir/overlap/$sid" "${k[@]}" --db "$db" | python3 -c '
import json, sys
d = json.load(sys.stdin)
o = [e for e in d["events"] if e["kind"] == "overlap"]
sys.exit(not (len(o) == 1 and abs(o[0]["details"]["duration_s"] - 1.0) < 0.05))' \
  || fail "overlap: timeline"

# The last segment cut: not complete unless allowed.
mkdir "$dir/lastcut"
cp "$dir/recs/z-first.tdmrec" "$dir/lastcut/"
f=$dir/recs/a-second.tdmrec
head -c $(( $(stat -c %s "$f") / 2 )) "$f" > "$dir/lastcut/a-second.tdmrec"
expect_fail "INCOMPLETE: the last segment (a-second.tdmrec) is cut short" \
  "$replay" verify "$dir/lastcut/$sid" "${k[@]}"
"$replay" verify "$dir/lastcut/$sid" "${k[@]}" --allow-truncated >/dev/null \
  || fail "lastcut: --allow-truncated"

expect_fail "neither a file nor a session" "$replay" verify "$dir/recs/nobody" "${k[@]}"
echo "replay_segments_test: ok"
