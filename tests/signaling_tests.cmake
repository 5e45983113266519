# Signaling core (signaling/, issue 5): cmocka unit tests on a real SQLite
# file in a temporary directory, and the tandem-signal CLI driven by a shell
# script (user add, audit verify, tampering).
if(TARGET tdm_signaling)
  tdm_unit_test(signal_password_test LIBS tdm_signaling)
  tdm_unit_test(signal_input_filter_test LIBS tdm_signaling)
  tdm_unit_test(signal_keys_test LIBS tdm_signaling)
  tdm_unit_test(signal_audit_chain_test LIBS tdm_signaling PkgConfig::SQLITE)
  tdm_unit_test(signal_session_rights_test LIBS tdm_signaling PkgConfig::SQLITE)

  if(TARGET tandem-signal)
    add_test(NAME signal_cli_test
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/signal_cli_test.sh
                     $<TARGET_FILE:tandem-signal>)
    set_tests_properties(signal_cli_test PROPERTIES LABELS integration TIMEOUT 120)
  endif()
endif()
