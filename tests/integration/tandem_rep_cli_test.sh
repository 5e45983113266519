#!/usr/bin/env bash
# tandem-rep against the real tandem-signal on 127.0.0.1 (a real SQLite file
# in a temporary directory; the relay in the configuration is never
# contacted: media tokens are minted by signaling alone). What a script
# relies on: the fields each command prints, files written mode 0600, the
# exit statuses --help promises (0, 1 refused/unreachable, 2 usage, 3 input
# denied or undelivered, watch removed), and the reasons printed.
set -u
signal=${1:?usage: tandem_rep_cli_test.sh TANDEM_SIGNAL TANDEM_REP}
repbin=${2:?}
work=$(mktemp -d /tmp/tandem_rep_cli.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }
expect_rc() { # WANT DESCRIPTION CMD...: runs CMD, output in $work/last
  local want=$1 what=$2; shift 2
  "$@" >"$work/last" 2>&1
  local rc=$?
  [ "$rc" -eq "$want" ] && ok "$what (exit $rc)" || { bad "$what: exit $rc, wanted $want"; cat "$work/last"; }
}
field() { awk -v k="$1" '$1 == k { print $2; exit }' "$2"; }

cd "$work"
printf '0123456789abcdef0123456789abcdef-relay\n' >relay.secret
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >master.key
echo '{"relays":[{"id":"r1","url":"http://127.0.0.1:9"}],"relay_token_secret_file":"relay.secret","recording_master_key_file":"master.key","profiles":{"typing_only":{"events":["key_down","key_up"],"clipboard":"none","rate":{"per_second":1000,"burst":1000}}}}' >config.json
echo 'pw-alice' | "$signal" user add alice --role rep --db s.db --may-invite \
  --invite-profiles view_only,typing_only >/dev/null || { echo "FAIL user add"; exit 1; }
echo 'pw-bob' | "$signal" user add bob --role rep --db s.db >/dev/null || { echo "FAIL user add"; exit 1; }
"$signal" serve --db s.db --config config.json --listen 127.0.0.1:0 >serve.out 2>serve.err &
pids+=($!)
for _ in $(seq 100); do grep -q listening serve.out && break; sleep 0.1; done
port=$(sed -nE 's/listening on 127\.0\.0\.1:([0-9]+)/\1/p' serve.out)
[ -n "$port" ] || { echo "FAIL: tandem-signal did not start"; cat serve.err; exit 1; }
export TANDEM_SIGNAL=http://127.0.0.1:$port
rep() { "$repbin" "$@"; }

# --- usage ---
expect_rc 0 "--help" rep --help
for c in login "session new" invite accept-invite view-token input watch end "Exit status" \
  kind_not_allowed key_chord_blocked rate_limited customer_has_control; do
  grep -q "$c" "$work/last" || bad "--help does not mention '$c'"
done
expect_rc 2 "no command" rep
expect_rc 2 "unknown command" rep frobnicate
expect_rc 2 "unknown option" rep --frob end
expect_rc 2 "bad --signal" rep --signal https://x end --session s --secret x
grep -q "https is not supported" "$work/last" && ok "bad --signal explained" || bad "$(cat "$work/last")"
expect_rc 2 "login without --user" rep login
expect_rc 2 "accept-invite without a token" rep accept-invite --name X

# --- login ---
expect_rc 1 "wrong password" sh -c "echo nope | '$repbin' login --user alice"
grep -q "bad_credentials" "$work/last" && ok "wrong password: bad_credentials printed" || bad "$(cat "$work/last")"
expect_rc 0 "login prints the token" sh -c "echo pw-alice | '$repbin' login --user alice"
[ "$(wc -l <"$work/last")" -eq 1 ] && grep -Eq '^[A-Za-z0-9_.-]{16,}$' "$work/last" && ok "one token line" || bad "token: $(cat "$work/last")"
expect_rc 0 "login --save" sh -c "echo pw-alice | '$repbin' login --user alice --save alice.token"
[ "$(stat -c %a alice.token)" = 600 ] && ok "token file mode 0600" || bad "mode $(stat -c %a alice.token)"
printf 'pw-bob\n' >bob.pw
expect_rc 0 "login --password-file" rep login --user bob --password-file bob.pw --save bob.token
expect_rc 1 "session new without a token" env -u TANDEM_TOKEN "$repbin" session new

# --- session, invite, accept ---
expect_rc 0 "session new --save" rep session new --token-file alice.token --save rep.sess
for k in session_id participant_id join_code code_expires_s profile media_url media_token; do
  grep -q "^$k " "$work/last" || bad "session new does not print $k"
done
! grep -q "^secret " "$work/last" && grep -q "^secret " rep.sess && ok "the secret went to the file only" \
  || bad "secret placement"
