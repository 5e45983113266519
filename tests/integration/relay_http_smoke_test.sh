#!/usr/bin/env bash
# tandem-relay's HTTP API as a client meets it, with a real process on a free
# loopback port and curl: tokens minted by `tandem-relay token` are checked
# (401 without, 403 for another role, node or session), routing and content
# checks are real, creating an endpoint answers 503 in --no-media mode,
# /healthz and /metrics answer, CORS preflight works, keep-alive holds, and
# SIGTERM stops the relay cleanly. Also the CLI's help and exit statuses.
set -u
relay=${1:?usage: relay_http_smoke_test.sh PATH_TO_TANDEM_RELAY}
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
checks=0

ok() { checks=$((checks + 1)); echo "ok   $1"; }
bad() { checks=$((checks + 1)); failures=$((failures + 1)); echo "FAIL $1"; }
check() { # check NAME COMMAND...: the command must succeed
  local name=$1; shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}

# run EXPECTED_STATUS ARGS...: runs the relay CLI, output in $work/out, $work/err.
run() {
  local want=$1; shift
  "$relay" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "  exit status $got, wanted $want for: $*"; cat "$work/err"; return 1
  fi
}
err_has() { grep -q -- "$1" "$work/err" || { echo "  stderr lacks '$1':"; cat "$work/err"; return 1; }; }

openssl rand -hex 32 >"$work/secret" 2>/dev/null || head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secret"
printf 'short\n' >"$work/short"

# --- the CLI ---
check "help: status 0, names both commands" bash -c "'$relay' --help | grep -q serve && '$relay' --help | grep -q token"
check "serve --help tells about --no-media" bash -c "'$relay' serve --help | grep -q -- --no-media"
check "token --help names --role" bash -c "'$relay' token --help | grep -q -- '--role publish|subscribe'"
check "no command: status 2" run 2
check "unknown command: status 2" run 2 launch
check "token, unknown flag: status 2, says which" run 2 token --bogus
err_has "unknown option '--bogus'" || bad "unknown flag message"
check "token, missing --role: status 2" run 2 token --secret-file "$work/secret" --session s --participant p --node n
err_has "--role is required" || bad "missing role message"
check "token, bad role: status 2" run 2 token --secret-file "$work/secret" --session s --participant p --node n --role admin
check "token, bad session id: status 2" run 2 token --secret-file "$work/secret" --session 'a b' --participant p --node n --role publish
check "token, bad ttl: status 2" run 2 token --secret-file "$work/secret" --session s --participant p --node n --role publish --ttl 0
check "token, missing secret file: status 1" run 1 token --secret-file "$work/nope" --session s --participant p --node n --role publish
err_has "nope" || bad "missing file message names the file"
check "token, short secret: status 1" run 1 token --secret-file "$work/short" --session s --participant p --node n --role publish
err_has "at least 16" || bad "short secret message"
check "token prints a JWT" run 0 token --secret-file "$work/secret" --session s --participant p --node n --role publish
grep -Eq '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "$work/out" || bad "token shape"
check "serve without --no-media: status 2, says why" run 2 serve --node-id n1 --secret-file "$work/secret"
err_has "media plane" || bad "no-media message"
check "serve, bad --listen: status 2" run 2 serve --listen localhost --node-id n1 --secret-file "$work/secret" --no-media
check "serve, missing --node-id: status 2" run 2 serve --secret-file "$work/secret" --no-media
check "serve, missing secret file: status 1" run 1 serve --node-id n1 --secret-file "$work/nope" --no-media
check "serve, short secret: status 1" run 1 serve --node-id n1 --secret-file "$work/short" --no-media

# --- a running relay ---
"$relay" serve --listen 127.0.0.1:0 --node-id node-a --secret-file "$work/secret" --no-media \
  >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$work/serve.out")
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$port" ]; then
  echo "FAIL relay did not start"; cat "$work/serve.out" "$work/serve.err"; exit 1
fi
ok "relay listening on port $port"
base="http://127.0.0.1:$port"

token() { # token ROLE SESSION NODE
  "$relay" token --secret-file "$work/secret" --session "$2" --participant p1 --role "$1" --node "$3"
}
pub=$(token publish sess-1 node-a)
sub=$(token subscribe sess-1 node-a)
other_node=$(token publish sess-1 node-b)
other_session=$(token publish sess-2 node-a)

offer="$work/offer.sdp"
printf '%s\r\n' "v=0" "o=- 1 2 IN IP4 127.0.0.1" "s=-" "t=0 0" "a=group:BUNDLE 0" \
  "m=video 9 UDP/TLS/RTP/SAVPF 96" "c=IN IP4 0.0.0.0" "a=ice-ufrag:Qx9Z" \
  "a=ice-pwd:3Fqz7u1XaH5Yb9Kc2Md4Ne6P" \
  "a=fingerprint:sha-256 93:90:EF:32:AD:DF:32:BF:DE:A7:86:BC:1E:20:67:95:92:49:80:68:BC:BF:CD:35:7E:A1:0A:B6:4E:A3:5E:47" \
  "a=setup:actpass" "a=mid:0" "a=sendonly" "a=rtcp-mux" "a=rtpmap:96 VP8/90000" >"$offer"

