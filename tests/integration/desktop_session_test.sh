#!/usr/bin/env bash
# The customer's endpoint on a real desktop (issue 7), with real processes
# inside a network namespace this test creates (only its loopback is up):
# tandem-signal, tandem-relay, an Xvfb running xedit, tandem-share joined
# with the customer's join code alone and capturing that display,
# tandem-view watching with the owner rep's media token (its snapshots are
# the decoded frames compared below), and two WebSockets driven from here:
# the owner rep (profile control) and an invited expert (view_only).
#   - the rep's click lands where it points (xdotool reads the pointer back)
#     and the rep's typed text changes the decoded picture;
#   - the invitee's input is denied (kind_not_allowed) and changes nothing:
#     not the picture, not the pointer, nothing reaches tandem-share;
#   - the customer takes control back (SIGUSR2, stdin "take", the chord
#     Ctrl+Alt+Shift+T on the display): the rep's socket sees
#     control_taken_back, the rep's input is denied with customer_has_control
#     (and audited), nothing is injected and the picture stays; "give" hands
#     control back and the rep's typing shows again;
#   - tandem-signal restarts: tandem-share reconnects its WebSocket, says
#     again that the customer holds control, and input flows once given back.
set -u
signal=${1:?usage: desktop_session_test.sh SIGNAL RELAY SHARE VIEW WS_CLIENT PNG_DIFF}
relay=${2:?}
share=${3:?}
view=${4:?}
wsc=${5:?}
pngdiff=${6:?}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
for t in ip curl jq Xvfb xedit xdotool; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done

