/* hub_control_test: the customer taking control back, in the WebSocket
 * router (signaling/tdm_sig_hub.h) by plain calls on a real signaling core
 * (SQLite file) with a fake clock and a recording IO: only the customer may
 * send {"type":"control"}; a change reaches every socket as
 * control_taken_back / control_returned with "control" in the state, a
 * repeat changes nothing; while the customer holds control the rep's
 * allowed input is denied (customer_has_control), not forwarded and
 * audited; given back, it flows again; the customer's socket going resets
 * control to shared (audited, reason customer_offline); the state is the
 * store's: on other instances (Redis) each announcement re-reads it, a
 * socket arriving later finds it in its welcome, a subscription taking
 * effect catches up with a change not heard, and a take-back left behind
 * by a lost instance is reset when the customer arrives again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "tdm_sig_control.h"
#include "tdm_sig_hub.h"
#include "tdm_signal.h"

#define T0 1700000000000LL
enum { REP = 1, CUSTOMER = 2, MAX_MSGS = 256 };

typedef struct sent {
    uint64_t conn;
    char *text;
} sent;

static sent msgs[MAX_MSGS];
static size_t n_msgs;

static void io_send(void *ctx, uint64_t conn, const char *data, size_t len)
{
    (void)ctx;
    if (n_msgs < MAX_MSGS) {
        msgs[n_msgs].conn = conn;
        msgs[n_msgs].text = strndup(data, len);
        n_msgs++;
    }
}

static void io_close(void *ctx, uint64_t conn, int code)
{
    (void)ctx;
    (void)conn;
    (void)code;
}

static void forget(void)
{
    for (size_t i = 0; i < n_msgs; i++)
        free(msgs[i].text);
    n_msgs = 0;
}

/* Messages to conn containing needle. */
static size_t count_to(uint64_t conn, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < n_msgs; i++)
        n += msgs[i].conn == conn && strstr(msgs[i].text, needle);
    return n;
}

static char dir[256], db[300];
static tdm_signal *sig;
static tdm_sig_hub *hub;
static tdm_signal_opened opened;
static tdm_signal_joined cust;

static void say(uint64_t conn, const char *text, int64_t t)
{
    tdm_sig_hub_message(hub, conn, (const uint8_t *)text, strlen(text), false, t);
}

static int setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/hub_control_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    snprintf(db, sizeof db, "%s/signal.db", dir);
    static const uint8_t secret[] = "relay-shared-secret-0123456789";
    tdm_signal_config c = {.db_path = db, .token_secret = secret, .token_secret_len = sizeof secret - 1};
    tdm_error e = {{0}};
    for (int i = 0; i < 32; i++) {
        c.master_key[i] = (uint8_t)(i * 7);
        c.digest_key[i] = (uint8_t)(i * 11 + 3);
    }
    if (tdm_signal_new(&c, &sig, &e) != TDM_OK) {
        fprintf(stderr, "signal_new: %s\n", e.msg);
        return -1;
    }
    static const tdm_sig_scrypt_params cheap = {10, 8, 1};
    tdm_signal_new_user u = {.name = "alice", .role = TDM_SIG_ROLE_REP, .password = "pw-of-a-rep",
                             .password_len = 11, .scrypt = &cheap};
    tdm_signal_error se;
    if (tdm_signal_user_add(tdm_signal_store(sig), &u, T0, &se) != TDM_OK ||
        tdm_signal_session_open(sig, "alice", T0, &opened, &se) != TDM_OK ||
        tdm_signal_customer_join(sig, opened.join_code, "Bob", T0 + 1, &cust, &se) != TDM_OK) {
        fprintf(stderr, "session: %s\n", se.detail.msg);
        return -1;
    }
    tdm_sig_hub_io io = {.send = io_send, .close = io_close};
    if (tdm_sig_hub_new(sig, &io, &hub, &e) != TDM_OK)
        return -1;
    char auth[256];
    tdm_sig_hub_open(hub, REP, T0 + 2, &e);
    snprintf(auth, sizeof auth, "{\"type\":\"auth\",\"secret\":\"%s\"}", opened.secret);
    say(REP, auth, T0 + 2);
    tdm_sig_hub_open(hub, CUSTOMER, T0 + 3, &e);
    snprintf(auth, sizeof auth, "{\"type\":\"auth\",\"secret\":\"%s\"}", cust.secret);
    say(CUSTOMER, auth, T0 + 3);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    forget();
    tdm_sig_hub_free(hub);
    tdm_signal_free(sig);
    char path[400];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", db, suffix[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