[ "$(stat -c %a rep.sess)" = 600 ] && ok "session file mode 0600" || bad "session file mode"
sid=$(field session_id rep.sess)
expect_rc 0 "invite view_only" rep invite --session-file rep.sess --profile view_only
link=$(field link "$work/last")
case $link in "$TANDEM_SIGNAL/invite.html#token="*) ok "absolute invite link" ;; *) bad "link '$link'" ;; esac
expect_rc 1 "invite with a profile not allowed" rep invite --session-file rep.sess --profile control
grep -q "profile_not_allowed" "$work/last" && ok "profile_not_allowed printed" || bad "$(cat "$work/last")"
expect_rc 0 "accept-invite with the whole link" rep accept-invite "$link" --name Dana --save dana.sess
[ "$(field profile dana.sess)" = view_only ] && ok "expert has view_only" || bad "profile $(field profile dana.sess)"
expect_rc 1 "the same invite twice" rep accept-invite "$link" --name Eve
grep -q "invite_used" "$work/last" && ok "invite_used printed" || bad "$(cat "$work/last")"
# A base64url token may start with '-': it is the operand, not an option.
expect_rc 1 "a token starting with '-' is taken as the token" rep accept-invite -2unknownTokenOfSomeLength --name Zed
grep -q "invite_unknown" "$work/last" && ok "invite_unknown printed for it" || bad "$(cat "$work/last")"
expect_rc 0 "invite typing_only" rep invite --session-file rep.sess --profile typing_only --ttl 600
expect_rc 0 "accept with the bare token" rep accept-invite "$(field token "$work/last")" --name Tom --save tom.sess
expect_rc 0 "view-token" rep view-token --session-file dana.sess
grep -q "^media_url http://127.0.0.1:9/whep/$sid" "$work/last" && grep -q "^media_token " "$work/last" \
  && ok "view-token prints the WHEP URL and a token" || bad "$(cat "$work/last")"
expect_rc 0 "view-token with --session/--secret" rep view-token --session "$sid" --secret "$(field secret rep.sess)"
expect_rc 1 "view-token with a wrong secret" rep view-token --session "$sid" --secret wrong
grep -q "bad_credentials" "$work/last" && ok "bad_credentials printed" || bad "$(cat "$work/last")"

# --- watch while the others act ---
rep watch --session-file rep.sess >watch.out 2>&1 &
watch_pid=$!
pids+=($watch_pid)
for _ in $(seq 50); do grep -q "watching $sid" watch.out && break; sleep 0.1; done
grep -q "watching $sid" watch.out && ok "watch prints the welcome" || bad "watch: $(cat watch.out)"

# --- input ---
expect_rc 3 "rep input with nobody sharing" rep input --session-file rep.sess 'click 0.5 0.5'
grep -q "^undelivered click 0.5 0.5: customer_offline (pointer_button x2)" "$work/last" \
  && ok "undelivered, counted" || bad "$(cat "$work/last")"
expect_rc 3 "view_only input from stdin" sh -c "printf '# a comment\n\nkey ctrl+c\n' | '$repbin' input --session-file dana.sess"
grep -q "^denied key ctrl+c: kind_not_allowed (key_down)" "$work/last" && ok "denied with the reason" || bad "$(cat "$work/last")"
expect_rc 3 "typing_only: a click denied, typing not denied" rep input --session-file tom.sess 'click 0.1 0.1' 'type "ab"'
grep -q "^denied click 0.1 0.1: kind_not_allowed" "$work/last" && ! grep -q "^denied type" "$work/last" \
  && ok "filter per event kind" || bad "$(cat "$work/last")"
expect_rc 2 "a bad event line" rep input --session-file rep.sess 'move 2 0'
grep -q "fractions of the screen" "$work/last" && ok "bad line explained" || bad "$(cat "$work/last")"
expect_rc 2 "an unknown modifier" rep input --session-file rep.sess 'key hyper+x'
expect_rc 0 "wait only" rep input --session-file rep.sess 'wait 1'

# --- end ---
expect_rc 1 "end by a non-owner" rep end --session-file dana.sess
grep -q "not_owner\|not_a_rep" "$work/last" && ok "refusal named" || bad "$(cat "$work/last")"
expect_rc 0 "end" rep end --session-file rep.sess
for _ in $(seq 50); do kill -0 "$watch_pid" 2>/dev/null || break; sleep 0.1; done
wait "$watch_pid"
wrc=$?
[ "$wrc" -eq 0 ] && grep -q "session ended" watch.out && grep -q "closed: the session ended" watch.out \
  && ok "watch saw the end and exited 0" || { bad "watch exit $wrc"; cat watch.out; }
grep -q "session online .*(invited Dana" watch.out && ok "watch named who came online" || bad "watch: $(cat watch.out)"
expect_rc 1 "end twice" rep end --session-file rep.sess
grep -q "session_ended" "$work/last" && ok "session_ended printed" || bad "$(cat "$work/last")"

# --- unreachable ---
kill -TERM "${pids[0]}"; wait "${pids[0]}" 2>/dev/null
expect_rc 1 "service down" rep end --session-file rep.sess
grep -q "connection refused by 127.0.0.1:$port" "$work/last" && ok "connection refused explained" || bad "$(cat "$work/last")"

echo "$failures failures"
[ "$failures" -eq 0 ]
