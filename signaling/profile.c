/* profile.c: built-in profiles and the JSON profile configuration
 * (tdm_sig_profile.h). */
#include "tdm_sig_profile.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#define K(kind) (1u << (kind))
#define POINTER_KINDS                                                                              \
    (K(TDM_SIG_IN_POINTER_MOVE) | K(TDM_SIG_IN_POINTER_BUTTON) | K(TDM_SIG_IN_POINTER_SCROLL))
#define KEY_KINDS (K(TDM_SIG_IN_KEY_DOWN) | K(TDM_SIG_IN_KEY_UP))
#define CLIP_KINDS (K(TDM_SIG_IN_CLIPBOARD_TO_CUSTOMER) | K(TDM_SIG_IN_CLIPBOARD_FROM_CUSTOMER))

bool tdm_sig_profile_name_ok(const char *name)
{
    size_t n = name ? strnlen(name, TDM_SIG_PROFILE_NAME_MAX + 1) : 0;
    if (n == 0 || n > TDM_SIG_PROFILE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_' || name[i] == '-'))
            return false;
    return true;
}

tdm_status tdm_sig_chord_parse(const char *text, tdm_sig_chord *out, tdm_error *err)
{
    static const struct {
        const char *name;
        unsigned bit;
    } mods[] = {{"ctrl", TDM_SIG_MOD_CTRL}, {"control", TDM_SIG_MOD_CTRL},
                {"alt", TDM_SIG_MOD_ALT},   {"shift", TDM_SIG_MOD_SHIFT},
                {"meta", TDM_SIG_MOD_META}, {"super", TDM_SIG_MOD_META},
                {"win", TDM_SIG_MOD_META}};
    memset(out, 0, sizeof *out);
    if (!text || !*text)
        return tdm_fail(err, TDM_ERR_FORMAT, "chord: empty");
    char buf[128];
    if (strlen(text) >= sizeof buf)
        return tdm_fail(err, TDM_ERR_FORMAT, "chord: too long");
    strcpy(buf, text);
    char *save = NULL, *part = strtok_r(buf, "+", &save);
    while (part) {
        char *next = strtok_r(NULL, "+", &save);
        if (!next) { /* the last part is the key */
            if (strcasecmp(part, "del") == 0)
                part = "Delete";
            if (strlen(part) > TDM_SIG_KEY_MAX)
                return tdm_fail(err, TDM_ERR_FORMAT, "chord '%s': key too long", text);
            strcpy(out->key, part);
            return TDM_OK;
        }
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
            if (strcasecmp(part, mods[i].name) == 0)
                bit = mods[i].bit;
        if (!bit)
            return tdm_fail(err, TDM_ERR_FORMAT, "chord '%s': unknown modifier '%s'", text, part);
        out->mods |= bit;
        part = next;
    }
    return tdm_fail(err, TDM_ERR_FORMAT, "chord '%s': no key", text);
}

static void add_chord(tdm_sig_profile *p, const char *text)
{
    if (p->n_chords < TDM_SIG_CHORDS_MAX &&
        tdm_sig_chord_parse(text, &p->chords[p->n_chords], NULL) == TDM_OK)
        p->n_chords++;
}

void tdm_sig_profiles_builtin(tdm_sig_profiles *set)
{
    memset(set, 0, sizeof *set);
    tdm_sig_profile *p = &set->items[0];
    strcpy(p->name, "view_only");

    p = &set->items[1];
    strcpy(p->name, "pointer");
    p->kinds = K(TDM_SIG_IN_POINTER_MOVE);
    p->rate_per_s = 120; /* a 120 Hz pointer */
    p->burst = 240;

    p = &set->items[2];
    strcpy(p->name, "control");
    p->kinds = POINTER_KINDS | KEY_KINDS;
    p->rate_per_s = 250;
    p->burst = 500;
    /* Secure attention, X server kill, screen lock: a remote rep has no
     * business with any of them, and each can end the support session. */
    add_chord(p, "Ctrl+Alt+Delete");
    add_chord(p, "Ctrl+Alt+Backspace");
    add_chord(p, "Meta+l");

    set->items[3] = *p;
    p = &set->items[3];
    strcpy(p->name, "full");
    p->kinds |= CLIP_KINDS;
    set->count = 4;
}

const tdm_sig_profile *tdm_sig_profiles_find(const tdm_sig_profiles *set, const char *name)
{
    for (unsigned i = 0; set && name && i < set->count; i++)
        if (strcmp(set->items[i].name, name) == 0)
            return &set->items[i];
    return NULL;
}

static tdm_status profile_from_json(const char *name, json_t *o, tdm_sig_profile *p, tdm_error *err)
{
    memset(p, 0, sizeof *p);
    if (!tdm_sig_profile_name_ok(name))
        return tdm_fail(err, TDM_ERR_FORMAT, "profile name '%.40s' is not 1..%d of [a-z0-9_-]",
                        name, TDM_SIG_PROFILE_NAME_MAX);
    strcpy(p->name, name);
    if (!json_is_object(o))
        return tdm_fail(err, TDM_ERR_FORMAT, "profile %s: must be an object", name);
    const char *key;
    json_t *v;
    json_object_foreach (o, key, v) {
        if (strcmp(key, "events") && strcmp(key, "blocked_chords") && strcmp(key, "clipboard") &&
            strcmp(key, "rate"))
            return tdm_fail(err, TDM_ERR_FORMAT, "profile %s: unknown field '%.40s'", name, key);
    }
    json_t *events = json_object_get(o, "events");
    size_t i;
    if (events) {
        if (!json_is_array(events))
            return tdm_fail(err, TDM_ERR_FORMAT, "profile %s: events must be an array", name);
        json_array_foreach (events, i, v) {
            tdm_sig_input_kind k;
            if (!tdm_sig_input_kind_parse(json_string_value(v), &k) || (K(k) & CLIP_KINDS))
                return tdm_fail(err, TDM_ERR_FORMAT,
                                "profile %s: events[%zu] is not a pointer or key event kind", name,
                                i);
            p->kinds |= K(k);
        }
    }
    json_t *chords = json_object_get(o, "blocked_chords");
    if (chords) {
        if (!json_is_array(chords) || json_array_size(chords) > TDM_SIG_CHORDS_MAX)
            return tdm_fail(err, TDM_ERR_FORMAT,
                            "profile %s: blocked_chords must be an array of at most %d", name,
                            TDM_SIG_CHORDS_MAX);
        json_array_foreach (chords, i, v) {
            tdm_error cerr = {{0}};
            if (!json_is_string(v) ||
                tdm_sig_chord_parse(json_string_value(v), &p->chords[i], &cerr))
                return tdm_fail(err, TDM_ERR_FORMAT, "profile %s: blocked_chords[%zu]: %s", name, i,
                                cerr.msg[0] ? cerr.msg : "not a string");
            p->n_chords++;
        }
    }
    json_t *clip = json_object_get(o, "clipboard");
    if (clip) {
        const char *c = json_string_value(clip);
        if (c && strcmp(c, "none") == 0) {
        } else if (c && strcmp(c, "to_customer") == 0) {
            p->kinds |= K(TDM_SIG_IN_CLIPBOARD_TO_CUSTOMER);
        } else if (c && strcmp(c, "from_customer") == 0) {
            p->kinds |= K(TDM_SIG_IN_CLIPBOARD_FROM_CUSTOMER);
        } else if (c && strcmp(c, "both") == 0) {
            p->kinds |= CLIP_KINDS;
        } else {
            return tdm_fail(
                err, TDM_ERR_FORMAT,
                "profile %s: clipboard must be none, to_customer, from_customer or both", name);
        }
    }
    json_t *rate = json_object_get(o, "rate");
    if (rate) {
        json_t *ps = json_object_get(rate, "per_second"), *b = json_object_get(rate, "burst");
        if (!json_is_object(rate) || json_object_size(rate) != 2 || !json_is_integer(ps) ||
            !json_is_integer(b) || json_integer_value(ps) < 0 || json_integer_value(ps) > 100000 ||
            json_integer_value(b) < 0 || json_integer_value(b) > 100000)
            return tdm_fail(
                err, TDM_ERR_FORMAT,
                "profile %s: rate must be {\"per_second\": 0..100000, \"burst\": 0..100000}", name);
        p->rate_per_s = (uint32_t)json_integer_value(ps);
        p->burst = (uint32_t)json_integer_value(b);
    } else if (p->kinds) {
        /* No rate given: the same default as the built-in control. */
        p->rate_per_s = 250;
        p->burst = 500;
    }
    return TDM_OK;
}

tdm_status tdm_sig_profiles_load_json(tdm_sig_profiles *set, const char *json, size_t len,
                                      tdm_error *err)
{
    if (!set || !json)
        return tdm_fail(err, TDM_ERR_INVALID, "profiles_load_json: NULL argument");
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return tdm_fail(err, TDM_ERR_FORMAT, "profiles: not JSON (%s, line %d)", jerr.text,
                        jerr.line);
    tdm_sig_profiles next = *set;
    tdm_status st = TDM_OK;
    json_t *profiles = json_object_get(doc, "profiles");
    if (!json_is_object(doc) || !json_is_object(profiles)) {
        st = tdm_fail(err, TDM_ERR_FORMAT, "profiles: expected {\"profiles\": {NAME: {...}}}");
        goto out;
    }
    const char *name;
    json_t *v;
    json_object_foreach (profiles, name, v) {
        tdm_sig_profile p;
        if ((st = profile_from_json(name, v, &p, err)) != TDM_OK)
            goto out;
        tdm_sig_profile *slot = (tdm_sig_profile *)tdm_sig_profiles_find(&next, name);
        if (!slot) {
            if (next.count == TDM_SIG_PROFILES_MAX) {
                st = tdm_fail(err, TDM_ERR_RANGE, "profiles: more than %d", TDM_SIG_PROFILES_MAX);
                goto out;
            }
            slot = &next.items[next.count++];
        }
        *slot = p;
    }
    *set = next;
out:
    json_decref(doc);
    return st;
}
