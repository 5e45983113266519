#!/usr/bin/env bash
# The auditor's recordings routes of tandem-signal (API.md "Recordings",
# issue 6) against the real service, inside a network namespace this test
# creates (only its loopback is up), with real recordings
# (recordings_fixture.sh: a session played at known times and its
# recording, plus a tampered, a cut, a wrong-key and a junk file):
#   - no token 401, a rep 403 forbidden, an auditor and an admin 200;
#   - the list: every recording, who took part (from the audit log), the
#     verify status of each (verified, fault, truncated, unreadable with
#     "wrong key"), files that are not recordings left out;
#   - the detail: the verify result with the hash and the fault that
#     tandem-replay verify reports, the timeline's audit events at their
#     offsets, by recording id and by session id; 404 for unknown and
#     malformed ids, 422 for a file that cannot be read;
#   - video.webm: 503 + Retry-After until exported, then 200/206/416 with
#     Accept-Ranges, Content-Range and Content-Length, bytes equal to the
#     whole file's; the ticket admits the <video> element, a bad or
#     another recording's ticket does not; HEAD; the export decodes with
#     every frame number in order (recording_webm_check); a tampered
#     recording is not exported (422 export_failed), a cut one is;
#   - the export is done once: a second service start serves it from the
#     cache without exporting again;
#   - a session recorded in two segments with a gap between them (issue 8:
#     the session went on on another relay): one list entry with the
#     segment count, its files and the gap; the detail by session id with
#     each segment verified and the gap in the timeline; video.webm the
#     joined export, every frame number in order across the seam, the gap
#     kept in the timestamps; each file still reachable by its own id.
# usage: signal_recordings_api_test.sh TANDEM_SIGNAL RECORDING_SYNTH SESSION_HELPER TANDEM_REPLAY WEBM_CHECK
set -u
signal=${1:?usage: signal_recordings_api_test.sh TANDEM_SIGNAL RECORDING_SYNTH SESSION_HELPER TANDEM_REPLAY WEBM_CHECK}
synth=${2:?}
helper=${3:?}
replay=${4:?}
webm_check=${5:?}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root for ip netns"; exit 77; }
for t in ip curl jq python3; do command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }; done
# shellcheck source=recordings_fixture.sh
. "$here/recordings_fixture.sh"

ns=tdm_recapi_$$
work=$(mktemp -d)
sig_pid=
cleanup() {
  [ -n "$sig_pid" ] && { kill -KILL "$sig_pid" 2>/dev/null; wait "$sig_pid" 2>/dev/null; }
  ip netns del "$ns" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: cannot create namespace"; exit 1; }
in_ns() { ip netns exec "$ns" "$@"; }

failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }
check() { if eval "$1"; then ok "$2"; else bad "$2"; fi; }

LISTEN=127.0.0.1:18611
URL=http://$LISTEN
fixture_make "$work" "$signal" "$synth" "$helper" "$LISTEN" || { echo "FAIL: fixture"; exit 1; }

# ip netns exec execs the service: $! is its PID (not a subshell's), so a
# stop really stops it and a restart cannot be answered by the old one.
start_signal() {
  ip netns exec "$ns" "$signal" serve --db "$work/signal.db" --config "$work/config.json" \
    --listen "$LISTEN" --web-root "$here/../../web" >>"$work/signal.out" 2>>"$work/signal.err" &
  sig_pid=$!
  for _ in $(seq 100); do
    kill -0 "$sig_pid" 2>/dev/null || break
    in_ns curl -sf "$URL/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "FAIL: tandem-signal did not start"; cat "$work/signal.err"; exit 1
}
stop_signal() { kill -TERM "$sig_pid"; wait "$sig_pid"; sig_pid=; }
start_signal

