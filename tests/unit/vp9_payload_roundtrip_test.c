/* vp9_payload_roundtrip_test: random VP9 frames of many sizes, packetized
 * for many MTUs, depacketize back to the same bytes with B/E/P/V set as RFC
 * 9628 says; descriptor and SS bytes match the RFC layout; flexible mode and
 * any SS parse; keyframes are recognised from the uncompressed header (all
 * four profiles) or, when the header is split, from the SS; malformed
 * payloads are dropped with the right reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_vp9_rtp.h"

static uint64_t rng_state = 0xfeedfacecafebeefu;

static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32);
}

/* MSB-first bit writer for synthetic uncompressed headers. */
typedef struct bw {
    uint8_t *buf;
    size_t bit;
} bw;

static void put(bw *w, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--, w->bit++) {
        uint8_t m = (uint8_t)(0x80 >> (w->bit % 8));
        if ((v >> i) & 1)
            w->buf[w->bit / 8] |= m;
        else
            w->buf[w->bit / 8] &= (uint8_t)~m;
    }
}

/* Writes a key frame's uncompressed header start, then random bytes up to
 * len. color_space 7 is RGB. Returns the header's length in bits. */
static size_t key_header(uint8_t *buf, size_t len, int profile, int color_space, int w, int h)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)rnd();
    bw b = {buf, 0};
    put(&b, 2, 2);                          /* frame_marker */
    put(&b, (unsigned)profile & 1, 1);      /* profile_low_bit */
    put(&b, (unsigned)profile >> 1, 1);     /* profile_high_bit */
    if (profile == 3)
        put(&b, 0, 1);                      /* reserved_zero */
    put(&b, 0, 1);                          /* show_existing_frame */
    put(&b, 0, 1);                          /* frame_type: KEY_FRAME */
    put(&b, 1, 1);                          /* show_frame */
    put(&b, 0, 1);                          /* error_resilient_mode */
    put(&b, 0x498342, 24);                  /* frame_sync_code */
    if (profile >= 2)
        put(&b, 1, 1);                      /* ten_or_twelve_bit */
    put(&b, (unsigned)color_space, 3);
    if (color_space != 7) {
        put(&b, 0, 1);                      /* color_range */
        if (profile == 1 || profile == 3)
            put(&b, 2, 3);                  /* subsampling_x, _y, reserved */
    } else if (profile == 1 || profile == 3) {
        put(&b, 0, 1);
    }
    put(&b, (unsigned)(w - 1), 16);
    put(&b, (unsigned)(h - 1), 16);
    return b.bit;
}

/* An inter frame's first byte: marker 2, profile 0, frame_type 1, shown. */
static void inter_header(uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)rnd();
    buf[0] = 0x86;
}

static tdm_encoded_frame vp9_frame(const uint8_t *data, size_t len, bool key, int w, int h)
{
    return (tdm_encoded_frame){
        .codec = TDM_CODEC_VP9, .data = data, .len = len, .keyframe = key, .width = w, .height = h};
}

static void parse_ok(const uint8_t *buf, size_t len, tdm_vp9_payload *out)
{
    tdm_rtp_drop why = TDM_RTP_DROP_COUNT;
    tdm_status st = tdm_vp9_depacketize(buf, len, out, &why);
    if (st != TDM_OK)
        fail_msg("depacketize: %s (%s)", tdm_status_str(st), tdm_rtp_drop_name(why));
    assert_int_equal(why, TDM_RTP_DROP_NONE);
}

