#!/usr/bin/env bash
# The auditor's recordings page (web/auditor.html) in headless Chromium
# (auditor_browser_test.mjs) against the real tandem-signal serving real
# recordings (tests/integration/recordings_fixture.sh), inside a network
# namespace this script creates and deletes (only its loopback is up: no
# test packet can leave it). Installs playwright-core first
# (scripts/install-node-deps) and fails, not skips, when that cannot be done.
#
#   run_auditor_browser_test.sh TANDEM_SIGNAL RECORDING_SYNTH SESSION_HELPER [--screenshots DIR]
# Exit: 0 pass, 1 fail, 77 skip (not root, or no chromium/ip).
set -u
signal=${1:?usage: run_auditor_browser_test.sh TANDEM_SIGNAL RECORDING_SYNTH SESSION_HELPER [options]}
synth=${2:?}
helper=${3:?}
shift 3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
chromium=${TDM_CHROMIUM:-/usr/bin/chromium}

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: no ip(8)"; exit 77; }
[ -x "$chromium" ] || { echo "SKIP: no Chromium at $chromium (apt-get install chromium)"; exit 77; }
command -v node >/dev/null || { echo "FAIL: node is not installed (scripts/install-deps)"; exit 1; }
"$root/scripts/install-node-deps" "$here" || { echo "FAIL: cannot install playwright-core"; exit 1; }
# shellcheck source=../integration/recordings_fixture.sh
. "$root/tests/integration/recordings_fixture.sh"

ns=tdm_audpg_$$
home=$(mktemp -d)
sig_pid=
node_pid=
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null; then
    for _ in $(seq 30); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  [ -n "$sig_pid" ] && kill -TERM "$sig_pid" 2>/dev/null
  # Whatever still runs in the namespace was started by this test
  # (Chromium if node died without stopping it): each by its PID.
  for _ in 1 2 3; do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -z "$pids" ] && break
    for p in $pids; do kill -KILL "$p" 2>/dev/null; done
    sleep 0.2
  done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$home"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: cannot create namespace $ns"; exit 1; }
LISTEN=127.0.0.1:18612
fixture_make "$home" "$signal" "$synth" "$helper" "$LISTEN" || { echo "FAIL: fixture"; exit 1; }
ip netns exec "$ns" "$signal" serve --db "$home/signal.db" --config "$home/config.json" \
  --listen "$LISTEN" --web-root "$root/web" >"$home/signal.out" 2>"$home/signal.err" &
sig_pid=$!
for _ in $(seq 100); do ip netns exec "$ns" curl -sf "http://$LISTEN/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
ip netns exec "$ns" curl -sf "http://$LISTEN/healthz" >/dev/null || { echo "FAIL: tandem-signal did not start"; cat "$home/signal.err"; exit 1; }

HOME=$home TMPDIR=$home ip netns exec "$ns" node "$here/auditor_browser_test.mjs" \
  --origin "http://$LISTEN" --chromium "$chromium" --session "$SID" \
  --auditor-password "$AUDITOR_PW" --rep-password "$REP_PW" "$@" &
node_pid=$!
wait "$node_pid"
st=$?
node_pid=
# The service stops cleanly and said nothing of a crash (or, in a sanitizer
# build, of a leak or an invalid access).
kill -TERM "$sig_pid" 2>/dev/null
wait "$sig_pid"
sig_st=$?
sig_pid=
if [ "$sig_st" -ne 0 ] || grep -qi "sanitizer\|segfault" "$home/signal.err"; then
  echo "FAIL tandem-signal exited $sig_st or reported a crash"
  st=1
else
  echo "ok   tandem-signal stopped cleanly"
fi
[ "$st" -ne 0 ] && { echo "--- tandem-signal stderr"; tail -20 "$home/signal.err"; }
exit "$st"
