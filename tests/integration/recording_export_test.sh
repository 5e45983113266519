#!/usr/bin/env bash
# A synthetic session (VP8 + Opus, then VP9) recorded through the writer,
# verified and exported by tandem-replay; the WebM decodes with ffmpeg and,
# frame by frame with codec/'s decoder, shows every embedded frame number in
# order (recording_webm_check); ffprobe counts the frames too. A recording
# with a hole in it exports what can be played. thumbs makes a contact sheet.
# usage: recording_export_test.sh TANDEM_REPLAY RECORDING_SYNTH WEBM_CHECK
set -euo pipefail
replay=$1 synth=$2 check=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/master.key"
fail() { echo "FAIL: $*" >&2; exit 1; }

for codec in vp8 vp9; do
  frames=150
  opus=(); [[ $codec == vp8 ]] && opus=(--opus)
  out=$("$synth" "$dir/$codec.rec" --key-file "$dir/master.key" --codec $codec --frames $frames "${opus[@]}")
  [[ $out == "frames $frames" ]] || fail "$codec: synth said '$out'"
  "$replay" verify "$dir/$codec.rec" --key-file "$dir/master.key" | grep -q "OK: .* complete" \
    || fail "$codec: verify"
  info=$("$replay" info "$dir/$codec.rec" --key-file "$dir/master.key")
  grep -Eq "duration: (4\.9|5\.0)" <<<"$info" || fail "$codec: info duration: $info"
  grep -q "ends: complete" <<<"$info" || fail "$codec: info ending: $info"
  "$replay" export "$dir/$codec.rec" --key-file "$dir/master.key" --out "$dir/$codec.webm" >/dev/null \
    || fail "$codec: export"
  "$check" "$dir/$codec.webm" --frames $frames "${opus[@]}" || fail "$codec: stamps"
  if command -v ffmpeg >/dev/null; then
    err=$(ffmpeg -v error -i "$dir/$codec.webm" -f null - 2>&1) || fail "$codec: ffmpeg cannot decode"
    [[ -z $err ]] || fail "$codec: ffmpeg complains: $err"
    n=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames \
        -of csv=p=0 "$dir/$codec.webm")
    [[ $n == "$frames" ]] || fail "$codec: ffprobe counts $n frames"
    fmt=$(ffprobe -v error -show_entries format=format_name -of csv=p=0 "$dir/$codec.webm")
    [[ $fmt == *webm* ]] || fail "$codec: format $fmt"
  else
    echo "note: ffmpeg not installed; decoded with codec/ only"
  fi
done
# thumbs: one picture a second of the 5 s VP8 recording, a PNG of that size.
out=$("$replay" thumbs "$dir/vp8.rec" --key-file "$dir/master.key" --out "$dir/sheet.png" --every 1 \
      --width 160 --columns 3)
grep -q "5 pictures, one every 1 s, sheet 496x" <<<"$out" || fail "thumbs said: $out"
[[ $(od -An -tx1 -N8 "$dir/sheet.png" | tr -d ' ') == 89504e470d0a1a0a ]] || fail "thumbs: not a PNG"
# 3 columns of 160 + 4 gaps of 4 = 496 wide; 2 rows of 90 + 3 gaps = 192 high.
[[ $(od -An -tu1 -j16 -N8 "$dir/sheet.png" | tr -s ' ') == " 0 0 1 240 0 0 0 192" ]] \
  || fail "thumbs: PNG size $(od -An -tu1 -j16 -N8 "$dir/sheet.png")"

# Packets the relay never got (frames 40..59), then a keyframe: the export
# gives up on the broken frames as a live receiver would and goes on at the
# keyframe; every frame present is in order.
"$synth" "$dir/gap.rec" --key-file "$dir/master.key" --frames 120 --skip 40:60 >/dev/null
"$replay" export "$dir/gap.rec" --key-file "$dir/master.key" --out "$dir/gap.webm" >/dev/null \
  || fail "gap: export"
"$check" "$dir/gap.webm" --frames 100 --missing 40:60 || fail "gap: stamps"
echo "recording_export_test: ok"
