# The clients' link to tandem-signal (clients/signal_link.h), tandem-rep and
# `make demo` (issue 7).

# The sans-IO parsers of signal_link: URL, HTTP head, chunked body, frames.
if(TARGET tdm_signal_link)
  tdm_unit_test(signal_link_wire_test LIBS tdm_signal_link)
endif()
# tandem-rep's event lines, each message checked with the service's parser.
if(TARGET tdm_rep_input AND TARGET tdm_signaling)
  tdm_unit_test(rep_input_test LIBS tdm_rep_input tdm_signaling)
endif()
# tandem-rep watch's lines: readable, never a token (a failover's media message).
if(TARGET tdm_rep_watch)
  tdm_unit_test(rep_watch_test LIBS tdm_rep_watch)
endif()

# signal_link against the real tandem-signal on 127.0.0.1, and against peers
# the test plays itself (refusing, stalling, garbage, ping, fragments, close).
find_package(Threads REQUIRED)
if(TARGET tdm_signal_link AND TARGET tandem-signal)
  add_executable(signal_link_test integration/signal_link_test.c integration/signal_test_proc.c)
  target_link_libraries(signal_link_test PRIVATE tdm_signal_link PkgConfig::JANSSON Threads::Threads)
  add_test(NAME signal_link_test COMMAND signal_link_test $<TARGET_FILE:tandem-signal>)
  set_tests_properties(signal_link_test PROPERTIES LABELS integration TIMEOUT 120)
  add_dependencies(signal_link_test tandem-signal)
endif()

# `make demo` with DEMO_EXIT=1 in a temporary output directory: its summary
# (session ended, rep input injected, expert input denied, recording exported
# and non-empty, a latency measured) checked against the files it left.
if(TARGET tandem-signal AND TARGET tandem-relay AND TARGET tandem-share AND TARGET tandem-view
   AND TARGET tandem-replay AND TARGET tandem-rep)
  add_test(NAME demo_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/demo_test.sh ${CMAKE_SOURCE_DIR}
                   ${CMAKE_BINARY_DIR})
  set_tests_properties(demo_test PROPERTIES LABELS integration TIMEOUT 240 SKIP_RETURN_CODE 77)
endif()

# tandem-rep against the real tandem-signal: the fields it prints, 0600 files,
# exit statuses, refusals named (tests/integration/tandem_rep_cli_test.sh).
if(TARGET tandem-signal AND TARGET tandem-rep)
  add_test(NAME tandem_rep_cli_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/tandem_rep_cli_test.sh
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:tandem-rep>)
  set_tests_properties(tandem_rep_cli_test PROPERTIES LABELS integration TIMEOUT 120)
endif()
