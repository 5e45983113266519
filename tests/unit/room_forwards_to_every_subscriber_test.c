/* room_forwards_to_every_subscriber_test: the forwarding room (relay/
 * tdm_room.h) with real VP8 payloads from the codec's packetizer. Every
 * subscriber gets every packet with its own continuous sequence numbers,
 * across 65535 -> 0 on both sides; a late joiner starts at a keyframe and
 * triggers a keyframe request; extensions are stripped and renumbered byte
 * for byte; audio flows at once; NACKs map back to the publisher's numbers;
 * malformed packets are counted and dropped; the subscriber cap holds; and
 * forwarding allocates nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_room.h"
#include "tdm_vp8_rtp.h"

#define VIDEO_SSRC 0x11111111u
#define AUDIO_SSRC 0x22222222u
#define VIDEO_PT 96
#define AUDIO_PT 111

#define URI_ABS_SEND "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define URI_TWCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define URI_MID "urn:ietf:params:rtp-hdrext:sdes:mid"

typedef struct pkt {
    uint8_t b[1600];
    size_t len;
} pkt;

/* A fake publisher: VP8 frames through the real packetizer, RTP headers
 * through the real writer, with an optional fixed extension block. */
typedef struct publisher {
    tdm_vp8_packetizer pz;
    uint32_t ssrc;
    uint8_t pt;
    uint16_t seq;
    uint32_t ts;
    const uint8_t *ext;
    size_t ext_len;
    uint16_t ext_profile;
} publisher;

static void publisher_init(publisher *p, uint16_t first_seq)
{
    *p = (publisher){.ssrc = VIDEO_SSRC, .pt = VIDEO_PT, .seq = first_seq, .ts = 0xfffff000u};
    tdm_vp8_packetizer_init(&p->pz, 0x7ff0, 3);
}

static size_t write_rtp(const publisher *p, uint16_t seq, uint32_t ts, bool marker,
                        const uint8_t *payload, size_t len, size_t padding, pkt *out)
{
    tdm_rtp_header h = {
        .marker = marker,
        .payload_type = p->pt,
        .seq = seq,
        .timestamp = ts,
        .ssrc = p->ssrc,
        .has_extension = p->ext_len > 0,
        .ext_profile = p->ext_profile,
        .ext = p->ext,
        .ext_len = p->ext_len,
    };
    assert_int_equal(tdm_rtp_write(&h, payload, len, padding, out->b, sizeof out->b, &out->len),
                     TDM_OK);
    return out->len;
}

/* One VP8 frame in `packets` packets of 6 + 100 bytes. Returns the count. */
static size_t publisher_frame(publisher *p, bool keyframe, size_t packets, pkt *out)
{
    static uint8_t data[100 * 16];
    size_t len = 100 * packets;
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7 + p->seq);
    if (keyframe) {
        /* VP8 frame tag with P=0, start code, 320x240 (RFC 6386 9.1). */
        static const uint8_t key[10] = {0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00};
        memcpy(data, key, sizeof key);
    } else {
        data[0] = 0x11; /* P=1: an inter frame */
    }
    tdm_encoded_frame f = {.codec = TDM_CODEC_VP8, .data = data, .len = len, .keyframe = keyframe};
    assert_int_equal(tdm_vp8_packetizer_start(&p->pz, &f, TDM_VP8_DESCRIPTOR_SIZE + 100), TDM_OK);
    uint8_t payload[200];
    size_t n = 0;
    bool last = false;
    while (!last) {
        size_t plen;
        assert_int_equal(tdm_vp8_packetizer_next(&p->pz, payload, sizeof payload, &plen, &last),
                         TDM_OK);
        write_rtp(p, p->seq++, p->ts, last, payload, plen, 0, &out[n++]);
    }
    assert_int_equal(n, packets);
    p->ts += 3000;
    return n;
}

static tdm_room *room_with(size_t max_subscribers, uint32_t nack_window)
{
    tdm_room_config cfg;
    tdm_room_config_default(&cfg);
    cfg.max_subscribers = max_subscribers;
    if (nack_window)
        cfg.nack_window = nack_window;
    tdm_room *room = NULL;
    assert_int_equal(tdm_room_new(&cfg, &room), TDM_OK);
    return room;
}

static const tdm_room_stream video_stream = {TDM_CODEC_VP8, VIDEO_SSRC, VIDEO_PT};
static const tdm_room_stream av_streams[] = {{TDM_CODEC_VP8, VIDEO_SSRC, VIDEO_PT},
                                             {TDM_CODEC_OPUS, AUDIO_SSRC, AUDIO_PT}};

static void set_video_publisher(tdm_room *room, const tdm_room_extension *ext, size_t n)
{
    tdm_room_publisher_config pc = {&video_stream, 1, ext, n};
    assert_int_equal(tdm_room_set_publisher(room, &pc), TDM_OK);
}

static int add_video_subscriber(tdm_room *room, uint8_t pt, uint32_t ssrc, uint16_t first_seq,
                                const tdm_room_extension *ext, size_t n)
{
    tdm_room_subscriber_stream s = {TDM_CODEC_VP8, pt, ssrc, first_seq};
    tdm_room_subscriber_config sc = {&s, 1, ext, n};
    int id = -1;
    assert_int_equal(tdm_room_add_subscriber(room, &sc, &id), TDM_OK);
    assert_true(id >= 0);
    return id;
}

