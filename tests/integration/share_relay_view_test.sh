#!/usr/bin/env bash
# share -> relay -> two views with real processes, inside a network
# namespace this test creates (only its loopback is up, so no packet can
# reach the machine's real interface): every frame number arrives at both
# views in order and decoded, with none missing. Also what a user sees when
# something is wrong: --help, a bad flag (status 2), a relay that is not
# there and a token for the wrong role (status 1, with the reason).
set -u
relay=${1:?usage: share_relay_view_test.sh TANDEM_RELAY TANDEM_SHARE TANDEM_VIEW}
share=${2:?}
view=${3:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
command -v ip >/dev/null || { echo "SKIP: no ip(8)"; exit 77; }

ns=tdm_srv_$$
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: cannot create namespace"; exit 1; }
# A function run with & would fork a subshell and $! would not be the
# program; background programs go through ip netns exec directly.
in_ns() { ip netns exec "$ns" "$@"; }

failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }

# --- the CLI -----------------------------------------------------------------
"$share" --help | grep -q -- '--local-address' && ok "share --help" || bad "share --help"
"$view" --help | grep -q 'out_of_order' && ok "view --help names the summary" || bad "view --help"
"$share" --bogus 2>"$work/err"; [ $? -eq 2 ] && grep -q "bogus" "$work/err" && ok "share: bad flag is status 2" || bad "share bad flag"
"$view" --url http://127.0.0.1:1/whep/s --token t 2>"$work/err"; [ $? -eq 2 ] && grep -q "local-address" "$work/err" && ok "view: --local-address required" || bad "view without --local-address"
in_ns "$view" --url http://127.0.0.1:1/whep/s --token t --local-address 127.0.0.1 2>"$work/err"
[ $? -eq 1 ] && grep -q "cannot connect" "$work/err" && ok "view: no relay is status 1" || { bad "view without relay"; cat "$work/err"; }

# --- a relay in the namespace ----------------------------------------------------
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secret"
ip netns exec "$ns" "$relay" serve --listen 127.0.0.1:0 --node-id n1 --secret-file "$work/secret" \
  --local-address 127.0.0.1 --workers 2 >"$work/relay.out" 2>"$work/relay.err" &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$work/relay.out" && break; sleep 0.1; done
addr=$(grep -o '127\.0\.0\.1:[0-9]*' "$work/relay.out" | head -1)
[ -n "$addr" ] || { echo "FAIL: relay did not start"; cat "$work/relay.err"; exit 1; }
tok() { "$relay" token --secret-file "$work/secret" --session demo --participant "$1" --role "$2" --node n1; }
pub=$(tok pub publish)
v1=$(tok v1 subscribe)
v2=$(tok v2 subscribe)

in_ns "$share" --url "http://$addr/whip/demo" --token "$v1" --local-address 127.0.0.1 2>"$work/err"
[ $? -eq 1 ] && grep -q "refused the token (403)" "$work/err" && ok "share: wrong role is status 1 with the reason" || { bad "share wrong role"; cat "$work/err"; }

ip netns exec "$ns" "$share" --url "http://$addr/whip/demo" --token "$pub" --local-address 127.0.0.1 \
  --size 640x360 --duration 9 >"$work/share.out" 2>"$work/share.err" &
share_pid=$!
pids+=($share_pid)
sleep 1
ip netns exec "$ns" "$view" --url "http://$addr/whep/demo" --token "$v1" --local-address 127.0.0.1 \
  --duration 6 --expect-frames 90 --y4m "$work/v1.y4m" >"$work/v1.out" 2>"$work/v1.err" &
v1_pid=$!
ip netns exec "$ns" "$view" --url "http://$addr/whep/demo" --token "$v2" --local-address 127.0.0.1 \
  --duration 6 --expect-frames 90 >"$work/v2.out" 2>"$work/v2.err" &
v2_pid=$!
pids+=($v1_pid $v2_pid)
# A second session while the first runs: with two workers, each holds one.
other=$("$relay" token --secret-file "$work/secret" --session other --participant op --role publish --node n1)
ip netns exec "$ns" "$share" --url "http://$addr/whip/other" --token "$other" --local-address 127.0.0.1 \
  --size 320x240 --duration 5 >"$work/other.out" 2>"$work/other.err" &
