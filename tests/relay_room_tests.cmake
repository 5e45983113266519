# Unit tests of the forwarding room (relay/tdm_room.h).
tdm_unit_test(room_forwards_to_every_subscriber_test)
