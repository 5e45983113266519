/* fuzz_assembler: drives the frame assembler with a program read from the
 * input: a sender packetizes frames into an outbox, and the program
 * delivers, drops, repeats, reorders and corrupts its packets, jumps the
 * sequence numbers, injects raw packets, lets time pass, resets. After
 * every step all output is drained and checked: frames come out in
 * increasing sequence order, the first frame and the first after a
 * keyframe request are keyframes, NACKs stay within their buffer, and, as
 * long as the program injected nothing foreign, every frame is
 * byte-for-byte a frame the sender sent.
 *
 * Input: byte 0 picks the codec (bit 0), the ring size (bits 1-2: 16, 64,
 * 256, 1024 slots) and NACK tries (bits 3-4); then operations, each an
 * opcode byte and its argument bytes (see the switch). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_assembler.h"
#include "tdm_vp8_rtp.h"
#include "tdm_vp9_rtp.h"

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_assembler: invariant failed: %s (line %d)\n", #cond,  \
                    __LINE__);                                                          \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#define OUTBOX 256
#define MAX_PKT 320
#define MAX_FRAMES 512
#define TS0 0xfffff000u
#define TS_STEP 3000u
#define SSRC 0x01020304u

typedef struct pkt {
    uint8_t buf[MAX_PKT];
    size_t len;
} pkt;

typedef struct sent {
    uint32_t hash;
    size_t len;
    bool key;
} sent;

typedef struct state {
    tdm_codec codec;
    tdm_assembler *a;
    tdm_vp8_packetizer vp8;
    tdm_vp9_packetizer vp9;
    uint16_t seq;
    uint32_t ts;
    pkt outbox[OUTBOX];
    size_t n_out, next_out; /* ring: n_out packets written in all */
    sent frames[MAX_FRAMES];
    int n_frames;
    bool foreign; /* raw or corrupted packets were delivered */
    uint64_t now;
    uint64_t last_seq;
    bool any_frame, want_key;
    uint32_t rng;
} state;