static void descriptor_bytes_match_rfc_layout(void **state)
{
    (void)state;
    static uint8_t key[40];
    key_header(key, sizeof key, 0, 2, 1280, 720);
    tdm_vp9_packetizer p;
    tdm_vp9_packetizer_init(&p, 0x1234, 0x56, false);
    uint8_t buf[128];
    size_t n;
    bool last;

    /* A keyframe in one packet: I=1 P=0 L=1 F=0 B=1 E=1 V=1 Z=0, M=1 pid,
     * TID=0 U=0 SID=0 D=0, TL0PICIDX, SS: N_S=0 Y=1 G=0, 1280, 720. */
    tdm_encoded_frame f = vp9_frame(key, sizeof key, true, 1280, 720);
    assert_int_equal(tdm_vp9_packetizer_start(&p, &f, 100), TDM_OK);
    assert_int_equal(tdm_vp9_packetizer_next(&p, buf, sizeof buf, &n, &last), TDM_OK);
    static const uint8_t want_key[] = {0xae, 0x92, 0x34, 0x00, 0x56, 0x10, 0x05, 0x00, 0x02, 0xd0};
    assert_true(last);
    assert_int_equal(n, sizeof want_key + sizeof key);
    assert_memory_equal(buf, want_key, sizeof want_key);
    assert_memory_equal(buf + sizeof want_key, key, sizeof key);

    /* An inter frame in three packets: P=1, B on the first, E on the last,
     * no SS; picture ID and TL0PICIDX advanced. */
    static uint8_t inter[15];
    inter_header(inter, sizeof inter);
    f = vp9_frame(inter, sizeof inter, false, 0, 0);
    assert_int_equal(tdm_vp9_packetizer_start(&p, &f, 10), TDM_OK);
    static const uint8_t want_b[] = {0xe8, 0x92, 0x35, 0x00, 0x57};
    static const uint8_t want_m[] = {0xe0, 0x92, 0x35, 0x00, 0x57};
    static const uint8_t want_e[] = {0xe4, 0x92, 0x35, 0x00, 0x57};
    const uint8_t *want[] = {want_b, want_m, want_e};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tdm_vp9_packetizer_next(&p, buf, sizeof buf, &n, &last), TDM_OK);
        assert_int_equal(n, 10);
        assert_memory_equal(buf, want[i], 5);
        assert_memory_equal(buf + 5, inter + 5 * i, 5);
        assert_int_equal(last, i == 2);
    }

    /* With a picture group: G=1, N_G=1, TID=0 U=0 R=1, P_DIFF=1. */
    tdm_vp9_packetizer_init(&p, 0, 0xff, true);
    f = vp9_frame(key, sizeof key, true, 640, 360);
    assert_int_equal(tdm_vp9_packetizer_start(&p, &f, 100), TDM_OK);
    assert_int_equal(tdm_vp9_packetizer_next(&p, buf, sizeof buf, &n, &last), TDM_OK);
    static const uint8_t want_g[] = {0xae, 0x80, 0x00, 0x00, 0xff, 0x18, 0x02,
                                     0x80, 0x01, 0x68, 0x01, 0x04, 0x01};
    assert_memory_equal(buf, want_g, sizeof want_g);
    tdm_vp9_payload v;
    parse_ok(buf, n, &v);
    assert_true(v.desc.ss.has_group);
    assert_int_equal(v.desc.ss.group_size, 1);
    assert_int_equal(v.desc.ss.group[0].ref_count, 1);
    assert_int_equal(v.desc.ss.group[0].p_diff[0], 1);
    assert_int_equal(v.desc.size, sizeof want_g);
    /* The frame header's size wins over the packetizer's SS... */
    assert_int_equal(v.width, 1280);
    assert_int_equal(v.height, 720);
    /* ...which said what the frame was told. */
    assert_int_equal(v.desc.ss.width[0], 640);
    assert_int_equal(v.desc.ss.height[0], 360);
}

