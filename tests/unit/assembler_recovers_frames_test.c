/* assembler_recovers_frames_test: the frame assembler gives back exactly the
 * frames that were sent, in order, when packets arrive in order, reordered,
 * duplicated or lost and retransmitted, across the sequence-number wrap
 * (from 65530) and the timestamp wrap (from 0xffffff00); its NACKs list
 * exactly the missing sequence numbers and are repeated only after the retry
 * interval; when it gives up on a packet it asks for a keyframe, drops the
 * frames that depend on the lost one, and recovers at the next keyframe. A
 * fake clock drives every timer; nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_assembler.h"
#include "tdm_vp8_rtp.h"
#include "tdm_vp9_rtp.h"

#define MAX_PACKETS 40000
#define MAX_FRAMES 2000
#define SEQ0 65530
#define TS0 0xffffff00u
#define TS_STEP 3000u /* 30 frames a second at 90 kHz */
#define SSRC 0x5eed5eed
#define PT 96
#define MS 1000u

static uint64_t rng_state = 0xabad1deaf00dcafeu;

static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32);
}

typedef struct packet {
    uint8_t buf[1600];
    size_t len;
    uint16_t seq;
    int frame;
} packet;

typedef struct sent_frame {
    uint8_t *data;
    size_t len;
    uint32_t ts;
    bool key;
    uint16_t first_seq;
    size_t packets;
} sent_frame;

/* The sending side: a packetizer, RTP headers, and a record of everything
 * sent so that it can be retransmitted and checked. */
typedef struct sender {
    tdm_codec codec;
    tdm_vp8_packetizer vp8;
    tdm_vp9_packetizer vp9;
    uint16_t seq;
    uint32_t ts;
    size_t mtu;
    packet *pkts;
    size_t n_pkts;
    sent_frame frames[MAX_FRAMES];
    int n_frames;
} sender;

static sender *sender_new(tdm_codec codec, size_t mtu)
{
    sender *s = calloc(1, sizeof *s);
    s->pkts = calloc(MAX_PACKETS, sizeof *s->pkts);
    assert_non_null(s->pkts);
    s->codec = codec;
    s->mtu = mtu;
    s->seq = SEQ0;
    s->ts = TS0;
    tdm_vp8_packetizer_init(&s->vp8, 0x7ffe, 0xfe);
    tdm_vp9_packetizer_init(&s->vp9, 0x7ffe, 0xfe, false);
    return s;
}

static void sender_free(sender *s)
{
    for (int i = 0; i < s->n_frames; i++)
        free(s->frames[i].data);
    free(s->pkts);
    free(s);
}

static void put_bits(uint8_t *buf, size_t *bit, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--, (*bit)++) {
        uint8_t m = (uint8_t)(0x80 >> (*bit % 8));
        buf[*bit / 8] = (uint8_t)(((v >> i) & 1) ? buf[*bit / 8] | m : buf[*bit / 8] & ~m);
    }
}

/* Frame bytes that the depacketizers accept: a VP8 frame tag (with a
 * keyframe header), or a VP9 uncompressed header start; the rest random. */
static void fill_frame(tdm_codec codec, uint8_t *d, size_t len, bool key)
{
    for (size_t i = 0; i < len; i++)
        d[i] = (uint8_t)rnd();
    if (codec == TDM_CODEC_VP8) {
        if (key) {
            static const uint8_t head[] = {0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a,
                                           0x80, 0x02, 0xe0, 0x01}; /* 640x480 */
            memcpy(d, head, len < sizeof head ? len : sizeof head);
        } else {
            d[0] |= 1;
        }
    } else {
        if (key) {
            size_t bit = 0;
            put_bits(d, &bit, 2, 2);        /* frame marker */
            put_bits(d, &bit, 0, 2);        /* profile 0 */
            put_bits(d, &bit, 0, 1);        /* show_existing_frame */
            put_bits(d, &bit, 0, 1);        /* KEY_FRAME */
            put_bits(d, &bit, 1, 1);        /* show_frame */
            put_bits(d, &bit, 0, 1);        /* error_resilient_mode */
            put_bits(d, &bit, 0x498342, 24);
            put_bits(d, &bit, 1, 3);        /* color_space */
            put_bits(d, &bit, 0, 1);        /* color_range */
            put_bits(d, &bit, 639, 16);
            put_bits(d, &bit, 479, 16);
        } else {
            d[0] = 0x86;
        }
    }
}

/* Encodes and packetizes one frame; returns its index. */
static int send_frame(sender *s, size_t len, bool key)
{
    assert_true(s->n_frames < MAX_FRAMES);
    sent_frame *f = &s->frames[s->n_frames];
    f->data = malloc(len);
    f->len = len;
    f->ts = s->ts;
    f->key = key;
    f->first_seq = s->seq;
    fill_frame(s->codec, f->data, len, key);
    tdm_encoded_frame ef = {.codec = s->codec, .data = f->data, .len = len, .keyframe = key,
                            .rtp_timestamp = s->ts};
    tdm_rtp_header h = {.payload_type = PT, .timestamp = s->ts, .ssrc = SSRC};
    size_t hl = tdm_rtp_header_size(&h);
    if (s->codec == TDM_CODEC_VP8)
        assert_int_equal(tdm_vp8_packetizer_start(&s->vp8, &ef, s->mtu - hl), TDM_OK);
    else
        assert_int_equal(tdm_vp9_packetizer_start(&s->vp9, &ef, s->mtu - hl), TDM_OK);
    bool last = false;
    while (!last) {
        assert_true(s->n_pkts < MAX_PACKETS);
        packet *p = &s->pkts[s->n_pkts++];
        size_t plen = 0;
        tdm_status st = s->codec == TDM_CODEC_VP8
                            ? tdm_vp8_packetizer_next(&s->vp8, p->buf + hl, sizeof p->buf - hl,
                                                      &plen, &last)
                            : tdm_vp9_packetizer_next(&s->vp9, p->buf + hl, sizeof p->buf - hl,
                                                      &plen, &last);
        assert_int_equal(st, TDM_OK);
        h.seq = s->seq++;
        h.marker = last;
        assert_int_equal(tdm_rtp_write(&h, p->buf + hl, plen, 0, p->buf, sizeof p->buf, &p->len),
                         TDM_OK);
        p->seq = h.seq;
        p->frame = s->n_frames;
        f->packets++;
    }
    s->ts += TS_STEP;
    return s->n_frames++;
}

