# Robustness of the relay with real processes: a lossy, delayed viewer link
# (tandem-netdelay, iptables) and hostile peers (bad DTLS fingerprints,
# SRTP with bad tags, replays, garbage, malformed RTP/RTCP, silent peers).
# Included from the top-level CMakeLists.txt, after tools/ and clients/.

# The delay line of tandem-netdelay on a fake clock.
if(TARGET tdm_delay_line)
  add_executable(delay_line_keeps_order_test tests/unit/delay_line_keeps_order_test.c)
  target_link_libraries(delay_line_keeps_order_test PRIVATE tdm_delay_line PkgConfig::CMOCKA)
  add_test(NAME delay_line_keeps_order_test COMMAND delay_line_keeps_order_test)
  set_tests_properties(delay_line_keeps_order_test PROPERTIES LABELS unit TIMEOUT 60)
endif()

# Hostile peers against the real relay process, inside a network namespace
# the test makes for itself (root; skipped with 77 otherwise).
if(TARGET tandem-relay AND EXISTS ${CMAKE_SOURCE_DIR}/relay/relay.c)
  add_executable(relay_survives_hostile_peers_test
                 tests/integration/relay_survives_hostile_peers_test.c)
  target_link_libraries(relay_survives_hostile_peers_test PRIVATE tdm_relay_core tdm_codec
                        tdm_common PkgConfig::CMOCKA PkgConfig::NICE)
  add_test(NAME relay_survives_hostile_peers_test
           COMMAND relay_survives_hostile_peers_test $<TARGET_FILE:tandem-relay>)
  set_tests_properties(relay_survives_hostile_peers_test PROPERTIES LABELS integration
                       TIMEOUT 180 SKIP_RETURN_CODE 77)
endif()

# share -> relay -> view with 5 % loss and 40 ms delay each way between the
# view and the relay (iptables statistic + tandem-netdelay), in two network
# namespaces joined by a veth pair (root; skipped with 77 otherwise).
if(TARGET tandem-relay AND TARGET tandem-share AND TARGET tandem-view AND TARGET tandem-netdelay)
  add_test(NAME lossy_delayed_view_test
           COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/lossy_delayed_view_test.sh
                   $<TARGET_FILE:tandem-relay> $<TARGET_FILE:tandem-share>
                   $<TARGET_FILE:tandem-view> $<TARGET_FILE:tandem-netdelay>)
  set_tests_properties(lossy_delayed_view_test PROPERTIES LABELS integration TIMEOUT 120
                       SKIP_RETURN_CODE 77)
endif()
