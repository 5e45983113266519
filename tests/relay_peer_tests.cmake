# relay: peer transport over real loopback sockets (relay/ice.c, relay/peer.c).
# Both gather only on 127.0.0.1; they run in well under a second, except
# the ICE failure case, which waits for libnice's fixed 5 s failure delay.
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/../relay/peer_sources.cmake)
  tdm_unit_test(ice_connects_over_loopback_test LIBS PkgConfig::NICE)
  tdm_unit_test(peer_connects_over_loopback_test LIBS PkgConfig::NICE)
  set_tests_properties(ice_connects_over_loopback_test peer_connects_over_loopback_test
                       PROPERTIES LABELS "unit;loopback" TIMEOUT 60)
endif()