static const tdm_room_packet *packet_for(const tdm_room_output *out, int id)
{
    for (size_t i = 0; i < out->count; i++)
        if (out->packets[i].subscriber == id)
            return &out->packets[i];
    return NULL;
}

static tdm_rtp_packet parse(const uint8_t *b, size_t len)
{
    tdm_rtp_packet p;
    assert_int_equal(tdm_rtp_parse(b, len, &p, NULL), TDM_OK);
    return p;
}

static void drain_events(tdm_room *room)
{
    tdm_room_event ev;
    while (tdm_room_poll_event(room, &ev) == TDM_OK) {
    }
}

/* Three subscribers, numbering from 65533, 0 and 40000; the publisher
 * from 65530: both cross the wrap within a keyframe and five deltas. */
static void every_subscriber_gets_every_packet_in_sequence(void **state)
{
    (void)state;
    tdm_room *room = room_with(4, 0);
    set_video_publisher(room, NULL, 0);
    const uint16_t first[3] = {65533, 0, 40000};
    const uint32_t ssrc[3] = {0xa0000001u, 0, 0xa0000003u}; /* 0: keep the publisher's */
    const uint8_t pt[3] = {96, 100, 120};
    int id[3];
    for (int k = 0; k < 3; k++)
        id[k] = add_video_subscriber(room, pt[k], ssrc[k], first[k], NULL, 0);
    assert_int_equal(tdm_room_subscriber_count(room), 3);

    publisher pub;
    publisher_init(&pub, 65530);
    pkt pk[16];
    size_t sent = 0;
    for (int f = 0; f < 6; f++) {
        size_t n = publisher_frame(&pub, f == 0, f == 0 ? 3 : 2, pk);
        for (size_t i = 0; i < n; i++, sent++) {
            tdm_room_output out;
            assert_int_equal(tdm_room_forward(room, 1000 * sent, pk[i].b, pk[i].len, &out), TDM_OK);
            assert_int_equal(out.drop, TDM_RTP_DROP_NONE);
            assert_int_equal(out.count, 3);
            assert_int_equal(out.withheld, 0);
            tdm_rtp_packet in = parse(pk[i].b, pk[i].len);
            for (int k = 0; k < 3; k++) {
                const tdm_room_packet *o = packet_for(&out, id[k]);
                assert_non_null(o);
                assert_true(o->cap >= o->len + TDM_ROOM_TRAILER_ROOM);
                tdm_rtp_packet q = parse(o->data, o->len);
                assert_int_equal(q.header.seq, (uint16_t)(first[k] + sent));
                assert_int_equal(o->seq, q.header.seq);
                assert_int_equal(q.header.ssrc, ssrc[k] ? ssrc[k] : VIDEO_SSRC);
                assert_int_equal(o->ssrc, q.header.ssrc);
                assert_int_equal(q.header.payload_type, pt[k]);
                assert_int_equal(q.header.timestamp, in.header.timestamp);
                assert_int_equal(q.header.marker, in.header.marker);
                assert_int_equal(q.payload_len, in.payload_len);
                assert_memory_equal(q.payload, in.payload, in.payload_len);
            }
        }
    }
    assert_int_equal(sent, 13); /* publisher 65530..6, subscriber 0 65533..9 */
    tdm_room_subscriber_stats st;
    assert_int_equal(tdm_room_get_subscriber_stats(room, id[1], &st), TDM_OK);
    assert_int_equal(st.packets, 13);
    assert_int_equal(st.withheld, 0);
    assert_int_equal(tdm_room_get_stats(room)->packets_out, 39);
    tdm_room_free(room);
}

