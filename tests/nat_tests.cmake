# NAT traversal for the native clients (issue 4): STUN and TURN in
# tandem-share and tandem-view. Included from the top-level CMakeLists.txt,
# after clients/ and tools/, so their targets exist here.

# The --ice-server URL parser and the --ice-* option checks (sans-IO).
if(TARGET tdm_client)
  add_executable(ice_server_url_parse_test
                 ${CMAKE_SOURCE_DIR}/tests/unit/ice_server_url_parse_test.c)
  target_link_libraries(ice_server_url_parse_test PRIVATE tdm_client PkgConfig::CMOCKA)
  add_test(NAME ice_server_url_parse_test COMMAND ice_server_url_parse_test)
  set_tests_properties(ice_server_url_parse_test PROPERTIES LABELS unit TIMEOUT 60)
endif()

# share and view behind a NAT namespace, relay and coturn in a public one:
# STUN (server reflexive), TURN over UDP with direct UDP blocked, TURN over
# TCP with all UDP blocked. Needs root, iptables and coturn (skips, 77,
# without them). About 30 s.
if(TARGET tandem-relay AND TARGET tandem-share AND TARGET tandem-view)
  add_test(NAME nat_traversal_test
           COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/nat_traversal_test.sh
                   $<TARGET_FILE:tandem-relay> $<TARGET_FILE:tandem-share>
                   $<TARGET_FILE:tandem-view>)
  set_tests_properties(nat_traversal_test PROPERTIES LABELS integration TIMEOUT 120
                       SKIP_RETURN_CODE 77)
endif()

# A viewer whose network drops all UDP reaches the relay over ICE-TCP
# (relay and view with --ice-tcp). About 10 s.
if(TARGET tandem-relay AND TARGET tandem-share AND TARGET tandem-view)
  add_test(NAME ice_tcp_test
           COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/ice_tcp_test.sh
                   $<TARGET_FILE:tandem-relay> $<TARGET_FILE:tandem-share>
                   $<TARGET_FILE:tandem-view>)
  set_tests_properties(ice_tcp_test PROPERTIES LABELS integration TIMEOUT 90
                       SKIP_RETURN_CODE 77)
endif()
