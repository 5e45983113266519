/* Fuzz target: the relay-failover messages from outside — the bodies of
 * POST /api/v1/relays/gone and /relays/{id}/drain (signaling's
 * tdm_sig_failover_parse_*) and the "media moved" WebSocket message the
 * native clients read (clients/media_move.h). The first byte picks the
 * parser; the rest is the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media_move.h"
#include "tdm_sig_failover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0: {
        char id[TDM_HB_ID_MAX + 1];
        if (tdm_sig_failover_parse_gone(body, len, id, NULL) == TDM_OK &&
            (strlen(id) == 0 || strlen(id) > TDM_HB_ID_MAX))
            abort();
        break;
    }
    case 1: {
        int d = 0;
        if (tdm_sig_failover_parse_drain(body, len, &d, NULL) == TDM_OK &&
            (d < 1 || d > 86400))
            abort();
        break;
    }
    default: {
        tdm_media_move mv;
        if (tdm_media_move_parse((const char *)body, len, &mv)) {
            if (!mv.media || !mv.from[0] || !mv.reason[0])
                abort();
            free(mv.media);
        }
        break;
    }
    }
    return 0;
}
