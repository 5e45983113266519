/* signal_session_rights_test: the signaling core (signaling/tdm_signal.h)
 * with a real SQLite file, by plain calls with a fake clock.
 *
 * A rep opens a session and the customer joins with the spoken code (once);
 * Rep Invite: an invite works once, and a reused, expired, revoked or forged
 * one is refused (and the refusals of real invites are audited); a rep
 * without invite rights, or outside the allowed profiles, cannot invite; an
 * invitee cannot invite, end, transfer, own or remove; the owner transfers,
 * removes and changes profiles (effective for the next event); invitees go
 * when the last rep leaves; input from view_only and a blocked chord are
 * denied and audited, the rate limit holds; ending revokes codes, invites,
 * tokens; relay tokens verify with the relay's own checker; close and reopen:
 * sessions and the audit log are there and verify passes; one row edited
 * with the sqlite3 API makes verify fail naming it; a wrong password is
 * refused; malformed input gets an error and the participant stays. */
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
#include <sqlite3.h>

#include "tdm_signal.h"
#include "tdm_token.h"

#define T0 1700000000000LL /* ms */
static const uint8_t token_secret[] = "relay-shared-secret-0123456789";
static const uint8_t turn_secret[] = "coturn-static-secret";

typedef struct fixture {
    char dir[256];
    char db[300];
    tdm_signal *sig;
} fixture;

static tdm_signal_config config(const char *db)
{
    tdm_signal_config c;
    memset(&c, 0, sizeof c);
    c.db_path = db;
    c.token_secret = token_secret;
    c.token_secret_len = sizeof token_secret - 1;
    c.turn_secret = turn_secret;
    c.turn_secret_len = sizeof turn_secret - 1;
    for (int i = 0; i < 32; i++) {
        c.master_key[i] = (uint8_t)(i * 7);
        c.digest_key[i] = (uint8_t)(i * 11 + 3);
    }
    c.invite_ttl_max_s = 4 * 3600;
    return c;
}

static void open_sig(fixture *f)
{
    tdm_signal_config c = config(f->db);
    tdm_error e = {{0}};
    if (tdm_signal_new(&c, &f->sig, &e) != TDM_OK)
        fail_msg("signal_new: %s", e.msg);
}

static const tdm_sig_scrypt_params cheap = {10, 8, 1};

static void add_user(fixture *f, const char *name, tdm_sig_role role, bool may_invite,
                     const char *profiles)
{
    tdm_signal_new_user u = {.name = name,
                             .role = role,
                             .may_invite = may_invite,
                             .invite_profiles = profiles,
                             .password = "pw-of-a-rep",
                             .password_len = 11,
                             .scrypt = &cheap};
    tdm_signal_error e;
    if (tdm_signal_user_add(tdm_signal_store(f->sig), &u, T0, &e) != TDM_OK)
        fail_msg("user_add %s: %s", name, e.detail.msg);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/signal_rights_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof f->db, "%s/signal.db", f->dir);
    open_sig(f);
    add_user(f, "alice", TDM_SIG_ROLE_REP, true, "view_only,pointer,control");
    add_user(f, "bob", TDM_SIG_ROLE_REP, false, "");
    add_user(f, "carol", TDM_SIG_ROLE_ADMIN, true, "view_only");
    add_user(f, "dave", TDM_SIG_ROLE_AUDITOR, false, "");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tdm_signal_free(f->sig);
    char path[400];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", f->db, suffix[i]);
        unlink(path);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Asserts a refusal with the given reason. */
#define REFUSED(call, reason)                                                                      \
    do {                                                                                           \
        tdm_signal_error e_;                                                                       \
        memset(&e_, 0, sizeof e_);                                                                 \
        tdm_signal_error *err = &e_;                                                               \
        tdm_status st_ = (call);                                                                   \
        if (st_ != TDM_ERR_INVALID || e_.why != (reason))                                          \
            fail_msg("%s: got status %d why %s (%s), wanted %s", #call, st_,                       \
                     tdm_sig_refusal_name(e_.why), e_.detail.msg, tdm_sig_refusal_name(reason));   \
    } while (0)

#define OK(call)                                                                                   \
    do {                                                                                           \
        tdm_signal_error e_;                                                                       \
        memset(&e_, 0, sizeof e_);                                                                 \
        tdm_signal_error *err = &e_;                                                               \
        tdm_status st_ = (call);                                                                   \
        if (st_ != TDM_OK)                                                                         \
            fail_msg("%s: status %d why %s: %s", #call, st_, tdm_sig_refusal_name(e_.why),         \
                     e_.detail.msg);                                                               \
    } while (0)

/* Counts audit entries of kind in a session's chain. */
typedef struct counter {
    const char *kind;
    int n;
    char last_detail[512];
} counter;

static void count_kind(void *ctx, const tdm_sig_audit_entry *e)
{
    counter *c = ctx;
    if (strcmp(e->kind, c->kind) == 0) {
        c->n++;
        snprintf(c->last_detail, sizeof c->last_detail, "%s", e->detail);
    }
}

static counter audited(fixture *f, const char *session, const char *kind)
{
    counter c = {kind, 0, ""};
    assert_int_equal(
        tdm_sig_store_audit_list(tdm_signal_store(f->sig), session, 0, 0, count_kind, &c, NULL),
        TDM_OK);
    return c;
}