/* A padding-only packet (a bandwidth probe) on the video stream. */
static void send_padding(sender *s)
{
    packet *p = &s->pkts[s->n_pkts++];
    tdm_rtp_header h = {.payload_type = PT, .timestamp = s->ts - TS_STEP, .ssrc = SSRC,
                        .seq = s->seq++};
    assert_int_equal(tdm_rtp_write(&h, NULL, 0, 200, p->buf, sizeof p->buf, &p->len), TDM_OK);
    p->seq = h.seq;
    p->frame = -1;
}

/* The receiving side: an assembler, a fake clock, and what came out. */
typedef struct receiver {
    tdm_assembler *a;
    const sender *s;
    uint64_t now;
    int got[MAX_FRAMES]; /* frame indices in the order emitted */
    int n_got;
    int events;
    tdm_keyframe_reason last_reason;
    bool expect_key_next; /* after an event the next frame must be a keyframe */
    uint64_t last_seq;
} receiver;

static void receiver_init(receiver *r, const sender *s, const tdm_assembler_config *cfg)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    r->now = 1000000;
    assert_int_equal(tdm_assembler_new(cfg, &r->a), TDM_OK);
    r->expect_key_next = true;
}

static void receiver_done(receiver *r)
{
    tdm_assembler_free(r->a);
}

/* Drains frames and events, checking every frame against what was sent. */
static void drain(receiver *r)
{
    tdm_encoded_frame f;
    tdm_assembler_frame_info info;
    tdm_assembler_event ev;
    while (tdm_assembler_poll_event(r->a, &ev) == TDM_OK) {
        assert_int_equal(ev.type, TDM_ASSEMBLER_KEYFRAME_NEEDED);
        r->events++;
        r->last_reason = ev.reason;
        r->expect_key_next = true;
    }
    while (tdm_assembler_poll_frame(r->a, &f, &info) == TDM_OK) {
        int idx = (int)((uint32_t)(f.rtp_timestamp - TS0) / TS_STEP);
        assert_true(idx >= 0 && idx < r->s->n_frames);
        const sent_frame *sf = &r->s->frames[idx];
        assert_int_equal(f.rtp_timestamp, sf->ts);
        assert_int_equal(f.len, sf->len);
        assert_memory_equal(f.data, sf->data, sf->len);
        assert_int_equal(f.keyframe, sf->key);
        assert_int_equal(f.codec, r->s->codec);
        assert_int_equal(f.width, 640);
        assert_int_equal(f.height, 480);
        assert_int_equal((uint32_t)info.timestamp, sf->ts);
        assert_int_equal(info.first_seq & 0xffff, sf->first_seq);
        assert_int_equal(info.packets, sf->packets);
        assert_int_equal(info.last_seq - info.first_seq + 1, sf->packets);
        if (r->n_got > 0) {
            assert_true(info.first_seq > r->last_seq); /* in order */
            assert_true(idx > r->got[r->n_got - 1]);
        }
        if (r->expect_key_next)
            assert_true(f.keyframe);
        r->expect_key_next = false;
        r->last_seq = info.last_seq;
        r->got[r->n_got++] = idx;
        /* Anything left in the event queue now would be stale. */
        while (tdm_assembler_poll_event(r->a, &ev) == TDM_OK) {
            r->events++;
            r->last_reason = ev.reason;
            r->expect_key_next = true;
        }
    }
}

static void deliver(receiver *r, const packet *p)
{
    assert_int_equal(tdm_assembler_push(r->a, r->now, p->buf, p->len, NULL), TDM_OK);
    drain(r);
}

static void advance(receiver *r, uint64_t us)
{
    r->now += us;
    tdm_assembler_handle_timeout(r->a, r->now);
    drain(r);
}

static size_t nacks(receiver *r, uint16_t *seqs, size_t cap)
{
    size_t n = 0, total = 0;
    while (total < cap && tdm_assembler_poll_nack(r->a, seqs + total, cap - total, &n) == TDM_OK)
        total += n;
    return total;
}

static tdm_assembler_config config(tdm_codec codec)
{
    tdm_assembler_config c;
    tdm_assembler_config_default(&c, codec);
    c.payload_type = PT;
    c.nack_delay_us = 5 * MS;
    c.initial_rtt_us = 40 * MS; /* retry after 50 ms */
    c.max_nack_tries = 3;
    c.max_missing_us = 2000 * MS;
    c.keyframe_retry_us = 300 * MS;
    return c;
}

/* A keyframe then inter frames of 50..3000 bytes over 300-byte packets. */
static void send_stream(sender *s, int frames)
{
    for (int i = 0; i < frames; i++)
        send_frame(s, i == 0 ? 4000 : 50 + rnd() % 2950, i == 0);
}

