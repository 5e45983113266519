#!/usr/bin/env bash
# NAT traversal with real processes: tandem-share and tandem-view each in
# their own network namespace behind a NAT namespace (iptables MASQUERADE),
# the relay and coturn (STUN/TURN) in a "public" namespace. Every namespace
# and veth pair is created and deleted here; no namespace has a route to the
# machine's real interface, so no packet leaves them.
#
#   share  192.168.10.2 --+
#                         +-- nat: wan0 100.64.0.1 ---- 100.64.0.10 pub:
#   view   192.168.20.2 --+      (MASQUERADE)             relay, coturn
#
# Cases, each asserting the candidate types ICE selected, at both ends:
#  1. STUN: each client learns its public address (server reflexive) and
#     media flows directly through the NAT. The clients select a local srflx
#     candidate; the relay counts pairs with a remote srflx candidate (the
#     address it sees the client's checks come from is the one the client
#     offered, so it is srflx, not prflx).
#  2. Direct UDP through the NAT blocked except to the TURN port: media
#     flows via TURN over UDP. Local relay candidates at the clients, remote
#     relay at the relay, and the TURN port's counter in the NAT shows the
#     media went through it.
#  3. All UDP through the NAT blocked: TURN over TCP.
#  4. (when the build has it) --ice-transport-policy relay with nothing
#     blocked and a STUN server given too: relayed candidates anyway.
# In each, every frame number arrives at the view in order (its summary
# line). Also the CLI: bad --ice-server values are status 2 with a reason.
set -u
relay=${1:?usage: nat_traversal_test.sh TANDEM_RELAY TANDEM_SHARE TANDEM_VIEW}
share=${2:?}
view=${3:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns and iptables"; exit 77; }
for tool in ip iptables turnserver curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: no $tool"; exit 77; }
done

pub=tdm_nat_pub_$$ nat=tdm_nat_nat_$$ lan_a=tdm_nat_a_$$ lan_b=tdm_nat_b_$$
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for n in "$lan_a" "$lan_b" "$nat" "$pub"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }
fatal() { echo "FAIL $1"; exit 1; }

# --- the CLI (no network) ---------------------------------------------------------
"$share" --help | grep -q -- '--ice-server' && ok "share --help names --ice-server" || bad "share --help"
"$view" --help | grep -q -- '--ice-credential' && ok "view --help names --ice-credential" || bad "view --help"
cli_refuses() { # what needle args...
  local what=$1 needle=$2
  shift 2
  "$view" --url http://127.0.0.1:1/whep/s --token t --local-address 127.0.0.1 "$@" 2>"$work/err"
  local st=$?
  if [ $st -eq 2 ] && grep -q -- "$needle" "$work/err"; then ok "view: $what is status 2"; else
    bad "view: $what (status $st)"; cat "$work/err"; fi
}
cli_refuses "an http:// ICE server" "stun: or turn:" --ice-server http://100.64.0.10
cli_refuses "turns:" "TLS" --ice-server turns:100.64.0.10
cli_refuses "a bad port" "port" --ice-server stun:100.64.0.10:99999
cli_refuses "a bad transport" "transport=" --ice-server 'turn:100.64.0.10?transport=sctp'
cli_refuses "turn: without credentials" "ice-username" --ice-server turn:100.64.0.10
cli_refuses "two stun: servers" "one stun" --ice-server stun:100.64.0.10 --ice-server stun:100.64.0.11
cli_refuses "a bad policy" "all or relay" --ice-transport-policy none

# --- the network ----------------------------------------------------------------------
for n in "$pub" "$nat" "$lan_a" "$lan_b"; do
  ip netns add "$n" && ip -n "$n" link set lo up || fatal "cannot create namespace $n"
done
# Each veth pair is created inside the NAT namespace with its peer moved
# straight into the other one: no interface ever exists in the root namespace.
ip -n "$nat" link add wan0 type veth peer name pub0 netns "$pub" &&
  ip -n "$nat" link add lana type veth peer name lan0 netns "$lan_a" &&
  ip -n "$nat" link add lanb type veth peer name lan0 netns "$lan_b" &&
  ip -n "$nat" addr add 100.64.0.1/24 dev wan0 && ip -n "$pub" addr add 100.64.0.10/24 dev pub0 &&
  ip -n "$nat" addr add 192.168.10.1/24 dev lana && ip -n "$lan_a" addr add 192.168.10.2/24 dev lan0 &&
  ip -n "$nat" addr add 192.168.20.1/24 dev lanb && ip -n "$lan_b" addr add 192.168.20.2/24 dev lan0 &&
  ip -n "$nat" link set wan0 up && ip -n "$nat" link set lana up && ip -n "$nat" link set lanb up &&
  ip -n "$pub" link set pub0 up && ip -n "$lan_a" link set lan0 up && ip -n "$lan_b" link set lan0 up &&
  ip -n "$lan_a" route add default via 192.168.10.1 && ip -n "$lan_b" route add default via 192.168.20.1 ||
  fatal "cannot set up the veth pairs"
