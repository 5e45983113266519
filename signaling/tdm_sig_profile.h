/* tdm_sig_profile: security profiles, the rights a participant's input has.
 *
 * Owns the profile record (event kinds allowed, blocked key chords,
 * clipboard direction, rate limit), the four built-in profiles and loading
 * more from a JSON configuration file. A profile set is built once at start
 * and read-only after, so participants may hold pointers into it.
 *
 * Built in:
 *   view_only  no input at all
 *   pointer    pointer move only (show/highlight), no clicks, scroll or keys
 *   control    pointer and keyboard; Ctrl+Alt+Delete, Ctrl+Alt+Backspace,
 *              Meta+L blocked; no clipboard
 *   full       control's rights plus clipboard both ways
 *
 * Configuration (a file given to tdm_sig_profiles_load_json; a profile with
 * a built-in's name replaces it):
 *   {"profiles": {"support_l1": {
 *       "events": ["pointer_move", "pointer_button", "key_down", "key_up"],
 *       "blocked_chords": ["Ctrl+Alt+Delete", "Meta+R"],
 *       "clipboard": "none" | "to_customer" | "from_customer" | "both",
 *       "rate": {"per_second": 100, "burst": 200}}}}
 * "events" lists only the non-clipboard kinds; "clipboard" adds those. */
#ifndef TDM_SIG_PROFILE_H
#define TDM_SIG_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "tdm_sig_input.h"
#include "tdm_status.h"

#define TDM_SIG_PROFILE_NAME_MAX 32
#define TDM_SIG_CHORDS_MAX 16
#define TDM_SIG_PROFILES_MAX 32

typedef struct tdm_sig_chord {
    unsigned mods; /* TDM_SIG_MOD_* that must all be held */
    char key[TDM_SIG_KEY_MAX + 1];
} tdm_sig_chord;

typedef struct tdm_sig_profile {
    char name[TDM_SIG_PROFILE_NAME_MAX + 1];
    uint32_t kinds; /* bit (1u << tdm_sig_input_kind) per allowed kind */
    tdm_sig_chord chords[TDM_SIG_CHORDS_MAX];
    unsigned n_chords;
    uint32_t rate_per_s; /* token bucket refill; 0 with burst 0 = no input */
    uint32_t burst;
} tdm_sig_profile;

typedef struct tdm_sig_profiles {
    tdm_sig_profile items[TDM_SIG_PROFILES_MAX];
    unsigned count;
} tdm_sig_profiles;

/* Fills set with the four built-ins. */
void tdm_sig_profiles_builtin(tdm_sig_profiles *set);

/* Adds (or replaces by name) the profiles of a JSON document, as described
 * above. On error set is unchanged.
 * @return TDM_OK; TDM_ERR_FORMAT naming the profile and field at fault;
 *         TDM_ERR_RANGE if there would be more than TDM_SIG_PROFILES_MAX. */
tdm_status tdm_sig_profiles_load_json(tdm_sig_profiles *set, const char *json, size_t len,
                                      tdm_error *err);

/* The profile of that name, or NULL. The pointer lives as long as set. */
const tdm_sig_profile *tdm_sig_profiles_find(const tdm_sig_profiles *set, const char *name);

/* Parses "Ctrl+Alt+Delete" (modifiers case-insensitive, Del an alias of
 * Delete, the key last). */
tdm_status tdm_sig_chord_parse(const char *text, tdm_sig_chord *out, tdm_error *err);

/* Profile names are 1..TDM_SIG_PROFILE_NAME_MAX of [a-z0-9_-]. */
bool tdm_sig_profile_name_ok(const char *name);

#endif
