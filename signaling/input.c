/* input.c: the input event parser (tdm_sig_input.h). jansson does the JSON;
 * this file decides what a valid event is. */
#include "tdm_sig_input.h"

#include <string.h>

#include <jansson.h>

static const char *const kind_names[] = {
#define TDM_SIG_INPUT_KIND_NAME(e, name) name,
    TDM_SIG_INPUT_KIND_MAP(TDM_SIG_INPUT_KIND_NAME)
#undef TDM_SIG_INPUT_KIND_NAME
};

const char *tdm_sig_input_kind_name(tdm_sig_input_kind k)
{
    return (unsigned)k < TDM_SIG_IN_KIND_COUNT ? kind_names[k] : "unknown";
}

bool tdm_sig_input_kind_parse(const char *name, tdm_sig_input_kind *out)
{
    for (unsigned i = 0; name && i < TDM_SIG_IN_KIND_COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *out = (tdm_sig_input_kind)i;
            return true;
        }
    return false;
}

/* Fields each kind must and may carry, besides "type". */
typedef struct field_rule {
    const char *required[4];
    const char *optional[2];
} field_rule;

static const field_rule rules[TDM_SIG_IN_KIND_COUNT] = {
    [TDM_SIG_IN_POINTER_MOVE] = {{"x", "y"}, {0}},
    [TDM_SIG_IN_POINTER_BUTTON] = {{"button", "down", "x", "y"}, {0}},
    [TDM_SIG_IN_POINTER_SCROLL] = {{"dx", "dy"}, {0}},
    [TDM_SIG_IN_KEY_DOWN] = {{"key"}, {"mods"}},
    [TDM_SIG_IN_KEY_UP] = {{"key"}, {"mods"}},
    [TDM_SIG_IN_CLIPBOARD_TO_CUSTOMER] = {{"text"}, {0}},
    [TDM_SIG_IN_CLIPBOARD_FROM_CUSTOMER] = {{0}, {0}},
};

static bool listed(const char *const *list, size_t n, const char *key)
{
    for (size_t i = 0; i < n && list[i]; i++)
        if (strcmp(list[i], key) == 0)
            return true;
    return false;
}

static tdm_status unit_coord(json_t *o, const char *name, double *out, tdm_error *err)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_number(v))
        return tdm_fail(err, TDM_ERR_FORMAT, "input: \"%s\" must be a number", name);
    double d = json_number_value(v);
    if (!(d >= 0.0 && d <= 1.0)) /* also refuses NaN */
        return tdm_fail(err, TDM_ERR_RANGE, "input: \"%s\" must be in [0,1]", name);
    *out = d;
    return TDM_OK;
}

static tdm_status small_int(json_t *o, const char *name, int lo, int hi, int *out, tdm_error *err)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v))
        return tdm_fail(err, TDM_ERR_FORMAT, "input: \"%s\" must be an integer", name);
    json_int_t i = json_integer_value(v);
    if (i < lo || i > hi)
        return tdm_fail(err, TDM_ERR_RANGE, "input: \"%s\" must be in %d..%d", name, lo, hi);
    *out = (int)i;
    return TDM_OK;
}

static tdm_status parse_mods(json_t *v, unsigned *out, tdm_error *err)
{
    static const struct {
        const char *name;
        unsigned bit;
    } mods[] = {{"ctrl", TDM_SIG_MOD_CTRL},
                {"alt", TDM_SIG_MOD_ALT},
                {"shift", TDM_SIG_MOD_SHIFT},
                {"meta", TDM_SIG_MOD_META}};
    if (!json_is_array(v) || json_array_size(v) > 4)
        return tdm_fail(err, TDM_ERR_FORMAT, "input: \"mods\" must be an array of at most 4");
    *out = 0;
    size_t i;
    json_t *m;
    json_array_foreach (v, i, m) {
        const char *s = json_string_value(m);
        unsigned bit = 0;
        for (size_t k = 0; s && k < sizeof mods / sizeof mods[0]; k++)
            if (strcmp(s, mods[k].name) == 0)
                bit = mods[k].bit;
        if (!bit)
            return tdm_fail(err, TDM_ERR_FORMAT, "input: unknown modifier in \"mods\"");
        if (*out & bit)
            return tdm_fail(err, TDM_ERR_FORMAT, "input: modifier repeated in \"mods\"");
        *out |= bit;
    }
    return TDM_OK;
}