/* alice opens, the customer joins: the usual start. */
static void start(fixture *f, tdm_signal_opened *o, tdm_signal_joined *cust)
{
    OK(tdm_signal_session_open(f->sig, "alice", T0, o, err));
    OK(tdm_signal_customer_join(f->sig, o->join_code, "Customer", T0 + 1000, cust, err));
}

static void customer_joins_once_with_the_spoken_code(void **state)
{
    fixture *f = *state;
    tdm_signal_opened o;
    OK(tdm_signal_session_open(f->sig, "alice", T0, &o, err));
    assert_int_equal(strlen(o.join_code), 11);
    assert_true(o.join_code[3] == '-' && o.join_code[7] == '-');
    assert_int_equal(o.code_expires_s, T0 / 1000 + 600);
    /* Read aloud with spaces: fine. Wrong code: refused. */
    char spoken[16];
    snprintf(spoken, sizeof spoken, "%.3s %.3s %.3s", o.join_code, o.join_code + 4,
             o.join_code + 8);
    char wrong[16];
    snprintf(wrong, sizeof wrong, "%s", o.join_code);
    wrong[10] = wrong[10] == '9' ? '0' : (char)(wrong[10] + 1);
    tdm_signal_joined j, late;
    REFUSED(tdm_signal_customer_join(f->sig, wrong, NULL, T0 + 1000, &late, err),
            TDM_SIG_REFUSE_CODE_INVALID);
    REFUSED(tdm_signal_customer_join(f->sig, "12345", NULL, T0 + 1000, &late, err),
            TDM_SIG_REFUSE_CODE_INVALID);
    OK(tdm_signal_customer_join(f->sig, spoken, "Customer", T0 + 1000, &j, err));
    assert_int_equal(j.kind, TDM_SIG_KIND_CUSTOMER);
    assert_string_equal(j.session_id, o.session_id);
    /* Single use. */
    REFUSED(tdm_signal_customer_join(f->sig, o.join_code, NULL, T0 + 2000, &late, err),
            TDM_SIG_REFUSE_CODE_INVALID);
    /* Expiry: a renewed code is dead after its ten minutes. */
    tdm_signal_opened o2;
    OK(tdm_signal_join_code_renew(f->sig, o.participant_id, T0 + 3000, &o2, err));
    REFUSED(tdm_signal_customer_join(f->sig, o2.join_code, NULL, T0 + 3000 + 600000, &late, err),
            TDM_SIG_REFUSE_CODE_INVALID);
    /* Only the owner renews. */
    REFUSED(tdm_signal_join_code_renew(f->sig, j.participant_id, T0 + 3000, &o2, err),
            TDM_SIG_REFUSE_NOT_A_REP);
    assert_int_equal(audited(f, o.session_id, "participant_joined").n, 2);
    assert_int_equal(audited(f, o.session_id, "session_opened").n, 1);
}

static void auditors_and_strangers_cannot_open(void **state)
{
    fixture *f = *state;
    tdm_signal_opened o;
    REFUSED(tdm_signal_session_open(f->sig, "dave", T0, &o, err), TDM_SIG_REFUSE_NOT_A_REP);
    REFUSED(tdm_signal_session_open(f->sig, "mallory", T0, &o, err), TDM_SIG_REFUSE_NOT_FOUND);
    OK(tdm_signal_session_open(f->sig, "carol", T0, &o, err)); /* admins may */
}

