# Relay failover and drain (issue 8, signaling/API.md "Relay failover"):
# the decision part of signaling/relay_failover.c with plain calls, and the
# whole path with real processes in a network namespace (root): one
# tandem-signal, three heartbeating tandem-relay with a shared record dir,
# tandem-share joined by code and tandem-view in signal mode; kill -9 of the
# relay under the session, drain by SIGTERM and by the admin call, the
# recording's segments, the audit.
if(TARGET tdm_signaling)
  tdm_unit_test(relay_failover_test LIBS tdm_signaling)
endif()
# tandem-relay's choice among several --signal-url (tools/tdm_hb_targets.h).
if(TARGET tdm_hb_targets)
  tdm_unit_test(hb_targets_test LIBS tdm_hb_targets)
endif()
if(TARGET tandem-signal AND TARGET tandem-relay AND TARGET tandem-share AND TARGET tandem-view
   AND TARGET tandem-rep AND TARGET tandem-replay AND TARGET recording_webm_check)
  add_test(NAME relay_failover_integration_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/relay_failover_test.sh
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:tandem-relay>
                   $<TARGET_FILE:tandem-share> $<TARGET_FILE:tandem-view>
                   $<TARGET_FILE:tandem-rep> $<TARGET_FILE:tandem-replay>
                   $<TARGET_FILE:recording_webm_check>)
  set_tests_properties(relay_failover_integration_test PROPERTIES LABELS integration TIMEOUT 240
                       SKIP_RETURN_CODE 77)
  # The same with two tandem-signal instances sharing a real redis-server
  # (the customer on one, the rep on the other); skips (77) without it.
  add_test(NAME relay_failover_redis_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/relay_failover_test.sh
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:tandem-relay>
                   $<TARGET_FILE:tandem-share> $<TARGET_FILE:tandem-view>
                   $<TARGET_FILE:tandem-rep> $<TARGET_FILE:tandem-replay>
                   $<TARGET_FILE:recording_webm_check> redis)
  set_tests_properties(relay_failover_redis_test PROPERTIES LABELS integration TIMEOUT 240
                       SKIP_RETURN_CODE 77)
endif()
# tandem-view --signal across a move with an unstamped source (tandem-share
# --display on a real Xvfb): the gap from the last picture before to the
# first after, 'latency_ms n/a'. Skips (77) without root or Xvfb.
if(TARGET tandem-signal AND TARGET tandem-relay AND TARGET tandem-share AND TARGET tandem-view)
  add_test(NAME view_gap_display_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/view_gap_display_test.sh
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:tandem-relay>
                   $<TARGET_FILE:tandem-share> $<TARGET_FILE:tandem-view>)
  set_tests_properties(view_gap_display_test PROPERTIES LABELS integration TIMEOUT 120
                       SKIP_RETURN_CODE 77)
endif()
# The rep console in headless Chromium follows the move: two heartbeating
# relays, the one under the session killed, the console watches on the other
# (tests/browser/console_failover_test.mjs). Skips (77) without root or
# Chromium, like the other browser tests.
if(TARGET tandem-signal AND TARGET tandem-relay AND TARGET tandem-share)
  add_test(NAME browser_console_failover_test
           COMMAND ${CMAKE_SOURCE_DIR}/tests/browser/run_console_failover_test.sh
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:tandem-relay>
                   $<TARGET_FILE:tandem-share>)
  set_tests_properties(browser_console_failover_test PROPERTIES
                       LABELS "integration;browser"
                       TIMEOUT 200
                       SKIP_RETURN_CODE 77
                       RESOURCE_LOCK browser)
endif()
