/* signal_audit_chain_test: the audit log in a real SQLite file. Entries
 * chain per session and survive closing and reopening the store; verify
 * passes on an intact log and, after one row is changed with the sqlite3
 * API behind the store's back, names the first bad entry: an edited field,
 * a deleted middle entry, two entries swapped, the last entries dropped. The
 * append-only triggers stop accidental updates; a database of a newer
 * schema, or a file that is no database, is refused with the path named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "tdm_sig_store.h"

typedef struct fixture {
    char dir[256];
    char db[300];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/signal_audit_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!f || !mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof f->db, "%s/signal.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
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

static void append(tdm_sig_store *s, const char *chain, int64_t ts, const char *kind)
{
    tdm_error e = {{0}};
    int64_t seq = 0;
    assert_int_equal(tdm_sig_store_begin(s, &e), TDM_OK);
    if (tdm_sig_store_audit_append(s, chain, ts, "p_actor", kind, "p_subject", "{\"n\":1}", &seq,
                                   &e) != TDM_OK)
        fail_msg("append: %s", e.msg);
    assert_int_equal(tdm_sig_store_commit(s, &e), TDM_OK);
}

/* Two chains: s_a with 5 entries, s_b with 3. */
static void fill(const char *db)
{
    tdm_sig_store *s = NULL;
    tdm_error e = {{0}};
    if (tdm_sig_store_open(db, &s, &e) != TDM_OK)
        fail_msg("open: %s", e.msg);
    for (int i = 1; i <= 5; i++) {
        append(s, "s_a", 1000 * i, "k");
        if (i <= 3)
            append(s, "s_b", 1000 * i + 1, "k");
    }
    tdm_sig_store_close(s);
}

static tdm_sig_audit_report verify(const char *db, const char *chain)
{
    tdm_sig_store *s = NULL;
    tdm_error e = {{0}};
    if (tdm_sig_store_open(db, &s, &e) != TDM_OK)
        fail_msg("open: %s", e.msg);
    tdm_sig_audit_report r;
    if (tdm_sig_store_audit_verify(s, chain, &r, &e) != TDM_OK)
        fail_msg("verify: %s", e.msg);
    tdm_sig_store_close(s);
    return r;
}

