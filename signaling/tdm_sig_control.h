/* tdm_sig_control: who drives the customer's screen — state and audit.
 *
 * The customer can take control back from the session's reps and invitees
 * at any time (tandem-share's chord, signal or command) and give it again;
 * tandem-share tells the service over its WebSocket. This module owns the
 * state, kept with the session in the store (SQLite on one machine, the
 * session's Redis hash in a cluster, so every instance sees one state and
 * an instance that serves the session later reads it there), and writes
 * its facts on the session's audit chain, so an auditor sees when the
 * customer held control and which input was refused because of it. The hub
 * (tdm_sig_hub.h) broadcasts changes, keeps a copy per live session for
 * the per-event deny check (reason customer_has_control) and refreshes it
 * from here whenever it reads the session.
 *
 * The state follows the customer's sockets: when the customer has no
 * socket left on any instance it is shared again (_reset). Each change
 * runs under the store's write lock (one transaction: read, compare,
 * write, audit), so two instances cannot both record the same change. */
#ifndef TDM_SIG_CONTROL_H
#define TDM_SIG_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "tdm_signal.h"

/* Whether the customer holds control of session_id (false: shared). */
tdm_status tdm_signal_control_get(tdm_signal *sig, const char *session_id, bool *customer,
                                  tdm_error *err);

/* The customer (customer_pid) takes control back (taken) or gives it. A
 * change is stored and audited ("control_taken_back" / "control_returned",
 * actor and subject the customer, detail {}) and *changed set; the state
 * the session already has changes nothing (*changed false). */
tdm_status tdm_signal_control_set(tdm_signal *sig, const char *session_id,
                                  const char *customer_pid, bool taken, int64_t now_ms,
                                  bool *changed, tdm_error *err);

/* The customer has no socket on any instance (reason "customer_offline"),
 * or arrives while the store still says taken back although it had no
 * socket anywhere — left so by an instance that stopped before it could
 * reset (reason "instance_lost"). Control is shared again; if it was not,
 * *changed is set and "control_returned" audited with actor "system",
 * subject the customer and detail {"reason"}. */
tdm_status tdm_signal_control_reset(tdm_signal *sig, const char *session_id,
                                    const char *customer_pid, const char *reason, int64_t now_ms,
                                    bool *changed, tdm_error *err);

/* An input event refused because the customer holds control: "input_denied"
 * with detail {"event", "reason": "customer_has_control"}, actor and subject
 * the sender. Events reach this only after the sender's profile allowed
 * them, so the profile's rate limit bounds how often it writes. Call it
 * with the now_ms given to tdm_signal_input for that event: the event is
 * taken out of the sender's "input_allowed" count (it was denied). */
tdm_status tdm_signal_control_denial_audit(tdm_signal *sig, const char *session_id,
                                           const char *sender_pid, const char *event,
                                           int64_t now_ms, tdm_error *err);

#endif
