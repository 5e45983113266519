#!/usr/bin/env bash
# A session recorded by the real relay in two segments: share -> relay
# (--record-dir) inside a network namespace this test creates; the
# customer's share publishes for 3 s and stops, then publishes again to the
# same session 2 s later (what a re-publish after a failover does on the new
# relay): two files. tandem-replay lists one session with 2 segments and a
# gap, verifies both, and exports them joined: ffmpeg decodes the WebM
# without a complaint, it holds the frames of both segments (each exported
# alone decodes with its frame stamps in order), the second segment starts
# with a keyframe after a jump in the timestamps as long as the gap, and the
# gap is a chapter.
# usage: relay_records_segments_test.sh RELAY SHARE REPLAY WEBM_CHECK
set -u
relay=$1 share=$2 replay=$3 check=$4
# shellcheck source=recording_relay_lib.sh
. "$(dirname "$0")/recording_relay_lib.sh"
rr_setup recseg ffprobe

k=(--key-file "$work/master.key")
rr_start_relay "$relay"
tok() { rr_token "$relay" segs "$1" publish; }

publish() { # N: one publication of 3 s; waits for the relay to close its file
  ip netns exec "$ns" "$share" --url "http://$addr/whip/segs" --token "$(tok "p$1")" \
    --local-address 127.0.0.1 --size 640x360 --duration 3 >"$work/share$1.out" 2>"$work/share$1.err"
  local st=$?
  for _ in $(seq 50); do [ "$(grep -c "closed:" "$work/relay.err")" -ge "$1" ] && break; sleep 0.1; done
  return $st
}
publish 1 && ok "first publication" || bad "share 1: $(tail -2 "$work/share1.err")"
sleep 2
publish 2 && ok "second publication, 2 s later" || bad "share 2: $(tail -2 "$work/share2.err")"
grep "recording" "$work/relay.err" | sed 's/^/  /'
mapfile -t files < <(ls "$work"/rec/*.tdmrec 2>/dev/null)
[ "${#files[@]}" = 2 ] && ok "two recording files" || { bad "${#files[@]} files"; exit 1; }

out=$("$replay" list "$work/rec" "${k[@]}")
echo "$out" | sed 's/^/  /'
grep -Eq "^  session segs  2 segments .* 1 gap \((1\.[5-9]|2\.[0-9]|3\.[0-9]) s\)  complete$" <<<"$out" \
  && ok "list: one session, 2 segments, the gap" || bad "list"
out=$("$replay" verify "$work/rec/segs" "${k[@]}")
grep -q "session segs: OK: 2 segments verified" <<<"$out" && ok "verify: both segments" \
  || { bad "verify"; echo "$out"; }

n_alone=0
for i in 0 1; do
  "$replay" export "${files[$i]}" "${k[@]}" --out "$work/alone$i.webm" >/dev/null 2>&1 || bad "export $i"
  if "$check" "$work/alone$i.webm" --frames 0 >"$work/check$i.out" 2>&1; then
    ok "segment $((i + 1)) alone: $(cat "$work/check$i.out")"
  else
    bad "segment $((i + 1)) stamps: $(cat "$work/check$i.out")"
  fi
  n=$(ffprobe -v error -count_packets -select_streams v -show_entries stream=nb_read_packets \
      -of csv=p=0 "$work/alone$i.webm")
  n_alone=$((n_alone + n))
done
out=$("$replay" export "$work/rec/segs" "${k[@]}" --out "$work/joined.webm" 2>&1) \
  && ok "export: joined" || { bad "export joined"; echo "$out"; }
# A live share's frames come at uneven times (capture jitter): the null
# output's default encoder clock of 1/30 s would fold two of them onto one
# tick and complain; its clock is the file's (ms) instead.
err=$(ffmpeg -v error -i "$work/joined.webm" -enc_time_base:v -1 -f null - 2>&1)
[ $? -eq 0 ] && [ -z "$err" ] && ok "ffmpeg decodes the joined file" || bad "ffmpeg: $err"
ffprobe -v error -select_streams v -show_entries packet=pts_time,flags -of csv=p=0 \
  "$work/joined.webm" >"$work/pts"
[ "$(wc -l <"$work/pts")" = "$n_alone" ] && ok "the joined file holds both segments' $n_alone frames" \
  || bad "joined: $(wc -l <"$work/pts") frames, the two alone $n_alone"
python3 - "$work/pts" <<'PY' && ok "timestamps increase; the gap is in them, the seam a keyframe" || bad "seam"
import sys
rows = [l.strip().split(",") for l in open(sys.argv[1]) if l.strip()]
t = [float(r[0]) for r in rows]
assert t == sorted(t), "pts not increasing"
jumps = sorted(((t[i + 1] - t[i], i + 1) for i in range(len(t) - 1)), reverse=True)
big, at = jumps[0]
assert big >= 1.5, "largest jump %.3f s" % big
assert jumps[1][0] < 1.0, "two gaps? %r" % jumps[:2]
assert rows[at][1].startswith("K"), "frame after the gap is not a keyframe"
print("  gap in the timestamps: %.3f s before frame %d" % (big, at))
PY
ffprobe -v error -show_chapters -of csv=p=0 "$work/joined.webm" | grep -q "gap: nothing recorded" \
  && ok "the gap is a chapter" || bad "no gap chapter"
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
