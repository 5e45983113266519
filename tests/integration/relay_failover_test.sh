#!/usr/bin/env bash
# Relay failover and drain (issue 8), with real processes inside a network
# namespace this test creates (only its loopback is up): one tandem-signal
# (relay_ttl_s 3), three tandem-relay heartbeating every second into one
# shared --record-dir, tandem-share joined with the customer's code,
# tandem-view in signal mode with the session file tandem-rep saved.
#   1. kill -9 of the relay under the live session: the service moves the
#      session (audit relay_failover, reason lost), the share re-publishes
#      and the view re-subscribes on another relay by themselves; the view
#      gets frames again, in order after the gap (the gap is printed, not
#      asserted);
#   2. drain by SIGTERM (--drain-deadline 6): the relay says draining at
#      once, new sessions go elsewhere, the live session goes on there
#      until the deadline, then the relay leaves (POST /relays/gone) and
#      the session moves again (reason gone);
#   3. drain by the admin call: no new session is placed on the relay
#      (media null when it is the last one), the live session goes on;
#      undrained, it takes new sessions again;
#   4. the recordings: one session in three segments (tandem-replay list,
#      verify), each segment's frame numbers in order and the segments in
#      order, the joined export decodes;
#   5. the audit chain verifies.
# With the 8th argument "redis": the same with two tandem-signal instances
# sharing a real redis-server started here (API.md "Cluster"): the customer
# and the admin calls on instance A, the rep (tandem-rep, tandem-view) on
# instance B; each instance tells its own sockets, one audit entry a move.
# usage: relay_failover_test.sh SIGNAL RELAY SHARE VIEW REP REPLAY WEBM_CHECK [redis]
set -u
signal=${1:?usage: relay_failover_test.sh SIGNAL RELAY SHARE VIEW REP REPLAY WEBM_CHECK [redis]}
relay=${2:?} share=${3:?} view=${4:?} rep=${5:?} replay=${6:?} check=${7:?}
mode=${8:-sqlite}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
for t in ip curl jq; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
[ "$mode" != redis ] || command -v redis-server >/dev/null || { echo "SKIP: no redis-server"; exit 77; }

ns=tdm_fo_$$
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  if [ "${failures:-1}" -ne 0 ] && [ -n "${KEEP_FAILED:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: cannot create namespace"; exit 1; }
in_ns() { ip netns exec "$ns" "$@"; }

failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Running, not a zombie waiting for our wait.
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status"; }

SIG=127.0.0.1:18643
SIG_REP=$SIG # where the rep's tools go (instance B with redis)
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/relay.secret"
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/cluster.secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/master.key"
mkdir "$work/rec"
cat >"$work/config.json" <<JSON
{"public_url": "http://$SIG",
 "relay_token_secret_file": "relay.secret",
 "recording_master_key_file": "master.key",
 "cluster_secret_file": "cluster.secret",
 "relay_ttl_s": 3}
