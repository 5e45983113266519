#!/usr/bin/env bash
# The web pages of tandem-signal in headless Chromium (signal_browser_test.mjs):
# the rep console and the invite landing page against the real
# tandem-signal and tandem-relay, with tandem-share as the customer, inside
# a network namespace this script creates and deletes (a veth pair with a
# default route, no link to the machine's real interfaces: no test packet
# can leave it). Installs playwright-core first (scripts/install-node-deps)
# and fails, not skips, when that cannot be done.
#
#   run_signal_browser_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE [options...]
# Exit: 0 pass, 1 fail, 77 skip (not root, or no chromium/ip).
set -u
signal=${1:?usage: run_signal_browser_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE [options]}
relay=${2:?usage: run_signal_browser_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE [options]}
share=${3:?usage: run_signal_browser_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE [options]}
shift 3
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
chromium=${TDM_CHROMIUM:-/usr/bin/chromium}

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: no ip(8)"; exit 77; }
[ -x "$chromium" ] || { echo "SKIP: no Chromium at $chromium (apt-get install chromium)"; exit 77; }
command -v node >/dev/null || { echo "FAIL: node is not installed (scripts/install-deps)"; exit 1; }
"$root/scripts/install-node-deps" "$here" || { echo "FAIL: cannot install playwright-core"; exit 1; }

ns=tdm_sw_$$
node_pid=
# HOME and TMPDIR in a scratch dir that goes with the namespace: Chromium
# writes caches there, the test its database, config and secrets.
home=$(mktemp -d)
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null; then
    for _ in $(seq 30); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  # Whatever still runs in the namespace was started by this test (the
  # services, tandem-share, Chromium if node died without stopping them):
  # each goes by its PID, then the namespace.
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
if ! { ip -n "$ns" link set lo up &&
  ip -n "$ns" link add v0 type veth peer name v1 &&
  ip -n "$ns" addr add 10.77.0.1/24 dev v0 &&
  ip -n "$ns" addr add 10.77.0.2/24 dev v1 &&
  ip -n "$ns" link set v0 up && ip -n "$ns" link set v1 up &&
  ip -n "$ns" route add default dev v0; }; then
  echo "FAIL: cannot set up the veth pair in $ns"
  exit 1
fi

# tandem-share gathers on the relay's own address: with 10.77.0.2 (the other
# end of the pair, in this same namespace) its ICE with the relay fails.
HOME=$home TMPDIR=$home ip netns exec "$ns" node "$here/signal_browser_test.mjs" \
  --signal "$signal" --relay "$relay" --share "$share" --web-root "$root/web" \
  --ice-address 10.77.0.1 --share-address 10.77.0.1 --chromium "$chromium" "$@" &
node_pid=$!
wait "$node_pid"
st=$?
node_pid=
exit "$st"
