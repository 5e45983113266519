/* The recording writer's IO shell: packets pushed from one thread reach
 * the file in order and read back verified; when the disk falls behind
 * (here: a pipe nobody reads yet) the queue fills, pushes return at once,
 * every refused packet is counted, and DROP records in the file add up to
 * exactly that count, placed where the packets went missing; a disk that
 * fails outright is counted and reported by close, and pushes go on
 * returning at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "recording_test_util.h"
#include "tdm_rec_writer.h"

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void writes_and_reads_back(void **state)
{
    (void)state;
    char path[] = "/tmp/tdm_rec_writer_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    tdm_rec_header h;
    test_header(&h);
    tdm_rec_writer_config cfg = {.header = &h, .rec_key = test_rec_key, .queue_slots = 4096};
    tdm_rec_writer *w;
    tdm_error err;
    assert_int_equal(tdm_rec_writer_open(path, &cfg, &w, &err), TDM_OK);
    /* The file exists now: a second writer on the same path is refused. */
    tdm_rec_writer *w2;
    assert_int_equal(tdm_rec_writer_open(path, &cfg, &w2, &err), TDM_ERR_IO);
    assert_true(tdm_rec_writer_push_event(w, TDM_REC_STREAM_START, 1, 0));
    uint8_t pkt[1000];
    const int n = 3000;
    int queued = 0;
    for (int i = 0; i < n; i++) {
        size_t pl = test_packet(i, pkt);
        while (!tdm_rec_writer_push_rtp(w, 1, 1000u * (uint64_t)i, pkt, pl))
            usleep(1000); /* not what the relay does; here every packet must land */
        queued++;
    }
    assert_true(tdm_rec_writer_push_event(w, TDM_REC_STREAM_STOP, 1, 1000u * (uint64_t)n));
    uint8_t big[TDM_REC_MAX_PACKET] = {0x80};
    assert_false(tdm_rec_writer_push_rtp(w, 1, 0, big, sizeof big)); /* over max_packet 1500 */
    tdm_rec_writer_stats ws;
    tdm_rec_writer_get_stats(w, &ws);
    assert_int_equal(ws.dropped_too_big, 1);
    uint8_t hash[TDM_REC_HASH_LEN];
    assert_int_equal(tdm_rec_writer_close(w, 1000u * (uint64_t)n, hash, &err), TDM_OK);

    size_t len;
    uint8_t *buf = slurp(path, &len);
    tdm_rec_reader *r;
    assert_int_equal(tdm_rec_reader_open(buf, len, test_master, &r, &err), TDM_OK);
    tdm_rec_record rec;
    int rtp = 0, drops = 0;
    tdm_status st;
    while ((st = tdm_rec_reader_next(r, &rec, &err)) == TDM_OK) {
        if (rec.type == TDM_REC_RTP) {
            size_t pl = test_packet(rtp, pkt);
            assert_int_equal(rec.len, pl);
            assert_memory_equal(rec.data, pkt, pl);
            rtp++;
        }
        drops += rec.type == TDM_REC_DROP;
    }
    assert_int_equal(st, TDM_EOF);
    assert_int_equal(rtp, queued);
    assert_int_equal(drops, 0);
    assert_memory_equal(tdm_rec_reader_hash(r), hash, TDM_REC_HASH_LEN);
    tdm_rec_reader_free(r);
    free(buf);
    unlink(path);
}

typedef struct sink {
    int fd;
    uint8_t *buf;
    size_t len, cap;
} sink;

static void *drain_pipe(void *arg)
{
    sink *s = arg;
    for (;;) {
        if (s->cap - s->len < 65536) {
            s->cap = s->cap * 2 + 65536;
            s->buf = realloc(s->buf, s->cap);
        }
        ssize_t k = read(s->fd, s->buf + s->len, s->cap - s->len);
        if (k <= 0)
            return NULL;
        s->len += (size_t)k;
    }
}

