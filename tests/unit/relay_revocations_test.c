/* relay_revocations_test: the relay's revocation table (relay/tdm_revocations.h)
 * on a fake clock — session and participant entries, which reason wins,
 * expiry exactly at the TTL, re-adding extends, a full table refuses rather
 * than forget a live entry and takes new ones again once entries expire,
 * bad ids — and POST /admin/revoke (relay/tdm_whip.h) signed for real with
 * the cluster-secret HMAC of the heartbeat (tdm_relay_heartbeat.h), as
 * tandem-relay wires it: a signature under another secret or over another
 * body is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_relay_heartbeat.h"
#include "tdm_revocations.h"
#include "tdm_whip.h"

#define T0 1700000000

static void session_and_participant_entries(void **state)
{
    (void)state;
    tdm_revocations *t = NULL;
    assert_int_equal(tdm_revocations_new(8, &t), TDM_OK);
    tdm_error e = {{0}};
    assert_int_equal(tdm_revocations_check(t, "s1", "p1", T0), TDM_REVOKED_NONE);
    assert_int_equal(tdm_revocations_add(t, "s1", "p1", T0, 100, &e), TDM_OK);
    assert_int_equal(tdm_revocations_check(t, "s1", "p1", T0), TDM_REVOKED_PARTICIPANT);
    assert_int_equal(tdm_revocations_check(t, "s1", "p2", T0), TDM_REVOKED_NONE);
    assert_int_equal(tdm_revocations_check(t, "s2", "p1", T0), TDM_REVOKED_NONE);
    assert_int_equal(tdm_revocations_add(t, "s1", NULL, T0 + 10, 100, &e), TDM_OK);
    assert_int_equal(tdm_revocations_check(t, "s1", "p1", T0 + 10), TDM_REVOKED_SESSION);
    assert_int_equal(tdm_revocations_check(t, "s1", "p9", T0 + 10), TDM_REVOKED_SESSION);
    assert_int_equal(tdm_revocations_check(t, "s1", NULL, T0 + 10), TDM_REVOKED_SESSION);
    assert_string_equal(tdm_revoked_text(TDM_REVOKED_SESSION), "session ended");
    assert_string_equal(tdm_revoked_text(TDM_REVOKED_PARTICIPANT), "participant removed");
    /* The participant entry ends at T0+100, the session one at T0+110. */
    assert_int_equal(tdm_revocations_live(t, T0 + 99), 2);
    assert_int_equal(tdm_revocations_live(t, T0 + 100), 1);
    assert_int_equal(tdm_revocations_check(t, "s1", "p1", T0 + 109), TDM_REVOKED_SESSION);
    assert_int_equal(tdm_revocations_check(t, "s1", "p1", T0 + 110), TDM_REVOKED_NONE);
    tdm_revocations_free(t);
    tdm_revocations_free(NULL);
}

static void readding_extends_and_full_table_refuses(void **state)
{
    (void)state;
    tdm_revocations *t = NULL;
    assert_int_equal(tdm_revocations_new(3, &t), TDM_OK);
    tdm_error e = {{0}};
    assert_int_equal(tdm_revocations_add(t, "a", NULL, T0, 10, &e), TDM_OK);
    assert_int_equal(tdm_revocations_add(t, "a", NULL, T0 + 5, 10, &e), TDM_OK); /* extends */
    assert_int_equal(tdm_revocations_live(t, T0 + 5), 1);
    assert_int_equal(tdm_revocations_check(t, "a", NULL, T0 + 14), TDM_REVOKED_SESSION);
    assert_int_equal(tdm_revocations_add(t, "b", NULL, T0, 20, &e), TDM_OK);
    assert_int_equal(tdm_revocations_add(t, "b", "x", T0, 20, &e), TDM_OK);
    assert_int_equal(tdm_revocations_add(t, "c", NULL, T0 + 1, 20, &e), TDM_ERR_RANGE);
    /* Nothing live was forgotten to make room. */
    assert_int_equal(tdm_revocations_check(t, "a", NULL, T0 + 1), TDM_REVOKED_SESSION);
    assert_int_equal(tdm_revocations_check(t, "b", "x", T0 + 1), TDM_REVOKED_SESSION);
    /* Once "a" expires its slot is reused. */
    assert_int_equal(tdm_revocations_add(t, "c", NULL, T0 + 15, 20, &e), TDM_OK);
    assert_int_equal(tdm_revocations_check(t, "c", "y", T0 + 15), TDM_REVOKED_SESSION);
    assert_int_equal(tdm_revocations_check(t, "a", NULL, T0 + 15), TDM_REVOKED_NONE);
    /* Bad input. */
    assert_int_equal(tdm_revocations_add(t, "", NULL, T0, 10, &e), TDM_ERR_INVALID);
    assert_int_equal(tdm_revocations_add(t, "has space", NULL, T0, 10, &e), TDM_ERR_INVALID);
    assert_int_equal(tdm_revocations_add(t, "s", "", T0, 10, &e), TDM_ERR_INVALID);
    assert_int_equal(tdm_revocations_add(t, NULL, NULL, T0, 10, &e), TDM_ERR_INVALID);
    assert_int_equal(tdm_revocations_add(t, "s", NULL, T0, 0, &e), TDM_ERR_INVALID);
    char long_id[TDM_TOKEN_ID_MAX + 2];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_int_equal(tdm_revocations_add(t, long_id, NULL, T0 + 30, 10, &e), TDM_ERR_INVALID);
    long_id[TDM_TOKEN_ID_MAX] = '\0';
    assert_int_equal(tdm_revocations_add(t, long_id, NULL, T0 + 30, 10, &e), TDM_OK);
    tdm_revocations_free(t);
}

