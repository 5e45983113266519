/* api_recordings.c: the auditor's recordings routes (tdm_sig_recordings.h,
 * API.md "Recordings"). */
#include "tdm_sig_recordings.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "tdm_rec_export.h"
#include "tdm_rec_reader.h"
#include "tdm_replay_audit.h"
#include "tdm_replay_segments.h"
#include "tdm_replay_timeline.h"
#include "tdm_sig_http_range.h"

#define ROUTE "/api/v1/recordings"
#define ID_MAX 200
/* A ticket lets a <video> element fetch one recording's video this long. */
#define TICKET_TTL_S 7200
#define MSG_CAP 300
/* A file modified this recently is taken for one a relay is still writing
 * (it syncs once a second): it is listed, not verified or exported, until
 * it has been quiet this long — else every look at the list would start
 * verifying a growing file again. */
#define LIVE_QUIET_S 5

typedef enum job_state { JOB_NONE, JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED } job_state;

/* One recording file, or one session recorded in several files
 * (segments: its relay died or drained and the session went on on another
 * relay, the relay restarted, the customer published again). Entries live
 * until the module is freed (the worker may hold one); a file that changes
 * (a session whose set of files or any of them changes) gets a new
 * generation, which voids any result computed for the old one. Every
 * field is guarded by mu. */
typedef struct rec_entry {
    bool is_session;     /* a session of 2 or more files; its id is the session id */
    bool grouped;        /* a file: part of a present session entry */
    size_t nsegs;        /* a session: its files */
    uint64_t sig;        /* a session: its files' names, sizes and mtimes, hashed */
    json_t *files;       /* a session: its files' names, in start order */
    char id[ID_MAX + 1]; /* the file name without ".tdmrec": the route's {id} */
    char file[NAME_MAX + 1];
    char path[PATH_MAX];
    char session[TDM_REC_SESSION_ID_MAX + 1];
    uint64_t size;
    int64_t mtime_ns;
    uint64_t start_unix_us;
    uint64_t gen;
    bool present;           /* seen by the last scan */
    bool live;              /* modified within LIVE_QUIET_S: still being written */
    char open_error[MSG_CAP]; /* "": the header parses and the key unwraps */
    /* Verification and timeline (the worker's). */
    job_state an_state;
    json_t *timeline; /* published by the worker, then only read (main thread) */
    char an_error[MSG_CAP];
    /* WebM export (the worker's). */
    job_state ex_state;
    char webm[PATH_MAX];
    char ex_error[MSG_CAP];
} rec_entry;

struct tdm_sig_recordings {
    tdm_signal *sig;
    const tdm_sig_serve_config *cfg;
    char dir[PATH_MAX];   /* "" when not configured */
    char cache[PATH_MAX]; /* where exports go */
    uint8_t ticket_key[32];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t worker;
    bool worker_started, stop;
    rec_entry **e;
    size_t n, cap;
};

bool tdm_sig_recordings_owns(const char *path)
{
    size_t n = strlen(ROUTE);
    return path && strncmp(path, ROUTE, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* --- answers --- */

static void reply(tdm_sig_rec_response *resp, int status, json_t *obj)
{
    resp->status = status;
    resp->content_type = "application/json";
    free(resp->body);
    resp->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    resp->body_len = resp->body ? strlen(resp->body) : 0;
    json_decref(obj);
}

static void fail(tdm_sig_rec_response *resp, int status, const char *code, const char *detail)
{
    reply(resp, status, json_pack("{s:s,s:s}", "error", code, "detail", detail ? detail : ""));
}

/* --- files --- */

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

/* Ids appear in URLs and cache file names: plain characters only. */
static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ID_MAX || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char(s[i]))
            return false;
    return true;
}

typedef struct mapped {
    const uint8_t *buf;
    size_t len;
} mapped;

static tdm_status map_file(const char *path, mapped *m, tdm_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return tdm_fail(err, TDM_ERR_IO, "cannot open the recording: %s",
                        fd >= 0 ? "not a regular file" : strerror(e));
    }
    m->len = (size_t)sb.st_size;
    m->buf = (const uint8_t *)"";
    if (m->len) {
        void *p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return tdm_fail(err, TDM_ERR_IO, "cannot map the recording: %s", strerror(e));
        }
        m->buf = p;
    }
    close(fd);
    return TDM_OK;
}

static void unmap_file(mapped *m)
{
    if (m->len)
        munmap((void *)m->buf, m->len);
}

/* The header (session, start) and whether the master key opens the file,
 * from its first bytes. Errors name what an auditor should know: not a
 * recording, a wrong key, a file cut inside its header. */