JSON
if [ "$mode" = redis ]; then
  ip netns exec "$ns" redis-server --port 16379 --bind 127.0.0.1 --dir "$work" --save '' \
    --appendonly no >"$work/redis.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do in_ns redis-cli -p 16379 ping >/dev/null 2>&1 && break; sleep 0.1; done
  store=(--redis redis://127.0.0.1:16379)
else
  store=(--db "$work/signal.db")
fi
echo 'a-password-for-alice' >"$work/alice.pw"
in_ns "$signal" user add alice --role rep "${store[@]}" <"$work/alice.pw" >/dev/null || { echo "FAIL: user add"; exit 1; }
echo 'a-password-for-root' | in_ns "$signal" user add root --role admin "${store[@]}" >/dev/null
echo 'a-password-for-audrey' | in_ns "$signal" user add audrey --role auditor "${store[@]}" >/dev/null

ip netns exec "$ns" "$signal" serve "${store[@]}" --config "$work/config.json" --listen "$SIG" \
  >"$work/signal.out" 2>"$work/signal.err" &
pids+=($!)
if [ "$mode" = redis ]; then
  SIG_REP=127.0.0.1:18644
  ip netns exec "$ns" "$signal" serve "${store[@]}" --config "$work/config.json" --listen "$SIG_REP" \
    >"$work/signalB.out" 2>"$work/signalB.err" &
  pids+=($!)
fi
declare -A rpid rport
start_relay() { # ID PORT
  ip netns exec "$ns" "$relay" serve --listen "127.0.0.1:$2" --node-id "$1" --secret-file "$work/relay.secret" \
    --cluster-secret-file "$work/cluster.secret" --local-address 127.0.0.1 --workers 1 \
    --record-dir "$work/rec" --recording-key-file "$work/master.key" \
    --signal-url "http://$SIG" --public-url "http://127.0.0.1:$2" --heartbeat-interval 1 \
    --drain-deadline 6 >"$work/$1.out" 2>"$work/$1.err" &
  rpid[$1]=$!
  rport[$1]=$2
  pids+=($!)
}
start_relay r1 18281
start_relay r2 18282
start_relay r3 18283

api() { # METHOD PATH [BODY] [HEADER]: prints the body, then the status on its own line
  in_ns curl -s -X "$1" "http://$SIG$2" -H 'Content-Type: application/json' ${4:+-H "$4"} \
    --data "${3:-{\}}" -w '\n%{http_code}'
}
body() { sed '$d'; }
for _ in $(seq 100); do
  in_ns curl -sf "http://$SIG/healthz" >/dev/null 2>&1 && in_ns curl -sf "http://$SIG_REP/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
admin=$(api POST /api/v1/login '{"name":"root","password":"a-password-for-root"}' | body | jq -r .token)
relays() { api GET /api/v1/relays '' "Authorization: Bearer $admin" | body; }
for _ in $(seq 100); do [ "$(relays | jq '.relays | length')" = 3 ] && break; sleep 0.1; done
[ "$(relays | jq '.relays | length')" = 3 ] && ok "three relays heartbeat into the registry" \
  || { bad "registry: $(relays)"; cat "$work/signal.err"; exit 1; }

# --- the session: rep (tandem-rep), customer (tandem-share), view ------------
R() { in_ns "$rep" --signal "http://$SIG_REP" "$@"; }
R login --user alice --password-file "$work/alice.pw" --save "$work/alice.tok" >/dev/null \
  || { bad "tandem-rep login"; exit 1; }
R session new --token-file "$work/alice.tok" --save "$work/sess" >"$work/sess.out" \
  || { bad "tandem-rep session new"; exit 1; }
sid=$(awk '$1=="session_id"{print $2}' "$work/sess")
code=$(awk '$1=="join_code"{print $2}' "$work/sess")
[[ $sid == s_* ]] && ok "session $sid opened by tandem-rep" || { bad "session file: $(cat "$work/sess.out")"; exit 1; }

ip netns exec "$ns" "$share" --signal "http://$SIG" --join-code "$code" --local-address 127.0.0.1 \
  --size 320x240 --fps 30 --duration 120 >"$work/share.out" 2>"$work/share.err" &
share_pid=$!
pids+=($share_pid)
ip netns exec "$ns" "$view" --signal "http://$SIG_REP" --session-file "$work/sess" --local-address 127.0.0.1 \
  --duration 120 >"$work/view.out" 2>"$work/view.err" &
view_pid=$!
pids+=($view_pid)

frames() { awk '/^view: t=/{f=$8} END{print f+0}' "$work/view.out"; }
wait_frames() { # MORE: wait until the view decoded MORE frames than now (10 s)
  local want=$(( $(frames) + $1 ))
  for _ in $(seq 100); do [ "$(frames)" -ge "$want" ] && return 0; sleep 0.1; done
  return 1
}
wait_frames 30 && ok "the view decodes frames ($(frames))" \
  || { bad "no frames: $(tail -3 "$work/view.out") $(tail -3 "$work/view.err") $(tail -3 "$work/share.err")"; exit 1; }
# --secret instead of the file: the service names the session in its welcome.
out=$(in_ns "$view" --signal "http://$SIG_REP" --secret "$(awk '$1=="secret"{print $2}' "$work/sess")" \
  --local-address 127.0.0.1 --expect-frames 10 --duration 15 2>&1)
grep -q "^view: session $sid media " <<<"$out" && grep -q '^frames [1-9]' <<<"$out" \
  && ok "tandem-view --signal --secret finds the session and decodes" || bad "view --secret: $(tail -3 <<<"$out")"
url=$(awk '/^view: session /{print $5}' "$work/view.out")
port=${url#http://127.0.0.1:}; port=${port%%/*}
first=""
for id in r1 r2 r3; do [ "${rport[$id]}" = "$port" ] && first=$id; done
[ -n "$first" ] && ok "the session is on relay $first ($url)" || { bad "view media URL '$url'"; exit 1; }

# --- 1. kill -9 of that relay --------------------------------------------------
t_kill=$(now_ms)
kill -KILL "${rpid[$first]}"
resumed=""
for _ in $(seq 300); do grep -q '^view: gap ' "$work/view.out" && { resumed=$(now_ms); break; }; sleep 0.05; done
if [ -n "$resumed" ]; then
  gap_line=$(grep -m1 '^view: gap ' "$work/view.out")
  echo "FAILOVER kill -9 -> frames again at the view after $((resumed - t_kill)) ms ($gap_line)"
  ok "frames resumed after the relay was killed"
else
  bad "no frame after the kill: $(tail -3 "$work/view.out"; tail -5 "$work/view.err"; tail -5 "$work/signal.err")"
fi
second=$(sed -nE "s/.*session $sid moved from relay $first \(lost\) to ([^,]+),.*/\1/p" "$work/signal.err" | head -1)
[ -n "$second" ] && [ "$second" != "$first" ] && ok "signaling moved the session from $first to $second (lost)" \
  || bad "no move in the signaling log: $(grep -i 'moved\|relay' "$work/signal.err" | tail -5)"
grep -q '^share: moved to ' "$work/share.out" && ok "tandem-share re-published by itself: $(grep -m1 '^share: moved' "$work/share.out")" \
  || bad "share did not move: $(tail -5 "$work/share.err")"
wait_frames 30 && ok "frames go on after the move ($(frames))" || bad "frames stopped after the move"
gap_from=$(sed -nE 's/^view: gap [0-9]+ ms frames ([0-9-]+)\.\.([0-9]+) .*/\1/p' "$work/view.out" | head -1)
gap_to=$(sed -nE 's/^view: gap [0-9]+ ms frames ([0-9-]+)\.\.([0-9]+) .*/\2/p' "$work/view.out" | head -1)
[ -n "$gap_to" ] && [ "$gap_to" -gt "$gap_from" ] && ok "frame numbers go on in order after the gap ($gap_from -> $gap_to)" \
  || bad "gap frames '$gap_from' '$gap_to'"
grep -q 'out_of_order [1-9]' "$work/view.out" && bad "frames out of order: $(grep -m1 'out_of_order [1-9]' "$work/view.out")" \
  || ok "no frame out of order so far"

# --- 2. drain by SIGTERM ---------------------------------------------------------
t_term=$(now_ms)
kill -TERM "${rpid[$second]}"
for _ in $(seq 50); do
  [ "$(relays | jq -r --arg id "$second" '.relays[] | select(.id == $id) | .draining')" = true ] && break
  sleep 0.1
done
[ "$(relays | jq -r --arg id "$second" '.relays[] | select(.id == $id) | .draining')" = true ] \
  && ok "SIGTERM: $second heartbeats as draining" || bad "registry after SIGTERM: $(relays)"
third=""
for id in r1 r2 r3; do [ "$id" != "$first" ] && [ "$id" != "$second" ] && third=$id; done
placed_ok=1
for i in 1 2 3; do
  o=$(api POST /api/v1/sessions '{}' "Authorization: Bearer $(cat "$work/alice.tok")" | body)
  u=$(echo "$o" | jq -r .media.url)
  case "$u" in "http://127.0.0.1:${rport[$third]}/"*) ;; *) placed_ok=0; echo "  new session $i: $u" ;; esac
