# shellcheck shell=bash
# recording_relay_lib.sh: what the tests of a recording tandem-relay share
# (relay_records_session_test, relay_records_segments_test,
# relay_recording_kill_test, desktop_audio_test); sourced, never run.
#
# Owns: the prerequisites (root, tools), the test's network namespace (only
# its loopback is up: no test packet can leave it) and scratch directory
# work, both removed on exit after the processes in pids are stopped by PID
# (TERM, then KILL); the ok/FAIL lines and their count (failures); the
# relay's secrets (work/secret, work/master.key) and recording directory
# (work/rec); the relay itself, recording, in the namespace (relay_pid,
# addr); and its access tokens.

# rr_setup NAME [TOOL...]: skips (77) without root or a tool; then the
# namespace tdm_NAME_PID, work, the secrets and work/rec.
rr_setup() {
  local name=$1
  shift
  [ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
  for t in ip "$@"; do command -v "$t" >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
  ns=tdm_${name}_$$
  work=$(mktemp -d)
  pids=()
  failures=0
  trap rr_cleanup EXIT
  if ! { ip netns add "$ns" && ip -n "$ns" link set lo up; }; then
    echo "FAIL: namespace"
    exit 1
  fi
  head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secret"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/master.key"
  mkdir "$work/rec"
}

# shellcheck disable=SC2317  # run by the EXIT trap
rr_cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}

ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }

# rr_start_relay RELAY: node n1 recording into work/rec with work/master.key,
# HTTP on a port of its choosing in the namespace (addr), ICE on 127.0.0.1.
rr_start_relay() {
  ip netns exec "$ns" "$1" serve --listen 127.0.0.1:0 --node-id n1 --secret-file "$work/secret" \
    --local-address 127.0.0.1 --record-dir "$work/rec" --recording-key-file "$work/master.key" \
    >"$work/relay.out" 2>"$work/relay.err" &
  relay_pid=$!
  pids+=("$relay_pid")
  for _ in $(seq 50); do grep -q listening "$work/relay.out" && break; sleep 0.1; done
  addr=$(grep -o '127\.0\.0\.1:[0-9]*' "$work/relay.out" | head -1)
  [ -n "$addr" ] || { echo "FAIL: relay did not start"; cat "$work/relay.err"; exit 1; }
}

# rr_token RELAY SESSION PARTICIPANT ROLE: an access token for node n1.
rr_token() {
  "$1" token --secret-file "$work/secret" --session "$2" --participant "$3" --role "$4" --node n1
}
