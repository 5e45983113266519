#!/usr/bin/env bash
# The auditor's recordings routes of tandem-signal run with --redis (API.md
# "Recordings", "Cluster"): the session's audit chain lives in Redis, not in
# a SQLite file, and the list and the detail still show who took part, the
# audit events and whether the chain verifies. A real redis-server and the
# real service, inside a network namespace this test creates (only its
# loopback up); the session is played by recording_timeline_session against
# the Redis store and its recording made by recording_synth.
# tandem-replay timeline --db takes the Redis URL too.
# usage: signal_recordings_redis_test.sh TANDEM_SIGNAL RECORDING_SYNTH SESSION_HELPER TANDEM_REPLAY
set -u
signal=${1:?usage: signal_recordings_redis_test.sh TANDEM_SIGNAL RECORDING_SYNTH SESSION_HELPER TANDEM_REPLAY}
synth=${2:?}
helper=${3:?}
replay=${4:?}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
for t in ip curl jq redis-server; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done

ns=tdm_recredis_$$
work=$(mktemp -d)
sig_pid=
redis_pid=
cleanup() {
  [ -n "$sig_pid" ] && { kill -KILL "$sig_pid" 2>/dev/null; wait "$sig_pid" 2>/dev/null; }
  [ -n "$redis_pid" ] && { kill -KILL "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null; }
  # Anything still running in the namespace was started by this test.
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: cannot create namespace"; exit 1; }
in_ns() { ip netns exec "$ns" "$@"; }

failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }
check() { if eval "$1"; then ok "$2"; else bad "$2"; fi; }

LISTEN=127.0.0.1:18621
URL=http://$LISTEN
REDIS=redis://127.0.0.1:16379/0
# Not through in_ns: a backgrounded shell function is a subshell, and its
# PID is not redis-server's (killing it left redis-server running).
ip netns exec "$ns" redis-server --port 16379 --bind 127.0.0.1 --dir "$work" --save '' \
  --appendonly no >"$work/redis.out" 2>&1 &
redis_pid=$!
for _ in $(seq 100); do
  in_ns redis-cli -p 16379 ping 2>/dev/null | grep -q PONG && break
  sleep 0.1
done

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/master.key"
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/relay.secret"
mkdir -p "$work/rec"
cat >"$work/config.json" <<JSON
{"public_url": "http://$LISTEN",
 "relay_token_secret_file": "relay.secret",
 "recording_master_key_file": "master.key",
 "recordings_dir": "rec",
 "recordings_cache_dir": "cache"}
JSON
echo alice-password-1 | in_ns "$signal" user add alice --role rep --may-invite \
  --invite-profiles view_only,pointer --redis "$REDIS" >/dev/null || { echo "FAIL: user add"; exit 1; }
echo audrey-password-1 | in_ns "$signal" user add audrey --role auditor --redis "$REDIS" \
  >/dev/null || { echo "FAIL: user add"; exit 1; }
BASE_MS=$(( ($(date +%s) - 60) * 1000 ))
in_ns "$helper" "$REDIS" alice "$BASE_MS" >"$work/ids" || { echo "FAIL: session helper"; exit 1; }
SID=$(awk '$1=="session"{print $2}' "$work/ids")
[[ $SID == s_* ]] || { echo "FAIL: no session id"; exit 1; }
"$synth" "$work/rec/$SID.tdmrec" --key-file "$work/master.key" --session "$SID" --frames 30 \
  --start-unix-us "$((BASE_MS * 1000))" >/dev/null || { echo "FAIL: synth"; exit 1; }
touch -d '-1 minute' "$work/rec/$SID.tdmrec"

ip netns exec "$ns" "$signal" serve --redis "$REDIS" --config "$work/config.json" \
  --listen "$LISTEN" --web-root "$here/../../web" >"$work/signal.out" 2>"$work/signal.err" &
sig_pid=$!
for _ in $(seq 100); do
  kill -0 "$sig_pid" 2>/dev/null || break
  in_ns curl -sf "$URL/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
AUD=$(in_ns curl -s -X POST "$URL/api/v1/login" -H 'Content-Type: application/json' \
  -d '{"name":"audrey","password":"audrey-password-1"}' | jq -r .token)
[ -n "$AUD" ] && [ "$AUD" != null ] || { echo "FAIL: login"; cat "$work/signal.err"; exit 1; }
get() { in_ns curl -s -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer $AUD" "$URL$1"; }

for _ in $(seq 100); do
  [ "$(get /api/v1/recordings)" = 200 ] || break
  jq -e '[.recordings[] | select(.state == "pending")] | length == 0' "$work/body" >/dev/null && break
  sleep 0.2
done
cp "$work/body" "$work/list.json"
check 'jq -e --arg id "$SID" ".recordings[] | select(.id == \$id) | [.participants[] | .name + \"/\" + .kind] == [\"alice/rep\", \"Carol Customer/customer\", \"Eve Expert/invited\"]" "$work/list.json" >/dev/null' \
  "list: who took part, from the audit chain in Redis"
check 'jq -e --arg id "$SID" ".recordings[] | select(.id == \$id) | .audit_verified == true" "$work/list.json" >/dev/null' \
  "list: the audit chain in Redis verified"
check '[ "$(get /api/v1/recordings/"$SID")" = 200 ]' "detail: 200"
cp "$work/body" "$work/detail.json"
check 'jq -e ".audit.verified == true and ([.events[] | select(.source == \"audit\")] | length) > 5 and ([.events[] | select(.kind == \"input_denied\")] | length) == 1 and ([.events[] | select(.kind == \"participant_joined\")] | length) == 3" "$work/detail.json" >/dev/null' \
  "detail: the audit events (3 joins, the denied input) and the chain verified"
check '! grep -q "cannot open" "$work/detail.json"' "detail: no 'cannot open' of the Redis URL as a file"
in_ns "$replay" timeline "$work/rec/$SID.tdmrec" --key-file "$work/master.key" --db "$REDIS" \
  >"$work/timeline.json" 2>"$work/timeline.err"
check 'jq -e ".audit.verified == true and (.audit.participants | length) == 3" "$work/timeline.json" >/dev/null' \
  "tandem-replay timeline --db redis://...: participants and the chain verified"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"; cat "$work/signal.err"; exit 1
fi
echo "all checks passed"