static void parses_flexible_mode_and_any_ss(void **state)
{
    (void)state;
    tdm_vp9_payload v;
    /* F=1 P=1 I=1 L=1 B=1, 7-bit pid 5, TID=1 U=1 SID=2 D=1, three refs. */
    static const uint8_t flex[] = {0xf8, 0x05, 0x35, 0x03, 0x05, 0x08, 0x86};
    parse_ok(flex, sizeof flex, &v);
    assert_true(v.desc.flexible);
    assert_false(v.desc.long_picture_id);
    assert_int_equal(v.desc.picture_id, 5);
    assert_int_equal(v.desc.tid, 1);
    assert_true(v.desc.switch_up);
    assert_int_equal(v.desc.sid, 2);
    assert_true(v.desc.inter_layer_dep);
    assert_false(v.desc.has_tl0picidx);
    assert_int_equal(v.desc.ref_count, 3);
    assert_int_equal(v.desc.p_diff[0], 1);
    assert_int_equal(v.desc.p_diff[1], 2);
    assert_int_equal(v.desc.p_diff[2], 4);
    assert_int_equal(v.desc.size, 6);
    assert_false(v.keyframe);

    /* Minimal: no I, no L, an end packet. */
    static const uint8_t bare[] = {0x04, 0x00};
    parse_ok(bare, sizeof bare, &v);
    assert_true(v.frame_end);
    assert_false(v.frame_start);
    assert_int_equal(v.desc.size, 1);

    /* SS with three spatial layers and a two-entry group. */
    static const uint8_t ss3[] = {
        0x8a, 0x01,                         /* I=1 B=1 V=1, pid 1 */
        0x58,                               /* N_S=2 Y=1 G=1 */
        0x01, 0x40, 0x00, 0xb4,             /* 320x180 */
        0x02, 0x80, 0x01, 0x68,             /* 640x360 */
        0x05, 0x00, 0x02, 0xd0,             /* 1280x720 */
        0x02,                               /* N_G=2 */
        0x10,                               /* TID=0 U=1 R=0 */
        0x28, 0x01, 0x02,                   /* TID=1 U=0 R=2: 1, 2 */
        0x86,
    };
    parse_ok(ss3, sizeof ss3, &v);
    assert_true(v.desc.has_ss);
    assert_int_equal(v.desc.ss.spatial_layers, 3);
    assert_int_equal(v.desc.ss.width[2], 1280);
    assert_int_equal(v.desc.ss.height[0], 180);
    assert_int_equal(v.desc.ss.group_size, 2);
    assert_true(v.desc.ss.group[0].switch_up);
    assert_int_equal(v.desc.ss.group[1].tid, 1);
    assert_int_equal(v.desc.ss.group[1].ref_count, 2);
    assert_int_equal(v.desc.ss.group[1].p_diff[1], 2);
    assert_int_equal(v.desc.size, sizeof ss3 - 1);
    /* Every cut inside the SS is a bad SS. */
    for (size_t cut = 3; cut < sizeof ss3 - 1; cut++) {
        tdm_rtp_drop why;
        assert_int_equal(tdm_vp9_depacketize(ss3, cut, &v, &why), TDM_ERR_FORMAT);
        assert_int_equal(why, TDM_RTP_DROP_VP9_BAD_SS);
    }
}