static void login_refuses_wrong_password(void **state)
{
    fixture *f = *state;
    tdm_signal_login_result l, bad;
    OK(tdm_signal_login(f->sig, "alice", "pw-of-a-rep", 11, T0, &l, err));
    assert_string_equal(l.user.name, "alice");
    assert_true(l.user.may_invite);
    assert_string_equal(l.user.password_hash, ""); /* not handed out */
    assert_int_equal(strlen(l.token), 43);
    REFUSED(tdm_signal_login(f->sig, "alice", "pw-of-a-rap", 11, T0, &bad, err),
            TDM_SIG_REFUSE_BAD_CREDENTIALS);
    assert_string_equal(bad.token, "");
    REFUSED(tdm_signal_login(f->sig, "alice", "", 0, T0, &bad, err),
            TDM_SIG_REFUSE_BAD_CREDENTIALS);
    REFUSED(tdm_signal_login(f->sig, "nobody", "pw-of-a-rep", 11, T0, &bad, err),
            TDM_SIG_REFUSE_BAD_CREDENTIALS);
    /* The bearer token names the account until it expires or is revoked. */
    tdm_sig_user u;
    char bearer[80];
    snprintf(bearer, sizeof bearer, "Bearer %s", l.token);
    OK(tdm_signal_authenticate(f->sig, bearer, T0 + 1000, &u, err));
    assert_string_equal(u.name, "alice");
    OK(tdm_signal_authenticate(f->sig, l.token, T0 + 1000, &u, err));
    REFUSED(tdm_signal_authenticate(f->sig, l.token, T0 + 12 * 3600 * 1000LL, &u, err),
            TDM_SIG_REFUSE_BAD_CREDENTIALS);
    REFUSED(
        tdm_signal_authenticate(f->sig, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", T0, &u, err),
        TDM_SIG_REFUSE_BAD_CREDENTIALS);
    REFUSED(tdm_signal_authenticate(f->sig, NULL, T0, &u, err), TDM_SIG_REFUSE_BAD_CREDENTIALS);
    OK(tdm_signal_logout(f->sig, bearer, T0 + 2000, err));
    REFUSED(tdm_signal_authenticate(f->sig, l.token, T0 + 3000, &u, err),
            TDM_SIG_REFUSE_BAD_CREDENTIALS);
    REFUSED(tdm_signal_logout(f->sig, bearer, T0 + 4000, err), TDM_SIG_REFUSE_BAD_CREDENTIALS);
    assert_int_equal(audited(f, TDM_SIG_AUDIT_SYSTEM_CHAIN, "login").n, 1);
    assert_int_equal(audited(f, TDM_SIG_AUDIT_SYSTEM_CHAIN, "logout").n, 1);
    assert_int_equal(audited(f, TDM_SIG_AUDIT_SYSTEM_CHAIN, "user_added").n, 4);
    /* Duplicate and malformed accounts are refused. */
    tdm_signal_new_user dup = {.name = "alice",
                               .role = TDM_SIG_ROLE_REP,
                               .password = "x",
                               .password_len = 1,
                               .scrypt = &cheap};
    REFUSED(tdm_signal_user_add(tdm_signal_store(f->sig), &dup, T0, err),
            TDM_SIG_REFUSE_BAD_REQUEST);
    dup.name = "bad name";
    REFUSED(tdm_signal_user_add(tdm_signal_store(f->sig), &dup, T0, err),
            TDM_SIG_REFUSE_BAD_REQUEST);
    dup.name = "erin";
    dup.may_invite = true; /* with no profiles */
    REFUSED(tdm_signal_user_add(tdm_signal_store(f->sig), &dup, T0, err),
            TDM_SIG_REFUSE_BAD_REQUEST);
}

static void invite_works_once_and_bad_invites_are_refused(void **state)
{
    fixture *f = *state;
    tdm_signal_opened o;
    tdm_signal_joined cust, exp, j;
    start(f, &o, &cust);
    tdm_signal_invite inv;
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "pointer", 0, T0 + 2000, &inv, err));
    assert_int_equal(inv.expires_s, (T0 + 2000) / 1000 + 7200); /* default 2 h */
    assert_true(strlen(inv.token) >= 22);                       /* >= 128 bits */
    OK(tdm_signal_invite_accept(f->sig, inv.token, "Vendor Expert", T0 + 3000, &exp, err));
    assert_int_equal(exp.kind, TDM_SIG_KIND_INVITED);
    assert_string_equal(exp.profile, "pointer");
    assert_string_equal(exp.session_id, o.session_id);
    tdm_sig_participant_row row;
    OK(tdm_signal_participant(f->sig, exp.participant_id, &row, err));
    assert_string_equal(row.invited_by, o.participant_id);
    assert_string_equal(row.display_name, "Vendor Expert");
    /* The expert's socket authenticates with the secret from the accept,
     * not with the participant id (which others see). */
    assert_int_equal(strlen(exp.secret), 43);
    OK(tdm_signal_participant_auth(f->sig, exp.secret, T0 + 3500, &row, err));
    assert_string_equal(row.id, exp.participant_id);
    REFUSED(tdm_signal_participant_auth(f->sig, exp.participant_id, T0 + 3500, &row, err),
            TDM_SIG_REFUSE_BAD_CREDENTIALS);
    REFUSED(tdm_signal_participant_auth(f->sig, "", T0 + 3500, &row, err),
            TDM_SIG_REFUSE_BAD_CREDENTIALS);
    OK(tdm_signal_participant_auth(f->sig, o.secret, T0 + 3500, &row, err));
    assert_string_equal(row.id, o.participant_id);
    OK(tdm_signal_participant_auth(f->sig, cust.secret, T0 + 3500, &row, err));
    assert_int_equal(row.kind, TDM_SIG_KIND_CUSTOMER);

    /* Reused. */
    REFUSED(tdm_signal_invite_accept(f->sig, inv.token, "Someone Else", T0 + 4000, &j, err),
            TDM_SIG_REFUSE_INVITE_USED);
    /* Expired: a one-hour invite an hour later. */
    tdm_signal_invite short_inv;
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "view_only", 3600, T0 + 5000, &short_inv,
                                err));
    REFUSED(
        tdm_signal_invite_accept(f->sig, short_inv.token, "Late", T0 + 5000 + 3600 * 1000, &j, err),
        TDM_SIG_REFUSE_INVITE_EXPIRED);
    /* Revoked. */
    tdm_signal_invite rv;
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "view_only", 0, T0 + 6000, &rv, err));
    OK(tdm_signal_invite_revoke(f->sig, o.participant_id, rv.invite_id, T0 + 7000, err));
    REFUSED(tdm_signal_invite_accept(f->sig, rv.token, "Revoked", T0 + 8000, &j, err),
            TDM_SIG_REFUSE_INVITE_REVOKED);
    /* Forged: a well-formed token nobody issued, and one changed by a char. */
    REFUSED(tdm_signal_invite_accept(f->sig, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                     "Forger", T0 + 8000, &j, err),
            TDM_SIG_REFUSE_INVITE_UNKNOWN);
    char forged[TDM_SIG_LINK_TOKEN_CAP];
    snprintf(forged, sizeof forged, "%s", inv.token);
    forged[5] = forged[5] == 'A' ? 'B' : 'A';
    REFUSED(tdm_signal_invite_accept(f->sig, forged, "Forger", T0 + 8000, &j, err),
            TDM_SIG_REFUSE_INVITE_UNKNOWN);
    REFUSED(tdm_signal_invite_accept(f->sig, "", "Forger", T0 + 8000, &j, err),
            TDM_SIG_REFUSE_INVITE_UNKNOWN);
    /* Expiry is capped by configuration (4 h here). */
    tdm_signal_invite capped;
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "view_only", 30 * 24 * 3600, T0, &capped,
                                err));
    assert_int_equal(capped.expires_s, T0 / 1000 + 4 * 3600);

    assert_int_equal(audited(f, o.session_id, "invite_created").n, 4);
    assert_int_equal(audited(f, o.session_id, "invite_used").n, 1);
    assert_int_equal(audited(f, o.session_id, "invite_revoked").n, 1);
    assert_int_equal(audited(f, o.session_id, "invite_expired").n, 1);
    assert_int_equal(audited(f, o.session_id, "invite_refused").n, 2); /* used + revoked */
}

