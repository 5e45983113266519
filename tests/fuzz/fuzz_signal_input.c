/* fuzz_signal_input: feeds arbitrary bytes to the signaling parsers of
 * outside input — the input event parser (WebSocket messages from reps and
 * invited experts) and, from the same bytes, the profile configuration
 * loader — and holds them to their contracts: an accepted event has a known
 * kind, in-range fields and a NUL-terminated key; a refusal is one of the
 * documented statuses with a message; whatever parses goes through the
 * filter under every built-in profile, where view_only allows nothing and
 * nothing allowed is outside its profile's kinds or a blocked chord. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_sig_filter.h"
#include "tdm_sig_input.h"
#include "tdm_sig_profile.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_signal_input: invariant failed: %s (line %d)\n", #cond,          \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_event(const tdm_sig_input_event *ev)
{
    CHECK((unsigned)ev->kind < TDM_SIG_IN_KIND_COUNT);
    CHECK(ev->x >= 0.0 && ev->x <= 1.0 && ev->y >= 0.0 && ev->y <= 1.0);
    CHECK(ev->button >= 0 && ev->button <= 4);
    CHECK(ev->dx >= -1000 && ev->dx <= 1000 && ev->dy >= -1000 && ev->dy <= 1000);
    CHECK(memchr(ev->key, '\0', sizeof ev->key) != NULL);
    CHECK((ev->mods & ~15u) == 0);
    CHECK(ev->text_len <= TDM_SIG_CLIPBOARD_MAX);
    if (ev->kind == TDM_SIG_IN_KEY_DOWN || ev->kind == TDM_SIG_IN_KEY_UP)
        CHECK(ev->key[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tdm_sig_input_event ev;
    tdm_error err;
    memset(&err, 0, sizeof err);
    tdm_status st = tdm_sig_input_parse(data, size, &ev, &err);
    if (st != TDM_OK) {
        CHECK(st == TDM_ERR_FORMAT || st == TDM_ERR_RANGE || st == TDM_ERR_UNSUPPORTED);
        CHECK(err.msg[0] != '\0');
    } else {
        check_event(&ev);
        tdm_sig_profiles set;
        tdm_sig_profiles_builtin(&set);
        for (unsigned i = 0; i < set.count; i++) {
            const tdm_sig_profile *p = &set.items[i];
            tdm_sig_bucket b = {0};
            tdm_sig_verdict v = tdm_sig_filter_check(p, &ev, &b, 1000);
            CHECK((unsigned)v < TDM_SIG_VERDICT_COUNT);
            if (strcmp(p->name, "view_only") == 0)
                CHECK(v == TDM_SIG_DENY_KIND);
            if (v == TDM_SIG_ALLOW) {
                CHECK(p->kinds & (1u << ev.kind));
                if (ev.kind == TDM_SIG_IN_KEY_DOWN && strcmp(ev.key, "Delete") == 0)
                    CHECK((ev.mods & 3u) != 3u); /* never Ctrl+Alt+Delete */
            }
        }
    }

    /* The same bytes as a profile configuration. */
    tdm_sig_profiles set;
    tdm_sig_profiles_builtin(&set);
    tdm_sig_profiles before = set;
    st = tdm_sig_profiles_load_json(&set, (const char *)data, size, &err);
    if (st != TDM_OK) {
        CHECK(memcmp(&before, &set, sizeof set) == 0);
    } else {
        CHECK(set.count >= 4 && set.count <= TDM_SIG_PROFILES_MAX);
        for (unsigned i = 0; i < set.count; i++) {
            CHECK(tdm_sig_profile_name_ok(set.items[i].name));
            CHECK(set.items[i].n_chords <= TDM_SIG_CHORDS_MAX);
        }
    }
    return 0;
}