static void descriptors_roundtrip(void **state)
{
    (void)state;
    for (int i = 0; i < 20000; i++) {
        tdm_vp9_descriptor d = {
            .has_picture_id = rnd() & 1,
            .inter_predicted = rnd() & 1,
            .has_layers = rnd() & 1,
            .flexible = rnd() & 1,
            .begin = false, /* keep the frame header out of it */
            .end = rnd() & 1,
            .has_ss = rnd() & 1,
            .not_upper_ref = rnd() & 1,
        };
        if (d.has_picture_id) {
            d.long_picture_id = rnd() & 1;
            d.picture_id = (uint16_t)(rnd() & (d.long_picture_id ? 0x7fff : 0x7f));
        }
        if (d.has_layers) {
            d.tid = rnd() & 7;
            d.switch_up = rnd() & 1;
            d.sid = rnd() & 7;
            d.inter_layer_dep = rnd() & 1;
            d.has_tl0picidx = !d.flexible;
            d.tl0picidx = d.has_tl0picidx ? (uint8_t)rnd() : 0;
        }
        if (d.flexible && d.inter_predicted) {
            d.ref_count = (uint8_t)(1 + rnd() % 3);
            for (int r = 0; r < d.ref_count; r++)
                d.p_diff[r] = (uint8_t)(1 + rnd() % 127);
        }
        if (d.has_ss) {
            d.ss.spatial_layers = (uint8_t)(1 + rnd() % 8);
            d.ss.has_resolution = rnd() & 1;
            for (int s = 0; d.ss.has_resolution && s < d.ss.spatial_layers; s++) {
                d.ss.width[s] = (uint16_t)rnd();
                d.ss.height[s] = (uint16_t)rnd();
            }
            d.ss.has_group = rnd() & 1;
            if (d.ss.has_group) {
                d.ss.group_size = (uint8_t)(rnd() % (TDM_VP9_MAX_GROUP + 1));
                for (int g = 0; g < d.ss.group_size; g++) {
                    tdm_vp9_group_entry *e = &d.ss.group[g];
                    e->tid = rnd() & 7;
                    e->switch_up = rnd() & 1;
                    e->ref_count = rnd() & 3;
                    for (int r = 0; r < e->ref_count; r++)
                        e->p_diff[r] = (uint8_t)rnd();
                }
            }
        }
        static uint8_t buf[512];
        size_t n = 0;
        assert_int_equal(tdm_vp9_descriptor_write(&d, buf, sizeof buf, &n), TDM_OK);
        buf[n] = 0x86;
        tdm_vp9_payload v;
        parse_ok(buf, n + 1, &v);
        const tdm_vp9_descriptor *g = &v.desc;
        assert_int_equal(g->size, n);
        assert_int_equal(g->has_picture_id, d.has_picture_id);
        assert_int_equal(g->inter_predicted, d.inter_predicted);
        assert_int_equal(g->has_layers, d.has_layers);
        assert_int_equal(g->flexible, d.flexible);
        assert_int_equal(g->end, d.end);
        assert_int_equal(g->has_ss, d.has_ss);
        assert_int_equal(g->not_upper_ref, d.not_upper_ref);
        assert_int_equal(g->long_picture_id, d.long_picture_id);
        assert_int_equal(g->picture_id, d.picture_id);
        assert_int_equal(g->tid, d.tid);
        assert_int_equal(g->switch_up, d.switch_up);
        assert_int_equal(g->sid, d.sid);
        assert_int_equal(g->inter_layer_dep, d.inter_layer_dep);
        assert_int_equal(g->has_tl0picidx, d.has_tl0picidx);
        assert_int_equal(g->tl0picidx, d.tl0picidx);
        assert_int_equal(g->ref_count, d.ref_count);
        assert_memory_equal(g->p_diff, d.p_diff, d.ref_count);
        if (d.has_ss) {
            assert_int_equal(g->ss.spatial_layers, d.ss.spatial_layers);
            assert_int_equal(g->ss.has_resolution, d.ss.has_resolution);
            if (d.ss.has_resolution) {
                assert_memory_equal(g->ss.width, d.ss.width, 2u * d.ss.spatial_layers);
                assert_memory_equal(g->ss.height, d.ss.height, 2u * d.ss.spatial_layers);
            }
            assert_int_equal(g->ss.has_group, d.ss.has_group);
            assert_int_equal(g->ss.group_size, d.ss.group_size);
            for (int k = 0; k < d.ss.group_size; k++) {
                assert_int_equal(g->ss.group[k].tid, d.ss.group[k].tid);
                assert_int_equal(g->ss.group[k].switch_up, d.ss.group[k].switch_up);
                assert_int_equal(g->ss.group[k].ref_count, d.ss.group[k].ref_count);
                assert_memory_equal(g->ss.group[k].p_diff, d.ss.group[k].p_diff,
                                    d.ss.group[k].ref_count);
            }
        }
        for (size_t cut = 0; cut < n; cut++) {
            tdm_rtp_drop why;
            assert_int_equal(tdm_vp9_depacketize(buf, cut, &v, &why), TDM_ERR_FORMAT);
            assert_true(why == TDM_RTP_DROP_VP9_TRUNCATED || why == TDM_RTP_DROP_VP9_BAD_SS);
        }
        tdm_rtp_drop why;
        assert_int_equal(tdm_vp9_depacketize(buf, n, &v, &why), TDM_ERR_FORMAT);
        assert_int_equal(why, TDM_RTP_DROP_VP9_EMPTY);
    }
}