ns=tdm_desk_$$
work=$(mktemp -d)
pids=()
cleanup() {
  exec 7>&- 8>&- 9>&- 2>/dev/null
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  if [ "${failures:-1}" -ne 0 ]; then
    for f in share.out share.err view.out view.err rep.out rep2.out invitee.out input.log signal.err; do
      [ -f "$work/$f" ] && { echo "--- $f"; tail -n 40 "$work/$f"; }
    done
  fi
  # TDM_TEST_KEEP=DIR keeps the decoded snapshots for a person to look at.
  [ -n "${TDM_TEST_KEEP:-}" ] && mkdir -p "$TDM_TEST_KEEP" && cp "$work"/*.png "$TDM_TEST_KEEP"/ 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: cannot create namespace"; exit 1; }
# Programs in the background go through ip netns exec directly (it execs
# them), so $! is the program itself and signals reach it.
in_ns() { ip netns exec "$ns" "$@"; }

failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }
# wait_for FILE REGEX [MIN_COUNT]: up to 20 s for MIN_COUNT matching lines.
wait_for() {
  local n=${3:-1}
  for _ in $(seq 200); do
    [ "$(grep -Ec "$2" "$1" 2>/dev/null)" -ge "$n" ] && return 0
    sleep 0.1
  done
  return 1
}
count() { grep -Ec "$2" "$1" 2>/dev/null; }

SIG=127.0.0.1:18443
REL=127.0.0.1:18080
head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/relay.secret"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/master.key"
cat >"$work/config.json" <<JSON
{"public_url": "http://$SIG",
 "relays": [{"id": "n1", "url": "http://$REL"}],
 "relay_token_secret_file": "relay.secret",
 "recording_master_key_file": "master.key"}
JSON
echo 'a-password-for-alice' | "$signal" user add alice --role rep --db "$work/signal.db" \
  --may-invite --invite-profiles view_only >/dev/null || { echo "FAIL: user add"; exit 1; }
echo 'a-password-for-audrey' | "$signal" user add audrey --role auditor --db "$work/signal.db" \
  >/dev/null || { echo "FAIL: user add auditor"; exit 1; }

ip netns exec "$ns" "$relay" serve --listen "$REL" --node-id n1 --secret-file "$work/relay.secret" \
  --local-address 127.0.0.1 --workers 1 >"$work/relay.out" 2>"$work/relay.err" &
pids+=($!)
ip netns exec "$ns" "$signal" serve --db "$work/signal.db" --config "$work/config.json" --listen "$SIG" \
  >"$work/signal.out" 2>"$work/signal.err" &
signal_pid=$!
pids+=($signal_pid)
# Xvfb picks a free display and writes its number to fd 3; unix socket only.
# It runs outside the namespace so that its abstract socket claims the
# display number machine-wide; the programs inside reach it through the
# socket file in /tmp/.X11-unix.
Xvfb -displayfd 3 -screen 0 640x480x24 -nolisten tcp 3>"$work/display" \
  >"$work/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  in_ns curl -sf "http://$SIG/healthz" >/dev/null 2>&1 && grep -q listening "$work/relay.out" \
    && [ -s "$work/display" ] && break
  sleep 0.1
done
in_ns curl -sf "http://$SIG/healthz" >/dev/null || { echo "FAIL: signal did not start"; cat "$work/signal.err"; exit 1; }
grep -q listening "$work/relay.out" || { echo "FAIL: relay did not start"; cat "$work/relay.err"; exit 1; }
[ -s "$work/display" ] || { echo "FAIL: Xvfb did not start"; cat "$work/xvfb.log"; exit 1; }
display=:$(head -1 "$work/display")
export DISPLAY=$display
# A real X application: xedit's text area fills most of the screen.
xedit -geometry 640x480+0+0 >"$work/xedit.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do xdotool search --name xedit >/dev/null 2>&1 && break; sleep 0.1; done
xdotool search --name xedit >/dev/null 2>&1 && ok "xedit runs on Xvfb $display" \
  || { bad "xedit did not map a window"; cat "$work/xedit.log"; exit 1; }

api() { # METHOD PATH [BODY] [HEADER]: prints the body, then the status on its own line
  in_ns curl -s -X "$1" "http://$SIG$2" -H 'Content-Type: application/json' ${4:+-H "$4"} \
    --data "${3:-{\}}" -w '\n%{http_code}'
}
body() { sed '$d'; }

bearer=$(api POST /api/v1/login '{"name":"alice","password":"a-password-for-alice"}' | body | jq -r .token)
open=$(api POST /api/v1/sessions '{}' "Authorization: Bearer $bearer" | body)
sid=$(echo "$open" | jq -r .session_id)
rep_secret=$(echo "$open" | jq -r .secret)
code=$(echo "$open" | jq -r .join_code)
view_url=$(echo "$open" | jq -r .media.url)
view_tok=$(echo "$open" | jq -r .media.token)
[ -n "$sid" ] && [ "$sid" != null ] && ok "session opened" || { bad "open: $open"; exit 1; }
inv=$(api POST "/api/v1/sessions/$sid/invites" '{"profile":"view_only"}' "X-Tandem-Secret: $rep_secret" | body)
inv_tok=$(echo "$inv" | jq -r .token)
acc=$(api POST /api/v1/invites/accept "{\"token\":\"$inv_tok\",\"display_name\":\"Dana\"}" | body)
inv_secret=$(echo "$acc" | jq -r .secret)
[ -n "$inv_secret" ] && [ "$inv_secret" != null ] && ok "expert invited with view_only" || { bad "invite: $inv $acc"; exit 1; }

# --- the customer joins with the code alone ----------------------------------
mkfifo "$work/share.in" "$work/rep.in" "$work/inv.in"
exec 7<>"$work/share.in" 8<>"$work/rep.in" 9<>"$work/inv.in"
ip netns exec "$ns" "$share" --signal "http://$SIG" --join-code "$code" --name Bob --display "$display" \
  --local-address 127.0.0.1 --input-log "$work/input.log" --fps 15 \
  <"$work/share.in" >"$work/share.out" 2>"$work/share.err" &
share_pid=$!
pids+=($share_pid)
wait_for "$work/share.out" "^joined session $sid as p_" && ok "tandem-share joined with the code: $(grep '^joined' "$work/share.out")" \
  || { bad "share did not join"; exit 1; }
wait_for "$work/share.out" "^share: connected" && ok "tandem-share publishes ${display}'s picture" \
  || { bad "share did not connect"; exit 1; }
ip netns exec "$ns" "$view" --url "$view_url" --token "$view_tok" --local-address 127.0.0.1 \
  --snapshot "$work/snap.png" >"$work/view.out" 2>"$work/view.err" &
view_pid=$!
pids+=($view_pid)
ip netns exec "$ns" "$wsc" "http://$SIG" "$rep_secret" <"$work/rep.in" >"$work/rep.out" 2>"$work/rep.err" &
pids+=($!)
ip netns exec "$ns" "$wsc" "http://$SIG" "$inv_secret" <"$work/inv.in" >"$work/invitee.out" 2>"$work/invitee.err" &
pids+=($!)
wait_for "$work/rep.out" '^welcome' && wait_for "$work/invitee.out" '^welcome' \
  && ok "rep and invitee sockets authenticated" || bad "sockets did not authenticate"
wait_for "$work/view.out" 'frames [1-9]' && ok "tandem-view decodes the desktop" || bad "view decodes nothing"

# snapshot NAME: the view's latest decoded picture once it stopped changing
# (two snapshots in a row with no block apart), as $work/NAME.png.
snap_n=0
take_snapshot() {
  snap_n=$((snap_n + 1))
  kill -USR1 "$view_pid"
  wait_for "$work/view.out" '^view: snapshot' "$snap_n" || return 1
}
snapshot() {
  take_snapshot || return 1
  cp "$work/snap.png" "$work/$1.png"
  for _ in $(seq 30); do
    sleep 0.4
    take_snapshot || return 1
    if [ "$("$pngdiff" "$work/$1.png" "$work/snap.png" | awk '{print $2}')" = 0 ]; then
      cp "$work/snap.png" "$work/$1.png"
      return 0
    fi
    cp "$work/snap.png" "$work/$1.png"
  done
  return 1
}
blocks() { "$pngdiff" "$work/$1.png" "$work/$2.png" | awk '{print $2}'; }
rep() { echo "$1" >&8; }
inv() { echo "$1" >&9; }
type_text() { # SENDER TEXT: key_down/key_up per character
  local s=$1 t=$2 i c
  for ((i = 0; i < ${#t}; i++)); do
    c=${t:i:1}
    [ "$c" = " " ] && c=" "
    $s "{\"type\":\"key_down\",\"key\":\"$c\",\"mods\":[]}"
    $s "{\"type\":\"key_up\",\"key\":\"$c\",\"mods\":[]}"
  done
}
mouse() { xdotool getmouselocation | sed 's/ screen.*//'; }
injected() { count "$work/input.log" ' injected$'; }

# --- a rep's click and typing ---------------------------------------------------
rep '{"type":"pointer_move","x":0.5,"y":0.6}'
rep '{"type":"pointer_button","button":0,"down":true,"x":0.5,"y":0.6}'
rep '{"type":"pointer_button","button":0,"down":false,"x":0.5,"y":0.6}'
wait_for "$work/input.log" '^[0-9]+ pointer_button injected$' 2 && ok "the rep's click was injected" \
  || bad "click not injected: $(cat "$work/input.log" 2>/dev/null)"
[ "$(mouse)" = "x:320 y:287" ] && ok "the pointer is where the rep pointed (0.5, 0.6 -> 320, 287)" \
  || bad "pointer at '$(mouse)'"
snapshot before || bad "no settled snapshot before typing"
type_text rep "Tandem says hello 42"
wait_for "$work/input.log" '^[0-9]+ key_up injected$' 20 && ok "the rep's 20 keystrokes were injected" \
  || bad "keys injected: $(count "$work/input.log" 'key_up injected')"
snapshot typed || bad "no settled snapshot after typing"
b=$(blocks before typed)
[ "${b:-0}" -ge 20 ] && ok "typed text changed the decoded picture ($b blocks)" || bad "typing changed $b blocks"

# --- the view_only invitee changes nothing -----------------------------------------
n_before=$(injected)
inv '{"type":"pointer_move","x":0.1,"y":0.1}'
inv '{"type":"pointer_button","button":0,"down":true,"x":0.1,"y":0.1}'
type_text inv "xyz"
wait_for "$work/invitee.out" '"error":"input_denied","reason":"kind_not_allowed"' 8 \
  && ok "the invitee's 8 events were denied (kind_not_allowed)" \
  || bad "invitee denials: $(count "$work/invitee.out" input_denied)"
snapshot invitee || bad "no settled snapshot after the invitee"
b=$(blocks typed invitee)
[ "$b" = 0 ] && ok "the invitee's input changed nothing in the picture" || bad "invitee changed $b blocks"
[ "$(mouse)" = "x:320 y:287" ] && ok "the pointer did not move" || bad "pointer moved to '$(mouse)'"
[ "$(injected)" = "$n_before" ] && ok "nothing of the invitee's reached tandem-share" || bad "injected grew"

# --- the customer takes control back --------------------------------------------------
kill -USR2 "$share_pid"
wait_for "$work/share.out" '^control: customer$' && ok "SIGUSR2: tandem-share says control: customer" \
  || bad "no control: customer line"
wait_for "$work/rep.out" '"event":"control_taken_back"' && ok "the rep's socket saw control_taken_back" \
  || bad "rep saw no control_taken_back"
grep '"event":"control_taken_back"' "$work/rep.out" | tail -1 | grep -q '"control":"customer"' \
  && ok "the session state says control customer" || bad "state lacks control customer"
wait_for "$work/invitee.out" '"event":"control_taken_back"' && ok "the invitee saw it too" || bad "invitee did not see it"
n_before=$(injected)
rep '{"type":"pointer_move","x":0.9,"y":0.9}'
type_text rep "denied"
wait_for "$work/rep.out" '"reason":"customer_has_control"' 13 \
  && ok "the rep's 13 events were denied: customer_has_control" \
  || bad "customer_has_control denials: $(count "$work/rep.out" customer_has_control)"
snapshot taken || bad "no settled snapshot while taken back"
b=$(blocks invitee taken)
[ "$b" = 0 ] && ok "nothing changed on the desktop while the customer had control" || bad "taken back: $b blocks changed"
[ "$(mouse)" = "x:320 y:287" ] && ok "the pointer stayed" || bad "pointer moved to '$(mouse)'"
[ "$(injected)" = "$n_before" ] && ok "nothing was injected while taken back" || bad "injected while taken back"

auditor=$(api POST /api/v1/login '{"name":"audrey","password":"a-password-for-audrey"}' | body | jq -r .token)
audit=$(api GET "/api/v1/sessions/$sid/audit" '' "Authorization: Bearer $auditor" | body)
echo "$audit" | jq -e '.entries | map(select(.kind == "control_taken_back")) | length == 1' >/dev/null \
  && ok "audit: control_taken_back" || bad "audit lacks control_taken_back"
echo "$audit" | jq -e '.entries | map(select(.kind == "input_denied" and .detail.reason == "customer_has_control")) | length >= 1' >/dev/null \
  && ok "audit: input_denied customer_has_control" || bad "audit lacks the customer_has_control denials"

# --- giving it back (stdin), taking it again (stdin), the chord ---------------------------
echo give >&7
wait_for "$work/share.out" '^control: shared$' && ok "stdin give: control: shared" || bad "no control: shared"
wait_for "$work/rep.out" '"event":"control_returned"' && ok "the rep's socket saw control_returned" \
  || bad "rep saw no control_returned"
type_text rep " ok"
wait_for "$work/input.log" '^[0-9]+ key_up injected$' 23 && ok "the rep types again" || bad "rep input after give"
snapshot again || bad "no settled snapshot after giving back"
b=$(blocks taken again)
[ "${b:-0}" -ge 2 ] && ok "the rep's typing shows again ($b blocks)" || bad "after give: $b blocks"

echo take >&7
wait_for "$work/share.out" '^control: customer$' 2 && ok "stdin take: control: customer" || bad "stdin take"
wait_for "$work/rep.out" '"event":"control_taken_back"' 2 && ok "the rep saw the second take-back" || bad "second take-back"
xdotool key ctrl+alt+shift+t
wait_for "$work/share.out" '^control: shared$' 2 && ok "the chord Ctrl+Alt+Shift+T on the display toggles control back" \
  || bad "chord did not toggle"
wait_for "$work/rep.out" '"event":"control_returned"' 2 && ok "the rep saw control_returned again" || bad "no second control_returned"
xdotool key ctrl+alt+shift+t
wait_for "$work/share.out" '^control: customer$' 3 && ok "the chord takes control back" || bad "chord did not take back"
# The chord is the customer's: the rep cannot send it through.
echo give >&7
wait_for "$work/share.out" '^control: shared$' 3 || bad "give before the chord check"
wait_for "$work/rep.out" '"event":"control_returned"' 3 || bad "returned before the chord check"
rep '{"type":"key_down","key":"T","mods":["ctrl","alt","shift"]}'
wait_for "$work/input.log" 'key_down refused:take_back_chord$' && ok "tandem-share refuses to inject the take-back chord" \
  || bad "chord from the rep: $(tail -2 "$work/input.log")"
[ "$(count "$work/share.out" '^control: ')" = 6 ] && ok "the rep's chord did not toggle control" || bad "control lines: $(count "$work/share.out" '^control: ')"

# --- tandem-signal restarts: the customer's endpoint reconnects -------------------
echo take >&7
wait_for "$work/share.out" '^control: customer$' 4 || bad "take before the restart"
kill -TERM "$signal_pid"
wait "$signal_pid" 2>/dev/null
ip netns exec "$ns" "$signal" serve --db "$work/signal.db" --config "$work/config.json" --listen "$SIG" \
  >>"$work/signal.out" 2>>"$work/signal.err" &
signal_pid=$!
pids+=($signal_pid)
wait_for "$work/share.out" '^share: reconnected to the service$' \
  && ok "tandem-share reconnected after tandem-signal restarted" || bad "no reconnection"
kill -0 "$share_pid" 2>/dev/null && ok "and kept publishing" || bad "share died with the service"
mkfifo "$work/rep2.in"
exec 8<>"$work/rep2.in"
DESKTOP_WS_STAMP=1 ip netns exec "$ns" "$wsc" "http://$SIG" "$rep_secret" <"$work/rep2.in" >"$work/rep2.out" 2>"$work/rep2.err" &
pids+=($!)
wait_for "$work/rep2.out" '^welcome' || bad "rep did not get back in"
rep '{"type":"pointer_move","x":0.1,"y":0.1}'
wait_for "$work/rep2.out" '"reason":"customer_has_control"' \
  && ok "the take-back survived the restart (re-announced by tandem-share)" || bad "rep2: $(tail -2 "$work/rep2.out")"
echo give >&7
wait_for "$work/rep2.out" '"event":"control_returned"' && ok "given back after the restart" || bad "rep2 saw no control_returned"
n_before=$(injected)
rep '{"type":"pointer_move","x":0.5,"y":0.6}'
for _ in $(seq 100); do [ "$(injected)" -gt "$n_before" ] && break; sleep 0.1; done
[ "$(injected)" -gt "$n_before" ] && ok "the rep's input flows again" || bad "no input after the restart"

# For information (no assertion on time): rep's send -> tandem-share's
# injection flushed to X, both CLOCK_MONOTONIC on this machine.
n0=$(wc -l <"$work/input.log")
s0=$(grep -c '^sent ' "$work/rep2.out")
for i in $(seq 100); do
  rep "{\"type\":\"pointer_move\",\"x\":0.$((i % 9 + 1)),\"y\":0.5}"
  sleep 0.02
done
for _ in $(seq 100); do [ $(( $(wc -l <"$work/input.log") - n0 )) -ge 100 ] && break; sleep 0.1; done
paste <(grep '^sent ' "$work/rep2.out" | tail -n +$((s0 + 1)) | awk '{print $2}') \
      <(tail -n +$((n0 + 1)) "$work/input.log" | awk '{print $1}') \
  | awk 'NF == 2 {print $2 - $1}' | sort -n >"$work/latency"
if [ "$(wc -l <"$work/latency")" -ge 100 ]; then
  pct() { awk -v q="$1" '{a[NR] = $1} END {i = int(NR * q + 0.999999); if (i < 1) i = 1; print a[i]}' "$work/latency"; }
  ok "input latency, rep WebSocket -> XTEST (100 moves): p50 $(pct 0.5) us, p95 $(pct 0.95) us, p99 $(pct 0.99) us"
else
  bad "latency: only $(wc -l <"$work/latency") of 100 moves matched"
fi

grep -Eq 'input [0-9]+ injected [0-9]+ refused [0-9]+ control (shared|customer)' "$work/share.out" \
  && ok "status lines carry the input counts" || bad "no input counts in the status line"
kill -TERM "$share_pid"
wait "$share_pid"; st=$?
[ $st -eq 0 ] && ok "tandem-share stopped cleanly" || bad "share exit $st"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
