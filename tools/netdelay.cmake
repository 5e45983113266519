# tandem-netdelay: delays packets taken from an NFQUEUE, for network tests
# on kernels without netem (tests/integration/lossy_delayed_view_test.sh).
# The delay line itself (tdm_delay_line, sans-IO) is built always and unit
# tested; the program only where libnetfilter_queue is installed
# (scripts/install-deps lists it).
add_library(tdm_delay_line STATIC delay_line.c)
target_include_directories(tdm_delay_line PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(tdm_delay_line PUBLIC tdm_common)

pkg_check_modules(NFQ IMPORTED_TARGET libnetfilter_queue)
if(NFQ_FOUND)
  add_executable(tandem-netdelay tandem_netdelay.c)
  target_link_libraries(tandem-netdelay PRIVATE tdm_delay_line PkgConfig::NFQ m)
else()
  message(STATUS "libnetfilter_queue not found: tandem-netdelay (and the lossy, delayed view test) not built")
endif()