static void read_header(tdm_sig_recordings *r, rec_entry *e)
{
    uint8_t buf[TDM_REC_MAX_HEADER];
    e->open_error[0] = '\0';
    e->session[0] = '\0';
    e->start_unix_us = 0;
    int fd = open(e->path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
    if (fd >= 0)
        close(fd);
    if (n < 0) {
        snprintf(e->open_error, sizeof e->open_error, "cannot read the file: %s", strerror(errno));
        return;
    }
    tdm_rec_header h;
    size_t hlen;
    tdm_error err = {{0}};
    tdm_status st = tdm_rec_header_parse(buf, (size_t)n, &h, &hlen, &err);
    if (st == TDM_OK) {
        snprintf(e->session, sizeof e->session, "%s", h.session_id);
        e->start_unix_us = h.start_unix_us;
        tdm_rec_reader *rd = NULL;
        st = tdm_rec_reader_open(buf, hlen, r->cfg->core.master_key, &rd, &err);
        tdm_rec_reader_free(rd);
    }
    if (st != TDM_OK)
        snprintf(e->open_error, sizeof e->open_error, "%s%s",
                 st == TDM_ERR_INVALID ? "wrong key: " : "", err.msg);
}

static bool has_magic(const char *path)
{
    char magic[TDM_REC_MAGIC_LEN];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    bool ok = fd >= 0 && read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
              memcmp(magic, TDM_REC_MAGIC, TDM_REC_MAGIC_LEN) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static rec_entry *find_id(tdm_sig_recordings *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->e[i]->present && !r->e[i]->is_session && strcmp(r->e[i]->id, id) == 0)
            return r->e[i];
    return NULL;
}

/* A new zeroed entry appended to the table; NULL when out of memory. */
static rec_entry *add_entry(tdm_sig_recordings *r)
{
    if (r->n == r->cap) {
        size_t nc = r->cap * 2 + 16;
        rec_entry **ne = realloc(r->e, nc * sizeof *ne);
        if (!ne)
            return NULL;
        r->e = ne;
        r->cap = nc;
    }
    rec_entry *e = calloc(1, sizeof *e);
    if (e)
        r->e[r->n++] = e;
    return e;
}

static rec_entry *find_session_entry(tdm_sig_recordings *r, const char *sid, bool present_only)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->e[i]->is_session && (r->e[i]->present || !present_only) &&
            strcmp(r->e[i]->id, sid) == 0)
            return r->e[i];
    return NULL;
}

/* A session's recording: the latest to start when there are several (the
 * relay writes one file per publication); of two that start together (a
 * copy, a cut copy) the larger. */
static rec_entry *find_session(tdm_sig_recordings *r, const char *sid)
{
    rec_entry *best = NULL;
    for (size_t i = 0; i < r->n; i++) {
        rec_entry *e = r->e[i];
        if (e->present && !e->is_session && !e->open_error[0] && strcmp(e->session, sid) == 0 &&
            (!best || e->start_unix_us > best->start_unix_us ||
             (e->start_unix_us == best->start_unix_us && e->size > best->size)))
            best = e;
    }
    return best;
}

/* Forgets what was computed for an entry's previous file version. */
static void reset_entry(rec_entry *e)
{
    e->gen++;
    json_decref(e->timeline);
    e->timeline = NULL;
    e->an_state = e->ex_state = JOB_NONE;
    e->an_error[0] = e->ex_error[0] = e->webm[0] = '\0';
}

/* Where the export of this file version goes: the version is part of the
 * name, so a cached export is found again after a restart and a changed
 * file is exported anew. */
static void webm_path(tdm_sig_recordings *r, const rec_entry *e, char *out, size_t cap)
{
    /* The cache dir is bounded at configuration (serve_config.c). */
    int n = e->is_session ? snprintf(out, cap, "%s/%s-%zusegs-%016" PRIx64 ".webm", r->cache,
                                     e->id, e->nsegs, e->sig)
                          : snprintf(out, cap, "%s/%s-%" PRIu64 "-%" PRId64 ".webm", r->cache,
                                     e->id, e->size, e->mtime_ns);
    if (n < 0 || n >= (int)cap)
        out[0] = '\0';
}

static int by_session_start(const void *a, const void *b)
{
    const rec_entry *x = *(rec_entry *const *)a, *y = *(rec_entry *const *)b;
    int c = strcmp(x->session, y->session);
    if (c)
        return c;
    if (x->start_unix_us != y->start_unix_us)
        return x->start_unix_us < y->start_unix_us ? -1 : 1;
    return strcmp(x->file, y->file);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ull;
    return h;
}

/* One entry per session that has several files: its id is the session id
 * (the files keep theirs and stay reachable by them). The files' order
 * here is only for the list; the worker orders segments itself from the
 * headers, as tandem-replay does. Called under mu, after a scan. */
static tdm_status group_sessions(tdm_sig_recordings *r, tdm_error *err)
{
    rec_entry **v = r->n ? malloc(r->n * sizeof *v) : NULL;
    if (r->n && !v)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        rec_entry *e = r->e[i];
        if (e->is_session)
            e->present = false;
        else
            e->grouped = false;
        if (!e->is_session && e->present && e->session[0] && id_ok(e->session))
            v[k++] = e;
    }
    if (k)
        qsort(v, k, sizeof *v, by_session_start);
    tdm_status st = TDM_OK;
    for (size_t i = 0; i < k && st == TDM_OK;) {
        size_t j = i + 1;
        while (j < k && strcmp(v[j]->session, v[i]->session) == 0)
            j++;
        if (j - i < 2) {
            i = j;
            continue;
        }
        uint64_t sig = 0xcbf29ce484222325ull, size = 0;
        int64_t mt = 0;
        bool live = false;
        for (size_t m = i; m < j; m++) {
            sig = fnv(sig, v[m]->file, strlen(v[m]->file) + 1);
            sig = fnv(sig, &v[m]->size, sizeof v[m]->size);
            sig = fnv(sig, &v[m]->mtime_ns, sizeof v[m]->mtime_ns);
            size += v[m]->size;
            mt = v[m]->mtime_ns > mt ? v[m]->mtime_ns : mt;
            live = live || v[m]->live;
            v[m]->grouped = true;
        }
        rec_entry *s = find_session_entry(r, v[i]->session, false);
        if (!s) {
            if (!(s = add_entry(r))) {
                st = tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
                break;
            }
            s->is_session = true;
            snprintf(s->id, sizeof s->id, "%s", v[i]->session);
            snprintf(s->session, sizeof s->session, "%s", v[i]->session);
        }
        s->present = true;
        s->live = live;
        if (!s->files || s->sig != sig || s->nsegs != j - i) {
            reset_entry(s);
            json_decref(s->files);
            s->files = json_array();
            for (size_t m = i; m < j; m++)
                json_array_append_new(s->files, json_string(v[m]->file));
            s->sig = sig;
            s->nsegs = j - i;
            s->size = size;
            s->mtime_ns = mt;
            s->start_unix_us = v[i]->start_unix_us;
            char w[PATH_MAX];
            webm_path(r, s, w, sizeof w);
            if (access(w, R_OK) == 0) {
                snprintf(s->webm, sizeof s->webm, "%s", w);
                s->ex_state = JOB_DONE;
            }
        }
        i = j;
    }
    free(v);
    return st;
}

