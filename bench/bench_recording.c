/* bench_recording: what recording costs the relay, and how fast an auditor
 * gets a session out of it (issue 6).
 *
 *   recording.forward_ratio  packets the subscribers received per second
 *                            of relay CPU time (all the relay's threads, the
 *                            recording writer's included) with --record-dir,
 *                            vs the same with recording off, at 1x1 (the
 *                            worst case); .1x4 the same with 4 subscribers
 *   recording.writer         MB/s of recording file one tdm_rec_writer
 *                            sustains (seal + write + fsync), vs the
 *                            forwarding load it must keep up with
 *   recording.writer.x<K>    the same summed over K writers at once
 *   recording.export         minutes of 1080p video exported to WebM per
 *                            wall-clock second, vs ffmpeg -c copy of the
 *                            exported WebM (or, without ffmpeg, a plain copy
 *                            of the recording's bytes)
 *
 * Forwarding (relay_harness.h, the machinery of bench_relay): a fresh relay
 * per run, one publisher and N subscribers over real DTLS-SRTP on
 * 127.0.0.1, 1200-byte packets at a fixed offered rate (--fwd-rate,
 * forwarded packets/s in total). Below saturation both relays forward
 * everything offered, so packets/s alone would show nothing; what
 * recording costs shows in the relay's CPU seconds, so the figure is
 * forwarded packets per relay CPU-second. Runs alternate off, on, off, on
 * ... (--reps pairs per fanout) so both share the machine's drift; the
 * figure is the median of each. 1x1 is the worst case for recording (every
 * forwarded packet is also recorded); 1x4 is a rep and guests. The kernel's
 * writeback of the file runs in kernel threads and is not in the relay's
 * CPU time; the writer's write() and fsync() calls are.
 *
 * Content: capture/'s synthetic desktop (scroll) at 1920x1080 encoded with
 * codec/'s VP8 encoder at its default for 1080p (about 2.5 Mbit/s), a GOP
 * of GOP_FRAMES frames starting with a keyframe, packetized as tandem-share
 * does, plus Opus (a tone) at 20 ms; looped (RTP sequence numbers and
 * timestamps continued) to --minutes of session, so every loop starts with
 * a keyframe and the export decodes.
 *
 * Writer: the recording written as fast as the writer takes it, with the
 * relay's writer configuration (1024 slots, fsync every second); the
 * producer waits when the ring is nearly full instead of letting packets
 * drop, so the figure is the writer's own rate. Time from open to close
 * (END record and last fsync). The load anchor is the relay's measured
 * forwarding capacity at 1x1 with recording off (packets per relay
 * CPU-second, times the machine's cores, times 1200 bytes): the most
 * published bytes per second this relay could take in, which a recording
 * relay must write. Recording writes each published stream once whatever
 * the fanout, so 1x1 is the heaviest load per forwarded packet. Also shown
 * as sessions of 2.5 Mbit/s. With K writers at once (K sessions) each
 * writes 1/K of the content, fed round-robin by one producer as a relay
 * worker does.
 *
 * Paced (a table line, no BENCH figure): PARALLEL sessions recorded in
 * real time for PACED_S seconds, this process's CPU time less a run of the
 * producer alone: what one recorded session costs in CPU, where the
 * writer's per-wake-up and per-fsync costs show (they do not at full
 * speed); again with one fsync an hour to tell the fsync's share.
 *
 * Export: tdm_rec_export_webm (what tandem-replay export runs) on the
 * recording written above, file mapped as the tool maps it, key unwrapped,
 * every record verified, remuxed to WebM; alternated --reps times with the
 * anchor, median of each. An hour of 1080p in under 5 s means at least 12
 * minutes per second.
 *
 * Temporary files go to --dir (default: a new directory under /tmp) and
 * are removed; the relay is always stopped by its PID. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <dirent.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "relay_harness.h"
#include "tdm_audio.h"
#include "tdm_incremental.h"
#include "tdm_opus_rtp.h"
#include "tdm_rec_export.h"
#include "tdm_rec_reader.h"
#include "tdm_rec_writer.h"
#include "tdm_rtp.h"
#include "tdm_synthetic.h"
#include "tdm_video_encoder.h"
#include "tdm_vp8_rtp.h"

#ifndef TDM_RELAY_PATH
#define TDM_RELAY_PATH "tandem-relay"
#endif

extern char **environ;

#define W 1920
#define H 1080
#define FPS 30
#define FRAME_US 33333u
#define GOP_FRAMES 150 /* 5 s */
#define GOP_US ((uint64_t)GOP_FRAMES * FRAME_US)
#define AUDIO_PER_GOP (GOP_US / 20000u)
#define MTU 1200
#define SESSION_BPS 2.5e6 /* a 1080p screen share, for "sessions" */
#define PARALLEL 8
#define DEFAULT_FWD_RATE 20000.0
#define DEFAULT_MINUTES 10.0
#define DEFAULT_REPS 3
#define RUN_S 4.0
#define PACED_S 4.0
#define DEADLINE_S 600

