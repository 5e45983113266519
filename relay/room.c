/* room.c: the forwarding room (tdm_room.h): per-subscriber routing,
 * sequence-number and timestamp rewriting, header-extension filtering and
 * the NACK mapping rings. The only allocation is the one in tdm_room_new. */
#include "tdm_room.h"

#include <stdlib.h>
#include <string.h>

#include "tdm_vp8_rtp.h"
#include "tdm_vp9_rtp.h"

#define MAX_SUBSCRIBERS 4096
#define SLOT_BITS 12 /* ids are generation << SLOT_BITS | slot */
#define GEN_MASK 0x7ffffu
/* Unwrapped sequence numbers start here so that late packets never go
 * below zero (see tdm_rtp_seq_unwrap). */
#define EXT_BASE ((uint64_t)1 << 32)
/* An extension block rebuilt for one subscriber: every kept element in the
 * two-byte form, plus padding. */
#define EXT_SCRATCH (TDM_ROOM_MAX_EXT_ELEMENTS * (2 + 255) + 4)

typedef struct ext_def {
    uint8_t id;
    char uri[TDM_ROOM_MAX_URI + 1];
} ext_def;

typedef struct pub_stream {
    tdm_room_stream s;
    bool video;
    uint32_t clock_hz;
    bool have_seq;
    uint64_t highest_ext; /* newest unwrapped seq seen */
    /* Repeating keyframe-wanted while someone waits: the first withheld
     * packet after a join only starts the clock (the join asked already). */
    bool wait_fresh;
    uint64_t wait_last_us;
} pub_stream;

/* Ring entry, indexed by the subscriber's sequence number. */
typedef struct map_entry {
    uint16_t out, pub;
    bool valid;
} map_entry;

typedef struct sub_stream {
    tdm_room_subscriber_stream cfg;
    uint32_t bound_ssrc; /* publisher stream routed here now; 0 none */
    uint32_t out_ssrc;
    bool active;   /* forwarding; else waiting for its first (key)frame */
    bool sent_any; /* a later start continues seq and timestamps */
    /* out_ext = pub_ext + off (mod 2^64); off only changes at a start or
     * when the newest packet is dropped for this subscriber. */
    uint64_t off;
    uint64_t floor_ext;   /* publisher packets below this are refused when late */
    uint64_t highest_ext; /* newest publisher packet handled while active */
    uint64_t mapped_ext;  /* newest out seq with a ring entry (gaps included) */
    uint32_t ts_offset;
    uint16_t last_seq; /* last sent, for continuation */
    uint32_t last_ts;
    uint64_t last_us;
    map_entry *ring;
} sub_stream;

typedef struct sub {
    bool used;
    uint32_t gen;
    size_t stream_count;
    sub_stream st[TDM_ROOM_MAX_STREAMS];
    size_t ext_count;
    ext_def ext[TDM_ROOM_MAX_EXTENSIONS];
    int8_t route[TDM_ROOM_MAX_STREAMS]; /* publisher stream -> st index, -1 none */
    uint8_t ext_map[256];               /* publisher ext id -> ours, 0 strip */
    tdm_room_subscriber_stats stats;
    uint8_t *slot; /* output buffer */
} sub;

/* One packet's header extension, parsed once and rebuilt per subscriber. */
enum { EXT_NONE, EXT_ONE_BYTE, EXT_TWO_BYTE, EXT_FOREIGN };
typedef struct ext_elem {
    uint8_t id, len;
    const uint8_t *data;
} ext_elem;
typedef struct ext_parsed {
    int form;
    uint16_t profile;
    size_t n, extra; /* kept elements, and those beyond TDM_ROOM_MAX_EXT_ELEMENTS */
    ext_elem e[TDM_ROOM_MAX_EXT_ELEMENTS];
} ext_parsed;

struct tdm_room {
    tdm_room_config cfg;
    size_t slot_cap;
    size_t pub_count;
    pub_stream pub[TDM_ROOM_MAX_STREAMS];
    size_t pub_ext_count;
    ext_def pub_ext[TDM_ROOM_MAX_EXTENSIONS];
    size_t sub_count;
    sub *subs;
    tdm_room_packet *packets;
    tdm_room_event *events;
    size_t ev_cap, ev_head, ev_len;
    tdm_room_stats stats;
    ext_parsed ext; /* of the packet being forwarded */
    uint8_t ext_scratch[EXT_SCRATCH];
};

