/* The relay's sans-IO core, wired together in memory with a fake clock:
 * a publisher (synthetic desktop -> encoder -> VP8 packetizer) sends to the
 * relay (forwarding room, NACK cache, keyframe throttle), which forwards to
 * two subscribers (frame assembler -> decoder) over links that delay and
 * drop packets. Subscribers' NACKs travel back as real RTCP, the relay
 * answers them from its cache in each subscriber's own sequence numbers,
 * and keyframe requests (a join, a PLI) reach the publisher throttled. The
 * first subscriber decodes every frame, the late joiner every frame from
 * the keyframe its join asked for, both in order; nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_assembler.h"
#include "tdm_incremental.h"
#include "tdm_keyframe_throttle.h"
#include "tdm_nack_cache.h"
#include "tdm_room.h"
#include "tdm_rtcp.h"
#include "tdm_rtp.h"
#include "tdm_stamp.h"
#include "tdm_synthetic.h"
#include "tdm_video_decoder.h"
#include "tdm_video_encoder.h"
#include "tdm_vp8_rtp.h"

#define W 640
#define H 360
#define FRAMES 60
#define LATE_JOIN_AT 25
#define FRAME_US 33333u
#define MTU 1200
#define PUB_SSRC 0x11110001u
#define PT 96
#define LOSS_PCT 5
#define ONE_WAY_US 20000u
#define JITTER_US 5000u
#define MAX_AIR 4096
#define SUBS 2

static uint64_t rng_state = 0x243F6A8885A308D3u;
static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32);
}

/* A datagram in flight towards a subscriber (RTP) or the relay (RTCP). */
typedef struct datagram {
    uint64_t at_us;
    int to;   /* subscriber index, or -1 for the relay */
    size_t len;
    uint8_t buf[MTU + 64];
} datagram;

typedef struct world {
    datagram *air;
    size_t nair;
    uint64_t lost, resent, nacks_sent, plis_sent;
} world;

static void send_datagram(world *w, uint64_t now, int to, const uint8_t *buf, size_t len,
                          bool lossy)
{
    if (lossy && rnd() % 100 < LOSS_PCT) {
        w->lost++;
        return;
    }
    assert_true(w->nair < MAX_AIR);
    assert_true(len <= sizeof w->air[0].buf);
    datagram *d = &w->air[w->nair++];
    d->at_us = now + ONE_WAY_US + rnd() % JITTER_US;
    d->to = to;
    d->len = len;
    memcpy(d->buf, buf, len);
}

typedef struct subscriber {
    bool joined;
    int room_id;
    uint32_t ssrc; /* what the room sends it as */
    tdm_assembler *asm_;
    tdm_video_decoder *dec;
    int last_number, decoded, first_number;
} subscriber;

static void join(tdm_room *room, subscriber *s, uint32_t ssrc, uint16_t first_seq)
{
    tdm_room_subscriber_stream st = {.codec = TDM_CODEC_VP8, .payload_type = PT, .ssrc = ssrc,
                                     .first_seq = first_seq};
    tdm_room_subscriber_config cfg = {.streams = &st, .stream_count = 1};
    assert_int_equal(tdm_room_add_subscriber(room, &cfg, &s->room_id), TDM_OK);
    s->ssrc = ssrc;
    s->joined = true;
    s->last_number = -1;
    s->first_number = -1;
    tdm_assembler_config acfg;
    tdm_assembler_config_default(&acfg, TDM_CODEC_VP8);
    acfg.initial_rtt_us = 2 * ONE_WAY_US + JITTER_US;
    assert_int_equal(tdm_assembler_new(&acfg, &s->asm_), TDM_OK);
    tdm_video_decoder_config dcfg;
    tdm_video_decoder_config_init(&dcfg, TDM_CODEC_VP8);
    tdm_error err;
    assert_int_equal(tdm_video_decoder_new(&dcfg, &s->dec, &err), TDM_OK);
}

