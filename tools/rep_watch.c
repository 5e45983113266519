/* rep_watch.c: tandem-rep watch's lines (tdm_rep_watch.h). */
#define _GNU_SOURCE
#include "tdm_rep_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static bool ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

bool tdm_rep_watch_secret_key(const char *key)
{
    static const char *const exact[] = {"token", "secret", "password", "credential"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(key, exact[i]) == 0)
            return true;
    return ends_with(key, "_token") || ends_with(key, "_secret") || ends_with(key, "_password");
}

/* In place, at any depth: a message kind added later is covered too. */
static void redact(json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach (v, k, x) {
            if (tdm_rep_watch_secret_key(k) && !json_is_null(x))
                json_object_set_new(v, k, json_string("<redacted>"));
            else
                redact(x);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x)
            redact(x);
    }
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* "p_ab12 (customer Bob, control)" for a participant id, from a session state. */
static void who(FILE *f, json_t *state, const char *pid)
{
    json_t *ps = json_object_get(state, "participants"), *p;
    size_t i;
    json_array_foreach (ps, i, p) {
        if (strcmp(jstr(p, "id"), pid) == 0) {
            fprintf(f, "%s (%s %s, %s)", pid, jstr(p, "kind"), jstr(p, "name"),
                    jstr(p, "profile"));
            return;
        }
    }
    fprintf(f, "%s", *pid ? pid : "-");
}

static void readable(FILE *f, json_t *j, const char *ts)
{
    const char *type = jstr(j, "type");
    if (strcmp(type, "session") == 0) {
        json_t *state = json_object_get(j, "state");
        fprintf(f, "%s session %s ", ts, jstr(j, "event"));
        who(f, state, jstr(j, "subject"));
        fprintf(f, "; state %s, %zu present\n", jstr(state, "state"),
                json_array_size(json_object_get(state, "participants")));
    } else if (strcmp(type, "welcome") == 0) {
        json_t *p = json_object_get(j, "participant");
        json_t *state = json_object_get(j, "state");
        fprintf(f, "%s watching %s as %s (%s %s, %s); state %s\n", ts, jstr(state, "session"),
                jstr(p, "id"), jstr(p, "kind"), jstr(p, "name"), jstr(p, "profile"),
                jstr(state, "state"));
        json_t *ps = json_object_get(state, "participants"), *q;
        size_t i;
        json_array_foreach (ps, i, q)
            fprintf(f, "%s   present %s (%s %s, %s)%s%s\n", ts, jstr(q, "id"), jstr(q, "kind"),
                    jstr(q, "name"), jstr(q, "profile"),
                    json_is_true(json_object_get(q, "owner")) ? " owner" : "",
                    json_is_true(json_object_get(q, "online")) ? " online" : "");
    } else if (strcmp(type, "media") == 0) {
        json_t *m = json_object_get(j, "media");
        const char *to = json_is_object(m) ? jstr(m, "node") : "";
        fprintf(f, "%s media %s from %s to %s", ts, jstr(j, "event"),
                *jstr(j, "from") ? jstr(j, "from") : "-", *to ? to : "(no relay)");
        if (*jstr(j, "reason"))
            fprintf(f, " (%s)", jstr(j, "reason"));
        fputc('\n', f);
    } else if (strcmp(type, "chat") == 0) {
        fprintf(f, "%s chat %s: %s\n", ts, jstr(j, "name"), jstr(j, "text"));
    } else if (strcmp(type, "error") == 0) {
        fprintf(f, "%s error %s %s%s\n", ts, jstr(j, "error"), jstr(j, "reason"),
                jstr(j, "detail"));
    } else if (strcmp(type, "removed") == 0) {
        fprintf(f, "%s removed from the session\n", ts);
    } else {
        /* A kind this tool does not know: shown whole, secrets taken out. */
        redact(j);
        char *s = json_dumps(j, JSON_COMPACT);
        fprintf(f, "%s %s %s\n", ts, *type ? type : "message", s ? s : "");
        free(s);
    }
}

tdm_status tdm_rep_watch_format(const char *msg, size_t len, bool json, const char *ts,
                                char **out, tdm_error *err)
{
    *out = NULL;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return tdm_fail(err, TDM_ERR_NOMEM, "watch: out of memory");
    json_t *j = json_loadb(msg, len, 0, NULL);
    if (!json_is_object(j)) {
        /* Not shown: it could hold anything, a token included. */
        if (json)
            fprintf(f, "{\"type\":\"unreadable\",\"bytes\":%zu}\n", len);
        else
            fprintf(f, "%s unreadable message (%zu bytes)\n", ts, len);
    } else if (json) {
        redact(j);
        char *s = json_dumps(j, JSON_COMPACT);
        fprintf(f, "%s\n", s ? s : "{}");
        free(s);
    } else {
        readable(f, j, ts);
    }
    json_decref(j);
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return tdm_fail(err, TDM_ERR_NOMEM, "watch: out of memory");
    }
    *out = buf;
    return TDM_OK;
}