static const char *const reason_names[] = {"none", "join", "still_waiting", "loss", "pli"};

const char *tdm_room_keyframe_reason_name(tdm_room_keyframe_reason r)
{
    if ((unsigned)r >= sizeof reason_names / sizeof reason_names[0])
        return "unknown";
    return reason_names[r];
}

void tdm_room_config_default(tdm_room_config *cfg)
{
    *cfg = (tdm_room_config){
        .max_subscribers = 16,
        .max_packet_bytes = 1500,
        .nack_window = 1024,
        .keyframe_retry_us = 500000,
    };
}

static void *default_alloc(size_t size, void *ctx)
{
    (void)ctx;
    return calloc(1, size);
}

static void default_free(void *p, void *ctx)
{
    (void)ctx;
    free(p);
}

static size_t align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

tdm_status tdm_room_new(const tdm_room_config *cfg, tdm_room **out)
{
    if (!out)
        return TDM_ERR_INVALID;
    *out = NULL;
    tdm_room_config c;
    if (cfg)
        c = *cfg;
    else
        tdm_room_config_default(&c);
    if (c.max_subscribers < 1 || c.max_subscribers > MAX_SUBSCRIBERS ||
        c.max_packet_bytes < 64 || c.max_packet_bytes > 65535 || c.nack_window < 64 ||
        c.nack_window > 32768 || (c.nack_window & (c.nack_window - 1)) ||
        !c.alloc != !c.free)
        return TDM_ERR_INVALID;
    if (!c.alloc) {
        c.alloc = default_alloc;
        c.free = default_free;
    }

    /* Everything the room will ever need, in one block. */
    size_t n = c.max_subscribers;
    size_t slot_cap = c.max_packet_bytes + TDM_ROOM_MAX_EXT_ELEMENTS + 4 + TDM_ROOM_TRAILER_ROOM;
    size_t ev_cap = 2 * n + 2 * TDM_ROOM_MAX_STREAMS + 16;
    size_t o_subs = align16(sizeof(tdm_room));
    size_t o_packets = o_subs + align16(n * sizeof(sub));
    size_t o_events = o_packets + align16(n * sizeof(tdm_room_packet));
    size_t o_rings = o_events + align16(ev_cap * sizeof(tdm_room_event));
    size_t ring_bytes = (size_t)c.nack_window * sizeof(map_entry);
    size_t o_slots = o_rings + align16(n * TDM_ROOM_MAX_STREAMS * ring_bytes);
    size_t total = o_slots + n * align16(slot_cap);

    uint8_t *block = c.alloc(total, c.alloc_ctx);
    if (!block)
        return TDM_ERR_NOMEM;
    tdm_room *r = (tdm_room *)block;
    r->cfg = c;
    r->slot_cap = slot_cap;
    r->subs = (sub *)(block + o_subs);
    r->packets = (tdm_room_packet *)(block + o_packets);
    r->events = (tdm_room_event *)(block + o_events);
    r->ev_cap = ev_cap;
    for (size_t i = 0; i < n; i++) {
        sub *s = &r->subs[i];
        s->slot = block + o_slots + i * align16(slot_cap);
        for (size_t k = 0; k < TDM_ROOM_MAX_STREAMS; k++)
            s->st[k].ring =
                (map_entry *)(block + o_rings + (i * TDM_ROOM_MAX_STREAMS + k) * ring_bytes);
    }
    *out = r;
    return TDM_OK;
}

void tdm_room_free(tdm_room *room)
{
    if (room)
        room->cfg.free(room, room->cfg.alloc_ctx);
}

/* --- events --- */

static void push_event(tdm_room *r, tdm_room_keyframe_reason reason, int subscriber,
                       uint32_t publisher_ssrc)
{
    if (r->ev_len == r->ev_cap) {
        /* Keyframe requests are idempotent: losing one when hundreds are
         * queued costs nothing, but it is counted. */
        r->stats.events_dropped++;
        return;
    }
    r->events[(r->ev_head + r->ev_len) % r->ev_cap] = (tdm_room_event){
        .type = TDM_ROOM_EVENT_KEYFRAME_WANTED,
        .reason = reason,
        .subscriber = subscriber,
        .publisher_ssrc = publisher_ssrc,
    };
    r->ev_len++;
}