static void late_joiner_starts_at_next_keyframe(void **state)
{
    (void)state;
    tdm_room *room = room_with(4, 0);
    set_video_publisher(room, NULL, 0);
    int early = add_video_subscriber(room, VIDEO_PT, 0xb0000001u, 65535, NULL, 0);
    tdm_room_event ev;
    assert_int_equal(tdm_room_poll_event(room, &ev), TDM_OK);
    assert_int_equal(ev.reason, TDM_ROOM_KEYFRAME_JOIN);
    assert_int_equal(ev.subscriber, early);
    assert_int_equal(tdm_room_poll_event(room, &ev), TDM_AGAIN);

    publisher pub;
    publisher_init(&pub, 65534);
    pkt pk[16];
    uint64_t now = 1000000;
    uint16_t early_next = 65535;
    tdm_room_output out;
#define FORWARD_FRAME(key, count)                                                            \
    for (size_t n_ = publisher_frame(&pub, key, count, pk), i_ = 0; i_ < n_; i_++) {         \
        assert_int_equal(tdm_room_forward(room, now, pk[i_].b, pk[i_].len, &out), TDM_OK);   \
        const tdm_room_packet *e_ = packet_for(&out, early);                                 \
        assert_non_null(e_);                                                                 \
        assert_int_equal(e_->seq, early_next);                                               \
        early_next++;                                                                        \
        CHECK_LATE(i_);                                                                      \
    }

#define CHECK_LATE(i) (void)0
    FORWARD_FRAME(true, 3);
    FORWARD_FRAME(false, 2);

    int late = add_video_subscriber(room, VIDEO_PT, 0xb0000002u, 65534, NULL, 0);
    assert_int_equal(tdm_room_poll_event(room, &ev), TDM_OK);
    assert_int_equal(ev.type, TDM_ROOM_EVENT_KEYFRAME_WANTED);
    assert_int_equal(ev.reason, TDM_ROOM_KEYFRAME_JOIN);
    assert_int_equal(ev.subscriber, late);
    assert_int_equal(ev.publisher_ssrc, VIDEO_SSRC);
    assert_int_equal(tdm_room_poll_event(room, &ev), TDM_AGAIN);

    /* Deltas: nothing for the late joiner, and the first withheld packet
     * does not repeat the request the join made. */
#undef CHECK_LATE
#define CHECK_LATE(i)                                                                        \
    do {                                                                                     \
        assert_null(packet_for(&out, late));                                                 \
        assert_int_equal(out.withheld, 1);                                                   \
    } while (0)
    FORWARD_FRAME(false, 2);
    assert_int_equal(tdm_room_poll_event(room, &ev), TDM_AGAIN);
    now += 600000; /* past keyframe_retry_us: still waiting, ask again */
    FORWARD_FRAME(false, 2);
    assert_int_equal(tdm_room_poll_event(room, &ev), TDM_OK);
    assert_int_equal(ev.reason, TDM_ROOM_KEYFRAME_STILL_WAITING);
    assert_int_equal(ev.subscriber, late);
    assert_int_equal(tdm_room_poll_event(room, &ev), TDM_AGAIN);

    /* The keyframe starts it at its first_seq, continuous from there. */
    uint16_t late_next = 65534;
#undef CHECK_LATE
#define CHECK_LATE(i)                                                                        \
    do {                                                                                     \
        const tdm_room_packet *l_ = packet_for(&out, late);                                  \
        assert_non_null(l_);                                                                 \
        assert_int_equal(l_->seq, late_next);                                                \
        late_next++;                                                                         \
        tdm_vp8_payload vp_;                                                                 \
        tdm_rtp_packet q_ = parse(l_->data, l_->len);                                        \
        assert_int_equal(tdm_vp8_depacketize(q_.payload, q_.payload_len, &vp_, NULL), TDM_OK); \
        if (late_next == 65535)                                                              \
            assert_true(vp_.keyframe);                                                       \
    } while (0)
    FORWARD_FRAME(true, 3);
    FORWARD_FRAME(false, 2);
    assert_int_equal(late_next, 3);
#undef CHECK_LATE
#undef FORWARD_FRAME

    tdm_room_subscriber_stats st;
    assert_int_equal(tdm_room_get_subscriber_stats(room, late, &st), TDM_OK);
    assert_int_equal(st.withheld, 4);
    assert_int_equal(st.packets, 5);
    assert_int_equal(tdm_room_get_subscriber_stats(room, early, &st), TDM_OK);
    assert_int_equal(st.packets, 14);
    tdm_room_free(room);
}

/* Publisher block (one-byte form): abs-send-time id 1, transport-cc id 2,
 * mid id 3, padded to 12 bytes. */
static const uint8_t pub_ext_block[12] = {0x12, 0xaa, 0xbb, 0xcc, 0x21, 0x01,
                                          0x02, 0x30, 'v',  0,    0,    0};
static const tdm_room_extension pub_exts[] = {{1, URI_ABS_SEND}, {2, URI_TWCC}, {3, URI_MID}};