static void in_order_stream_passes_through(tdm_codec codec)
{
    sender *s = sender_new(codec, 300);
    send_stream(s, 60);
    tdm_assembler_config c = config(codec);
    receiver r;
    receiver_init(&r, s, &c);
    for (size_t i = 0; i < s->n_pkts; i++) {
        deliver(&r, &s->pkts[i]);
        r.now += MS;
        /* A frame comes out as soon as its last packet is in. */
        if (i + 1 == s->n_pkts || s->pkts[i + 1].frame != s->pkts[i].frame)
            assert_int_equal(r.got[r.n_got - 1], s->pkts[i].frame);
    }
    assert_int_equal(r.n_got, 60);
    for (int i = 0; i < 60; i++)
        assert_int_equal(r.got[i], i);
    assert_int_equal(r.events, 0);
    uint16_t seqs[64];
    assert_int_equal(nacks(&r, seqs, 64), 0);
    assert_int_equal(tdm_assembler_poll_timeout(r.a), TDM_ASSEMBLER_NO_DEADLINE);
    const tdm_assembler_stats *st = tdm_assembler_get_stats(r.a);
    assert_int_equal(st->frames_emitted, 60);
    assert_int_equal(st->keyframes_emitted, 1);
    assert_int_equal(st->packets_stored, s->n_pkts);
    assert_int_equal(tdm_rtp_drop_counts_total(&st->drops), 0);
    /* The stream really crossed both wraps. */
    assert_true(s->seq < SEQ0);
    assert_true(s->ts < TS0);
    receiver_done(&r);
    sender_free(s);
}

static void vp8_in_order(void **state)
{
    (void)state;
    in_order_stream_passes_through(TDM_CODEC_VP8);
}

static void vp9_in_order(void **state)
{
    (void)state;
    in_order_stream_passes_through(TDM_CODEC_VP9);
}

static void reordered_and_duplicated_packets(tdm_codec codec)
{
    sender *s = sender_new(codec, 300);
    send_stream(s, 80);
    tdm_assembler_config c = config(codec);
    receiver r;
    receiver_init(&r, s, &c);
    /* Shuffle within blocks of 6 (never across the keyframe's first
     * packet, which the stream must start with to be checked exactly) and
     * send every 5th packet twice, once again later. */
    size_t n = s->n_pkts;
    size_t *order = malloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t b = 1; b < n; b += 6) {
        size_t e = b + 6 < n ? b + 6 : n;
        for (size_t i = e - 1; i > b; i--) {
            size_t j = b + rnd() % (i - b + 1);
            size_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }
    int dups = 0;
    for (size_t i = 0; i < n; i++) {
        deliver(&r, &s->pkts[order[i]]);
        if (i % 5 == 0) {
            tdm_rtp_drop why;
            assert_int_equal(tdm_assembler_push(r.a, r.now, s->pkts[order[i]].buf,
                                                s->pkts[order[i]].len, &why), TDM_OK);
            /* A duplicate of a packet already emitted is too old. */
            assert_true(why == TDM_RTP_DROP_DUPLICATE || why == TDM_RTP_DROP_TOO_OLD);
            dups++;
        }
        r.now += 500; /* reordering well inside the NACK delay */
        uint16_t seqs[16];
        assert_int_equal(nacks(&r, seqs, 16), 0);
        drain(&r);
    }
    assert_int_equal(r.n_got, 80);
    assert_int_equal(r.events, 0);
    const tdm_assembler_stats *st = tdm_assembler_get_stats(r.a);
    assert_int_equal(st->drops.n[TDM_RTP_DROP_DUPLICATE] + st->drops.n[TDM_RTP_DROP_TOO_OLD], dups);
    free(order);
    receiver_done(&r);
    sender_free(s);
}

static void vp8_reordered_and_duplicated(void **state)
{
    (void)state;
    reordered_and_duplicated_packets(TDM_CODEC_VP8);
}

static void vp9_reordered_and_duplicated(void **state)
{
    (void)state;
    reordered_and_duplicated_packets(TDM_CODEC_VP9);
}

static bool is_in(uint16_t seq, const uint16_t *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == seq)
            return true;
    return false;
}

static const packet *find(const sender *s, uint16_t seq)
{
    for (size_t i = 0; i < s->n_pkts; i++)
        if (s->pkts[i].seq == seq)
            return &s->pkts[i];
    return NULL;
}

