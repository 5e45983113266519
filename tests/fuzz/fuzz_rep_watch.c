/* fuzz_rep_watch: tandem-rep watch's lines (tools/tdm_rep_watch.h) for
 * arbitrary messages from the service. Invariants: no crash; every answer
 * ends in a newline; the --json answer is one JSON object per line in
 * which no secret-named field holds anything but "<redacted>" or null. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tdm_rep_watch.h"

static bool leaks(json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach (v, k, x) {
            if (tdm_rep_watch_secret_key(k) && !json_is_null(x) &&
                !(json_is_string(x) && strcmp(json_string_value(x), "<redacted>") == 0))
                return true;
            if (leaks(x))
                return true;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x)
            if (leaks(x))
                return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 30000)
        return 0;
    for (int json = 0; json < 2; json++) {
        char *out = NULL;
        if (tdm_rep_watch_format((const char *)data, size, json, "00:00:00.000Z", &out, NULL) !=
            TDM_OK)
            continue; /* out of memory only */
        size_t n = strlen(out);
        if (n == 0 || out[n - 1] != '\n')
            abort();
        if (json) {
            json_t *j = json_loadb(out, n, 0, NULL);
            if (!json_is_object(j) || leaks(j))
                abort();
            json_decref(j);
        }
        free(out);
    }
    return 0;
}
