#!/usr/bin/env bash
# share -> relay -> view with a bad link between the view and the relay:
# 5 % random loss and 40 ms delay, each way. The kernel has no netem, so
# loss is iptables' statistic match and delay is tandem-netdelay (NFQUEUE),
# both only in the viewer's network namespace, which reaches the relay's
# namespace over a veth pair: the publisher's leg stays clean, and nothing
# touches the machine's real interface. The relay must answer the view's
# NACKs from its cache so that the view still decodes every frame number in
# order with none missing; the relay's /metrics show the NACKs and the
# retransmissions, and tandem-netdelay shows it delayed the traffic.
# Nothing here asserts a timing.
set -u
relay=${1:?usage: lossy_delayed_view_test.sh TANDEM_RELAY TANDEM_SHARE TANDEM_VIEW TANDEM_NETDELAY}
share=${2:?}
view=${3:?}
netdelay=${4:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns and iptables"; exit 77; }
for tool in ip iptables curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done

LOSS=0.05   # each way
DELAY_MS=40 # each way
QUEUE=0     # NFQUEUE numbers are per namespace: the viewer's own

ns_r=tdm_lr_$$ # relay and publisher
ns_v=tdm_lv_$$ # viewer, behind the bad link
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  ip netns del "$ns_v" 2>/dev/null
  ip netns del "$ns_r" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }
die() { echo "FAIL $1"; exit 1; }

# --- two namespaces joined by a veth pair -------------------------------------------
ip netns add "$ns_r" && ip netns add "$ns_v" || die "cannot create namespaces"
ip -n "$ns_r" link set lo up && ip -n "$ns_v" link set lo up
ip -n "$ns_r" link add vr type veth peer name vv netns "$ns_v" || die "cannot create veth pair"
ip -n "$ns_r" addr add 10.77.0.1/24 dev vr && ip -n "$ns_v" addr add 10.77.0.2/24 dev vv
ip -n "$ns_r" link set vr up && ip -n "$ns_v" link set vv up || die "cannot bring the veth pair up"

# --- the bad link, in the viewer's namespace only ------------------------------------
# The delay program first: packets queued with no reader are dropped.
ip netns exec "$ns_v" "$netdelay" --queue "$QUEUE" --delay "$DELAY_MS" \
  >"$work/netdelay.out" 2>"$work/netdelay.err" &
netdelay_pid=$!
pids+=($netdelay_pid)
for _ in $(seq 50); do grep -q ready "$work/netdelay.out" && break; sleep 0.1; done
grep -q ready "$work/netdelay.out" || { cat "$work/netdelay.err"; die "tandem-netdelay did not start"; }
# Loss before delay, in both directions; only UDP (the media), so the
# WHEP exchange over TCP is not what is being tested.
v_ipt() { ip netns exec "$ns_v" iptables "$@"; }
for chain in OUTPUT INPUT; do
  v_ipt -A "$chain" -p udp -m statistic --mode random --probability "$LOSS" -j DROP &&
    v_ipt -A "$chain" -p udp -j NFQUEUE --queue-num "$QUEUE" || die "cannot add iptables rules to $chain"
done

# --- relay and publisher ------------------------------------------------------------
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secret"
ip netns exec "$ns_r" "$relay" serve --listen 10.77.0.1:0 --node-id n1 --secret-file "$work/secret" \
  --local-address 10.77.0.1 >"$work/relay.out" 2>"$work/relay.err" &
relay_pid=$!
pids+=($relay_pid)
for _ in $(seq 50); do grep -q listening "$work/relay.out" && break; sleep 0.1; done
addr=$(grep -o '10\.77\.0\.1:[0-9]*' "$work/relay.out" | head -1)
[ -n "$addr" ] || { cat "$work/relay.err"; die "relay did not start"; }
tok() { "$relay" token --secret-file "$work/secret" --session lossy --participant "$1" --role "$2" --node n1; }

ip netns exec "$ns_r" "$share" --url "http://$addr/whip/lossy" --token "$(tok pub publish)" \
  --local-address 10.77.0.1 --size 1280x720 --scenario scroll --duration 30 >"$work/share.out" 2>"$work/share.err" &
share_pid=$!
pids+=($share_pid)
sleep 1

# --- the view, over the bad link ----------------------------------------------------
# It stops at 240 frames (8 s of video); --duration only bounds a slow machine.
ip netns exec "$ns_v" "$view" --url "http://$addr/whep/lossy" --token "$(tok viewer subscribe)" \
  --local-address 10.77.0.2 --duration 20 --expect-frames 240 >"$work/view.out" 2>"$work/view.err"
st=$?
summary=$(tail -1 "$work/view.out")
echo "  $(grep '^view: packets' "$work/view.out")"
echo "  view: $summary"
if [ $st -eq 0 ] && echo "$summary" | grep -Eq '^frames [0-9]+ first [0-9]+ last [0-9]+ out_of_order 0 missing 0$'; then
  ok "view over 5% loss and ${DELAY_MS} ms delay: every frame in order, none missing"
else
  bad "view (status $st)"; cat "$work/view.err"; tail -5 "$work/view.out"
fi
frames=$(echo "$summary" | awk '{print $2}')
[ "${frames:-0}" -ge 240 ] && ok "view decoded $frames frames" || bad "view decoded only ${frames:-0} frames"
grep -Eq 'recovered [1-9]' <(grep '^view: packets' "$work/view.out") &&
  ok "view recovered lost packets" || bad "view recovered nothing: was there loss?"

# --- what the relay and the delay program counted -------------------------------------
metrics=$(ip netns exec "$ns_r" curl -s --max-time 5 "http://$addr/metrics")
metric() { echo "$metrics" | awk -v m="$1" '$1 == m {print $2}'; }
nacks=$(metric tandem_relay_nacks_total)
rtx=$(metric tandem_relay_retransmissions_total)
echo "  relay: nacks ${nacks:-?} retransmissions ${rtx:-?} misses $(metric tandem_relay_retransmission_misses_total)"
[ "${nacks:-0}" -gt 0 ] && ok "relay received the view's NACKs" || bad "tandem_relay_nacks_total is ${nacks:-missing}"
[ "${rtx:-0}" -gt 0 ] && ok "relay answered NACKs from its cache" || bad "tandem_relay_retransmissions_total is ${rtx:-missing}"

kill -TERM "$netdelay_pid"
wait "$netdelay_pid"
nd_st=$?
nd=$(grep '^tandem-netdelay: received' "$work/netdelay.out")
echo "  $nd"
received=$(echo "$nd" | awk '{print $3}')
overflowed=$(echo "$nd" | awk '{print $7}')
[ $nd_st -eq 0 ] && [ "${received:-0}" -gt 100 ] && ok "tandem-netdelay delayed the view's traffic" ||
  bad "tandem-netdelay (status $nd_st): ${nd:-no summary}"
[ "${overflowed:-1}" -eq 0 ] && ok "no delay-queue overflow" || bad "tandem-netdelay overflowed"

kill -INT "$share_pid" # the view is done; the share stops cleanly on SIGINT (and DELETEs)
wait "$share_pid"
[ $? -eq 0 ] && ok "share: status 0" || { bad "share status"; cat "$work/share.err"; }
kill -TERM "$relay_pid"
wait "$relay_pid"
[ $? -eq 0 ] && ok "relay ran throughout and exits 0 on SIGTERM" || { bad "relay exit status"; tail -5 "$work/relay.err"; }

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