static void extensions_are_filtered_and_renumbered(void **state)
{
    (void)state;
    tdm_room *room = room_with(4, 0);
    set_video_publisher(room, pub_exts, 3);
    /* Renumbered: abs-send-time 3, mid 1, no transport-cc. */
    const tdm_room_extension x_ext[] = {{1, URI_MID}, {3, URI_ABS_SEND}, {9, "urn:unused"}};
    int x = add_video_subscriber(room, VIDEO_PT, 1, 100, x_ext, 3);
    int none = add_video_subscriber(room, VIDEO_PT, 2, 100, NULL, 0);
    /* Only transport-cc, at an id the one-byte form cannot carry. */
    const tdm_room_extension z_ext[] = {{20, URI_TWCC}};
    int z = add_video_subscriber(room, VIDEO_PT, 3, 100, z_ext, 1);
    int same = add_video_subscriber(room, VIDEO_PT, 4, 100, pub_exts, 3);

    publisher pub;
    publisher_init(&pub, 7);
    pub.ext = pub_ext_block;
    pub.ext_len = sizeof pub_ext_block;
    pub.ext_profile = 0xBEDE;
    pkt pk[4];
    publisher_frame(&pub, true, 1, pk);
    tdm_rtp_packet in = parse(pk[0].b, pk[0].len);
    tdm_room_output out;
    assert_int_equal(tdm_room_forward(room, 0, pk[0].b, pk[0].len, &out), TDM_OK);
    assert_int_equal(out.count, 4);

    const tdm_room_packet *o = packet_for(&out, x);
    tdm_rtp_packet q = parse(o->data, o->len);
    static const uint8_t want_x[8] = {0x32, 0xaa, 0xbb, 0xcc, 0x10, 'v', 0, 0};
    assert_true(o->data[0] & 0x10);
    static const uint8_t bede2[4] = {0xbe, 0xde, 0x00, 0x02};
    assert_memory_equal(o->data + 12, bede2, 4);
    assert_memory_equal(o->data + 16, want_x, sizeof want_x);
    assert_int_equal(q.header_len, 24);
    assert_memory_equal(q.payload, in.payload, in.payload_len);
    assert_int_equal(o->len, pk[0].len - 4);

    o = packet_for(&out, none);
    q = parse(o->data, o->len);
    assert_false(o->data[0] & 0x10); /* X bit gone with the last element */
    assert_int_equal(q.header_len, 12);
    assert_int_equal(o->len, 12 + in.payload_len);
    assert_memory_equal(o->data + 12, in.payload, in.payload_len);

    o = packet_for(&out, z);
    q = parse(o->data, o->len);
    static const uint8_t want_z[8] = {0x10, 0x00, 0x00, 0x01, 20, 2, 0x01, 0x02};
    assert_memory_equal(o->data + 12, want_z, 8);
    assert_memory_equal(q.payload, in.payload, in.payload_len);

    o = packet_for(&out, same);
    assert_int_equal(o->len, pk[0].len);
    assert_memory_equal(o->data + 12, pk[0].b + 12, pk[0].len - 12);

    tdm_room_subscriber_stats st;
    assert_int_equal(tdm_room_get_subscriber_stats(room, x, &st), TDM_OK);
    assert_int_equal(st.ext_stripped, 1);
    assert_int_equal(tdm_room_get_subscriber_stats(room, none, &st), TDM_OK);
    assert_int_equal(st.ext_stripped, 3);
    assert_int_equal(tdm_room_get_subscriber_stats(room, z, &st), TDM_OK);
    assert_int_equal(st.ext_stripped, 2);
    assert_int_equal(tdm_room_get_subscriber_stats(room, same, &st), TDM_OK);
    assert_int_equal(st.ext_stripped, 0);

    /* A block that is not RFC 8285 goes whole; a broken element drops the
     * packet for everyone, without leaving a gap. */
    static const uint8_t foreign[4] = {1, 2, 3, 4};
    pub.ext = foreign;
    pub.ext_len = sizeof foreign;
    pub.ext_profile = 0x1234;
    publisher_frame(&pub, false, 1, pk);
    assert_int_equal(tdm_room_forward(room, 0, pk[0].b, pk[0].len, &out), TDM_OK);
    o = packet_for(&out, same);
    assert_false(o->data[0] & 0x10);
    assert_int_equal(o->seq, 101);
    static const uint8_t broken[4] = {0x13, 0xaa, 0xbb, 0xcc}; /* 4 data bytes claimed, 3 there */
    pub.ext = broken;
    pub.ext_profile = 0xBEDE;
    publisher_frame(&pub, false, 1, pk);
    assert_int_equal(tdm_room_forward(room, 0, pk[0].b, pk[0].len, &out), TDM_OK);
    assert_int_equal(out.count, 0);
    assert_int_equal(out.drop, TDM_RTP_DROP_BAD_EXTENSION);
    pub.ext_len = 0;
    publisher_frame(&pub, false, 1, pk);
    assert_int_equal(tdm_room_forward(room, 0, pk[0].b, pk[0].len, &out), TDM_OK);
    assert_int_equal(packet_for(&out, same)->seq, 102);
    tdm_room_free(room);
}

