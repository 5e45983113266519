# Cluster (issue 8, "Cluster"): tandem-signal instances sharing a real
# redis-server that the test starts on a free loopback port (signaling/API.md
# "Cluster"). Skipped when redis-server is not installed.
find_program(TDM_REDIS_SERVER redis-server)
if(TARGET tandem-signal AND TARGET tdm_signal_serve AND TDM_REDIS_SERVER)
  add_executable(signal_cluster_test integration/signal_cluster_test.c integration/signal_test_proc.c
                                     integration/signal_serve_client.c)
  target_link_libraries(signal_cluster_test PRIVATE tdm_relay_heartbeat PkgConfig::JANSSON)
  if(TARGET tandem-relay)
    add_test(NAME signal_cluster_test COMMAND signal_cluster_test $<TARGET_FILE:tandem-signal>
                                              $<TARGET_FILE:tandem-relay>)
    add_dependencies(signal_cluster_test tandem-relay)
  else()
    add_test(NAME signal_cluster_test COMMAND signal_cluster_test $<TARGET_FILE:tandem-signal>)
  endif()
  set_tests_properties(signal_cluster_test PROPERTIES LABELS integration TIMEOUT 300)
  add_dependencies(signal_cluster_test tandem-signal)
endif()

# The Redis store backend (signaling/tdm_redis_store.h) with many writers
# at once: one audit chain, one invite, one join code, the write lock.
if(TARGET tdm_signaling AND TDM_REDIS_SERVER)
  add_executable(signal_redis_store_test integration/signal_redis_store_test.c)
  target_link_libraries(signal_redis_store_test PRIVATE tdm_signaling PkgConfig::HIREDIS)
  add_test(NAME signal_redis_store_test COMMAND signal_redis_store_test)
  set_tests_properties(signal_redis_store_test PROPERTIES LABELS integration TIMEOUT 120)
endif()

# Messages between instances and the Redis URL, sans-IO (plain calls).
if(TARGET tdm_signaling)
  tdm_unit_test(signal_redis_envelope_test LIBS tdm_signaling)
endif()

# A real tandem-relay given two --signal-url (two instances on one real
# redis-server): the first instance stops, the relay stays registered
# through the second (signaling/API.md "Relay registry").
if(TARGET tandem-signal AND TARGET tandem-relay AND TDM_REDIS_SERVER)
  add_executable(relay_signal_urls_test integration/relay_signal_urls_test.c
                                        integration/signal_test_proc.c
                                        integration/signal_serve_client.c)
  target_link_libraries(relay_signal_urls_test PRIVATE PkgConfig::JANSSON)
  add_test(NAME relay_signal_urls_test COMMAND relay_signal_urls_test $<TARGET_FILE:tandem-signal>
                                                $<TARGET_FILE:tandem-relay>)
  set_tests_properties(relay_signal_urls_test PROPERTIES LABELS integration TIMEOUT 120)
  add_dependencies(relay_signal_urls_test tandem-signal tandem-relay)
endif()