static size_t audit_count(const char *needle)
{
    char *json = NULL;
    tdm_error e = {{0}};
    assert_int_equal(tdm_signal_audit_json(tdm_signal_store(sig), opened.session_id, 0, 0, &json, &e),
                     TDM_OK);
    size_t n = 0;
    for (const char *p = json; (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(json);
    return n;
}

static const char MOVE[] = "{\"type\":\"pointer_move\",\"x\":0.5,\"y\":0.5}";

/* The sum of the session's "input_allowed" counts, after the tick that
 * writes every second before now_ms. */
static json_int_t allowed_counted(int64_t now_ms)
{
    tdm_error e = {{0}};
    assert_int_equal(tdm_signal_tick(sig, now_ms, &e), TDM_OK);
    char *text = NULL;
    assert_int_equal(tdm_signal_audit_json(tdm_signal_store(sig), opened.session_id, 0, 0, &text, &e),
                     TDM_OK);
    json_t *arr = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(arr);
    json_int_t n = 0;
    size_t i;
    json_t *x;
    json_array_foreach (arr, i, x)
        if (strcmp(json_string_value(json_object_get(x, "kind")) ?: "", "input_allowed") == 0)
            n += json_integer_value(json_object_get(json_object_get(x, "detail"), "count"));
    json_decref(arr);
    return n;
}

static void customer_takes_and_gives_back(void **state)
{
    (void)state;
    int64_t t = T0 + 1000;
    forget();
    /* Shared: the rep's move goes to the customer as it came. */
    say(REP, MOVE, t);
    assert_int_equal(count_to(CUSTOMER, MOVE), 1);

    /* Only the customer may take control. */
    say(REP, "{\"type\":\"control\",\"state\":\"customer\"}", t);
    assert_int_equal(count_to(REP, "\"error\":\"not_allowed\""), 1);
    say(CUSTOMER, "{\"type\":\"control\",\"state\":\"mine\"}", t);
    say(CUSTOMER, "{\"type\":\"control\",\"state\":\"customer\",\"x\":1}", t);
    assert_int_equal(count_to(CUSTOMER, "\"error\":\"bad_request\""), 2);
    assert_int_equal(count_to(REP, "control_taken_back"), 0);

    forget();
    say(CUSTOMER, "{\"type\":\"control\",\"state\":\"customer\"}", t + 1);
    assert_int_equal(count_to(REP, "\"event\":\"control_taken_back\""), 1);
    assert_int_equal(count_to(CUSTOMER, "\"event\":\"control_taken_back\""), 1);
    assert_int_equal(count_to(REP, "\"control\":\"customer\""), 1);
    say(CUSTOMER, "{\"type\":\"control\",\"state\":\"customer\"}", t + 2); /* a repeat */
    assert_int_equal(count_to(REP, "control_taken_back"), 1);
    char *state_text = NULL;
    tdm_signal_error se;
    assert_int_equal(tdm_sig_hub_state_json(hub, opened.session_id, &state_text, &se), TDM_OK);
    assert_non_null(strstr(state_text, "\"control\":\"customer\""));
    free(state_text);

    /* The rep's allowed input is refused and audited, not forwarded. */
    forget();
    say(REP, MOVE, t + 3);
    say(REP, "{\"type\":\"key_down\",\"key\":\"a\",\"mods\":[]}", t + 4);
    assert_int_equal(count_to(REP, "\"reason\":\"customer_has_control\""), 2);
    assert_int_equal(count_to(CUSTOMER, "pointer_move"), 0);
    assert_int_equal(count_to(CUSTOMER, "key_down"), 0);
    assert_int_equal(audit_count("\"control_taken_back\""), 1);
    assert_int_equal(audit_count("customer_has_control"), 2);

    /* Given back: input flows again. */
    forget();
    say(CUSTOMER, "{\"type\":\"control\",\"state\":\"shared\"}", t + 5);
    assert_int_equal(count_to(REP, "\"event\":\"control_returned\""), 1);
    assert_int_equal(count_to(REP, "\"control\":\"shared\""), 1);
    say(REP, MOVE, t + 6);
    assert_int_equal(count_to(CUSTOMER, MOVE), 1);
    assert_int_equal(audit_count("\"control_returned\""), 1);

    /* Taken again, then the customer's socket goes: shared once more. */
    say(CUSTOMER, "{\"type\":\"control\",\"state\":\"customer\"}", t + 7);
    forget();
    tdm_sig_hub_closed(hub, CUSTOMER, t + 8);
    assert_int_equal(count_to(REP, "\"event\":\"offline\""), 1);
    assert_int_equal(count_to(REP, "\"control\":\"shared\""), 1);
    say(REP, MOVE, t + 9);
    assert_int_equal(count_to(REP, "customer_offline"), 1);
    assert_int_equal(count_to(REP, "customer_has_control"), 0);
    assert_int_equal(audit_count("\"reason\":\"customer_offline\""), 1);
    /* Counted as allowed: the moves at t, t + 6 and t + 9 (the profile let
     * them through); the two refused by the customer's control only as
     * denied. */
    assert_int_equal(allowed_counted(t + 5000), 3);
}

/* What another instance (same store, as with Redis) would do: change the
 * stored state, then announce it. */
static void elsewhere_sets(bool taken, int64_t t)
{
    bool changed = false;
    tdm_error e = {{0}};
    assert_int_equal(
        tdm_signal_control_set(sig, opened.session_id, cust.participant_id, taken, t, &changed, &e),
        TDM_OK);
    assert_true(changed);
}

/* With several tandem-signal instances (Redis) the customer's instance
 * stores the change and announces it; the others re-read the store. */
static void control_follows_other_instances(void **state)
{
    (void)state;
    int64_t t = T0 + 2000;
    tdm_sig_hub_closed(hub, CUSTOMER, t); /* the customer is elsewhere */
    forget();
    elsewhere_sets(true, t + 1);
    tdm_sig_hub_remote_changed(hub, opened.session_id, "control_taken_back", cust.participant_id, t + 1);
    assert_int_equal(count_to(REP, "\"control\":\"customer\""), 1);
    say(REP, MOVE, t + 2);
    assert_int_equal(count_to(REP, "customer_has_control"), 1);
    assert_int_equal(audit_count("customer_has_control"), 1);

    /* A socket arriving here later finds the state in its welcome. */
    forget();
    enum { REP2 = 3 };
    tdm_error e = {{0}};
    char auth[256];
    tdm_sig_hub_open(hub, REP2, t + 3, &e);
    snprintf(auth, sizeof auth, "{\"type\":\"auth\",\"secret\":\"%s\"}", opened.secret);
    say(REP2, auth, t + 3);
    assert_int_equal(count_to(REP2, "\"type\":\"welcome\""), 1);
    assert_int_equal(count_to(REP2, "\"control\":\"customer\""), 1);

    /* Given back elsewhere and the announcement lost (published before this
     * instance subscribed): the subscription taking effect catches up. */
    forget();
    elsewhere_sets(false, t + 4);
    say(REP, MOVE, t + 5); /* the copy here is stale until then */
    assert_int_equal(count_to(REP, "customer_has_control"), 1);
    tdm_sig_hub_remote_subscribed(hub, opened.session_id, t + 6);
    assert_int_equal(count_to(REP, "\"event\":\"control_returned\""), 1);
    assert_int_equal(count_to(REP2, "\"control\":\"shared\""), 1);
    forget();
    tdm_sig_hub_remote_subscribed(hub, opened.session_id, t + 7); /* nothing new */
    assert_int_equal(n_msgs, 0);

    /* Taken back elsewhere, and that instance died before resetting it:
     * the customer arriving with no socket anywhere finds it shared. */
    elsewhere_sets(true, t + 8);
    tdm_sig_hub_remote_changed(hub, opened.session_id, "control_taken_back", cust.participant_id, t + 8);
    forget();
    tdm_sig_hub_open(hub, CUSTOMER, t + 9, &e);
    snprintf(auth, sizeof auth, "{\"type\":\"auth\",\"secret\":\"%s\"}", cust.secret);
    say(CUSTOMER, auth, t + 9);
    assert_int_equal(count_to(CUSTOMER, "\"control\":\"shared\""), 2); /* welcome, online */
    assert_int_equal(audit_count("\"reason\":\"instance_lost\""), 1);
    forget();
    say(REP, MOVE, t + 10);
    assert_int_equal(count_to(CUSTOMER, MOVE), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(customer_takes_and_gives_back, setup, teardown),
        cmocka_unit_test_setup_teardown(control_follows_other_instances, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