static void rep_without_rights_cannot_invite(void **state)
{
    fixture *f = *state;
    tdm_signal_opened o;
    tdm_signal_joined cust, bob;
    start(f, &o, &cust);
    OK(tdm_signal_rep_join(f->sig, o.session_id, "bob", T0 + 2000, &bob, err));
    tdm_signal_invite inv;
    REFUSED(
        tdm_signal_invite_create(f->sig, bob.participant_id, "view_only", 0, T0 + 3000, &inv, err),
        TDM_SIG_REFUSE_INVITE_NOT_ALLOWED);
    /* alice may invite, but not with "full". */
    REFUSED(tdm_signal_invite_create(f->sig, o.participant_id, "full", 0, T0 + 3000, &inv, err),
            TDM_SIG_REFUSE_PROFILE_NOT_ALLOWED);
    REFUSED(tdm_signal_invite_create(f->sig, o.participant_id, "nonesuch", 0, T0 + 3000, &inv, err),
            TDM_SIG_REFUSE_UNKNOWN_PROFILE);
    /* The customer cannot invite either. */
    REFUSED(
        tdm_signal_invite_create(f->sig, cust.participant_id, "view_only", 0, T0 + 3000, &inv, err),
        TDM_SIG_REFUSE_NOT_A_REP);
    assert_int_equal(audited(f, o.session_id, "invite_created").n, 0);
}

static void invitee_cannot_invite_end_transfer_or_own(void **state)
{
    fixture *f = *state;
    tdm_signal_opened o;
    tdm_signal_joined cust, exp, bob;
    start(f, &o, &cust);
    tdm_signal_invite inv;
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "control", 0, T0 + 2000, &inv, err));
    OK(tdm_signal_invite_accept(f->sig, inv.token, "Expert", T0 + 3000, &exp, err));
    OK(tdm_signal_rep_join(f->sig, o.session_id, "bob", T0 + 3500, &bob, err));
    tdm_signal_invite inv2;
    REFUSED(
        tdm_signal_invite_create(f->sig, exp.participant_id, "view_only", 0, T0 + 4000, &inv2, err),
        TDM_SIG_REFUSE_NOT_A_REP);
    REFUSED(tdm_signal_end(f->sig, exp.participant_id, T0 + 4000, err), TDM_SIG_REFUSE_NOT_A_REP);
    REFUSED(tdm_signal_transfer(f->sig, exp.participant_id, bob.participant_id, T0 + 4000, err),
            TDM_SIG_REFUSE_NOT_A_REP);
    REFUSED(tdm_signal_remove(f->sig, exp.participant_id, cust.participant_id, T0 + 4000, err),
            TDM_SIG_REFUSE_NOT_A_REP);
    REFUSED(tdm_signal_set_profile(f->sig, exp.participant_id, exp.participant_id, "control",
                                   T0 + 4000, err),
            TDM_SIG_REFUSE_NOT_A_REP);
    REFUSED(tdm_signal_invite_revoke(f->sig, exp.participant_id, inv.invite_id, T0 + 4000, err),
            TDM_SIG_REFUSE_NOT_OWNER);
    /* The owner cannot hand the session to an invitee or the customer. */
    REFUSED(tdm_signal_transfer(f->sig, o.participant_id, exp.participant_id, T0 + 4000, err),
            TDM_SIG_REFUSE_NOT_A_REP);
    REFUSED(tdm_signal_transfer(f->sig, o.participant_id, cust.participant_id, T0 + 4000, err),
            TDM_SIG_REFUSE_NOT_A_REP);
    /* A rep who is not the owner cannot end or remove. */
    REFUSED(tdm_signal_end(f->sig, bob.participant_id, T0 + 4000, err), TDM_SIG_REFUSE_NOT_OWNER);
    REFUSED(tdm_signal_remove(f->sig, bob.participant_id, exp.participant_id, T0 + 4000, err),
            TDM_SIG_REFUSE_NOT_OWNER);
    /* Still in the session after all that. */
    tdm_sig_participant_row row;
    OK(tdm_signal_participant(f->sig, exp.participant_id, &row, err));
}

