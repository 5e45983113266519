#!/usr/bin/env bash
# The web pages of tandem-signal in headless Chromium (signal_browser_test.mjs):
# the rep console and the invite landing page against the real
# tandem-signal and tandem-relay, with tandem-share as the customer, inside
# a network namespace this script creates and deletes (a veth pair with a
# default route, no link to the machine's real interfaces: no test packet
# can leave it). Installs playwright-core first (scripts/install-node-deps)
# and fails, not skips, when that cannot be done.
#
#   run_signal_browser_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE [options...]
# Exit: 0 pass, 1 fail, 77 skip (not root, or no chromium/ip).
set -u
signal=${1:?usage: run_signal_browser_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE [options]}
relay=${2:?usage: run_signal_browser_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE [options]}
share=${3:?usage: run_signal_browser_test.sh TANDEM_SIGNAL TANDEM_RELAY TANDEM_SHARE [options]}
shift 3
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
br_require ip
br_netns sw veth
# tandem-share gathers on the relay's own address: with 10.77.0.2 (the other
# end of the pair, in this same namespace) its ICE with the relay fails.
br_run_node signal_browser_test.mjs --signal "$signal" --relay "$relay" --share "$share" \
  --web-root "$root/web" --ice-address 10.77.0.1 --share-address 10.77.0.1 "$@"
exit "$st"