tdm_status tdm_room_poll_event(tdm_room *room, tdm_room_event *ev)
{
    if (!room || !ev)
        return TDM_ERR_INVALID;
    if (room->ev_len == 0)
        return TDM_AGAIN;
    *ev = room->events[room->ev_head];
    room->ev_head = (room->ev_head + 1) % room->ev_cap;
    room->ev_len--;
    return TDM_OK;
}

/* --- configuration --- */

static bool codec_ok(tdm_codec c)
{
    return c == TDM_CODEC_VP8 || c == TDM_CODEC_VP9 || c == TDM_CODEC_OPUS;
}

static tdm_status copy_extensions(const tdm_room_extension *src, size_t count, ext_def *dst)
{
    if (count > TDM_ROOM_MAX_EXTENSIONS || (count && !src))
        return TDM_ERR_INVALID;
    for (size_t i = 0; i < count; i++) {
        if (src[i].id == 0 || !src[i].uri || strlen(src[i].uri) > TDM_ROOM_MAX_URI)
            return TDM_ERR_INVALID;
        for (size_t j = 0; j < i; j++)
            if (src[j].id == src[i].id)
                return TDM_ERR_INVALID;
    }
    for (size_t i = 0; i < count; i++) {
        dst[i].id = src[i].id;
        strcpy(dst[i].uri, src[i].uri);
    }
    return TDM_OK;
}

static int slot_of(const tdm_room *r, int id)
{
    if (id < 0)
        return -1;
    size_t slot = (unsigned)id & ((1u << SLOT_BITS) - 1);
    uint32_t gen = (unsigned)id >> SLOT_BITS;
    if (slot >= r->cfg.max_subscribers || !r->subs[slot].used || r->subs[slot].gen != gen)
        return -1;
    return (int)slot;
}

static int id_of(const tdm_room *r, const sub *s)
{
    size_t slot = (size_t)(s - r->subs);
    return (int)(s->gen << SLOT_BITS | slot);
}

static void clear_ring(const tdm_room *r, sub_stream *ss)
{
    memset(ss->ring, 0, (size_t)r->cfg.nack_window * sizeof(map_entry));
}

/* Routes the publisher's streams to s and maps extension ids by URI. A
 * subscriber stream whose publisher stream changed waits for a keyframe
 * again and forgets its NACK mapping (it named the old stream). */
static void bind_subscriber(tdm_room *r, sub *s)
{
    memset(s->ext_map, 0, sizeof s->ext_map);
    for (size_t i = 0; i < r->pub_ext_count; i++)
        for (size_t j = 0; j < s->ext_count; j++)
            if (strcmp(r->pub_ext[i].uri, s->ext[j].uri) == 0)
                s->ext_map[r->pub_ext[i].id] = s->ext[j].id;

    uint32_t bound[TDM_ROOM_MAX_STREAMS] = {0};
    for (size_t p = 0; p < TDM_ROOM_MAX_STREAMS; p++) {
        s->route[p] = -1;
        if (p >= r->pub_count)
            continue;
        for (size_t k = 0; k < s->stream_count; k++) {
            if (s->st[k].cfg.codec == r->pub[p].s.codec && !bound[k]) {
                s->route[p] = (int8_t)k;
                bound[k] = r->pub[p].s.ssrc;
                break;
            }
        }
    }
    for (size_t k = 0; k < s->stream_count; k++) {
        sub_stream *ss = &s->st[k];
        if (ss->bound_ssrc != bound[k]) {
            ss->active = false;
            clear_ring(r, ss);
            ss->bound_ssrc = bound[k];
        }
        ss->out_ssrc = ss->cfg.ssrc ? ss->cfg.ssrc : ss->bound_ssrc;
    }
}