static void audio_flows_at_once_video_waits(void **state)
{
    (void)state;
    tdm_room *room = room_with(4, 0);
    tdm_room_publisher_config pc = {av_streams, 2, NULL, 0};
    assert_int_equal(tdm_room_set_publisher(room, &pc), TDM_OK);

    publisher vid, aud;
    publisher_init(&vid, 500);
    publisher_init(&aud, 65535);
    aud.ssrc = AUDIO_SSRC;
    aud.pt = AUDIO_PT;
    pkt pk[4];
    tdm_room_output out;
    publisher_frame(&vid, true, 1, pk);
    assert_int_equal(tdm_room_forward(room, 0, pk[0].b, pk[0].len, &out), TDM_OK);
    assert_int_equal(out.count, 0); /* nobody in yet */

    const tdm_room_subscriber_stream both[] = {{TDM_CODEC_OPUS, 109, 0xc0000001u, 65535},
                                               {TDM_CODEC_VP8, 97, 0xc0000002u, 10}};
    tdm_room_subscriber_config sc = {both, 2, NULL, 0};
    int id;
    assert_int_equal(tdm_room_add_subscriber(room, &sc, &id), TDM_OK);
    int video_only = add_video_subscriber(room, VIDEO_PT, 0xc0000003u, 0, NULL, 0);

    static const uint8_t opus[3] = {0xfc, 0xff, 0xfe}; /* any bytes: audio is not inspected */
    for (int i = 0; i < 3; i++) {
        write_rtp(&aud, aud.seq++, aud.ts += 960, true, opus, sizeof opus, 0, &pk[0]);
        assert_int_equal(tdm_room_forward(room, 0, pk[0].b, pk[0].len, &out), TDM_OK);
        assert_int_equal(out.count, 1);
        assert_null(packet_for(&out, video_only));
        const tdm_room_packet *o = packet_for(&out, id);
        assert_non_null(o);
        tdm_rtp_packet q = parse(o->data, o->len);
        assert_int_equal(q.header.seq, (uint16_t)(65535 + i));
        assert_int_equal(q.header.ssrc, 0xc0000001u);
        assert_int_equal(q.header.payload_type, 109);
        assert_memory_equal(q.payload, opus, sizeof opus);
    }
    publisher_frame(&vid, false, 1, pk);
    assert_int_equal(tdm_room_forward(room, 0, pk[0].b, pk[0].len, &out), TDM_OK);
    assert_int_equal(out.count, 0);
    assert_int_equal(out.withheld, 2);
    publisher_frame(&vid, true, 1, pk);
    assert_int_equal(tdm_room_forward(room, 0, pk[0].b, pk[0].len, &out), TDM_OK);
    assert_int_equal(out.count, 2);
    assert_int_equal(packet_for(&out, id)->seq, 10);
    assert_int_equal(packet_for(&out, id)->ssrc, 0xc0000002u);
    assert_int_equal(packet_for(&out, video_only)->seq, 0);
    tdm_room_free(room);
}

static void nack_maps_back_to_publisher_numbers(void **state)
{
    (void)state;
    tdm_room *room = room_with(2, 64);
    set_video_publisher(room, pub_exts, 3);
    const tdm_room_extension sub_ext[] = {{5, URI_MID}};
    const uint32_t ssrc = 0xd0000001u;
    int id = add_video_subscriber(room, 98, ssrc, 65534, sub_ext, 1);
    drain_events(room);

    publisher pub;
    publisher_init(&pub, 100);
    pub.ext = pub_ext_block;
    pub.ext_len = sizeof pub_ext_block;
    pub.ext_profile = 0xBEDE;
    pkt pk[8], kept[8];
    uint8_t sent_copy[8][1600];
    size_t sent_len[8];
    tdm_room_output out;

    /* Keyframe: publisher 100..102 -> 65534, 65535, 0. */
    size_t n = publisher_frame(&pub, true, 3, pk);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tdm_room_forward(room, 0, pk[i].b, pk[i].len, &out), TDM_OK);
        kept[i] = pk[i];
        memcpy(sent_copy[i], out.packets[0].data, out.packets[0].len);
        sent_len[i] = out.packets[0].len;
    }
    /* A padding-only probe (publisher 103) goes to nobody and leaves no gap. */
    write_rtp(&pub, pub.seq++, pub.ts, false, NULL, 0, 20, &pk[0]);
    assert_int_equal(tdm_room_forward(room, 0, pk[0].b, pk[0].len, &out), TDM_OK);
    assert_int_equal(out.count, 0);
    assert_int_equal(tdm_room_get_stats(room)->padding_dropped, 1);
    /* Publisher 104, 105 -> 1, 2. */
    n = publisher_frame(&pub, false, 2, pk);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tdm_room_forward(room, 0, pk[i].b, pk[i].len, &out), TDM_OK);
        assert_int_equal(out.packets[0].seq, 1 + i);
        kept[3 + i] = pk[i];
        memcpy(sent_copy[3 + i], out.packets[0].data, out.packets[0].len);
        sent_len[3 + i] = out.packets[0].len;
    }
    /* Publisher 106 lost upstream: a gap the subscriber will NACK; 107 -> 4. */
    n = publisher_frame(&pub, false, 2, pk);
    assert_int_equal(tdm_room_forward(room, 0, pk[1].b, pk[1].len, &out), TDM_OK);
    assert_int_equal(out.packets[0].seq, 4);
    /* The lost one arriving late (a retransmission) takes the gap. */
    assert_int_equal(tdm_room_forward(room, 0, pk[0].b, pk[0].len, &out), TDM_OK);
    assert_int_equal(out.packets[0].seq, 3);

    static const struct {
        uint16_t sub, pub;
    } want[] = {{65534, 100}, {65535, 101}, {0, 102}, {1, 104}, {2, 105}, {3, 106}, {4, 107}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint32_t pssrc = 0;
        uint16_t pseq = 0;
        assert_int_equal(tdm_room_map_nack(room, id, ssrc, want[i].sub, &pssrc, &pseq), TDM_OK);
        assert_int_equal(pssrc, VIDEO_SSRC);
        assert_int_equal(pseq, want[i].pub);
    }
    /* Not sent yet, or someone else's SSRC. */
    uint32_t pssrc;
    uint16_t pseq;
    assert_int_equal(tdm_room_map_nack(room, id, ssrc, 5, &pssrc, &pseq), TDM_ERR_RANGE);
    tdm_room_event ev;
    assert_int_equal(tdm_room_poll_event(room, &ev), TDM_OK);
    assert_int_equal(ev.reason, TDM_ROOM_KEYFRAME_LOSS);
    assert_int_equal(ev.subscriber, id);
    assert_int_equal(ev.publisher_ssrc, VIDEO_SSRC);
    assert_int_equal(tdm_room_map_nack(room, id, VIDEO_SSRC, 1, &pssrc, &pseq), TDM_ERR_INVALID);

    /* A retransmission from the publisher's copy is the packet as first
     * sent; the wrong copy is refused. */
    uint8_t rtx[1600];
    size_t rlen = 0;
    for (size_t i = 0; i < 5; i++) {
        uint16_t sseq = i < 3 ? (uint16_t)(65534 + i) : (uint16_t)(i - 2);
        assert_int_equal(tdm_room_write_retransmission(room, id, ssrc, sseq, kept[i].b, kept[i].len,
                                                       rtx, sizeof rtx, &rlen),
                         TDM_OK);
        assert_int_equal(rlen, sent_len[i]);
        assert_memory_equal(rtx, sent_copy[i], rlen);
    }
    assert_int_equal(tdm_room_write_retransmission(room, id, ssrc, 1, kept[4].b, kept[4].len, rtx,
                                                   sizeof rtx, &rlen),
                     TDM_ERR_FORMAT);

    /* After more than the window (64), the oldest numbers are gone. */
    for (int f = 0; f < 40; f++) {
        n = publisher_frame(&pub, false, 2, pk);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(tdm_room_forward(room, 0, pk[i].b, pk[i].len, &out), TDM_OK);
    }
    assert_int_equal(tdm_room_map_nack(room, id, ssrc, 65534, &pssrc, &pseq), TDM_ERR_RANGE);
    assert_int_equal(tdm_room_map_nack(room, id, ssrc, 84, &pssrc, &pseq), TDM_OK);
    assert_int_equal(pseq, 187);
    tdm_room_subscriber_stats st;
    assert_int_equal(tdm_room_get_subscriber_stats(room, id, &st), TDM_OK);
    assert_int_equal(st.nack_misses, 2);
    assert_int_equal(st.retransmissions, 5);

    /* A PLI from the subscriber reaches the publisher's stream. */
    drain_events(room);
    assert_int_equal(tdm_room_request_keyframe(room, id, ssrc, TDM_ROOM_KEYFRAME_PLI), TDM_OK);
    assert_int_equal(tdm_room_poll_event(room, &ev), TDM_OK);
    assert_int_equal(ev.reason, TDM_ROOM_KEYFRAME_PLI);
    assert_int_equal(ev.publisher_ssrc, VIDEO_SSRC);
    tdm_room_free(room);
}