/* Brings the catalogue up to date with the directory. Called under mu. A
 * header is read only for new or changed files. */
static tdm_status scan(tdm_sig_recordings *r, tdm_error *err)
{
    int64_t now_s = (int64_t)time(NULL);
    DIR *d = opendir(r->dir);
    if (!d)
        return tdm_fail(err, TDM_ERR_IO, "cannot open recordings_dir %s: %s", r->dir,
                        strerror(errno));
    for (size_t i = 0; i < r->n; i++)
        r->e[i]->present = false;
    struct dirent *de;
    tdm_status st = TDM_OK;
    while ((de = readdir(d)) != NULL) {
        char id[NAME_MAX + 1];
        snprintf(id, sizeof id, "%s", de->d_name);
        size_t nl = strlen(id);
        if (nl > 7 && strcmp(id + nl - 7, ".tdmrec") == 0)
            id[nl - 7] = '\0';
        if (!id_ok(id))
            continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", r->dir, de->d_name) >= (int)sizeof path)
            continue;
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        int64_t mt = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
        /* A clock step backwards (an mtime in the future) counts as live too. */
        bool live = now_s - (int64_t)sb.st_mtim.tv_sec < LIVE_QUIET_S;
        rec_entry *e = NULL;
        for (size_t i = 0; i < r->n && !e; i++)
            if (strcmp(r->e[i]->file, de->d_name) == 0)
                e = r->e[i];
        if (e && e->size == (uint64_t)sb.st_size && e->mtime_ns == mt) {
            e->present = true;
            e->live = live;
            continue;
        }
        if (!has_magic(path))
            continue; /* not a recording: the directory may hold other files */
        if (!e) {
            if (!(e = add_entry(r))) {
                st = tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
                break;
            }
            snprintf(e->file, sizeof e->file, "%s", de->d_name);
            /* id_ok() bounded it to ID_MAX; the precision tells the compiler */
            snprintf(e->id, sizeof e->id, "%.*s", (int)(sizeof e->id - 1), id);
            snprintf(e->path, sizeof e->path, "%s", path);
        }
        reset_entry(e);
        e->size = (uint64_t)sb.st_size;
        e->mtime_ns = mt;
        e->present = true;
        e->live = live;
        read_header(r, e);
        char w[PATH_MAX];
        webm_path(r, e, w, sizeof w);
        if (access(w, R_OK) == 0) {
            snprintf(e->webm, sizeof e->webm, "%s", w);
            e->ex_state = JOB_DONE;
        }
    }
    closedir(d);
    return st == TDM_OK ? group_sessions(r, err) : st;
}

/* --- the worker --- */

/* What a job needs, copied out from under the lock. */
typedef struct job {
    rec_entry *e;
    uint64_t gen;
    bool export_, session;
    char path[PATH_MAX], session_[TDM_REC_SESSION_ID_MAX + 1], webm[PATH_MAX], file[NAME_MAX + 1];
    const char *sid; /* = session_ */
} job;

/* The timeline without the server's paths (an auditor needs the file's
 * name, not where the service keeps it). */
static json_t *strip_paths(json_t *doc, const char *file)
{
    json_t *rec = json_object_get(doc, "recording");
    if (rec && file)
        json_object_set_new(rec, "file", json_string(file));
    json_object_del(json_object_get(doc, "audit"), "db");
    return doc;
}

/* A session's segments, loaded from the directory (the worker's). */
static bool load_segments(tdm_sig_recordings *r, const job *j, tdm_replay_dir *d, size_t *first,
                          size_t *count, char *msg)
{
    tdm_error err = {{0}};
    if (tdm_replay_dir_load(r->dir, j->sid, r->cfg->core.master_key, d, &err) !=
        TDM_OK) {
        snprintf(msg, MSG_CAP, "%s", err.msg);
        return false;
    }
    if (!tdm_replay_dir_session(d, j->sid, first, count)) {
        tdm_replay_dir_free(d);
        snprintf(msg, MSG_CAP, "the session's recordings are gone");
        return false;
    }
    return true;
}

static void load_audit_or_note(tdm_sig_recordings *r, const char *sid, tdm_replay_audit *a)
{
    tdm_error aerr = {{0}};
    const char *db = r->cfg->core.db_path ? r->cfg->core.db_path : "";
    if (tdm_replay_audit_load(db, sid, a, &aerr) != TDM_OK) {
        /* The recording still plays; the answer says why no events show. */
        memset(a, 0, sizeof *a);
        if (snprintf(a->session_id, sizeof a->session_id, "%s", sid) < 0 ||
            snprintf(a->problem, sizeof a->problem, "%s", aerr.msg) < 0)
            a->problem[0] = '\0';
        a->bad_seq = -1;
    }
}

