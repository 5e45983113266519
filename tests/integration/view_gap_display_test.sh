#!/usr/bin/env bash
# tandem-view --signal following a relay move with an unstamped source
# (clients/tandem_view.c): tandem-share --display on a real Xvfb (no frame
# stamps), one tandem-signal (relay_ttl_s 3), two tandem-relay heartbeating
# every second, inside a network namespace this test creates (only its
# loopback is up).
#   - while frames decode, the per-second lines say "latency_ms n/a" (no
#     stamp was read, so nothing was measured) and never a number;
#   - kill -9 of the relay under the session: the view follows the move and
#     prints the gap at the first picture after it, from the last picture
#     before (stamps or not): "view: gap N ms move 1 (no stamp: ...)";
#   - at the end "view: moves 1 gap_max_ms N", N that gap, and no "no
#     picture after the last move" (pictures were decoded after it).
# usage: view_gap_display_test.sh SIGNAL RELAY SHARE VIEW
set -u
signal=${1:?usage: view_gap_display_test.sh SIGNAL RELAY SHARE VIEW}
relay=${2:?} share=${3:?} view=${4:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
for t in ip curl jq Xvfb; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done

ns=tdm_vg_$$
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  if [ "${failures:-1}" -ne 0 ] && [ -n "${KEEP_FAILED:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: cannot create namespace"; exit 1; }
# Background processes are started with `ip netns exec` itself (which
# execs the program), so that $! is the program's PID.
in_ns() { ip netns exec "$ns" "$@"; }

failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }

SIG=127.0.0.1:18743
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/relay.secret"
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/cluster.secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/master.key"
cat >"$work/config.json" <<JSON
{"public_url": "http://$SIG",
 "relay_token_secret_file": "relay.secret",
 "recording_master_key_file": "master.key",
 "cluster_secret_file": "cluster.secret",
 "relay_ttl_s": 3}
JSON
echo 'a-password-for-alice' | in_ns "$signal" user add alice --role rep --db "$work/signal.db" >/dev/null \
  || { echo "FAIL: user add"; exit 1; }
ip netns exec "$ns" "$signal" serve --db "$work/signal.db" --config "$work/config.json" --listen "$SIG" \
  >"$work/signal.out" 2>"$work/signal.err" &
