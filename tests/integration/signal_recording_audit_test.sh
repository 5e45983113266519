#!/usr/bin/env bash
# A relay's recordings reach the session's audit log (issue 6), with real
# processes inside a network namespace this test creates (only its loopback
# is up, so nothing reaches the machine's real interface): tandem-signal
# with a cluster secret, tandem-relay recording (--record-dir) and sending
# heartbeats and recording events (--signal-url), a customer publishing with
# tandem-share with the token of the join flow (API.md).
#   - after the share leaves, GET /api/v1/sessions/{sid}/audit (as an
#     auditor) has recording_started then recording_stopped, actor
#     relay:n1, for the file the relay wrote; the stopped entry's sha256
#     equals the hash the relay logged and the one tandem-replay info
#     reports, and tandem-replay verify passes;
#   - tandem-signal audit verify passes on the database;
#   - POST /api/v1/relays/recording: unsigned is 401, a signed event for an
#     unknown session is 404 (and logged), the same signed request again is
#     401 (its own replay check), a malformed hash is 400;
#   - a second session still publishing when the relay gets SIGTERM: the
#     relay closes the file and delivers recording_stopped before it exits,
#     with the hash it logged, the one tandem-replay info reports, and the
#     file verifies complete;
#   - a relay whose signaling service is unreachable still exits on SIGTERM
#     with its recording closed, saying the events were not delivered (the
#     wait for them is bounded; how long it took is printed, not asserted).
set -u
signal=${1:?usage: signal_recording_audit_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE TANDEM_REPLAY}
relay=${2:?}
share=${3:?}
replay=${4:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
for t in ip curl jq openssl; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done

ns=tdm_recaud_$$
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: cannot create namespace"; exit 1; }
in_ns() { ip netns exec "$ns" "$@"; }

failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }

SIG=127.0.0.1:18543
REL=127.0.0.1:18180
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/relay.secret"
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/cluster.secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/master.key"
mkdir "$work/rec"
cat >"$work/config.json" <<JSON
{"public_url": "http://$SIG",
 "relays": [{"id": "n1", "url": "http://$REL"}],
 "relay_token_secret_file": "relay.secret",
 "recording_master_key_file": "master.key",
 "cluster_secret_file": "cluster.secret"}
JSON
echo 'a-password-for-alice' | "$signal" user add alice --role rep --db "$work/signal.db" >/dev/null \
  || { echo "FAIL: user add"; exit 1; }
echo 'a-password-for-audrey' | "$signal" user add audrey --role auditor --db "$work/signal.db" >/dev/null \
  || { echo "FAIL: user add auditor"; exit 1; }

ip netns exec "$ns" "$signal" serve --db "$work/signal.db" --config "$work/config.json" --listen "$SIG" \
  >"$work/signal.out" 2>"$work/signal.err" &
pids+=($!)
ip netns exec "$ns" "$relay" serve --listen "$REL" --node-id n1 --secret-file "$work/relay.secret" \
  --cluster-secret-file "$work/cluster.secret" --local-address 127.0.0.1 --workers 2 \
  --record-dir "$work/rec" --recording-key-file "$work/master.key" \
  --signal-url "http://$SIG" --public-url "http://$REL" --heartbeat-interval 1 --drain-deadline 0 \
  >"$work/relay.out" 2>"$work/relay.err" &
relay_pid=$!
pids+=($relay_pid)
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
code=$(echo "$open" | jq -r .join_code)
[ -n "$sid" ] && [ "$sid" != null ] && ok "session opened" || { bad "open: $open"; exit 1; }
cust=$(api POST /api/v1/join "{\"code\":\"$code\",\"display_name\":\"Bob\"}" | body)
pub_url=$(echo "$cust" | jq -r .media.url)
pub_tok=$(echo "$cust" | jq -r .media.token)
[ "$pub_url" = "http://$REL/whip/$sid" ] && ok "customer got WHIP on relay n1" || { bad "media URL '$pub_url'"; exit 1; }

# The customer publishes for a few seconds, then leaves (WHIP DELETE).
ip netns exec "$ns" "$share" --url "$pub_url" --token "$pub_tok" --local-address 127.0.0.1 --size 320x240 \
  --duration 4 >"$work/share.out" 2>"$work/share.err" &