tdm_status tdm_room_set_publisher(tdm_room *room, const tdm_room_publisher_config *cfg)
{
    if (!room)
        return TDM_ERR_INVALID;
    size_t count = cfg ? cfg->stream_count : 0;
    if (count > TDM_ROOM_MAX_STREAMS || (count && !cfg->streams))
        return TDM_ERR_INVALID;
    for (size_t i = 0; i < count; i++) {
        const tdm_room_stream *s = &cfg->streams[i];
        if (!codec_ok(s->codec) || s->ssrc == 0 || s->payload_type > 127)
            return TDM_ERR_INVALID;
        for (size_t j = 0; j < i; j++)
            if (cfg->streams[j].ssrc == s->ssrc)
                return TDM_ERR_INVALID;
    }
    ext_def exts[TDM_ROOM_MAX_EXTENSIONS];
    size_t ext_count = cfg ? cfg->extension_count : 0;
    tdm_status st = copy_extensions(cfg ? cfg->extensions : NULL, ext_count, exts);
    if (st != TDM_OK)
        return st;

    pub_stream next[TDM_ROOM_MAX_STREAMS];
    for (size_t i = 0; i < count; i++) {
        const tdm_room_stream *s = &cfg->streams[i];
        pub_stream *ps = &next[i];
        *ps = (pub_stream){.s = *s, .wait_fresh = true};
        for (size_t j = 0; j < room->pub_count; j++)
            if (room->pub[j].s.ssrc == s->ssrc && room->pub[j].s.codec == s->codec)
                *ps = room->pub[j]; /* the same stream renegotiated: keep its state */
        ps->s = *s;
        ps->video = s->codec != TDM_CODEC_OPUS;
        ps->clock_hz = ps->video ? TDM_VIDEO_CLOCK_HZ : TDM_OPUS_CLOCK_HZ;
    }
    memcpy(room->pub, next, count * sizeof next[0]);
    room->pub_count = count;
    memcpy(room->pub_ext, exts, ext_count * sizeof exts[0]);
    room->pub_ext_count = ext_count;
    for (size_t i = 0; i < room->cfg.max_subscribers; i++)
        if (room->subs[i].used)
            bind_subscriber(room, &room->subs[i]);
    return TDM_OK;
}

tdm_status tdm_room_add_subscriber(tdm_room *room, const tdm_room_subscriber_config *cfg, int *id)
{
    if (!room || !cfg || !id || cfg->stream_count < 1 ||
        cfg->stream_count > TDM_ROOM_MAX_STREAMS || !cfg->streams)
        return TDM_ERR_INVALID;
    for (size_t i = 0; i < cfg->stream_count; i++)
        if (!codec_ok(cfg->streams[i].codec) || cfg->streams[i].payload_type > 127)
            return TDM_ERR_INVALID;
    ext_def exts[TDM_ROOM_MAX_EXTENSIONS];
    tdm_status st = copy_extensions(cfg->extensions, cfg->extension_count, exts);
    if (st != TDM_OK)
        return st;

    sub *s = NULL;
    for (size_t i = 0; i < room->cfg.max_subscribers && !s; i++)
        if (!room->subs[i].used)
            s = &room->subs[i];
    if (!s) {
        room->stats.subscribers_refused++;
        return TDM_ERR_UNAVAILABLE;
    }

    s->used = true;
    s->stats = (tdm_room_subscriber_stats){0};
    s->stream_count = cfg->stream_count;
    for (size_t k = 0; k < TDM_ROOM_MAX_STREAMS; k++) {
        map_entry *ring = s->st[k].ring;
        s->st[k] = (sub_stream){.ring = ring};
        if (k < cfg->stream_count)
            s->st[k].cfg = cfg->streams[k];
        clear_ring(room, &s->st[k]);
    }
    s->ext_count = cfg->extension_count;
    memcpy(s->ext, exts, cfg->extension_count * sizeof exts[0]);
    bind_subscriber(room, s);
    room->sub_count++;
    *id = id_of(room, s);

    for (size_t p = 0; p < room->pub_count; p++) {
        if (room->pub[p].video && s->route[p] >= 0) {
            push_event(room, TDM_ROOM_KEYFRAME_JOIN, *id, room->pub[p].s.ssrc);
            room->pub[p].wait_fresh = true;
        }
    }
    return TDM_OK;
}

tdm_status tdm_room_remove_subscriber(tdm_room *room, int id)
{
    if (!room)
        return TDM_ERR_INVALID;
    int slot = slot_of(room, id);
    if (slot < 0)
        return TDM_ERR_INVALID;
    room->subs[slot].used = false;
    room->subs[slot].gen = (room->subs[slot].gen + 1) & GEN_MASK;
    room->sub_count--;
    return TDM_OK;
}