/* Runs SQL on the file directly, as someone with the file would. */
static void tamper(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(h,
                          "DROP TRIGGER IF EXISTS audit_log_no_update;"
                          "DROP TRIGGER IF EXISTS audit_log_no_delete;",
                          NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("tamper '%s': %s", sql, msg ? msg : "?");
    assert_true(sqlite3_changes(h) > 0 || strstr(sql, "DELETE") || strstr(sql, "UPDATE"));
    sqlite3_close(h);
}

static void intact_log_survives_reopen_and_verifies(void **state)
{
    fixture *f = *state;
    fill(f->db);
    tdm_sig_audit_report r = verify(f->db, NULL);
    assert_true(r.intact);
    assert_int_equal(r.chains, 2);
    assert_int_equal(r.entries, 8);
    r = verify(f->db, "s_b");
    assert_true(r.intact);
    assert_int_equal(r.entries, 3);
    /* Appending after a reopen continues the chain. */
    tdm_sig_store *s = NULL;
    assert_int_equal(tdm_sig_store_open(f->db, &s, NULL), TDM_OK);
    append(s, "s_a", 9000, "later");
    tdm_sig_store_close(s);
    r = verify(f->db, NULL);
    assert_true(r.intact);
    assert_int_equal(r.entries, 9);
    /* An unknown session is an error, not "intact". */
    assert_int_equal(tdm_sig_store_open(f->db, &s, NULL), TDM_OK);
    tdm_error e = {{0}};
    assert_int_equal(tdm_sig_store_audit_verify(s, "s_nope", &r, &e), TDM_ERR_INVALID);
    tdm_sig_store_close(s);
}

static void triggers_stop_accidental_edits(void **state)
{
    fixture *f = *state;
    fill(f->db);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(h, "UPDATE audit_log SET kind = 'x'", NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(h, "DELETE FROM audit_log", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    assert_true(verify(f->db, NULL).intact);
}

static void edited_entry_is_named(void **state)
{
    fixture *f = *state;
    fill(f->db);
    tamper(f->db, "UPDATE audit_log SET detail = '{\"n\":2}' WHERE chain = 's_a' AND seq = 3");
    tdm_sig_audit_report r = verify(f->db, NULL);
    assert_false(r.intact);
    assert_string_equal(r.bad_chain, "s_a");
    assert_int_equal(r.bad_seq, 3);
    assert_non_null(strstr(r.problem, "chain s_a entry 3"));
    assert_non_null(strstr(r.problem, "edited"));
    /* The other session's chain is still intact on its own. */
    assert_true(verify(f->db, "s_b").intact);
}

static void edited_timestamp_or_actor_is_named(void **state)
{
    fixture *f = *state;
    fill(f->db);
    tamper(f->db, "UPDATE audit_log SET ts_ms = ts_ms + 1 WHERE chain = 's_b' AND seq = 2");
    tdm_sig_audit_report r = verify(f->db, "s_b");
    assert_false(r.intact);
    assert_int_equal(r.bad_seq, 2);
}

static void deleted_entry_is_named(void **state)
{
    fixture *f = *state;
    fill(f->db);
    tamper(f->db, "DELETE FROM audit_log WHERE chain = 's_a' AND seq = 2");
    tdm_sig_audit_report r = verify(f->db, NULL);
    assert_false(r.intact);
    assert_int_equal(r.bad_seq, 2);
    assert_non_null(strstr(r.problem, "deleted"));
}

static void deleted_and_renumbered_entries_are_caught(void **state)
{
    fixture *f = *state;
    fill(f->db);
    /* Delete entry 2 and shift 3..5 down to hide the gap. */
    tamper(f->db, "DELETE FROM audit_log WHERE chain = 's_a' AND seq = 2;"
                  "UPDATE audit_log SET seq = seq - 1 WHERE chain = 's_a' AND seq > 2;"
                  "UPDATE audit_heads SET seq = seq - 1 WHERE chain = 's_a'");
    tdm_sig_audit_report r = verify(f->db, NULL);
    assert_false(r.intact);
    assert_int_equal(r.bad_seq, 2);
}

static void swapped_entries_are_caught(void **state)
{
    fixture *f = *state;
    fill(f->db);
    tamper(f->db, "UPDATE audit_log SET seq = -1 WHERE chain = 's_a' AND seq = 3;"
                  "UPDATE audit_log SET seq = 3 WHERE chain = 's_a' AND seq = 4;"
                  "UPDATE audit_log SET seq = 4 WHERE chain = 's_a' AND seq = -1");
    tdm_sig_audit_report r = verify(f->db, NULL);
    assert_false(r.intact);
    assert_int_equal(r.bad_seq, 3);
    assert_non_null(strstr(r.problem, "does not follow"));
}

static void dropped_tail_is_caught(void **state)
{
    fixture *f = *state;
    fill(f->db);
    tamper(f->db, "DELETE FROM audit_log WHERE chain = 's_a' AND seq >= 4");
    tdm_sig_audit_report r = verify(f->db, NULL);
    assert_false(r.intact);
    assert_int_equal(r.bad_seq, 4);
}

static void newer_schema_is_refused(void **state)
{
    fixture *f = *state;
    fill(f->db);
    tamper(f->db, "INSERT INTO schema_version VALUES (99)");
    tdm_sig_store *s = NULL;
    tdm_error e = {{0}};
    assert_int_equal(tdm_sig_store_open(f->db, &s, &e), TDM_ERR_UNSUPPORTED);
    assert_null(s);
    assert_non_null(strstr(e.msg, "schema version 99"));
    /* A file that is not a database at all. */
    FILE *junk = fopen(f->db, "wb");
    assert_non_null(junk);
    fputs("this is not sqlite, just text long enough to have a header page", junk);
    fclose(junk);
    char path[400];
    snprintf(path, sizeof path, "%s-wal", f->db);
    unlink(path);
    assert_int_equal(tdm_sig_store_open(f->db, &s, &e), TDM_ERR_IO);
    assert_non_null(strstr(e.msg, f->db));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(intact_log_survives_reopen_and_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(triggers_stop_accidental_edits, setup, teardown),
        cmocka_unit_test_setup_teardown(edited_entry_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(edited_timestamp_or_actor_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(deleted_entry_is_named, setup, teardown),
        cmocka_unit_test_setup_teardown(deleted_and_renumbered_entries_are_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(swapped_entries_are_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(dropped_tail_is_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(newer_schema_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
