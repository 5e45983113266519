/* signal_redis_store_test: the Redis backend of the signaling store
 * (signaling/tdm_redis_store.h) against a real redis-server started here on
 * a free loopback port, with many writers at once (processes, each with
 * its own connection, as instances have):
 *   - 6 writers append 150 audit entries each to one session chain at the
 *     same time, without the write lock: the chain has 900 entries, seq
 *     1..900 without gap or repeat, and verifies intact; an altered entry
 *     and a dropped last entry are then caught;
 *   - 8 writers try to use one invite at the same time: exactly one
 *     succeeds; likewise one join code;
 *   - the write lock: while one connection holds it, another's begin waits
 *     and gets it once released;
 *   - records read back as written (session, participant by secret,
 *     invite by digest, login expiry, participant list order).
 *
 * usage: signal_redis_store_test */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "tdm_sig_store.h"

#define WRITERS 6
#define PER_WRITER 150
#define RACERS 8

static char dir[256], url[64];
static uint16_t port;
static pid_t redis_pid = -1, main_pid;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static void cleanup(void)
{
    if (getpid() != main_pid)
        return;
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
    }
    if (dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
}

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static tdm_sig_store *open_store(void)
{
    tdm_sig_store *s = NULL;
    tdm_error err = {{0}};
    CHECK(tdm_sig_store_open(url, &s, &err) == TDM_OK, "open %s: %s", url, err.msg);
    return s;
}

static void start_redis(void)
{
    redis_pid = fork();
    CHECK(redis_pid >= 0, "fork");
    if (redis_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char p[16];
        snprintf(p, sizeof p, "%u", port);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--dir", dir,
               "--save", "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
    for (int i = 0;; i++) {
        tdm_sig_store *s = NULL;
        if (tdm_sig_store_open(url, &s, NULL) == TDM_OK) {
            tdm_sig_store_close(s);
            return;
        }
        CHECK(i < 300, "redis-server did not start");
        usleep(20 * 1000);
    }
}

static void digest_of(const char *label, int i, uint8_t d[TDM_SIG_DIGEST_LEN])
{
    memset(d, 0, TDM_SIG_DIGEST_LEN);
    snprintf((char *)d, TDM_SIG_DIGEST_LEN, "%s-%d", label, i);
}

/* Runs fn(i) in n processes at once (released together by a pipe); returns
 * how many exited 0. */
static int race(int n, int (*fn)(int))
{
    int go[2];
    CHECK(pipe(go) == 0, "pipe");
    pid_t kids[16];
    for (int i = 0; i < n; i++) {
        kids[i] = fork();
        CHECK(kids[i] >= 0, "fork");
        if (kids[i] == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) < 0)
                _exit(3);
            _exit(fn(i));
        }
    }
    close(go[0]);
    close(go[1]); /* EOF releases every child at once */
    int ok = 0;
    for (int i = 0; i < n; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) <= 1, "child %d: status %d", i, st);
        ok += WEXITSTATUS(st) == 0;
    }
    return ok;
}

static int append_many(int w)
{
    tdm_sig_store *s = open_store();
    for (int k = 0; k < PER_WRITER; k++) {
        char detail[64];
        snprintf(detail, sizeof detail, "{\"writer\":%d,\"k\":%d}", w, k);
        int64_t seq = 0;
        tdm_error err = {{0}};
        if (tdm_sig_store_audit_append(s, "s_chain", 1000 + k, "p_w", "note", "", detail, &seq,
                                       &err) != TDM_OK) {
            fprintf(stderr, "writer %d: %s\n", w, err.msg);
            return 2;
        }
    }
    tdm_sig_store_close(s);
    return 0;
}

static int use_invite(int i)
{
    tdm_sig_store *s = open_store();
    char by[32];
    snprintf(by, sizeof by, "p_racer%d", i);
    tdm_status st = tdm_sig_store_invite_use(s, "i_race", by, 100, NULL);
    tdm_sig_store_close(s);
    return st == TDM_OK ? 0 : 1;
}

static int use_code(int i)
{
    (void)i;
    tdm_sig_store *s = open_store();
    uint8_t d[TDM_SIG_DIGEST_LEN];
    digest_of("code", 1, d);
    char sid[TDM_SIG_ID_CAP];
    int64_t id = 0;
    bool found = false;
    tdm_status st = tdm_sig_store_code_find_live(s, d, 100, sid, &id, &found, NULL);
    if (st == TDM_OK && found)
        st = tdm_sig_store_code_use(s, id, 100, NULL);
    tdm_sig_store_close(s);
    return st == TDM_OK && found ? 0 : 1;
}

typedef struct seqs {
    int64_t expect;
    bool ordered;
} seqs;

