/* signal_serve_hub_test: the WebSocket message router (signaling/tdm_sig_hub.h)
 * without sockets: the real signaling core on a SQLite file in a temporary
 * directory, connections as numbers, and the hub's sends and closes
 * recorded in order.
 *
 * Asserts: nothing but auth is accepted before auth, and a bad secret gets
 * an error and close 4001; a rep's allowed input reaches the customer's
 * connections (all of them) byte for byte and no one else; a denied event
 * goes back to its sender only, as input_denied with the reason; input with
 * no customer online gets customer_offline; chat reaches everyone; the
 * customer's input and malformed, unknown and oversize messages get an error
 * and the connection stays; after a removal the removed participant's
 * connection gets "removed" and close 4003 while the others get the new
 * state; a connection that goes away is pushed as offline; a socket that
 * never authenticates is closed by tick; the end closes every connection
 * with 1000. (Named signal_serve_* to sit with the service's tests; it is a
 * unit test.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tdm_sig_hub.h"
#include "tdm_signal.h"

#define T0 1700000000000LL
static const uint8_t token_secret[] = "relay-shared-secret-0123456789";

typedef struct out_msg {
    uint64_t conn;
    char *text; /* NULL for a close */
    int code;
} out_msg;

typedef struct fixture {
    char dir[256], db[300];
    tdm_signal *sig;
    tdm_sig_hub *hub;
    out_msg out[512];
    size_t n_out;
    char sid[TDM_SIG_ID_CAP];
    char rep_secret[TDM_SIG_LINK_TOKEN_CAP], cust_secret[TDM_SIG_LINK_TOKEN_CAP],
        viewer_secret[TDM_SIG_LINK_TOKEN_CAP];
    char rep_pid[TDM_SIG_ID_CAP], cust_pid[TDM_SIG_ID_CAP], viewer_pid[TDM_SIG_ID_CAP];
} fixture;

static void rec_send(void *ctx, uint64_t conn, const char *data, size_t len)
{
    fixture *f = ctx;
    assert_true(f->n_out < 512);
    f->out[f->n_out++] = (out_msg){.conn = conn, .text = strndup(data, len)};
}

static void rec_close(void *ctx, uint64_t conn, int code)
{
    fixture *f = ctx;
    assert_true(f->n_out < 512);
    f->out[f->n_out++] = (out_msg){.conn = conn, .code = code};
}

static void clear(fixture *f)
{
    for (size_t i = 0; i < f->n_out; i++)
        free(f->out[i].text);
    f->n_out = 0;
}

/* Index of the first recorded output to conn containing needle (close: NULL
 * needle matches a close), or -1. */
static int find(const fixture *f, uint64_t conn, const char *needle)
{
    for (size_t i = 0; i < f->n_out; i++) {
        const out_msg *m = &f->out[i];
        if (m->conn != conn)
            continue;
        if (!needle ? !m->text : m->text && strstr(m->text, needle))
            return (int)i;
    }
    return -1;
}

static size_t count_to(const fixture *f, uint64_t conn)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_out; i++)
        n += f->out[i].conn == conn;
    return n;
}

static void msg(fixture *f, uint64_t conn, const char *text)
{
    tdm_sig_hub_message(f->hub, conn, (const uint8_t *)text, strlen(text), false, T0 + 1000);
}

