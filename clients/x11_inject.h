/* x11_inject: the X side of remote input — runs the planned actions
 * (inject_plan.h) with XTEST, and watches for the customer's take-back
 * chord.
 *
 * Owns its own xcb connection to the shared display: XTEST FakeInput for
 * motion, buttons and keys; ChangeKeyboardMapping for a REMAP action; the
 * server's keyboard mapping (read at open and again on every MappingNotify,
 * which the caller hands to the planner); and a passive grab of the
 * take-back chord (Ctrl+Alt+Shift+T, with or without Caps Lock and Num
 * Lock) on the root window, so the chord reaches tandem-share and no
 * application whichever window has the focus.
 *
 * Single-threaded; the caller polls tdm_x11_injector_fd and calls
 * tdm_x11_injector_poll. */
#ifndef TDM_X11_INJECT_H
#define TDM_X11_INJECT_H

#include <stdbool.h>

#include "inject_plan.h"
#include "tdm_status.h"

typedef struct tdm_x11_injector tdm_x11_injector;

/* Opens display (NULL: $DISPLAY), checks XTEST, reads the keyboard mapping
 * and, with grab_chord, grabs the take-back chord (a chord another client
 * grabbed already fails the open, naming it). */
tdm_status tdm_x11_injector_open(const char *display, bool grab_chord, tdm_x11_injector **out,
                                 tdm_error *err);
/* Keycodes a REMAP borrowed get their empty mapping back; the grab goes
 * with the connection. */
void tdm_x11_injector_close(tdm_x11_injector *inj);

/* The server's keyboard mapping as last read. */
const tdm_xkeymap *tdm_x11_injector_keymap(const tdm_x11_injector *inj);

/* Runs the actions in order and flushes. Errors the server reports come
 * back on a later poll (XTEST requests have no reply). */
tdm_status tdm_x11_injector_run(tdm_x11_injector *inj, const tdm_inject_plan *plan,
                                tdm_error *err);

/* Waits until the server has processed everything sent (one round trip):
 * the injected input has then reached the server's event queue. */
tdm_status tdm_x11_injector_sync(tdm_x11_injector *inj, tdm_error *err);

/* For poll(POLLIN). */
int tdm_x11_injector_fd(const tdm_x11_injector *inj);

/* Reads what the server sent: *chord counts take-back chord presses,
 * *keymap_changed says the mapping was re-read (hand it to the planner).
 * Fails when the connection is gone. */
tdm_status tdm_x11_injector_poll(tdm_x11_injector *inj, unsigned *chord, bool *keymap_changed,
                                 tdm_error *err);

#endif