#define die tdm_rh_die

/* --- content ------------------------------------------------------------- */

typedef struct packet {
    uint64_t t_us; /* arrival time within the GOP */
    uint8_t stream; /* 1 video, 2 audio */
    uint16_t len;
    uint8_t data[MTU + 64];
} packet;

typedef struct content {
    packet *p;
    size_t n, cap;
    size_t video_packets, audio_packets;
    uint64_t video_bytes, audio_bytes;
} content;

static void add_packet(content *c, uint8_t stream, uint64_t t_us, const uint8_t *d, size_t len)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->p = realloc(c->p, c->cap * sizeof *c->p);
        if (!c->p)
            die("out of memory");
    }
    if (len > sizeof c->p[0].data)
        die("packet of %zu bytes", len);
    packet *p = &c->p[c->n++];
    p->t_us = t_us;
    p->stream = stream;
    p->len = (uint16_t)len;
    memcpy(p->data, d, len);
}

static int by_time(const void *a, const void *b)
{
    const packet *x = a, *y = b;
    if (x->t_us != y->t_us)
        return x->t_us < y->t_us ? -1 : 1;
    return x->stream - y->stream;
}

static void make_content(content *c)
{
    tdm_error err = {{0}};
    tdm_synthetic_config scfg = {.width = W, .height = H, .scenario = TDM_SCENARIO_SCROLL,
                                 .fps = FPS};
    tdm_source *src;
    tdm_incremental *inc;
    tdm_video_encoder_config ecfg;
    tdm_video_encoder *enc;
    if (tdm_synthetic_open(&scfg, &src, &err) != TDM_OK)
        die("synthetic source: %s", err.msg);
    if (tdm_incremental_new(W, H, TDM_MATRIX_BT601, &inc) != TDM_OK)
        die("incremental converter");
    tdm_video_encoder_config_init(&ecfg, TDM_CODEC_VP8, W, H);
    if (tdm_video_encoder_new(&ecfg, &enc, &err) != TDM_OK)
        die("video encoder: %s", err.msg);
    tdm_vp8_packetizer p8;
    tdm_vp8_packetizer_init(&p8, 1, 250);
    uint16_t seq = 0;
    for (int n = 0; n < GOP_FRAMES; n++) {
        uint64_t now = (uint64_t)n * FRAME_US;
        tdm_frame f;
        const tdm_tilemap *changed;
        if (tdm_source_next(src, now + 1, &f, &err) != TDM_OK ||
            tdm_incremental_convert(inc, &f, &changed) != TDM_OK)
            die("capture: %s", err.msg);
        tdm_encoded_frame ef;
        bool produced;
        if (tdm_video_encoder_encode(enc, tdm_incremental_image(inc), changed, now + 1, &ef,
                                     &produced, &err) != TDM_OK)
            die("encode: %s", err.msg);
        if (!produced)
            continue;
        if (tdm_vp8_packetizer_start(&p8, &ef, MTU - 12) != TDM_OK)
            die("packetize");
        bool last = false;
        for (int k = 0; !last; k++) {
            uint8_t payload[MTU], pkt[MTU + 64];
            size_t plen, len;
            if (tdm_vp8_packetizer_next(&p8, payload, sizeof payload, &plen, &last) != TDM_OK)
                die("packetize");
            tdm_rtp_header h = {.marker = last, .payload_type = 96, .seq = seq++,
                                .timestamp = ef.rtp_timestamp, .ssrc = 0x5eed0001};
            if (tdm_rtp_write(&h, payload, plen, 0, pkt, sizeof pkt, &len) != TDM_OK)
                die("rtp write");
            /* Arrival: the frame's time plus 20 us a packet (a paced sender). */
            add_packet(c, 1, now + 100 + 20u * (uint64_t)k, pkt, len);
            c->video_packets++;
            c->video_bytes += len;
        }
    }
    tdm_video_encoder_free(enc);
    tdm_incremental_free(inc);
    tdm_source_close(src);

    tdm_audio_encoder_config acfg;
    tdm_audio_encoder *aenc;
    tdm_audio_encoder_config_init(&acfg, 1);
    if (tdm_audio_encoder_new(&acfg, &aenc, &err) != TDM_OK)
        die("audio encoder: %s", err.msg);
    for (uint64_t a = 0; a < AUDIO_PER_GOP; a++) {
        int16_t pcm[TDM_AUDIO_FRAME_SAMPLES];
        for (int i = 0; i < TDM_AUDIO_FRAME_SAMPLES; i++)
            pcm[i] = (int16_t)(6000 * sin(2 * M_PI * 440 *
                                          (double)(a * TDM_AUDIO_FRAME_SAMPLES + (uint64_t)i) /
                                          48000.0));
        tdm_encoded_frame af;
        bool produced;
        if (tdm_audio_encoder_encode(aenc, pcm, a * 20000u, &af, &produced, &err) != TDM_OK)
            die("audio encode: %s", err.msg);
        if (!produced)
            continue;
        uint8_t payload[TDM_AUDIO_MAX_PACKET], pkt[TDM_AUDIO_MAX_PACKET + 64];
        size_t plen, len;
        if (tdm_opus_packetize(&af, payload, sizeof payload, &plen, NULL, NULL) != TDM_OK)
            die("opus packetize");
        tdm_rtp_header h = {.payload_type = 111, .seq = (uint16_t)a,
                            .timestamp = (uint32_t)(a * TDM_AUDIO_FRAME_SAMPLES),
                            .ssrc = 0x5eed0002};
        if (tdm_rtp_write(&h, payload, plen, 0, pkt, sizeof pkt, &len) != TDM_OK)
            die("rtp write");
        add_packet(c, 2, a * 20000u + 100, pkt, len);
        c->audio_packets++;
        c->audio_bytes += len;
    }
    tdm_audio_encoder_free(aenc);
    qsort(c->p, c->n, sizeof *c->p, by_time);
}

