# Quick checks that the media-server benchmarks' machinery works; they assert
# what was delivered, never how fast. Included from tests/CMakeLists.txt.
#
# bench_janus --smoke: Janus (Debian's janus, video room) and tandem-relay in a
# private network namespace, one publisher and 2 viewers each, all real
# ICE + DTLS-SRTP peers; fails unless every viewer of both servers received
# packets. Needs root (namespace) and janus: skips (77) without them. ~10 s.
if(TARGET bench_janus)
  add_test(NAME bench_janus_smoke_test COMMAND bench_janus --smoke)
  set_tests_properties(bench_janus_smoke_test PROPERTIES LABELS integration TIMEOUT 120
                       SKIP_RETURN_CODE 77)
endif()
# bench_cluster --quick: 2 sessions of 1 publisher + 2 viewers at 1.5 Mbit/s
# for 3 s on one tandem-relay; fails unless every viewer got every frame of
# the window, and no packet of another session. ~10 s.
if(TARGET bench_cluster)
  add_test(NAME bench_cluster_smoke_test COMMAND bench_cluster --quick)
  set_tests_properties(bench_cluster_smoke_test PROPERTIES LABELS integration TIMEOUT 120)
endif()