static void roundtrip(tdm_vp9_packetizer *p, const uint8_t *data, size_t len, size_t mtu,
                      bool key, int w, int h, uint16_t want_pid, uint8_t want_tl0)
{
    static uint8_t out[200000];
    tdm_encoded_frame f = vp9_frame(data, len, key, w, h);
    assert_int_equal(tdm_vp9_packetizer_start(p, &f, mtu), TDM_OK);
    size_t expect = tdm_vp9_packetizer_remaining(p);
    size_t got = 0, packets = 0, lo = SIZE_MAX, hi = 0;
    bool last = false;
    while (!last) {
        uint8_t buf[1600];
        size_t plen = 0;
        assert_int_equal(tdm_vp9_packetizer_next(p, buf, sizeof buf, &plen, &last), TDM_OK);
        assert_true(plen <= mtu);
        tdm_vp9_payload v;
        parse_ok(buf, plen, &v);
        assert_int_equal(v.desc.picture_id, want_pid);
        assert_int_equal(v.desc.tl0picidx, want_tl0);
        assert_true(v.desc.has_layers && !v.desc.flexible && v.desc.sid == 0 && v.desc.tid == 0);
        assert_int_equal(v.frame_start, packets == 0);
        assert_int_equal(v.frame_end, last);
        assert_int_equal(v.desc.inter_predicted, !key);
        assert_int_equal(v.desc.has_ss, key && packets == 0);
        if (packets == 0) {
            assert_int_equal(v.keyframe, key);
            if (key) {
                assert_true(v.desc.ss.has_resolution);
                assert_int_equal(v.desc.ss.width[0], w);
                assert_int_equal(v.desc.ss.height[0], h);
                assert_true(v.has_size);
                assert_int_equal(v.width, w);
                assert_int_equal(v.height, h);
            }
        } else {
            assert_false(v.keyframe);
            lo = v.len < lo ? v.len : lo;
            hi = v.len > hi ? v.len : hi;
        }
        memcpy(out + got, v.data, v.len);
        got += v.len;
        packets++;
    }
    assert_int_equal(packets, expect);
    assert_int_equal(got, len);
    assert_memory_equal(out, data, len);
    if (packets > 2)
        assert_true(hi - lo <= 1);
    size_t first_room = mtu - TDM_VP9_DESCRIPTOR_SIZE - (key ? TDM_VP9_SS_SIZE : 0);
    size_t room = mtu - TDM_VP9_DESCRIPTOR_SIZE;
    size_t fewest = len <= first_room ? 1 : 1 + (len - first_room + room - 1) / room;
    assert_int_equal(packets, fewest);
}

static void random_frames_roundtrip(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 5, 13, 100, 1195, 1196, 5000, 65536, 150000};
    static const size_t mtus[] = {11, 12, 20, 100, 1200, 1500};
    static uint8_t data[150000];
    tdm_vp9_packetizer p;
    uint16_t pid = 0x7ffa;
    uint8_t tl0 = 252;
    tdm_vp9_packetizer_init(&p, pid, tl0, false);
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (size_t mi = 0; mi < sizeof mtus / sizeof mtus[0]; mi++) {
            size_t len = sizes[si];
            if (len / (mtus[mi] - 10) > 20000)
                continue;
            bool key = len >= 13 && (si + mi) % 2 == 0;
            int w = 16 + (int)(rnd() % 4000), h = 16 + (int)(rnd() % 3000);
            if (key)
                key_header(data, len, 0, 1, w, h);
            else
                inter_header(data, len);
            roundtrip(&p, data, len, mtus[mi], key, w, h, pid, tl0);
            pid = (pid + 1) & 0x7fff;
            tl0++;
        }
    }
    for (int i = 0; i < 300; i++) {
        size_t len = 13 + rnd() % 20000;
        size_t mtu = 25 + rnd() % 1500;
        bool key = rnd() % 4 == 0;
        int w = 1 + (int)(rnd() % 65535), h = 1 + (int)(rnd() % 65535);
        if (key)
            key_header(data, len, (int)(rnd() % 4), (int)(rnd() % 8), w, h);
        else
            inter_header(data, len);
        roundtrip(&p, data, len, mtu, key, w, h, pid, tl0);
        pid = (pid + 1) & 0x7fff;
        tl0++;
    }
}

static void frame_header_read_in_every_profile(void **state)
{
    (void)state;
    uint8_t buf[16];
    for (int profile = 0; profile < 4; profile++) {
        for (int cs = 0; cs < 8; cs++) {
            size_t bits = key_header(buf, sizeof buf, profile, cs, 3840, 2160);
            tdm_vp9_frame_header fh;
            assert_int_equal(tdm_vp9_parse_frame_header(buf, sizeof buf, &fh), TDM_OK);
            assert_int_equal(fh.profile, profile);
            assert_true(fh.keyframe);
            assert_true(fh.show_frame);
            assert_true(fh.has_size);
            assert_int_equal(fh.width, 3840);
            assert_int_equal(fh.height, 2160);
            /* Cut inside the size: a keyframe of unknown size. */
            size_t whole = (bits + 7) / 8;
            assert_int_equal(tdm_vp9_parse_frame_header(buf, whole - 1, &fh), TDM_OK);
            assert_true(fh.keyframe);
            assert_false(fh.has_size);
            /* Cut inside the sync code: cannot tell. */
            assert_int_equal(tdm_vp9_parse_frame_header(buf, 2, &fh), TDM_ERR_TRUNCATED);
        }
    }
    tdm_vp9_frame_header fh;
    assert_int_equal(tdm_vp9_parse_frame_header(buf, 0, &fh), TDM_ERR_TRUNCATED);
    uint8_t existing[] = {0x88}; /* marker, profile 0, show_existing_frame */
    assert_int_equal(tdm_vp9_parse_frame_header(existing, 1, &fh), TDM_OK);
    assert_true(fh.show_existing_frame);
    assert_false(fh.keyframe);
    uint8_t bad_marker[] = {0x46};
    assert_int_equal(tdm_vp9_parse_frame_header(bad_marker, 1, &fh), TDM_ERR_FORMAT);
    key_header(buf, sizeof buf, 0, 1, 64, 64);
    buf[1] ^= 0x01; /* a bit of the sync code */
    assert_int_equal(tdm_vp9_parse_frame_header(buf, sizeof buf, &fh), TDM_ERR_FORMAT);
}