/* Packet i of the looped session (i counts from 0 over every loop) into
 * out: sequence numbers and timestamps continue from loop to loop. */
static const uint8_t *looped(const content *c, uint64_t i, uint8_t *out, uint8_t *stream,
                             uint64_t *t_us, size_t *len)
{
    uint64_t loop = i / c->n;
    const packet *p = &c->p[i % c->n];
    memcpy(out, p->data, p->len);
    uint16_t seq = (uint16_t)((out[2] << 8) | out[3]);
    uint32_t ts = (uint32_t)out[4] << 24 | (uint32_t)out[5] << 16 | (uint32_t)out[6] << 8 | out[7];
    bool video = p->stream == 1;
    seq = (uint16_t)(seq + loop * (video ? c->video_packets : c->audio_packets));
    ts += (uint32_t)(loop * (video ? GOP_US * 90 / 1000 : GOP_US * 48 / 1000));
    out[2] = (uint8_t)(seq >> 8);
    out[3] = (uint8_t)seq;
    out[4] = (uint8_t)(ts >> 24);
    out[5] = (uint8_t)(ts >> 16);
    out[6] = (uint8_t)(ts >> 8);
    out[7] = (uint8_t)ts;
    *stream = p->stream;
    *t_us = loop * GOP_US + p->t_us;
    *len = p->len;
    return out;
}

/* --- the writer ---------------------------------------------------------- */

static uint8_t master[TDM_SIG_MASTER_KEY_LEN];

static void header_for(tdm_rec_header *h, uint8_t rec_key[TDM_REC_KEY_LEN], const char *session)
{
    memset(h, 0, sizeof *h);
    snprintf(h->session_id, sizeof h->session_id, "%s", session);
    h->start_unix_us = (uint64_t)time(NULL) * 1000000u;
    uint8_t nonce[12];
    tdm_error err = {{0}};
    if (RAND_bytes(rec_key, TDM_REC_KEY_LEN) != 1 || RAND_bytes(nonce, sizeof nonce) != 1)
        die("no random bytes");
    if (tdm_sig_key_wrap(master, rec_key, nonce, h->session_id, h->wrapped_key, &err) != TDM_OK)
        die("key wrap: %s", err.msg);
    h->streams[h->nstreams++] = (tdm_rec_stream){.id = 1, .codec = TDM_CODEC_VP8,
                                                 .payload_type = 96, .ssrc = 0x5eed0001,
                                                 .clock_hz = 90000};
    h->streams[h->nstreams++] = (tdm_rec_stream){.id = 2, .codec = TDM_CODEC_OPUS,
                                                 .payload_type = 111, .ssrc = 0x5eed0002,
                                                 .clock_hz = 48000};
}

typedef struct write_result {
    double wall_s;
    uint64_t bytes, packets, syncs, drops, waits;
    double content_s; /* seconds of session written, per writer */
} write_result;

/* k writers (k sessions), each given packets_each packets of the looped
 * content, fed round-robin by this thread as a relay worker feeds its
 * sessions' writers. */
