/* signal_revoke_api_test: which relay revocations tandem-signal's API queues
 * (signaling/tdm_sig_api.h, "Revocations"), sans-IO: the real core on a
 * SQLite file in a temporary directory, two static relays, requests through
 * tdm_sig_api_handle and the outbox read with tdm_sig_api_take_revocations.
 *
 * Asserts: nothing is queued before anything changes who is in a session;
 * the owner removing an invitee queues that participant's revocation for
 * the relay its session's tokens were minted for, and only that relay; the
 * last rep leaving queues the rep and the invitee removed with it; ending
 * queues a whole-session revocation for that relay; a session no token was
 * minted for is revoked on every live relay (the api no longer knows where
 * its tokens went, and an extra revocation is harmless). (Named
 * signal_revoke_* to sit with the end-to-end test; it is a unit test.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tdm_sig_api.h"
#include "tdm_sig_hub.h"
#include "tdm_signal.h"

#define T0 1700000000000LL
static const uint8_t token_secret[] = "relay-shared-secret-0123456789-abcdef";

typedef struct fixture {
    char dir[256], db[300];
    tdm_sig_serve_config cfg;
    tdm_signal *sig;
    tdm_sig_hub *hub;
    tdm_sig_api *api;
    char sid[TDM_SIG_ID_CAP];
    char rep_secret[TDM_SIG_LINK_TOKEN_CAP], cust_secret[TDM_SIG_LINK_TOKEN_CAP];
    char rep_pid[TDM_SIG_ID_CAP], cust_pid[TDM_SIG_ID_CAP], inv_pid[TDM_SIG_ID_CAP];
} fixture;

static void nop_send(void *ctx, uint64_t conn, const char *data, size_t len)
{
    (void)ctx, (void)conn, (void)data, (void)len;
}
static void nop_close(void *ctx, uint64_t conn, int code) { (void)ctx, (void)conn, (void)code; }

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/signal_revoke_test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/s.db", f->dir);
    tdm_signal_config *c = &f->cfg.core;
    c->db_path = f->db;
    c->token_secret = token_secret;
    c->token_secret_len = sizeof token_secret - 1;
    for (int i = 0; i < 32; i++)
        c->master_key[i] = c->digest_key[i] = (uint8_t)i;
    f->cfg.relays[0] = (tdm_sig_relay){"r1", "http://127.0.0.1:18001"};
    f->cfg.relays[1] = (tdm_sig_relay){"r2", "http://127.0.0.1:18002"};
    f->cfg.n_relays = 2;
    tdm_error e = {{0}};
    assert_int_equal(tdm_signal_new(c, &f->sig, &e), TDM_OK);
    static const tdm_sig_scrypt_params cheap = {10, 8, 1};
    tdm_signal_new_user u = {.name = "alice",
                             .role = TDM_SIG_ROLE_REP,
                             .may_invite = true,
                             .invite_profiles = "view_only",
                             .password = "pw",
                             .password_len = 2,
                             .scrypt = &cheap};
    tdm_signal_error se;
    assert_int_equal(tdm_signal_user_add(tdm_signal_store(f->sig), &u, T0, &se), TDM_OK);
    tdm_signal_opened o;
    assert_int_equal(tdm_signal_session_open(f->sig, "alice", T0, &o, &se), TDM_OK);
    snprintf(f->sid, sizeof f->sid, "%s", o.session_id);
    snprintf(f->rep_secret, sizeof f->rep_secret, "%s", o.secret);
    snprintf(f->rep_pid, sizeof f->rep_pid, "%s", o.participant_id);
    tdm_signal_joined j;
    assert_int_equal(tdm_signal_customer_join(f->sig, o.join_code, "Carol", T0, &j, &se), TDM_OK);
    snprintf(f->cust_secret, sizeof f->cust_secret, "%s", j.secret);
    snprintf(f->cust_pid, sizeof f->cust_pid, "%s", j.participant_id);
    tdm_signal_invite inv;
    assert_int_equal(tdm_signal_invite_create(f->sig, o.participant_id, "view_only", 0, T0, &inv,
                                              &se),
                     TDM_OK);
    assert_int_equal(tdm_signal_invite_accept(f->sig, inv.token, "Dana", T0, &j, &se), TDM_OK);
    snprintf(f->inv_pid, sizeof f->inv_pid, "%s", j.participant_id);
    tdm_sig_hub_io io = {.send = nop_send, .close = nop_close, .ctx = f};
    assert_int_equal(tdm_sig_hub_new(f->sig, &io, &f->hub, &e), TDM_OK);
    assert_int_equal(tdm_sig_api_new(f->sig, f->hub, &f->cfg, &f->api, &e), TDM_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tdm_sig_api_free(f->api);
    tdm_sig_hub_free(f->hub);
    tdm_signal_free(f->sig);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int call(fixture *f, const char *method, const char *path, const char *secret,
                char *body_out, size_t cap)
{
    tdm_sig_api_request req = {.method = method,
                               .path = path,
                               .secret = secret,
                               .body = (const uint8_t *)"{}",
                               .body_len = 2};
    tdm_sig_api_response resp;
    memset(&resp, 0, sizeof resp);
    assert_int_equal(tdm_sig_api_handle(f->api, &req, T0 + 1000, &resp), TDM_OK);
    if (body_out)
        snprintf(body_out, cap, "%s", resp.body ? resp.body : "");
    free(resp.body);
    return resp.status;
}

/* The relay the customer's media was placed on (its id, from the URL). */
static const char *place_customer(fixture *f)
{
    char path[200], body[4096];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/media", f->sid);
    assert_int_equal(call(f, "POST", path, f->cust_secret, body, sizeof body), 200);
    return strstr(body, "127.0.0.1:18001") ? "r1" : "r2";
}

