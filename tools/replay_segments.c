/* replay_segments.c: a directory's recordings as sessions of segments
 * (tdm_replay_segments.h). */
#include "tdm_replay_segments.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static tdm_status map_path(const char *path, const uint8_t **buf, size_t *len, tdm_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        tdm_status st = tdm_fail(err, TDM_ERR_IO, "cannot open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return st;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return tdm_fail(err, TDM_ERR_IO, "%s is not a regular file", path);
    }
    *len = (size_t)sb.st_size;
    *buf = (const uint8_t *)"";
    if (*len) {
        void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return tdm_fail(err, TDM_ERR_IO, "cannot map %s: %s", path, strerror(errno));
        }
        *buf = p;
    }
    close(fd);
    return TDM_OK;
}

static void release_file(tdm_replay_file *f)
{
    tdm_rec_reader_free(f->reader);
    if (f->len)
        munmap((void *)f->buf, f->len);
    free(f->path);
    memset(f, 0, sizeof *f);
}

void tdm_replay_dir_free(tdm_replay_dir *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nfiles; i++)
        release_file(&d->files[i]);
    free(d->files);
    free(d->segs);
    memset(d, 0, sizeof *d);
}

/* Maps path, parses its header and, for the session wanted, opens and
 * scans it into a new file + segment of d. *added says whether it was
 * kept. Header faults are returned (the caller decides: skip in a
 * directory, refuse for a named file). */
static tdm_status add_file(tdm_replay_dir *d, const char *path, size_t name_off,
                           const char *session_id, const uint8_t *master, bool *added,
                           tdm_error *err)
{
    *added = false;
    tdm_replay_file f = {0};
    if (!(f.path = strdup(path)))
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    f.name = f.path + name_off;
    tdm_status st = map_path(path, &f.buf, &f.len, err);
    if (st != TDM_OK) {
        free(f.path);
        return st;
    }
    tdm_rec_header h;
    size_t hlen;
    st = tdm_rec_header_parse(f.buf, f.len, &h, &hlen, err);
    if (st != TDM_OK || (session_id && strcmp(h.session_id, session_id) != 0)) {
        release_file(&f);
        return st;
    }
    tdm_rec_segment seg = {0};
    tdm_error oe = {{0}};
    st = tdm_rec_reader_open(f.buf, f.len, master, &f.reader, &oe);
    if (st == TDM_OK) {
        st = tdm_rec_segment_scan(f.reader, d->nfiles, &seg, err);
    } else if (st == TDM_ERR_INVALID) {
        /* Placed by its header all the same: the session says which file. */
        f.reader = NULL;
        memcpy(seg.session_id, h.session_id, sizeof seg.session_id);
        seg.start_unix_us = seg.end_unix_us = h.start_unix_us;
        seg.ending = TDM_ERR_INVALID;
        seg.ending_msg = oe;
        seg.tag = d->nfiles;
        st = TDM_OK;
    } else {
        *err = oe;
    }
    if (st != TDM_OK) {
        release_file(&f);
        return st;
    }
    tdm_replay_file *nf = realloc(d->files, (d->nfiles + 1) * sizeof *nf);
    if (nf)
        d->files = nf;
    tdm_rec_segment *ns = nf ? realloc(d->segs, (d->nsegs + 1) * sizeof *ns) : NULL;
    if (ns)
        d->segs = ns;
    if (!nf || !ns) {
        release_file(&f);
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    }
    d->files[d->nfiles++] = f;
    d->segs[d->nsegs++] = seg;
    *added = true;
    return TDM_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_magic(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char magic[TDM_REC_MAGIC_LEN];
    bool ok = read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
              memcmp(magic, TDM_REC_MAGIC, TDM_REC_MAGIC_LEN) == 0;
    close(fd);
    return ok;
}

tdm_status tdm_replay_dir_load(const char *dir, const char *session_id,
                               const uint8_t master[TDM_SIG_MASTER_KEY_LEN], tdm_replay_dir *out,
                               tdm_error *err)
{
    memset(out, 0, sizeof *out);
    DIR *dd = opendir(dir);
    if (!dd)
        return tdm_fail(err, TDM_ERR_IO, "cannot open directory %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    tdm_status st = TDM_OK;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap * 2 + 16;
            char **nn = realloc(names, cap * sizeof *names);
            if (!nn) {
                st = tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) {
            st = tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(dd);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    size_t dlen = strlen(dir);
    for (size_t i = 0; i < n && st == TDM_OK; i++) {
        char path[4096];
        int w = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (w < 0 || (size_t)w >= sizeof path || !has_magic(path))
            continue;
        bool added;
        tdm_error fe = {{0}};
        tdm_status fs = add_file(out, path, dlen + 1, session_id, master, &added, &fe);
        if (fs == TDM_ERR_NOMEM)
            st = tdm_fail(err, fs, "%s", fe.msg);
        else if (fs != TDM_OK)
            out->skipped++; /* a recording's magic, not a recording's header */
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (st != TDM_OK) {
        tdm_replay_dir_free(out);
        return st;
    }
    /* Sorting moves segments, not files: tags keep pointing at theirs. */
    tdm_rec_segments_sort(out->segs, out->nsegs);
    return TDM_OK;
}

tdm_status tdm_replay_file_load(const char *path, const uint8_t master[TDM_SIG_MASTER_KEY_LEN],
                                tdm_replay_dir *out, tdm_error *err)
{
    memset(out, 0, sizeof *out);
    const char *slash = strrchr(path, '/');
    bool added;
    tdm_status st = add_file(out, path, slash ? (size_t)(slash - path) + 1 : 0, NULL, master,
                             &added, err);
    if (st != TDM_OK)
        tdm_replay_dir_free(out);
    return st;
}

bool tdm_replay_dir_session(const tdm_replay_dir *d, const char *session_id, size_t *first,
                            size_t *count)
{
    for (size_t i = 0; i < d->nsegs; i += tdm_rec_segments_run(d->segs, d->nsegs, i)) {
        if (strcmp(d->segs[i].session_id, session_id) == 0) {
            *first = i;
            *count = tdm_rec_segments_run(d->segs, d->nsegs, i);
            return true;
        }
    }
    return false;
}
