/* signal_link_wire: the sans-IO half of signal_link — parsing the base URL,
 * HTTP/1.1 response heads and chunked bodies, and WebSocket frames
 * (RFC 6455) as a client sees them. Takes bytes, returns what they mean;
 * never touches a socket. Everything here reads bytes from the network and
 * is fuzzed (tests/fuzz/fuzz_signal_link.c). */
#ifndef TDM_SIGNAL_LINK_WIRE_H
#define TDM_SIGNAL_LINK_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

/* ---- base URL ---------------------------------------------------------- */

typedef struct tdm_link_url {
    char host[256];      /* without brackets */
    bool ipv6_literal;   /* host was "[...]" */
    uint16_t port;
    char prefix[256];    /* path prefix without trailing '/', "" for none */
} tdm_link_url;

/* "http://HOST[:PORT][/PREFIX][/]". Refuses other schemes, userinfo,
 * queries, fragments, empty hosts and ports outside 1..65535. */
tdm_status tdm_link_url_parse(const char *url, tdm_link_url *out, tdm_error *err);

/* ---- HTTP response head ------------------------------------------------ */

typedef struct tdm_http_head {
    int status;              /* 100..599 */
    size_t head_len;         /* bytes up to and including the blank line */
    long long content_length;/* -1 when absent */
    bool chunked;            /* Transfer-Encoding: chunked */
    bool upgrade_websocket;  /* Upgrade: websocket */
    bool connection_upgrade; /* Connection: ... upgrade ... */
    char ws_accept[64];      /* Sec-WebSocket-Accept, "" if absent */
    char ws_protocol[64];    /* Sec-WebSocket-Protocol, "" if absent */
} tdm_http_head;

/* TDM_AGAIN while the head is incomplete (limit 16 KiB, then FORMAT);
 * TDM_OK with *out filled; TDM_ERR_FORMAT on a malformed status line or
 * header, conflicting Content-Length, or an unsupported transfer coding. */
tdm_status tdm_http_head_parse(const uint8_t *buf, size_t len, tdm_http_head *out,
                               tdm_error *err);

/* Decodes a chunked body in place: buf[0..len) holds the bytes after the
 * head. TDM_AGAIN while incomplete (buf untouched: call again with more
 * bytes); TDM_OK when the last chunk and trailers
 * are in, with *out_len the body length (now at buf[0..*out_len)); FORMAT on
 * a bad chunk size or missing CRLF. Bodies over max_body fail with RANGE. */
tdm_status tdm_http_dechunk(uint8_t *buf, size_t len, size_t max_body, size_t *out_len,
                            tdm_error *err);

/* ---- WebSocket --------------------------------------------------------- */

enum {
    TDM_WS_OP_CONT = 0x0,
    TDM_WS_OP_TEXT = 0x1,
    TDM_WS_OP_BINARY = 0x2,
    TDM_WS_OP_CLOSE = 0x8,
    TDM_WS_OP_PING = 0x9,
    TDM_WS_OP_PONG = 0xA,
};

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)). */
void tdm_ws_accept_for(const char *key, char out[29]);

typedef struct tdm_ws_frame {
    bool fin;
    uint8_t opcode;
    size_t header_len;
    uint64_t payload_len;
} tdm_ws_frame;

/* One server-to-client frame header at buf. TDM_AGAIN while incomplete
 * (the payload may be too: compare header_len + payload_len with what you
 * have); FORMAT on reserved bits, a masked frame (servers must not mask),
 * an unknown opcode, a fragmented or over-125-byte control frame, or a
 * non-minimal length. RANGE when payload_len exceeds max_payload. */
tdm_status tdm_ws_frame_parse(const uint8_t *buf, size_t len, uint64_t max_payload,
                              tdm_ws_frame *out, tdm_error *err);

/* Writes a client frame header (FIN set, masked with key) into out (at
 * least 14 bytes); returns its length. */
size_t tdm_ws_frame_header(uint8_t *out, uint8_t opcode, uint64_t payload_len,
                           const uint8_t key[4]);

/* XORs data with the masking key, starting at key position offset % 4. */
void tdm_ws_mask(uint8_t *data, size_t len, const uint8_t key[4], size_t offset);

/* Close frame payload: code (1005 when empty) and whether it is valid
 * (RFC 6455 7.4: a lone byte or a reserved code is not). */
bool tdm_ws_close_code(const uint8_t *payload, size_t len, int *code);

#endif
