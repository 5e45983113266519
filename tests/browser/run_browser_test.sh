#!/usr/bin/env bash
# Chromium over WHIP/WHEP through tandem-relay, inside a network namespace
# this script creates and deletes: a veth pair with a default route (Chromium
# gathers nothing without one), no link to the machine's real interfaces, so
# no test packet can leave the namespace. Installs playwright-core first
# (scripts/install-node-deps) and fails, not skips, when that cannot be done.
#
#   run_browser_test.sh TANDEM_RELAY [browser_test.mjs options...]
# Exit: 0 pass, 1 fail, 77 skip (not root, or no chromium/ip).
# --save-sdp DIR keeps the offers and answers exchanged; that is how the
# tests/unit/chromium156_*.sdp fixtures were made (rename them for a newer
# Chromium).
set -u
relay=${1:?usage: run_browser_test.sh TANDEM_RELAY [options]}
shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
chromium=${TDM_CHROMIUM:-/usr/bin/chromium}

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: no ip(8)"; exit 77; }
[ -x "$chromium" ] || { echo "SKIP: no Chromium at $chromium (apt-get install chromium)"; exit 77; }
command -v node >/dev/null || { echo "FAIL: node is not installed (scripts/install-deps)"; exit 1; }
"$root/scripts/install-node-deps" "$here" || { echo "FAIL: cannot install playwright-core"; exit 1; }

ns=tdm_br_$$
node_pid=
# HOME and TMPDIR in a scratch dir that goes with the namespace: Chromium
# writes caches and crash reports there, the test its profile and secrets.
home=$(mktemp -d)
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null; then
    for _ in $(seq 20); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  # Whatever still runs in the namespace was started by this test (the
  # relay, Chromium and its helpers if node died without stopping them):
  # stop each by its PID, then the namespace goes.
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

ip netns add "$ns" || { echo "FAIL: cannot create namespace $ns"; exit 1; }
ip -n "$ns" link set lo up &&
  ip -n "$ns" link add v0 type veth peer name v1 &&
  ip -n "$ns" addr add 10.77.0.1/24 dev v0 &&
  ip -n "$ns" addr add 10.77.0.2/24 dev v1 &&
  ip -n "$ns" link set v0 up && ip -n "$ns" link set v1 up &&
  ip -n "$ns" route add default dev v0 ||
  { echo "FAIL: cannot set up the veth pair in $ns"; exit 1; }

HOME=$home TMPDIR=$home ip netns exec "$ns" node "$here/browser_test.mjs" --relay "$relay" \
  --ice-address 10.77.0.1 --chromium "$chromium" "$@" &
node_pid=$!
wait "$node_pid"
st=$?
node_pid=
exit "$st"
