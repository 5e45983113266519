/* tdm_keyframe_throttle: the keyframe requests of one publisher's video
 * stream, merged from every subscriber so the publisher's encoder is not
 * asked for a keyframe per subscriber per loss.
 *
 * Requests come from subscribers' PLI and FIR, and from the relay itself
 * when a subscriber joins (so a newcomer sees a picture at once). At most
 * one request reaches the publisher per interval; the first after a quiet
 * spell goes out at once.
 *
 * A request inside the interval is deferred, not dropped: the keyframe the
 * earlier request brings may already have passed when the later subscriber
 * joined or lost its packet, and dropping would leave it frozen until the
 * encoder's next periodic keyframe. All requests inside one interval merge
 * into one deferred request, due when the interval ends
 * (tdm_keyframe_throttle_poll_timeout); a keyframe forwarded meanwhile
 * answers it and it is cancelled. So a subscriber waits at most one
 * interval plus the publisher's round trip, and the publisher sees at most
 * one request per interval.
 *
 * Sans-IO: time is the caller's now_us (monotonic microseconds; a value
 * earlier than one seen before counts as the latest). Every request is
 * accounted for: received == forwarded + suppressed + (1 if one is
 * deferred). */
#ifndef TDM_KEYFRAME_THROTTLE_H
#define TDM_KEYFRAME_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "tdm_status.h"

#define TDM_KEYFRAME_THROTTLE_NO_DEADLINE UINT64_MAX

/* Where a request came from. */
typedef enum tdm_keyframe_trigger {
    TDM_KEYFRAME_TRIGGER_PLI,
    TDM_KEYFRAME_TRIGGER_FIR,
    TDM_KEYFRAME_TRIGGER_JOIN, /* a subscriber joined */
    TDM_KEYFRAME_TRIGGER_COUNT /* number of triggers, not a trigger */
} tdm_keyframe_trigger;

const char *tdm_keyframe_trigger_name(tdm_keyframe_trigger t);

typedef struct tdm_keyframe_throttle_config {
    /* Least time between two requests to the publisher. Default 300 ms:
     * about a keyframe's encode and transmit time, so a second request
     * sooner would most likely ask for the keyframe already on its way. */
    uint64_t interval_us;
} tdm_keyframe_throttle_config;

void tdm_keyframe_throttle_config_default(tdm_keyframe_throttle_config *cfg);

typedef struct tdm_keyframe_throttle_stats {
    uint64_t received[TDM_KEYFRAME_TRIGGER_COUNT];
    uint64_t received_total;
    uint64_t forwarded;  /* requests sent to the publisher, at once or deferred */
    uint64_t suppressed; /* merged into another request or answered by a keyframe */
} tdm_keyframe_throttle_stats;

typedef struct tdm_keyframe_throttle tdm_keyframe_throttle;

/* cfg may be NULL for the defaults. TDM_ERR_INVALID for interval_us 0,
 * TDM_ERR_NOMEM. */
tdm_status tdm_keyframe_throttle_new(const tdm_keyframe_throttle_config *cfg,
                                     tdm_keyframe_throttle **out);
void tdm_keyframe_throttle_free(tdm_keyframe_throttle *t);

/* A request arrived at now_us. true: send a keyframe request (PLI, or FIR
 * with tdm_keyframe_throttle_fir_seq) to the publisher now. false: it was
 * merged into a deferred request; see tdm_keyframe_throttle_poll_timeout. */
bool tdm_keyframe_throttle_request(tdm_keyframe_throttle *t, tdm_keyframe_trigger trigger,
                                   uint64_t now_us);

/* Time passed. true: the deferred request is due; send it now. */
bool tdm_keyframe_throttle_handle_timeout(tdm_keyframe_throttle *t, uint64_t now_us);

/* When handle_timeout has a request to release, or
 * TDM_KEYFRAME_THROTTLE_NO_DEADLINE when none is deferred. */
uint64_t tdm_keyframe_throttle_poll_timeout(const tdm_keyframe_throttle *t);

/* The publisher's keyframe started being forwarded at now_us: every
 * subscriber gets it, so a deferred request is answered and cancelled. */
void tdm_keyframe_throttle_on_keyframe(tdm_keyframe_throttle *t, uint64_t now_us);

/* The FIR command sequence number (RFC 5104 4.3.1.1) for the request last
 * forwarded: raised by one for each forwarded request, so the publisher
 * never mistakes a new request for a repetition. */
uint8_t tdm_keyframe_throttle_fir_seq(const tdm_keyframe_throttle *t);

const tdm_keyframe_throttle_stats *tdm_keyframe_throttle_get_stats(const tdm_keyframe_throttle *t);

#endif