share_pid=$!
pids+=($share_pid)
for _ in $(seq 150); do kill -0 "$share_pid" 2>/dev/null || break; sleep 0.1; done
wait "$share_pid" 2>/dev/null
for _ in $(seq 100); do grep -q "closed:.*sha256" "$work/relay.err" && break; sleep 0.1; done
line=$(grep "tandem-relay: recording .* closed:" "$work/relay.err" | head -1)
logged_hash=$(echo "$line" | sed -nE 's/.*sha256 ([0-9a-f]{64}).*/\1/p')
file=$(echo "$line" | sed -nE 's/.*recording (.*) closed:.*/\1/p')
[ -n "$logged_hash" ] && [ -f "$file" ] && ok "the relay closed $(basename "$file") and logged its hash" \
  || { bad "no closing line: $(cat "$work/relay.err")"; exit 1; }

aud=$(api POST /api/v1/login '{"name":"audrey","password":"a-password-for-audrey"}' | body | jq -r .token)
audit=""
for _ in $(seq 100); do
  audit=$(in_ns curl -s "http://$SIG/api/v1/sessions/$sid/audit" -H "Authorization: Bearer $aud")
  echo "$audit" | jq -e '.. | objects | select(.kind? == "recording_stopped")' >/dev/null 2>&1 && break
  sleep 0.1
done
echo "$audit" >"$work/audit.json"
entries='if type == "array" then . else (.entries // .audit // []) end'
started=$(jq -c "[$entries | .[] | select(.kind == \"recording_started\")]" "$work/audit.json")
stopped=$(jq -c "[$entries | .[] | select(.kind == \"recording_stopped\")]" "$work/audit.json")
base=$(basename "$file")
[ "$(echo "$started" | jq length)" = 1 ] && [ "$(echo "$started" | jq -r '.[0].detail.file')" = "$base" ] \
  && [ "$(echo "$started" | jq -r '.[0].actor')" = "relay:n1" ] \
  && ok "audit: recording_started by relay:n1 for $base" || bad "recording_started: $started"
[ "$(echo "$stopped" | jq length)" = 1 ] && [ "$(echo "$stopped" | jq -r '.[0].detail.file')" = "$base" ] \
  && ok "audit: recording_stopped for $base" || { bad "recording_stopped: $stopped"; cat "$work/relay.err"; }
s_seq=$(echo "$started" | jq -r '.[0].seq'); e_seq=$(echo "$stopped" | jq -r '.[0].seq')
[ "$s_seq" != null ] && [ "$e_seq" != null ] && [ "$s_seq" -lt "$e_seq" ] \
  && ok "started (seq $s_seq) comes before stopped (seq $e_seq)" || bad "order: $s_seq $e_seq"
audit_hash=$(echo "$stopped" | jq -r '.[0].detail.sha256')
[ "$audit_hash" = "$logged_hash" ] && ok "audited hash = the hash the relay logged" \
  || bad "audited hash '$audit_hash' vs logged '$logged_hash'"
pk=$(echo "$stopped" | jq -r '.[0].detail.packets'); dr=$(echo "$stopped" | jq -r '.[0].detail.dropped')
echo "$line" | grep -q "closed: $pk packets, $dr dropped" && [ "$pk" -gt 0 ] \
  && ok "audited packets ($pk) and dropped ($dr) as logged" || bad "packets/dropped $pk/$dr vs '$line'"

"$replay" info "$file" --key-file "$work/master.key" >"$work/info.out" 2>&1
info_hash=$(sed -nE 's/^hash: ([0-9a-f]{64})$/\1/p' "$work/info.out")
[ "$info_hash" = "$audit_hash" ] && ok "audited hash = tandem-replay info's hash" \
  || { bad "info hash '$info_hash' vs audited '$audit_hash'"; cat "$work/info.out"; }
"$replay" verify "$file" --key-file "$work/master.key" >"$work/verify.out" 2>&1 \
  && ok "tandem-replay verify: $(head -1 "$work/verify.out")" || { bad "verify"; cat "$work/verify.out"; }