static void malformed_packets_are_counted_and_dropped(void **state)
{
    (void)state;
    tdm_room *room = room_with(2, 0);
    set_video_publisher(room, NULL, 0);
    int id = add_video_subscriber(room, VIDEO_PT, 0xe0000001u, 65535, NULL, 0);
    publisher pub;
    publisher_init(&pub, 9);
    pkt pk[4], bad;
    tdm_room_output out;
    publisher_frame(&pub, true, 1, pk);
    assert_int_equal(tdm_room_forward(room, 0, pk[0].b, pk[0].len, &out), TDM_OK);
    assert_int_equal(out.packets[0].seq, 65535);

    publisher_frame(&pub, false, 1, pk); /* publisher seq 10, spoilt below */
    /* Too short. */
    bad = pk[0];
    tdm_room_output o2;
    assert_int_equal(tdm_room_forward(room, 0, bad.b, 5, &o2), TDM_OK);
    assert_int_equal(o2.drop, TDM_RTP_DROP_TOO_SHORT);
    assert_int_equal(o2.count, 0);
    /* Version 1. */
    bad = pk[0];
    bad.b[0] = (uint8_t)((bad.b[0] & 0x3f) | 0x40);
    assert_int_equal(tdm_room_forward(room, 0, bad.b, bad.len, &o2), TDM_OK);
    assert_int_equal(o2.drop, TDM_RTP_DROP_BAD_VERSION);
    /* Padding count zero. */
    bad = pk[0];
    bad.b[0] |= 0x20;
    bad.b[bad.len - 1] = 0;
    assert_int_equal(tdm_room_forward(room, 0, bad.b, bad.len, &o2), TDM_OK);
    assert_int_equal(o2.drop, TDM_RTP_DROP_BAD_PADDING);
    /* Extension longer than the packet. */
    bad = pk[0];
    bad.b[0] |= 0x10;
    bad.b[12] = 0xbe, bad.b[13] = 0xde, bad.b[14] = 0x40, bad.b[15] = 0;
    assert_int_equal(tdm_room_forward(room, 0, bad.b, bad.len, &o2), TDM_OK);
    assert_int_equal(o2.drop, TDM_RTP_DROP_BAD_EXTENSION);
    /* Unknown SSRC. */
    bad = pk[0];
    bad.b[8] ^= 0xff;
    assert_int_equal(tdm_room_forward(room, 0, bad.b, bad.len, &o2), TDM_OK);
    assert_int_equal(o2.drop, TDM_RTP_DROP_WRONG_SSRC);
    /* Over max_packet_bytes. */
    uint8_t big[1600] = {0x80};
    assert_int_equal(tdm_room_forward(room, 0, big, sizeof big, &o2), TDM_OK);
    assert_int_equal(o2.drop, TDM_RTP_DROP_PACKET_TOO_BIG);
    assert_int_equal(tdm_room_get_stats(room)->drops.n[TDM_RTP_DROP_TOO_SHORT], 1);
    assert_int_equal(tdm_room_get_stats(room)->drops.n[TDM_RTP_DROP_WRONG_SSRC], 1);

    /* Known stream, wrong payload type (publisher seq 11) and a truncated
     * VP8 descriptor (seq 12): dropped, and the numbers close up. */
    bad = pk[0];
    bad.b[1] = (uint8_t)((bad.b[1] & 0x80) | 100);
    assert_int_equal(tdm_room_forward(room, 0, bad.b, bad.len, &o2), TDM_OK);
    assert_int_equal(o2.drop, TDM_RTP_DROP_WRONG_PAYLOAD_TYPE);
    publisher_frame(&pub, false, 1, pk);
    static const uint8_t truncated[2] = {0x90, 0x80}; /* X=1, I=1: picture ID missing */
    write_rtp(&pub, (uint16_t)(pub.seq - 1), pub.ts, true, truncated, sizeof truncated, 0, &bad);
    assert_int_equal(tdm_room_forward(room, 0, bad.b, bad.len, &o2), TDM_OK);
    assert_int_equal(o2.drop, TDM_RTP_DROP_VP8_TRUNCATED);
    assert_int_equal(o2.count, 0);
    publisher_frame(&pub, false, 1, pk);
    assert_int_equal(tdm_room_forward(room, 0, pk[0].b, pk[0].len, &out), TDM_OK);
    assert_int_equal(out.count, 1);
    assert_int_equal(out.packets[0].seq, 0); /* right after 65535 */
    assert_int_equal(tdm_rtp_drop_counts_total(&tdm_room_get_stats(room)->drops), 8);
    tdm_room_subscriber_stats st;
    assert_int_equal(tdm_room_get_subscriber_stats(room, id, &st), TDM_OK);
    assert_int_equal(st.packets, 2);

    /* NULL arguments are the only errors. */
    assert_int_equal(tdm_room_forward(room, 0, NULL, 4, &out), TDM_ERR_INVALID);
    assert_int_equal(tdm_room_forward(room, 0, pk[0].b, pk[0].len, NULL), TDM_ERR_INVALID);
    tdm_room_free(room);
}