done
[ $placed_ok = 1 ] && ok "new sessions go to $third, none to the draining $second" || bad "placement while draining"
before=$(frames)
sleep 3
alive "${rpid[$second]}" && ok "the draining relay still runs 3 s after SIGTERM" || bad "$second left before its deadline"
[ "$(grep -c '^view: gap ' "$work/view.out")" = 1 ] && [ "$(frames)" -gt $((before + 30)) ] \
  && ok "the live session goes on on the draining relay ($before -> $(frames) frames)" \
  || bad "the session did not go on while draining: $(tail -2 "$work/view.out")"
for _ in $(seq 150); do alive "${rpid[$second]}" || break; sleep 0.1; done
if alive "${rpid[$second]}"; then
  bad "$second still runs 15 s after SIGTERM"
else
  wait "${rpid[$second]}"; st=$?
  [ $st = 0 ] && ok "$second left after its drain deadline ($(( $(now_ms) - t_term )) ms after SIGTERM), status 0" \
    || bad "$second exit status $st"
fi
grep -q 'drain deadline passed with 1 session' "$work/$second.err" && ok "$second: 'drain deadline passed with 1 session(s) left'" \
  || bad "$second log: $(tail -5 "$work/$second.err")"
for _ in $(seq 100); do [ "$(grep -c '^view: gap ' "$work/view.out")" -ge 2 ] && break; sleep 0.1; done
[ "$(grep -c '^view: gap ' "$work/view.out")" -ge 2 ] && echo "FAILOVER drain deadline -> $(grep '^view: gap ' "$work/view.out" | tail -1)"
grep -q "session $sid moved from relay $second (gone) to $third" "$work/signal.err" \
  && ok "signaling moved the session from $second to $third (gone)" \
  || bad "no gone move: $(grep -i 'moved\|gone\|leaving' "$work/signal.err" | tail -5)"
