/* fuzz_rep_input: tandem-rep's event lines (tools/tdm_rep_input.h) from
 * arbitrary bytes. Invariants: no crash; on success every message is one
 * tandem-signal's own input parser accepts (so the tool never sends what
 * the service would call malformed), a wait is within 0..600000 ms; on
 * failure nothing is added. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_rep_input.h"
#include "tdm_sig_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 30000)
        return 0;
    char *line = malloc(size + 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';
    json_t *evs = json_array();
    long wait_ms = -1;
    tdm_status st = tdm_rep_input_parse(line, evs, &wait_ms, NULL);
    if (st != TDM_OK && json_array_size(evs) != 0)
        abort();
    if (st == TDM_OK && (wait_ms < 0 || wait_ms > 600000))
        abort();
    size_t i;
    json_t *ev;
    json_array_foreach (evs, i, ev) {
        char *t = json_dumps(ev, JSON_COMPACT);
        tdm_sig_input_event e;
        if (!t || tdm_sig_input_parse((const uint8_t *)t, strlen(t), &e, NULL) != TDM_OK)
            abort();
        free(t);
    }
    json_decref(evs);
    free(line);
    return 0;
}
