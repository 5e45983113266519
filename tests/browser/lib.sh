# shellcheck shell=bash
# lib.sh: what the browser test runners share; sourced, never run.
#
# Owns the prerequisites (root, ip, Chromium, node, playwright-core), the
# test's network namespace (created here; on exit everything in it, which
# only this test started, is stopped by PID, TERM then KILL, and it is
# deleted) with a scratch HOME/TMPDIR that goes with it (Chromium writes
# caches and crash reports there, the tests their databases, configs and
# secrets), and running the node test inside it. Sets: here, root,
# chromium, ns, home; br_run_node sets st.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
chromium=${TDM_CHROMIUM:-/usr/bin/chromium}
ns=
home=
node_pid=

# br_require TOOL...: skips (77) without root, Chromium or the named tools
# (ip at least); fails without node or when playwright-core cannot be
# installed.
br_require() {
  [ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "SKIP: no $t (scripts/install-deps)"; exit 77; }
  done
  [ -x "$chromium" ] || { echo "SKIP: no Chromium at $chromium (apt-get install chromium)"; exit 77; }
  command -v node >/dev/null || { echo "FAIL: node is not installed (scripts/install-deps)"; exit 1; }
  "$root/scripts/install-node-deps" "$here" || { echo "FAIL: cannot install playwright-core"; exit 1; }
}

# shellcheck disable=SC2317  # run by the EXIT trap
br_cleanup() {
  if [ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  # TERM first: Xvfb then removes its lock and socket, the services stop
  # cleanly; KILL for what ignores it (Chromium if node died first).
  if [ -n "$ns" ]; then
    for sig in TERM KILL KILL; do
      pids=$(ip netns pids "$ns" 2>/dev/null)
      [ -z "$pids" ] && break
      for p in $pids; do kill -"$sig" "$p" 2>/dev/null; done
      sleep 0.3
    done
    ip netns del "$ns" 2>/dev/null
  fi
  [ -n "$home" ] && rm -rf "$home"
}

# br_netns NAME [veth]: the namespace tdm_NAME_PID with lo up; with "veth",
# also a veth pair v0 10.77.0.1/24 - v1 10.77.0.2/24 and a default route
# over v0 (Chromium gathers no candidates without one), no link to the
# machine's real interfaces: no test packet can leave it.
br_netns() {
  ns=tdm_$1_$$
  home=$(mktemp -d)
  trap br_cleanup EXIT
  trap 'exit 1' INT TERM
  if ! { ip netns add "$ns" && ip -n "$ns" link set lo up; }; then
    echo "FAIL: cannot create namespace $ns"
    exit 1
  fi
  [ "${2:-}" = veth ] || return 0
  # No IPv6 on the veth pair: its link-local addresses would settle (DAD)
  # after Chromium started, and Chromium answers that address change with
  # ERR_NETWORK_CHANGED on the requests in flight. The tests use IPv4 only.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
  if ! { ip -n "$ns" link add v0 type veth peer name v1 &&
    ip -n "$ns" addr add 10.77.0.1/24 dev v0 &&
    ip -n "$ns" addr add 10.77.0.2/24 dev v1 &&
    ip -n "$ns" link set v0 up && ip -n "$ns" link set v1 up &&
    ip -n "$ns" route add default dev v0; }; then
    echo "FAIL: cannot set up the veth pair in $ns"
    exit 1
  fi
}

# br_run_node SCRIPT.mjs ARGS...: runs the test in the namespace with the
# scratch HOME; its exit status in st.
br_run_node() {
  local script=$1
  shift
  HOME=$home TMPDIR=$home ip netns exec "$ns" node "$here/$script" --chromium "$chromium" "$@" &
  node_pid=$!
  wait "$node_pid"
  # shellcheck disable=SC2034  # read by the runner
  st=$?
  node_pid=
}
