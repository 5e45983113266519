/* writer.c: ring + writer thread + file around tdm_rec_encoder (tdm_rec_writer.h). */
#include "tdm_rec_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tdm_rec_encoder.h"

typedef struct slot {
    uint64_t time_us;
    uint64_t dropped_before; /* packets refused just before this one */
    uint32_t len;
    uint8_t type, stream;
    /* The entry as tdm_rec_format lays it out: the writer fills the
     * TDM_REC_PLAIN_HEAD-byte head, the producer copies the packet
     * (max_packet bytes at most) after it, so the entry goes into its
     * record in one piece. */
    uint8_t plain[];
} slot;

struct tdm_rec_writer {
    int fd;
    tdm_rec_encoder *enc;
    pthread_t thread;
    bool thread_started;
    /* Ring: head written only by the producer, tail only by the writer. Each
     * on its own cache line so the two threads do not bounce one line. */
    _Alignas(64) _Atomic uint64_t head;
    uint64_t tail_cache; /* producer's last view of tail */
    uint64_t pending_drops; /* producer-private: refused since the last queued */
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) _Atomic bool stop;
    _Atomic uint64_t end_time_us;
    /* The writer's idle wait; close() signals it so a session's end does
     * not wait out a sleep. Never touched by the producer's push. */
    pthread_mutex_t idle_mu;
    pthread_cond_t idle_cv;
    uint32_t slots;
    size_t slot_size, max_packet;
    uint8_t *ring;
    uint64_t sync_interval_us;
    uint64_t last_time_us; /* writer thread: latest record time seen */
    uint64_t file_off;     /* writer thread: bytes handed to the kernel so far */
    tdm_status io_status;
    tdm_error io_err;
    /* stats */
    _Atomic uint64_t pushed, dropped_full, dropped_too_big, records, bytes_written, syncs,
        io_errors;
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static slot *slot_at(const tdm_rec_writer *w, uint64_t i)
{
    return (slot *)(w->ring + (size_t)(i & (w->slots - 1)) * w->slot_size);
}

/* Writes that end on a multiple of this in the file let the page cache
 * take them in large folios (one allocation and one delayed-allocation
 * reservation per folio, not per 4 KiB page), which roughly halves the
 * kernel's CPU per byte written. The rest waits in the encoder's buffer
 * for the next drain or the next sync, so it costs nothing in durability:
 * a sync writes everything. */
#define WRITE_ALIGN (128u * 1024u)

/* Writes what is pending: everything (all) or only up to the last
 * WRITE_ALIGN boundary of the file. On failure the file is abandoned
 * (later records are sealed and discarded so the queue keeps draining). */
static void drain(tdm_rec_writer *w, bool all)
{
    size_t n;
    const uint8_t *p = tdm_rec_encoder_pending(w->enc, &n);
    if (!all && w->io_status == TDM_OK) {
        uint64_t end = (w->file_off + n) & ~(uint64_t)(WRITE_ALIGN - 1);
        n = end > w->file_off ? (size_t)(end - w->file_off) : 0;
    }
    while (n > 0) {
        if (w->io_status != TDM_OK) {
            tdm_rec_encoder_consume(w->enc, n);
            return;
        }
        ssize_t k = write(w->fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            atomic_fetch_add_explicit(&w->io_errors, 1, memory_order_relaxed);
            w->io_status = tdm_fail(&w->io_err, TDM_ERR_IO, "recording write failed: %s",
                                    k < 0 ? strerror(errno) : "wrote nothing");
            continue;
        }
        atomic_fetch_add_explicit(&w->bytes_written, (uint64_t)k, memory_order_relaxed);
        w->file_off += (uint64_t)k;
        tdm_rec_encoder_consume(w->enc, (size_t)k);
        p += k;
        n -= (size_t)k;
    }
}

static void sync_file(tdm_rec_writer *w)
{
    drain(w, true);
    if (w->io_status != TDM_OK)
        return;
    /* A pipe or socket cannot be synced (EINVAL/EROFS): nothing to make durable. */
    if (fsync(w->fd) != 0 && errno != EINVAL && errno != EROFS) {
        atomic_fetch_add_explicit(&w->io_errors, 1, memory_order_relaxed);
        w->io_status =
            tdm_fail(&w->io_err, TDM_ERR_IO, "recording fsync failed: %s", strerror(errno));
        return;
    }
    atomic_fetch_add_explicit(&w->syncs, 1, memory_order_relaxed);
}

/* Adds one entry (r, or the plaintext plain when r is NULL) to the
 * encoder, draining first if the buffer is short of room. */