static void run_session_analysis(tdm_sig_recordings *r, const job *j, json_t **out, char *msg)
{
    tdm_replay_dir d;
    size_t first, count;
    if (!load_segments(r, j, &d, &first, &count, msg))
        return;
    tdm_replay_audit a;
    load_audit_or_note(r, j->sid, &a);
    char *text = NULL;
    bool complete = false;
    tdm_error err = {{0}};
    const char *db = r->cfg->core.db_path ? r->cfg->core.db_path : "";
    if (tdm_replay_timeline_json_session(&d, first, count, db, &a, &text, &complete, &err) !=
        TDM_OK)
        snprintf(msg, MSG_CAP, "%s", err.msg);
    tdm_replay_audit_free(&a);
    tdm_replay_dir_free(&d);
    if (text) {
        json_t *doc = json_loads(text, 0, NULL);
        free(text);
        if (doc)
            *out = strip_paths(doc, NULL);
        else
            snprintf(msg, MSG_CAP, "timeline: out of memory");
    }
}

/* The segments joined into one WebM (recording/export.c). */
static tdm_status export_session(tdm_sig_recordings *r, const job *j, const char *part,
                                 char *msg)
{
    tdm_replay_dir d;
    size_t first, count;
    if (!load_segments(r, j, &d, &first, &count, msg))
        return TDM_ERR_IO;
    tdm_status st = TDM_OK;
    tdm_rec_export_input in[TDM_REC_EXPORT_MAX_SEGMENTS];
    if (count > TDM_REC_EXPORT_MAX_SEGMENTS) {
        snprintf(msg, MSG_CAP, "%zu segments; at most %d join into one video", count,
                 TDM_REC_EXPORT_MAX_SEGMENTS);
        st = TDM_ERR_UNSUPPORTED;
    }
    for (size_t k = 0; k < count && st == TDM_OK; k++) {
        const tdm_rec_segment *g = &d.segs[first + k];
        const tdm_replay_file *f = tdm_replay_seg_file(&d, g);
        if (g->ending != TDM_EOF && g->ending != TDM_ERR_TRUNCATED) {
            snprintf(msg, MSG_CAP, "segment %zu (%.80s) %s: %.150s", k + 1, f->name,
                     g->ending == TDM_ERR_INVALID ? "cannot be opened with the master key"
                                                  : "fails verification",
                     g->ending_msg.msg);
            st = TDM_ERR_FORMAT;
            break;
        }
        in[k] = (tdm_rec_export_input){f->reader, f->len, f->name};
    }
    tdm_rec_export_result *res = st == TDM_OK ? malloc(sizeof *res) : NULL;
    if (st == TDM_OK && !res) {
        snprintf(msg, MSG_CAP, "out of memory");
        st = TDM_ERR_NOMEM;
    }
    if (st == TDM_OK) {
        tdm_error err = {{0}};
        st = tdm_rec_export_webm_segments(in, count, part, NULL, NULL, res, &err);
        if (st == TDM_ERR_FORMAT)
            snprintf(msg, MSG_CAP, "segment %zu (%.80s) fails verification: %.150s",
                     res->fault_segment + 1,
                     tdm_replay_seg_file(&d, &d.segs[first + res->fault_segment])->name, err.msg);
        else if (st != TDM_OK)
            snprintf(msg, MSG_CAP, "%s", err.msg);
    }
    free(res);
    tdm_replay_dir_free(&d);
    return st;
}

static void run_analysis(tdm_sig_recordings *r, const job *j, json_t **out, char *msg)
{
    if (j->session) {
        run_session_analysis(r, j, out, msg);
        return;
    }
    mapped m;
    tdm_error err = {{0}};
    tdm_rec_reader *rd = NULL;
    if (map_file(j->path, &m, &err) != TDM_OK) {
        snprintf(msg, MSG_CAP, "%s", err.msg);
        return;
    }
    if (tdm_rec_reader_open(m.buf, m.len, r->cfg->core.master_key, &rd, &err) != TDM_OK) {
        snprintf(msg, MSG_CAP, "%s", err.msg);
        unmap_file(&m);
        return;
    }
    tdm_replay_audit a;
    tdm_error aerr = {{0}};
    const char *db = r->cfg->core.db_path ? r->cfg->core.db_path : "";
    (void)aerr;
    load_audit_or_note(r, j->sid, &a);
    char *text = NULL;
    bool complete = false;
    if (tdm_replay_timeline_json(j->path, m.len, rd, db, &a, &text, &complete, &err) != TDM_OK)
        snprintf(msg, MSG_CAP, "%s", err.msg);
    tdm_replay_audit_free(&a);
    tdm_rec_reader_free(rd);
    unmap_file(&m);
    if (text) {
        json_t *doc = json_loads(text, 0, NULL);
        free(text);
        if (doc)
            *out = strip_paths(doc, j->file);
        else
            snprintf(msg, MSG_CAP, "timeline: out of memory");
    }
}

