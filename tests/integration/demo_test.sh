#!/usr/bin/env bash
# `make demo` end to end (issue 7): runs scripts/demo with DEMO_EXIT=1 into a
# temporary directory, on 127.0.0.1 with ports picked free at run time, and
# checks what its summary claims against the files it left:
#   - the session ended (the rep's watch saw the end);
#   - the rep's input was allowed and injected on the desktop;
#   - the view_only expert's input was denied (kind_not_allowed);
#   - the recording verifies and its WebM export is non-empty and holds a
#     VP8/VP9 video stream (ffprobe);
#   - the session's audit log verifies and the recording's timeline holds
#     the denials;
#   - a latency figure was measured;
#   - no process the demo started outlives it.
set -u
root=${1:?usage: demo_test.sh SOURCE_DIR BUILD_DIR}
build=${2:?}
for t in Xvfb xterm ss; do command -v "$t" >/dev/null || { echo "SKIP: no $t"; exit 77; }; done

work=$(mktemp -d /tmp/demo_test.XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0
ok() { echo "ok   $1"; }
bad() { failures=$((failures + 1)); echo "FAIL $1"; }

DEMO_EXIT=1 DEMO_OUT="$work/out" DEMO_SIGNAL_PORT=0 DEMO_RELAY_PORT=0 \
  "$root/scripts/demo" "$build" >"$work/demo.txt" 2>&1
rc=$?
cat "$work/demo.txt"
echo "---- checks"
[ "$rc" -eq 0 ] && ok "the demo exited 0" || bad "the demo exited $rc"
summary=$(sed -n '/^== Summary/,$p' "$work/demo.txt")
[ -n "$summary" ] && ok "a summary was printed" || { bad "no summary"; exit 1; }
line() { printf '%s\n' "$summary" | grep -m1 "^$1 "; }

line session | grep -q "ended=yes" && ok "summary: $(line session)" || bad "session not ended: $(line session)"
grep -q "session ended" "$work/out/session-events.log" && ok "the rep's watch saw the session end" \
  || bad "no end in session-events.log"

inj=$(line "rep input" | sed -nE 's/.* ([0-9]+) events injected.*/\1/p')
[ "${inj:-0}" -gt 0 ] && ok "rep input injected: $(line 'rep input')" || bad "rep input: $(line 'rep input')"
grep -q "^ok type \"hello from the rep\"" "$work/out/rep-input.out" && ok "tandem-rep input: the typing was allowed" \
  || bad "rep typing: $(cat "$work/out/rep-input.out")"
grep -q " injected" "$work/out/share-input.log" 2>/dev/null && ok "tandem-share logged injected events" \
  || bad "no injected event in share-input.log"

line "expert input" | grep -Eq "denied: [1-9][0-9]* events .*kind_not_allowed" \
  && ok "expert input denied: $(line 'expert input')" || bad "expert input: $(line 'expert input')"
grep -q "^denied" "$work/out/expert-input.out" && ! grep -q "^ok" "$work/out/expert-input.out" \
  && ok "tandem-rep printed the denials and nothing allowed" || bad "expert-input.out: $(cat "$work/out/expert-input.out")"

line recording | grep -q "verify: yes" && ok "the recording verifies" || bad "recording: $(line recording)"
webm=$(line exported | awk '{ print $2 }')
if [ -n "$webm" ] && [ -s "$webm" ]; then
  ok "exported $webm ($(stat -c %s "$webm") bytes)"
  if command -v ffprobe >/dev/null; then
    codec=$(ffprobe -v error -select_streams v:0 -show_entries stream=codec_name -of csv=p=0 "$webm")
    case $codec in vp8 | vp9) ok "the WebM holds a $codec video stream" ;; *) bad "ffprobe: codec '$codec'" ;; esac
  fi
else
  bad "no exported WebM: $(line exported)"
fi
line "audit log" | grep -q "audit log intact" && ok "$(line 'audit log')" || bad "audit: $(line 'audit log')"
grep -Eq '"kind": ?"input_denied"' "$work/out/timeline.json" && ok "the timeline holds the expert's denials" \
  || bad "no input_denied in timeline.json"
line latency | grep -Eq "median of per-second averages [0-9.]+ ms" && ok "$(line latency)" \
  || bad "no latency measured: $(line latency)"
line "rep console" | grep -q "http://127.0.0.1:[0-9]*/" && ok "rep console URL printed" || bad "no console URL"
line "auditor page" | grep -q "/auditor.html" && ok "auditor page URL printed" || bad "no auditor URL"
line "auditor page" | grep -q ": verified)" && ok "tandem-signal lists the recording for auditors, verified" \
  || bad "auditor listing: $(line 'auditor page')"

# Nothing the demo started may be left running (it lists their PIDs).
left=""
[ -s "$work/out/demo.pids" ] || bad "the demo listed no PIDs"
while read -r p; do kill -0 "$p" 2>/dev/null && left="$left $p"; done <"$work/out/demo.pids"
[ -z "$left" ] && ok "none of the $(wc -l <"$work/out/demo.pids") processes the demo started is left" \
  || bad "left running:$left"

echo "$failures failures"
[ "$failures" -eq 0 ]