static tdm_status parse_key(json_t *o, tdm_sig_input_event *ev, tdm_error *err)
{
    json_t *v = json_object_get(o, "key");
    const char *s = json_string_value(v);
    size_t n = s ? json_string_length(v) : 0;
    if (!s || n == 0 || n > TDM_SIG_KEY_MAX || strlen(s) != n)
        return tdm_fail(err, TDM_ERR_FORMAT, "input: \"key\" must be a string of 1..%d bytes",
                        TDM_SIG_KEY_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return tdm_fail(err, TDM_ERR_FORMAT, "input: \"key\" holds a control character");
    memcpy(ev->key, s, n + 1);
    json_t *m = json_object_get(o, "mods");
    return m ? parse_mods(m, &ev->mods, err) : TDM_OK;
}

static tdm_status parse_fields(json_t *o, tdm_sig_input_event *ev, tdm_error *err)
{
    tdm_status st = TDM_OK;
    switch (ev->kind) {
    case TDM_SIG_IN_POINTER_BUTTON:
        if ((st = small_int(o, "button", 0, 4, &ev->button, err)) != TDM_OK)
            return st;
        if (!json_is_boolean(json_object_get(o, "down")))
            return tdm_fail(err, TDM_ERR_FORMAT, "input: \"down\" must be true or false");
        ev->down = json_is_true(json_object_get(o, "down"));
        /* a button event also says where */
        __attribute__((fallthrough));
    case TDM_SIG_IN_POINTER_MOVE:
        if ((st = unit_coord(o, "x", &ev->x, err)) != TDM_OK)
            return st;
        return unit_coord(o, "y", &ev->y, err);
    case TDM_SIG_IN_POINTER_SCROLL:
        if ((st = small_int(o, "dx", -1000, 1000, &ev->dx, err)) != TDM_OK)
            return st;
        return small_int(o, "dy", -1000, 1000, &ev->dy, err);
    case TDM_SIG_IN_KEY_DOWN:
    case TDM_SIG_IN_KEY_UP:
        return parse_key(o, ev, err);
    case TDM_SIG_IN_CLIPBOARD_TO_CUSTOMER: {
        json_t *t = json_object_get(o, "text");
        if (!json_is_string(t))
            return tdm_fail(err, TDM_ERR_FORMAT, "input: \"text\" must be a string");
        ev->text_len = json_string_length(t);
        if (ev->text_len > TDM_SIG_CLIPBOARD_MAX)
            return tdm_fail(err, TDM_ERR_RANGE, "input: clipboard text over %d bytes",
                            TDM_SIG_CLIPBOARD_MAX);
        return TDM_OK;
    }
    case TDM_SIG_IN_CLIPBOARD_FROM_CUSTOMER:
    case TDM_SIG_IN_KIND_COUNT:
        break;
    }
    return TDM_OK;
}

tdm_status tdm_sig_input_parse(const uint8_t *buf, size_t len, tdm_sig_input_event *out,
                               tdm_error *err)
{
    if (!out || (!buf && len))
        return tdm_fail(err, TDM_ERR_INVALID, "input_parse: NULL argument");
    memset(out, 0, sizeof *out);
    if (len > TDM_SIG_INPUT_MAX)
        return tdm_fail(err, TDM_ERR_RANGE, "input: message of %zu bytes is over %d", len,
                        TDM_SIG_INPUT_MAX);
    json_error_t jerr;
    /* DISABLE_EOF_CHECK off: trailing bytes after the object are an error. */
    json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return tdm_fail(err, TDM_ERR_FORMAT, "input: not JSON (%s at byte %d)", jerr.text,
                        jerr.position);
    tdm_status st = TDM_OK;
    if (!json_is_object(o)) {
        st = tdm_fail(err, TDM_ERR_FORMAT, "input: message must be a JSON object");
        goto out;
    }
    json_t *type = json_object_get(o, "type");
    if (!json_is_string(type)) {
        st = tdm_fail(err, TDM_ERR_FORMAT, "input: \"type\" missing or not a string");
        goto out;
    }
    if (strlen(json_string_value(type)) != json_string_length(type) ||
        !tdm_sig_input_kind_parse(json_string_value(type), &out->kind)) {
        st = tdm_fail(err, TDM_ERR_UNSUPPORTED, "input: unknown event type");
        goto out;
    }
    const field_rule *r = &rules[out->kind];
    const char *key;
    json_t *val;
    json_object_foreach (o, key, val) {
        if (strcmp(key, "type") != 0 && !listed(r->required, 4, key) &&
            !listed(r->optional, 2, key)) {
            st = tdm_fail(err, TDM_ERR_FORMAT, "input: unexpected field for %s",
                          tdm_sig_input_kind_name(out->kind));
            goto out;
        }
    }
    for (size_t i = 0; i < 4 && r->required[i]; i++)
        if (!json_object_get(o, r->required[i])) {
            st = tdm_fail(err, TDM_ERR_FORMAT, "input: %s needs \"%s\"",
                          tdm_sig_input_kind_name(out->kind), r->required[i]);
            goto out;
        }
    st = parse_fields(o, out, err);
out:
    json_decref(o);
    return st;
}
