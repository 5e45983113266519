/* vp8_payload_roundtrip_test: random VP8 frames of many sizes, packetized
 * for many MTUs, depacketize back to the same bytes; descriptor bytes match
 * the RFC 7741 layout; picture ID and TL0PICIDX advance per frame and wrap;
 * keyframes are recognised from the first packet with their size; malformed
 * payloads are dropped with the right reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_vp8_rtp.h"

static uint64_t rng_state = 0x1234567887654321u;

static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32);
}

static tdm_encoded_frame vp8_frame(const uint8_t *data, size_t len)
{
    return (tdm_encoded_frame){.codec = TDM_CODEC_VP8, .data = data, .len = len};
}

static void descriptor_bytes_match_rfc_layout(void **state)
{
    (void)state;
    tdm_vp8_packetizer p;
    tdm_vp8_packetizer_init(&p, 0x1234, 0x56);
    static const uint8_t data[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    tdm_encoded_frame f = vp8_frame(data, sizeof data);
    uint8_t buf[64];
    size_t len = 0;
    bool last = false;

    /* One packet: X=1 S=1 PID=0 | I=1 L=1 T=1 | M=1 pid | TL0PICIDX | TID=0. */
    assert_int_equal(tdm_vp8_packetizer_start(&p, &f, 100), TDM_OK);
    assert_int_equal(tdm_vp8_packetizer_next(&p, buf, sizeof buf, &len, &last), TDM_OK);
    static const uint8_t want1[] = {0x90, 0xe0, 0x92, 0x34, 0x56, 0x00};
    assert_int_equal(len, 6 + 10);
    assert_memory_equal(buf, want1, 6);
    assert_memory_equal(buf + 6, data, 10);
    assert_true(last);
    assert_int_equal(tdm_vp8_packetizer_next(&p, buf, sizeof buf, &len, &last), TDM_AGAIN);

    /* Next frame in two packets (max payload 11 -> 5 + 5 bytes): the picture
     * ID and TL0PICIDX moved on, S only on the first. */
    assert_int_equal(tdm_vp8_packetizer_start(&p, &f, 11), TDM_OK);
    assert_int_equal(tdm_vp8_packetizer_remaining(&p), 2);
    assert_int_equal(tdm_vp8_packetizer_next(&p, buf, sizeof buf, &len, &last), TDM_OK);
    static const uint8_t want2[] = {0x90, 0xe0, 0x92, 0x35, 0x57, 0x00};
    assert_int_equal(len, 11);
    assert_memory_equal(buf, want2, 6);
    assert_false(last);
    assert_int_equal(tdm_vp8_packetizer_next(&p, buf, sizeof buf, &len, &last), TDM_OK);
    static const uint8_t want3[] = {0x80, 0xe0, 0x92, 0x35, 0x57, 0x00};
    assert_int_equal(len, 11);
    assert_memory_equal(buf, want3, 6);
    assert_memory_equal(buf + 6, data + 5, 5);
    assert_true(last);
}

static void parse_ok(const uint8_t *buf, size_t len, tdm_vp8_payload *out)
{
    tdm_rtp_drop why = TDM_RTP_DROP_COUNT;
    tdm_status st = tdm_vp8_depacketize(buf, len, out, &why);
    if (st != TDM_OK)
        fail_msg("depacketize: %s (%s)", tdm_status_str(st), tdm_rtp_drop_name(why));
    assert_int_equal(why, TDM_RTP_DROP_NONE);
}