size_t tdm_room_subscriber_count(const tdm_room *room)
{
    return room ? room->sub_count : 0;
}

/* --- header extensions --- */

/* Splits an RFC 8285 block into elements. false if an element runs past
 * the block. */
static bool parse_ext(const tdm_rtp_header *h, ext_parsed *x)
{
    x->n = x->extra = 0;
    x->profile = h->ext_profile;
    if (!h->has_extension) {
        x->form = EXT_NONE;
        return true;
    }
    if (h->ext_profile == 0xBEDE)
        x->form = EXT_ONE_BYTE;
    else if ((h->ext_profile & 0xfff0) == 0x1000)
        x->form = EXT_TWO_BYTE;
    else {
        x->form = EXT_FOREIGN;
        return true;
    }
    const uint8_t *b = h->ext;
    size_t len = h->ext_len, i = 0;
    while (i < len) {
        if (b[i] == 0) { /* padding between elements */
            i++;
            continue;
        }
        uint8_t id;
        size_t elen, hdr;
        if (x->form == EXT_ONE_BYTE) {
            id = b[i] >> 4;
            if (id == 15) /* reserved: RFC 8285 says stop reading here */
                break;
            elen = (size_t)(b[i] & 0x0f) + 1;
            hdr = 1;
        } else {
            if (len - i < 2)
                return false;
            id = b[i];
            elen = b[i + 1];
            hdr = 2;
        }
        if (len - i - hdr < elen)
            return false;
        if (x->n < TDM_ROOM_MAX_EXT_ELEMENTS)
            x->e[x->n++] = (ext_elem){.id = id, .len = (uint8_t)elen, .data = b + i + hdr};
        else
            x->extra++;
        i += hdr + elen;
    }
    return true;
}

/* Rebuilds x for a subscriber whose ids map maps. Returns the block length
 * (0: no extension left) and its profile in *profile. */
static size_t build_ext(const ext_parsed *x, const uint8_t *map, uint8_t *out, uint16_t *profile,
                        uint64_t *stripped)
{
    if (x->form == EXT_NONE)
        return 0;
    if (x->form == EXT_FOREIGN) {
        (*stripped)++;
        return 0;
    }
    *stripped += x->extra;
    bool two = x->form == EXT_TWO_BYTE;
    size_t kept = 0;
    for (size_t i = 0; i < x->n; i++) {
        uint8_t id = map[x->e[i].id];
        if (id) {
            kept++;
            two |= id > 14; /* the one-byte form cannot name it */
        } else {
            (*stripped)++;
        }
    }
    if (!kept)
        return 0;
    *profile = two ? (x->form == EXT_TWO_BYTE ? x->profile : 0x1000) : 0xBEDE;
    size_t pos = 0;
    for (size_t i = 0; i < x->n; i++) {
        const ext_elem *e = &x->e[i];
        uint8_t id = map[e->id];
        if (!id)
            continue;
        if (two) {
            out[pos++] = id;
            out[pos++] = e->len;
        } else {
            out[pos++] = (uint8_t)(id << 4 | (e->len - 1));
        }
        memcpy(out + pos, e->data, e->len);
        pos += e->len;
    }
    while (pos % 4)
        out[pos++] = 0;
    return pos;
}

/* Writes p as the subscriber sees it. */
static tdm_status write_for(tdm_room *r, sub *s, const sub_stream *ss, const tdm_rtp_packet *p,
                            const ext_parsed *x, uint16_t seq, uint8_t *dst, size_t cap,
                            size_t *written)
{
    tdm_rtp_header h = p->header;
    h.payload_type = ss->cfg.payload_type;
    h.ssrc = ss->out_ssrc;
    h.seq = seq;
    h.timestamp = p->header.timestamp + ss->ts_offset;
    uint16_t profile = 0;
    size_t ext_len = build_ext(x, s->ext_map, r->ext_scratch, &profile, &s->stats.ext_stripped);
    h.has_extension = ext_len > 0;
    h.ext_profile = profile;
    h.ext = ext_len ? r->ext_scratch : NULL;
    h.ext_len = ext_len;
    return tdm_rtp_write(&h, p->payload, p->payload_len, p->padding_len, dst, cap, written);
}

/* --- sequence mapping --- */

/* Records ring entries for out seqs up to out_ext (gaps included) under the
 * current offset. */
