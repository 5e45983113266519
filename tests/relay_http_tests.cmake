# WHIP/WHEP request handling (relay/tdm_whip.h) and the relay's HTTP server.
tdm_unit_test(whip_routes_requests_test)

# tandem-relay serving real HTTP on loopback, driven with curl.
if(TARGET tandem-relay)
  add_test(NAME relay_http_smoke_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/relay_http_smoke_test.sh
                   $<TARGET_FILE:tandem-relay>)
  set_tests_properties(relay_http_smoke_test PROPERTIES LABELS integration TIMEOUT 60
                       SKIP_RETURN_CODE 77)
endif()