static void subscriber_cap_is_enforced(void **state)
{
    (void)state;
    tdm_room *room = room_with(2, 0);
    set_video_publisher(room, NULL, 0);
    int a = add_video_subscriber(room, VIDEO_PT, 1, 0, NULL, 0);
    int b = add_video_subscriber(room, VIDEO_PT, 2, 0, NULL, 0);
    tdm_room_subscriber_stream s = {TDM_CODEC_VP8, VIDEO_PT, 3, 0};
    tdm_room_subscriber_config sc = {&s, 1, NULL, 0};
    int c = -1;
    assert_int_equal(tdm_room_add_subscriber(room, &sc, &c), TDM_ERR_UNAVAILABLE);
    assert_int_equal(tdm_room_get_stats(room)->subscribers_refused, 1);
    assert_int_equal(tdm_room_subscriber_count(room), 2);

    assert_int_equal(tdm_room_remove_subscriber(room, a), TDM_OK);
    assert_int_equal(tdm_room_remove_subscriber(room, a), TDM_ERR_INVALID);
    assert_int_equal(tdm_room_add_subscriber(room, &sc, &c), TDM_OK);
    assert_int_not_equal(c, a); /* same slot, new generation: the old id stays dead */
    tdm_room_subscriber_stats st;
    assert_int_equal(tdm_room_get_subscriber_stats(room, a, &st), TDM_ERR_INVALID);
    assert_int_equal(tdm_room_get_subscriber_stats(room, c, &st), TDM_OK);
    assert_int_equal(tdm_room_remove_subscriber(room, b), TDM_OK);
    assert_int_equal(tdm_room_subscriber_count(room), 1);

    /* Bad configs. */
    tdm_room_config cfg;
    tdm_room_config_default(&cfg);
    cfg.nack_window = 100;
    tdm_room *r2 = NULL;
    assert_int_equal(tdm_room_new(&cfg, &r2), TDM_ERR_INVALID);
    sc.stream_count = 0;
    assert_int_equal(tdm_room_add_subscriber(room, &sc, &c), TDM_ERR_INVALID);
    const tdm_room_stream dup[] = {{TDM_CODEC_VP8, 5, 96}, {TDM_CODEC_OPUS, 5, 111}};
    tdm_room_publisher_config pc = {dup, 2, NULL, 0};
    assert_int_equal(tdm_room_set_publisher(room, &pc), TDM_ERR_INVALID);
    tdm_room_free(room);
}

/* Counting allocator: the room makes its one allocation up front. */
typedef struct alloc_count {
    int allocs, frees, fail;
} alloc_count;