static void run_export(tdm_sig_recordings *r, const job *j, char *msg)
{
    mapped m;
    tdm_error err = {{0}};
    tdm_rec_reader *rd = NULL;
    if (mkdir(r->cache, 0700) != 0 && errno != EEXIST) {
        if (snprintf(msg, MSG_CAP, "cannot create the export cache %s: %s", r->cache,
                     strerror(errno)) < 0)
            msg[0] = '?';
        return;
    }
    char part[PATH_MAX + 8];
    snprintf(part, sizeof part, "%s.part", j->webm);
    if (j->session) {
        tdm_status sst = export_session(r, j, part, msg);
        if (sst == TDM_OK && rename(part, j->webm) != 0 &&
            snprintf(msg, MSG_CAP, "cannot rename the export: %s", strerror(errno)) < 0)
            msg[0] = '?';
        if (msg[0])
            unlink(part);
        return;
    }
    if (map_file(j->path, &m, &err) != TDM_OK) {
        snprintf(msg, MSG_CAP, "%s", err.msg);
        return;
    }
    if (tdm_rec_reader_open(m.buf, m.len, r->cfg->core.master_key, &rd, &err) != TDM_OK) {
        snprintf(msg, MSG_CAP, "%s", err.msg);
        unmap_file(&m);
        return;
    }
    /* Written aside and renamed: a half-written export is never served,
     * and never taken for a finished one after a crash. */
    tdm_rec_export_result res;
    tdm_status st = tdm_rec_export_webm(rd, m.len, part, NULL, NULL, &res, &err);
    tdm_rec_reader_free(rd);
    unmap_file(&m);
    if (st == TDM_OK && rename(part, j->webm) != 0)
        st = tdm_fail(&err, TDM_ERR_IO, "cannot rename the export: %s", strerror(errno));
    if (st != TDM_OK) {
        unlink(part);
        snprintf(msg, MSG_CAP, "%s%s", st == TDM_ERR_FORMAT ? "the recording fails verification: " : "",
                 err.msg);
    }
}

/* Takes the next job under mu: verification before exports (the page
 * needs the timeline first), oldest entry first. */
static bool next_job(tdm_sig_recordings *r, job *j)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < r->n; i++) {
            rec_entry *e = r->e[i];
            job_state *s = pass == 0 ? &e->an_state : &e->ex_state;
            if (*s != JOB_QUEUED)
                continue;
            *s = JOB_RUNNING;
            j->e = e;
            j->gen = e->gen;
            j->export_ = pass == 1;
            j->session = e->is_session;
            snprintf(j->path, sizeof j->path, "%s", e->path);
            snprintf(j->session_, sizeof j->session_, "%s", e->session);
            j->sid = j->session_;
            snprintf(j->file, sizeof j->file, "%s", e->file);
            webm_path(r, e, j->webm, sizeof j->webm);
            return true;
        }
    return false;
}