in_nat() { ip netns exec "$nat" "$@"; }
# Plain MASQUERADE: endpoint-independent mapping, port-restricted filtering
# (see ../shared/TESTING.md). Nothing from outside gets in unsolicited.
in_nat sysctl -qw net.ipv4.ip_forward=1 &&
  in_nat iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE &&
  in_nat iptables -A FORWARD -i wan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT &&
  in_nat iptables -A FORWARD -i wan0 -j DROP || fatal "cannot set up the NAT"

# --- coturn and the relay in the public namespace ----------------------------------------
ip netns exec "$pub" turnserver -n --listening-ip=100.64.0.10 --relay-ip=100.64.0.10 \
  --listening-port=3478 --lt-cred-mech --user=tandem:s3cret --realm=test.local --fingerprint \
  --no-tls --no-dtls --no-cli --no-tcp-relay --min-port=40000 --max-port=40999 \
  --db="$work/turndb" --pidfile="$work/turn.pid" --log-file="$work/turn.log" --simple-log \
  --no-stdout-log >"$work/turn.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  ip netns exec "$pub" ss -lun | grep -q '100.64.0.10:3478' &&
    ip netns exec "$pub" ss -ltn | grep -q '100.64.0.10:3478' && break
  sleep 0.1
done
ip netns exec "$pub" ss -lun | grep -q '100.64.0.10:3478' || { cat "$work/turn.out"; fatal "coturn did not start"; }

head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secret"
ip netns exec "$pub" "$relay" serve --listen 100.64.0.10:0 --node-id n1 --secret-file "$work/secret" \
  --local-address 100.64.0.10 >"$work/relay.out" 2>"$work/relay.err" &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$work/relay.out" && break; sleep 0.1; done
addr=$(grep -o '100\.64\.0\.10:[0-9]*' "$work/relay.out" | head -1)
[ -n "$addr" ] || { cat "$work/relay.err"; fatal "relay did not start"; }

# selected_pairs REMOTE: the relay's count of selected pairs with a remote
# candidate of that type (udp), summed over its local types.
selected_pairs() {
  ip netns exec "$pub" curl -s "http://$addr/metrics" |
    awk -v r="remote=\"$1\"" 'index($0, "tandem_relay_selected_pairs_total{") == 1 && index($0, r) { n += $2 } END { print n + 0 }'
}
# accepted_bytes PORT PROTO: bytes the NAT forwarded out to that port, from
# the ACCEPT rule the case inserted ("... ACCEPT 17 ... udp dpt:3478":
# iptables prints the protocol's number in its column, its name in the match).
accepted_bytes() {
  in_nat iptables -L FORWARD -v -n -x |
    awk -v m="$2 dpt:$1" '$3 == "ACCEPT" && index($0, m) { print $2; exit }'
}

# expect_media_via_turn NAME PROTO: the share's media went out through the
# TURN port: at least half of the RTP bytes it reports (SRTP and TURN
# framing only add to them; direct media would have gone to another port).
expect_media_via_turn() {
  local name=$1 proto=$2 rtp through
  rtp=$(grep -o '^share: done .* bytes [0-9]*' "$work/$name.share.out" | grep -o '[0-9]*$')
  through=$(accepted_bytes 3478 "$proto")
  if [ -n "$rtp" ] && [ "$rtp" -gt 0 ] && [ "${through:-0}" -ge $((rtp / 2)) ]; then
    ok "$name: the media went out to the TURN port over $proto ($through bytes for $rtp RTP bytes)"
  else
    bad "$name: ${through:-0} bytes went out to the TURN port over $proto for ${rtp:-no} RTP bytes"
  fi
}

