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