static void parses_every_descriptor_form(void **state)
{
    (void)state;
    tdm_vp8_payload v;

    static const uint8_t minimal[] = {0x10, 0x01, 0xaa}; /* X=0 S=1, an interframe */
    parse_ok(minimal, sizeof minimal, &v);
    assert_false(v.desc.extended);
    assert_true(v.desc.start);
    assert_true(v.frame_start);
    assert_false(v.keyframe);
    assert_int_equal(v.desc.size, 1);
    assert_int_equal(v.len, 2);

    /* R bits set must be ignored; 7-bit picture ID 17. */
    static const uint8_t short_pid[] = {0xd0, 0x80, 0x11, 0x01};
    parse_ok(short_pid, sizeof short_pid, &v);
    assert_true(v.desc.has_picture_id);
    assert_false(v.desc.long_picture_id);
    assert_int_equal(v.desc.picture_id, 17);
    assert_int_equal(v.desc.size, 3);

    /* N=1, PID=5, S=0: a middle partition of a non-reference frame. */
    static const uint8_t nonref[] = {0x25, 0x01};
    parse_ok(nonref, sizeof nonref, &v);
    assert_true(v.desc.non_reference);
    assert_false(v.desc.start);
    assert_int_equal(v.desc.partition, 5);
    assert_false(v.frame_start);

    /* S=1 but PID=2 is not the start of a frame. */
    static const uint8_t part2[] = {0x12, 0x00};
    parse_ok(part2, sizeof part2, &v);
    assert_false(v.frame_start);
    assert_false(v.keyframe);

    /* T and K: TID=2 Y=1 KEYIDX=31. */
    static const uint8_t tk[] = {0x80, 0x30, 0xbf, 0x01};
    parse_ok(tk, sizeof tk, &v);
    assert_true(v.desc.has_tid);
    assert_true(v.desc.has_keyidx);
    assert_int_equal(v.desc.tid, 2);
    assert_true(v.desc.layer_sync);
    assert_int_equal(v.desc.keyidx, 31);
    assert_int_equal(v.desc.size, 3);

    /* K alone still takes the shared octet; TID is not read from it. */
    static const uint8_t konly[] = {0x80, 0x10, 0xe5, 0x01};
    parse_ok(konly, sizeof konly, &v);
    assert_false(v.desc.has_tid);
    assert_int_equal(v.desc.tid, 0);
    assert_int_equal(v.desc.keyidx, 5);

    /* L without I. */
    static const uint8_t lonly[] = {0x80, 0x40, 0x07, 0x01};
    parse_ok(lonly, sizeof lonly, &v);
    assert_true(v.desc.has_tl0picidx);
    assert_int_equal(v.desc.tl0picidx, 7);

    /* Everything: 15-bit picture ID 0x7fff. */
    static const uint8_t all[] = {0x90, 0xf0, 0xff, 0xff, 0x42, 0x40, 0x01};
    parse_ok(all, sizeof all, &v);
    assert_true(v.desc.long_picture_id);
    assert_int_equal(v.desc.picture_id, 0x7fff);
    assert_int_equal(v.desc.tl0picidx, 0x42);
    assert_int_equal(v.desc.tid, 1);
    assert_int_equal(v.desc.size, 6);
    assert_ptr_equal(v.data, all + 6);
}

static void assert_descriptor_equal(const tdm_vp8_descriptor *a, const tdm_vp8_descriptor *b)
{
    assert_int_equal(a->extended, b->extended);
    assert_int_equal(a->non_reference, b->non_reference);
    assert_int_equal(a->start, b->start);
    assert_int_equal(a->partition, b->partition);
    assert_int_equal(a->has_picture_id, b->has_picture_id);
    assert_int_equal(a->has_tl0picidx, b->has_tl0picidx);
    assert_int_equal(a->has_tid, b->has_tid);
    assert_int_equal(a->has_keyidx, b->has_keyidx);
    assert_int_equal(a->long_picture_id, b->long_picture_id);
    assert_int_equal(a->picture_id, b->picture_id);
    assert_int_equal(a->tl0picidx, b->tl0picidx);
    assert_int_equal(a->tid, b->tid);
    assert_int_equal(a->layer_sync, b->layer_sync);
    assert_int_equal(a->keyidx, b->keyidx);
    assert_int_equal(a->size, b->size);
}