# --- the route's authentication, seen from outside --------------------------
sign() { # BODY TS -> Authorization value
  local mac
  mac=$(printf '%s\n%s' "$2" "$1" | openssl dgst -sha256 -hmac "$(cat "$work/cluster.secret")" -r | cut -d' ' -f1)
  echo "TDM-HMAC-SHA256 ts=$2,sig=$mac"
}
post_event() { # BODY [AUTH] -> status
  in_ns curl -s -o "$work/ev.body" -w '%{http_code}' -X POST "http://$SIG/api/v1/relays/recording" \
    -H 'Content-Type: application/json' ${2:+-H "Authorization: $2"} --data-binary "$1"
}
now_ms=$(($(date +%s%N) / 1000000))
ev="{\"relay\":\"n9\",\"session\":\"s_nosuchsession\",\"event\":\"started\",\"file\":\"x.tdmrec\",\"hash\":null,\"packets\":0,\"dropped\":0,\"ts\":$now_ms}"
r=$(post_event "$ev")
[ "$r" = 401 ] && ok "unsigned recording event: 401" || bad "unsigned: $r"
auth=$(sign "$ev" "$now_ms")
r=$(post_event "$ev" "$auth")
[ "$r" = 404 ] && ok "signed event for an unknown session: 404" || bad "unknown session: $r $(cat "$work/ev.body")"
grep -q "recording event started of s_nosuchsession from n9 refused" "$work/signal.err" \
  && ok "signaling logged the unknown session" || bad "no log of the unknown session"
r=$(post_event "$ev" "$auth")
[ "$r" = 401 ] && ok "the same signed request again: 401 (replay)" || bad "replay: $r"
bad_ev="{\"relay\":\"n9\",\"session\":\"$sid\",\"event\":\"stopped\",\"file\":\"x.tdmrec\",\"hash\":\"zz\",\"packets\":0,\"dropped\":0,\"ts\":$now_ms}"
r=$(post_event "$bad_ev" "$(sign "$bad_ev" $((now_ms + 1)))")
[ "$r" = 400 ] && ok "malformed hash: 400" || bad "bad hash: $r $(cat "$work/ev.body")"
grep -q "heartbeat to http://$SIG: ok" "$work/relay.err" && ! grep -q "heartbeat.*refused with HTTP" "$work/relay.err" \
  && ok "heartbeats still accepted beside the events" || bad "heartbeats: $(grep heartbeat "$work/relay.err")"

# --- a recording still open when the relay is stopped -----------------------
open2=$(api POST /api/v1/sessions '{}' "Authorization: Bearer $bearer" | body)
sid2=$(echo "$open2" | jq -r .session_id)
cust2=$(api POST /api/v1/join "{\"code\":\"$(echo "$open2" | jq -r .join_code)\",\"display_name\":\"Carol\"}" | body)
ip netns exec "$ns" "$share" --url "$(echo "$cust2" | jq -r .media.url)" --token "$(echo "$cust2" | jq -r .media.token)" \
  --local-address 127.0.0.1 --size 320x240 --duration 60 >"$work/share2.out" 2>"$work/share2.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "recording session $sid2 to" "$work/relay.err" && break; sleep 0.1; done
grep -q "recording session $sid2 to" "$work/relay.err" && ok "second session $sid2 recording" \
  || { bad "second session not recorded: $(cat "$work/relay.err")"; exit 1; }
sleep 2 # some media in the file
kill -TERM "$relay_pid"
for _ in $(seq 100); do kill -0 "$relay_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$relay_pid" 2>/dev/null; then
  bad "relay still running 10 s after SIGTERM"
else
  wait "$relay_pid"; rrc=$?
  [ "$rrc" -eq 0 ] && ok "relay exited 0 after SIGTERM" || bad "relay exit status $rrc"
fi
line2=$(grep "tandem-relay: recording .*/$sid2-.* closed:" "$work/relay.err" | head -1)
hash2=$(echo "$line2" | sed -nE 's/.*sha256 ([0-9a-f]{64}).*/\1/p')
file2=$(echo "$line2" | sed -nE 's/.*recording (.*) closed:.*/\1/p')
[ -n "$hash2" ] && [ -f "$file2" ] && ok "SIGTERM closed $(basename "$file2") and logged its hash" \
  || bad "no closing line for $sid2: $(grep recording "$work/relay.err")"