static void keyframe_detection_rules(void **state)
{
    (void)state;
    uint8_t pkt[64];
    tdm_vp9_payload v;
    /* B=1 P=0, no SS, the header says key: a keyframe sized by the header. */
    pkt[0] = 0x88; /* I=1 B=1 */
    pkt[1] = 0x07;
    key_header(pkt + 2, 20, 0, 1, 800, 600);
    parse_ok(pkt, 22, &v);
    assert_true(v.keyframe);
    assert_int_equal(v.width, 800);
    /* P=1 contradicts it: not a keyframe. */
    pkt[0] = 0xc8;
    parse_ok(pkt, 22, &v);
    assert_false(v.keyframe);
    /* Not the first packet: not a keyframe. */
    pkt[0] = 0x80;
    parse_ok(pkt, 22, &v);
    assert_false(v.keyframe);
    /* Upper spatial layer: not a picture's keyframe. */
    uint8_t up[64] = {0xa8, 0x07, 0x02 /* SID 1 */, 0x00};
    key_header(up + 4, 20, 0, 1, 800, 600);
    parse_ok(up, 24, &v);
    assert_false(v.keyframe);
    /* Header says inter frame even though P=0 (intra-only): not a keyframe. */
    pkt[0] = 0x88;
    inter_header(pkt + 2, 20);
    parse_ok(pkt, 22, &v);
    assert_false(v.keyframe);

    /* The header cut off after one byte: B=1, P=0 and an SS decide, and the
     * size comes from the SS. */
    uint8_t split[] = {0x8a, 0x07, 0x10, 0x01, 0x00, 0x00, 0x80, 0x82};
    parse_ok(split, sizeof split, &v);
    assert_true(v.keyframe);
    assert_true(v.has_size);
    assert_int_equal(v.width, 256);
    assert_int_equal(v.height, 128);
    /* Without the SS the same packet is not known to be a keyframe. */
    uint8_t split_noss[] = {0x88, 0x07, 0x82};
    parse_ok(split_noss, sizeof split_noss, &v);
    assert_false(v.keyframe);

    /* A tiny MTU puts the header across packets: the SS carries it. */
    static uint8_t key[300];
    key_header(key, sizeof key, 0, 1, 1000, 500);
    tdm_vp9_packetizer p;
    tdm_vp9_packetizer_init(&p, 0, 0, false);
    tdm_encoded_frame f = vp9_frame(key, sizeof key, true, 0, 0); /* size from the header */
    assert_int_equal(tdm_vp9_packetizer_start(&p, &f, 12), TDM_OK);
    uint8_t buf[12];
    size_t n;
    bool last;
    assert_int_equal(tdm_vp9_packetizer_next(&p, buf, sizeof buf, &n, &last), TDM_OK);
    parse_ok(buf, n, &v);
    assert_int_equal(v.len, 2);
    assert_true(v.keyframe);
    assert_int_equal(v.width, 1000);
    assert_int_equal(v.height, 500);
}

static void expect_drop(const uint8_t *buf, size_t len, tdm_rtp_drop want)
{
    tdm_vp9_payload v;
    tdm_rtp_drop why = TDM_RTP_DROP_NONE;
    assert_int_equal(tdm_vp9_depacketize(buf, len, &v, &why), TDM_ERR_FORMAT);
    if (why != want)
        fail_msg("got %s, want %s", tdm_rtp_drop_name(why), tdm_rtp_drop_name(want));
}