static void descriptors_roundtrip(void **state)
{
    (void)state;
    for (int i = 0; i < 20000; i++) {
        tdm_vp8_descriptor d = {
            .extended = rnd() & 1,
            .non_reference = rnd() & 1,
            .start = rnd() & 1,
            .partition = rnd() & 7,
        };
        if (d.extended) {
            d.has_picture_id = rnd() & 1;
            d.long_picture_id = d.has_picture_id && (rnd() & 1);
            d.picture_id = d.has_picture_id ? (uint16_t)(rnd() & (d.long_picture_id ? 0x7fff : 0x7f)) : 0;
            d.has_tl0picidx = rnd() & 1;
            d.tl0picidx = d.has_tl0picidx ? (uint8_t)rnd() : 0;
            d.has_tid = rnd() & 1;
            d.tid = d.has_tid ? rnd() & 3 : 0;
            d.layer_sync = d.has_tid && (rnd() & 1);
            d.has_keyidx = rnd() & 1;
            d.keyidx = d.has_keyidx ? rnd() & 31 : 0;
        }
        uint8_t buf[16];
        size_t n = 0;
        assert_int_equal(tdm_vp8_descriptor_write(&d, buf, sizeof buf, &n), TDM_OK);
        buf[n] = 0x01; /* an interframe byte, so the keyframe checks stay out */
        tdm_vp8_payload v;
        parse_ok(buf, n + 1, &v);
        d.size = n;
        assert_descriptor_equal(&v.desc, &d);
        /* Every shorter prefix is truncated, never misread. */
        for (size_t cut = 0; cut < n; cut++) {
            tdm_rtp_drop why;
            assert_int_equal(tdm_vp8_depacketize(buf, cut, &v, &why), TDM_ERR_FORMAT);
            assert_int_equal(why, TDM_RTP_DROP_VP8_TRUNCATED);
        }
        tdm_rtp_drop why;
        assert_int_equal(tdm_vp8_depacketize(buf, n, &v, &why), TDM_ERR_FORMAT);
        assert_int_equal(why, TDM_RTP_DROP_VP8_EMPTY);
    }
    tdm_vp8_descriptor bad = {.extended = true, .has_picture_id = true, .picture_id = 0x80};
    uint8_t buf[16];
    size_t n;
    assert_int_equal(tdm_vp8_descriptor_write(&bad, buf, sizeof buf, &n), TDM_ERR_INVALID);
    bad.long_picture_id = true;
    assert_int_equal(tdm_vp8_descriptor_write(&bad, buf, 3, &n), TDM_ERR_RANGE);
}

/* Packetizes one frame and checks every payload; returns the packet count. */
static size_t roundtrip(tdm_vp8_packetizer *p, const uint8_t *data, size_t len, size_t mtu,
                        bool key, uint16_t want_pid, uint8_t want_tl0)
{
    static uint8_t out[200000];
    tdm_encoded_frame f = vp8_frame(data, len);
    f.keyframe = key;
    assert_int_equal(tdm_vp8_packetizer_start(p, &f, mtu), TDM_OK);
    size_t expect_packets = tdm_vp8_packetizer_remaining(p);
    size_t got = 0, packets = 0, lo = SIZE_MAX, hi = 0;
    bool last = false;
    while (!last) {
        uint8_t buf[1600];
        size_t plen = 0;
        assert_int_equal(tdm_vp8_packetizer_next(p, buf, sizeof buf, &plen, &last), TDM_OK);
        assert_true(plen <= mtu);
        tdm_vp8_payload v;
        parse_ok(buf, plen, &v);
        assert_int_equal(v.desc.picture_id, want_pid);
        assert_true(v.desc.long_picture_id);
        assert_int_equal(v.desc.tl0picidx, want_tl0);
        assert_int_equal(v.desc.start, packets == 0);
        assert_int_equal(v.desc.partition, 0);
        assert_int_equal(v.frame_start, packets == 0);
        if (packets > 0)
            assert_false(v.keyframe);
        memcpy(out + got, v.data, v.len);
        got += v.len;
        lo = v.len < lo ? v.len : lo;
        hi = v.len > hi ? v.len : hi;
        packets++;
    }
    assert_int_equal(packets, expect_packets);
    assert_int_equal(got, len);
    assert_memory_equal(out, data, len);
    assert_true(hi - lo <= 1); /* balanced */
    size_t room = mtu - TDM_VP8_DESCRIPTOR_SIZE;
    assert_int_equal(packets, (len + room - 1) / room); /* and as few as possible */
    return packets;
}

static void random_frames_roundtrip(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 2, 3, 9, 10, 11, 100, 1193, 1194, 1195, 5000, 65536, 150000};
    static const size_t mtus[] = {7, 8, 16, 100, 1200, 1500};
    static uint8_t data[150000];
    tdm_vp8_packetizer p;
    uint16_t pid = 0x7ff0; /* crosses the 15-bit wrap */
    uint8_t tl0 = 250;     /* and the 8-bit one */
    tdm_vp8_packetizer_init(&p, pid, tl0);
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        for (size_t mi = 0; mi < sizeof mtus / sizeof mtus[0]; mi++) {
            size_t len = sizes[si];
            if (len / (mtus[mi] - 6) > 20000)
                continue; /* keep the run short */
            for (size_t i = 0; i < len; i++)
                data[i] = (uint8_t)rnd();
            data[0] |= 1; /* interframe: no keyframe header to satisfy */
            roundtrip(&p, data, len, mtus[mi], false, pid, tl0);
            pid = (pid + 1) & 0x7fff;
            tl0++;
        }
    }
    /* Random sizes and MTUs. */
    for (int i = 0; i < 300; i++) {
        size_t len = 1 + rnd() % 20000;
        size_t mtu = 7 + rnd() % 1500;
        for (size_t k = 0; k < len; k++)
            data[k] = (uint8_t)rnd();
        data[0] |= 1;
        roundtrip(&p, data, len, mtu, false, pid, tl0);
        pid = (pid + 1) & 0x7fff;
        tl0++;
    }
}