# run_case NAME SESSION ICE-OPTIONS...: share in lan_a, view in lan_b, both
# with the given --ice-* options. Leaves their outputs in $work/NAME.*.
run_case() {
  local name=$1 session=$2
  shift 2
  local tok_pub tok_view
  tok_pub=$("$relay" token --secret-file "$work/secret" --session "$session" --participant p --role publish --node n1)
  tok_view=$("$relay" token --secret-file "$work/secret" --session "$session" --participant v --role subscribe --node n1)
  ip netns exec "$lan_a" "$share" --url "http://$addr/whip/$session" --token "$tok_pub" \
    --local-address 192.168.10.2 "$@" --size 640x360 --duration 30 \
    >"$work/$name.share.out" 2>"$work/$name.share.err" &
  local share_pid=$!
  pids+=($share_pid)
  for _ in $(seq 100); do
    grep -q '^share: connected' "$work/$name.share.out" && break
    kill -0 "$share_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '^share: connected' "$work/$name.share.out"; then
    bad "$name: share did not connect"; cat "$work/$name.share.err"
    kill -TERM "$share_pid" 2>/dev/null; wait "$share_pid" 2>/dev/null
    return
  fi
  ip netns exec "$lan_b" "$view" --url "http://$addr/whep/$session" --token "$tok_view" \
    --local-address 192.168.20.2 "$@" --duration 15 --expect-frames 60 \
    >"$work/$name.view.out" 2>"$work/$name.view.err"
  local st=$?
  local summary
  summary=$(tail -1 "$work/$name.view.out")
  echo "  $name view: $summary"
  if [ $st -eq 0 ] && echo "$summary" | grep -Eq '^frames ([0-9]+) first [0-9]+ last [0-9]+ out_of_order 0 missing 0$'; then
    ok "$name: every frame arrived at the view, in order"
  else
    bad "$name: view (status $st)"; cat "$work/$name.view.err"
  fi
  kill -TERM "$share_pid" 2>/dev/null
  wait "$share_pid"
  st=$?
  [ $st -eq 0 ] || { bad "$name: share status $st"; cat "$work/$name.share.err"; }
}

# expect_local NAME TYPE: both clients' last selected pair has a local
# candidate of TYPE (and a host candidate of the relay at the far end).
expect_local() {
  local name=$1 type=$2 who line
  for who in share view; do
    line=$(grep '^ice: selected' "$work/$name.$who.err" | tail -1)
    echo "  $name $who: $line"
    if echo "$line" | grep -Eq "^ice: selected local $type/udp [0-9.]+:[0-9]+ remote host/udp 100\.64\.0\.10:[0-9]+$"; then
      ok "$name: $who selected a local $type candidate"
    else
      bad "$name: $who did not select a local $type candidate"; cat "$work/$name.$who.err"
    fi
  done
}

# expect_remote NAME TYPE BEFORE: the relay selected two more pairs (share
# and view) whose remote candidate is of TYPE.
expect_remote() {
  local name=$1 type=$2 before=$3 after
  after=$(selected_pairs "$type")
  if [ $((after - before)) -ge 2 ]; then
    ok "$name: the relay selected remote $type candidates ($before -> $after)"
  else
    bad "$name: the relay's remote $type pairs went $before -> $after, want +2"
  fi
}

turn_creds=(--ice-username tandem --ice-credential s3cret)

# --- 1. STUN: server-reflexive candidates through the NAT -----------------------------------
before=$(selected_pairs srflx)
run_case stun s1 --ice-server stun:100.64.0.10:3478
expect_local stun srflx
grep -q 'share: connected local srflx/udp 100\.64\.0\.1:' "$work/stun.share.out" &&
  ok "stun: the share's public address is the NAT's" || bad "stun: share's srflx address"
expect_remote stun srflx "$before"

# --- 2. direct UDP blocked: TURN over UDP --------------------------------------------------
in_nat iptables -I FORWARD 1 -o wan0 -p udp --dport 3478 -j ACCEPT &&
  in_nat iptables -I FORWARD 2 -o wan0 -p udp -j DROP || fatal "cannot block UDP"
before=$(selected_pairs relay)
run_case turn_udp s2 --ice-server turn:100.64.0.10:3478 "${turn_creds[@]}"
expect_local turn_udp relay
expect_remote turn_udp relay "$before"
expect_media_via_turn turn_udp udp

# --- 3. all UDP blocked: TURN over TCP -------------------------------------------------------
in_nat iptables -D FORWARD -o wan0 -p udp --dport 3478 -j ACCEPT &&
  in_nat iptables -I FORWARD 1 -o wan0 -p tcp --dport 3478 -j ACCEPT || fatal "cannot block all UDP"
before=$(selected_pairs relay)
run_case turn_tcp s3 --ice-server 'turn:100.64.0.10:3478?transport=tcp' "${turn_creds[@]}"
expect_local turn_tcp relay
expect_remote turn_tcp relay "$before"
expect_media_via_turn turn_tcp tcp
in_nat iptables -D FORWARD -o wan0 -p tcp --dport 3478 -j ACCEPT &&
  in_nat iptables -D FORWARD -o wan0 -p udp -j DROP || fatal "cannot unblock UDP"

# --- 4. policy relay with a direct path open ---------------------------------------------------
if "$share" --ice-transport-policy relay --help >/dev/null 2>&1; then
  before=$(selected_pairs relay)
  run_case policy_relay s4 --ice-server stun:100.64.0.10 --ice-server turn:100.64.0.10 \
    "${turn_creds[@]}" --ice-transport-policy relay
  expect_local policy_relay relay
  expect_remote policy_relay relay "$before"
else
  echo "skip policy_relay: this build has no --ice-transport-policy relay"
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