static void *count_alloc(size_t size, void *ctx)
{
    alloc_count *c = ctx;
    if (c->fail)
        return NULL;
    c->allocs++;
    return calloc(1, size);
}

static void count_free(void *p, void *ctx)
{
    alloc_count *c = ctx;
    c->frees++;
    free(p);
}

static void forwarding_allocates_nothing(void **state)
{
    (void)state;
    alloc_count ac = {.fail = 1};
    tdm_room_config cfg;
    tdm_room_config_default(&cfg);
    cfg.max_subscribers = 8;
    cfg.alloc = count_alloc;
    cfg.free = count_free;
    cfg.alloc_ctx = &ac;
    tdm_room *room = NULL;
    assert_int_equal(tdm_room_new(&cfg, &room), TDM_ERR_NOMEM);
    assert_null(room);
    ac.fail = 0;
    assert_int_equal(tdm_room_new(&cfg, &room), TDM_OK);
    assert_int_equal(ac.allocs, 1);

    tdm_room_publisher_config pc = {av_streams, 2, pub_exts, 3};
    assert_int_equal(tdm_room_set_publisher(room, &pc), TDM_OK);
    const tdm_room_extension sub_ext[] = {{14, URI_MID}, {200, URI_ABS_SEND}};
    int ids[8];
    for (int k = 0; k < 8; k++)
        ids[k] = add_video_subscriber(room, VIDEO_PT, 100u + (uint32_t)k, (uint16_t)(k * 9000),
                                      sub_ext, (size_t)(k % 3));
    publisher pub;
    publisher_init(&pub, 60000);
    pub.ext = pub_ext_block;
    pub.ext_len = sizeof pub_ext_block;
    pub.ext_profile = 0xBEDE;
    pkt pk[4];
    tdm_room_output out;
    size_t total = 0;
    for (int f = 0; f < 3000; f++) {
        size_t n = publisher_frame(&pub, f % 100 == 0, 2, pk);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(tdm_room_forward(room, (uint64_t)f * 33000, pk[i].b, pk[i].len, &out),
                             TDM_OK);
            total += out.count;
        }
        uint32_t ps;
        uint16_t pq;
        tdm_room_map_nack(room, ids[f % 8], 100u + (uint32_t)(f % 8), (uint16_t)f, &ps, &pq);
        drain_events(room);
    }
    assert_int_equal(total, 8 * 6000);
    assert_int_equal(ac.allocs, 1);
    assert_int_equal(ac.frees, 0);
    tdm_room_free(room);
    assert_int_equal(ac.frees, 1);
}

/* A publisher that reconnects with a new SSRC: subscribers wait for its
 * keyframe, then their numbers and timestamps run on. */
static void new_publisher_continues_each_subscriber_stream(void **state)
{
    (void)state;
    tdm_room *room = room_with(2, 0);
    set_video_publisher(room, NULL, 0);
    int id = add_video_subscriber(room, VIDEO_PT, 0xf0000001u, 65530, NULL, 0);
    publisher pub;
    publisher_init(&pub, 1);
    pkt pk[4];
    tdm_room_output out;
    size_t n = publisher_frame(&pub, true, 2, pk);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tdm_room_forward(room, 1000000, pk[i].b, pk[i].len, &out), TDM_OK);
    tdm_rtp_packet last = parse(out.packets[0].data, out.packets[0].len);
    assert_int_equal(last.header.seq, 65531);

    const tdm_room_stream again = {TDM_CODEC_VP8, 0x12345678u, VIDEO_PT};
    tdm_room_publisher_config pc = {&again, 1, NULL, 0};
    assert_int_equal(tdm_room_set_publisher(room, &pc), TDM_OK);
    publisher_init(&pub, 40000);
    pub.ssrc = again.ssrc;
    pub.ts = 777;
    publisher_frame(&pub, false, 1, pk);
    assert_int_equal(tdm_room_forward(room, 1500000, pk[0].b, pk[0].len, &out), TDM_OK);
    assert_int_equal(out.count, 0);
    publisher_frame(&pub, true, 1, pk);
    assert_int_equal(tdm_room_forward(room, 2000000, pk[0].b, pk[0].len, &out), TDM_OK);
    assert_int_equal(out.count, 1);
    tdm_rtp_packet q = parse(out.packets[0].data, out.packets[0].len);
    assert_int_equal(q.header.seq, 65532);
    assert_int_equal(q.header.ssrc, 0xf0000001u);
    assert_int_equal(q.header.timestamp, last.header.timestamp + 90000); /* one second on */
    (void)id;
    tdm_room_free(room);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_subscriber_gets_every_packet_in_sequence),
        cmocka_unit_test(late_joiner_starts_at_next_keyframe),
        cmocka_unit_test(extensions_are_filtered_and_renumbered),
        cmocka_unit_test(audio_flows_at_once_video_waits),
        cmocka_unit_test(nack_maps_back_to_publisher_numbers),
        cmocka_unit_test(malformed_packets_are_counted_and_dropped),
        cmocka_unit_test(subscriber_cap_is_enforced),
        cmocka_unit_test(forwarding_allocates_nothing),
        cmocka_unit_test(new_publisher_continues_each_subscriber_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