static void owner_transfers_removes_and_ends(void **state)
{
    fixture *f = *state;
    tdm_signal_opened o;
    tdm_signal_joined cust, bob, exp, j;
    start(f, &o, &cust);
    OK(tdm_signal_rep_join(f->sig, o.session_id, "bob", T0 + 2000, &bob, err));
    OK(tdm_signal_transfer(f->sig, o.participant_id, bob.participant_id, T0 + 3000, err));
    /* alice no longer owns it; bob does. */
    REFUSED(tdm_signal_end(f->sig, o.participant_id, T0 + 3500, err), TDM_SIG_REFUSE_NOT_OWNER);
    char *json = NULL;
    OK(tdm_signal_session_json(f->sig, o.session_id, &json, err));
    json_t *doc = json_loads(json, 0, NULL);
    free(json);
    assert_string_equal(json_string_value(json_object_get(doc, "owner")), bob.participant_id);
    assert_int_equal(json_array_size(json_object_get(doc, "participants")), 3);
    json_decref(doc);
    /* alice invites (she may, though not owner); bob removes the expert. */
    tdm_signal_invite inv, pending;
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "view_only", 0, T0 + 4000, &inv, err));
    OK(tdm_signal_invite_accept(f->sig, inv.token, "Expert", T0 + 4500, &exp, err));
    OK(tdm_signal_remove(f->sig, bob.participant_id, exp.participant_id, T0 + 5000, err));
    tdm_sig_participant_row row;
    REFUSED(tdm_signal_participant(f->sig, exp.participant_id, &row, err),
            TDM_SIG_REFUSE_NOT_PRESENT);
    REFUSED(tdm_signal_participant_auth(f->sig, exp.secret, T0 + 5000, &row, err),
            TDM_SIG_REFUSE_NOT_PRESENT);
    char tok[TDM_TOKEN_MAX_LEN];
    REFUSED(tdm_signal_relay_token(f->sig, exp.participant_id, "relay-1", T0 + 5000, tok,
                                   sizeof tok, err),
            TDM_SIG_REFUSE_NOT_PRESENT);
    /* End: everything revoked. */
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "view_only", 0, T0 + 5500, &pending,
                                err));
    OK(tdm_signal_end(f->sig, bob.participant_id, T0 + 6000, err));
    REFUSED(tdm_signal_invite_accept(f->sig, pending.token, "Late", T0 + 7000, &j, err),
            TDM_SIG_REFUSE_SESSION_ENDED);
    REFUSED(tdm_signal_relay_token(f->sig, cust.participant_id, "relay-1", T0 + 7000, tok,
                                   sizeof tok, err),
            TDM_SIG_REFUSE_SESSION_ENDED);
    char user[TDM_SIG_TURN_USER_CAP], pass[TDM_SIG_TURN_PASS_CAP];
    REFUSED(tdm_signal_turn_credentials(f->sig, bob.participant_id, T0 + 7000, user, pass, err),
            TDM_SIG_REFUSE_SESSION_ENDED);
    REFUSED(tdm_signal_rep_join(f->sig, o.session_id, "alice", T0 + 7000, &j, err),
            TDM_SIG_REFUSE_SESSION_ENDED);
    counter ended = audited(f, o.session_id, "session_ended");
    assert_int_equal(ended.n, 1);
    assert_non_null(strstr(ended.last_detail, "\"invites_revoked\":1"));
    assert_int_equal(audited(f, o.session_id, "ownership_transferred").n, 1);
    assert_int_equal(audited(f, o.session_id, "participant_removed").n, 1);
    /* Auditors read the session's trail as JSON, from any point on. */
    char *trail = NULL;
    tdm_error te = {{0}};
    assert_int_equal(
        tdm_signal_audit_json(tdm_signal_store(f->sig), o.session_id, 0, 0, &trail, &te), TDM_OK);
    json_t *arr = json_loads(trail, 0, NULL);
    free(trail);
    assert_true(json_is_array(arr));
    size_t total = json_array_size(arr);
    json_t *first = json_array_get(arr, 0), *last = json_array_get(arr, total - 1);
    assert_string_equal(json_string_value(json_object_get(first, "kind")), "session_opened");
    /* The refused late invite came after the end. */
    assert_string_equal(json_string_value(json_object_get(last, "kind")), "invite_refused");
    assert_string_equal(json_string_value(json_object_get(json_array_get(arr, total - 2), "kind")),
                        "session_ended");
    assert_int_equal(json_integer_value(json_object_get(last, "seq")), (json_int_t)total);
    assert_int_equal(strlen(json_string_value(json_object_get(last, "hash"))), 64);
    json_decref(arr);
    assert_int_equal(tdm_signal_audit_json(tdm_signal_store(f->sig), o.session_id,
                                           (int64_t)total - 2, 1, &trail, &te),
                     TDM_OK);
    arr = json_loads(trail, 0, NULL);
    free(trail);
    assert_int_equal(json_array_size(arr), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "seq")),
                     (json_int_t)total - 1);
    json_decref(arr);
}

static void invitees_go_when_the_last_rep_leaves(void **state)
{
    fixture *f = *state;
    tdm_signal_opened o;
    tdm_signal_joined cust, bob, exp, j;
    start(f, &o, &cust);
    OK(tdm_signal_rep_join(f->sig, o.session_id, "bob", T0 + 2000, &bob, err));
    tdm_signal_invite inv, pending;
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "view_only", 0, T0 + 3000, &inv, err));
    OK(tdm_signal_invite_accept(f->sig, inv.token, "Expert", T0 + 3500, &exp, err));
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "view_only", 0, T0 + 3600, &pending,
                                err));
    /* alice (owner, inviter) leaves: bob inherits the session, the expert stays. */
    OK(tdm_signal_leave(f->sig, o.participant_id, T0 + 4000, err));
    tdm_sig_participant_row row;
    OK(tdm_signal_participant(f->sig, exp.participant_id, &row, err));
    REFUSED(tdm_signal_end(f->sig, o.participant_id, T0 + 4100, err), TDM_SIG_REFUSE_NOT_PRESENT);
    /* bob leaves too: nobody owns it, so the invitee is removed and the
     * pending invite revoked. */
    OK(tdm_signal_leave(f->sig, bob.participant_id, T0 + 5000, err));
    REFUSED(tdm_signal_participant(f->sig, exp.participant_id, &row, err),
            TDM_SIG_REFUSE_NOT_PRESENT);
    REFUSED(tdm_signal_invite_accept(f->sig, pending.token, "Late", T0 + 6000, &j, err),
            TDM_SIG_REFUSE_INVITE_REVOKED);
    OK(tdm_signal_participant(f->sig, cust.participant_id, &row, err)); /* the customer stays */
    counter removed = audited(f, o.session_id, "participant_removed");
    assert_int_equal(removed.n, 1);
    assert_non_null(strstr(removed.last_detail, "no_rep_owns_the_session"));
    /* A rep coming back owns the ownerless session. */
    OK(tdm_signal_rep_join(f->sig, o.session_id, "alice", T0 + 7000, &j, err));
    OK(tdm_signal_end(f->sig, j.participant_id, T0 + 8000, err));
}