static void queue_full_drops_are_counted_and_marked(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    tdm_rec_header h;
    test_header(&h);
    tdm_rec_writer_config cfg = {.header = &h, .rec_key = test_rec_key, .queue_slots = 16};
    tdm_rec_writer *w;
    tdm_error err;
    assert_int_equal(tdm_rec_writer_open_fd(p[1], &cfg, &w, &err), TDM_OK);
    /* Nobody reads the pipe yet: after ~64 KiB the writer thread blocks in
     * write(), the 16 slots fill, and pushes must fail fast. */
    uint8_t pkt[1000];
    const int n = 2000;
    bool accepted[2000];
    int refused = 0;
    for (int i = 0; i < n; i++) {
        size_t pl = test_packet(i, pkt);
        accepted[i] = tdm_rec_writer_push_rtp(w, 1, (uint64_t)i, pkt, pl);
        refused += !accepted[i];
        if (i == n / 2) {
            /* Let the writer block for sure before the second half. */
            usleep(50000);
        }
    }
    assert_true(refused > n / 2);
    tdm_rec_writer_stats ws;
    tdm_rec_writer_get_stats(w, &ws);
    assert_int_equal(ws.dropped_full, (uint64_t)refused);

    sink s = {.fd = p[0]};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drain_pipe, &s), 0);
    assert_int_equal(tdm_rec_writer_close(w, (uint64_t)n, NULL, &err), TDM_OK);
    pthread_join(t, NULL);
    close(p[0]);

    tdm_rec_reader *r;
    assert_int_equal(tdm_rec_reader_open(s.buf, s.len, test_master, &r, &err), TDM_OK);
    tdm_rec_record rec;
    tdm_status st;
    uint64_t marked = 0;
    int next = 0; /* the next packet index expected */
    while ((st = tdm_rec_reader_next(r, &rec, &err)) == TDM_OK) {
        if (rec.type == TDM_REC_DROP) {
            /* The marker stands where the refused packets were. */
            for (uint64_t k = 0; k < rec.a; k++, next++)
                assert_false(accepted[next]);
            marked += rec.a;
        } else if (rec.type == TDM_REC_RTP) {
            assert_true(accepted[next]);
            assert_int_equal(rec.time_us, (uint64_t)next);
            next++;
        } else if (rec.type == TDM_REC_END) {
            assert_int_equal(rec.b, (uint64_t)refused);
        }
    }
    if (st != TDM_EOF)
        fail_msg("%s", err.msg);
    assert_int_equal(marked, (uint64_t)refused);
    assert_int_equal(next, n);
    tdm_rec_reader_free(r);
    free(s.buf);
}

/* A disk that fails (/dev/full: every write is ENOSPC): pushes still
 * return at once, the failure is counted, and close reports it. */
static void failing_disk_is_reported_not_blocking(void **state)
{
    (void)state;
    int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        skip();
    tdm_rec_header h;
    test_header(&h);
    tdm_rec_writer_config cfg = {.header = &h, .rec_key = test_rec_key, .queue_slots = 64};
    tdm_rec_writer *w;
    tdm_error err;
    assert_int_equal(tdm_rec_writer_open_fd(fd, &cfg, &w, &err), TDM_OK);
    uint8_t pkt[1000];
    /* The writer thread sleeps between batches (its idle wait adapts to the
     * packet rate) and a loaded machine may not run it for a while: keep
     * pushing, with pauses, until it has met the failure and drained past
     * one queue's worth, or a generous bound passes (then the asserts fail). */
    tdm_rec_writer_stats ws = {0};
    int i = 0;
    for (; i < 200000; i++) {
        size_t pl = test_packet(i, pkt);
        tdm_rec_writer_push_rtp(w, 1, (uint64_t)i, pkt, pl);
        if (i % 100 == 0) {
            usleep(1000);
            tdm_rec_writer_get_stats(w, &ws);
            if (ws.io_errors >= 1 && ws.pushed > 64)
                break;
        }
    }
    tdm_rec_writer_get_stats(w, &ws);
    assert_true(ws.io_errors >= 1);
    assert_true(ws.pushed > 64); /* the queue kept draining after the failure */
    assert_int_equal(tdm_rec_writer_close(w, (uint64_t)i, NULL, &err), TDM_ERR_IO);
    assert_non_null(strstr(err.msg, "write failed"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writes_and_reads_back),
        cmocka_unit_test(queue_full_drops_are_counted_and_marked),
        cmocka_unit_test(failing_disk_is_reported_not_blocking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
