#!/usr/bin/env bash
# The customer's voice channel (tandem-share --audio), with real processes in
# a network namespace this test creates: tandem-share publishes video plus
# Opus in one WHIP session (BUNDLE), the relay records it, tandem-replay
# exports the recording to WebM and ffmpeg decodes its audio track, whose
# pitch is measured by counting zero crossings:
#   - --audio tone: 440 Hz comes out;
#   - --audio FILE.wav (a 1000 Hz tone made by ffmpeg): 1000 Hz comes out;
#   - a WAV at 44.1 kHz is refused with status 2, naming what it has.
set -u
relay=${1:?usage: desktop_audio_test.sh RELAY SHARE REPLAY}
share=${2:?}
replay=${3:?}
# shellcheck source=recording_relay_lib.sh
. "$(dirname "$0")/recording_relay_lib.sh"
rr_setup aud ffmpeg od

rr_start_relay "$relay"
tok() { rr_token "$relay" "$1" p publish; }

# pitch FILE.webm: the audio track's frequency in Hz from its zero crossings.
pitch() {
  ffmpeg -loglevel error -i "$1" -map 0:a:0 -ac 1 -ar 48000 -f s16le "$work/pcm.raw" -y || return 1
  od -An -v -td2 -w2 "$work/pcm.raw" | awk '
    { s = $1 + 0; if (NR > 4800 && ((s >= 0) != (prev >= 0))) z++; prev = s; n++ }
    END { if (n > 9600) printf "%.0f %d\n", z / 2 / ((n - 4800) / 48000), n }'
}

# run_share SESSION AUDIO: 4 s of synthetic video plus the voice channel;
# the recording's WebM in $work/SESSION.webm.
run_share() {
  ip netns exec "$ns" "$share" --url "http://$addr/whip/$1" --token "$(tok "$1")" \
    --local-address 127.0.0.1 --size 320x240 --fps 15 --duration 4 --audio "$2" \
    >"$work/$1.out" 2>"$work/$1.err"
  local st=$?
  [ $st -eq 0 ] || { bad "share ($2) exit $st: $(tail -2 "$work/$1.err")"; return 1; }
  for _ in $(seq 50); do grep -q "$1.*closed:" "$work/relay.err" && break; sleep 0.1; done
  local file
  file=$(ls "$work"/rec/"$1"-*.tdmrec 2>/dev/null | head -1)
  [ -n "$file" ] || { bad "no recording for $1"; return 1; }
  "$replay" export "$file" --key-file "$work/master.key" --out "$work/$1.webm" >/dev/null 2>"$work/$1.export" \
    || { bad "export $1: $(cat "$work/$1.export")"; return 1; }
}

if run_share tone tone; then
  grep -Eq 'audio_packets [1-9]' "$work/tone.out" && ok "tandem-share counts Opus packets sent" || bad "no audio_packets"
  read -r hz n < <(pitch "$work/tone.webm")
  echo "     tone: ${hz:-?} Hz over ${n:-0} samples"
  [ "${n:-0}" -ge 96000 ] && ok "the recording has at least 2 s of the customer's voice" || bad "only ${n:-0} samples"
  [ "${hz:-0}" -ge 430 ] && [ "${hz:-0}" -le 450 ] && ok "--audio tone arrives as 440 Hz ($hz)" || bad "tone pitch ${hz:-?}"
fi

ffmpeg -loglevel error -f lavfi -i sine=frequency=1000:sample_rate=48000 -t 1.5 -ac 1 \
  -c:a pcm_s16le "$work/voice.wav" -y || { bad "ffmpeg could not make a WAV"; }
if run_share wav "$work/voice.wav"; then
  read -r hz n < <(pitch "$work/wav.webm")
  echo "     wav: ${hz:-?} Hz over ${n:-0} samples"
  [ "${hz:-0}" -ge 980 ] && [ "${hz:-0}" -le 1020 ] && ok "--audio FILE.wav arrives as its 1000 Hz, looped ($hz)" \
    || bad "wav pitch ${hz:-?}"
fi

ffmpeg -loglevel error -f lavfi -i sine=frequency=1000:sample_rate=44100 -t 0.5 -ac 1 \
  -c:a pcm_s16le "$work/cd.wav" -y
ip netns exec "$ns" "$share" --url "http://$addr/whip/x" --token "$(tok x)" --local-address 127.0.0.1 \
  --audio "$work/cd.wav" >/dev/null 2>"$work/cd.err"
st=$?
[ $st -eq 2 ] && grep -q "44100 Hz" "$work/cd.err" && ok "a 44.1 kHz WAV is refused: $(cat "$work/cd.err")" \
  || bad "44.1 kHz WAV: status $st, $(cat "$work/cd.err")"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