/* A keyframe header: frame tag with P=0 and show_frame, start code, sizes
 * with scaling bits set (which must be masked off). */
static size_t keyframe(uint8_t *buf, size_t len, int w, int h)
{
    static const uint8_t head[] = {0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a};
    memcpy(buf, head, sizeof head);
    buf[6] = (uint8_t)w;
    buf[7] = (uint8_t)(w >> 8 | 0x40);
    buf[8] = (uint8_t)h;
    buf[9] = (uint8_t)(h >> 8 | 0x80);
    for (size_t i = 10; i < len; i++)
        buf[i] = (uint8_t)rnd();
    return len;
}

static void keyframes_detected_from_first_packet(void **state)
{
    (void)state;
    static uint8_t frame[40000];
    size_t len = keyframe(frame, sizeof frame, 1920, 1080);
    tdm_vp8_packetizer p;
    tdm_vp8_packetizer_init(&p, 5, 0);
    tdm_encoded_frame f = vp8_frame(frame, len);
    f.keyframe = true;
    assert_int_equal(tdm_vp8_packetizer_start(&p, &f, 1200), TDM_OK);
    bool last = false, first = true;
    while (!last) {
        uint8_t buf[1200];
        size_t n;
        assert_int_equal(tdm_vp8_packetizer_next(&p, buf, sizeof buf, &n, &last), TDM_OK);
        tdm_vp8_payload v;
        parse_ok(buf, n, &v);
        assert_int_equal(v.keyframe, first);
        assert_int_equal(v.has_size, first);
        if (first) {
            assert_int_equal(v.width, 1920);
            assert_int_equal(v.height, 1080);
        }
        first = false;
    }

    /* The largest 14-bit size. */
    uint8_t small[16] = {0x10};
    keyframe(small + 1, 12, 16383, 16383);
    tdm_vp8_payload v;
    parse_ok(small, 13, &v);
    assert_int_equal(v.width, 16383);
    assert_int_equal(v.height, 16383);

    /* A first packet cut before the sizes is a keyframe of unknown size;
     * cut before the start code it cannot be checked either. */
    parse_ok(small, 1 + 8, &v);
    assert_true(v.keyframe);
    assert_false(v.has_size);
    parse_ok(small, 1 + 2, &v);
    assert_true(v.keyframe);

    /* P=1: an interframe, whatever follows. */
    small[1] |= 1;
    parse_ok(small, 13, &v);
    assert_false(v.keyframe);
    assert_false(v.has_size);
}

static void expect_drop(const uint8_t *buf, size_t len, tdm_rtp_drop want)
{
    tdm_vp8_payload v;
    tdm_rtp_drop why = TDM_RTP_DROP_NONE;
    assert_int_equal(tdm_vp8_depacketize(buf, len, &v, &why), TDM_ERR_FORMAT);
    if (why != want)
        fail_msg("got %s, want %s", tdm_rtp_drop_name(why), tdm_rtp_drop_name(want));
}