static void malformed_payloads_dropped_with_reason(void **state)
{
    (void)state;
    expect_drop(NULL, 0, TDM_RTP_DROP_VP9_TRUNCATED);
    static const uint8_t pid_cut[] = {0x80, 0x80};
    expect_drop(pid_cut, 2, TDM_RTP_DROP_VP9_TRUNCATED);
    static const uint8_t tl0_cut[] = {0x20, 0x00};
    expect_drop(tl0_cut, 2, TDM_RTP_DROP_VP9_TRUNCATED);
    static const uint8_t ref_cut[] = {0x50, 0x03};
    expect_drop(ref_cut, 2, TDM_RTP_DROP_VP9_TRUNCATED);
    static const uint8_t four_refs[] = {0x50, 0x03, 0x05, 0x07, 0x09, 0x86};
    expect_drop(four_refs, sizeof four_refs, TDM_RTP_DROP_VP9_BAD_REFS);
    static const uint8_t zero_ref[] = {0x50, 0x00, 0x86};
    expect_drop(zero_ref, sizeof zero_ref, TDM_RTP_DROP_VP9_BAD_REFS);
    static const uint8_t ss_cut[] = {0x02, 0x10, 0x01, 0x00};
    expect_drop(ss_cut, sizeof ss_cut, TDM_RTP_DROP_VP9_BAD_SS);
    static const uint8_t empty[] = {0x8c, 0x01};
    expect_drop(empty, sizeof empty, TDM_RTP_DROP_VP9_EMPTY);
    static const uint8_t bad_marker[] = {0x08, 0x46};
    expect_drop(bad_marker, sizeof bad_marker, TDM_RTP_DROP_VP9_BAD_HEADER);
    uint8_t bad_sync[20] = {0x08};
    key_header(bad_sync + 1, 19, 0, 1, 64, 64);
    bad_sync[3] ^= 0x10;
    expect_drop(bad_sync, sizeof bad_sync, TDM_RTP_DROP_VP9_BAD_HEADER);
    /* The same bytes in a packet that does not begin a frame are data. */
    bad_sync[0] = 0x00;
    tdm_vp9_payload v;
    parse_ok(bad_sync, sizeof bad_sync, &v);
}

static void packetizer_contract(void **state)
{
    (void)state;
    static uint8_t key[100];
    key_header(key, sizeof key, 0, 1, 320, 240);
    tdm_vp9_packetizer p;
    tdm_vp9_packetizer_init(&p, 1, 1, false);
    uint8_t buf[200];
    size_t n;
    bool last;
    assert_int_equal(tdm_vp9_packetizer_next(&p, buf, sizeof buf, &n, &last), TDM_AGAIN);
    tdm_encoded_frame f = vp9_frame(key, sizeof key, true, 0, 0);
    assert_int_equal(tdm_vp9_packetizer_start(&p, &f, 10), TDM_ERR_RANGE); /* 5 + 5 + 0 */
    assert_int_equal(tdm_vp9_packetizer_start(&p, &f, 11), TDM_OK);
    f.codec = TDM_CODEC_VP8;
    assert_int_equal(tdm_vp9_packetizer_start(&p, &f, 100), TDM_ERR_INVALID);
    f = vp9_frame(key, 0, true, 0, 0);
    assert_int_equal(tdm_vp9_packetizer_start(&p, &f, 100), TDM_ERR_INVALID);

    /* A keyframe whose size nobody knows: SS with Y=0. */
    uint8_t junk[50];
    memset(junk, 0x80, sizeof junk); /* a frame marker, then nothing sensible */
    f = vp9_frame(junk, sizeof junk, true, 0, 0);
    assert_int_equal(tdm_vp9_packetizer_start(&p, &f, 200), TDM_OK);
    assert_int_equal(tdm_vp9_packetizer_next(&p, buf, 10, &n, &last), TDM_ERR_RANGE);
    assert_int_equal(tdm_vp9_packetizer_next(&p, buf, sizeof buf, &n, &last), TDM_OK);
    assert_true(last);
    assert_int_equal(buf[5], 0x00); /* N_S=0 Y=0 G=0 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(descriptor_bytes_match_rfc_layout),
        cmocka_unit_test(parses_flexible_mode_and_any_ss),
        cmocka_unit_test(descriptors_roundtrip),
        cmocka_unit_test(random_frames_roundtrip),
        cmocka_unit_test(frame_header_read_in_every_profile),
        cmocka_unit_test(keyframe_detection_rules),
        cmocka_unit_test(malformed_payloads_dropped_with_reason),
        cmocka_unit_test(packetizer_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