static void seal_one(tdm_rec_writer *w, const tdm_rec_record *r, const uint8_t *plain,
                     size_t plen, uint64_t time_us)
{
    if (tdm_rec_encoder_room(w->enc) < TDM_REC_MAX_RECORD)
        drain(w, false);
    tdm_status st =
        r ? tdm_rec_encoder_add(w->enc, r) : tdm_rec_encoder_add_plain(w->enc, plain, plen);
    if (st == TDM_ERR_RANGE) {
        drain(w, true);
        st = r ? tdm_rec_encoder_add(w->enc, r) : tdm_rec_encoder_add_plain(w->enc, plain, plen);
    }
    if (st == TDM_OK)
        atomic_fetch_add_explicit(&w->records, 1, memory_order_relaxed);
    if (time_us > w->last_time_us)
        w->last_time_us = time_us;
}

static void add(tdm_rec_writer *w, const tdm_rec_record *r) { seal_one(w, r, NULL, 0, r->time_us); }

/* A queued packet or event: its head goes in front of the bytes the
 * producer copied, and the entry joins the open record. */
static void add_slot(tdm_rec_writer *w, slot *s)
{
    s->plain[0] = s->type;
    s->plain[1] = s->stream;
    tdm_rec_put64(s->plain + 2, s->time_us);
    seal_one(w, NULL, s->plain, TDM_REC_PLAIN_HEAD + (size_t)s->len, s->time_us);
}

static void sync_point(tdm_rec_writer *w, uint64_t now_mono)
{
    tdm_rec_record r = {.type = TDM_REC_SYNC, .time_us = w->last_time_us,
                        .a = tdm_rec_encoder_get_stats(w->enc)->rtp_records,
                        .b = tdm_rec_encoder_get_stats(w->enc)->dropped};
    add(w, &r);
    sync_file(w);
    tdm_rec_encoder_flushed(w->enc, now_mono);
}

/* Takes everything queued; returns how many slots it consumed. */
static uint64_t take(tdm_rec_writer *w)
{
    uint64_t tail = atomic_load_explicit(&w->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&w->head, memory_order_acquire);
    for (uint64_t i = tail; i < head; i++) {
        slot *s = slot_at(w, i);
        if (s->dropped_before) {
            /* Stream 0: the refused packets may have been of any stream. */
            tdm_rec_record d = {.type = TDM_REC_DROP, .stream = 0, .time_us = s->time_us,
                                .a = s->dropped_before};
            add(w, &d);
        }
        add_slot(w, s);
        /* Free each slot as soon as it is in the encoder, so the producer
         * gets room back while a long batch is still being written. */
        atomic_store_explicit(&w->tail, i + 1, memory_order_release);
    }
    /* What was taken in one go is one record (or a few, 16 KiB each),
     * sealed now and never left open across a wait; a SYNC or the END
     * would close it too. */
    if (tdm_rec_encoder_seal_batch(w->enc) == TDM_ERR_RANGE) {
        drain(w, true);
        tdm_rec_encoder_seal_batch(w->enc);
    }
    return head - tail;
}

/* The writer polls, which keeps the producer free of system calls (no
 * wake-up to send). Each wake-up costs a timed wait and a write(), which
 * for a session of a few hundred packets a second outweighs sealing them,
 * so the wait adapts to the packet rate: long enough for a sixteenth of
 * the ring's slots to arrive, between IDLE_MIN_US and IDLE_MAX_US, and
 * never past the next sync. The rate it plans for is the peak seen lately
 * (it decays by an eighth a wake-up), not the last one: a producer that
 * stalled sends a burst next, which a wait planned on the quiet stretch
 * would let overflow the ring. IDLE_MAX_US bounds what a quiet session's
 * sudden full rate must fit in: the default 1024 slots hold 25 ms of
 * 40000 packets a second. A session of a few hundred packets a second
 * waits IDLE_MAX_US (a fifth of the wake-ups of a fixed IDLE_MIN_US); from
 * 13000 packets a second on, IDLE_MIN_US. */
#define IDLE_MIN_US 5000u
#define IDLE_MAX_US 25000u

typedef struct idle_plan {
    uint64_t since_us; /* when the last wait began */
    uint64_t taken;    /* slots taken since */
    double peak;       /* packets per microsecond */
} idle_plan;

static uint64_t next_idle_us(idle_plan *p, uint64_t now_us, uint32_t slots)
{
    double rate = now_us > p->since_us ? (double)p->taken / (double)(now_us - p->since_us) : 0;
    p->peak = rate > p->peak * 0.875 ? rate : p->peak * 0.875;
    p->taken = 0;
    p->since_us = now_us;
    double us = p->peak > 0 ? (double)(slots / 16) / p->peak : IDLE_MAX_US;
    return us < IDLE_MIN_US ? IDLE_MIN_US : us > IDLE_MAX_US ? IDLE_MAX_US : (uint64_t)us;
}

