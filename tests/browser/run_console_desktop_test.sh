#!/usr/bin/env bash
# A session through the browser rep console shows the real desktop
# (console_desktop_test.mjs): headless Chromium runs the rep console against
# the real tandem-signal and tandem-relay; tandem-share shares an Xvfb
# desktop with real X clients and injects the rep's input with XTEST. All of
# it inside a network namespace this script creates and deletes (a veth pair
# with a default route, no link to the machine's real interfaces). Installs
# playwright-core first (scripts/install-node-deps) and fails, not skips,
# when that cannot be done.
#
#   run_console_desktop_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE [SCREENSHOT_DIR]
# Exit: 0 pass, 1 fail, 77 skip (not root, or no chromium/ip/Xvfb/xterm/
# xdotool/xwd/xwininfo).
set -u
usage="usage: run_console_desktop_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE [SCREENSHOT_DIR]"
signal=${1:?$usage}
relay=${2:?$usage}
share=${3:?$usage}
shots=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
chromium=${TDM_CHROMIUM:-/usr/bin/chromium}

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
for t in ip Xvfb xterm xdotool xwd xwininfo; do
  command -v $t >/dev/null || { echo "SKIP: no $t (scripts/install-deps)"; exit 77; }
done
[ -x "$chromium" ] || { echo "SKIP: no Chromium at $chromium (apt-get install chromium)"; exit 77; }
command -v node >/dev/null || { echo "FAIL: node is not installed (scripts/install-deps)"; exit 1; }
"$root/scripts/install-node-deps" "$here" || { echo "FAIL: cannot install playwright-core"; exit 1; }

ns=tdm_cd_$$
node_pid=
home=$(mktemp -d)
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  if [ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  # Whatever still runs in the namespace was started by this test: each
  # goes by its PID, TERM first (Xvfb then removes its lock and socket).
  for sig in TERM KILL KILL; do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -z "$pids" ] && break
    for p in $pids; do kill -"$sig" "$p" 2>/dev/null; done
    sleep 0.5
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

opts=()
[ -n "$shots" ] && opts+=(--screenshots "$shots")
HOME=$home TMPDIR=$home ip netns exec "$ns" node "$here/console_desktop_test.mjs" \
  --signal "$signal" --relay "$relay" --share "$share" --web-root "$root/web" \
  --ice-address 10.77.0.1 --share-address 10.77.0.1 --chromium "$chromium" "${opts[@]}" &
node_pid=$!
wait "$node_pid"
st=$?
node_pid=
exit "$st"