static tdm_sig_revocation outv[16];

static size_t take(fixture *f)
{
    uint64_t dropped = 1;
    size_t n = tdm_sig_api_take_revocations(f->api, outv, 16, &dropped);
    assert_int_equal(dropped, 0);
    return n;
}

static void remove_queues_participant_on_its_relay(void **state)
{
    fixture *f = *state;
    const char *relay = place_customer(f);
    assert_int_equal(take(f), 0);
    char path[200];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/participants/%s", f->sid, f->inv_pid);
    assert_int_equal(call(f, "DELETE", path, f->rep_secret, NULL, 0), 200);
    assert_int_equal(take(f), 1);
    assert_string_equal(outv[0].relay_id, relay);
    assert_string_equal(outv[0].session, f->sid);
    assert_string_equal(outv[0].participant, f->inv_pid);
    assert_string_equal(outv[0].url, strcmp(relay, "r1") == 0 ? "http://127.0.0.1:18001"
                                                              : "http://127.0.0.1:18002");
    assert_int_equal(take(f), 0); /* taken once */
}

static void last_rep_leaving_revokes_rep_and_invitee(void **state)
{
    fixture *f = *state;
    const char *relay = place_customer(f);
    char path[200];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/leave", f->sid);
    assert_int_equal(call(f, "POST", path, f->rep_secret, NULL, 0), 200);
    size_t n = take(f);
    assert_int_equal(n, 2);
    bool rep = false, inv = false;
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(outv[i].relay_id, relay);
        rep = rep || strcmp(outv[i].participant, f->rep_pid) == 0;
        inv = inv || strcmp(outv[i].participant, f->inv_pid) == 0;
    }
    assert_true(rep && inv);
}

static void end_queues_session_on_its_relay(void **state)
{
    fixture *f = *state;
    const char *relay = place_customer(f);
    char path[200];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/end", f->sid);
    assert_int_equal(call(f, "POST", path, f->rep_secret, NULL, 0), 200);
    assert_int_equal(take(f), 1);
    assert_string_equal(outv[0].relay_id, relay);
    assert_string_equal(outv[0].session, f->sid);
    assert_string_equal(outv[0].participant, "");
}

static void unknown_placement_revokes_everywhere(void **state)
{
    fixture *f = *state; /* no media asked for: no token minted */
    char path[200];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/end", f->sid);
    assert_int_equal(call(f, "POST", path, f->rep_secret, NULL, 0), 200);
    assert_int_equal(take(f), 2);
    assert_string_not_equal(outv[0].relay_id, outv[1].relay_id);
    assert_string_equal(outv[0].participant, "");
    assert_string_equal(outv[1].participant, "");
    /* A refused end queues nothing. */
    assert_int_not_equal(call(f, "POST", path, f->rep_secret, NULL, 0), 200);
    assert_int_equal(take(f), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(remove_queues_participant_on_its_relay, setup, teardown),
        cmocka_unit_test_setup_teardown(last_rep_leaving_revokes_rep_and_invitee, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(end_queues_session_on_its_relay, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_placement_revokes_everywhere, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