! grep -q "not delivered before stopping" "$work/relay.err" && ok "no recording event left undelivered" \
  || bad "$(grep "not delivered" "$work/relay.err")"
# The relay has exited: whatever it delivered is in the log now.
audit2=$(in_ns curl -s "http://$SIG/api/v1/sessions/$sid2/audit" -H "Authorization: Bearer $aud")
stopped2=$(echo "$audit2" | jq -c "[$entries | .[] | select(.kind == \"recording_stopped\")]")
[ "$(echo "$stopped2" | jq length)" = 1 ] && [ "$(echo "$stopped2" | jq -r '.[0].detail.file')" = "$(basename "$file2")" ] \
  && ok "audit: recording_stopped for $sid2 after the relay's SIGTERM" || bad "recording_stopped after SIGTERM: $stopped2"
[ -n "$hash2" ] && [ "$(echo "$stopped2" | jq -r '.[0].detail.sha256')" = "$hash2" ] \
  && ok "its hash = the hash the relay logged" || bad "hash after SIGTERM: $stopped2 vs '$hash2'"
if [ -f "$file2" ]; then
  "$replay" info "$file2" --key-file "$work/master.key" >"$work/info2.out" 2>&1
  [ "$(sed -nE 's/^hash: ([0-9a-f]{64})$/\1/p' "$work/info2.out")" = "$hash2" ] \
    && ok "= tandem-replay info's hash" || { bad "info hash after SIGTERM"; cat "$work/info2.out"; }
  "$replay" verify "$file2" --key-file "$work/master.key" >"$work/verify2.out" 2>&1 \
    && grep -q complete "$work/verify2.out" && ok "verify after SIGTERM: $(head -1 "$work/verify2.out")" \
    || { bad "verify after SIGTERM"; cat "$work/verify2.out"; }
fi

# --- signaling unreachable at shutdown: the relay still exits ---------------
REL3=127.0.0.1:18182
mkdir "$work/rec3"
ip netns exec "$ns" "$relay" serve --listen "$REL3" --node-id n3 --secret-file "$work/relay.secret" \
  --cluster-secret-file "$work/cluster.secret" --local-address 127.0.0.1 \
  --record-dir "$work/rec3" --recording-key-file "$work/master.key" \
  --signal-url "http://127.0.0.1:18599" --public-url "http://$REL3" --heartbeat-interval 1 --drain-deadline 0 \
  >"$work/relay3.out" 2>"$work/relay3.err" &
relay3_pid=$!
pids+=($relay3_pid)
for _ in $(seq 50); do grep -q listening "$work/relay3.out" && break; sleep 0.1; done
tok3=$("$relay" token --secret-file "$work/relay.secret" --session s3 --participant p --role publish --node n3)
ip netns exec "$ns" "$share" --url "http://$REL3/whip/s3" --token "$tok3" --local-address 127.0.0.1 \
  --size 320x240 --duration 60 >"$work/share3.out" 2>"$work/share3.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "recording session s3 to" "$work/relay3.err" && break; sleep 0.1; done
sleep 1
t0=$(date +%s%N)
kill -TERM "$relay3_pid"
for _ in $(seq 300); do kill -0 "$relay3_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$relay3_pid" 2>/dev/null; then
  bad "relay with signaling down still running 30 s after SIGTERM"
else
  wait "$relay3_pid"; rrc=$?
  echo "     (it exited $(( ($(date +%s%N) - t0) / 1000000 )) ms after SIGTERM)"
  [ "$rrc" -eq 0 ] && ok "relay with signaling down exited 0 after SIGTERM" || bad "relay3 exit status $rrc"
fi
grep -Eq "recording .*/s3-.* closed: [0-9]+ packets" "$work/relay3.err" \
  && ok "its recording was closed" || bad "relay3 did not close the recording: $(cat "$work/relay3.err")"
grep -q "recording event(s) not delivered before stopping" "$work/relay3.err" \
  && ok "it says the recording events were not delivered" || bad "no undelivered warning: $(cat "$work/relay3.err")"

# The chain still verifies with the relay's entries in it.
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
pids=()
"$signal" audit verify --db "$work/signal.db" >"$work/av.out" 2>&1 \
  && ok "tandem-signal audit verify passes" || { bad "audit verify"; cat "$work/av.out"; }

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