static void map_up_to(const tdm_room *r, sub_stream *ss, uint64_t out_ext)
{
    uint64_t mask = r->cfg.nack_window - 1;
    uint64_t from = ss->mapped_ext + 1;
    if (out_ext - ss->mapped_ext > r->cfg.nack_window)
        from = out_ext - mask;
    for (uint64_t o = from; o <= out_ext; o++)
        ss->ring[o & mask] = (map_entry){.out = (uint16_t)o, .pub = (uint16_t)(o - ss->off),
                                         .valid = true};
    ss->mapped_ext = out_ext;
}

/* Starts forwarding at the publisher packet ext: a new subscriber at its
 * first_seq with the publisher's timestamps, one that received before
 * right after what it last got. */
static void start(const pub_stream *ps, sub_stream *ss, uint64_t now_us, uint64_t ext,
                  uint32_t ts)
{
    uint16_t first = ss->cfg.first_seq;
    ss->ts_offset = 0;
    if (ss->sent_any) {
        first = (uint16_t)(ss->last_seq + 1);
        uint64_t elapsed = now_us > ss->last_us ? now_us - ss->last_us : 0;
        if (elapsed > (uint64_t)3600 * 1000000) /* keeps the product below in range */
            elapsed = (uint64_t)3600 * 1000000;
        uint32_t ticks = (uint32_t)(elapsed * ps->clock_hz / 1000000u);
        ss->ts_offset = ss->last_ts + (ticks ? ticks : 1) - ts;
    }
    uint64_t out_first = EXT_BASE + first;
    ss->off = out_first - ext;
    ss->floor_ext = ext;
    ss->highest_ext = ext - 1;
    ss->mapped_ext = out_first - 1;
    ss->active = true;
}

/* The newest packet was dropped for an active subscriber: close the gap. */
static void skip(const tdm_room *r, sub_stream *ss, uint64_t ext)
{
    if (!ss->active || ext <= ss->highest_ext)
        return;
    if (ext - 1 + ss->off > ss->mapped_ext)
        map_up_to(r, ss, ext - 1 + ss->off); /* upstream losses before it stay gaps */
    ss->off--;
    ss->highest_ext = ext;
    ss->floor_ext = ext + 1;
}

/* --- forwarding --- */

static int find_pub(const tdm_room *r, uint32_t ssrc)
{
    for (size_t i = 0; i < r->pub_count; i++)
        if (r->pub[i].s.ssrc == ssrc)
            return (int)i;
    return -1;
}

static void drop_all(tdm_room *r, tdm_room_output *out, tdm_rtp_drop why)
{
    tdm_rtp_drop_counts_add(&r->stats.drops, why);
    out->drop = why;
}

/* A packet of stream p went to nobody: every active subscriber closes it. */
static void skip_all(tdm_room *r, size_t p, uint64_t ext)
{
    for (size_t i = 0; i < r->cfg.max_subscribers; i++) {
        sub *s = &r->subs[i];
        if (s->used && s->route[p] >= 0)
            skip(r, &s->st[s->route[p]], ext);
    }
}

