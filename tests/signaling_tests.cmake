# Signaling core (signaling/, issue 5): cmocka unit tests on a real SQLite
# file in a temporary directory, and the tandem-signal CLI driven by a shell
# script (user add, audit verify, tampering).
if(TARGET tdm_signaling)
  tdm_unit_test(signal_password_test LIBS tdm_signaling)
  tdm_unit_test(signal_input_filter_test LIBS tdm_signaling)
  tdm_unit_test(signal_keys_test LIBS tdm_signaling)
  tdm_unit_test(signal_audit_chain_test LIBS tdm_signaling PkgConfig::SQLITE)
  tdm_unit_test(signal_session_rights_test LIBS tdm_signaling PkgConfig::SQLITE)
  # The relay registry and the heartbeat contract on a fake clock.
  tdm_unit_test(signal_registry_test LIBS tdm_signaling)

  if(TARGET tandem-signal)
    add_test(NAME signal_cli_test
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/signal_cli_test.sh
                     $<TARGET_FILE:tandem-signal>)
    set_tests_properties(signal_cli_test PROPERTIES LABELS integration TIMEOUT 120)
  endif()
endif()

# tandem-signal serve end to end (signaling/API.md): the real program on
# 127.0.0.1 with a real SQLite file in a temporary directory, driven by a C
# HTTP + WebSocket client (tests/integration/signal_serve_client.c).
if(TARGET tandem-signal AND TARGET tdm_signal_serve)
  add_executable(signal_serve_test integration/signal_serve_test.c integration/signal_test_proc.c
                                   integration/signal_serve_client.c)
  target_link_libraries(signal_serve_test PRIVATE PkgConfig::JANSSON PkgConfig::SQLITE)
  add_test(NAME signal_serve_test COMMAND signal_serve_test $<TARGET_FILE:tandem-signal>)
  set_tests_properties(signal_serve_test PROPERTIES LABELS integration TIMEOUT 120)
  add_dependencies(signal_serve_test tandem-signal)

  # The sans-IO WebSocket router (signaling/tdm_sig_hub.h) with the real
  # core and no sockets: a unit test kept beside the service's tests.
  add_executable(signal_serve_hub_test integration/signal_serve_hub_test.c)
  target_link_libraries(signal_serve_hub_test PRIVATE tdm_signaling PkgConfig::CMOCKA)
  add_test(NAME signal_serve_hub_test COMMAND signal_serve_hub_test)
  set_tests_properties(signal_serve_hub_test PROPERTIES LABELS unit TIMEOUT 60)

  # Static page paths (signaling/tdm_sig_static.h): traversal refused.
  add_executable(signal_serve_static_test integration/signal_serve_static_test.c)
  target_link_libraries(signal_serve_static_test PRIVATE tdm_signaling PkgConfig::CMOCKA)
  add_test(NAME signal_serve_static_test COMMAND signal_serve_static_test)
  set_tests_properties(signal_serve_static_test PROPERTIES LABELS unit TIMEOUT 60)
endif()

# The relay registry end to end (signaling/API.md "Relay registry"): a real
# tandem-signal and two real tandem-relay processes heartbeating on
# 127.0.0.1; placement by load, draining, a dead relay dropped, forged and
# replayed heartbeats refused.
if(TARGET tandem-signal AND TARGET tandem-relay AND TARGET tdm_signal_serve)
  add_executable(signal_registry_serve_test integration/signal_registry_serve_test.c
                                      integration/signal_test_proc.c
                                      integration/signal_serve_client.c)
  target_link_libraries(signal_registry_serve_test PRIVATE tdm_relay_heartbeat PkgConfig::JANSSON)
  add_test(NAME signal_registry_serve_test
           COMMAND signal_registry_serve_test $<TARGET_FILE:tandem-signal> $<TARGET_FILE:tandem-relay>)
  set_tests_properties(signal_registry_serve_test PROPERTIES LABELS integration TIMEOUT 180)
  add_dependencies(signal_registry_serve_test tandem-signal tandem-relay)
endif()

# Session end and participant removal reach the relay (issue 5): the relay's
# revocation table and POST /admin/revoke signed with the cluster secret.
if(TARGET tdm_relay_heartbeat AND TARGET tdm_relay_core)
  tdm_unit_test(relay_revocations_test LIBS tdm_relay_heartbeat)
endif()

# The same end to end with real processes in a network namespace (root):
# tandem-signal with a static relay and a cluster secret, tandem-relay,
# tandem-share (customer join) and tandem-view (rep join); removing a rep
# and ending the session cut the media and turn old tokens into 403s.
if(TARGET tandem-signal AND TARGET tandem-relay AND TARGET tandem-share AND TARGET tandem-view)
  add_test(NAME signal_revoke_session_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/signal_revoke_session_test.sh
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:tandem-relay>
                   $<TARGET_FILE:tandem-share> $<TARGET_FILE:tandem-view>)
  set_tests_properties(signal_revoke_session_test PROPERTIES LABELS integration TIMEOUT 120
                       SKIP_RETURN_CODE 77)
endif()

# Which revocations the API queues for which relay (sans-IO, real core).
if(TARGET tdm_signaling)
  add_executable(signal_revoke_api_test integration/signal_revoke_api_test.c)
  target_link_libraries(signal_revoke_api_test PRIVATE tdm_signaling PkgConfig::CMOCKA)
  add_test(NAME signal_revoke_api_test COMMAND signal_revoke_api_test)
  set_tests_properties(signal_revoke_api_test PROPERTIES LABELS unit TIMEOUT 60)
endif()

# A relay's recording start and stop, with the file's hash, land on the
# session's audit chain through POST /api/v1/relays/recording (issue 6):
# signal + recording relay with heartbeats + share, checked against the
# relay's log, tandem-replay info and tandem-signal audit verify.
if(TARGET tandem-signal AND TARGET tandem-relay AND TARGET tandem-share AND TARGET tandem-replay)
  add_test(NAME signal_recording_audit_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/signal_recording_audit_test.sh
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:tandem-relay>
                   $<TARGET_FILE:tandem-share> $<TARGET_FILE:tandem-replay>)
  set_tests_properties(signal_recording_audit_test PROPERTIES LABELS integration TIMEOUT 120
                       SKIP_RETURN_CODE 77)
endif()