static void auth(fixture *f, uint64_t conn, const char *secret)
{
    tdm_error e;
    assert_int_equal(tdm_sig_hub_open(f->hub, conn, T0, &e), TDM_OK);
    char m[200];
    snprintf(m, sizeof m, "{\"type\":\"auth\",\"secret\":\"%s\"}", secret);
    msg(f, conn, m);
    assert_true(find(f, conn, "\"welcome\"") >= 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/signal_hub_test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof f->db, "%s/s.db", f->dir);
    tdm_signal_config c;
    memset(&c, 0, sizeof c);
    c.db_path = f->db;
    c.token_secret = token_secret;
    c.token_secret_len = sizeof token_secret - 1;
    for (int i = 0; i < 32; i++)
        c.master_key[i] = c.digest_key[i] = (uint8_t)i;
    tdm_error e = {{0}};
    assert_int_equal(tdm_signal_new(&c, &f->sig, &e), TDM_OK);
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
    snprintf(f->viewer_secret, sizeof f->viewer_secret, "%s", j.secret);
    snprintf(f->viewer_pid, sizeof f->viewer_pid, "%s", j.participant_id);
    tdm_sig_hub_io io = {.send = rec_send, .close = rec_close, .ctx = f};
    assert_int_equal(tdm_sig_hub_new(f->sig, &io, &f->hub, &e), TDM_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tdm_sig_hub_free(f->hub);
    tdm_signal_free(f->sig);
    clear(f);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void auth_is_required(void **state)
{
    fixture *f = *state;
    tdm_error e;
    assert_int_equal(tdm_sig_hub_open(f->hub, 1, T0, &e), TDM_OK);
    assert_int_equal(tdm_sig_hub_open(f->hub, 1, T0, &e), TDM_ERR_INVALID);
    msg(f, 1, "{\"type\":\"pointer_move\",\"x\":0.5,\"y\":0.5}");
    assert_true(find(f, 1, "not_authenticated") >= 0);
    assert_int_equal(find(f, 1, NULL), -1); /* still open */
    msg(f, 1, "{\"type\":\"auth\",\"secret\":\"forged-secret\"}");
    assert_true(find(f, 1, "bad_credentials") >= 0);
    int c = find(f, 1, NULL);
    assert_true(c >= 0);
    assert_int_equal(f->out[c].code, TDM_SIG_CLOSE_AUTH);
    size_t before = f->n_out;
    msg(f, 1, "{\"type\":\"ping\"}"); /* closing: ignored */
    assert_int_equal(f->n_out, before);
    tdm_sig_hub_closed(f->hub, 1, T0);
    assert_int_equal(tdm_sig_hub_connections(f->hub), 0);
}

static void input_routing(void **state)
{
    fixture *f = *state;
    auth(f, 10, f->rep_secret);
    /* Rep alone: no customer online. */
    clear(f);
    const char *move = "{\"type\":\"pointer_move\",\"x\":0.5,\"y\":0.25}";
    msg(f, 10, move);
    assert_true(find(f, 10, "customer_offline") >= 0);
    auth(f, 20, f->cust_secret);
    auth(f, 21, f->cust_secret); /* a second tab of the customer */
    auth(f, 30, f->viewer_secret);
    assert_true(tdm_sig_hub_online(f->hub, f->cust_pid));
    clear(f);
    msg(f, 10, move);
    assert_int_equal(f->n_out, 2);
    assert_string_equal(f->out[0].text, move);
    assert_int_equal(f->out[0].conn, 20);
    assert_string_equal(f->out[1].text, move);
    assert_int_equal(f->out[1].conn, 21);
    clear(f);
    msg(f, 30, move); /* view_only */
    assert_int_equal(f->n_out, 1);
    assert_int_equal(f->out[0].conn, 30);
    assert_non_null(strstr(f->out[0].text, "\"reason\":\"kind_not_allowed\""));
    clear(f);
    msg(f, 10, "{\"type\":\"key_down\",\"key\":\"Delete\",\"mods\":[\"ctrl\",\"alt\"]}");
    assert_int_equal(f->n_out, 1);
    assert_non_null(strstr(f->out[0].text, "key_chord_blocked"));
    clear(f);
    msg(f, 20, move); /* the customer sends no input */
    assert_int_equal(f->n_out, 1);
    assert_non_null(strstr(f->out[0].text, "not_allowed"));
}

static void chat_and_errors(void **state)
{
    fixture *f = *state;
    auth(f, 10, f->rep_secret);
    auth(f, 20, f->cust_secret);
    auth(f, 30, f->viewer_secret);
    clear(f);
    msg(f, 20, "{\"type\":\"chat\",\"text\":\"hi\"}");
    assert_true(find(f, 10, "\"text\":\"hi\"") >= 0);
    assert_true(find(f, 20, "\"text\":\"hi\"") >= 0);
    assert_true(find(f, 30, "\"text\":\"hi\"") >= 0);
    clear(f);
    msg(f, 10, "{nope");
    msg(f, 10, "{\"type\":\"teleport\"}");
    msg(f, 10, "{\"type\":\"chat\",\"text\":\"\"}");
    msg(f, 20, "[]");
    tdm_sig_hub_message(f->hub, 10, NULL, 0, true, T0);
    assert_int_equal(count_to(f, 10), 4);
    assert_true(find(f, 10, "too_large") >= 0);
    assert_true(find(f, 20, "bad_request") >= 0);
    assert_int_equal(find(f, 10, NULL), -1);
    assert_int_equal(find(f, 20, NULL), -1);
    clear(f);
    msg(f, 10, "{\"type\":\"ping\"}");
    assert_string_equal(f->out[0].text, "{\"type\":\"pong\"}");
}

static void removal_offline_end(void **state)
{
    fixture *f = *state;
    auth(f, 10, f->rep_secret);
    auth(f, 20, f->cust_secret);
    auth(f, 30, f->viewer_secret);
    clear(f);
    tdm_signal_error se;
    assert_int_equal(tdm_signal_remove(f->sig, f->rep_pid, f->viewer_pid, T0 + 2000, &se), TDM_OK);
    tdm_sig_hub_session_changed(f->hub, f->sid, "removed", f->viewer_pid, T0 + 2000);
    int r = find(f, 30, "\"removed\"");
    int c = find(f, 30, NULL);
    assert_true(r >= 0 && c > r);
    assert_int_equal(f->out[c].code, TDM_SIG_CLOSE_REMOVED);
    assert_true(find(f, 10, "\"event\":\"removed\"") >= 0);
    assert_true(find(f, 20, "\"event\":\"removed\"") >= 0);
    assert_false(tdm_sig_hub_online(f->hub, f->viewer_pid));
    tdm_sig_hub_closed(f->hub, 30, T0 + 2000);
    clear(f);
    tdm_sig_hub_closed(f->hub, 20, T0 + 3000);
    assert_true(find(f, 10, "\"event\":\"offline\"") >= 0);
    assert_true(find(f, 10, "\"online\":false") >= 0);
    auth(f, 20, f->cust_secret);
    clear(f);
    assert_int_equal(tdm_signal_end(f->sig, f->rep_pid, T0 + 4000, &se), TDM_OK);
    tdm_sig_hub_session_changed(f->hub, f->sid, "ended", f->rep_pid, T0 + 4000);
    assert_true(find(f, 10, "\"event\":\"ended\"") >= 0);
    assert_true(find(f, 20, "\"event\":\"ended\"") >= 0);
    assert_int_equal(f->out[find(f, 10, NULL)].code, TDM_SIG_CLOSE_NORMAL);
    assert_int_equal(f->out[find(f, 20, NULL)].code, TDM_SIG_CLOSE_NORMAL);
}

static void auth_timeout(void **state)
{
    fixture *f = *state;
    tdm_error e;
    assert_int_equal(tdm_sig_hub_open(f->hub, 5, T0, &e), TDM_OK);
    tdm_sig_hub_tick(f->hub, T0 + TDM_SIG_WS_AUTH_TIMEOUT_MS - 1);
    assert_int_equal(find(f, 5, NULL), -1);
    tdm_sig_hub_tick(f->hub, T0 + TDM_SIG_WS_AUTH_TIMEOUT_MS + 1);
    assert_true(find(f, 5, NULL) >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(auth_is_required, setup, teardown),
        cmocka_unit_test_setup_teardown(input_routing, setup, teardown),
        cmocka_unit_test_setup_teardown(chat_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(removal_offline_end, setup, teardown),
        cmocka_unit_test_setup_teardown(auth_timeout, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
