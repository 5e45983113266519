#!/usr/bin/env bash
# Ending a session and removing a participant reach the relay (issue 5),
# with real processes inside a network namespace this test creates (only its
# loopback is up, so nothing reaches the machine's real interface):
# tandem-signal with a static relay and a cluster secret, tandem-relay with
# the same --cluster-secret-file, tandem-share publishing with the token of
# the customer join, tandem-view subscribing with the token of a rep join.
#   - removing a second rep: its old WHEP token gets 403 "participant removed"
#     while the session goes on;
#   - ending the session: the view's media stops (it exits 1 on the relay's
#     close_notify), the relay's endpoints gauge drops to 0, revocations are
#     counted, and a new WHEP POST with the old rep token gets 403 "session
#     ended" — the token itself is still valid for minutes;
#   - a relay without --cluster-secret-file has no /admin/revoke (404).
set -u
signal=${1:?usage: signal_revoke_session_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE TANDEM_VIEW}
relay=${2:?}
share=${3:?}
view=${4:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
for t in ip curl jq; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done

ns=tdm_rev_$$
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: cannot create namespace"; exit 1; }
# A function run with & would fork a subshell and $! would not be the
# program (cleanup would miss it): background programs go through
# ip netns exec directly.
in_ns() { ip netns exec "$ns" "$@"; }

failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }

# Fixed ports: the namespace is ours, so they are free, and the static relay
# entry in the config needs the relay's URL before it starts.
SIG=127.0.0.1:18443
REL=127.0.0.1:18080
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/relay.secret"
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/cluster.secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/master.key"
cat >"$work/config.json" <<JSON
{"public_url": "http://$SIG",
 "relays": [{"id": "n1", "url": "http://$REL"}],
 "relay_token_secret_file": "relay.secret",
 "recording_master_key_file": "master.key",
 "cluster_secret_file": "cluster.secret"}
JSON
echo 'a-password-for-alice' | "$signal" user add alice --role rep --db "$work/signal.db" >/dev/null \
  || { echo "FAIL: user add"; exit 1; }

ip netns exec "$ns" "$relay" serve --listen "$REL" --node-id n1 --secret-file "$work/relay.secret" \
  --cluster-secret-file "$work/cluster.secret" --local-address 127.0.0.1 --workers 2 \
  >"$work/relay.out" 2>"$work/relay.err" &
pids+=($!)
ip netns exec "$ns" "$signal" serve --db "$work/signal.db" --config "$work/config.json" --listen "$SIG" \
  >"$work/signal.out" 2>"$work/signal.err" &
pids+=($!)
for _ in $(seq 100); do
  in_ns curl -sf "http://$SIG/healthz" >/dev/null 2>&1 && grep -q listening "$work/relay.out" && break
  sleep 0.1
done
in_ns curl -sf "http://$SIG/healthz" >/dev/null || { echo "FAIL: signal did not start"; cat "$work/signal.err"; exit 1; }
grep -q listening "$work/relay.out" || { echo "FAIL: relay did not start"; cat "$work/relay.err"; exit 1; }

api() { # METHOD PATH [BODY] [HEADER]: prints the body, then the status on its own line
  in_ns curl -s -X "$1" "http://$SIG$2" -H 'Content-Type: application/json' ${4:+-H "$4"} \
    --data "${3:-{\}}" -w '\n%{http_code}'
}
body() { sed '$d'; }

login=$(api POST /api/v1/login '{"name":"alice","password":"a-password-for-alice"}' | body)
bearer=$(echo "$login" | jq -r .token)
open=$(api POST /api/v1/sessions '{}' "Authorization: Bearer $bearer" | body)
sid=$(echo "$open" | jq -r .session_id)
owner_secret=$(echo "$open" | jq -r .secret)
code=$(echo "$open" | jq -r .join_code)
[ -n "$sid" ] && [ "$sid" != null ] && ok "session opened" || { bad "open: $open"; exit 1; }
cust=$(api POST /api/v1/join "{\"code\":\"$code\",\"display_name\":\"Bob\"}" | body)
pub_url=$(echo "$cust" | jq -r .media.url)
pub_tok=$(echo "$cust" | jq -r .media.token)
rep1=$(api POST "/api/v1/sessions/$sid/reps" '{}' "Authorization: Bearer $bearer" | body)
view_url=$(echo "$rep1" | jq -r .media.url)
view_tok=$(echo "$rep1" | jq -r .media.token)
rep2=$(api POST "/api/v1/sessions/$sid/reps" '{}' "Authorization: Bearer $bearer" | body)
rep2_pid=$(echo "$rep2" | jq -r .participant_id)
rep2_tok=$(echo "$rep2" | jq -r .media.token)
case "$pub_url $view_url" in
  "http://$REL/whip/$sid http://$REL/whep/$sid") ok "customer got WHIP, rep got WHEP on the static relay" ;;
  *) bad "media URLs: '$pub_url' '$view_url'"; exit 1 ;;
esac

