#!/usr/bin/env bash
# The auditor's recordings page (web/auditor.html) in headless Chromium
# (auditor_browser_test.mjs) against the real tandem-signal serving real
# recordings (tests/integration/recordings_fixture.sh), inside a network
# namespace this script creates and deletes (only its loopback is up: no
# test packet can leave it). Installs playwright-core first
# (scripts/install-node-deps) and fails, not skips, when that cannot be done.
#
#   run_auditor_browser_test.sh TANDEM_SIGNAL RECORDING_SYNTH SESSION_HELPER [--screenshots DIR]
# Exit: 0 pass, 1 fail, 77 skip (not root, or no chromium/ip).
set -u
signal=${1:?usage: run_auditor_browser_test.sh TANDEM_SIGNAL RECORDING_SYNTH SESSION_HELPER [options]}
synth=${2:?}
helper=${3:?}
shift 3
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
br_require ip
# shellcheck source=../integration/recordings_fixture.sh
. "$root/tests/integration/recordings_fixture.sh"
br_netns audpg
LISTEN=127.0.0.1:18612
fixture_make "$home" "$signal" "$synth" "$helper" "$LISTEN" || { echo "FAIL: fixture"; exit 1; }
ip netns exec "$ns" "$signal" serve --db "$home/signal.db" --config "$home/config.json" \
  --listen "$LISTEN" --web-root "$root/web" >"$home/signal.out" 2>"$home/signal.err" &
sig_pid=$!
for _ in $(seq 100); do ip netns exec "$ns" curl -sf "http://$LISTEN/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
ip netns exec "$ns" curl -sf "http://$LISTEN/healthz" >/dev/null || { echo "FAIL: tandem-signal did not start"; cat "$home/signal.err"; exit 1; }

br_run_node auditor_browser_test.mjs --origin "http://$LISTEN" --session "$SID" \
  --auditor-password "$AUDITOR_PW" --rep-password "$REP_PW" "$@"
# The service stops cleanly and said nothing of a crash (or, in a sanitizer
# build, of a leak or an invalid access).
kill -TERM "$sig_pid" 2>/dev/null
wait "$sig_pid"
sig_st=$?
if [ "$sig_st" -ne 0 ] || grep -qi "sanitizer\|segfault" "$home/signal.err"; then
  echo "FAIL tandem-signal exited $sig_st or reported a crash"
  st=1
else
  echo "ok   tandem-signal stopped cleanly"
fi
[ "$st" -ne 0 ] && { echo "--- tandem-signal stderr"; tail -20 "$home/signal.err"; }
exit "$st"