other_pid=$!
pids+=($other_pid)
# Wait (a loaded machine may take a while to connect) until both sessions
# are on the relay, then see where they landed.
for _ in $(seq 40); do
  spread=$(in_ns curl -s "http://$addr/metrics" 2>/dev/null | grep '^tandem_relay_worker_sessions' | awk '{print $2}' | tr '\n' ' ')
  [ "$spread" = "1 1 " ] && break
  sleep 0.1
done
[ "$spread" = "1 1 " ] && ok "two sessions on two workers, one each" || bad "sessions per worker: '$spread'"
wait "$other_pid" || bad "second share status"
for n in 1 2; do
  pid_var=v${n}_pid
  wait "${!pid_var}"
  st=$?
  summary=$(tail -1 "$work/v$n.out")
  echo "  view $n: $summary"
  if [ $st -eq 0 ] && echo "$summary" | grep -Eq '^frames ([0-9]+) first [0-9]+ last [0-9]+ out_of_order 0 missing 0$'; then
    ok "view $n: frames in order, none missing"
  else
    bad "view $n (status $st)"; cat "$work/v$n.err"
  fi
done
[ -s "$work/v1.y4m" ] && head -c 9 "$work/v1.y4m" | grep -q YUV4MPEG2 && ok "view 1 wrote Y4M" || bad "Y4M output"
wait "$share_pid"
[ $? -eq 0 ] && ok "share: status 0 after --duration" || { bad "share status"; cat "$work/share.err"; }
grep -q '^share: done frames' "$work/share.out" && ok "share: summary printed" || bad "share summary"
metrics=$(in_ns curl -s "http://$addr/metrics" 2>/dev/null || true)
if [ -n "$metrics" ]; then
  echo "$metrics" | grep -q '^tandem_relay_endpoints 0' && ok "every resource was deleted" || bad "endpoints left on the relay"
  echo "$metrics" | grep -Eq '^tandem_relay_sender_reports_out_total [1-9]' && ok "the relay sent sender reports to the views" || bad "no sender reports"
  echo "$metrics" | grep -Eq '^tandem_relay_receiver_reports_out_total [1-9]' && ok "the relay sent receiver reports to the publisher" || bad "no receiver reports"
fi

# --- loss on the publisher -> relay leg ----------------------------------------
# The share drops 5 % of its packets on purpose; the relay must notice the
# gaps, NACK the publisher, and forward the retransmissions, so the view
# still sees every frame in order.
lossy_tok() { "$relay" token --secret-file "$work/secret" --session lossy --participant "$1" --role "$2" --node n1; }
lp=$(lossy_tok lp publish)
lv=$(lossy_tok lv subscribe)
ip netns exec "$ns" "$share" --url "http://$addr/whip/lossy" --token "$lp" --local-address 127.0.0.1 \
  --size 640x360 --duration 8 --drop-percent 5 >"$work/lshare.out" 2>"$work/lshare.err" &
lshare_pid=$!
pids+=($lshare_pid)
sleep 1
in_ns "$view" --url "http://$addr/whep/lossy" --token "$lv" --local-address 127.0.0.1 \
  --duration 6 --expect-frames 90 >"$work/lv.out" 2>"$work/lv.err"
st=$?
summary=$(tail -1 "$work/lv.out")
echo "  lossy view: $summary"
if [ $st -eq 0 ] && echo "$summary" | grep -Eq '^frames ([0-9]+) first [0-9]+ last [0-9]+ out_of_order 0 missing 0$'; then
  ok "lossy publisher: the view still gets every frame in order"
else
  bad "lossy view (status $st)"; cat "$work/lv.err"
fi
wait "$lshare_pid"
grep -Eq 'dropped [1-9][0-9]* nacks_served [1-9]' "$work/lshare.out" && ok "the relay NACKed what the share dropped" \
  || { bad "no NACKs reached the share"; tail -2 "$work/lshare.out"; }
metrics=$(in_ns curl -s "http://$addr/metrics" 2>/dev/null || true)
echo "$metrics" | grep -Eq '^tandem_relay_nacks_out_total [1-9]' && ok "metrics count NACKs to publishers" \
  || bad "tandem_relay_nacks_out_total"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
