#!/usr/bin/env bash
# A session through the browser rep console shows the real desktop
# (console_desktop_test.mjs): headless Chromium runs the rep console against
# the real tandem-signal and tandem-relay; tandem-share shares an Xvfb
# desktop with real X clients and injects the rep's input with XTEST. All of
# it inside a network namespace this script creates and deletes (a veth pair
# with a default route, no link to the machine's real interfaces). Installs
# playwright-core first (scripts/install-node-deps) and fails, not skips,
# when that cannot be done.
#
#   run_console_desktop_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE [SCREENSHOT_DIR]
# Exit: 0 pass, 1 fail, 77 skip (not root, or no chromium/ip/Xvfb/xterm/
# xdotool/xwd/xwininfo).
set -u
usage="usage: run_console_desktop_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE [SCREENSHOT_DIR]"
signal=${1:?$usage}
relay=${2:?$usage}
share=${3:?$usage}
shots=${4:-}
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
br_require ip Xvfb xterm xdotool xwd xwininfo
br_netns cd veth
opts=()
[ -n "$shots" ] && opts+=(--screenshots "$shots")
br_run_node console_desktop_test.mjs --signal "$signal" --relay "$relay" --share "$share" \
  --web-root "$root/web" --ice-address 10.77.0.1 --share-address 10.77.0.1 "${opts[@]}"
exit "$st"