/* The relay's handling of one RTCP datagram from subscriber `from`. */
static void relay_rtcp(world *w, uint64_t now, tdm_room *room, tdm_nack_cache *cache,
                       const subscriber *subs, int from, const uint8_t *buf, size_t len,
                       uint64_t *resent_ok)
{
    tdm_rtcp_iter it;
    tdm_rtcp_drop why;
    assert_int_equal(tdm_rtcp_iter_init(&it, buf, len, &why), TDM_OK);
    tdm_rtcp_item item;
    while (tdm_rtcp_iter_next(&it, &item) == TDM_OK) {
        if (item.type == TDM_RTCP_PLI) {
            assert_int_equal(item.u.pli.media_ssrc, subs[from].ssrc);
            assert_int_equal(tdm_room_request_keyframe(room, subs[from].room_id, item.u.pli.media_ssrc,
                                                       TDM_ROOM_KEYFRAME_PLI),
                             TDM_OK);
        } else if (item.type == TDM_RTCP_NACK) {
            uint16_t seqs[512];
            size_t n = tdm_rtcp_nack_seqs(&item.u.nack, seqs, 512);
            for (size_t i = 0; i < n && i < 512; i++) {
                uint32_t pub_ssrc;
                uint16_t pub_seq;
                if (tdm_room_map_nack(room, subs[from].room_id, item.u.nack.media_ssrc, seqs[i],
                                      &pub_ssrc, &pub_seq) != TDM_OK)
                    continue;
                const uint8_t *pkt;
                size_t plen;
                tdm_nack_miss miss;
                if (tdm_nack_cache_get(cache, pub_seq, &pkt, &plen, &miss) != TDM_OK)
                    continue;
                uint8_t out[MTU + 64];
                size_t olen;
                assert_int_equal(tdm_room_write_retransmission(room, subs[from].room_id,
                                                               item.u.nack.media_ssrc, seqs[i], pkt,
                                                               plen, out, sizeof out, &olen),
                                 TDM_OK);
                w->resent++;
                (*resent_ok)++;
                send_datagram(w, now, from, out, olen, true);
            }
        }
    }
}