static tdm_status send(fixture *f, const char *pid, const char *msg, int64_t now,
                       tdm_signal_input_result *r, tdm_signal_error *err)
{
    return tdm_signal_input(f->sig, pid, (const uint8_t *)msg, strlen(msg), now, r, err);
}

static void input_is_filtered_by_the_current_profile(void **state)
{
    fixture *f = *state;
    tdm_signal_opened o;
    tdm_signal_joined cust, exp;
    start(f, &o, &cust);
    tdm_signal_invite inv;
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "view_only", 0, T0 + 2000, &inv, err));
    OK(tdm_signal_invite_accept(f->sig, inv.token, "Expert", T0 + 3000, &exp, err));
    tdm_signal_input_result r;
    const char *move = "{\"type\":\"pointer_move\",\"x\":0.1,\"y\":0.2}";
    const char *cad = "{\"type\":\"key_down\",\"key\":\"Delete\",\"mods\":[\"ctrl\",\"alt\"]}";
    /* view_only: denied, and each denial audited. */
    OK(send(f, exp.participant_id, move, T0 + 4000, &r, err));
    assert_int_equal(r.verdict, TDM_SIG_DENY_KIND);
    OK(send(f, exp.participant_id, cad, T0 + 4001, &r, err));
    assert_int_equal(r.verdict, TDM_SIG_DENY_KIND);
    assert_int_equal(audited(f, o.session_id, "input_denied").n, 2);
    /* The owner raises the invitee to control: the next event passes... */
    OK(tdm_signal_set_profile(f->sig, o.participant_id, exp.participant_id, "control", T0 + 4002,
                              err));
    OK(send(f, exp.participant_id, move, T0 + 4003, &r, err));
    assert_int_equal(r.verdict, TDM_SIG_ALLOW);
    /* ...but not Ctrl+Alt+Delete. */
    OK(send(f, exp.participant_id, cad, T0 + 4004, &r, err));
    assert_int_equal(r.verdict, TDM_SIG_DENY_CHORD);
    counter denied = audited(f, o.session_id, "input_denied");
    assert_int_equal(denied.n, 3);
    assert_non_null(strstr(denied.last_detail, "key_chord_blocked"));
    assert_non_null(strstr(denied.last_detail, "Delete"));
    /* Not beyond the owner's invite profiles (alice lacks "full"). */
    REFUSED(tdm_signal_set_profile(f->sig, o.participant_id, exp.participant_id, "full", T0 + 4005,
                                   err),
            TDM_SIG_REFUSE_PROFILE_NOT_ALLOWED);
    REFUSED(tdm_signal_set_profile(f->sig, o.participant_id, exp.participant_id, "bogus", T0 + 4005,
                                   err),
            TDM_SIG_REFUSE_UNKNOWN_PROFILE);
    /* Back to view_only: the very next event is denied. */
    OK(tdm_signal_set_profile(f->sig, o.participant_id, exp.participant_id, "view_only", T0 + 4006,
                              err));
    OK(send(f, exp.participant_id, move, T0 + 4007, &r, err));
    assert_int_equal(r.verdict, TDM_SIG_DENY_KIND);
    assert_int_equal(audited(f, o.session_id, "profile_changed").n, 2);

    /* Rate: control allows a burst of 500 then 250/s. The rep sends 2000
     * moves within one second of fake time. */
    int allowed = 0;
    for (int i = 0; i < 2000; i++) {
        OK(send(f, o.participant_id, move, T0 + 10000 + i / 2, &r, err));
        allowed += r.verdict == TDM_SIG_ALLOW;
    }
    assert_in_range(allowed, 500 + 250 - 2, 500 + 250 + 2);
    /* Allowed input is counted per second: flushing writes the counts. */
    tdm_error fe = {{0}};
    assert_int_equal(tdm_signal_tick(f->sig, T0 + 20000, &fe), TDM_OK);
    counter counted = audited(f, o.session_id, "input_allowed");
    assert_true(counted.n >= 2);

    /* Malformed and oversize input: an error, and the sender stays. */
    tdm_signal_error pe;
    assert_int_equal(send(f, o.participant_id, "{\"type\":", T0 + 30000, &r, &pe), TDM_ERR_FORMAT);
    assert_int_equal(pe.why, TDM_SIG_REFUSE_BAD_REQUEST);
    assert_non_null(strstr(pe.detail.msg, "not JSON"));
    assert_int_equal(send(f, o.participant_id, "{\"type\":\"warp\"}", T0 + 30000, &r, &pe),
                     TDM_ERR_UNSUPPORTED);
    assert_int_equal(pe.why, TDM_SIG_REFUSE_BAD_REQUEST);
    char *big = malloc(TDM_SIG_INPUT_MAX + 10);
    memset(big, '{', TDM_SIG_INPUT_MAX + 9);
    big[TDM_SIG_INPUT_MAX + 9] = '\0';
    assert_int_equal(send(f, o.participant_id, big, T0 + 30000, &r, &pe), TDM_ERR_RANGE);
    assert_int_equal(pe.why, TDM_SIG_REFUSE_BAD_REQUEST);
    free(big);
    OK(send(f, o.participant_id, move, T0 + 40000, &r, err));
    assert_int_equal(r.verdict, TDM_SIG_ALLOW);
    /* The customer's own socket sends no filtered input. */
    REFUSED(send(f, cust.participant_id, move, T0 + 40000, &r, err), TDM_SIG_REFUSE_BAD_REQUEST);
}