static uint32_t hash(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static uint8_t next_byte(state *s)
{
    s->rng = s->rng * 1103515245u + 12345u;
    return (uint8_t)(s->rng >> 16);
}

static void drain(state *s)
{
    tdm_assembler_event ev;
    tdm_encoded_frame f;
    tdm_assembler_frame_info info;
    for (;;) {
        while (tdm_assembler_poll_event(s->a, &ev) == TDM_OK) {
            CHECK(ev.type == TDM_ASSEMBLER_KEYFRAME_NEEDED);
            CHECK(ev.reason >= TDM_KEYFRAME_STREAM_START &&
                  ev.reason <= TDM_KEYFRAME_STILL_WAITING);
            s->want_key = true;
        }
        if (tdm_assembler_poll_frame(s->a, &f, &info) != TDM_OK)
            break;
        CHECK(f.len >= 1 && f.data != NULL && f.codec == s->codec);
        CHECK(info.packets == info.last_seq - info.first_seq + 1);
        CHECK((uint32_t)info.timestamp == f.rtp_timestamp);
        if (s->any_frame)
            CHECK(info.first_seq > s->last_seq);
        if (s->want_key)
            CHECK(f.keyframe);
        s->want_key = false;
        s->any_frame = true;
        s->last_seq = info.last_seq;
        uint32_t h = hash(f.data, f.len);
        if (!s->foreign) {
            uint32_t idx = (f.rtp_timestamp - TS0) / TS_STEP;
            CHECK((f.rtp_timestamp - TS0) % TS_STEP == 0 && idx < (uint32_t)s->n_frames);
            CHECK(s->frames[idx].len == f.len && s->frames[idx].hash == h &&
                  s->frames[idx].key == f.keyframe);
        }
    }
    uint16_t seqs[64];
    size_t n = 0;
    while (tdm_assembler_poll_nack(s->a, seqs, 64, &n) == TDM_OK)
        CHECK(n >= 1 && n <= 64);
    CHECK(n == 0);
    uint64_t t = tdm_assembler_poll_timeout(s->a);
    (void)t;
}

static void push(state *s, const uint8_t *buf, size_t len)
{
    tdm_rtp_drop why = TDM_RTP_DROP_COUNT;
    CHECK(tdm_assembler_push(s->a, s->now, buf, len, &why) == TDM_OK);
    CHECK(why < TDM_RTP_DROP_COUNT);
    drain(s);
}

static void send_frame(state *s, uint8_t flags, uint8_t size_byte, uint8_t mtu_byte)
{
    if (s->n_frames == MAX_FRAMES)
        return;
    bool key = flags & 1;
    size_t len = 1 + (size_t)size_byte * 8;
    static uint8_t data[1 + 255 * 8];
    for (size_t i = 0; i < len; i++)
        data[i] = next_byte(s);
    if (s->codec == TDM_CODEC_VP8) {
        if (key && len >= 10) {
            static const uint8_t head[] = {0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00};
            memcpy(data, head, sizeof head);
        } else {
            data[0] |= 1;
            key = false;
        }
    } else {
        /* Profile 0 key frame start (64x64), or an inter frame. */
        static const uint8_t head[] = {0x82, 0x49, 0x83, 0x42, 0x00, 0x00, 0x3f, 0x00, 0x3f};
        if (key && len >= sizeof head)
            memcpy(data, head, sizeof head);
        else {
            data[0] = 0x86;
            key = false;
        }
    }
    tdm_encoded_frame f = {.codec = s->codec, .data = data, .len = len, .keyframe = key};
    tdm_rtp_header h = {.payload_type = 96, .ssrc = SSRC, .timestamp = s->ts};
    size_t mtu = 40 + mtu_byte % (MAX_PKT - 40);
    tdm_status st = s->codec == TDM_CODEC_VP8 ? tdm_vp8_packetizer_start(&s->vp8, &f, mtu - 12)
                                              : tdm_vp9_packetizer_start(&s->vp9, &f, mtu - 12);
    CHECK(st == TDM_OK);
    s->frames[s->n_frames++] = (sent){hash(data, len), len, key};
    bool last = false;
    while (!last) {
        pkt *p = &s->outbox[s->n_out++ % OUTBOX];
        size_t n = 0;
        st = s->codec == TDM_CODEC_VP8
                 ? tdm_vp8_packetizer_next(&s->vp8, p->buf + 12, MAX_PKT - 12, &n, &last)
                 : tdm_vp9_packetizer_next(&s->vp9, p->buf + 12, MAX_PKT - 12, &n, &last);
        CHECK(st == TDM_OK);
        h.seq = s->seq++;
        h.marker = last;
        CHECK(tdm_rtp_write(&h, p->buf + 12, n, 0, p->buf, MAX_PKT, &p->len) == TDM_OK);
    }
    s->ts += TS_STEP;
    /* Packets overwritten in the outbox before delivery are simply lost. */
    if (s->n_out - s->next_out > OUTBOX)
        s->next_out = s->n_out - OUTBOX;
}

static const pkt *outbox_at(const state *s, uint8_t k)
{
    if (s->n_out == 0)
        return NULL;
    size_t held = s->n_out < OUTBOX ? s->n_out : OUTBOX;
    return &s->outbox[(s->n_out - 1 - k % held) % OUTBOX];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static state st;
    state *s = &st;
    memset(s, 0, sizeof *s);
    s->codec = data[0] & 1 ? TDM_CODEC_VP9 : TDM_CODEC_VP8;
    tdm_assembler_config cfg;
    tdm_assembler_config_default(&cfg, s->codec);
    cfg.ring_slots = 16u << (2 * ((data[0] >> 1) & 3));
    cfg.max_nack_tries = 1 + ((data[0] >> 3) & 3);
    cfg.max_packet_bytes = MAX_PKT;
    if (tdm_assembler_new(&cfg, &s->a) != TDM_OK)
        abort();
    tdm_vp8_packetizer_init(&s->vp8, 0x7ff0, 250);
    tdm_vp9_packetizer_init(&s->vp9, 0x7ff0, 250, data[0] & 0x20);
    s->seq = 65500;
    s->ts = TS0;
    s->now = 1000000;
    s->want_key = true;
    s->rng = data[0];

    size_t pos = 1;
#define ARG() (pos < size ? data[pos++] : 0)
    while (pos < size) {
        uint8_t op = data[pos++];
        switch (op % 10) {
        case 0: { /* a raw packet from the input */
            size_t len = ARG();
            if (len > size - pos)
                len = size - pos;
            s->foreign = true;
            push(s, data + pos, len);
            pos += len;
            break;
        }
        case 1: { /* the sender sends a frame into the outbox */
            uint8_t flags = ARG(), sz = ARG(), mtu = ARG();
            send_frame(s, flags, sz, mtu);
            break;
        }
        case 2: /* deliver the next packets in order */
        case 3: {
            int n = 1 + ARG() % 16;
            for (int i = 0; i < n && s->next_out < s->n_out; i++)
                push(s, s->outbox[s->next_out % OUTBOX].buf,
                     s->outbox[s->next_out % OUTBOX].len), s->next_out++;
            break;
        }
        case 4: /* lose the next packet */
            if (s->next_out < s->n_out)
                s->next_out++;
            break;
        case 5: { /* (re)deliver a recent packet: a duplicate or a retransmission */
            const pkt *p = outbox_at(s, ARG());
            if (p)
                push(s, p->buf, p->len);
            break;
        }
        case 6: /* time passes */
            s->now += (uint64_t)ARG() * 4000;
            tdm_assembler_handle_timeout(s->a, s->now);
            drain(s);
            break;
        case 7: { /* the sender jumps its sequence numbers */
            uint8_t b = ARG();
            s->seq = (uint16_t)(s->seq + (uint16_t)(b * b * 2));
            break;
        }
        case 8: { /* a recent packet with one byte changed */
            const pkt *p = outbox_at(s, ARG());
            uint8_t at = ARG(), val = ARG();
            if (p) {
                pkt q = *p;
                q.buf[at % q.len] = val;
                s->foreign = true;
                push(s, q.buf, q.len);
            }
            break;
        }
        default: { /* RTT changes, or (rarely) the receiver resets */
            uint8_t b = ARG();
            if (b == 0xff) {
                tdm_assembler_reset(s->a);
                s->want_key = true;
            } else {
                tdm_assembler_set_rtt(s->a, (uint64_t)b * 2000);
            }
            break;
        }
        }
    }
#undef ARG
    const tdm_assembler_stats *stats = tdm_assembler_get_stats(s->a);
    CHECK(stats->frames_emitted <= stats->packets_stored);
    tdm_assembler_free(s->a);
    return 0;
}