static void idle_wait(tdm_rec_writer *w, uint64_t us)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(us / 1000000u);
    until.tv_nsec += (long)(us % 1000000u) * 1000;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->idle_mu);
    while (!atomic_load_explicit(&w->stop, memory_order_acquire))
        if (pthread_cond_timedwait(&w->idle_cv, &w->idle_mu, &until) != 0)
            break; /* ETIMEDOUT */
    pthread_mutex_unlock(&w->idle_mu);
}

static void *writer_main(void *arg)
{
    tdm_rec_writer *w = arg;
    tdm_rec_encoder_set_flush_interval(w->enc, w->sync_interval_us);
    tdm_rec_encoder_flushed(w->enc, mono_us());
    sync_file(w); /* the header is durable before any packet */
    uint64_t last_sync = mono_us();
    idle_plan plan = {.since_us = last_sync};
    for (;;) {
        bool stopping = atomic_load_explicit(&w->stop, memory_order_acquire);
        uint64_t n = take(w);
        plan.taken += n;
        if (n == 0 || tdm_rec_encoder_room(w->enc) < (1u << 18))
            drain(w, false); /* the queue ran dry: hand the kernel what aligns */
        uint64_t now = mono_us();
        if (tdm_rec_encoder_flush_due(w->enc, now)) {
            sync_point(w, now);
            last_sync = now;
        }
        if (stopping && n == 0)
            break;
        if (n == 0) {
            now = mono_us();
            uint64_t us = next_idle_us(&plan, now, w->slots);
            uint64_t sync_at = last_sync + w->sync_interval_us;
            if (sync_at > now && sync_at - now < us)
                us = sync_at - now;
            idle_wait(w, us);
        }
    }
    return NULL;
}

static tdm_status writer_start(int fd, const tdm_rec_writer_config *cfg, tdm_rec_writer **out,
                               tdm_error *err)
{
    uint32_t slots = cfg->queue_slots ? cfg->queue_slots : 1024;
    size_t maxp = cfg->max_packet ? cfg->max_packet : 1500;
    if (slots < 2 || (slots & (slots - 1)) || maxp > TDM_REC_MAX_PACKET || !cfg->header ||
        !cfg->rec_key) {
        close(fd);
        return tdm_fail(err, TDM_ERR_INVALID, "rec writer: bad config (queue_slots a power of two, "
                                              "max_packet <= %d, header and key given)",
                        TDM_REC_MAX_PACKET);
    }
    tdm_rec_writer *w = calloc(1, sizeof *w);
    if (!w) {
        close(fd);
        return tdm_fail(err, TDM_ERR_NOMEM, "rec writer: out of memory");
    }
    w->fd = fd;
    w->slots = slots;
    w->max_packet = maxp;
    w->slot_size = (sizeof(slot) + TDM_REC_PLAIN_HEAD + maxp + 7) & ~(size_t)7;
    w->sync_interval_us = cfg->sync_interval_us ? cfg->sync_interval_us : 1000000;
    w->ring = calloc(slots, w->slot_size);
    pthread_mutex_init(&w->idle_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->idle_cv, &ca);
    pthread_condattr_destroy(&ca);
    tdm_status st = w->ring ? TDM_OK : tdm_fail(err, TDM_ERR_NOMEM, "rec writer: out of memory");
    if (st == TDM_OK)
        st = tdm_rec_encoder_new(cfg->header, cfg->rec_key, 0, 0, &w->enc, err);
    if (st == TDM_OK)
        tdm_rec_encoder_set_batch(w->enc, TDM_REC_MAX_SEALED);
    if (st == TDM_OK && pthread_create(&w->thread, NULL, writer_main, w) != 0)
        st = tdm_fail(err, TDM_ERR_UNAVAILABLE, "rec writer: cannot start its thread");
    if (st != TDM_OK) {
        tdm_rec_encoder_free(w->enc);
        free(w->ring);
        pthread_cond_destroy(&w->idle_cv);
        pthread_mutex_destroy(&w->idle_mu);
        close(fd);
        free(w);
        return st;
    }
    w->thread_started = true;
    *out = w;
    return TDM_OK;
}

tdm_status tdm_rec_writer_open_fd(int fd, const tdm_rec_writer_config *cfg, tdm_rec_writer **out,
                                  tdm_error *err)
{
    if (fd < 0 || !cfg || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "rec writer: bad argument");
    return writer_start(fd, cfg, out, err);
}

tdm_status tdm_rec_writer_open(const char *path, const tdm_rec_writer_config *cfg,
                               tdm_rec_writer **out, tdm_error *err)
{
    if (!path || !cfg || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "rec writer: NULL argument");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return tdm_fail(err, TDM_ERR_IO, "cannot create recording %s: %s", path, strerror(errno));
    return writer_start(fd, cfg, out, err);
}

