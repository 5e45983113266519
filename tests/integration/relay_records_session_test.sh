#!/usr/bin/env bash
# The relay records what it forwards: share -> relay (--record-dir) -> view
# inside a network namespace this test creates; when the share leaves, the
# relay closes the file and logs its hash; tandem-replay verifies it with the
# master key, exports it to WebM, and every frame stamp in the WebM runs in
# order without a gap. The wrong key is refused.
# usage: relay_records_session_test.sh RELAY SHARE VIEW REPLAY WEBM_CHECK
set -u
relay=$1 share=$2 view=$3 replay=$4 check=$5
# shellcheck source=recording_relay_lib.sh
. "$(dirname "$0")/recording_relay_lib.sh"
rr_setup rec

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/other.key"
"$relay" serve --help | grep -q -- '--record-dir' && ok "relay --help names --record-dir" || bad "relay --help"
"$relay" serve -n n1 -s "$work/secret" -a 127.0.0.1 --record-dir "$work/rec" 2>"$work/err"
[ $? -eq 2 ] && grep -q "recording-key-file" "$work/err" && ok "--record-dir without a key is status 2" \
  || { bad "--record-dir without a key"; cat "$work/err"; }

rr_start_relay "$relay"
tok() { rr_token "$relay" rec "$1" "$2"; }

ip netns exec "$ns" "$share" --url "http://$addr/whip/rec" --token "$(tok p publish)" \
  --local-address 127.0.0.1 --size 640x360 --duration 6 >"$work/share.out" 2>"$work/share.err" &
share_pid=$!
pids+=($share_pid)
sleep 1
ip netns exec "$ns" "$view" --url "http://$addr/whep/rec" --token "$(tok v subscribe)" \
  --local-address 127.0.0.1 --duration 4 --expect-frames 60 >"$work/view.out" 2>"$work/view.err"
[ $? -eq 0 ] && ok "the view still gets its frames while the relay records" || bad "view"
wait "$share_pid" || bad "share status"
for _ in $(seq 50); do grep -q "closed:" "$work/relay.err" && break; sleep 0.1; done
grep "recording" "$work/relay.err" | sed 's/^/  /'
grep -Eq "recording .* closed: [0-9]+ packets, 0 dropped, sha256 [0-9a-f]{64}" "$work/relay.err" \
  && ok "the relay closed the recording and logged its hash" || bad "no closing line"
file=$(ls "$work"/rec/*.tdmrec 2>/dev/null | head -1)
[ -n "$file" ] || { bad "no recording file"; echo "$failures failure(s)"; exit 1; }
metrics=$(ip netns exec "$ns" curl -s "http://$addr/metrics")
echo "$metrics" | grep -q '^tandem_relay_recordings_started_total 1' && ok "metrics: one recording" \
  || bad "tandem_relay_recordings_started_total"
echo "$metrics" | grep -q '^tandem_relay_recording_drops_total 0' && ok "metrics: nothing dropped" \
  || bad "tandem_relay_recording_drops_total"

"$replay" verify "$file" --key-file "$work/master.key" >"$work/verify.out" 2>&1 \
  && ok "tandem-replay verify: $(head -1 "$work/verify.out")" || { bad "verify"; cat "$work/verify.out"; }
# The streams' SSRCs, from the share's offer (a=ssrc), are in the header.
"$replay" info "$file" --key-file "$work/master.key" >"$work/info.out" 2>&1
grep -Eq "stream [0-9]+: VP8, .*ssrc 0x[0-9a-f]{8}" "$work/info.out" \
  && ! grep -q "ssrc 0x00000000" "$work/info.out" \
  && ok "tandem-replay info: $(grep -o 'VP8, .*ssrc 0x[0-9a-f]*' "$work/info.out")" \
  || { bad "info: a stream without its SSRC"; cat "$work/info.out"; }
"$replay" verify "$file" --key-file "$work/other.key" >"$work/wrong.out" 2>&1
[ $? -eq 1 ] && grep -qi "wrong key" "$work/wrong.out" && ok "the wrong master key is refused" \
  || { bad "wrong key"; cat "$work/wrong.out"; }
"$replay" export "$file" --key-file "$work/master.key" --out "$work/rec.webm" >/dev/null 2>"$work/export.err" \
  && ok "exported to WebM" || { bad "export"; cat "$work/export.err"; }
if "$check" "$work/rec.webm" --frames 0 >"$work/check.out" 2>&1; then
  n=$(grep -o 'ok: [0-9]*' "$work/check.out" | grep -o '[0-9]*')
  if [ "${n:-0}" -ge 120 ]; then ok "WebM: $(cat "$work/check.out")"; else bad "only ${n:-0} frames"; fi
else
  bad "WebM stamps"; cat "$work/check.out"
fi
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