wait_frames 30 && ok "frames go on on $third ($(frames))" || bad "frames stopped after the drain: $(tail -3 "$work/view.err")"

# --- 3. drain by the admin call ----------------------------------------------------
r=$(api POST "/api/v1/relays/$third/drain" '{"deadline_s": 3600}' "Authorization: Bearer $(cat "$work/alice.tok")" | tail -1)
[ "$r" = 403 ] && ok "a rep may not drain a relay (403)" || bad "rep drain: $r"
r=$(api POST "/api/v1/relays/$third/drain" '{"deadline_s": 3600}' "Authorization: Bearer $admin" | tail -1)
[ "$r" = 200 ] && ok "admin drained $third" || bad "admin drain: $r"
[ "$(relays | jq -r --arg id "$third" '.relays[] | select(.id == $id) | .draining')" = true ] \
  && ok "the registry lists $third as draining" || bad "registry: $(relays)"
o=$(api POST /api/v1/sessions '{}' "Authorization: Bearer $(cat "$work/alice.tok")" | body)
[ "$(echo "$o" | jq -c .media)" = null ] && ok "no new session on the drained relay (media null: no other relay)" \
  || bad "new session while drained: $(echo "$o" | jq -c .media)"
sleep 1.5  # two heartbeats: the relay's own 'not draining' must not undo the mark
o=$(api POST /api/v1/sessions '{}' "Authorization: Bearer $(cat "$work/alice.tok")" | body)
[ "$(echo "$o" | jq -c .media)" = null ] && ok "still none after the relay's next heartbeats" || bad "drain mark lost"
wait_frames 20 && ok "the live session goes on on the drained relay ($(frames))" || bad "frames stopped on admin drain"
r=$(api DELETE "/api/v1/relays/$third/drain" '' "Authorization: Bearer $admin" | tail -1)
[ "$r" = 200 ] && ok "admin undrained $third" || bad "undrain: $r"
for _ in $(seq 30); do
  o=$(api POST /api/v1/sessions '{}' "Authorization: Bearer $(cat "$work/alice.tok")" | body)
  [ "$(echo "$o" | jq -r .media.url)" != null ] && break
  sleep 0.1
done
case "$(echo "$o" | jq -r .media.url)" in
  "http://127.0.0.1:${rport[$third]}/"*) ok "undrained, $third takes new sessions again" ;;
  *) bad "after undrain: $(echo "$o" | jq -c .media)" ;;
esac

# --- the end of the session ----------------------------------------------------------
kill -INT "$share_pid"
wait "$share_pid"; st=$?
[ $st = 0 ] && ok "tandem-share stopped cleanly: $(grep '^share: moved .* time' "$work/share.out")" || bad "share status $st: $(tail -3 "$work/share.err")"
kill -INT "$view_pid"
wait "$view_pid"; st=$?
summary=$(tail -1 "$work/view.out")
echo "view: $(grep '^view: moves' "$work/view.out") / $summary"
[ $st = 0 ] && ok "tandem-view exits 0 (frames, none out of order)" || bad "view status $st: $(tail -3 "$work/view.err")"
echo "$summary" | grep -q 'out_of_order 0 ' && ok "view summary: no frame out of order across two moves" || bad "summary: $summary"
[ "$(grep -c '^view: gap ' "$work/view.out")" = 2 ] && ok "the view reports two gaps" || bad "gaps: $(grep '^view: gap' "$work/view.out")"

# --- 4. recordings -----------------------------------------------------------------
k=(--key-file "$work/master.key")
for _ in $(seq 100); do
  [ "$(grep -l "closed:" "$work/$third.err" 2>/dev/null)" ] && break
  sleep 0.1