tdm_status tdm_room_forward(tdm_room *room, uint64_t now_us, const uint8_t *buf, size_t len,
                            tdm_room_output *out)
{
    if (!room || !out || (!buf && len))
        return TDM_ERR_INVALID;
    *out = (tdm_room_output){.packets = room->packets, .drop = TDM_RTP_DROP_NONE};
    room->stats.packets_in++;
    room->stats.bytes_in += len;
    if (len > room->cfg.max_packet_bytes) {
        drop_all(room, out, TDM_RTP_DROP_PACKET_TOO_BIG);
        return TDM_OK;
    }
    tdm_rtp_packet p;
    tdm_rtp_drop why;
    if (tdm_rtp_parse(buf, len, &p, &why) != TDM_OK) {
        drop_all(room, out, why);
        return TDM_OK;
    }
    int pi = find_pub(room, p.header.ssrc);
    if (pi < 0) {
        drop_all(room, out, TDM_RTP_DROP_WRONG_SSRC);
        return TDM_OK;
    }
    pub_stream *ps = &room->pub[pi];
    uint64_t ext = ps->have_seq ? tdm_rtp_seq_unwrap(ps->highest_ext, p.header.seq)
                                : EXT_BASE + p.header.seq;
    if (!ps->have_seq || ext > ps->highest_ext)
        ps->highest_ext = ext;
    ps->have_seq = true;

    /* From here the packet has a place in the stream: if it goes to nobody,
     * subscribers close its sequence number rather than NACK it. */
    why = TDM_RTP_DROP_NONE;
    bool keyframe = false;
    if (p.header.payload_type != ps->s.payload_type)
        why = TDM_RTP_DROP_WRONG_PAYLOAD_TYPE;
    else if (!parse_ext(&p.header, &room->ext))
        why = TDM_RTP_DROP_BAD_EXTENSION;
    else if (ps->video && p.payload_len == 0) {
        room->stats.padding_dropped++; /* a bandwidth probe; ours are made elsewhere */
        skip_all(room, (size_t)pi, ext);
        return TDM_OK;
    } else if (ps->s.codec == TDM_CODEC_VP8) {
        tdm_vp8_payload vp;
        if (tdm_vp8_depacketize(p.payload, p.payload_len, &vp, &why) == TDM_OK)
            keyframe = vp.keyframe;
    } else if (ps->s.codec == TDM_CODEC_VP9) {
        tdm_vp9_payload vp;
        if (tdm_vp9_depacketize(p.payload, p.payload_len, &vp, &why) == TDM_OK)
            keyframe = vp.keyframe;
    }
    if (why != TDM_RTP_DROP_NONE) {
        drop_all(room, out, why);
        skip_all(room, (size_t)pi, ext);
        return TDM_OK;
    }

    int waiting = 0, waiting_id = -1;
    size_t cap = room->slot_cap - TDM_ROOM_TRAILER_ROOM;
    for (size_t i = 0; i < room->cfg.max_subscribers; i++) {
        sub *s = &room->subs[i];
        if (!s->used || s->route[pi] < 0)
            continue;
        sub_stream *ss = &s->st[s->route[pi]];
        if (!ss->active) {
            if (ps->video && !keyframe) {
                s->stats.withheld++;
                out->withheld++;
                waiting++;
                waiting_id = id_of(room, s);
                continue;
            }
            start(ps, ss, now_us, ext, p.header.timestamp);
        }
        uint64_t out_ext = ext + ss->off;
        if (ext > ss->highest_ext) {
            map_up_to(room, ss, out_ext);
            ss->highest_ext = ext;
        } else if (ext < ss->floor_ext || ss->mapped_ext - out_ext >= room->cfg.nack_window) {
            /* Reordered from before the last offset change (its number
             * now belongs to another packet), or too old to place. */
            s->stats.late_dropped++;
            out->withheld++;
            continue;
        }
        size_t written = 0;
        if (write_for(room, s, ss, &p, &room->ext, (uint16_t)out_ext, s->slot, cap, &written) !=
            TDM_OK) {
            /* Cannot happen with slot_cap sized for the worst growth; if it
             * did, the number is closed like any other drop. */
            skip(room, ss, ext);
            out->withheld++;
            continue;
        }
        if (out_ext == ss->mapped_ext) {
            ss->last_seq = (uint16_t)out_ext;
            ss->last_ts = p.header.timestamp + ss->ts_offset;
            ss->last_us = now_us;
        }
        ss->sent_any = true;
        s->stats.packets++;
        s->stats.bytes += written;
        room->packets[out->count++] = (tdm_room_packet){
            .subscriber = id_of(room, s),
            .ssrc = ss->out_ssrc,
            .seq = (uint16_t)out_ext,
            .data = s->slot,
            .len = written,
            .cap = room->slot_cap,
        };
        room->stats.packets_out++;
        room->stats.bytes_out += written;
    }

    if (waiting) {
        if (ps->wait_fresh) {
            ps->wait_fresh = false;
            ps->wait_last_us = now_us;
        } else if (now_us >= ps->wait_last_us &&
                   now_us - ps->wait_last_us >= room->cfg.keyframe_retry_us) {
            push_event(room, TDM_ROOM_KEYFRAME_STILL_WAITING, waiting == 1 ? waiting_id : -1,
                       ps->s.ssrc);
            ps->wait_last_us = now_us;
        }
    }
    return TDM_OK;
}

/* --- NACKs and keyframe requests from subscribers --- */