# req NAME WANT_STATUS CURL_ARGS...: body in $work/body, headers in $work/headers.
req() {
  local name=$1 want=$2; shift 2
  local got
  got=$(curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' --max-time 10 "$@")
  if [ "$got" = "$want" ]; then ok "$name ($got)"; else bad "$name: status $got, wanted $want"; cat "$work/body"; fi
}
body_is() { [ "$(cat "$work/body")" = "$1" ] || { bad "body '$(cat "$work/body")', wanted '$1'"; return 1; }; }
header_has() { grep -qi "^$1" "$work/headers" || { bad "no header '$1'"; cat "$work/headers"; return 1; }; }

req "healthz" 200 "$base/healthz"
body_is "ok"
req "metrics" 200 "$base/metrics"
grep -q '^tandem_relay_media_plane_up 0$' "$work/body" || bad "metrics: media plane gauge"
header_has "Content-Type: text/plain; version=0.0.4"

sdp=(-H "Content-Type: application/sdp" --data-binary "@$offer")
req "POST without token" 401 -X POST "${sdp[@]}" "$base/whip/sess-1"
header_has "WWW-Authenticate: Bearer"
body_is "no bearer token"
req "POST with a garbage token" 401 -X POST "${sdp[@]}" -H "Authorization: Bearer abc.def" "$base/whip/sess-1"
req "POST with a subscribe token" 403 -X POST "${sdp[@]}" -H "Authorization: Bearer $sub" "$base/whip/sess-1"
body_is "token does not grant this role"
grep -qi "^WWW-Authenticate" "$work/headers" && bad "403 carries WWW-Authenticate"
req "POST with another node's token" 403 -X POST "${sdp[@]}" -H "Authorization: Bearer $other_node" "$base/whip/sess-1"
req "POST with another session's token" 403 -X POST "${sdp[@]}" -H "Authorization: Bearer $other_session" "$base/whip/sess-1"
grep -q "sess-2" "$work/body" && bad "refusal names a session"
req "POST with a good token: no media plane" 503 -X POST "${sdp[@]}" -H "Authorization: Bearer $pub" "$base/whip/sess-1"
body_is "media plane not available"
req "WHEP POST with a subscribe token" 503 -X POST "${sdp[@]}" -H "Authorization: Bearer $sub" "$base/whep/sess-1"
req "POST wrong Content-Type" 415 -X POST -H "Content-Type: text/plain" --data-binary "@$offer" -H "Authorization: Bearer $pub" "$base/whip/sess-1"
req "POST bad SDP names the line" 400 -X POST -H "Content-Type: application/sdp" --data-binary $'v=0\r\nm=video x\r\n' -H "Authorization: Bearer $pub" "$base/whip/sess-1"
grep -q '^line 2: ' "$work/body" || bad "bad SDP message: $(cat "$work/body")"
head -c 70000 /dev/zero | tr '\0' a >"$work/big"
req "POST over the body limit" 413 -X POST -H "Content-Type: application/sdp" --data-binary "@$work/big" -H "Authorization: Bearer $pub" "$base/whip/sess-1"
req "POST chunked: length required" 411 -X POST -H "Content-Type: application/sdp" -H "Transfer-Encoding: chunked" --data-binary "@$offer" -H "Authorization: Bearer $pub" "$base/whip/sess-1"
rid=0123456789abcdef0123456789abcdef
req "PATCH unknown resource" 404 -X PATCH -H "Content-Type: application/trickle-ice-sdpfrag" --data-binary $'a=ice-ufrag:abcd\r\n' -H "Authorization: Bearer $pub" "$base/whip/sess-1/$rid"
req "DELETE without token" 401 -X DELETE "$base/whip/sess-1/$rid"
req "DELETE unknown resource" 404 -X DELETE -H "Authorization: Bearer $pub" "$base/whip/sess-1/$rid"
req "unknown path" 404 "$base/nope"
req "wrong method" 405 -X PUT "$base/whip/sess-1"
header_has "Allow: POST, OPTIONS"
req "CORS preflight" 204 -X OPTIONS -H "Origin: https://console.example" -H "Access-Control-Request-Method: POST" "$base/whip/sess-1"
header_has "Access-Control-Allow-Origin: \*"
header_has "Access-Control-Allow-Headers: Authorization, Content-Type, If-Match"

# Keep-alive: three requests, one connection, all answered.
fmt='%{http_code} %{num_connects}\n'
codes=$(curl -s -o /dev/null -w "$fmt" --max-time 10 "$base/healthz" \
  --next -s -o /dev/null -w "$fmt" --max-time 10 -X OPTIONS "$base/whip/sess-1" \
  --next -s -o /dev/null -w "$fmt" --max-time 10 "$base/healthz" | tr '\n' ' ')
if [ "$codes" = "200 1 204 0 200 0 " ]; then ok "keep-alive across 200/204/200"; else bad "keep-alive: $codes"; fi

req "metrics count refusals" 200 "$base/metrics"
grep -q '^tandem_token_refusals_total{reason="wrong_role"} 1$' "$work/body" || bad "wrong_role counter"
grep -q '^tandem_token_refusals_total{reason="missing"} 2$' "$work/body" || bad "missing counter"
grep -q '^tandem_http_requests_total{code="503"} 2$' "$work/body" || bad "503 counter"

# --- stop ---
kill -TERM "$pid"
stopped=
for _ in $(seq 100); do
  kill -0 "$pid" 2>/dev/null || { stopped=1; break; }
  sleep 0.05
done
if [ -n "$stopped" ]; then
  wait "$pid"; status=$?
  if [ "$status" -eq 0 ]; then ok "SIGTERM stops the relay, status 0"; else bad "status $status after SIGTERM"; fi
  pid=
else
  bad "relay still running 5 s after SIGTERM"
fi
grep -q "stopped" "$work/serve.err" || bad "no 'stopped' line"

echo "$((checks - failures))/$checks checks passed"
[ "$failures" -eq 0 ]
