/* dtls_test_pair.h: two DTLS endpoints wired together in memory, for the
 * DTLS and SRTP unit tests. A client and a server, each with its own
 * identity and the other's fingerprint; datagrams are moved between them by
 * plain function calls, optionally through a filter that drops some.
 * Header-only (static functions) so each test stays one .c file. */
#ifndef DTLS_TEST_PAIR_H
#define DTLS_TEST_PAIR_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_dtls.h"

typedef struct test_pair {
    tdm_dtls_identity *client_id, *server_id;
    tdm_dtls_endpoint *client, *server;
    size_t max_datagram; /* largest datagram either side sent */
} test_pair;

typedef struct test_pair_options {
    tdm_srtp_profile client_only, server_only;
    unsigned initial_timeout_ms; /* 0: the default */
    bool client_wrong_fp;        /* client expects a fingerprint the server lacks */
    bool server_wrong_fp;
} test_pair_options;

static void test_pair_make(test_pair *p, const test_pair_options *o)
{
    memset(p, 0, sizeof *p);
    tdm_error err = {{0}};
    if (tdm_dtls_identity_new(NULL, &p->client_id, &err) != TDM_OK ||
        tdm_dtls_identity_new(NULL, &p->server_id, &err) != TDM_OK)
        fail_msg("identity: %s", err.msg);

    uint8_t fp[TDM_DTLS_FINGERPRINT_LEN];
    tdm_dtls_config cfg;
    memcpy(fp, tdm_dtls_identity_fingerprint(p->server_id), sizeof fp);
    if (o && o->client_wrong_fp)
        fp[7] ^= 0x40;
    tdm_dtls_config_init(&cfg, p->client_id, TDM_DTLS_CLIENT, fp);
    cfg.only_profile = o ? o->client_only : TDM_SRTP_PROFILE_NONE;
    if (o && o->initial_timeout_ms)
        cfg.initial_timeout_ms = o->initial_timeout_ms;
    if (tdm_dtls_new(&cfg, &p->client, &err) != TDM_OK)
        fail_msg("client: %s", err.msg);

    memcpy(fp, tdm_dtls_identity_fingerprint(p->client_id), sizeof fp);
    if (o && o->server_wrong_fp)
        fp[31] ^= 0x01;
    tdm_dtls_config_init(&cfg, p->server_id, TDM_DTLS_SERVER, fp);
    cfg.only_profile = o ? o->server_only : TDM_SRTP_PROFILE_NONE;
    if (o && o->initial_timeout_ms)
        cfg.initial_timeout_ms = o->initial_timeout_ms;
    if (tdm_dtls_new(&cfg, &p->server, &err) != TDM_OK)
        fail_msg("server: %s", err.msg);
}

static void test_pair_free(test_pair *p)
{
    tdm_dtls_free(p->client);
    tdm_dtls_free(p->server);
    tdm_dtls_identity_free(p->client_id);
    tdm_dtls_identity_free(p->server_id);
    memset(p, 0, sizeof *p);
}

/* Decides whether a datagram from `from` is delivered; NULL delivers all. */
typedef bool (*test_pair_filter)(void *ctx, const tdm_dtls_endpoint *from, const uint8_t *buf,
                                 size_t len);

/* Moves every queued datagram from one side to the other; returns how many
 * were moved (delivered or dropped). */
static size_t test_pair_move(test_pair *p, tdm_dtls_endpoint *from, tdm_dtls_endpoint *to,
                             test_pair_filter filter, void *ctx)
{
    uint8_t buf[2048];
    size_t len = 0, moved = 0;
    while (tdm_dtls_poll_datagram(from, buf, sizeof buf, &len) == TDM_OK) {
        moved++;
        if (len > p->max_datagram)
            p->max_datagram = len;
        if (filter && !filter(ctx, from, buf, len))
            continue;
        tdm_status st = tdm_dtls_handle_datagram(to, buf, len);
        if (st != TDM_OK && st != TDM_ERR_IO && st != TDM_ERR_UNAVAILABLE)
            fail_msg("handle_datagram: %s", tdm_status_str(st));
    }
    return moved;
}

/* Shuttles datagrams both ways until neither side has anything to send. */
static size_t test_pair_run(test_pair *p, test_pair_filter filter, void *ctx)
{
    size_t total = 0;
    for (int round = 0; round < 64; round++) {
        size_t moved = test_pair_move(p, p->client, p->server, filter, ctx) +
                       test_pair_move(p, p->server, p->client, filter, ctx);
        if (!moved)
            return total;
        total += moved;
    }
    fail_msg("datagrams still flowing after 64 rounds");
    return total;
}

static void test_pair_assert_phase(const tdm_dtls_endpoint *ep, tdm_dtls_phase want)
{
    const char *reason = NULL;
    tdm_dtls_phase got = tdm_dtls_state(ep, &reason);
    if (got != want)
        fail_msg("phase %s (%s), want %s", tdm_dtls_phase_name(got), reason,
                 tdm_dtls_phase_name(want));
}

/* A full handshake; returns both sides' keys. */
static void test_pair_handshake(test_pair *p, const test_pair_options *o, tdm_srtp_keys *client,
                                tdm_srtp_keys *server)
{
    test_pair_make(p, o);
    test_pair_run(p, NULL, NULL);
    test_pair_assert_phase(p->client, TDM_DTLS_CONNECTED);
    test_pair_assert_phase(p->server, TDM_DTLS_CONNECTED);
    assert_int_equal(tdm_dtls_srtp_keys(p->client, client), TDM_OK);
    assert_int_equal(tdm_dtls_srtp_keys(p->server, server), TDM_OK);
}

#endif
