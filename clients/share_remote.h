/* share_remote: tandem-share's side of remote control — a thread of its
 * own, apart from the media loop, so an event is injected as soon as it
 * arrives whatever the encoder is doing.
 *
 * Owns: reading the WebSocket to tandem-signal (input events, session
 * events), planning each event (inject_plan.h) and running the plan with
 * XTEST (x11_inject.h), the --input-log lines, and who has control: the
 * customer takes it back with the chord on the local display
 * (Ctrl+Alt+Shift+T, which toggles), SIGUSR2 (toggles: the program's
 * handler calls tdm_share_remote_wake) or a line "take" / "give" on stdin.
 * Each change releases whatever the remote side held pressed, prints
 * "control: customer" / "control: shared" and tells the service
 * {"type":"control","state":...}.
 *
 * The WebSocket is the thread's: opened and authenticated at start, and
 * opened again when it is lost for another reason than the session's end or
 * the participant's removal (backing off from 0.5 to 5 s, giving up after
 * 60 s), re-announcing a take-back the service forgot with the socket.
 * Taking control back works meanwhile: it is this machine's decision.
 * A "media moved" message (relay failover) is handed to the media loop
 * through tdm_share_remote_take_move. */
#ifndef TDM_SHARE_REMOTE_H
#define TDM_SHARE_REMOTE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "signal_link.h"
#include "tdm_frame.h"

typedef struct tdm_share_remote_config {
    const char *signal_url; /* tandem-signal's base URL; NULL: no service */
    const char *secret;     /* the customer's participant secret */
    const char *display;   /* inject on this X display; NULL: count only */
    tdm_rect area;         /* the shared monitor, root pixels */
    unsigned allow;        /* TDM_INJECT_ALLOW_* */
    FILE *input_log;       /* one line per input event, or NULL; borrowed */
    bool stdin_commands;   /* read take/give lines from stdin */
    volatile sig_atomic_t *stop; /* set when the session ends or the socket is lost */
} tdm_share_remote_config;

typedef struct tdm_share_remote tdm_share_remote;

typedef struct tdm_share_remote_stats {
    uint64_t received, injected, refused;
    bool customer_control;
} tdm_share_remote_stats;

/* Opens the injector (with the chord grab) when display is set and starts
 * the thread. */
tdm_status tdm_share_remote_start(const tdm_share_remote_config *cfg, tdm_share_remote **out,
                                  tdm_error *err);
/* Async-signal-safe: asks the thread to toggle control (SIGUSR2). */
void tdm_share_remote_wake(tdm_share_remote *r);
void tdm_share_remote_get_stats(tdm_share_remote *r, tdm_share_remote_stats *out);
/* The media object of the latest {"type":"media","event":"moved"} the
 * service sent (its relay went away: signaling/API.md "Relay failover"),
 * as JSON text (free()), or NULL when none arrived since the last call.
 * Cheap (one atomic load) when nothing is pending: the media loop polls it. */
char *tdm_share_remote_take_move(tdm_share_remote *r);
/* Stops and joins the thread, releases what is held, closes the injector. */
void tdm_share_remote_stop(tdm_share_remote *r);

#endif