static void lost_packets_nacked_and_recovered(tdm_codec codec)
{
    sender *s = sender_new(codec, 300);
    send_stream(s, 20);
    tdm_assembler_config c = config(codec);
    receiver r;
    receiver_init(&r, s, &c);
    /* Lose packets on both sides of the wrap, one a frame's first, one a
     * frame's last (the marker). */
    uint16_t lost[8];
    size_t n_lost = 0;
    lost[n_lost++] = 65533;
    lost[n_lost++] = 65535;
    lost[n_lost++] = 0;
    lost[n_lost++] = 7;
    size_t i_first = 0, i_last = 0;
    for (size_t i = 20; i < s->n_pkts; i++) {
        if (!i_first && s->pkts[i].frame != s->pkts[i - 1].frame)
            i_first = i;
        if (i_first && i > i_first + 3 && s->pkts[i + 1].frame != s->pkts[i].frame) {
            i_last = i;
            break;
        }
    }
    lost[n_lost++] = s->pkts[i_first].seq;
    lost[n_lost++] = s->pkts[i_last].seq;
    uint16_t last_seq = s->pkts[s->n_pkts - 1].seq;

    uint64_t t0 = r.now;
    for (size_t i = 0; i < s->n_pkts; i++) {
        if (!is_in(s->pkts[i].seq, lost, n_lost))
            deliver(&r, &s->pkts[i]);
        r.now += 10; /* everything arrives within the NACK delay */
    }
    assert_true(r.now - t0 < 5 * MS);
    /* Only the frames before the first loss are out (65533 is in the
     * keyframe: none). */
    assert_int_equal(r.n_got, 0);
    int before = r.n_got;

    /* No NACK before the delay; then exactly the missing numbers, in
     * unwrapped order. */
    uint16_t seqs[32];
    assert_int_equal(nacks(&r, seqs, 32), 0);
    uint64_t t = tdm_assembler_poll_timeout(r.a);
    assert_int_equal(t, t0 + 5 * MS + 10 * 4); /* 65533 shows missing when 65534 comes */
    advance(&r, t0 + 5 * MS + 10 * s->n_pkts - r.now);
    size_t n = nacks(&r, seqs, 32);
    assert_int_equal(n, n_lost);
    assert_memory_equal(seqs, lost, n_lost * sizeof lost[0]);
    /* Asked again only after the retry interval (5/4 of the RTT). */
    advance(&r, 49 * MS);
    assert_int_equal(nacks(&r, seqs, 32), 0);
    assert_int_equal(tdm_assembler_poll_timeout(r.a), r.now + 1 * MS);
    advance(&r, 1 * MS);
    n = nacks(&r, seqs, 32);
    assert_int_equal(n, n_lost);
    /* A cap smaller than the list hands out the rest on the next call. */
    advance(&r, 50 * MS);
    size_t n1 = 0, n2 = 0;
    assert_int_equal(tdm_assembler_poll_nack(r.a, seqs, 2, &n1), TDM_OK);
    assert_int_equal(n1, 2);
    assert_int_equal(tdm_assembler_poll_nack(r.a, seqs + 2, 32, &n2), TDM_OK);
    assert_int_equal(n1 + n2, n_lost);
    assert_memory_equal(seqs, lost, n_lost * sizeof lost[0]);

    /* Retransmissions, in reverse order, complete everything. */
    for (size_t k = n_lost; k-- > 0;) {
        deliver(&r, find(s, lost[k]));
        r.now += MS;
    }
    assert_int_equal(r.n_got, 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(r.got[i], i);
    assert_int_equal(r.events, 0);
    assert_true(before < 20);
    const tdm_assembler_stats *st = tdm_assembler_get_stats(r.a);
    assert_int_equal(st->packets_recovered, n_lost);
    assert_int_equal(st->nacks_sent, 3 * n_lost);
    assert_int_equal(nacks(&r, seqs, 32), 0);
    assert_int_equal(tdm_assembler_poll_timeout(r.a), TDM_ASSEMBLER_NO_DEADLINE);
    (void)last_seq;
    receiver_done(&r);
    sender_free(s);
}

static void vp8_lost_packets_recovered(void **state)
{
    (void)state;
    lost_packets_nacked_and_recovered(TDM_CODEC_VP8);
}

static void vp9_lost_packets_recovered(void **state)
{
    (void)state;
    lost_packets_nacked_and_recovered(TDM_CODEC_VP9);
}

/* Sends frames [from, to) of s, skipping packets whose seq is in skip. */
static void deliver_frames(receiver *r, const sender *s, int from, int to, const uint16_t *skip,
                           size_t n_skip)
{
    for (size_t i = 0; i < s->n_pkts; i++) {
        if (s->pkts[i].frame < from || s->pkts[i].frame >= to)
            continue;
        if (!is_in(s->pkts[i].seq, skip, n_skip))
            deliver(r, &s->pkts[i]);
        r->now += 200;
    }
}

static void gives_up_then_recovers_at_keyframe(tdm_codec codec)
{
    sender *s = sender_new(codec, 300);
    send_stream(s, 10); /* frames 0..9 */
    tdm_assembler_config c = config(codec);
    receiver r;
    receiver_init(&r, s, &c);
    /* Lose one packet of frame 4 for good. */
    uint16_t gone = 0;
    for (size_t i = 0; i < s->n_pkts; i++)
        if (s->pkts[i].frame == 4) {
            gone = s->pkts[i + 1].seq;
            break;
        }
    deliver_frames(&r, s, 0, 10, &gone, 1);
    assert_int_equal(r.n_got, 4); /* frames 0..3 */

    /* Three NACKs, 50 ms apart, unanswered; then it gives up. */
    uint16_t seqs[8];
    int asked = 0;
    for (int k = 0; k < 400 && r.events == 0; k++) {
        size_t n = nacks(&r, seqs, 8);
        if (n) {
            assert_int_equal(n, 1);
            assert_int_equal(seqs[0], gone);
            asked++;
        }
        uint64_t t = tdm_assembler_poll_timeout(r.a);
        assert_true(t != TDM_ASSEMBLER_NO_DEADLINE);
        advance(&r, t > r.now ? t - r.now : 0);
    }
    assert_int_equal(asked, 3);
    assert_int_equal(r.events, 1);
    assert_int_equal(r.last_reason, TDM_KEYFRAME_PACKET_LOST);
    /* Frames 5..9 were complete but depend on frame 4: none came out. */
    assert_int_equal(r.n_got, 4);
    const tdm_assembler_stats *st = tdm_assembler_get_stats(r.a);
    assert_int_equal(st->packets_given_up, 1);
    assert_int_equal(st->frames_lost, 1);
    assert_int_equal(st->frames_waiting_keyframe, 5);
    assert_int_equal(nacks(&r, seqs, 8), 0);

    /* More inter frames still go nowhere; the request is repeated while
     * waiting. */
    send_frame(s, 500, false);
    send_frame(s, 500, false);
    deliver_frames(&r, s, 10, 12, NULL, 0);
    assert_int_equal(r.n_got, 4);
    advance(&r, 300 * MS);
    assert_int_equal(r.events, 2);
    assert_int_equal(r.last_reason, TDM_KEYFRAME_STILL_WAITING);

    /* The keyframe (the sender's answer) brings it back. */
    send_frame(s, 3000, true);
    send_frame(s, 600, false);
    send_frame(s, 700, false);
    deliver_frames(&r, s, 12, 15, NULL, 0);
    assert_int_equal(r.n_got, 7);
    assert_int_equal(r.got[4], 12);
    assert_int_equal(r.got[6], 14);
    /* And no more requests. */
    advance(&r, 2000 * MS);
    assert_int_equal(r.events, 2);
    assert_int_equal(tdm_assembler_poll_timeout(r.a), TDM_ASSEMBLER_NO_DEADLINE);
    receiver_done(&r);
    sender_free(s);
}

static void vp8_gives_up_then_recovers(void **state)
{
    (void)state;
    gives_up_then_recovers_at_keyframe(TDM_CODEC_VP8);
}

static void vp9_gives_up_then_recovers(void **state)
{
    (void)state;
    gives_up_then_recovers_at_keyframe(TDM_CODEC_VP9);
}

static void gives_up_on_age_whatever_the_tries(void **state)
{
    (void)state;
    sender *s = sender_new(TDM_CODEC_VP8, 300);
    send_stream(s, 5);
    tdm_assembler_config c = config(TDM_CODEC_VP8);
    c.max_nack_tries = 100;
    c.max_missing_us = 400 * MS;
    receiver r;
    receiver_init(&r, s, &c);
    uint16_t gone = s->pkts[s->n_pkts - 3].seq;
    deliver_frames(&r, s, 0, 5, &gone, 1);
    uint64_t lost_at = r.now;
    uint16_t seqs[8];
    while (r.events == 0) {
        nacks(&r, seqs, 8);
        advance(&r, tdm_assembler_poll_timeout(r.a) - r.now);
    }
    assert_true(r.now - lost_at <= 400 * MS);
    assert_true(r.now - lost_at >= 390 * MS);
    assert_int_equal(tdm_assembler_get_stats(r.a)->packets_given_up, 1);
    receiver_done(&r);
    sender_free(s);
}

static void keyframe_overtakes_incomplete_frames(void **state)
{
    (void)state;
    sender *s = sender_new(TDM_CODEC_VP8, 300);
    send_stream(s, 6);       /* 0..5 */
    send_frame(s, 3000, true); /* 6 */
    send_frame(s, 400, false); /* 7 */
    tdm_assembler_config c = config(TDM_CODEC_VP8);
    receiver r;
    receiver_init(&r, s, &c);
    uint16_t gone = 0;
    for (size_t i = 0; i < s->n_pkts; i++)
        if (s->pkts[i].frame == 3) {
            gone = s->pkts[i].seq;
            break;
        }
    deliver_frames(&r, s, 0, 6, &gone, 1);
    assert_int_equal(r.n_got, 3);
    uint16_t seqs[8];
    advance(&r, 10 * MS);
    assert_int_equal(nacks(&r, seqs, 8), 1);
    /* The keyframe completes: frames 3..5 are skipped at once, without a
     * keyframe request or any more waiting. */
    deliver_frames(&r, s, 6, 8, NULL, 0);
    assert_int_equal(r.n_got, 5);
    assert_int_equal(r.got[3], 6);
    assert_int_equal(r.got[4], 7);
    assert_int_equal(r.events, 0);
    advance(&r, 100 * MS);
    assert_int_equal(nacks(&r, seqs, 8), 0);
    assert_true(tdm_assembler_get_stats(r.a)->packets_skipped > 0);
    /* The late retransmission is too old now. */
    tdm_rtp_drop why;
    const packet *p = find(s, gone);
    assert_int_equal(tdm_assembler_push(r.a, r.now, p->buf, p->len, &why), TDM_OK);
    assert_int_equal(why, TDM_RTP_DROP_TOO_OLD);
    receiver_done(&r);
    sender_free(s);
}

static void picture_id_gap_needs_keyframe(void **state)
{
    (void)state;
    /* A relay dropped frame 3 whole and renumbered the packets, so no
     * sequence number is missing: only the picture ID shows the gap. */
    sender *s = sender_new(TDM_CODEC_VP8, 300);
    send_stream(s, 6);
    tdm_assembler_config c = config(TDM_CODEC_VP8);
    receiver r;
    receiver_init(&r, s, &c);
    uint16_t seq = SEQ0;
    for (size_t i = 0; i < s->n_pkts; i++) {
        if (s->pkts[i].frame == 3)
            continue;
        packet p = s->pkts[i];
        p.buf[2] = (uint8_t)(seq >> 8);
        p.buf[3] = (uint8_t)seq;
        seq++;
        deliver(&r, &p);
        r.now += MS;
    }
    assert_int_equal(r.n_got, 3);
    assert_int_equal(r.events, 1);
    assert_int_equal(r.last_reason, TDM_KEYFRAME_REFERENCE_MISSING);
    assert_int_equal(tdm_assembler_get_stats(r.a)->frames_waiting_keyframe, 1);
    receiver_done(&r);
    sender_free(s);
}

static void stream_start_without_keyframe(void **state)
{
    (void)state;
    sender *s = sender_new(TDM_CODEC_VP8, 300);
    send_stream(s, 4);
    send_frame(s, 2000, true); /* 4 */
    send_frame(s, 500, false); /* 5 */
    tdm_assembler_config c = config(TDM_CODEC_VP8);
    receiver r;
    receiver_init(&r, s, &c);
    /* Join in the middle of frame 1. */
    size_t i = 0;
    while (s->pkts[i].frame < 1)
        i++;
    for (i += 2; i < s->n_pkts; i++) {
        if (s->pkts[i].frame == 4)
            break;
        deliver(&r, &s->pkts[i]);
        r.now += MS;
    }
    assert_int_equal(r.n_got, 0);
    assert_int_equal(r.events, 1);
    assert_int_equal(r.last_reason, TDM_KEYFRAME_STREAM_START);
    /* The keyframe's packets come second-first. */
    size_t k = i;
    deliver(&r, &s->pkts[k + 1]);
    deliver(&r, &s->pkts[k]);
    for (k += 2; k < s->n_pkts; k++)
        deliver(&r, &s->pkts[k]);
    assert_int_equal(r.n_got, 2);
    assert_int_equal(r.got[0], 4);
    assert_int_equal(r.got[1], 5);
    receiver_done(&r);
    sender_free(s);
}

static void first_keyframe_reordered_at_start(void **state)
{
    (void)state;
    /* Before anything is emitted, packets older than the first arrival are
     * still welcome. */
    sender *s = sender_new(TDM_CODEC_VP9, 300);
    send_stream(s, 3);
    tdm_assembler_config c = config(TDM_CODEC_VP9);
    receiver r;
    receiver_init(&r, s, &c);
    for (size_t i = 6; i-- > 0;)
        deliver(&r, &s->pkts[i]);
    for (size_t i = 6; i < s->n_pkts; i++)
        deliver(&r, &s->pkts[i]);
    assert_int_equal(r.n_got, 3);
    assert_int_equal(r.events, 0);
    receiver_done(&r);
    sender_free(s);
}

static void padding_packets_fill_the_sequence(void **state)
{
    (void)state;
    sender *s = sender_new(TDM_CODEC_VP8, 300);
    send_frame(s, 1000, true);
    send_padding(s);
    send_padding(s);
    send_frame(s, 1000, false);
    send_padding(s);
    send_frame(s, 1000, false);
    tdm_assembler_config c = config(TDM_CODEC_VP8);
    receiver r;
    receiver_init(&r, s, &c);
    for (size_t i = 0; i < s->n_pkts; i++)
        deliver(&r, &s->pkts[i]);
    advance(&r, 500 * MS);
    uint16_t seqs[8];
    assert_int_equal(nacks(&r, seqs, 8), 0);
    assert_int_equal(r.n_got, 3);
    assert_int_equal(r.events, 0);
    assert_int_equal(tdm_assembler_get_stats(r.a)->padding_packets, 3);
    receiver_done(&r);
    sender_free(s);
}

static void malformed_packet_loses_its_frame_at_once(void **state)
{
    (void)state;
    sender *s = sender_new(TDM_CODEC_VP9, 300);
    send_stream(s, 4);
    tdm_assembler_config c = config(TDM_CODEC_VP9);
    receiver r;
    receiver_init(&r, s, &c);
    size_t bad = 0;
    while (s->pkts[bad].frame < 2)
        bad++;
    bad += 1;
    for (size_t i = 0; i < s->n_pkts; i++) {
        if (i == bad) {
            /* The RTP header survives; the payload is cut inside its
             * descriptor (I=1 M=1, then nothing). */
            packet p = s->pkts[i];
            p.buf[12] = 0x80;
            p.buf[13] = 0x80;
            tdm_rtp_drop why;
            assert_int_equal(tdm_assembler_push(r.a, r.now, p.buf, 14, &why), TDM_OK);
            assert_int_equal(why, TDM_RTP_DROP_VP9_TRUNCATED);
            drain(&r);
        } else {
            deliver(&r, &s->pkts[i]);
        }
    }
    /* No NACK is worth sending for it: frame 2 is lost right away. */
    assert_int_equal(r.n_got, 2);
    assert_int_equal(r.events, 1);
    assert_int_equal(r.last_reason, TDM_KEYFRAME_PACKET_LOST);
    uint16_t seqs[8];
    advance(&r, 100 * MS);
    assert_int_equal(nacks(&r, seqs, 8), 0);
    assert_int_equal(tdm_assembler_get_stats(r.a)->drops.n[TDM_RTP_DROP_VP9_TRUNCATED], 1);
    receiver_done(&r);
    sender_free(s);
}

static void foreign_and_stale_packets_counted(void **state)
{
    (void)state;
    sender *s = sender_new(TDM_CODEC_VP8, 300);
    send_stream(s, 3);
    tdm_assembler_config c = config(TDM_CODEC_VP8);
    c.max_packet_bytes = 290; /* the sender's packets carry 282 bytes */
    receiver r;
    receiver_init(&r, s, &c);
    deliver_frames(&r, s, 0, 3, NULL, 0);
    assert_int_equal(r.n_got, 3);
    tdm_rtp_drop why;
    packet p = s->pkts[s->n_pkts - 1];
    p.buf[11] ^= 1; /* another SSRC */
    tdm_assembler_push(r.a, r.now, p.buf, p.len, &why);
    assert_int_equal(why, TDM_RTP_DROP_WRONG_SSRC);
    p = s->pkts[s->n_pkts - 1];
    p.buf[1] = (uint8_t)(p.buf[1] & 0x80) | 97; /* another payload type */
    tdm_assembler_push(r.a, r.now, p.buf, p.len, &why);
    assert_int_equal(why, TDM_RTP_DROP_WRONG_PAYLOAD_TYPE);
    tdm_assembler_push(r.a, r.now, s->pkts[0].buf, s->pkts[0].len, &why);
    assert_int_equal(why, TDM_RTP_DROP_TOO_OLD);
    tdm_assembler_push(r.a, r.now, p.buf, 5, &why);
    assert_int_equal(why, TDM_RTP_DROP_TOO_SHORT);
    /* A payload bigger than a slot. */
    tdm_rtp_header h = {.payload_type = PT, .seq = s->seq, .ssrc = SSRC, .timestamp = s->ts};
    uint8_t big[400] = {0x10, 0x01};
    size_t n;
    assert_int_equal(tdm_rtp_write(&h, big, 292, 0, p.buf, sizeof p.buf, &n), TDM_OK);
    tdm_assembler_push(r.a, r.now, p.buf, n, &why);
    assert_int_equal(why, TDM_RTP_DROP_PACKET_TOO_BIG);
    const tdm_assembler_stats *st = tdm_assembler_get_stats(r.a);
    assert_int_equal(tdm_rtp_drop_counts_total(&st->drops), 5);
    assert_int_equal(st->packets_received, s->n_pkts + 5);
    receiver_done(&r);
    sender_free(s);
}

static void window_overflow_drops_the_oldest(void **state)
{
    (void)state;
    sender *s = sender_new(TDM_CODEC_VP8, 300);
    send_stream(s, 40);
    tdm_assembler_config c = config(TDM_CODEC_VP8);
    c.ring_slots = 64;
    receiver r;
    receiver_init(&r, s, &c);
    /* Frame 1's first packet never comes; more than 64 packets pile up
     * behind it before anyone gives up on it. */
    size_t i1 = 0;
    while (s->pkts[i1].frame < 1)
        i1++;
    uint16_t gone = s->pkts[i1].seq;
    deliver_frames(&r, s, 0, 40, &gone, 1);
    assert_true(r.events >= 1);
    assert_int_equal(r.got[0], 0);
    assert_true(tdm_assembler_get_stats(r.a)->packets_skipped > 0);
    /* It recovers at the next keyframe. */
    send_frame(s, 3000, true);
    send_frame(s, 100, false);
    deliver_frames(&r, s, 40, 42, NULL, 0);
    assert_int_equal(r.got[r.n_got - 2], 40);
    assert_int_equal(r.got[r.n_got - 1], 41);
    receiver_done(&r);
    sender_free(s);
}

static void oversized_frame_is_dropped(void **state)
{
    (void)state;
    sender *s = sender_new(TDM_CODEC_VP8, 300);
    send_frame(s, 1500, true);
    send_frame(s, 5000, false); /* over the limit */
    send_frame(s, 500, false);
    send_frame(s, 1500, true);
    tdm_assembler_config c = config(TDM_CODEC_VP8);
    c.max_frame_bytes = 4000;
    receiver r;
    receiver_init(&r, s, &c);
    deliver_frames(&r, s, 0, 4, NULL, 0);
    assert_int_equal(r.n_got, 2);
    assert_int_equal(r.got[0], 0);
    assert_int_equal(r.got[1], 3);
    assert_int_equal(r.events, 1);
    assert_int_equal(r.last_reason, TDM_KEYFRAME_FRAME_BROKEN);
    const tdm_assembler_stats *st = tdm_assembler_get_stats(r.a);
    assert_int_equal(st->frames_too_big, 1);
    assert_int_equal(st->frames_waiting_keyframe, 1);
    receiver_done(&r);
    sender_free(s);
}

static void sequence_restart_starts_over(void **state)
{
    (void)state;
    sender *s = sender_new(TDM_CODEC_VP8, 300);
    send_stream(s, 5);
    tdm_assembler_config c = config(TDM_CODEC_VP8);
    receiver r;
    receiver_init(&r, s, &c);
    deliver_frames(&r, s, 0, 5, NULL, 0);
    assert_int_equal(r.n_got, 5);
    /* The sender restarts 20000 numbers back, with a keyframe, and keeps
     * going: after a burst of "too old" the assembler follows it. */
    s->seq = (uint16_t)(s->seq - 20000);
    for (int f = 0; f < 30; f++)
        send_frame(s, 600, f == 0 || f == 20);
    deliver_frames(&r, s, 5, 35, NULL, 0);
    assert_true(r.n_got > 5);
    assert_int_equal(r.got[5], 25); /* the first keyframe after the restart */
    assert_int_equal(r.got[r.n_got - 1], 34);
    receiver_done(&r);
    sender_free(s);
}

static void non_reference_frame_loss_is_harmless(void **state)
{
    (void)state;
    sender *s = sender_new(TDM_CODEC_VP8, 300);
    send_stream(s, 6);
    tdm_assembler_config c = config(TDM_CODEC_VP8);
    receiver r;
    receiver_init(&r, s, &c);
    /* Mark frame 3 non-reference (N=1) and lose its second packet. */
    uint16_t gone = 0;
    for (size_t i = 0; i < s->n_pkts; i++) {
        if (s->pkts[i].frame != 3)
            continue;
        s->pkts[i].buf[12] |= 0x20;
        if (!gone && s->pkts[i].buf[12] & 0x10)
            gone = (uint16_t)(s->pkts[i].seq + 1);
    }
    deliver_frames(&r, s, 0, 6, &gone, 1);
    uint16_t seqs[8];
    while (tdm_assembler_get_stats(r.a)->packets_given_up == 0) {
        nacks(&r, seqs, 8);
        advance(&r, tdm_assembler_poll_timeout(r.a) - r.now);
    }
    assert_int_equal(r.events, 0);
    assert_int_equal(r.n_got, 5);
    assert_int_equal(r.got[3], 4);
    assert_int_equal(r.got[4], 5);
    receiver_done(&r);
    sender_free(s);
}

/* A long run over a lossy, reordering, duplicating link, with NACKs
 * answered after a delay and keyframe requests answered like a PLI. */
static void lossy_link_soak(tdm_codec codec, uint32_t loss_per_mille, int min_frames)
{
    sender *s = sender_new(codec, 1200);
    tdm_assembler_config c = config(codec);
    c.max_nack_tries = loss_per_mille > 100 ? 2 : 5;
    receiver r;
    receiver_init(&r, s, &c);
    tdm_assembler_set_rtt(r.a, 30 * MS);
    typedef struct flight {
        uint64_t at;
        size_t idx;
    } flight;
    static flight air[MAX_PACKETS * 2];
    size_t n_air = 0;
    size_t sent_upto = 0;
    bool key_requested = false;
    uint64_t key_due = 0;
    for (int f = 0; f < 600; f++) {
        bool key = f == 0 || (key_requested && r.now >= key_due);
        if (key)
            key_requested = false;
        send_frame(s, key ? 20000 : 200 + rnd() % 8000, key);
        /* Put the new packets on the link. */
        for (; sent_upto < s->n_pkts; sent_upto++) {
            if (rnd() % 1000 < loss_per_mille)
                continue;
            air[n_air++] = (flight){r.now + 5 * MS + rnd() % (8 * MS), sent_upto};
            if (rnd() % 100 == 0)
                air[n_air++] = (flight){r.now + 20 * MS, sent_upto};
        }
        /* 33 ms of time in 1 ms steps. */
        for (int ms = 0; ms < 33; ms++) {
            r.now += MS;
            for (size_t k = 0; k < n_air;) {
                if (air[k].at <= r.now) {
                    deliver(&r, &s->pkts[air[k].idx]);
                    air[k] = air[--n_air];
                } else {
                    k++;
                }
            }
            tdm_assembler_handle_timeout(r.a, r.now);
            drain(&r);
            uint16_t seqs[256];
            size_t n = nacks(&r, seqs, 256);
            for (size_t k = 0; k < n; k++) {
                /* The sender's cache finds it; the retransmission can be
                 * lost too. */
                const packet *p = find(s, seqs[k]);
                assert_non_null(p);
                if (rnd() % 1000 >= loss_per_mille)
                    air[n_air++] = (flight){r.now + 15 * MS, (size_t)(p - s->pkts)};
            }
            int before = r.events;
            drain(&r);
            if (r.events > before || (r.events && r.expect_key_next && !key_requested)) {
                if (!key_requested) {
                    key_requested = true;
                    key_due = r.now + 15 * MS;
                }
            }
        }
    }
    const tdm_assembler_stats *st = tdm_assembler_get_stats(r.a);
    /* Most frames make it, and every one that did was checked by drain. */
    assert_true(r.n_got >= min_frames);
    assert_int_equal(st->frames_emitted, (uint64_t)r.n_got);
    if (loss_per_mille > 0)
        assert_true(st->packets_recovered > 0);
    if (loss_per_mille > 100) {
        assert_true(st->packets_given_up > 0);
        assert_true(r.events > 0);
        assert_true(st->keyframes_emitted > 1);
    }
    receiver_done(&r);
    sender_free(s);
}

static void vp8_lossy_link_soak(void **state)
{
    (void)state;
    lossy_link_soak(TDM_CODEC_VP8, 30, 590);
    /* At 25% loss and two tries, packets are given up and keyframes do the
     * recovery. */
    lossy_link_soak(TDM_CODEC_VP8, 250, 100);
}

static void vp9_lossy_link_soak(void **state)
{
    (void)state;
    lossy_link_soak(TDM_CODEC_VP9, 30, 590);
    lossy_link_soak(TDM_CODEC_VP9, 250, 100);
}

static void config_is_checked(void **state)
{
    (void)state;
    tdm_assembler *a = NULL;
    tdm_assembler_config c;
    tdm_assembler_config_default(&c, TDM_CODEC_OPUS);
    assert_int_equal(tdm_assembler_new(&c, &a), TDM_ERR_INVALID);
    tdm_assembler_config_default(&c, TDM_CODEC_VP9);
    c.ring_slots = 1000;
    assert_int_equal(tdm_assembler_new(&c, &a), TDM_ERR_INVALID);
    c.ring_slots = 8;
    assert_int_equal(tdm_assembler_new(&c, &a), TDM_ERR_INVALID);
    c.ring_slots = 16;
    c.max_packet_bytes = 0;
    assert_int_equal(tdm_assembler_new(&c, &a), TDM_ERR_INVALID);
    assert_null(a);
    assert_int_equal(tdm_assembler_new(NULL, &a), TDM_OK);
    tdm_encoded_frame f;
    assert_int_equal(tdm_assembler_poll_frame(a, &f, NULL), TDM_AGAIN);
    uint16_t seqs[4];
    size_t n = 9;
    assert_int_equal(tdm_assembler_poll_nack(a, seqs, 4, &n), TDM_AGAIN);
    assert_int_equal(n, 0);
    tdm_assembler_event ev;
    assert_int_equal(tdm_assembler_poll_event(a, &ev), TDM_AGAIN);
    assert_int_equal(tdm_assembler_poll_timeout(a), TDM_ASSEMBLER_NO_DEADLINE);
    assert_int_equal(tdm_assembler_push(a, 0, NULL, 5, NULL), TDM_ERR_INVALID);
    tdm_assembler_reset(a);
    tdm_assembler_free(a);
    tdm_assembler_free(NULL);
    assert_string_equal(tdm_keyframe_reason_name(TDM_KEYFRAME_PACKET_LOST), "packet_lost");
    assert_string_equal(tdm_keyframe_reason_name(TDM_KEYFRAME_STILL_WAITING), "still_waiting");
    assert_string_equal(tdm_keyframe_reason_name((tdm_keyframe_reason)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vp8_in_order),
        cmocka_unit_test(vp9_in_order),
        cmocka_unit_test(vp8_reordered_and_duplicated),
        cmocka_unit_test(vp9_reordered_and_duplicated),
        cmocka_unit_test(vp8_lost_packets_recovered),
        cmocka_unit_test(vp9_lost_packets_recovered),
        cmocka_unit_test(vp8_gives_up_then_recovers),
        cmocka_unit_test(vp9_gives_up_then_recovers),
        cmocka_unit_test(gives_up_on_age_whatever_the_tries),
        cmocka_unit_test(keyframe_overtakes_incomplete_frames),
        cmocka_unit_test(picture_id_gap_needs_keyframe),
        cmocka_unit_test(stream_start_without_keyframe),
        cmocka_unit_test(first_keyframe_reordered_at_start),
        cmocka_unit_test(padding_packets_fill_the_sequence),
        cmocka_unit_test(malformed_packet_loses_its_frame_at_once),
        cmocka_unit_test(foreign_and_stale_packets_counted),
        cmocka_unit_test(window_overflow_drops_the_oldest),
        cmocka_unit_test(oversized_frame_is_dropped),
        cmocka_unit_test(sequence_restart_starts_over),
        cmocka_unit_test(non_reference_frame_loss_is_harmless),
        cmocka_unit_test(vp8_lossy_link_soak),
        cmocka_unit_test(vp9_lossy_link_soak),
        cmocka_unit_test(config_is_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
