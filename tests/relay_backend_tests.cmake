# relay: the media plane end to end (relay/relay.c in the real tandem-relay
# process), with three WebRTC clients of the test's own over 127.0.0.1.
if(TARGET tandem-relay AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/../relay/relay.c)
  add_executable(relay_forwards_between_peers_test
                 integration/relay_forwards_between_peers_test.c)
  target_link_libraries(relay_forwards_between_peers_test PRIVATE tdm_relay_core tdm_codec
                        tdm_common PkgConfig::CMOCKA PkgConfig::NICE)
  add_test(NAME relay_forwards_between_peers_test
           COMMAND relay_forwards_between_peers_test $<TARGET_FILE:tandem-relay>)
  set_tests_properties(relay_forwards_between_peers_test PROPERTIES LABELS integration
                       TIMEOUT 120)
endif()

# The client-side SDP offer writer (relay/sdp_offer.c), read back by the parser.
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/../relay/sdp_offer.c AND TARGET tdm_relay_core)
  tdm_unit_test(sdp_offer_parses_back_test)
endif()
