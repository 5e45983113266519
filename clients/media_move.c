/* media_move.c: reading the service's "media moved" message (media_move.h). */
#include "media_move.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

static void copy_str(char *dst, size_t cap, json_t *v)
{
    const char *s = json_string_value(v);
    /* Only printable ASCII reaches the program's log lines. */
    size_t n = 0;
    for (; s && s[n] && n + 1 < cap; n++)
        dst[n] = s[n] >= ' ' && s[n] <= '~' ? s[n] : '?';
    if (n == 0 && cap > 1)
        dst[n++] = '?';
    dst[n] = '\0';
}

bool tdm_media_move_parse(const char *msg, size_t len, tdm_media_move *out)
{
    memset(out, 0, sizeof *out);
    if (!msg)
        return false;
    json_t *doc = json_loadb(msg, len, JSON_REJECT_DUPLICATES, NULL);
    const char *type = json_string_value(json_object_get(doc, "type"));
    const char *event = json_string_value(json_object_get(doc, "event"));
    json_t *media = json_object_get(doc, "media");
    bool ok = type && event && strcmp(type, "media") == 0 && strcmp(event, "moved") == 0 &&
              json_is_object(media) && json_is_string(json_object_get(media, "url")) &&
              json_is_string(json_object_get(media, "token"));
    if (ok)
        out->media = json_dumps(media, JSON_COMPACT);
    ok = ok && out->media;
    if (ok) {
        copy_str(out->from, sizeof out->from, json_object_get(doc, "from"));
        copy_str(out->reason, sizeof out->reason, json_object_get(doc, "reason"));
    }
    json_decref(doc);
    return ok;
}