pids+=("$!")
declare -A rpid rport
for id in r1 r2; do
  p=$((18380 + ${id#r}))
  ip netns exec "$ns" "$relay" serve --listen "127.0.0.1:$p" --node-id "$id" --secret-file "$work/relay.secret" \
    --cluster-secret-file "$work/cluster.secret" --local-address 127.0.0.1 --workers 1 \
    --signal-url "http://$SIG" --public-url "http://127.0.0.1:$p" --heartbeat-interval 1 \
    >"$work/$id.out" 2>"$work/$id.err" &
  rpid[$id]=$!
  rport[$id]=$p
  pids+=("$!")
done
# Xvfb picks a free display and writes its number to fd 3; it runs outside
# the namespace (its abstract socket claims the number machine-wide), the
# programs inside reach it through /tmp/.X11-unix (tests/desktop_tests.cmake).
Xvfb -displayfd 3 -screen 0 320x240x24 -nolisten tcp 3>"$work/display" >"$work/xvfb.log" 2>&1 &
pids+=("$!")

api() { # METHOD PATH [BODY] [HEADER]: prints the body
  in_ns curl -s -X "$1" "http://$SIG$2" -H 'Content-Type: application/json' ${4:+-H "$4"} \
    --data "${3:-{\}}"
}
for _ in $(seq 100); do
  in_ns curl -sf "http://$SIG/healthz" >/dev/null 2>&1 && [ -s "$work/display" ] \
    && grep -q listening "$work/r1.out" && grep -q listening "$work/r2.out" && break
  sleep 0.1
done
[ -s "$work/display" ] || { echo "FAIL: Xvfb did not start"; cat "$work/xvfb.log"; exit 1; }
display=:$(head -1 "$work/display")
bearer=$(api POST /api/v1/login '{"name":"alice","password":"a-password-for-alice"}' | jq -r .token)
# Both relays registered (heartbeats), so the session can move.
registered() { grep -l 'heartbeat to .*: ok' "$work/r1.err" "$work/r2.err" 2>/dev/null | wc -l; }
for _ in $(seq 100); do [ "$(registered)" = 2 ] && break; sleep 0.1; done
n=$(registered)
open=$(api POST /api/v1/sessions '{}' "Authorization: Bearer $bearer")
sid=$(echo "$open" | jq -r .session_id)
secret=$(echo "$open" | jq -r .secret)
code=$(echo "$open" | jq -r .join_code)
[[ $sid == s_* ]] && [ "$n" = 2 ] && ok "session $sid opened, two relays registered" \
  || { bad "open: $open; $(tail -2 "$work/r1.err" "$work/r2.err")"; exit 1; }

ip netns exec "$ns" "$share" --signal "http://$SIG" --join-code "$code" --display "$display" \
  --local-address 127.0.0.1 --fps 15 >"$work/share.out" 2>"$work/share.err" &
pids+=("$!")
ip netns exec "$ns" "$view" --signal "http://$SIG" --secret "$secret" --local-address 127.0.0.1 --duration 90 \
  >"$work/view.out" 2>"$work/view.err" &
view_pid=$!
pids+=("$view_pid")

frames() { awk '/^view: t=/{f=$8} END{print f+0}' "$work/view.out"; }
wait_frames() { # MORE: wait until the view decoded MORE frames than now (15 s)
  local want=$(( $(frames) + $1 ))
  for _ in $(seq 150); do [ "$(frames)" -ge "$want" ] && return 0; sleep 0.1; done
  return 1
}
wait_frames 15 && ok "the view decodes the Xvfb screen ($(frames) frames)" \
  || { bad "no frames: $(tail -3 "$work/view.out") $(tail -3 "$work/view.err") $(tail -3 "$work/share.err")"; exit 1; }

# No stamp on a real display: the latency is not measured, and says so.
busy=$(awk '/^view: t=/ && $4 > 0' "$work/view.out")
if grep -q 'latency_ms n/a' <<<"$busy" && ! grep -q 'latency_ms avg' "$work/view.out"; then
  ok "seconds with frames but no stamp print 'latency_ms n/a': $(tail -1 <<<"$busy" | sed 's/.*plis/plis/')"
else
  bad "latency on an unstamped source: $(tail -2 <<<"$busy")"
fi

url=$(awk '/^view: session /{print $5}' "$work/view.out")
port=${url#http://127.0.0.1:}; port=${port%%/*}
first=""
for id in r1 r2; do [ "${rport[$id]}" = "$port" ] && first=$id; done
[ -n "$first" ] && ok "the session is on relay $first" || { bad "view media URL '$url'"; exit 1; }
kill -KILL "${rpid[$first]}"
wait "${rpid[$first]}" 2>/dev/null  # reaped here: no job notice in the log
for _ in $(seq 300); do grep -q '^view: gap ' "$work/view.out" && break; sleep 0.1; done
gap_line=$(grep -m1 '^view: gap ' "$work/view.out")
echo "  $gap_line"
if [[ $gap_line =~ ^view:\ gap\ ([0-9]+)\ ms\ move\ 1\ \(no\ stamp ]]; then
  gap_ms=${BASH_REMATCH[1]}
  ok "the view reports the gap of the move at its first picture after it ($gap_ms ms, no stamps)"
else
  bad "no gap line: $(grep '^view: moved\|^view: gap' "$work/view.out"; tail -3 "$work/view.err")"
fi
wait_frames 15 && ok "frames go on after the move ($(frames))" || bad "frames stopped after the move"

kill -INT "$view_pid"
wait "$view_pid"; st=$?
moves=$(grep '^view: moves' "$work/view.out")
echo "  $moves"
[ $st = 0 ] && ok "tandem-view exits 0" || bad "view status $st: $(tail -3 "$work/view.err")"
if [[ $moves =~ ^view:\ moves\ 1\ gap_max_ms\ ([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" = "${gap_ms:-x}" ] \
   && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
  ok "summary: one move, gap_max_ms the measured gap, pictures after the move"
else
  bad "summary: '$moves'"
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
