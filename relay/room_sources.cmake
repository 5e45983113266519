# The forwarding room (tdm_room.h).
list(APPEND TDM_RELAY_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/room.c)
