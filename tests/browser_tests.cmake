# Chromium against the relay (included from the top-level CMakeLists.txt).
#
# Unit tests of what the browser test relies on: the relay's answers to
# offers captured from Chromium, and the SRTP profile cap it uses to get
# Chromium onto AES_CM_128_HMAC_SHA1_80.
# (tdm_unit_test of tests/CMakeLists.txt takes its source relative to the
# directory it is called from, which is the top level here.)
function(tdm_browser_unit_test name)
  add_executable(${name} ${CMAKE_SOURCE_DIR}/tests/unit/${name}.c)
  target_link_libraries(${name} PRIVATE tdm_relay_core tdm_codec tdm_common PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 120)
endfunction()

if(TARGET tdm_relay_core)
  tdm_browser_unit_test(sdp_answers_chromium156_offers_test)
  target_compile_definitions(sdp_answers_chromium156_offers_test PRIVATE
                             TDM_CHROMIUM_FIXTURES="${CMAKE_SOURCE_DIR}/tests/unit")
  tdm_browser_unit_test(srtp_profile_cap_for_browser_test)
endif()

# Headless Chromium publishes over WHIP and another page subscribes over WHEP
# through tandem-relay, in a network namespace the test creates; frames
# decoded on both ends (getStats). The runner installs playwright-core
# (scripts/install-node-deps: npm ci) when node_modules is missing, and fails
# when it cannot; it skips (77) without root or Chromium. RESOURCE_LOCK: two
# Chromium instances at once on two cores make frame counts flaky.
if(TARGET tandem-relay)
  add_test(NAME browser_whip_whep_test
           COMMAND ${CMAKE_SOURCE_DIR}/tests/browser/run_browser_test.sh
                   $<TARGET_FILE:tandem-relay>)
  set_tests_properties(browser_whip_whep_test PROPERTIES
                       LABELS "integration;browser"
                       TIMEOUT 240
                       SKIP_RETURN_CODE 77
                       RESOURCE_LOCK browser)
endif()

# The web pages of tandem-signal (web/): in a network namespace the test
# creates, the real tandem-signal (temp SQLite file and config) and
# tandem-relay, tandem-share as the customer; the rep console logs in, opens
# a session, invites a view_only expert, and a second browser context joins
# through the link; both decode video; the invite page offers no input; the
# rep's pointer and key reach the customer's socket and chat reaches the
# invitee; profile changes, denied input, used/revoked/expired links,
# removal, the end and a service restart show on the pages (the story is in
# tests/browser/signal_browser_test.mjs). Skips (77) without root or
# Chromium, like the test above.
if(TARGET tandem-signal AND TARGET tandem-relay AND TARGET tandem-share)
  add_test(NAME browser_signal_pages_test
           COMMAND ${CMAKE_SOURCE_DIR}/tests/browser/run_signal_browser_test.sh
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:tandem-relay>
                   $<TARGET_FILE:tandem-share>)
  set_tests_properties(browser_signal_pages_test PROPERTIES
                       LABELS "integration;browser"
                       TIMEOUT 300
                       SKIP_RETURN_CODE 77
                       RESOURCE_LOCK browser)
endif()
include(${CMAKE_CURRENT_LIST_DIR}/auditor_tests.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/console_desktop_tests.cmake OPTIONAL)