static void relay_core_repairs_loss_for_every_subscriber(void **state)
{
    (void)state;
    tdm_error err = {{0}};
    world w = {.air = calloc(MAX_AIR, sizeof(datagram))};
    assert_non_null(w.air);

    /* Publisher. */
    tdm_synthetic_config scfg = {.width = W, .height = H, .scenario = TDM_SCENARIO_TYPING};
    tdm_source *src;
    assert_int_equal(tdm_synthetic_open(&scfg, &src, &err), TDM_OK);
    tdm_incremental *inc;
    assert_int_equal(tdm_incremental_new(W, H, TDM_MATRIX_BT601, &inc), TDM_OK);
    tdm_video_encoder_config ecfg;
    tdm_video_encoder_config_init(&ecfg, TDM_CODEC_VP8, W, H);
    ecfg.bitrate_kbps = 800;
    tdm_video_encoder *enc;
    assert_int_equal(tdm_video_encoder_new(&ecfg, &enc, &err), TDM_OK);
    tdm_vp8_packetizer pk;
    tdm_vp8_packetizer_init(&pk, 100, 0);
    uint16_t pub_seq = 65000;

    /* Relay. */
    tdm_room_config rcfg;
    tdm_room_config_default(&rcfg);
    tdm_room *room;
    assert_int_equal(tdm_room_new(&rcfg, &room), TDM_OK);
    tdm_room_stream pub_stream = {.codec = TDM_CODEC_VP8, .ssrc = PUB_SSRC, .payload_type = PT};
    tdm_room_publisher_config pcfg = {.streams = &pub_stream, .stream_count = 1};
    assert_int_equal(tdm_room_set_publisher(room, &pcfg), TDM_OK);
    tdm_nack_cache_config ncfg;
    tdm_nack_cache_config_default(&ncfg);
    tdm_nack_cache *cache;
    assert_int_equal(tdm_nack_cache_new(&ncfg, &cache), TDM_OK);
    tdm_keyframe_throttle_config tcfg;
    tdm_keyframe_throttle_config_default(&tcfg);
    tdm_keyframe_throttle *throttle;
    assert_int_equal(tdm_keyframe_throttle_new(&tcfg, &throttle), TDM_OK);

    subscriber subs[SUBS] = {{0}};
    join(room, &subs[0], 0x22220001u, 65530); /* its own numbers cross the wrap too */
    uint64_t resent_ok = 0, keyframes_asked = 0;
    bool keyframe_pending = false;

    uint64_t end = (uint64_t)(FRAMES + 10) * FRAME_US + 2000000u;
    for (uint64_t now = 0; now < end; now += 1000) {
        if (now == (uint64_t)LATE_JOIN_AT * FRAME_US - (LATE_JOIN_AT * FRAME_US) % 1000)
            join(room, &subs[1], 0x33330001u, 1000);

        /* Keyframe requests: room events -> throttle -> the encoder. */
        tdm_room_event ev;
        while (tdm_room_poll_event(room, &ev) == TDM_OK) {
            tdm_keyframe_trigger t = ev.reason == TDM_ROOM_KEYFRAME_JOIN ? TDM_KEYFRAME_TRIGGER_JOIN
                                                                         : TDM_KEYFRAME_TRIGGER_PLI;
            if (tdm_keyframe_throttle_request(throttle, t, now))
                keyframe_pending = true;
        }
        if (tdm_keyframe_throttle_poll_timeout(throttle) <= now &&
            tdm_keyframe_throttle_handle_timeout(throttle, now))
            keyframe_pending = true;

        /* The publisher captures and sends a frame (publisher -> relay is clean). */
        /* Frames go on past FRAMES: a lost last packet of a stream that
         * stopped could never be noticed, as no later packet shows the gap. */
        if (now % FRAME_US < 1000 && now / FRAME_US < FRAMES + 10) {
            int n = (int)(now / FRAME_US);
            tdm_frame f;
            assert_int_equal(tdm_source_next(src, now + 1, &f, &err), TDM_OK);
            const tdm_tilemap *changed;
            assert_int_equal(tdm_incremental_convert(inc, &f, &changed), TDM_OK);
            if (keyframe_pending) {
                tdm_video_encoder_force_keyframe(enc);
                keyframes_asked++;
                keyframe_pending = false;
            }
            tdm_encoded_frame ef;
            bool produced;
            assert_int_equal(tdm_video_encoder_encode(enc, tdm_incremental_image(inc), changed,
                                                      now + 1, &ef, &produced, &err),
                             TDM_OK);
            (void)n;
            if (produced) {
                if (ef.keyframe)
                    tdm_keyframe_throttle_on_keyframe(throttle, now);
                assert_int_equal(tdm_vp8_packetizer_start(&pk, &ef, MTU - 12), TDM_OK);
                bool last = false;
                while (!last) {
                    uint8_t payload[MTU], pkt[MTU + 64];
                    size_t plen, len;
                    assert_int_equal(tdm_vp8_packetizer_next(&pk, payload, sizeof payload, &plen, &last),
                                     TDM_OK);
                    tdm_rtp_header h = {.marker = last, .payload_type = PT, .seq = pub_seq++,
                                        .timestamp = ef.rtp_timestamp, .ssrc = PUB_SSRC};
                    assert_int_equal(tdm_rtp_write(&h, payload, plen, 0, pkt, sizeof pkt, &len), TDM_OK);
                    /* The relay: cache, then forward to everyone. */
                    assert_int_equal(tdm_nack_cache_put(cache, h.seq, pkt, len), TDM_OK);
                    tdm_room_output out;
                    assert_int_equal(tdm_room_forward(room, now, pkt, len, &out), TDM_OK);
                    for (size_t i = 0; i < out.count; i++)
                        for (int s = 0; s < SUBS; s++)
                            if (subs[s].joined && subs[s].room_id == out.packets[i].subscriber)
                                send_datagram(&w, now, s, out.packets[i].data, out.packets[i].len, true);
                }
            }
        }

        /* Deliver what is due. */
        for (size_t i = 0; i < w.nair;) {
            if (w.air[i].at_us > now) {
                i++;
                continue;
            }
            datagram d = w.air[i];
            w.air[i] = w.air[--w.nair];
            if (d.to < 0) {
                int from = (int)d.buf[d.len - 1]; /* test framing: sender index appended */
                relay_rtcp(&w, now, room, cache, subs, from, d.buf, d.len - 1, &resent_ok);
            } else {
                tdm_rtp_drop why;
                assert_int_equal(tdm_assembler_push(subs[d.to].asm_, now, d.buf, d.len, &why), TDM_OK);
            }
        }

        /* Subscribers: timers, NACKs and PLIs back to the relay, frames out. */
        for (int s = 0; s < SUBS; s++) {
            subscriber *sub = &subs[s];
            if (!sub->joined)
                continue;
            if (tdm_assembler_poll_timeout(sub->asm_) <= now)
                tdm_assembler_handle_timeout(sub->asm_, now);
            uint16_t seqs[256];
            size_t count;
            uint8_t rtcp[MTU + 1];
            size_t rlen;
            while (tdm_assembler_poll_nack(sub->asm_, seqs, 256, &count) == TDM_OK && count > 0) {
                assert_int_equal(tdm_rtcp_write_nack(0x99990000u + (uint32_t)s, sub->ssrc, seqs, count,
                                                     rtcp, MTU, &rlen),
                                 TDM_OK);
                rtcp[rlen] = (uint8_t)s;
                w.nacks_sent++;
                send_datagram(&w, now, -1, rtcp, rlen + 1, true);
            }
            tdm_assembler_event aev;
            while (tdm_assembler_poll_event(sub->asm_, &aev) == TDM_OK) {
                assert_int_equal(tdm_rtcp_write_pli(0x99990000u + (uint32_t)s, sub->ssrc, rtcp, MTU, &rlen),
                                 TDM_OK);
                rtcp[rlen] = (uint8_t)s;
                w.plis_sent++;
                send_datagram(&w, now, -1, rtcp, rlen + 1, true);
            }
            tdm_encoded_frame got;
            tdm_assembler_frame_info info;
            while (tdm_assembler_poll_frame(sub->asm_, &got, &info) == TDM_OK) {
                tdm_i420 pic;
                bool shown;
                assert_int_equal(tdm_video_decoder_decode(sub->dec, got.data, got.len, &pic, &shown, &err),
                                 TDM_OK);
                assert_true(shown);
                tdm_stamp st;
                assert_int_equal(tdm_stamp_read_luma(pic.y, pic.stride_y, pic.width, pic.height, 0, 0, &st),
                                 TDM_OK);
                int number = (int)st.frame_number;
                if (number <= sub->last_number)
                    fail_msg("subscriber %d: frame %d after %d", s, number, sub->last_number);
                if (sub->last_number >= 0 && number != sub->last_number + 1)
                    fail_msg("subscriber %d: frame %d missing (got %d next)", s, sub->last_number + 1, number);
                if (sub->first_number < 0)
                    sub->first_number = number;
                sub->last_number = number;
                sub->decoded++;
            }
        }
    }

    print_message("lost %lu, NACKs %lu, resent %lu, PLIs %lu, keyframes asked %lu; "
                  "subscriber 0 decoded %d (from %d), subscriber 1 decoded %d (from %d)\n",
                  (unsigned long)w.lost, (unsigned long)w.nacks_sent, (unsigned long)w.resent,
                  (unsigned long)w.plis_sent, (unsigned long)keyframes_asked, subs[0].decoded,
                  subs[0].first_number, subs[1].decoded, subs[1].first_number);
    assert_true(w.lost > 0);
    assert_true(resent_ok > 0);
    /* Typing changes every frame, so every frame is produced; decoding
     * checked that numbers come one after another, so these bounds mean
     * every frame up to FRAMES - 1 arrived. */
    assert_int_equal(subs[0].first_number, 0);
    assert_true(subs[0].last_number >= FRAMES - 1);
    /* The late joiner starts at the keyframe its join asked for, soon after it joined. */
    assert_true(subs[1].first_number >= LATE_JOIN_AT);
    assert_true(subs[1].first_number <= LATE_JOIN_AT + 3);
    assert_true(subs[1].last_number >= FRAMES - 1);
    assert_true(keyframes_asked >= 1);

    for (int s = 0; s < SUBS; s++) {
        tdm_assembler_free(subs[s].asm_);
        tdm_video_decoder_free(subs[s].dec);
    }
    tdm_keyframe_throttle_free(throttle);
    tdm_nack_cache_free(cache);
    tdm_room_free(room);
    tdm_video_encoder_free(enc);
    tdm_incremental_free(inc);
    tdm_source_close(src);
    free(w.air);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(relay_core_repairs_loss_for_every_subscriber),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
