#!/usr/bin/env bash
# The rep console across a relay failover (console_failover_test.mjs), in
# headless Chromium, inside a network namespace this script creates and
# deletes (a veth pair with a default route and no link to the machine's
# interfaces: Chromium gathers no candidates on loopback alone). Installs
# playwright-core first (scripts/install-node-deps).
#
#   run_console_failover_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE
# Exit: 0 pass, 1 fail, 77 skip (not root, or no chromium/ip).
set -u
signal=${1:?usage: run_console_failover_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE}
relay=${2:?usage: run_console_failover_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE}
share=${3:?usage: run_console_failover_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
chromium=${TDM_CHROMIUM:-/usr/bin/chromium}

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: no ip(8)"; exit 77; }
[ -x "$chromium" ] || { echo "SKIP: no Chromium at $chromium"; exit 77; }
command -v node >/dev/null || { echo "FAIL: node is not installed (scripts/install-deps)"; exit 1; }
"$root/scripts/install-node-deps" "$here" || { echo "FAIL: cannot install playwright-core"; exit 1; }

ns=tdm_cfo_$$
node_pid=
home=$(mktemp -d)
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null; then
    for _ in $(seq 30); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  # What still runs in the namespace was started by this test: by PID.
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
  ip -n "$ns" addr add 10.78.0.1/24 dev v0 &&
  ip -n "$ns" addr add 10.78.0.2/24 dev v1 &&
  ip -n "$ns" link set v0 up && ip -n "$ns" link set v1 up &&
  ip -n "$ns" route add default dev v0; }; then
  echo "FAIL: cannot set up the veth pair in $ns"
  exit 1
fi

HOME=$home TMPDIR=$home ip netns exec "$ns" node "$here/console_failover_test.mjs" \
  --signal "$signal" --relay "$relay" --share "$share" --web-root "$root/web" \
  --ice-address 10.78.0.1 --share-address 10.78.0.1 --chromium "$chromium" &
node_pid=$!
wait "$node_pid"
st=$?
node_pid=
exit "$st"
