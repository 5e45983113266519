/* fuzz_signal_link: the parsers of clients/signal_link_wire.h on bytes a
 * server (or anyone on the path) sends a native client. The first byte picks
 * the parser. Invariants: no crash or overread; a parsed head's length lies
 * within the input; a dechunked body is no longer than its input and under
 * the limit; a parsed frame's header fits the input and its payload the
 * limit; a parsed URL's host is non-empty and its port non-zero. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signal_link_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0] % 4;
    data++;
    size--;
    /* A private copy: parsers must not read past size (ASan sees it). */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    switch (which) {
    case 0: {
        tdm_http_head h;
        if (tdm_http_head_parse(buf, size, &h, NULL) == TDM_OK) {
            if (h.head_len > size || h.status < 100 || h.status > 599)
                abort();
        }
        break;
    }
    case 1: {
        size_t out = 0;
        if (tdm_http_dechunk(buf, size, 4096, &out, NULL) == TDM_OK && (out > size || out > 4096))
            abort();
        break;
    }
    case 2: {
        tdm_ws_frame f;
        size_t off = 0;
        /* Walk the frames one after another, as recv does. */
        while (off < size && tdm_ws_frame_parse(buf + off, size - off, 1 << 20, &f, NULL) == TDM_OK) {
            if (f.header_len > size - off || f.payload_len > (1 << 20))
                abort();
            if (f.payload_len > size - off - f.header_len)
                break;
            if (f.opcode == TDM_WS_OP_CLOSE) {
                int code;
                tdm_ws_close_code(buf + off + f.header_len, (size_t)f.payload_len, &code);
            }
            off += f.header_len + (size_t)f.payload_len;
        }
        break;
    }
    case 3: {
        char *s = malloc(size + 1);
        if (!s)
            break;
        memcpy(s, buf, size);
        s[size] = '\0';
        tdm_link_url u;
        if (tdm_link_url_parse(s, &u, NULL) == TDM_OK && (!u.host[0] || u.port == 0))
            abort();
        free(s);
        break;
    }
    }
    free(buf);
    return 0;
}