static void *worker_main(void *arg)
{
    tdm_sig_recordings *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        job j;
        if (!next_job(r, &j)) {
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        pthread_mutex_unlock(&r->mu);
        char msg[MSG_CAP] = "";
        json_t *tl = NULL;
        if (j.export_)
            run_export(r, &j, msg);
        else
            run_analysis(r, &j, &tl, msg);
        pthread_mutex_lock(&r->mu);
        rec_entry *e = j.e;
        if (e->gen != j.gen) {
            json_decref(tl); /* the file changed meanwhile: a new job is due */
            continue;
        }
        if (j.export_) {
            e->ex_state = msg[0] ? JOB_FAILED : JOB_DONE;
            snprintf(e->ex_error, sizeof e->ex_error, "%s", msg);
            if (!msg[0])
                snprintf(e->webm, sizeof e->webm, "%s", j.webm);
        } else {
            e->an_state = tl ? JOB_DONE : JOB_FAILED;
            e->timeline = tl;
            snprintf(e->an_error, sizeof e->an_error, "%s", msg[0] ? msg : "no timeline");
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void queue_analysis(tdm_sig_recordings *r, rec_entry *e)
{
    if (e->an_state == JOB_NONE && !e->open_error[0] && !e->live) {
        e->an_state = JOB_QUEUED;
        pthread_cond_signal(&r->cv);
    }
}

static void queue_export(tdm_sig_recordings *r, rec_entry *e)
{
    if (e->ex_state == JOB_NONE && !e->open_error[0] && !e->live) {
        e->ex_state = JOB_QUEUED;
        pthread_cond_signal(&r->cv);
    }
}

/* --- tickets for the <video> element --- */

static void ticket_mac(const tdm_sig_recordings *r, const char *id, long long exp, char hex[33])
{
    char msg[ID_MAX + 32];
    int n = snprintf(msg, sizeof msg, "%s\n%lld", id, exp);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    HMAC(EVP_sha256(), r->ticket_key, sizeof r->ticket_key, (const unsigned char *)msg,
         (size_t)n, mac, &ml);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
}

static void ticket_make(const tdm_sig_recordings *r, const char *id, int64_t now_ms,
                        char out[64])
{
    long long exp = (long long)(now_ms / 1000) + TICKET_TTL_S;
    char hex[33];
    ticket_mac(r, id, exp, hex);
    snprintf(out, 64, "%lld.%s", exp, hex);
}

/* The value of ticket= in the query, checked for this id and unexpired. */
static bool ticket_ok(const tdm_sig_recordings *r, const char *query, const char *id,
                      int64_t now_ms)
{
    const char *p = query;
    while (p && strncmp(p, "ticket=", 7) != 0) {
        p = strchr(p, '&');
        p = p ? p + 1 : NULL;
    }
    if (!p)
        return false;
    p += 7;
    char *end;
    long long exp = strtoll(p, &end, 10);
    if (end == p || *end != '.' || exp < now_ms / 1000)
        return false;
    char want[33];
    ticket_mac(r, id, exp, want);
    const char *got = end + 1;
    size_t gl = strcspn(got, "&");
    return gl == 32 && CRYPTO_memcmp(got, want, 32) == 0;
}

/* --- routes --- */

/* The caller must be an auditor or an admin; false with resp set if not. */
static bool need_auditor(tdm_sig_recordings *r, const tdm_sig_rec_request *req, int64_t now_ms,
                         tdm_sig_rec_response *resp)
{
    if (!req->authorization) {
        fail(resp, 401, "bad_credentials", "Authorization: Bearer <login token> required");
        return false;
    }
    tdm_sig_user u;
    tdm_signal_error err;
    if (tdm_signal_authenticate(r->sig, req->authorization, now_ms, &u, &err) != TDM_OK) {
        if (err.why != TDM_SIG_REFUSE_NONE)
            fail(resp, tdm_sig_refusal_http_status(err.why), tdm_sig_refusal_name(err.why),
                 err.detail.msg);
        else
            fail(resp, 500, "internal", err.detail.msg);
        return false;
    }
    if (u.role != TDM_SIG_ROLE_AUDITOR && u.role != TDM_SIG_ROLE_ADMIN) {
        fail(resp, 403, "forbidden", "recordings are for auditors and admins");
        return false;
    }
    return true;
}

static void utc_text(uint64_t unix_us, char out[40])
{
    time_t s = (time_t)(unix_us / 1000000u);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        snprintf(out, 40, "?");
        return;
    }
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* {"status": verified|truncated|fault|pending|unreadable, "problem"}. The
 * words are tandem-replay verify's: a truncated file verified up to where
 * it ends (a crash, or a recording still being written). */
static json_t *verify_json(const rec_entry *e)
{
    if (e->open_error[0])
        return json_pack("{s:s,s:s}", "status", "unreadable", "problem", e->open_error);
    if (e->an_state == JOB_FAILED)
        return json_pack("{s:s,s:s}", "status", "unreadable", "problem", e->an_error);
    if (e->live && e->an_state == JOB_NONE)
        return json_pack("{s:s,s:s}", "status", "recording", "problem",
                         "still being written: verified once the relay has closed it");
    if (e->an_state != JOB_DONE)
        return json_pack("{s:s,s:n}", "status", "pending", "problem");
    json_t *rec = json_object_get(e->timeline, "recording");
    const char *ends = json_string_value(json_object_get(rec, "ends"));
    const char *problem = json_string_value(json_object_get(rec, "problem"));
    const char *status = !ends                           ? "unreadable"
                         : strcmp(ends, "complete") == 0 ? "verified"
                         : strcmp(ends, "truncated") == 0 ? "truncated"
                                                          : "fault";
    json_t *o = json_pack("{s:s,s:s?,s:O?}", "status", status, "problem", problem, "hash",
                          json_object_get(rec, "hash"));
    if (!o || !e->is_session)
        return o;
    /* Each segment's own result, in start order. */
    json_t *segs = json_array();
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(e->timeline, "segments"), i, g)
    {
        const char *ge = json_string_value(json_object_get(g, "ends"));
        const char *gs = !ge                              ? "unreadable"
                         : strcmp(ge, "complete") == 0    ? "verified"
                         : strcmp(ge, "truncated") == 0   ? "truncated"
                         : strcmp(ge, "wrong key") == 0   ? "unreadable"
                                                          : "fault";
        json_array_append_new(segs, json_pack("{s:O?,s:s,s:O?,s:O?}", "file",
                                              json_object_get(g, "file"), "status", gs, "problem",
                                              json_object_get(g, "problem"), "hash",
                                              json_object_get(g, "hash")));
    }
    json_object_set_new(o, "segments", segs);
    return o;
}

/* The gaps between a session's segments (nothing recorded), from the
 * timeline's seams; [] for one file, null until verified. */
static json_t *gaps_json(const rec_entry *e)
{
    if (!e->is_session)
        return json_array();
    if (e->an_state != JOB_DONE)
        return json_null();
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(e->timeline, "seams"), i, m)
    {
        const char *kind = json_string_value(json_object_get(m, "kind"));
        if (!kind || strcmp(kind, "gap") != 0)
            continue;
        json_array_append_new(
            out, json_pack("{s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "after_segment",
                           json_object_get(m, "after_segment"), "before_segment",
                           json_object_get(m, "before_segment"), "start_unix_s",
                           json_object_get(m, "start_unix_s"), "end_unix_s",
                           json_object_get(m, "end_unix_s"), "start_offset_s",
                           json_object_get(m, "start_offset_s"), "end_offset_s",
                           json_object_get(m, "end_offset_s"), "duration_s",
                           json_object_get(m, "duration_s")));
    }
    return out;
}

/* Who took part, from the session's audit log (what its chain protects). */
static json_t *participants_brief(const rec_entry *e)
{
    json_t *out = json_array();
    json_t *parts = json_object_get(json_object_get(e->timeline, "audit"), "participants");
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p)
    {
        json_array_append_new(out, json_pack("{s:O?,s:O?,s:O?,s:O?}", "id", json_object_get(p, "id"),
                                             "name", json_object_get(p, "name"), "kind",
                                             json_object_get(p, "kind"), "profiles",
                                             json_object_get(p, "profiles")));
    }
    return out;
}

static json_t *summary_json(const rec_entry *e)
{
    char su[40];
    utc_text(e->start_unix_us, su);
    bool header = e->session[0] != '\0'; /* else the header did not parse */
    json_t *o = json_pack("{s:s,s:s?,s:s?,s:I,s:o,s:s?}", "id", e->id, "session",
                          header ? e->session : NULL, "file", e->is_session ? NULL : e->file,
                          "size", (json_int_t)e->size, "start_unix_s",
                          header ? json_real((double)e->start_unix_us / 1e6) : json_null(),
                          "start_utc", header ? su : NULL);
    if (!o)
        return NULL;
    json_object_set_new(o, "segments", json_integer(e->is_session ? (json_int_t)e->nsegs : 1));
    json_object_set_new(o, "files", e->is_session ? json_copy(e->files)
                                                  : json_pack("[s]", e->file));
    json_object_set_new(o, "gaps", gaps_json(e));
    json_t *rec = json_object_get(e->timeline, "recording");
    json_object_set(o, "end_unix_s", rec ? json_object_get(rec, "end_unix_s") : json_null());
    json_object_set(o, "end_utc", rec ? json_object_get(rec, "end_utc") : json_null());
    json_object_set(o, "duration_s", rec ? json_object_get(rec, "duration_s") : json_null());
    json_object_set_new(o, "participants", participants_brief(e));
    json_t *audit = json_object_get(e->timeline, "audit");
    json_object_set(o, "audit_verified", audit ? json_object_get(audit, "verified") : json_null());
    json_object_set_new(o, "verify", verify_json(e));
    json_object_set_new(o, "state", json_string(e->open_error[0] || e->an_state == JOB_FAILED
                                                    ? "error"
                                                : e->an_state == JOB_DONE ? "ready"
                                                : e->live                 ? "live"
                                                                          : "pending"));
    return o;
}

