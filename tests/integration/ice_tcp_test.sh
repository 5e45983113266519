#!/usr/bin/env bash
# ICE-TCP (RFC 6544) with real processes: a viewer whose network drops every
# UDP datagram reaches the relay over TCP candidates. The relay runs with
# --ice-tcp, the view with --ice-tcp; the share publishes over UDP beside
# the relay. Two namespaces joined by a veth pair, created and deleted here;
# no route leads out of them.
#
#   pub: relay + share 10.88.0.1 ---- 10.88.0.2 cli: view (UDP dropped)
set -u
relay=${1:?usage: ice_tcp_test.sh TANDEM_RELAY TANDEM_SHARE TANDEM_VIEW}
share=${2:?}
view=${3:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns and iptables"; exit 77; }
for tool in ip iptables curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done

pub=tdm_tcp_pub_$$ cli=tdm_tcp_cli_$$
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  ip netns del "$cli" 2>/dev/null
  ip netns del "$pub" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }
fatal() { echo "FAIL $1"; exit 1; }

"$view" --help | grep -q -- '--ice-tcp' && ok "view --help names --ice-tcp" || bad "view --help"
"$relay" serve --help | grep -q -- '--ice-tcp' && ok "relay serve --help names --ice-tcp" || bad "relay --help"

for n in "$pub" "$cli"; do
  ip netns add "$n" && ip -n "$n" link set lo up || fatal "cannot create namespace $n"
done
ip -n "$pub" link add v0 type veth peer name v1 netns "$cli" &&
  ip -n "$pub" addr add 10.88.0.1/24 dev v0 && ip -n "$pub" link set v0 up &&
  ip -n "$cli" addr add 10.88.0.2/24 dev v1 && ip -n "$cli" link set v1 up ||
  fatal "cannot wire the namespaces"
# The viewer's network: no UDP at all, either way.
ip netns exec "$cli" iptables -A OUTPUT -p udp -j DROP &&
  ip netns exec "$cli" iptables -A INPUT -p udp -j DROP || fatal "iptables"

head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secret"
ip netns exec "$pub" "$relay" serve --listen 10.88.0.1:0 --node-id n1 --secret-file "$work/secret" \
  --local-address 10.88.0.1 --ice-tcp >"$work/relay.out" 2>"$work/relay.err" &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$work/relay.out" && break; sleep 0.1; done
addr=$(grep -o '10\.88\.0\.1:[0-9]*' "$work/relay.out" | head -1)
[ -n "$addr" ] || { cat "$work/relay.err"; fatal "relay did not start"; }
tok() { "$relay" token --secret-file "$work/secret" --session tcp --participant "$1" --role "$2" --node n1; }

ip netns exec "$pub" "$share" --url "http://$addr/whip/tcp" --token "$(tok p publish)" \
  --local-address 10.88.0.1 --size 640x360 --duration 9 >"$work/share.out" 2>"$work/share.err" &
share_pid=$!
pids+=($share_pid)
sleep 1
ip netns exec "$cli" "$view" --url "http://$addr/whep/tcp" --token "$(tok v subscribe)" \
  --local-address 10.88.0.2 --ice-tcp --duration 6 --expect-frames 60 >"$work/view.out" 2>"$work/view.err"
st=$?
summary=$(tail -1 "$work/view.out")
echo "  view: $summary"
grep 'ice: selected' "$work/view.err" | head -2 | sed 's/^/  /'
if [ $st -eq 0 ] && echo "$summary" | grep -Eq '^frames [0-9]+ first [0-9]+ last [0-9]+ out_of_order 0 missing 0$'; then
  ok "view over ICE-TCP: every frame in order"
else
  bad "view over ICE-TCP (status $st)"; tail -5 "$work/view.err"
fi
grep -Eq 'ice: selected local host/tcp' "$work/view.err" && ok "the view selected a TCP candidate" ||
  bad "the view did not select a TCP candidate"
metrics=$(ip netns exec "$pub" curl -s "http://$addr/metrics")
# The side that opens the connection (tcp-active) shows its local end as
# peer reflexive (an ephemeral port nobody offered): accept any types.
echo "$metrics" | grep -Eq '^tandem_relay_selected_pairs_total\{local="[a-z]+",remote="[a-z]+",transport="tcp"\} [1-9]' &&
  ok "the relay selected a TCP pair" || { bad "no TCP pair at the relay"; echo "$metrics" | grep selected; }
wait "$share_pid" || bad "share status"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