# GET with optional bearer token: the body in $work/body, headers in $work/hdr, the status echoed.
get() { # PATH [TOKEN] [extra curl args...]
  local path=$1 tok=${2:-}; shift 2 2>/dev/null || shift $#
  local auth=()
  [ -n "$tok" ] && auth=(-H "Authorization: Bearer $tok")
  in_ns curl -s -o "$work/body" -D "$work/hdr" -w '%{http_code}' "${auth[@]}" "$@" "$URL$path"
}
hdr() { grep -i "^$1:" "$work/hdr" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
login() {
  in_ns curl -s -X POST "$URL/api/v1/login" -H 'Content-Type: application/json' \
    -d "{\"name\":\"$1\",\"password\":\"$2\"}" | jq -r .token
}
AUD=$(login audrey "$AUDITOR_PW")
REP=$(login alice "$REP_PW")
ADM=$(login root "$ADMIN_PW")
[ -n "$AUD" ] && [ "$AUD" != null ] && [ -n "$REP" ] && [ -n "$ADM" ] || { echo "FAIL: login"; exit 1; }

# --- who may ---
check '[ "$(get /api/v1/recordings)" = 401 ] && [ "$(jq -r .error "$work/body")" = bad_credentials ]' \
  "list without a token: 401 bad_credentials"
check '[ "$(get /api/v1/recordings "$REP")" = 403 ] && [ "$(jq -r .error "$work/body")" = forbidden ]' \
  "list as a rep: 403 forbidden"
check '[ "$(get /api/v1/recordings/"$SID" "$REP")" = 403 ]' "detail as a rep: 403"
check '[ "$(get /api/v1/recordings/"$SID"/video.webm "$REP")" = 403 ]' "video as a rep: 403"
check '[ "$(get /api/v1/recordings x-bad-token)" = 401 ]' "list with a bad token: 401"
check '[ "$(get /api/v1/recordings "$ADM")" = 200 ]' "list as an admin: 200"
check '[ "$(in_ns curl -s -o /dev/null -w "%{http_code}" -X POST -H "Authorization: Bearer $AUD" "$URL/api/v1/recordings")" = 405 ]' \
  "POST to the list: 405"

# A file the relay is still writing (modified within the last seconds; here
# its mtime is in the future, which counts the same and does not depend on
# how fast this test runs) is listed but neither verified nor exported.
"$synth" "$work/rec/live.tdmrec" --key-file "$work/master.key" --session "$SID-live" --frames 30 \
  >/dev/null || { echo "FAIL: live fixture"; exit 1; }
touch -d '+1 hour' "$work/rec/live.tdmrec"

# --- the list (verification runs on the worker: poll until none is pending) ---
for _ in $(seq 100); do
  [ "$(get /api/v1/recordings "$AUD")" = 200 ] || break
  jq -e '[.recordings[] | select(.state == "pending")] | length == 0' "$work/body" >/dev/null && break
  sleep 0.2
done
cp "$work/body" "$work/list.json"
status_of() { jq -r --arg id "$1" '.recordings[] | select(.id == $id) | .verify.status' "$work/list.json"; }
check '[ "$(jq ".recordings | length" "$work/list.json")" = 7 ]' "the list has the 7 sessions (6 of one file, 1 of two; notes.txt left out)"
check '[ "$(status_of live)" = recording ] && [ "$(jq -r ".recordings[] | select(.id == \"live\") | .state" "$work/list.json")" = live ]' \
  "a recording still being written: listed as recording, not verified"
check '[ "$(get /api/v1/recordings/live/video.webm "$AUD")" = 503 ] && [ "$(jq -r .error "$work/body")" = recording_in_progress ]' \
  "its video: 503 recording_in_progress"
check '[ "$(status_of "$SID")" = verified ]' "intact recording: verified"
check '[ "$(status_of tampered)" = fault ]' "tampered recording: fault"
check '[ "$(status_of cut)" = truncated ]' "cut recording: truncated"
check '[ "$(status_of wrongkey)" = unreadable ] && jq -r ".recordings[] | select(.id == \"wrongkey\") | .verify.problem" "$work/list.json" | grep -q "wrong key"' \
  "recording under another key: unreadable, wrong key"
check '[ "$(status_of garbage)" = unreadable ]' "junk after the magic: unreadable"
check 'jq -e --arg id "$SID" ".recordings[] | select(.id == \$id) | [.participants[] | .name + \"/\" + .kind] == [\"alice/rep\", \"Carol Customer/customer\", \"Eve Expert/invited\"]" "$work/list.json" >/dev/null' \
  "who took part: alice (rep), Carol Customer (customer), Eve Expert (invited)"
check 'jq -e --arg id "$SID" ".recordings[] | select(.id == \$id) | (.participants[2].profiles == [\"view_only\", \"pointer\"]) and (.duration_s > 4.9 and .duration_s < 5.1) and .audit_verified == true" "$work/list.json" >/dev/null' \
  "the invitee's profiles, the duration (5 s) and the audit log verified"

# --- detail ---
check '[ "$(get /api/v1/recordings/"$SID" "$AUD")" = 200 ]' "detail by recording id: 200"
cp "$work/body" "$work/detail.json"
# shellcheck disable=SC2034  # used inside check's eval
want_hash=$("$replay" verify "$work/rec/$SID.tdmrec" --key-file "$work/master.key" | awk '/^hash:/{print $2}')
check '[ -n "$want_hash" ] && [ "$(jq -r .verify.hash "$work/detail.json")" = "$want_hash" ]' \
  "verified, with the hash tandem-replay verify reports"
python3 - "$work/detail.json" "$REP_ID" "$INVITEE_ID" <<'PY' && ok "timeline: the audit events at their offsets" || bad "timeline"
import json, sys
d = json.load(open(sys.argv[1])); rep, inv = sys.argv[2], sys.argv[3]
ev = d["events"]
def one(kind, **kw):
    m = [e for e in ev if e["kind"] == kind and all(e["details"].get(a) == b for a, b in kw.items())]
    assert m, "no %s %r" % (kind, kw)
    return m[0]
def near(e, t):
    assert abs(e["offset_s"] - t) < 0.01, "%s at %r, want %r" % (e["kind"], e["offset_s"], t)
near(one("input_denied"), 0.4)
assert one("input_denied")["who"]["id"] == inv
p = one("profile_changed", to="pointer"); near(p, 0.5)
assert p["subject"]["id"] == inv
joins = [e for e in ev if e["kind"] == "participant_joined"]
assert [round(j["offset_s"], 2) for j in joins] == [-2.0, -1.0, 0.3], joins
near(one("participant_left"), 2.5); near(one("session_ended"), 3.5)
near(one("recording_start"), 0.0)
assert d["audit"]["verified"] is True and "db" not in d["audit"]
assert d["recording"]["file"] == d["file"], "the server's path leaked: %r" % d["recording"]["file"]
assert d["video"]["url"].startswith("/api/v1/recordings/%s/video.webm?ticket=" % d["id"])
PY
check '[ "$(get /api/v1/recordings/"$SID" "$AUD")" = 200 ] && [ "$(jq -r .id "$work/body")" = "$SID" ]' \
  "detail by session id: its one recording"
check '[ "$(get /api/v1/recordings/s_nosuchsession000000000 "$AUD")" = 404 ] && [ "$(jq -r .error "$work/body")" = not_found ]' \
  "unknown id: 404 not_found"
check '[ "$(get /api/v1/recordings/..%2Fsignal.db "$AUD")" = 404 ]' "an id with a path in it: 404"
check '[ "$(get /api/v1/recordings/"$SID"/other "$AUD")" = 404 ]' "unknown sub-route: 404"
check '[ "$(get /api/v1/recordings/wrongkey "$AUD")" = 422 ] && [ "$(jq -r .error "$work/body")" = unreadable_recording ] && jq -r .detail "$work/body" | grep -q "wrong key"' \
  "wrong key: 422 unreadable_recording, says wrong key"
check '[ "$(get /api/v1/recordings/garbage "$AUD")" = 422 ] && jq -r .detail "$work/body" | grep -qi "recording"' \
  "not a recording: 422 with a reason"
get /api/v1/recordings/tampered "$AUD" >/dev/null
want_fault=$("$replay" verify "$work/rec/tampered.tdmrec" --key-file "$work/master.key" | sed -n 's/^.*: FAILED: //p')
check '[ "$(jq -r .verify.status "$work/body")" = fault ] && [ -n "$want_fault" ] && [ "$(jq -r .verify.problem "$work/body")" = "$want_fault" ]' \
  "tampered: fault, at the place tandem-replay verify names ($want_fault)"

# --- a session in two segments ---
# shellcheck disable=SC2034  # used inside check's eval
seg2=$(jq -c --arg id "$SID2" '.recordings[] | select(.id == $id)' "$work/list.json")
check '[ -n "$seg2" ] && jq -e ".segments == 2 and .files == [\"twoseg-1.tdmrec\", \"twoseg-2.tdmrec\"] and .verify.status == \"verified\" and (.gaps | length) == 1 and (.gaps[0].duration_s > 1.95 and .gaps[0].duration_s < 2.05) and (.duration_s > 6.9 and .duration_s < 7.1) and (.participants | length) == 3" <<<"$seg2" >/dev/null' \
  "two segments: one list entry, 2 segments, its files, verified, the 2 s gap, 7 s long"
check '! jq -e ".recordings[] | select(.id == \"twoseg-1\" or .id == \"twoseg-2\")" "$work/list.json" >/dev/null' \
  "two segments: its files are not listed on their own"
check '[ "$(get /api/v1/recordings/"$SID2" "$AUD")" = 200 ]' "two segments: detail by session id: 200"
cp "$work/body" "$work/detail2.json"
python3 - "$work/detail2.json" "$SID2" <<'PY' && ok "two segments: each segment verified, the gap in the timeline" || bad "two segments: detail"
import json, sys
d = json.load(open(sys.argv[1])); sid = sys.argv[2]
assert d["id"] == sid and d["segments"] == 2, (d["id"], d["segments"])
v = d["verify"]
assert v["status"] == "verified", v
assert [s["status"] for s in v["segments"]] == ["verified", "verified"], v
assert [s["file"] for s in v["segments"]] == ["twoseg-1.tdmrec", "twoseg-2.tdmrec"], v
assert all(len(s["hash"]) == 64 for s in v["segments"]), v
ev = d["events"]
gaps = [e for e in ev if e["kind"] == "gap" and e["details"].get("what") == "no recording"]
assert len(gaps) == 1, gaps
g = gaps[0]["details"]
assert abs(g["start_offset_s"] - 3.0) < 0.05 and abs(g["end_offset_s"] - 5.0) < 1e-3, g
starts = [e for e in ev if e["kind"] == "recording_start"]
assert [round(e["offset_s"], 3) for e in starts] == [0.0, 5.0], starts
assert d["recording"]["segments"] == 2 and d["recording"]["ends"] == "complete", d["recording"]
assert [s["kind"] for s in d["seams"]] == ["gap"], d["seams"]
assert "db" not in d["audit"] and d["audit"]["verified"] is True
assert d["video"]["url"].startswith("/api/v1/recordings/%s/video.webm?ticket=" % sid)
PY
check '[ "$(get /api/v1/recordings/twoseg-2 "$AUD")" = 200 ] && [ "$(jq -r .id "$work/body")" = twoseg-2 ] && [ "$(jq -r .segments "$work/body")" = 1 ]' \
  "two segments: a segment file by its own id: 200, that one file"
v2=/api/v1/recordings/$SID2/video.webm
code=$(get "$v2" "$AUD")
for _ in $(seq 150); do [ "$code" = 503 ] || break; sleep 0.2; code=$(get "$v2" "$AUD"); done
cp "$work/body" "$work/joined.webm"
"$webm_check" "$work/joined.webm" --frames 150 >"$work/check2.out" 2>&1
check '[ "$code" = 200 ] && "$webm_check" "$work/joined.webm" --frames 150 >/dev/null 2>&1' \
  "two segments: video.webm joins them, frames 0..149 in order across the seam: $(cat "$work/check2.out")"
if command -v ffprobe >/dev/null; then
  # shellcheck disable=SC2034  # used inside check's eval
  pts=$(ffprobe -v error -select_streams v -show_entries packet=pts_time -of csv=p=0 "$work/joined.webm" | sed -n '90,91p' | tr '\n' ' ')
  pts=${pts% }
  check 'python3 -c "import sys; a, b = map(float, sys.argv[1:3]); sys.exit(not (a < 3.01 and abs(b - 5.0) < 0.01))" $pts' \
    "two segments: the gap kept in the timestamps (frame 89 at ${pts% *}, frame 90 at 5.0 s)"
  check 'ffprobe -v error -show_chapters -of csv=p=0 "$work/joined.webm" | grep -q "gap: nothing recorded for 2.000 s"' \
    "two segments: the gap is a chapter of the WebM"
fi
check '[ "$(get "$(jq -r .video.url "$work/detail2.json")" "" -H "Range: bytes=0-99")" = 206 ]' \
  "two segments: the detail's ticket admits the <video> element"

# --- video ---
vpath=/api/v1/recordings/$SID/video.webm
code=$(get "$vpath" "$AUD")
if [ "$code" = 503 ]; then
  check '[ "$(hdr retry-after)" = 1 ] && [ "$(jq -r .error "$work/body")" = exporting ]' \
    "video before the export is done: 503 exporting, Retry-After"
fi
for _ in $(seq 150); do [ "$code" = 503 ] || break; sleep 0.2; code=$(get "$vpath" "$AUD"); done
cp "$work/body" "$work/full.webm"
size=$(stat -c %s "$work/full.webm")
check '[ "$code" = 200 ] && [ "$(hdr content-type)" = video/webm ] && [ "$(hdr accept-ranges)" = bytes ] && [ "$(hdr content-length)" = "$size" ] && [ "$size" -gt 1000 ]' \
  "video: 200 video/webm, Accept-Ranges, Content-Length ($size bytes)"
"$webm_check" "$work/full.webm" --frames 150 >"$work/check.out" 2>&1
check '[ $? = 0 ]' "the export decodes, every frame number in order: $(cat "$work/check.out")"
check '[ "$(get "$vpath" "$AUD" -H "Range: bytes=100-1099")" = 206 ] && [ "$(hdr content-range)" = "bytes 100-1099/$size" ] && [ "$(hdr content-length)" = 1000 ] && cmp -s "$work/body" <(tail -c +101 "$work/full.webm" | head -c 1000)' \
  "Range bytes=100-1099: 206, Content-Range, the right 1000 bytes"
check '[ "$(get "$vpath" "$AUD" -H "Range: bytes=$((size - 10))-")" = 206 ] && [ "$(hdr content-length)" = 10 ] && cmp -s "$work/body" <(tail -c 10 "$work/full.webm")' \
  "Range bytes=N- (what Chromium sends): 206, to the end"
check '[ "$(get "$vpath" "$AUD" -H "Range: bytes=-50")" = 206 ] && [ "$(hdr content-range)" = "bytes $((size - 50))-$((size - 1))/$size" ]' \
  "Range bytes=-50 (suffix): 206"
check '[ "$(get "$vpath" "$AUD" -H "Range: bytes=$size-")" = 416 ] && [ "$(hdr content-range)" = "bytes */$size" ]' \
  "Range past the end: 416, Content-Range bytes */size"
check '[ "$(in_ns curl -s -o /dev/null -D "$work/hdr" -w "%{http_code}" -I -H "Authorization: Bearer $AUD" "$URL$vpath")" = 200 ] && [ "$(hdr content-length)" = "$size" ]' \
  "HEAD: 200 with the length, no body"
ticket_url=$(jq -r .video.url "$work/detail.json")
check '[ "$(get "$ticket_url" "" -H "Range: bytes=0-99")" = 206 ] && cmp -s "$work/body" <(head -c 100 "$work/full.webm")' \
  "the detail's ticket admits the <video> element (no token)"
check '[ "$(get "$vpath" "")" = 401 ]' "video without token or ticket: 401"
bad_ticket=${ticket_url%?}0
[ "$bad_ticket" = "$ticket_url" ] && bad_ticket=${ticket_url%?}1
check '[ "$(get "$bad_ticket" "")" = 401 ]' "a changed ticket: 401"
check '[ "$(get "/api/v1/recordings/cut/video.webm?${ticket_url#*\?}" "")" = 401 ]' \
  "another recording's ticket: 401"
code=$(get /api/v1/recordings/tampered/video.webm "$AUD")
for _ in $(seq 150); do [ "$code" = 503 ] || break; sleep 0.2; code=$(get /api/v1/recordings/tampered/video.webm "$AUD"); done
check '[ "$code" = 422 ] && [ "$(jq -r .error "$work/body")" = export_failed ] && jq -r .detail "$work/body" | grep -q "fails verification"' \
  "tampered: not exported, 422 export_failed (fails verification)"
# Nobody asked for this one yet: the request queues the export and is told to come back.
code=$(get /api/v1/recordings/cut/video.webm "$AUD")
check '[ "$code" = 503 ] && [ "$(hdr retry-after)" = 1 ] && [ "$(jq -r .error "$work/body")" = exporting ]' \
  "video not exported yet: 503 exporting with Retry-After"
for _ in $(seq 150); do [ "$code" = 503 ] || break; sleep 0.2; code=$(get /api/v1/recordings/cut/video.webm "$AUD"); done
check '[ "$code" = 200 ] && "$webm_check" "$work/body" --frames 0 >/dev/null 2>&1' \
  "cut: exported up to its end, decodes in order"
check '[ "$(get /api/v1/recordings/wrongkey/video.webm "$AUD")" = 422 ]' "wrong key video: 422"

# --- done once: after a restart the cached export is served at once ---
ls "$work/cache"/"$SID"-*.webm >/dev/null 2>&1 && ok "the export is in the cache directory" || bad "no cached export"
# An export again would be a new file (written aside, then renamed): another inode.
# shellcheck disable=SC2034  # used inside check's eval
before=$(stat -c '%i %y' "$work/cache/$SID"-*.webm)
stop_signal
start_signal
AUD=$(login audrey "$AUDITOR_PW")
check '[ "$(get "$vpath" "$AUD")" = 200 ] && cmp -s "$work/body" "$work/full.webm" && [ "$(stat -c "%i %y" "$work/cache/$SID"-*.webm)" = "$before" ]' \
  "after a restart: 200 at once from the cache, the same bytes, not exported again"
stop_signal

# Without recordings_dir the routes say so (after the same checks of who asks).
jq 'del(.recordings_dir)' "$work/config.json" >"$work/config2.json" && mv "$work/config2.json" "$work/config.json"
start_signal
AUD=$(login audrey "$AUDITOR_PW")
check '[ "$(get /api/v1/recordings "$AUD")" = 503 ] && [ "$(jq -r .error "$work/body")" = not_configured ]' \
  "no recordings_dir configured: 503 not_configured"
check '[ "$(get /api/v1/recordings)" = 401 ]' "... and still 401 without a token"
stop_signal
check '! grep -qi "sanitizer\|segfault" "$work/signal.err"' "the service logged no crash"
if [ "$failures" -ne 0 ]; then
  echo "signal_recordings_api_test: $failures failure(s)"; echo "--- signal.err"; tail -20 "$work/signal.err"; exit 1
fi
echo "signal_recordings_api_test: ok"