static void session_keys_are_bound_to_the_participant(void **state)
{
    fixture *f = *state;
    tdm_signal_opened o;
    tdm_signal_joined cust;
    start(f, &o, &cust);
    char tok[TDM_TOKEN_MAX_LEN];
    int64_t now_s = (T0 + 2000) / 1000;
    OK(tdm_signal_relay_token(f->sig, cust.participant_id, "relay-1", T0 + 2000, tok, sizeof tok,
                              err));
    tdm_token_claims c;
    tdm_token_failure why;
    assert_int_equal(tdm_token_verify(token_secret, sizeof token_secret - 1, tok, now_s,
                                      TDM_TOKEN_ROLE_PUBLISH, "relay-1", o.session_id, &c, &why,
                                      NULL),
                     TDM_OK);
    assert_string_equal(c.sub, cust.participant_id);
    OK(tdm_signal_relay_token(f->sig, o.participant_id, "relay-1", T0 + 2000, tok, sizeof tok,
                              err));
    assert_int_equal(tdm_token_verify(token_secret, sizeof token_secret - 1, tok, now_s,
                                      TDM_TOKEN_ROLE_PUBLISH, "relay-1", o.session_id, &c, &why,
                                      NULL),
                     TDM_ERR_FORMAT);
    assert_int_equal(why, TDM_TOKEN_WRONG_ROLE); /* reps subscribe */
    assert_int_equal(tdm_token_verify(token_secret, sizeof token_secret - 1, tok, now_s + 301,
                                      TDM_TOKEN_ROLE_SUBSCRIBE, "relay-1", o.session_id, &c, &why,
                                      NULL),
                     TDM_ERR_FORMAT);
    assert_int_equal(why, TDM_TOKEN_EXPIRED); /* short-lived */

    char user[TDM_SIG_TURN_USER_CAP], pass[TDM_SIG_TURN_PASS_CAP];
    OK(tdm_signal_turn_credentials(f->sig, o.participant_id, T0 + 2000, user, pass, err));
    char want[TDM_SIG_TURN_USER_CAP];
    snprintf(want, sizeof want, "%lld:%s", (long long)(now_s + 3600), o.participant_id);
    assert_string_equal(user, want);

    uint8_t k1[32], k2[32];
    OK(tdm_signal_recording_key(f->sig, o.session_id, k1, err));
    OK(tdm_signal_recording_key(f->sig, o.session_id, k2, err));
    assert_memory_equal(k1, k2, 32);
    tdm_signal_opened o2;
    OK(tdm_signal_session_open(f->sig, "alice", T0, &o2, err));
    OK(tdm_signal_recording_key(f->sig, o2.session_id, k2, err));
    assert_memory_not_equal(k1, k2, 32); /* one key per session */
}

static void floods_are_counted_and_lapsed_invites_recorded(void **state)
{
    fixture *f = *state;
    tdm_signal_opened o;
    tdm_signal_joined cust, exp, j;
    start(f, &o, &cust);
    tdm_signal_invite inv, lapsing;
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "view_only", 0, T0 + 2000, &inv, err));
    OK(tdm_signal_invite_accept(f->sig, inv.token, "Expert", T0 + 3000, &exp, err));
    /* A view_only participant floods 1000 key presses in one second: the
     * first 50 (the burst) are audited one by one, the rest counted. */
    tdm_signal_input_result r;
    for (int i = 0; i < 1000; i++) {
        OK(send(f, exp.participant_id, "{\"type\":\"key_down\",\"key\":\"x\"}", T0 + 5000, &r,
                err));
        assert_int_equal(r.verdict, TDM_SIG_DENY_KIND);
    }
    tdm_error te = {{0}};
    assert_int_equal(tdm_signal_tick(f->sig, T0 + 6000, &te), TDM_OK);
    assert_int_equal(audited(f, o.session_id, "input_denied").n, 50);
    counter counted = audited(f, o.session_id, "input_denied_counted");
    assert_int_equal(counted.n, 1);
    assert_non_null(strstr(counted.last_detail, "\"count\":950"));

    /* An invite nobody uses is recorded as expired once, by the tick. */
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "view_only", 60, T0 + 7000, &lapsing,
                                err));
    assert_int_equal(tdm_signal_tick(f->sig, T0 + 60000, &te), TDM_OK);
    assert_int_equal(audited(f, o.session_id, "invite_expired").n, 0);
    assert_int_equal(tdm_signal_tick(f->sig, T0 + 67000, &te), TDM_OK);
    assert_int_equal(tdm_signal_tick(f->sig, T0 + 68000, &te), TDM_OK);
    assert_int_equal(audited(f, o.session_id, "invite_expired").n, 1);
    REFUSED(tdm_signal_invite_accept(f->sig, lapsing.token, "Late", T0 + 70000, &j, err),
            TDM_SIG_REFUSE_INVITE_EXPIRED);
    assert_int_equal(audited(f, o.session_id, "invite_expired").n, 1);
    assert_int_equal(audited(f, o.session_id, "invite_refused").n, 1);

    /* Display names must be printable UTF-8. */
    tdm_signal_invite inv2;
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "view_only", 0, T0 + 71000, &inv2, err));
    REFUSED(tdm_signal_invite_accept(f->sig, inv2.token, "bad\xff name", T0 + 72000, &j, err),
            TDM_SIG_REFUSE_BAD_REQUEST);
    REFUSED(tdm_signal_invite_accept(f->sig, inv2.token, "tab\there", T0 + 72000, &j, err),
            TDM_SIG_REFUSE_BAD_REQUEST);
    REFUSED(tdm_signal_invite_accept(f->sig, inv2.token, "", T0 + 72000, &j, err),
            TDM_SIG_REFUSE_BAD_REQUEST);
    OK(tdm_signal_invite_accept(f->sig, inv2.token, "Zo\xc3\xab \xe6\x9d\x8e", T0 + 72000, &j,
                                err));
}

