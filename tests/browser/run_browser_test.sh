#!/usr/bin/env bash
# Chromium over WHIP/WHEP through tandem-relay, inside a network namespace
# this script creates and deletes: a veth pair with a default route (Chromium
# gathers nothing without one), no link to the machine's real interfaces, so
# no test packet can leave the namespace. Installs playwright-core first
# (scripts/install-node-deps) and fails, not skips, when that cannot be done.
#
#   run_browser_test.sh TANDEM_RELAY [browser_test.mjs options...]
# Exit: 0 pass, 1 fail, 77 skip (not root, or no chromium/ip).
# --save-sdp DIR keeps the offers and answers exchanged; that is how the
# tests/unit/chromium156_*.sdp fixtures were made (rename them for a newer
# Chromium).
set -u
relay=${1:?usage: run_browser_test.sh TANDEM_RELAY [options]}
shift
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
br_require ip
br_netns br veth
br_run_node browser_test.mjs --relay "$relay" --ice-address 10.77.0.1 "$@"
exit "$st"