static void malformed_payloads_dropped_with_reason(void **state)
{
    (void)state;
    expect_drop(NULL, 0, TDM_RTP_DROP_VP8_TRUNCATED);
    static const uint8_t x_only[] = {0x80};
    expect_drop(x_only, 1, TDM_RTP_DROP_VP8_TRUNCATED);
    static const uint8_t long_pid_cut[] = {0x80, 0x80, 0x80};
    expect_drop(long_pid_cut, 3, TDM_RTP_DROP_VP8_TRUNCATED);
    static const uint8_t tk_missing[] = {0x80, 0x20};
    expect_drop(tk_missing, 2, TDM_RTP_DROP_VP8_TRUNCATED);
    static const uint8_t nothing[] = {0x90, 0x80, 0x05};
    expect_drop(nothing, 3, TDM_RTP_DROP_VP8_EMPTY);
    static const uint8_t bare[] = {0x10};
    expect_drop(bare, 1, TDM_RTP_DROP_VP8_EMPTY);

    uint8_t key[11] = {0x10};
    keyframe(key + 1, 10, 64, 64);
    key[5] = 0x9e; /* start code 9e 01 2a */
    expect_drop(key, 11, TDM_RTP_DROP_VP8_BAD_KEYFRAME);
    expect_drop(key, 7, TDM_RTP_DROP_VP8_BAD_KEYFRAME);
    keyframe(key + 1, 10, 0, 64);
    expect_drop(key, 11, TDM_RTP_DROP_VP8_BAD_KEYFRAME);
    keyframe(key + 1, 10, 64, 0);
    expect_drop(key, 11, TDM_RTP_DROP_VP8_BAD_KEYFRAME);
    /* Not the first packet: the same bytes are just data. */
    key[0] = 0x00;
    tdm_vp8_payload v;
    parse_ok(key, 11, &v);
    assert_false(v.keyframe);

    tdm_rtp_drop why;
    assert_int_equal(tdm_vp8_depacketize(key, 11, NULL, &why), TDM_ERR_INVALID);
    assert_int_equal(tdm_vp8_depacketize(NULL, 3, &v, &why), TDM_ERR_INVALID);
}

static void packetizer_contract(void **state)
{
    (void)state;
    tdm_vp8_packetizer p;
    tdm_vp8_packetizer_init(&p, 0xffff, 0); /* masked to 15 bits */
    uint8_t data[100] = {1}, buf[64];
    size_t n = 0;
    bool last;
    assert_int_equal(tdm_vp8_packetizer_next(&p, buf, sizeof buf, &n, &last), TDM_AGAIN);
    tdm_encoded_frame f = vp8_frame(data, sizeof data);
    assert_int_equal(tdm_vp8_packetizer_start(&p, &f, 6), TDM_ERR_RANGE);
    f.len = 0;
    assert_int_equal(tdm_vp8_packetizer_start(&p, &f, 100), TDM_ERR_INVALID);
    f = vp8_frame(data, sizeof data);
    f.codec = TDM_CODEC_VP9;
    assert_int_equal(tdm_vp8_packetizer_start(&p, &f, 100), TDM_ERR_INVALID);
    f.codec = TDM_CODEC_VP8;

    assert_int_equal(tdm_vp8_packetizer_start(&p, &f, 56), TDM_OK); /* 50 + 50 */
    assert_int_equal(p.picture_id, 0x7fff);
    /* Too small a buffer consumes nothing. */
    assert_int_equal(tdm_vp8_packetizer_next(&p, buf, 55, &n, &last), TDM_ERR_RANGE);
    assert_int_equal(tdm_vp8_packetizer_remaining(&p), 2);
    assert_int_equal(tdm_vp8_packetizer_next(&p, buf, 56, &n, &last), TDM_OK);
    assert_int_equal(n, 56);
    assert_false(last);
    /* A new start abandons the rest, and the picture ID wraps to 0. */
    assert_int_equal(tdm_vp8_packetizer_start(&p, &f, 1000), TDM_OK);
    assert_int_equal(tdm_vp8_packetizer_remaining(&p), 1);
    assert_int_equal(tdm_vp8_packetizer_next(&p, buf, sizeof buf, &n, &last), TDM_ERR_RANGE);
    uint8_t big[200];
    assert_int_equal(tdm_vp8_packetizer_next(&p, big, sizeof big, &n, &last), TDM_OK);
    assert_true(last);
    tdm_vp8_payload v;
    parse_ok(big, n, &v);
    assert_int_equal(v.desc.picture_id, 0);
    assert_int_equal(tdm_vp8_packetizer_remaining(&p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(descriptor_bytes_match_rfc_layout),
        cmocka_unit_test(parses_every_descriptor_form),
        cmocka_unit_test(descriptors_roundtrip),
        cmocka_unit_test(random_frames_roundtrip),
        cmocka_unit_test(keyframes_detected_from_first_packet),
        cmocka_unit_test(malformed_payloads_dropped_with_reason),
        cmocka_unit_test(packetizer_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
