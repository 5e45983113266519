/* fuzz_redis_wire: the cluster's parsers of outside bytes (signaling/API.md
 * "Cluster") — the messages other tandem-signal instances publish over
 * Redis (tdm_redis_envelope.h) and the Redis URL (tdm_redis_conn.h) — held
 * to their contracts: an accepted envelope has a known type and valid ids,
 * formats back to JSON that parses to the same fields; an accepted URL has
 * a non-empty host and a port; refusals carry a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_redis_conn.h"
#include "tdm_redis_envelope.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_redis_wire: invariant failed: %s (line %d)\n", #cond,            \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void same(const tdm_redis_envelope *a, const tdm_redis_envelope *b)
{
    CHECK(a->type == b->type);
    CHECK(strcmp(a->inst, b->inst) == 0);
    CHECK(strcmp(a->event, b->event) == 0 && strcmp(a->subject, b->subject) == 0);
    CHECK(strcmp(a->pid, b->pid) == 0 && a->kind == b->kind && a->on == b->on);
    CHECK(a->data_len == b->data_len);
    CHECK(a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tdm_redis_envelope e;
    tdm_error err = {{0}};
    tdm_status st = tdm_redis_envelope_parse((const char *)data, size, &e, &err);
    if (st == TDM_OK) {
        CHECK(e.type >= TDM_ENV_INPUT && e.type <= TDM_ENV_PRESENCE);
        CHECK(tdm_redis_envelope_id_ok(e.inst));
        if (e.type == TDM_ENV_INPUT || e.type == TDM_ENV_CHAT)
            CHECK(e.data && e.data_len >= 1 && e.data_len <= TDM_ENV_DATA_MAX &&
                  e.data[e.data_len] == '\0');
        if (e.type == TDM_ENV_PRESENCE)
            CHECK(tdm_redis_envelope_id_ok(e.pid) && e.kind >= 1 && e.kind <= 3);
        char *text = tdm_redis_envelope_format(&e);
        CHECK(text);
        tdm_redis_envelope back;
        CHECK(tdm_redis_envelope_parse(text, strlen(text), &back, NULL) == TDM_OK);
        same(&e, &back);
        tdm_redis_envelope_clear(&back);
        free(text);
    } else {
        CHECK(st == TDM_ERR_FORMAT || st == TDM_ERR_NOMEM);
        CHECK(err.msg[0]);
    }
    tdm_redis_envelope_clear(&e);

    char *url = malloc(size + 1);
    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    tdm_redis_addr addr;
    memset(&err, 0, sizeof err);
    st = tdm_redis_url_parse(url, &addr, &err);
    if (st == TDM_OK) {
        CHECK(addr.host[0] && strlen(addr.host) <= TDM_REDIS_HOST_MAX);
        CHECK(addr.port > 0 && addr.db >= 0);
    } else {
        CHECK(st == TDM_ERR_FORMAT && err.msg[0]);
    }
    free(url);
    return 0;
}