static sub_stream *find_sub_stream(tdm_room *r, int id, uint32_t media_ssrc, sub **sp)
{
    int slot = slot_of(r, id);
    if (slot < 0)
        return NULL;
    sub *s = &r->subs[slot];
    *sp = s;
    sub_stream *found = NULL;
    for (size_t k = 0; k < s->stream_count; k++) {
        sub_stream *ss = &s->st[k];
        /* Entries of two codecs may share one SSRC (one m-line): the one
         * the publisher feeds now is meant. */
        if (ss->bound_ssrc && ss->out_ssrc == media_ssrc && (!found || ss->active))
            found = ss;
    }
    return found;
}

static bool lookup(const tdm_room *r, const sub_stream *ss, uint16_t seq, uint16_t *pub)
{
    if (!ss->active)
        return false;
    uint64_t o = tdm_rtp_seq_unwrap(ss->mapped_ext, seq);
    if (o > ss->mapped_ext || ss->mapped_ext - o >= r->cfg.nack_window)
        return false;
    const map_entry *e = &ss->ring[o & (r->cfg.nack_window - 1)];
    if (!e->valid || e->out != seq)
        return false;
    *pub = e->pub;
    return true;
}

tdm_status tdm_room_map_nack(tdm_room *room, int subscriber, uint32_t media_ssrc,
                             uint16_t subscriber_seq, uint32_t *publisher_ssrc,
                             uint16_t *publisher_seq)
{
    if (!room || !publisher_ssrc || !publisher_seq)
        return TDM_ERR_INVALID;
    sub *s = NULL;
    sub_stream *ss = find_sub_stream(room, subscriber, media_ssrc, &s);
    if (!ss)
        return TDM_ERR_INVALID;
    if (!lookup(room, ss, subscriber_seq, publisher_seq)) {
        s->stats.nack_misses++;
        push_event(room, TDM_ROOM_KEYFRAME_LOSS, subscriber, ss->bound_ssrc);
        return TDM_ERR_RANGE;
    }
    *publisher_ssrc = ss->bound_ssrc;
    return TDM_OK;
}

tdm_status tdm_room_write_retransmission(tdm_room *room, int subscriber, uint32_t media_ssrc,
                                         uint16_t subscriber_seq, const uint8_t *buf,
                                         size_t len, uint8_t *dst, size_t cap,
                                         size_t *written)
{
    if (!room || !buf || !dst || !written)
        return TDM_ERR_INVALID;
    sub *s = NULL;
    sub_stream *ss = find_sub_stream(room, subscriber, media_ssrc, &s);
    if (!ss)
        return TDM_ERR_INVALID;
    uint16_t pub_seq;
    if (!lookup(room, ss, subscriber_seq, &pub_seq))
        return TDM_ERR_RANGE;
    tdm_rtp_packet p;
    ext_parsed x;
    if (tdm_rtp_parse(buf, len, &p, NULL) != TDM_OK || p.header.ssrc != ss->bound_ssrc ||
        p.header.seq != pub_seq || !parse_ext(&p.header, &x))
        return TDM_ERR_FORMAT;
    tdm_status st = write_for(room, s, ss, &p, &x, subscriber_seq, dst, cap, written);
    if (st == TDM_OK)
        s->stats.retransmissions++;
    return st;
}

tdm_status tdm_room_request_keyframe(tdm_room *room, int subscriber, uint32_t media_ssrc,
                                     tdm_room_keyframe_reason reason)
{
    if (!room)
        return TDM_ERR_INVALID;
    sub *s = NULL;
    sub_stream *ss = find_sub_stream(room, subscriber, media_ssrc, &s);
    if (!ss)
        return TDM_ERR_INVALID;
    push_event(room, reason, subscriber, ss->bound_ssrc);
    return TDM_OK;
}

/* --- stats --- */

const tdm_room_stats *tdm_room_get_stats(const tdm_room *room)
{
    return &room->stats;
}

tdm_status tdm_room_get_subscriber_stats(const tdm_room *room, int id,
                                         tdm_room_subscriber_stats *out)
{
    if (!room || !out)
        return TDM_ERR_INVALID;
    int slot = slot_of(room, id);
    if (slot < 0)
        return TDM_ERR_INVALID;
    *out = room->subs[slot].stats;
    return TDM_OK;
}