static bool push(tdm_rec_writer *w, tdm_rec_type type, uint8_t stream, uint64_t now_us,
                 const uint8_t *pkt, size_t len)
{
    uint64_t head = atomic_load_explicit(&w->head, memory_order_relaxed);
    if (head - w->tail_cache >= w->slots) {
        w->tail_cache = atomic_load_explicit(&w->tail, memory_order_acquire);
        if (head - w->tail_cache >= w->slots) {
            w->pending_drops++;
            atomic_fetch_add_explicit(&w->dropped_full, 1, memory_order_relaxed);
            return false;
        }
    }
    slot *s = slot_at(w, head);
    s->time_us = now_us;
    s->dropped_before = w->pending_drops;
    s->type = (uint8_t)type;
    s->stream = stream;
    s->len = (uint32_t)len;
    if (len)
        memcpy(s->plain + TDM_REC_PLAIN_HEAD, pkt, len);
    w->pending_drops = 0;
    atomic_store_explicit(&w->head, head + 1, memory_order_release);
    atomic_fetch_add_explicit(&w->pushed, 1, memory_order_relaxed);
    return true;
}

bool tdm_rec_writer_push_rtp(tdm_rec_writer *w, uint8_t stream, uint64_t now_us, const uint8_t *pkt,
                             size_t len)
{
    if (!w || !pkt || len == 0 || len > w->max_packet) {
        if (w)
            atomic_fetch_add_explicit(&w->dropped_too_big, 1, memory_order_relaxed);
        return false;
    }
    return push(w, TDM_REC_RTP, stream, now_us, pkt, len);
}

bool tdm_rec_writer_push_event(tdm_rec_writer *w, tdm_rec_type type, uint8_t stream,
                               uint64_t now_us)
{
    if (!w || (type != TDM_REC_STREAM_START && type != TDM_REC_STREAM_STOP))
        return false;
    return push(w, type, stream, now_us, NULL, 0);
}

void tdm_rec_writer_get_stats(const tdm_rec_writer *w, tdm_rec_writer_stats *o)
{
    tdm_rec_writer *m = (tdm_rec_writer *)w; /* atomics are read-only here */
    o->pushed = atomic_load_explicit(&m->pushed, memory_order_relaxed);
    o->dropped_full = atomic_load_explicit(&m->dropped_full, memory_order_relaxed);
    o->dropped_too_big = atomic_load_explicit(&m->dropped_too_big, memory_order_relaxed);
    o->records = atomic_load_explicit(&m->records, memory_order_relaxed);
    o->bytes_written = atomic_load_explicit(&m->bytes_written, memory_order_relaxed);
    o->syncs = atomic_load_explicit(&m->syncs, memory_order_relaxed);
    o->io_errors = atomic_load_explicit(&m->io_errors, memory_order_relaxed);
}

tdm_status tdm_rec_writer_close(tdm_rec_writer *w, uint64_t now_us, uint8_t hash[TDM_REC_HASH_LEN],
                                tdm_error *err)
{
    if (!w)
        return tdm_fail(err, TDM_ERR_INVALID, "rec writer: NULL");
    pthread_mutex_lock(&w->idle_mu);
    atomic_store_explicit(&w->stop, true, memory_order_release);
    pthread_cond_signal(&w->idle_cv);
    pthread_mutex_unlock(&w->idle_mu);
    pthread_join(w->thread, NULL);
    /* Called on the producer thread: drops after the last queued packet
     * still get their marker. */
    if (w->pending_drops) {
        tdm_rec_record d = {.type = TDM_REC_DROP, .time_us = now_us, .a = w->pending_drops};
        add(w, &d);
    }
    tdm_rec_record end = {.type = TDM_REC_END, .time_us = now_us,
                          .a = tdm_rec_encoder_get_stats(w->enc)->rtp_records,
                          .b = tdm_rec_encoder_get_stats(w->enc)->dropped};
    add(w, &end);
    sync_file(w);
    if (hash)
        memcpy(hash, tdm_rec_encoder_hash(w->enc), TDM_REC_HASH_LEN);
    tdm_status st = w->io_status;
    if (st != TDM_OK && err)
        *err = w->io_err;
    if (close(w->fd) != 0 && st == TDM_OK)
        st = tdm_fail(err, TDM_ERR_IO, "recording close failed: %s", strerror(errno));
    tdm_rec_encoder_free(w->enc);
    free(w->ring);
    pthread_cond_destroy(&w->idle_cv);
    pthread_mutex_destroy(&w->idle_mu);
    free(w);
    return st;
}
