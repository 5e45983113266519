/* tdm_sig_control: who drives the customer's screen — the audit side.
 *
 * The customer can take control back from the session's reps and invitees
 * at any time (tandem-share's chord, signal or command) and give it again;
 * tandem-share tells the service over its WebSocket and the hub
 * (tdm_sig_hub.h) keeps the state per live session, broadcasts it and denies
 * input meanwhile (reason customer_has_control). This module writes those
 * facts on the session's audit chain, so an auditor sees when the customer
 * held control and which input was refused because of it. */
#ifndef TDM_SIG_CONTROL_H
#define TDM_SIG_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "tdm_signal.h"

/* "control_taken_back" (taken true) or "control_returned", actor and subject
 * the customer's participant id, detail {}. */
tdm_status tdm_signal_control_audit(tdm_signal *sig, const char *session_id,
                                    const char *customer_pid, bool taken, int64_t now_ms,
                                    tdm_error *err);

/* An input event refused because the customer holds control: "input_denied"
 * with detail {"event", "reason": "customer_has_control"}, actor and subject
 * the sender. Events reach this only after the sender's profile allowed
 * them, so the profile's rate limit bounds how often it writes. */
tdm_status tdm_signal_control_denial_audit(tdm_signal *sig, const char *session_id,
                                           const char *sender_pid, const char *event,
                                           int64_t now_ms, tdm_error *err);

#endif