static int by_start_desc(const void *a, const void *b)
{
    const rec_entry *x = *(rec_entry *const *)a, *y = *(rec_entry *const *)b;
    if (x->start_unix_us != y->start_unix_us)
        return x->start_unix_us < y->start_unix_us ? 1 : -1;
    return strcmp(x->id, y->id);
}

static void r_list(tdm_sig_recordings *r, tdm_sig_rec_response *resp)
{
    tdm_error err = {{0}};
    tdm_status st = scan(r, &err);
    if (st != TDM_OK) {
        fail(resp, st == TDM_ERR_NOMEM ? 500 : 503, "recordings_unavailable", err.msg);
        return;
    }
    rec_entry **v = r->n ? malloc(r->n * sizeof *v) : NULL;
    if (r->n && !v) {
        fail(resp, 500, "internal", "out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->e[i]->present && !(r->e[i]->grouped && !r->e[i]->is_session))
            v[k++] = r->e[i];
    if (k)
        qsort(v, k, sizeof *v, by_start_desc);
    json_t *arr = json_array();
    for (size_t i = 0; i < k; i++) {
        queue_analysis(r, v[i]);
        json_array_append_new(arr, summary_json(v[i]));
    }
    free(v);
    reply(resp, 200, json_pack("{s:o}", "recordings", arr));
}

/* The entry for {id}: a session id (all its files: the session entry when
 * it has several, else its one readable recording), or a recording id (one
 * file). Rescans when the id is not known yet. */
static rec_entry *lookup(tdm_sig_recordings *r, const char *id, bool rescan,
                         tdm_sig_rec_response *resp)
{
    if (!id_ok(id)) {
        fail(resp, 404, "not_found", "no such recording");
        return NULL;
    }
    tdm_error err = {{0}};
    if (rescan && scan(r, &err) != TDM_OK) {
        fail(resp, 503, "recordings_unavailable", err.msg);
        return NULL;
    }
    rec_entry *e = find_session_entry(r, id, true);
    if (!e)
        e = find_id(r, id);
    if (!e)
        e = find_session(r, id);
    if (!e && !rescan)
        return lookup(r, id, true, resp);
    if (!e)
        fail(resp, 404, "not_found", "no such recording");
    return e;
}

static void r_detail(tdm_sig_recordings *r, const char *id, int64_t now_ms,
                     tdm_sig_rec_response *resp)
{
    rec_entry *e = lookup(r, id, true, resp);
    if (!e)
        return;
    if (e->open_error[0]) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s?,s:I}", "error", "unreadable_recording", "detail",
                              e->open_error, "id", e->id, "session",
                              e->session[0] ? e->session : NULL, "size", (json_int_t)e->size);
        reply(resp, 422, o);
        return;
    }
    queue_analysis(r, e);
    queue_export(r, e);
    json_t *o = summary_json(e);
    if (!o) {
        fail(resp, 500, "internal", "out of memory");
        return;
    }
    if (e->an_state == JOB_DONE) {
        json_object_set(o, "recording", json_object_get(e->timeline, "recording"));
        json_object_set(o, "audit", json_object_get(e->timeline, "audit"));
        json_object_set(o, "events", json_object_get(e->timeline, "events"));
        if (e->is_session) {
            json_object_set(o, "segment_recordings", json_object_get(e->timeline, "segments"));
            json_object_set(o, "seams", json_object_get(e->timeline, "seams"));
        }
    } else if (e->an_state == JOB_FAILED) {
        json_object_set_new(o, "error", json_string(e->an_error));
    }
    char ticket[64], url[ID_MAX + 128];
    ticket_make(r, e->id, now_ms, ticket);
    snprintf(url, sizeof url, ROUTE "/%s/video.webm?ticket=%s", e->id, ticket);
    const char *vs = e->ex_state == JOB_DONE     ? "ready"
                     : e->ex_state == JOB_FAILED ? "failed"
                     : e->live                   ? "live"
                                                 : "exporting";
    json_object_set_new(o, "video", json_pack("{s:s,s:s,s:s?}", "state", vs, "url", url, "error",
                                              e->ex_state == JOB_FAILED ? e->ex_error : NULL));
    reply(resp, 200, o);
}