done
ls "$work/rec" >"$work/rec.ls"
[ "$(grep -c "^$sid-" "$work/rec.ls")" = 3 ] && ok "three recording files of the session (one per relay)" \
  || bad "recordings: $(cat "$work/rec.ls")"
out=$("$replay" list "$work/rec" "${k[@]}" 2>&1)
grep -Eq "session $sid  3 segments" <<<"$out" && ok "tandem-replay list: one session in 3 segments" \
  || bad "list: $out"
out=$("$replay" verify "$work/rec/$sid" "${k[@]}" 2>&1); st=$?
echo "$out" | sed 's/^/  verify: /'
[ $st = 0 ] && ok "tandem-replay verify passes (the killed relay's segment is cut, the others complete)" \
  || bad "verify status $st"
# Each segment alone: frame numbers in order with none missing; segments in order.
prev_last=-1; seg_ok=1; n=0; holes=()
for f in $(for f in "$work/rec/$sid"-*.tdmrec; do echo "$("$replay" info "$f" "${k[@]}" | awk '/^start/{print $2}') $f"; done | sort | awk '{print $2}'); do
  n=$((n + 1))
  "$replay" export "$f" "${k[@]}" --out "$work/seg$n.webm" >/dev/null 2>&1 || { seg_ok=0; echo "  export $f failed"; continue; }
  o=$("$check" "$work/seg$n.webm" --frames 0 --first 999999999 2>&1)
  fst=$(sed -nE 's/.*picture 0 carries frame ([0-9]+),.*/\1/p' <<<"$o")
  o=$("$check" "$work/seg$n.webm" --frames 0 --first "${fst:-0}" 2>&1) || { seg_ok=0; echo "  segment $n: $o"; continue; }
  lst=$(sed -nE 's/^ok: [0-9]+ frames, stamps [0-9]+\.\.([0-9]+).*/\1/p' <<<"$o")
  echo "  segment $n $(basename "$f"): $o"
  [ "$fst" -gt "$prev_last" ] || { seg_ok=0; echo "  segment $n starts at $fst, not after $prev_last"; }
  [ $n -gt 1 ] && [ "$fst" -gt $((prev_last + 1)) ] && holes+=("$((prev_last + 1)):$fst")
  [ $n = 1 ] && joined_first=$fst
  prev_last=$lst
done
[ $seg_ok = 1 ] && [ $n = 3 ] && ok "each segment's frames are in order with none missing, segments in order" \
  || bad "segments"
out=$("$replay" export "$work/rec/$sid" "${k[@]}" --out "$work/joined.webm" 2>&1); st=$?
[ $st = 0 ] && grep -q "3 segments" <<<"$out" && ok "tandem-replay joins the segments: $out" || bad "joined export: $out"
# The joined file: frame numbers in order across the seams, the frames lost
# in a gap absent (the checker takes one such hole).
if [ ${#holes[@]} -le 1 ] && [ -s "$work/joined.webm" ]; then
  o=$("$check" "$work/joined.webm" --frames 0 --first "${joined_first:-0}" ${holes[0]:+--missing "${holes[0]}"} 2>&1) \
    && ok "joined WebM: frames in order across the seams (${holes[0]:-no frame lost} missing): $o" \
    || bad "joined WebM: $o"
else
  echo "  joined WebM: ${#holes[@]} holes (${holes[*]}); checked segment by segment above"
fi

# --- 5. audit ------------------------------------------------------------------------
aud=$(api POST /api/v1/login '{"name":"audrey","password":"a-password-for-audrey"}' | body | jq -r .token)
audit=$(api GET "/api/v1/sessions/$sid/audit" '' "Authorization: Bearer $aud" | body)
moves=$(echo "$audit" | jq -c '[.entries[] | select(.kind == "relay_failover") | .detail]')
echo "  audit relay_failover: $moves"
[ "$(echo "$moves" | jq length)" = 2 ] \
  && [ "$(echo "$moves" | jq -r '.[0] | "\(.from) \(.to) \(.reason)"')" = "$first $second lost" ] \
  && [ "$(echo "$moves" | jq -r '.[1] | "\(.from) \(.to) \(.reason)"')" = "$second $third gone" ] \
  && ok "audit: relay_failover $first->$second (lost), $second->$third (gone)" || bad "audit moves: $moves"
in_ns "$signal" audit verify "${store[@]}" --session "$sid" >"$work/verify.out" 2>&1 \
  && ok "the session's audit chain verifies" || bad "audit verify: $(cat "$work/verify.out")"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
