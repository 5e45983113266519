#!/usr/bin/env bash
# The relay records what it forwards: share -> relay (--record-dir) -> view
# inside a network namespace this test creates; when the share leaves, the
# relay closes the file and logs its hash; tandem-replay verifies it with the
# master key, exports it to WebM, and every frame stamp in the WebM runs in
# order without a gap. The wrong key is refused.
# usage: relay_records_session_test.sh RELAY SHARE VIEW REPLAY WEBM_CHECK
set -u
relay=$1 share=$2 view=$3 replay=$4 check=$5
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
ns=tdm_rec_$$
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }
ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: namespace"; exit 1; }

head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/master.key"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/other.key"
mkdir "$work/rec"
"$relay" serve --help | grep -q -- '--record-dir' && ok "relay --help names --record-dir" || bad "relay --help"
"$relay" serve -n n1 -s "$work/secret" -a 127.0.0.1 --record-dir "$work/rec" 2>"$work/err"
[ $? -eq 2 ] && grep -q "recording-key-file" "$work/err" && ok "--record-dir without a key is status 2" \
  || { bad "--record-dir without a key"; cat "$work/err"; }

ip netns exec "$ns" "$relay" serve --listen 127.0.0.1:0 --node-id n1 --secret-file "$work/secret" \
  --local-address 127.0.0.1 --record-dir "$work/rec" --recording-key-file "$work/master.key" \
  >"$work/relay.out" 2>"$work/relay.err" &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$work/relay.out" && break; sleep 0.1; done
addr=$(grep -o '127\.0\.0\.1:[0-9]*' "$work/relay.out" | head -1)
[ -n "$addr" ] || { echo "FAIL: relay did not start"; cat "$work/relay.err"; exit 1; }
tok() { "$relay" token --secret-file "$work/secret" --session rec --participant "$1" --role "$2" --node n1; }

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
