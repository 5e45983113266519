#!/usr/bin/env bash
# A relay killed with SIGKILL while it records a live session (issue 6):
# share -> relay (--record-dir) -> view inside a network namespace this
# test creates (only its loopback is up). Once the view decodes frames
# through the relay, the relay gets kill -9 mid-session. The file it leaves:
#   - `verify` says it is incomplete (exit 1), truncated, and names the byte
#     where the verified part ends; `verify --allow-truncated` exits 0;
#   - `info` says it ends truncated;
#   - `export` writes a WebM and says the recording was cut short; ffmpeg
#     decodes it without a complaint, ffprobe counts its frames, and
#     recording_webm_check decodes each picture's frame stamp: 0, 1, 2, ...
#     in order, none missing, as many as ffprobe counted.
# (The writer fsyncs once a second; what reached the page cache survives a
# killed process, so the file holds close to everything forwarded.)
# usage: relay_recording_kill_test.sh RELAY SHARE VIEW REPLAY WEBM_CHECK
set -u
relay=$1 share=$2 view=$3 replay=$4 check=$5
# shellcheck source=recording_relay_lib.sh
. "$(dirname "$0")/recording_relay_lib.sh"
rr_setup reckill curl ffmpeg ffprobe

rr_start_relay "$relay"
tok() { rr_token "$relay" cut "$1" "$2"; }

ip netns exec "$ns" "$share" --url "http://$addr/whip/cut" --token "$(tok p publish)" \
  --local-address 127.0.0.1 --size 640x360 --duration 60 >"$work/share.out" 2>"$work/share.err" &
pids+=($!)
ip netns exec "$ns" "$view" --url "http://$addr/whep/cut" --token "$(tok v subscribe)" \
  --local-address 127.0.0.1 --duration 60 >"$work/view.out" 2>"$work/view.err" &
pids+=($!)

# Live: the relay records and the view decodes what it forwards. Then a few
# seconds more, so the file has several syncs behind it when the kill comes.
for _ in $(seq 100); do grep -q "recording session cut to" "$work/relay.err" && break; sleep 0.1; done
grep -q "recording session cut to" "$work/relay.err" && ok "the relay records session cut" \
  || { bad "no recording started: $(cat "$work/relay.err")"; echo "$failures failure(s)"; exit 1; }
fps_seen=0
for _ in $(seq 100); do
  # tandem-view prints its stats once a second: "view: t=2s fps 30 ... frames 57 ...".
  if grep -Eq '^view: .* frames [1-9]' "$work/view.out" 2>/dev/null; then fps_seen=1; break; fi
  sleep 0.1
done
[ $fps_seen = 1 ] && ok "the view decodes frames through the recording relay" \
  || bad "the view shows no frames: $(tail -3 "$work/view.out")"
# Kill once the view has decoded 90 frames (the file then holds several syncs).
viewed=0
for _ in $(seq 300); do
  viewed=$(sed -nE 's/^view: .* frames ([0-9]+) .*/\1/p' "$work/view.out" | tail -1)
  [ "${viewed:-0}" -ge 90 ] && break
  sleep 0.1
done
metrics=$(ip netns exec "$ns" curl -s "http://$addr/metrics")
bytes=$(echo "$metrics" | sed -nE 's/^tandem_relay_recording_bytes_total ([0-9]+).*/\1/p')
[ "${bytes:-0}" -gt 0 ] && ok "metrics: $bytes bytes recorded so far" || bad "nothing recorded: $bytes"

kill -KILL "$relay_pid"
echo "     (killed after the view had decoded ${viewed:-0} frames)"
wait "$relay_pid" 2>/dev/null; rrc=$?
[ "$rrc" -eq 137 ] && ok "the relay died of SIGKILL mid-session" || bad "relay exit status $rrc"
grep -q "closed:" "$work/relay.err" && bad "the relay closed the file before the kill" \
  || ok "the file was left open (no end record)"

file=$(ls "$work"/rec/*.tdmrec 2>/dev/null | head -1)
[ -n "$file" ] || { bad "no recording file"; echo "$failures failure(s)"; exit 1; }
size=$(stat -c %s "$file")

"$replay" verify "$file" --key-file "$work/master.key" >"$work/verify.out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "INCOMPLETE: truncated" "$work/verify.out" \
  && ok "verify: $(head -1 "$work/verify.out")" || { bad "verify of the cut file (exit $rc)"; cat "$work/verify.out"; }
end=$(grep -oE 'byte [0-9]+' "$work/verify.out" | head -1 | grep -oE '[0-9]+')
[ -n "$end" ] && [ "$end" -le "$size" ] && [ "$end" -gt $((size / 2)) ] \
  && ok "verify names where it ends: byte $end of $size" || bad "where it ends: '$end' of $size"
"$replay" verify --allow-truncated "$file" --key-file "$work/master.key" >"$work/verify2.out" 2>&1 \
  && grep -q "OK (truncated)" "$work/verify2.out" && ok "verify --allow-truncated exits 0" \
  || { bad "verify --allow-truncated"; cat "$work/verify2.out"; }
"$replay" info "$file" --key-file "$work/master.key" >"$work/info.out" 2>&1
grep -q "ends: truncated" "$work/info.out" && ok "info: $(grep 'ends:' "$work/info.out")" \
  || { bad "info"; cat "$work/info.out"; }

"$replay" export "$file" --key-file "$work/master.key" --out "$work/cut.webm" >"$work/export.out" 2>&1 \
  && ok "exported to WebM" || { bad "export"; cat "$work/export.out"; }
grep -q "cut short" "$work/export.out" && ok "export says the recording was cut short" \
  || { bad "export does not say it is cut"; cat "$work/export.out"; }
if [ -s "$work/cut.webm" ]; then
  # -enc_time_base:v -1 keeps the file's 1 ms clock on the way to the null
  # output: ffmpeg's default (1/frame rate) folds two live frames less than a
  # frame interval apart onto one tick and complains about its own output.
  err=$(ffmpeg -nostdin -v error -i "$work/cut.webm" -enc_time_base:v -1 -f null - 2>&1) && [ -z "$err" ] \
    && ok "ffmpeg decodes the WebM without a complaint" || bad "ffmpeg: $err"
  nprobe=$(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames \
           -of csv=p=0 "$work/cut.webm")
  if "$check" "$work/cut.webm" --frames 0 >"$work/check.out" 2>&1; then
    n=$(grep -o 'ok: [0-9]*' "$work/check.out" | grep -o '[0-9]*')
    if [ "${n:-0}" -ge 60 ]; then ok "frame stamps in order from 0: $(cat "$work/check.out")"
    else bad "only ${n:-0} frames survived"; fi
    [ "$nprobe" = "$n" ] && ok "ffprobe counts the same $nprobe frames" || bad "ffprobe counts '$nprobe', stamps $n"
  else
    bad "WebM stamps"; cat "$work/check.out"
  fi
fi
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