static write_result write_sessions(const content *c, const char *dir, const char *tag, int k,
                                   uint64_t packets_each, char paths[][512])
{
    tdm_rec_writer *w[PARALLEL];
    uint64_t mine[PARALLEL] = {0};
    tdm_error err = {{0}};
    write_result r = {0};
    uint64_t t0 = tdm_bench_now_ns();
    for (int j = 0; j < k; j++) {
        tdm_rec_header h;
        uint8_t key[TDM_REC_KEY_LEN];
        char sess[32];
        snprintf(sess, sizeof sess, "bench-%s-%d", tag, j);
        header_for(&h, key, sess);
        snprintf(paths[j], 512, "%s/%s.tdmrec", dir, sess);
        unlink(paths[j]);
        /* The relay's configuration (relay_worker.c): the defaults. */
        tdm_rec_writer_config wc = {.header = &h, .rec_key = key};
        if (tdm_rec_writer_open(paths[j], &wc, &w[j], &err) != TDM_OK)
            die("writer: %s", err.msg);
        tdm_rec_writer_push_event(w[j], TDM_REC_STREAM_START, 1, 0);
        tdm_rec_writer_push_event(w[j], TDM_REC_STREAM_START, 2, 0);
        mine[j] = 2;
    }
    uint8_t buf[MTU + 64];
    uint64_t t_last = 0;
    for (uint64_t i = 0; i < packets_each; i++) {
        uint8_t stream;
        uint64_t t;
        size_t len;
        looped(c, i, buf, &stream, &t, &len);
        t_last = t;
        for (int j = 0; j < k; j++) {
            /* Wait for room rather than drop: this measures the writer's
             * rate, not the ring's. Queued = pushed - records written
             * (SYNC records are the writer's own, one per sync). */
            for (;;) {
                tdm_rec_writer_stats s;
                tdm_rec_writer_get_stats(w[j], &s);
                uint64_t done = s.records > s.syncs ? s.records - s.syncs : 0;
                if (mine[j] < done + 1024 - 64)
                    break;
                r.waits++;
                sched_yield();
            }
            if (!tdm_rec_writer_push_rtp(w[j], stream, t, buf, len))
                die("writer refused a packet");
            mine[j]++;
        }
    }
    for (int j = 0; j < k; j++) {
        tdm_rec_writer_push_event(w[j], TDM_REC_STREAM_STOP, 1, t_last);
        tdm_rec_writer_push_event(w[j], TDM_REC_STREAM_STOP, 2, t_last);
        tdm_rec_writer_stats s;
        tdm_rec_writer_get_stats(w[j], &s);
        uint8_t hash[TDM_REC_HASH_LEN];
        if (tdm_rec_writer_close(w[j], t_last, hash, &err) != TDM_OK)
            die("writer close: %s", err.msg);
        struct stat st;
        if (stat(paths[j], &st) != 0)
            die("stat %s", paths[j]);
        r.bytes += (uint64_t)st.st_size;
        r.packets += s.pushed;
        r.syncs += s.syncs;
        r.drops += s.dropped_full + s.dropped_too_big;
    }
    r.wall_s = (double)(tdm_bench_now_ns() - t0) / 1e9;
    r.content_s = (double)t_last / 1e6;
    return r;
}

/* k sessions recorded in real time for seconds: each packet pushed at its
 * arrival time to every writer, as a relay worker does. Returns this
 * process's CPU seconds (the writer threads', plus the producer's pushes
 * and sleeps; k = 0 measures the producer alone). */
