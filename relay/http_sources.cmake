# WHIP/WHEP request handling (sans-IO, in the core) and the libwebsockets
# HTTP server that feeds it (the IO shell, tdm_relay_shell).
list(APPEND TDM_RELAY_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/whip.c)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/http_server.c)
  set(TDM_RELAY_NEEDS_LWS ON)
  set(TDM_RELAY_SHELL_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/http_server.c)
endif()