metric() { in_ns curl -s "http://$REL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
whep_with() { # token -> "status body"
  printf 'v=0\r\n' >"$work/offer.sdp"
  in_ns curl -s -o "$work/whep.body" -w '%{http_code}' -X POST "http://$REL/whep/$sid" \
    -H "Authorization: Bearer $1" -H 'Content-Type: application/sdp' --data-binary @"$work/offer.sdp"
  printf ' %s' "$(cat "$work/whep.body")"
}

ip netns exec "$ns" "$share" --url "$pub_url" --token "$pub_tok" --local-address 127.0.0.1 --size 320x240 \
  --duration 40 >"$work/share.out" 2>"$work/share.err" &
share_pid=$!
pids+=($share_pid)
sleep 1
ip netns exec "$ns" "$view" --url "$view_url" --token "$view_tok" --local-address 127.0.0.1 --duration 40 \
  >"$work/view.out" 2>"$work/view.err" &
view_pid=$!
pids+=($view_pid)
for _ in $(seq 100); do [ "$(metric tandem_relay_endpoints)" = 2 ] && break; sleep 0.1; done
[ "$(metric tandem_relay_endpoints)" = 2 ] && ok "publisher and viewer are on the relay" \
  || { bad "endpoints before: $(metric tandem_relay_endpoints)"; cat "$work/view.err" "$work/share.err"; }
# tandem-view prints a status line a second; wait for the first one.
for _ in $(seq 100); do grep -Eq 'fps|frames' "$work/view.out" && break; sleep 0.1; done
grep -Eq 'fps|frames' "$work/view.out" && ok "the view receives frames" || bad "no view output"

# --- removing a participant ---------------------------------------------------
r=$(api DELETE "/api/v1/sessions/$sid/participants/$rep2_pid" '{}' "X-Tandem-Secret: $owner_secret" | tail -1)
[ "$r" = 200 ] && ok "owner removed the second rep" || bad "remove: $r"
got=""
for _ in $(seq 50); do
  got=$(whep_with "$rep2_tok")
  [ "${got%% *}" = 403 ] && break
  sleep 0.1
done
[[ "$got" == "403 participant removed"* ]] && ok "removed rep's token: 403 participant removed" || bad "removed rep's WHEP: '$got'"
kill -0 "$view_pid" 2>/dev/null && ok "the other rep's view goes on" || bad "view ended on a participant removal"

# --- ending the session -----------------------------------------------------------
r=$(api POST "/api/v1/sessions/$sid/end" '{}' "X-Tandem-Secret: $owner_secret" | tail -1)
[ "$r" = 200 ] && ok "owner ended the session" || bad "end: $r"
for _ in $(seq 100); do [ "$(metric tandem_relay_endpoints)" = 0 ] && break; sleep 0.1; done
[ "$(metric tandem_relay_endpoints)" = 0 ] && ok "the relay's endpoints gauge dropped to 0" \
  || bad "endpoints after end: $(metric tandem_relay_endpoints)"
st=0
for _ in $(seq 100); do kill -0 "$view_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$view_pid" 2>/dev/null; then
  bad "the view still runs 10 s after the end"
else
  wait "$view_pid"; st=$?
  [ $st -ne 0 ] && ok "the view's media stopped: status $st ($(tail -1 "$work/view.err"))" || bad "view status 0"
fi
got=$(whep_with "$view_tok")
[[ "$got" == "403 session ended"* ]] && ok "old rep token after the end: 403 session ended" || bad "WHEP after end: '$got'"
[ "$(metric 'tandem_relay_revocations_total{kind="session"}')" = 1 ] && ok "metrics: one session revocation" \
  || bad "session revocations: $(metric 'tandem_relay_revocations_total{kind="session"}')"
[ "$(metric 'tandem_relay_revocations_total{kind="participant"}')" = 1 ] && ok "metrics: one participant revocation" \
  || bad "participant revocations: $(metric 'tandem_relay_revocations_total{kind="participant"}')"
grep -q "relay n1 revoked session $sid" "$work/signal.err" && ok "signaling logged the revocation" \
  || { bad "no revocation in the signaling log"; cat "$work/signal.err"; }

# --- the admin route's authentication, seen from outside ------------------------
r=$(in_ns curl -s -o /dev/null -w '%{http_code}' -X POST "http://$REL/admin/revoke" \
  -H 'Content-Type: application/json' --data "{\"session\":\"x\"}")
[ "$r" = 401 ] && ok "unsigned /admin/revoke: 401" || bad "unsigned admin: $r"
ip netns exec "$ns" "$relay" serve --listen 127.0.0.1:18081 --node-id n2 --secret-file "$work/relay.secret" \
  --no-media >"$work/relay2.out" 2>"$work/relay2.err" &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$work/relay2.out" && break; sleep 0.1; done
r=$(in_ns curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:18081/admin/revoke" \
  -H 'Content-Type: application/json' --data "{\"session\":\"x\"}")
[ "$r" = 404 ] && ok "relay without --cluster-secret-file: /admin/revoke is 404" || bad "no-secret admin: $r"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