/* --- the route with the real HMAC --- */

static const uint8_t token_secret[] = "whip-test-secret-0123456789abcdef";
static const uint8_t cluster[] = "cluster-secret-0123456789abcdef-xyz";

static tdm_status hb_verify(void *ctx, const char *authorization, const uint8_t *body,
                            size_t body_len, int64_t *ts_ms, tdm_error *err)
{
    (void)ctx;
    return tdm_hb_verify(cluster, sizeof cluster - 1, authorization, body, body_len, ts_ms, err);
}

static tdm_status nop_create(void *c, const tdm_whip_endpoint *ep, const tdm_sdp_session *o,
                             char *a, size_t cap, size_t *alen, tdm_error *err)
{
    (void)c, (void)ep, (void)o, (void)a, (void)cap, (void)alen;
    return tdm_fail(err, TDM_ERR_UNAVAILABLE, "no media");
}
static bool nop_lookup(void *c, const char *rid, tdm_whip_endpoint *out)
{
    (void)c, (void)rid, (void)out;
    return false;
}
static tdm_status nop_delete(void *c, const char *rid)
{
    (void)c, (void)rid;
    return TDM_EOF;
}

static int status_of(tdm_whip *w, const char *auth, const char *body, int64_t now_s)
{
    static char buf[TDM_WHIP_BODY_CAP];
    tdm_whip_response r = {.body = buf, .body_cap = sizeof buf};
    tdm_whip_request q = {.method = TDM_WHIP_POST,
                          .path = "/admin/revoke",
                          .authorization = auth,
                          .content_type = "application/json",
                          .body = (const uint8_t *)body,
                          .body_len = strlen(body)};
    assert_int_equal(tdm_whip_handle(w, &q, now_s, &r), TDM_OK);
    return r.status;
}

static void route_with_cluster_hmac(void **state)
{
    (void)state;
    tdm_whip_backend be = {.create_endpoint = nop_create,
                           .lookup_endpoint = nop_lookup,
                           .delete_endpoint = nop_delete};
    tdm_whip_config cfg = {.secret = token_secret,
                           .secret_len = sizeof token_secret - 1,
                           .node_id = "n1",
                           .admin_verify = hb_verify};
    tdm_whip *w = NULL;
    tdm_error e = {{0}};
    assert_int_equal(tdm_whip_new(&cfg, &be, &w, &e), TDM_OK);
    const char *body = "{\"session\":\"s1\"}";
    char auth[TDM_HB_AUTH_CAP];
    int64_t ts = (int64_t)T0 * 1000 + 5;
    /* Under another secret. */
    static const uint8_t other[] = "another-cluster-secret-0123456789ab";
    assert_int_equal(tdm_hb_sign(other, sizeof other - 1, ts, (const uint8_t *)body,
                                 strlen(body), auth, &e),
                     TDM_OK);
    assert_int_equal(status_of(w, auth, body, T0), 401);
    /* Over another body (a participant-only revoke made a session one). */
    const char *pbody = "{\"session\":\"s1\",\"participant\":\"p1\"}";
    assert_int_equal(tdm_hb_sign(cluster, sizeof cluster - 1, ts, (const uint8_t *)pbody,
                                 strlen(pbody), auth, &e),
                     TDM_OK);
    assert_int_equal(status_of(w, auth, body, T0), 401);
    assert_int_equal(status_of(w, auth, pbody, T0), 200);
    assert_int_equal(status_of(w, auth, pbody, T0), 401); /* replayed */
    assert_int_equal(tdm_hb_sign(cluster, sizeof cluster - 1, ts + 1, (const uint8_t *)body,
                                 strlen(body), auth, &e),
                     TDM_OK);
    assert_int_equal(status_of(w, auth, body, T0), 200);
    tdm_whip_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(session_and_participant_entries),
        cmocka_unit_test(readding_extends_and_full_table_refuses),
        cmocka_unit_test(route_with_cluster_hmac),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