/* Collects entries of a chain to find one to tamper with. */
typedef struct finder {
    const char *kind;
    int64_t seq;
} finder;

static void find_seq(void *ctx, const tdm_sig_audit_entry *e)
{
    finder *fd = ctx;
    if (!fd->seq && strcmp(e->kind, fd->kind) == 0)
        fd->seq = e->seq;
}

static void restart_keeps_state_and_tampering_is_named(void **state)
{
    fixture *f = *state;
    tdm_signal_opened o;
    tdm_signal_joined cust, exp;
    start(f, &o, &cust);
    tdm_signal_invite inv;
    OK(tdm_signal_invite_create(f->sig, o.participant_id, "pointer", 0, T0 + 2000, &inv, err));
    OK(tdm_signal_invite_accept(f->sig, inv.token, "Expert", T0 + 3000, &exp, err));
    tdm_signal_input_result r;
    OK(send(f, exp.participant_id, "{\"type\":\"key_down\",\"key\":\"x\"}", T0 + 4000, &r, err));
    assert_int_equal(r.verdict, TDM_SIG_DENY_KIND);

    /* Restart. */
    tdm_signal_free(f->sig);
    f->sig = NULL;
    open_sig(f);
    tdm_sig_participant_row row;
    OK(tdm_signal_participant(f->sig, exp.participant_id, &row, err));
    assert_string_equal(row.profile, "pointer");
    /* The session goes on where it was: the owner can end it. */
    tdm_sig_audit_report rep;
    tdm_error e = {{0}};
    assert_int_equal(tdm_sig_store_audit_verify(tdm_signal_store(f->sig), NULL, &rep, &e), TDM_OK);
    assert_true(rep.intact);
    assert_true(rep.entries >= 7);
    assert_int_equal(audited(f, o.session_id, "input_denied").n, 1);
    OK(tdm_signal_end(f->sig, o.participant_id, T0 + 5000, err));
    assert_int_equal(tdm_sig_store_audit_verify(tdm_signal_store(f->sig), o.session_id, &rep, &e),
                     TDM_OK);
    assert_true(rep.intact);

    /* Edit one row with the sqlite3 API: the denied input becomes allowed. */
    finder fd = {"input_denied", 0};
    assert_int_equal(
        tdm_sig_store_audit_list(tdm_signal_store(f->sig), o.session_id, 0, 0, find_seq, &fd, NULL),
        TDM_OK);
    assert_true(fd.seq > 0);
    tdm_signal_free(f->sig);
    f->sig = NULL;
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "DROP TRIGGER audit_log_no_update", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(
            h, "UPDATE audit_log SET kind = 'input_allowed' WHERE chain = ?1 AND seq = ?2", -1, &st,
            NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, o.session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, fd.seq);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(h), 1);
    sqlite3_finalize(st);
    sqlite3_close(h);

    open_sig(f);
    assert_int_equal(tdm_sig_store_audit_verify(tdm_signal_store(f->sig), NULL, &rep, &e), TDM_OK);
    assert_false(rep.intact);
    assert_string_equal(rep.bad_chain, o.session_id);
    assert_int_equal(rep.bad_seq, fd.seq);
    char want[128];
    snprintf(want, sizeof want, "chain %s entry %lld", o.session_id, (long long)fd.seq);
    assert_non_null(strstr(rep.problem, want));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(customer_joins_once_with_the_spoken_code),
        T(auditors_and_strangers_cannot_open),
        T(login_refuses_wrong_password),
        T(invite_works_once_and_bad_invites_are_refused),
        T(rep_without_rights_cannot_invite),
        T(invitee_cannot_invite_end_transfer_or_own),
        T(owner_transfers_removes_and_ends),
        T(invitees_go_when_the_last_rep_leaves),
        T(input_is_filtered_by_the_current_profile),
        T(floods_are_counted_and_lapsed_invites_recorded),
        T(session_keys_are_bound_to_the_participant),
        T(restart_keeps_state_and_tampering_is_named),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