static void r_video(tdm_sig_recordings *r, const tdm_sig_rec_request *req, const char *id,
                    tdm_sig_rec_response *resp)
{
    rec_entry *e = lookup(r, id, false, resp);
    if (!e)
        return;
    if (e->open_error[0]) {
        fail(resp, 422, "unreadable_recording", e->open_error);
        return;
    }
    queue_export(r, e);
    if (e->live && e->ex_state == JOB_NONE) {
        fail(resp, 503, "recording_in_progress",
             "the relay is still writing this recording; it plays once closed");
        resp->retry_after_s = LIVE_QUIET_S;
        return;
    }
    if (e->ex_state == JOB_FAILED) {
        fail(resp, 422, "export_failed", e->ex_error);
        return;
    }
    if (e->ex_state != JOB_DONE) {
        fail(resp, 503, "exporting", "the recording is being exported; try again shortly");
        resp->retry_after_s = 1;
        return;
    }
    int fd = open(e->webm, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        /* Someone emptied the cache: export again. */
        e->ex_state = JOB_NONE;
        queue_export(r, e);
        fail(resp, 503, "exporting", "the export is being redone; try again shortly");
        resp->retry_after_s = 1;
        return;
    }
    uint64_t size = (uint64_t)sb.st_size, start, len;
    resp->accept_ranges = true;
    switch (tdm_sig_http_range_parse(req->range, size, &start, &len)) {
    case TDM_SIG_RANGE_UNSATISFIABLE:
        close(fd);
        fail(resp, 416, "range_not_satisfiable", "the range is outside the video");
        snprintf(resp->content_range, sizeof resp->content_range, "bytes */%" PRIu64, size);
        return;
    case TDM_SIG_RANGE_PARTIAL:
        resp->status = 206;
        snprintf(resp->content_range, sizeof resp->content_range,
                 "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start, start + len - 1, size);
        break;
    case TDM_SIG_RANGE_NONE:
        resp->status = 200;
        break;
    }
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    resp->content_type = "video/webm";
    resp->fd = fd;
    resp->offset = start;
    resp->length = len;
}

tdm_status tdm_sig_recordings_handle(tdm_sig_recordings *r, const tdm_sig_rec_request *req,
                                     int64_t now_ms, tdm_sig_rec_response *resp)
{
    if (!r || !req || !resp || !req->method || !req->path)
        return TDM_ERR_INVALID;
    memset(resp, 0, sizeof *resp);
    resp->fd = -1;
    const char *rest = req->path + strlen(ROUTE);
    char id[ID_MAX + 2] = "";
    bool video = false;
    if (*rest == '/') {
        rest++;
        const char *slash = strchr(rest, '/');
        size_t il = slash ? (size_t)(slash - rest) : strlen(rest);
        if (il > ID_MAX || (slash && strcmp(slash, "/video.webm") != 0) || il == 0) {
            fail(resp, 404, "not_found", "no such route");
            goto out;
        }
        memcpy(id, rest, il);
        id[il] = '\0';
        video = slash != NULL;
    }
    bool head = strcmp(req->method, "HEAD") == 0;
    if (strcmp(req->method, "GET") != 0 && !(video && head)) {
        fail(resp, 405, "method_not_allowed", video ? "GET or HEAD" : "GET");
        goto out;
    }
    /* video.webm: a ticket from the detail answer stands for the token. */
    bool by_ticket = video && !req->authorization && ticket_ok(r, req->query, id, now_ms);
    if (!by_ticket && !need_auditor(r, req, now_ms, resp))
        goto out;
    if (!r->dir[0]) {
        fail(resp, 503, "not_configured", "no recordings_dir in the configuration");
        goto out;
    }
    pthread_mutex_lock(&r->mu);
    if (!id[0])
        r_list(r, resp);
    else if (!video)
        r_detail(r, id, now_ms, resp);
    else
        r_video(r, req, id, resp);
    pthread_mutex_unlock(&r->mu);
out:
    if (resp->fd < 0 && !resp->body) {
        resp->status = 500;
        return TDM_ERR_NOMEM;
    }
    return TDM_OK;
}

tdm_status tdm_sig_recordings_new(tdm_signal *sig, const tdm_sig_serve_config *cfg,
                                  tdm_sig_recordings **out, tdm_error *err)
{
    if (!sig || !cfg || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "recordings_new: NULL argument");
    tdm_sig_recordings *r = calloc(1, sizeof *r);
    if (!r)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    r->sig = sig;
    r->cfg = cfg;
    snprintf(r->dir, sizeof r->dir, "%s", cfg->recordings_dir);
    if (cfg->recordings_cache_dir[0]) {
        snprintf(r->cache, sizeof r->cache, "%s", cfg->recordings_cache_dir);
    } else {
        /* Next to the database: state of this service, like the db. */
        const char *db = cfg->core.db_path ? cfg->core.db_path : "";
        const char *slash = strrchr(db, '/');
        if (slash)
            snprintf(r->cache, sizeof r->cache, "%.*s/recordings-cache", (int)(slash - db), db);
        else
            snprintf(r->cache, sizeof r->cache, "recordings-cache");
    }
    if (RAND_bytes(r->ticket_key, sizeof r->ticket_key) != 1) {
        free(r);
        return tdm_fail(err, TDM_ERR_IO, "no randomness for the video ticket key");
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (r->dir[0]) {
        int e = pthread_create(&r->worker, NULL, worker_main, r);
        if (e != 0) {
            tdm_sig_recordings_free(r);
            return tdm_fail(err, TDM_ERR_IO, "cannot start the recordings worker: %s",
                            strerror(e));
        }
        r->worker_started = true;
    }
    *out = r;
    return TDM_OK;
}

void tdm_sig_recordings_free(tdm_sig_recordings *r)
{
    if (!r)
        return;
    if (r->worker_started) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->worker, NULL);
    }
    for (size_t i = 0; i < r->n; i++) {
        json_decref(r->e[i]->timeline);
        json_decref(r->e[i]->files);
        free(r->e[i]);
    }
    free(r->e);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    OPENSSL_cleanse(r->ticket_key, sizeof r->ticket_key);
    free(r);
}
