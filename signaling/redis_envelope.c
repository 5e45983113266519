/* redis_envelope.c: messages between signaling instances (tdm_redis_envelope.h). */
#include "tdm_redis_envelope.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char *const type_names[] = {
    [TDM_ENV_INPUT] = "input",
    [TDM_ENV_CHAT] = "chat",
    [TDM_ENV_CHANGED] = "changed",
    [TDM_ENV_PRESENCE] = "presence",
};

bool tdm_redis_envelope_id_ok(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return s && n >= 1 && n <= TDM_ENV_ID_MAX;
}

static bool event_ok(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_'))
            return false;
    return s && n >= 1 && n <= TDM_ENV_EVENT_MAX;
}

void tdm_redis_envelope_clear(tdm_redis_envelope *e)
{
    if (!e)
        return;
    free(e->data);
    memset(e, 0, sizeof *e);
}

tdm_status tdm_redis_envelope_parse(const char *msg, size_t len, tdm_redis_envelope *out,
                                    tdm_error *err)
{
    memset(out, 0, sizeof *out);
    if (!msg)
        return tdm_fail(err, TDM_ERR_FORMAT, "envelope: no message");
    json_t *doc = json_loadb(msg, len, JSON_REJECT_DUPLICATES, NULL);
    tdm_status st = TDM_OK;
    const char *inst = json_string_value(json_object_get(doc, "i"));
    const char *type = json_string_value(json_object_get(doc, "t"));
    if (!json_is_object(doc)) {
        st = tdm_fail(err, TDM_ERR_FORMAT, "envelope: not a JSON object");
        goto out;
    }
    if (!tdm_redis_envelope_id_ok(inst)) {
        st = tdm_fail(err, TDM_ERR_FORMAT, "envelope: bad instance id");
        goto out;
    }
    snprintf(out->inst, sizeof out->inst, "%s", inst);
    for (int t = TDM_ENV_INPUT; type && t <= TDM_ENV_PRESENCE; t++)
        if (strcmp(type, type_names[t]) == 0)
            out->type = (tdm_env_type)t;
    switch (out->type) {
    case TDM_ENV_INPUT:
    case TDM_ENV_CHAT: {
        json_t *d = json_object_get(doc, "d");
        if (!json_is_string(d) || json_string_length(d) == 0 ||
            json_string_length(d) > TDM_ENV_DATA_MAX) {
            st = tdm_fail(err, TDM_ERR_FORMAT, "envelope: \"d\" must be 1..%d bytes",
                          TDM_ENV_DATA_MAX);
            goto out;
        }
        out->data_len = json_string_length(d);
        if (!(out->data = malloc(out->data_len + 1))) {
            st = tdm_fail(err, TDM_ERR_NOMEM, "envelope: out of memory");
            goto out;
        }
        memcpy(out->data, json_string_value(d), out->data_len);
        out->data[out->data_len] = '\0';
        break;
    }
    case TDM_ENV_CHANGED: {
        const char *e = json_string_value(json_object_get(doc, "e"));
        const char *u = json_string_value(json_object_get(doc, "u"));
        if (!event_ok(e) || !u || (u[0] && !tdm_redis_envelope_id_ok(u))) {
            st = tdm_fail(err, TDM_ERR_FORMAT, "envelope: changed needs \"e\" and \"u\"");
            goto out;
        }
        snprintf(out->event, sizeof out->event, "%s", e);
        snprintf(out->subject, sizeof out->subject, "%s", u);
        break;
    }
    case TDM_ENV_PRESENCE: {
        const char *p = json_string_value(json_object_get(doc, "p"));
        json_t *k = json_object_get(doc, "k"), *on = json_object_get(doc, "on");
        if (!tdm_redis_envelope_id_ok(p) || !json_is_integer(k) || json_integer_value(k) < 1 ||
            json_integer_value(k) > 3 || !json_is_boolean(on)) {
            st = tdm_fail(err, TDM_ERR_FORMAT, "envelope: presence needs \"p\", \"k\", \"on\"");
            goto out;
        }
        snprintf(out->pid, sizeof out->pid, "%s", p);
        out->kind = (int)json_integer_value(k);
        out->on = json_is_true(on);
        break;
    }
    default:
        st = tdm_fail(err, TDM_ERR_FORMAT, "envelope: unknown type");
    }
out:
    json_decref(doc);
    return st;
}

char *tdm_redis_envelope_format(const tdm_redis_envelope *e)
{
    if (!e || !tdm_redis_envelope_id_ok(e->inst))
        return NULL;
    json_t *o = NULL;
    switch (e->type) {
    case TDM_ENV_INPUT:
    case TDM_ENV_CHAT:
        if (e->data && e->data_len > 0 && e->data_len <= TDM_ENV_DATA_MAX)
            o = json_pack("{s:s,s:s,s:s%}", "i", e->inst, "t", type_names[e->type], "d", e->data,
                          e->data_len);
        break;
    case TDM_ENV_CHANGED:
        if (event_ok(e->event) && (!e->subject[0] || tdm_redis_envelope_id_ok(e->subject)))
            o = json_pack("{s:s,s:s,s:s,s:s}", "i", e->inst, "t", "changed", "e", e->event, "u",
                          e->subject);
        break;
    case TDM_ENV_PRESENCE:
        if (tdm_redis_envelope_id_ok(e->pid) && e->kind >= 1 && e->kind <= 3)
            o = json_pack("{s:s,s:s,s:s,s:i,s:b}", "i", e->inst, "t", "presence", "p", e->pid,
                          "k", e->kind, "on", e->on);
        break;
    }
    if (!o)
        return NULL;
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}