static double paced_sessions(const content *c, const char *dir, int k, double seconds,
                             uint64_t sync_interval_us)
{
    tdm_rec_writer *w[PARALLEL];
    char path[PARALLEL][512];
    tdm_error err = {{0}};
    for (int j = 0; j < k; j++) {
        tdm_rec_header h;
        uint8_t key[TDM_REC_KEY_LEN];
        char sess[32];
        snprintf(sess, sizeof sess, "bench-paced-%d", j);
        header_for(&h, key, sess);
        snprintf(path[j], sizeof path[j], "%s/%s.tdmrec", dir, sess);
        unlink(path[j]);
        tdm_rec_writer_config wc = {.header = &h, .rec_key = key,
                                    .sync_interval_us = sync_interval_us};
        if (tdm_rec_writer_open(path[j], &wc, &w[j], &err) != TDM_OK)
            die("writer: %s", err.msg);
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t t0 = tdm_bench_now_ns(), t_last = 0;
    uint8_t buf[MTU + 64];
    for (uint64_t i = 0;; i++) {
        uint8_t stream;
        uint64_t t;
        size_t len;
        looped(c, i, buf, &stream, &t, &len);
        if ((double)t / 1e6 >= seconds)
            break;
        uint64_t due = t0 + t * 1000u;
        struct timespec ts = {.tv_sec = (time_t)(due / 1000000000u),
                              .tv_nsec = (long)(due % 1000000000u)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        for (int j = 0; j < k; j++)
            tdm_rec_writer_push_rtp(w[j], stream, t, buf, len); /* a drop is counted */
        t_last = t;
    }
    for (int j = 0; j < k; j++) {
        uint8_t hash[TDM_REC_HASH_LEN];
        tdm_rec_writer_stats st;
        tdm_rec_writer_get_stats(w[j], &st);
        if (st.dropped_full)
            die("paced writer dropped %" PRIu64 " packets", st.dropped_full);
        if (tdm_rec_writer_close(w[j], t_last, hash, &err) != TDM_OK)
            die("writer close: %s", err.msg);
        unlink(path[j]);
    }
    getrusage(RUSAGE_SELF, &ru1);
    return (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
           (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
           (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
           (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
}

/* --- export and its anchors ---------------------------------------------- */

typedef struct export_run {
    double wall_s;
    tdm_rec_export_result res;
    uint64_t out_bytes;
} export_run;

static export_run export_once(const char *path, const char *out)
{
    export_run e = {0};
    uint64_t t0 = tdm_bench_now_ns();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        die("open %s: %s", path, strerror(errno));
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        die("mmap %s", path);
    tdm_rec_reader *r;
    tdm_error err = {{0}};
    if (tdm_rec_reader_open(m, (size_t)st.st_size, master, &r, &err) != TDM_OK)
        die("reader: %s", err.msg);
    if (tdm_rec_export_webm(r, (size_t)st.st_size, out, NULL, NULL, &e.res, &err) != TDM_OK)
        die("export: %s", err.msg);
    tdm_rec_reader_free(r);
    munmap(m, (size_t)st.st_size);
    e.wall_s = (double)(tdm_bench_now_ns() - t0) / 1e9;
    if (stat(out, &st) == 0)
        e.out_bytes = (uint64_t)st.st_size;
    return e;
}

static const char *ffmpeg_path(void)
{
    static const char *const cands[] = {"/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (access(cands[i], X_OK) == 0)
            return cands[i];
    return NULL;
}

/* ffmpeg -c copy of the exported WebM into another WebM: the same remux
 * (demux, mux, cues) without decrypting or verifying. */
static double ffmpeg_copy(const char *ff, const char *in, const char *out)
{
    const char *argv[] = {ff, "-nostdin", "-v", "error", "-y", "-i", in, "-c", "copy",
                          "-f", "webm", out, NULL};
    uint64_t t0 = tdm_bench_now_ns();
    pid_t pid;
    if (posix_spawn(&pid, ff, NULL, NULL, (char *const *)argv, environ) != 0)
        die("cannot run %s", ff);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("ffmpeg -c copy failed");
    return (double)(tdm_bench_now_ns() - t0) / 1e9;
}

/* read() + write() of the recording's bytes into a new file. */
static double file_copy(const char *in, const char *out)
{
    uint64_t t0 = tdm_bench_now_ns();
    int a = open(in, O_RDONLY | O_CLOEXEC);
    int b = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (a < 0 || b < 0)
        die("copy: %s", strerror(errno));
    static uint8_t buf[1 << 20];
    for (;;) {
        ssize_t n = read(a, buf, sizeof buf);
        if (n < 0)
            die("copy read: %s", strerror(errno));
        if (n == 0)
            break;
        if (write(b, buf, (size_t)n) != n)
            die("copy write: %s", strerror(errno));
    }
    close(a);
    close(b);
    return (double)(tdm_bench_now_ns() - t0) / 1e9;
}

/* --- main ---------------------------------------------------------------- */

static char workdir[256], relay_dir[300];
static bool own_workdir;

/* Removes the regular files directly in dir (ours: the relay's recordings). */
static void empty_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static void cleanup_files(void)
{
    if (!workdir[0])
        return;
    empty_dir(relay_dir);
    rmdir(relay_dir);
    empty_dir(workdir);
    if (own_workdir)
        rmdir(workdir);
}

/* Interrupted: the files are big (a 10-minute recording and its export). */
static void on_stop(int sig)
{
    (void)sig;
    tdm_rh_cleanup();
    cleanup_files();
    _exit(1);
}

typedef struct fwd_pair {
    int n;
    tdm_rh_result off[20], on[20];
    double off_med, on_med, ratio;
} fwd_pair;

static void print_fwd_row(const char *mode, const tdm_rh_result *r)
{
    double wall = r->relay_util > 0 ? r->relay_cpu / r->relay_util : RUN_S;
    printf("  1x%-3d %-4s %9.0f %9.0f %8.0f%% %7.1f%% %7.1f%% %7.2f%% %10.0f %8.1f %6.0f %8.3f\n",
           r->n, mode, r->offered_pub, r->fwd_wall, 100 * r->relay_util,
           100 * r->workers_cpu / wall, 100 * (r->relay_cpu - r->workers_cpu) / wall,
           100 * r->loss, r->fwd_per_core, r->rec_bytes / 1e6 / RUN_S, r->rec_drops, r->p99);
}

int main(int argc, char **argv)
{
    const char *relay_path = TDM_RELAY_PATH; /* the relay built beside this benchmark */
    double fwd_rate = DEFAULT_FWD_RATE, minutes = DEFAULT_MINUTES;
    int reps = DEFAULT_REPS;
    const char *dir_arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fwd-rate") == 0 && i + 1 < argc)
            fwd_rate = atof(argv[++i]);
        else if (strcmp(argv[i], "--minutes") == 0 && i + 1 < argc)
            minutes = atof(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir_arg = argv[++i];
        else if (argv[i][0] != '-')
            relay_path = argv[i];
        else {
            fprintf(stderr,
                    "usage: %s [--fwd-rate PKTS_PER_S] [--minutes M] [--reps N] [--dir DIR] "
                    "[PATH-TO-tandem-relay]\n"
                    "  --fwd-rate  forwarded packets/s offered in total (default %.0f)\n"
                    "  --minutes   length of the synthetic 1080p session (default %.0f)\n"
                    "  --reps      alternations of each comparison (default %d)\n"
                    "  --dir       an existing directory for the temporary files (default: a\n"
                    "              new one under /tmp)\n",
                    argv[0], DEFAULT_FWD_RATE, DEFAULT_MINUTES, DEFAULT_REPS);
            return 2;
        }
    }
    if (fwd_rate < 100 || minutes <= 0 || reps < 1 || reps > 20)
        return 2;
    if (access(relay_path, X_OK) != 0) {
        fprintf(stderr, "bench_recording: no relay at %s\n", relay_path);
        return 1;
    }
    tdm_rh_init("bench_recording", relay_path, DEADLINE_S);
    if (dir_arg) {
        snprintf(workdir, sizeof workdir, "%s/tdm-bench-rec-%d", dir_arg, (int)getpid());
        if (mkdir(workdir, 0700) != 0)
            die("mkdir %s: %s", workdir, strerror(errno));
    } else {
        snprintf(workdir, sizeof workdir, "/tmp/tdm-bench-rec-XXXXXX");
        if (!mkdtemp(workdir))
            die("mkdtemp: %s", strerror(errno));
    }
    own_workdir = true;
    atexit(cleanup_files);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    snprintf(relay_dir, sizeof relay_dir, "%s/relay", workdir);
    if (mkdir(relay_dir, 0700) != 0)
        die("mkdir %s", relay_dir);
    if (RAND_bytes(master, sizeof master) != 1)
        die("no random bytes");
    char key_path[300];
    snprintf(key_path, sizeof key_path, "%s/master.key", workdir);
    FILE *kf = fopen(key_path, "w");
    if (!kf)
        die("%s: %s", key_path, strerror(errno));
    for (size_t i = 0; i < sizeof master; i++)
        fprintf(kf, "%02x", master[i]);
    if (fclose(kf) != 0)
        die("write %s", key_path);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;

    /* The session's content. */
    content c = {0};
    uint64_t tc = tdm_bench_now_ns();
    make_content(&c);
    double gop_s = (double)GOP_US / 1e6;
    double content_bps = (double)(c.video_bytes + c.audio_bytes) * 8 / gop_s;
    printf("content: synthetic desktop (scroll) %dx%d VP8 at the encoder's default for 1080p, a "
           "keyframe every %.0f s, + Opus;\n  %.2f Mbit/s of RTP (video %.2f, audio %.3f), %.0f "
           "pkts/s, mean packet %.0f B (encoded in %.1f s)\n",
           W, H, gop_s, content_bps / 1e6, (double)c.video_bytes * 8 / gop_s / 1e6,
           (double)c.audio_bytes * 8 / gop_s / 1e6, (double)c.n / gop_s,
           (double)(c.video_bytes + c.audio_bytes) / (double)c.n,
           (double)(tdm_bench_now_ns() - tc) / 1e9);
    fflush(stdout);

    /* 1. Forwarding with recording off and on, alternated. */
    static const int fanouts[] = {1, 4};
    fwd_pair fp[2];
    const char *rec_args[] = {"--record-dir", relay_dir, "--recording-key-file", key_path, NULL};
    printf("forwarding: %.0f forwarded pkts/s offered, %.0f s a run, a fresh relay a run, "
           "off/on alternated %d times;\n  fwd/CPU-s = packets received / relay CPU seconds "
           "(all threads, the writer's included);\n  workers = the media threads' share, "
           "others = the rest (HTTP, the recording writer)\n",
           fwd_rate, RUN_S, reps);
    printf("  %-5s %-4s %9s %9s %9s %8s %8s %8s %10s %8s %6s %8s\n", "N", "rec", "pub pkt/s",
           "fwd pkt/s", "relay CPU", "workers", "others", "rx loss", "fwd/CPU-s", "rec MB/s",
           "drops", "p99 ms");
    for (int f = 0; f < 2; f++) {
        fwd_pair *q = &fp[f];
        q->n = fanouts[f];
        double offs[20], ons[20];
        for (int i = 0; i < reps; i++) {
            /* Alternate which goes first, so neither always follows the other. */
            for (int k = 0; k < 2; k++) {
                bool on = (k == 0) == (i % 2 == 1);
                tdm_rh_result r = tdm_rh_run(q->n, fwd_rate, RUN_S, on ? rec_args : NULL);
                if (on) {
                    if (r.recordings < 1 || r.rec_bytes <= 0)
                        die("1x%d: the relay did not record (recordings %.0f, bytes %.0f)", q->n,
                            r.recordings, r.rec_bytes);
                    q->on[i] = r;
                    ons[i] = r.fwd_per_core;
                    empty_dir(relay_dir);
                } else {
                    q->off[i] = r;
                    offs[i] = r.fwd_per_core;
                }
                print_fwd_row(on ? "on" : "off", &r);
                fflush(stdout);
            }
        }
        q->off_med = tdm_bench_median(offs, (size_t)reps);
        q->on_med = tdm_bench_median(ons, (size_t)reps);
        q->ratio = q->off_med > 0 ? q->on_med / q->off_med : 0;
    }
    for (int f = 0; f < 2; f++) {
        /* Where the difference goes: the media threads (the copy into the
         * writer's ring) and the other threads (the writer), in CPU
         * microseconds per packet the publisher sent (each recorded once). */
        double wk_off[20], wk_on[20], ot_off[20], ot_on[20];
        for (int i = 0; i < reps; i++) {
            const tdm_rh_result *a = &fp[f].off[i], *b = &fp[f].on[i];
            double pa = a->offered_pub * RUN_S, pb = b->offered_pub * RUN_S;
            wk_off[i] = 1e6 * a->workers_cpu / pa;
            wk_on[i] = 1e6 * b->workers_cpu / pb;
            ot_off[i] = 1e6 * (a->relay_cpu - a->workers_cpu) / pa;
            ot_on[i] = 1e6 * (b->relay_cpu - b->workers_cpu) / pb;
        }
        double wo = tdm_bench_median(wk_off, (size_t)reps), wn = tdm_bench_median(wk_on, (size_t)reps);
        double oo = tdm_bench_median(ot_off, (size_t)reps), on = tdm_bench_median(ot_on, (size_t)reps);
        printf("  1x%d: median fwd/CPU-s off %.0f, on %.0f: ratio %.3f (target >= 0.9);\n"
               "       CPU us per published packet: media threads %.2f -> %.2f, others %.2f -> "
               "%.2f\n",
               fp[f].n, fp[f].off_med, fp[f].on_med, fp[f].ratio, wo, wn, oo, on);
    }

    /* 2. The writer against the load. */
    uint64_t per_loop_us = GOP_US;
    uint64_t loops = (uint64_t)ceil(minutes * 60e6 / (double)per_loop_us);
    uint64_t total = loops * c.n;
    double capacity_pps = fp[0].off_med * (double)ncpu;
    double rec_overhead = TDM_REC_LEN_FIELD + TDM_REC_PLAIN_HEAD + TDM_REC_TAG_LEN;
    double load_MBps = capacity_pps * (TDM_RH_PKT_LEN + rec_overhead) / 1e6;
    int wreps = reps < 2 ? reps : 2;
    double w1[2] = {0}, wk[2] = {0};
    char long_path[1][512], par_paths[PARALLEL][512];
    write_result r1 = {0}, rk = {0};
    for (int i = 0; i < wreps; i++) {
        r1 = write_sessions(&c, workdir, "long", 1, total, long_path);
        w1[i] = (double)r1.bytes / 1e6 / r1.wall_s;
        rk = write_sessions(&c, workdir, "par", PARALLEL, total / PARALLEL, par_paths);
        wk[i] = (double)rk.bytes / 1e6 / rk.wall_s;
        for (int j = 0; j < PARALLEL; j++)
            unlink(par_paths[j]);
        if (r1.drops || rk.drops)
            die("the writer dropped packets (%" PRIu64 ", %" PRIu64 ")", r1.drops, rk.drops);
        printf("writer run %d: 1 writer %.1f min of session, %.1f MB in %.2f s (%" PRIu64
               " syncs) = %.1f MB/s; %d writers %.1f MB in %.2f s = %.1f MB/s\n",
               i + 1, r1.content_s / 60, (double)r1.bytes / 1e6, r1.wall_s, r1.syncs, w1[i],
               PARALLEL, (double)rk.bytes / 1e6, rk.wall_s, wk[i]);
        fflush(stdout);
    }
    double w1_med = tdm_bench_median(w1, (size_t)wreps), wk_med = tdm_bench_median(wk, (size_t)wreps);
    /* The writer at the load it really sees: sessions in real time, with
     * the relay's fsync every second, and (to tell its share) with one
     * fsync in an hour. */
    double base_cpu = paced_sessions(&c, workdir, 0, PACED_S, 0);
    double k_cpu = paced_sessions(&c, workdir, PARALLEL, PACED_S, 0);
    double k_nosync = paced_sessions(&c, workdir, PARALLEL, PACED_S, 3600000000ull);
    double per_session = (k_cpu - base_cpu) / PACED_S / PARALLEL;
    double per_session_nosync = (k_nosync - base_cpu) / PACED_S / PARALLEL;
    double session_pps = (double)c.n / gop_s;
    printf("paced: %d sessions of %.2f Mbit/s recorded in real time for %.0f s: %.1f%% of a core"
           " (producer alone %.1f%%):\n  %.2f%% of a core per session = %.1f us per packet; "
           "without the fsync each second %.2f%% = %.1f us per packet\n",
           PARALLEL, content_bps / 1e6, PACED_S, 100 * k_cpu / PACED_S, 100 * base_cpu / PACED_S,
           100 * per_session, 1e6 * per_session / session_pps, 100 * per_session_nosync,
           1e6 * per_session_nosync / session_pps);
    double session_MBps = SESSION_BPS / 8 / 1e6;
    printf("load: the relay forwards %.0f pkts per CPU-second at 1x1 (recording off), x %ld "
           "cores = %.0f pkts/s\n  = %.1f MB/s of recording (%.0f-byte packets + %.0f bytes a "
           "record) = %.0f sessions of %.1f Mbit/s\n",
           fp[0].off_med, ncpu, capacity_pps, load_MBps, (double)TDM_RH_PKT_LEN, rec_overhead,
           load_MBps / session_MBps, SESSION_BPS / 1e6);
    printf("writer: 1 writer %.1f MB/s (%.0f sessions of %.1f Mbit/s), headroom x%.1f over "
           "the load;\n        %d writers %.1f MB/s, headroom x%.1f\n",
           w1_med, w1_med / session_MBps, SESSION_BPS / 1e6, w1_med / load_MBps, PARALLEL, wk_med,
           wk_med / load_MBps);
    fflush(stdout);

    /* 3. Export, alternated with its anchor. */
    char webm[300], copy_webm[300], copy_rec[300];
    snprintf(webm, sizeof webm, "%s/export.webm", workdir);
    snprintf(copy_webm, sizeof copy_webm, "%s/ffmpeg-copy.webm", workdir);
    snprintf(copy_rec, sizeof copy_rec, "%s/copy.tdmrec", workdir);
    const char *ff = ffmpeg_path();
    double ex[20], an_ff[20], an_cp[20];
    export_run e = {0};
    double video_min = 0;
    for (int i = 0; i < reps; i++) {
        e = export_once(long_path[0], webm);
        video_min = (double)e.res.duration_us / 60e6;
        ex[i] = video_min / e.wall_s;
        an_ff[i] = ff ? video_min / ffmpeg_copy(ff, webm, copy_webm) : 0;
        an_cp[i] = video_min / file_copy(long_path[0], copy_rec);
        unlink(copy_webm);
        unlink(copy_rec);
        printf("export run %d: %.1f min of video in %.2f s = %.1f min/s; ffmpeg -c copy %.1f "
               "min/s; file copy %.1f min/s\n",
               i + 1, video_min, e.wall_s, ex[i], an_ff[i], an_cp[i]);
        fflush(stdout);
    }
    double ex_med = tdm_bench_median(ex, (size_t)reps);
    double ff_med = tdm_bench_median(an_ff, (size_t)reps);
    double cp_med = tdm_bench_median(an_cp, (size_t)reps);
    for (size_t s = 0; s < e.res.nstreams; s++) {
        const tdm_rec_export_stream *st = &e.res.streams[s];
        printf("  stream %u %s: %s, %dx%d, %" PRIu64 " packets, %" PRIu64 " frames, %" PRIu64
               " lost\n",
               st->id, st->codec == TDM_CODEC_OPUS ? "opus" : "vp8",
               st->exported ? "exported" : "left out", st->width, st->height, st->packets,
               st->frames, st->frames_lost);
    }
    printf("export: %.1f min of %dx%d session (%.1f MB recording -> %.1f MB WebM): %.1f min/s;"
           " an hour in %.1f s (target < 5 s)\n",
           video_min, W, H, (double)r1.bytes / 1e6, (double)e.out_bytes / 1e6, ex_med,
           ex_med > 0 ? 60 / ex_med : 0);
    fflush(stdout);

    /* The figure is the worst case, 1x1; 1x4 beside it. */
    tdm_bench_line("recording.forward_ratio", fp[0].on_med, "pkts/cpu-s", "recording_off",
                   fp[0].off_med);
    tdm_bench_line("recording.forward_ratio.1x4", fp[1].on_med, "pkts/cpu-s", "recording_off",
                   fp[1].off_med);
    tdm_bench_line("recording.writer", w1_med, "MB/s", "relay_ingest_capacity", load_MBps);
    char name[64];
    snprintf(name, sizeof name, "recording.writer.x%d", PARALLEL);
    tdm_bench_line(name, wk_med, "MB/s", "relay_ingest_capacity", load_MBps);
    if (ff)
        tdm_bench_line("recording.export", ex_med, "min/s", "ffmpeg_copy_webm", ff_med);
    else
        tdm_bench_line("recording.export", ex_med, "min/s", "file_copy", cp_med);
    free(c.p);
    tdm_rh_cleanup();
    return 0;
}