static void count_seq(void *ctx, const tdm_sig_audit_entry *e)
{
    seqs *q = ctx;
    if (e->seq != q->expect)
        q->ordered = false;
    q->expect++;
}

int main(void)
{
    main_pid = getpid();
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/signal_redis_store_test.XXXXXX");
    CHECK(mkdtemp(dir), "mkdtemp");
    atexit(cleanup);
    port = free_port();
    snprintf(url, sizeof url, "redis://127.0.0.1:%u/3", port);
    start_redis();
    tdm_sig_store *s = open_store();
    tdm_error err = {{0}};

    /* --- records --- */
    tdm_sig_session_row sr = {.state = TDM_SIG_STATE_WAITING, .created_s = 10};
    snprintf(sr.id, sizeof sr.id, "s_one");
    memset(sr.wrapped_key, 0xa5, sizeof sr.wrapped_key);
    sr.wrapped_key[3] = 0; /* binary-safe */
    CHECK(tdm_sig_store_session_insert(s, &sr, &err) == TDM_OK, "%s", err.msg);
    CHECK(tdm_sig_store_session_insert(s, &sr, &err) == TDM_ERR_INVALID, "duplicate session");
    tdm_sig_session_row back;
    bool found = false;
    CHECK(tdm_sig_store_session_get(s, "s_one", &back, &found, &err) == TDM_OK && found, "get");
    CHECK(back.state == TDM_SIG_STATE_WAITING && back.created_s == 10 &&
              memcmp(back.wrapped_key, sr.wrapped_key, sizeof sr.wrapped_key) == 0,
          "session read back");
    CHECK(tdm_sig_store_session_set_state(s, "s_one", TDM_SIG_STATE_ENDED, 20, &err) == TDM_OK,
          "end");
    CHECK(tdm_sig_store_session_get(s, "s_one", &back, &found, &err) == TDM_OK && found &&
              back.state == TDM_SIG_STATE_ENDED && back.ended_s == 20,
          "ended");
    CHECK(tdm_sig_store_session_set_owner(s, "s_none", "p_x", &err) == TDM_OK &&
              tdm_sig_store_session_get(s, "s_none", &back, &found, &err) == TDM_OK && !found,
          "updating a missing session creates nothing");
    for (int i = 0; i < 3; i++) {
        tdm_sig_participant_row p = {.kind = TDM_SIG_KIND_REP, .joined_s = 30 - i};
        snprintf(p.id, sizeof p.id, "p_%d", i);
        snprintf(p.session_id, sizeof p.session_id, "s_one");
        snprintf(p.display_name, sizeof p.display_name, "name %d", i);
        snprintf(p.profile, sizeof p.profile, "control");
        digest_of("secret", i, p.secret_digest);
        CHECK(tdm_sig_store_participant_insert(s, &p, &err) == TDM_OK, "%s", err.msg);
    }
    tdm_sig_participant_row rows[4];
    size_t n = 0;
    CHECK(tdm_sig_store_participant_set_left(s, "p_1", 40, &err) == TDM_OK, "left");
    CHECK(tdm_sig_store_participant_list(s, "s_one", true, rows, 4, &n, &err) == TDM_OK && n == 2 &&
              strcmp(rows[0].id, "p_0") == 0 && strcmp(rows[1].id, "p_2") == 0,
          "present participants in join order");
    uint8_t d[TDM_SIG_DIGEST_LEN];
    digest_of("secret", 2, d);
    tdm_sig_participant_row p;
    CHECK(tdm_sig_store_participant_by_secret(s, d, &p, &found, &err) == TDM_OK && found &&
              strcmp(p.id, "p_2") == 0 && strcmp(p.display_name, "name 2") == 0,
          "participant by secret");
    digest_of("login", 0, d);
    CHECK(tdm_sig_store_login_insert(s, d, 7, 100, 4000000000LL, &err) == TDM_OK, "login");
    int64_t uid = 0;
    CHECK(tdm_sig_store_login_find(s, d, 200, &uid, &found, &err) == TDM_OK && found && uid == 7,
          "login found");
    int revoked = 0;
    CHECK(tdm_sig_store_login_revoke(s, d, 300, &revoked, &err) == TDM_OK && revoked == 1 &&
              tdm_sig_store_login_find(s, d, 301, &uid, &found, &err) == TDM_OK && !found,
          "login revoked");

    /* --- one invite, one code, many racers --- */
    tdm_sig_invite_row inv = {.created_s = 50, .expires_s = 4000000000LL};
    snprintf(inv.id, sizeof inv.id, "i_race");
    snprintf(inv.session_id, sizeof inv.session_id, "s_one");
    snprintf(inv.profile, sizeof inv.profile, "view_only");
    snprintf(inv.created_by, sizeof inv.created_by, "p_0");
    digest_of("invite", 0, inv.token_digest);
    CHECK(tdm_sig_store_invite_insert(s, &inv, &err) == TDM_OK, "%s", err.msg);
    int won = race(RACERS, use_invite);
    CHECK(won == 1, "%d of %d racers used the invite", won, RACERS);
    tdm_sig_invite_row ib;
    CHECK(tdm_sig_store_invite_get_by_digest(s, inv.token_digest, &ib, &found, &err) == TDM_OK &&
              found && ib.used_s == 100 && strncmp(ib.used_by, "p_racer", 7) == 0,
          "the invite records its one use");
    digest_of("code", 1, d);
    CHECK(tdm_sig_store_code_insert(s, "s_one", d, 4000000000LL, &err) == TDM_OK, "code");
    won = race(RACERS, use_code);
    CHECK(won == 1, "%d of %d racers used the join code", won, RACERS);
    printf("one-time use: 1 of %d racing invite uses, 1 of %d code uses\n", RACERS, RACERS);

    /* --- the write lock --- */
    tdm_sig_store *other = open_store();
    CHECK(tdm_sig_store_begin(s, &err) == TDM_OK, "begin: %s", err.msg);
    pid_t holder = fork();
    CHECK(holder >= 0, "fork");
    if (holder == 0) {
        /* Waits for the lock held by the parent, then takes it. */
        tdm_sig_store *o = open_store();
        tdm_status st = tdm_sig_store_begin(o, NULL);
        if (st == TDM_OK)
            st = tdm_sig_store_commit(o, NULL);
        tdm_sig_store_close(o);
        _exit(st == TDM_OK ? 0 : 1);
    }
    usleep(300 * 1000);
    int st;
    CHECK(waitpid(holder, &st, WNOHANG) == 0, "begin did not wait for the held lock");
    CHECK(tdm_sig_store_commit(s, &err) == TDM_OK, "commit");
    waitpid(holder, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the waiter got the lock after release");
    tdm_sig_store_close(other);
    printf("write lock: a second begin waits for the first commit\n");

    /* --- one chain, many writers --- */
    int ok = race(WRITERS, append_many);
    CHECK(ok == WRITERS, "%d of %d writers finished", ok, WRITERS);
    seqs q = {1, true};
    CHECK(tdm_sig_store_audit_list(s, "s_chain", 0, 0, count_seq, &q, &err) == TDM_OK, "list");
    CHECK(q.ordered && q.expect == WRITERS * PER_WRITER + 1, "chain has %lld entries, ordered %d",
          (long long)q.expect - 1, q.ordered);
    tdm_sig_audit_report rep;
    CHECK(tdm_sig_store_audit_verify(s, "s_chain", &rep, &err) == TDM_OK, "verify: %s", err.msg);
    CHECK(rep.intact && rep.entries == WRITERS * PER_WRITER, "chain intact: %s", rep.problem);
    printf("audit: %d writers appended %d entries to one chain; it verifies\n", WRITERS,
           WRITERS * PER_WRITER);

    /* Tampering behind the store's back is caught. */
    redisContext *rc = redisConnect("127.0.0.1", port);
    CHECK(rc && !rc->err, "hiredis connect");
    redisReply *r = redisCommand(rc, "SELECT 3");
    freeReplyObject(r);
    r = redisCommand(rc, "RPOP tdm:audit:s_chain:log");
    CHECK(r && r->type == REDIS_REPLY_STRING, "rpop");
    freeReplyObject(r);
    CHECK(tdm_sig_store_audit_verify(s, "s_chain", &rep, &err) == TDM_OK && !rep.intact,
          "a dropped last entry went unnoticed");
    int64_t seq = 0;
    CHECK(tdm_sig_store_audit_append(s, "s_chain", 1, "a", "k", "", "{}", &seq, &err) ==
              TDM_ERR_IO,
          "appended to a chain whose log and head disagree");
    r = redisCommand(rc, "LSET tdm:audit:s_chain:log 5 %s", "{\"seq\":6,\"kind\":\"forged\"}");
    CHECK(r && r->type == REDIS_REPLY_STATUS, "lset");
    freeReplyObject(r);
    CHECK(tdm_sig_store_audit_verify(s, "s_chain", &rep, &err) == TDM_OK && !rep.intact &&
              rep.bad_seq == 6,
          "altered entry: intact %d, bad seq %lld (%s)", rep.intact, (long long)rep.bad_seq,
          rep.problem);
    redisFree(rc);
    printf("audit: a dropped last entry and an altered entry are caught\n");
    tdm_sig_store_close(s);
    tdm_sig_store_close(open_store()); /* reopening changes nothing */
    return 0;
}
