/* assembler.c: video frame assembly from RTP packets (see tdm_assembler.h).
 *
 * The window is the run of unwrapped sequence numbers [next_seq, highest]:
 * everything before next_seq has been emitted or discarded, and every
 * number in the window has a slot, indexed by seq & mask, that is MISSING
 * (with its NACK state), HAVE (a packet) or LOST (given up, or malformed).
 * Slots outside the window are FREE. advance() walks from next_seq: it
 * emits the frame there if complete, discards what can never be completed,
 * and otherwise waits, unless a complete keyframe further on lets it skip. */
#include "tdm_assembler.h"

#include <stdlib.h>
#include <string.h>

#include "tdm_vp8_rtp.h"
#include "tdm_vp9_rtp.h"

enum { SLOT_FREE, SLOT_MISSING, SLOT_HAVE, SLOT_LOST };

enum {
    F_BEGIN = 1,
    F_END = 2,
    F_KEY = 4,
    F_NONREF = 8,  /* VP8 N bit: no frame depends on this one */
    F_PADDING = 16, /* no payload: fills its sequence number only */
    F_HAS_PID = 32,
    F_LONG_PID = 64,
    F_HAS_SIZE = 128,
};

typedef struct slot {
    uint64_t seq;
    uint64_t ts;           /* unwrapped RTP timestamp (HAVE) */
    uint64_t time_us;      /* HAVE: arrival; MISSING: when the gap showed */
    uint64_t next_nack_us; /* MISSING: when to ask (again), or give up */
    uint32_t len;          /* codec bytes in the slot's storage */
    uint16_t picture_id;
    uint16_t width, height;
    uint8_t state, flags;
    uint16_t tries; /* NACKs sent */
} slot;

/* Packets this far behind the window, this many times in a row, mean the
 * sender restarted its sequence numbers: start over rather than drop the
 * new stream as too old forever. */
#define RESTART_STREAK 32
#define MIN_RETRY_US 10000

struct tdm_assembler {
    tdm_assembler_config cfg;
    uint64_t mask;
    slot *slots;
    uint8_t *store; /* ring_slots * max_packet_bytes */
    uint8_t *frame_buf;
    size_t frame_cap;

    bool started, synced; /* synced: something was consumed, next_seq is exact */
    bool ever_started;
    bool discarding; /* dropping the rest of a lost non-reference frame */
    bool ssrc_locked;
    uint32_t ssrc;
    uint64_t next_seq, highest, ts_ref;
    uint64_t now, rtt_us;
    size_t n_missing;
    unsigned old_streak;
    bool have_key_seq;
    uint64_t key_seq; /* latest keyframe start seen */

    bool need_keyframe, kf_requested, kf_pending;
    tdm_keyframe_reason kf_reason;
    uint64_t kf_last_us;
    bool have_last_pid, last_pid_long;
    uint16_t last_pid;
    int width, height;
    tdm_assembler_stats stats;
};

const char *tdm_keyframe_reason_name(tdm_keyframe_reason r)
{
    switch (r) {
    case TDM_KEYFRAME_STREAM_START:
        return "stream_start";
    case TDM_KEYFRAME_PACKET_LOST:
        return "packet_lost";
    case TDM_KEYFRAME_FRAME_BROKEN:
        return "frame_broken";
    case TDM_KEYFRAME_REFERENCE_MISSING:
        return "reference_missing";
    case TDM_KEYFRAME_STILL_WAITING:
        return "still_waiting";
    }
    return "unknown";
}

void tdm_assembler_config_default(tdm_assembler_config *cfg, tdm_codec codec)
{
    *cfg = (tdm_assembler_config){
        .codec = codec,
        .payload_type = -1,
        .ring_slots = 1024,
        .max_packet_bytes = 1500,
        .max_frame_bytes = 0,
        .nack_delay_us = 10000,
        .initial_rtt_us = 100000,
        .max_nack_tries = 10,
        .max_missing_us = 1000000,
        .keyframe_retry_us = 500000,
    };
}

static slot *at(const tdm_assembler *a, uint64_t seq)
{
    return &a->slots[seq & a->mask];
}

static uint8_t *storage(const tdm_assembler *a, uint64_t seq)
{
    return a->store + (seq & a->mask) * a->cfg.max_packet_bytes;
}

static void start_over(tdm_assembler *a)
{
    for (uint64_t i = 0; i <= a->mask; i++)
        a->slots[i].state = SLOT_FREE;
    a->started = a->synced = a->discarding = false;
    a->n_missing = 0;
    a->old_streak = 0;
    a->have_key_seq = false;
    a->need_keyframe = true; /* a decoder starts from a keyframe */
    a->kf_requested = a->kf_pending = false;
    a->have_last_pid = false;
}

tdm_status tdm_assembler_new(const tdm_assembler_config *cfg, tdm_assembler **out)
{
    if (!out)
        return TDM_ERR_INVALID;
    *out = NULL;
    tdm_assembler_config c;
    if (cfg)
        c = *cfg;
    else
        tdm_assembler_config_default(&c, TDM_CODEC_VP8);
    if ((c.codec != TDM_CODEC_VP8 && c.codec != TDM_CODEC_VP9) || c.ring_slots < 16 ||
        c.ring_slots > 32768 || (c.ring_slots & (c.ring_slots - 1)) != 0 ||
        c.max_packet_bytes == 0 || c.max_packet_bytes > 65535 || c.max_nack_tries < 1 ||
        c.max_nack_tries > 1000 || c.payload_type > 127)
        return TDM_ERR_INVALID;
    size_t ring_bytes = (size_t)c.ring_slots * c.max_packet_bytes;
    if (c.max_frame_bytes == 0 || c.max_frame_bytes > ring_bytes)
        c.max_frame_bytes = ring_bytes;

    tdm_assembler *a = calloc(1, sizeof *a);
    if (!a)
        return TDM_ERR_NOMEM;
    a->cfg = c;
    a->mask = c.ring_slots - 1;
    a->slots = calloc(c.ring_slots, sizeof *a->slots);
    a->store = malloc(ring_bytes);
    a->frame_cap = c.max_frame_bytes;
    a->frame_buf = malloc(a->frame_cap);
    if (!a->slots || !a->store || !a->frame_buf) {
        tdm_assembler_free(a);
        return TDM_ERR_NOMEM;
    }
    a->rtt_us = c.initial_rtt_us;
    start_over(a);
    *out = a;
    return TDM_OK;
}

void tdm_assembler_free(tdm_assembler *a)
{
    if (!a)
        return;
    free(a->slots);
    free(a->store);
    free(a->frame_buf);
    free(a);
}

void tdm_assembler_reset(tdm_assembler *a)
{
    start_over(a);
    a->ssrc_locked = false;
    a->width = a->height = 0;
}

void tdm_assembler_set_rtt(tdm_assembler *a, uint64_t rtt_us)
{
    a->rtt_us = rtt_us;
}

const tdm_assembler_stats *tdm_assembler_get_stats(const tdm_assembler *a)
{
    return &a->stats;
}

static uint64_t retry_interval(const tdm_assembler *a)
{
    uint64_t r = a->rtt_us + a->rtt_us / 4;
    return r < MIN_RETRY_US ? MIN_RETRY_US : r;
}

static void request_keyframe(tdm_assembler *a, tdm_keyframe_reason reason)
{
    if (a->kf_requested)
        return;
    a->kf_requested = true;
    a->kf_pending = true;
    a->kf_reason = reason;
    a->kf_last_us = a->now;
}

/* The stream cannot be decoded past this point without a keyframe. */
static void mark_broken(tdm_assembler *a, tdm_keyframe_reason reason)
{
    a->need_keyframe = true;
    request_keyframe(a, reason);
}

static void clear_slot(tdm_assembler *a, slot *s)
{
    if (s->state == SLOT_MISSING)
        a->n_missing--;
    s->state = SLOT_FREE;
}

/* Everything up to and including q is done with. */
static void consume_to(tdm_assembler *a, uint64_t q)
{
    for (uint64_t p = a->next_seq; p <= q; p++)
        clear_slot(a, at(a, p));
    a->next_seq = q + 1;
    if (a->highest < q)
        a->highest = q;
    a->synced = true;
}

/* Discards [next_seq, k) unassembled. */
static void skip_to(tdm_assembler *a, uint64_t k)
{
    for (uint64_t p = a->next_seq; p < k && p <= a->highest; p++) {
        slot *s = at(a, p);
        if (s->state == SLOT_HAVE && !(s->flags & F_PADDING))
            a->stats.packets_skipped++;
    }
    consume_to(a, k - 1);
}

enum scan { SCAN_COMPLETE, SCAN_INCOMPLETE, SCAN_LOST, SCAN_BROKEN };

/* Looks for the end of the frame that begins at p (a HAVE slot with
 * F_BEGIN). *q is the end (COMPLETE), the first MISSING slot or highest+1
 * (INCOMPLETE), the LOST slot (LOST), or the packet that cannot belong to
 * the frame: another start, padding, or another timestamp (BROKEN). */
static enum scan scan_frame(const tdm_assembler *a, uint64_t p, uint64_t *q)
{
    const slot *first = at(a, p);
    for (uint64_t i = p;; i++) {
        *q = i;
        if (i > a->highest)
            return SCAN_INCOMPLETE;
        const slot *s = at(a, i);
        if (s->state == SLOT_MISSING)
            return SCAN_INCOMPLETE;
        if (s->state == SLOT_LOST)
            return SCAN_LOST;
        if (i != p && ((s->flags & (F_BEGIN | F_PADDING)) || s->ts != first->ts))
            return SCAN_BROKEN;
        if (s->flags & F_END)
            return SCAN_COMPLETE;
    }
}

/* A frame that is not a keyframe decodes only on top of the frame before
 * it: its picture ID must be the next one. */
static bool follows_last(const tdm_assembler *a, const slot *s)
{
    if (!a->have_last_pid || !(s->flags & F_HAS_PID))
        return true;
    uint16_t m = (s->flags & F_LONG_PID) && a->last_pid_long ? 0x7fff : 0x7f;
    return ((a->last_pid + 1) & m) == (s->picture_id & m);
}

static void remember_pid(tdm_assembler *a, const slot *s)
{
    a->have_last_pid = s->flags & F_HAS_PID;
    a->last_pid = s->picture_id;
    a->last_pid_long = s->flags & F_LONG_PID;
}

/* When stuck at next_seq: can we skip ahead? */
static bool try_skip(tdm_assembler *a)
{
    uint64_t q;
    /* A complete keyframe makes every older frame useless. */
    if (a->have_key_seq && a->key_seq > a->next_seq && a->key_seq <= a->highest) {
        const slot *k = at(a, a->key_seq);
        if (k->state == SLOT_HAVE && k->seq == a->key_seq && (k->flags & F_KEY) &&
            scan_frame(a, a->key_seq, &q) == SCAN_COMPLETE) {
            skip_to(a, a->key_seq);
            return true;
        }
    }
    /* Before the first frame, next_seq is just the first packet that came;
     * if that is mid-frame, the first complete frame after it shows where
     * frames begin. Each scan stops at the next start, so this is linear. */
    const slot *s = at(a, a->next_seq);
    if (!a->synced && s->state == SLOT_HAVE && !(s->flags & F_BEGIN)) {
        for (uint64_t p = a->next_seq + 1; p <= a->highest; p++) {
            const slot *b = at(a, p);
            if (b->state == SLOT_HAVE && (b->flags & F_BEGIN) &&
                scan_frame(a, p, &q) == SCAN_COMPLETE) {
                skip_to(a, p);
                return true;
            }
        }
    }
    return false;
}

/* Moves next_seq past whatever can be settled now. Returns true with the
 * frame [*fp, *fq] when a frame is ready to emit (it stays in the ring). */
static bool advance(tdm_assembler *a, uint64_t *fp, uint64_t *fq)
{
    while (a->started && a->next_seq <= a->highest) {
        uint64_t p = a->next_seq, q;
        slot *s = at(a, p);
        if (a->discarding) {
            /* The rest of a non-reference frame already given up. */
            if ((s->state == SLOT_HAVE && !(s->flags & (F_BEGIN | F_PADDING))) ||
                s->state == SLOT_LOST) {
                if (s->state == SLOT_HAVE && (s->flags & F_END))
                    a->discarding = false;
                consume_to(a, p);
                continue;
            }
            if (s->state == SLOT_HAVE)
                a->discarding = false;
        }
        if (s->state == SLOT_LOST) {
            /* The packet where a frame should begin is gone. */
            consume_to(a, p);
            a->stats.frames_lost++;
            mark_broken(a, TDM_KEYFRAME_PACKET_LOST);
            continue;
        }
        if (s->state == SLOT_HAVE && (s->flags & F_PADDING)) {
            consume_to(a, p);
            continue;
        }
        if (s->state == SLOT_HAVE && !(s->flags & F_BEGIN)) {
            if (a->synced) {
                /* The rest of a frame whose start is gone. */
                consume_to(a, p);
                a->stats.packets_skipped++;
                mark_broken(a, TDM_KEYFRAME_FRAME_BROKEN);
                continue;
            }
        } else if (s->state == SLOT_HAVE) {
            enum scan r = scan_frame(a, p, &q);
            if (r == SCAN_COMPLETE) {
                size_t bytes = 0;
                for (uint64_t i = p; i <= q; i++)
                    bytes += at(a, i)->len;
                if (bytes > a->frame_cap) {
                    consume_to(a, q);
                    a->stats.frames_too_big++;
                    mark_broken(a, TDM_KEYFRAME_FRAME_BROKEN);
                    continue;
                }
                if (!(s->flags & F_KEY)) {
                    if (a->need_keyframe) {
                        consume_to(a, q);
                        a->stats.frames_waiting_keyframe++;
                        request_keyframe(a, TDM_KEYFRAME_STREAM_START);
                        continue;
                    }
                    if (!follows_last(a, s)) {
                        consume_to(a, q);
                        a->stats.frames_lost++;
                        mark_broken(a, TDM_KEYFRAME_REFERENCE_MISSING);
                        continue;
                    }
                }
                *fp = p;
                *fq = q;
                return true;
            }
            if (r == SCAN_LOST || r == SCAN_BROKEN) {
                /* A non-reference frame that lost a packet can go without
                 * harm; anything else leaves the decoder without a
                 * reference. */
                bool harmless = r == SCAN_LOST && (s->flags & F_NONREF) && !a->need_keyframe &&
                                follows_last(a, s);
                if (harmless) {
                    remember_pid(a, s);
                    a->discarding = true;
                }
                consume_to(a, r == SCAN_LOST ? q : q - 1);
                a->stats.frames_lost++;
                if (!harmless)
                    mark_broken(a, r == SCAN_LOST ? TDM_KEYFRAME_PACKET_LOST
                                                  : TDM_KEYFRAME_FRAME_BROKEN);
                continue;
            }
        }
        /* Waiting: a MISSING slot, an incomplete frame, or (before the
         * first frame) a packet whose frame start may still come. */
        if (!try_skip(a))
            break;
    }
    return false;
}

/* Gives up on packets and repeats keyframe requests that are due. */
static void expire(tdm_assembler *a)
{
    if (a->n_missing > 0) {
        for (uint64_t p = a->next_seq; p <= a->highest; p++) {
            slot *s = at(a, p);
            if (s->state != SLOT_MISSING)
                continue;
            bool too_old = a->now - s->time_us >= a->cfg.max_missing_us;
            bool out_of_tries = s->tries >= a->cfg.max_nack_tries && a->now >= s->next_nack_us;
            if (too_old || out_of_tries) {
                s->state = SLOT_LOST;
                a->n_missing--;
                a->stats.packets_given_up++;
            }
        }
    }
    if (a->need_keyframe && a->kf_requested && !a->kf_pending &&
        a->now - a->kf_last_us >= a->cfg.keyframe_retry_us) {
        a->kf_pending = true;
        a->kf_reason = TDM_KEYFRAME_STILL_WAITING;
        a->kf_last_us = a->now;
    }
}

static void step(tdm_assembler *a)
{
    uint64_t p, q;
    expire(a);
    advance(a, &p, &q);
}

static void mark_missing(tdm_assembler *a, uint64_t seq)
{
    slot *s = at(a, seq);
    s->seq = seq;
    s->state = SLOT_MISSING;
    s->time_us = a->now;
    s->next_nack_us = a->now + a->cfg.nack_delay_us;
    s->tries = 0;
    a->n_missing++;
}

/* Makes room for seq s beyond the window's end by dropping its oldest
 * part. Whatever was there can no longer be completed. */
static void overflow(tdm_assembler *a, uint64_t s)
{
    uint64_t new_next = s - a->mask;
    for (uint64_t p = a->next_seq; p < new_next && p <= a->highest; p++) {
        slot *sl = at(a, p);
        if (sl->state == SLOT_HAVE && !(sl->flags & F_PADDING))
            a->stats.packets_skipped++;
        clear_slot(a, sl);
    }
    a->next_seq = new_next;
    if (a->highest < new_next - 1)
        a->highest = new_next - 1;
    a->synced = true;
    a->stats.frames_lost++;
    mark_broken(a, TDM_KEYFRAME_PACKET_LOST);
}

/* Finds the slot for sequence number seq16, extending the window to it.
 * Returns NULL (with *why) for a packet too old or already held. */
static slot *claim(tdm_assembler *a, uint16_t seq16, uint64_t *ext, tdm_rtp_drop *why)
{
    if (!a->started) {
        /* Unwrapped numbers start at 2^16 (room to reorder backwards) and,
         * after a restart, above everything seen before. */
        uint64_t epoch = a->ever_started ? (a->highest >> 16) + 2 : 1;
        a->started = a->ever_started = true;
        a->next_seq = epoch << 16 | seq16;
        a->highest = a->next_seq - 1;
    }
    uint64_t s = tdm_rtp_seq_unwrap(a->highest, seq16);
    if (s < a->next_seq) {
        bool room = a->highest < s + a->mask;
        if (a->synced || !room) {
            if (a->next_seq - s > a->mask + 1 && ++a->old_streak >= RESTART_STREAK) {
                start_over(a);
                return claim(a, seq16, ext, why);
            }
            *why = TDM_RTP_DROP_TOO_OLD;
            return NULL;
        }
        /* Before the first frame: a packet that came late still counts. */
        for (uint64_t p = s + 1; p < a->next_seq; p++)
            mark_missing(a, p);
        a->next_seq = s;
    } else if (s > a->highest) {
        if (s - a->next_seq > a->mask)
            overflow(a, s);
        for (uint64_t p = a->highest + 1; p < s; p++)
            mark_missing(a, p);
        a->highest = s;
    }
    a->old_streak = 0;
    slot *sl = at(a, s);
    if (sl->state == SLOT_HAVE) {
        *why = TDM_RTP_DROP_DUPLICATE;
        return NULL;
    }
    *ext = s;
    return sl;
}

/* What a payload says about its place in a frame. */
typedef struct payload_facts {
    const uint8_t *data;
    size_t len;
    uint8_t flags;
    uint16_t picture_id;
    int width, height;
} payload_facts;

static tdm_status read_payload(const tdm_assembler *a, const tdm_rtp_packet *pkt,
                               payload_facts *f, tdm_rtp_drop *why)
{
    memset(f, 0, sizeof *f);
    if (pkt->payload_len == 0) {
        f->flags = F_PADDING;
        return TDM_OK;
    }
    if (a->cfg.codec == TDM_CODEC_VP8) {
        tdm_vp8_payload v;
        tdm_status st = tdm_vp8_depacketize(pkt->payload, pkt->payload_len, &v, why);
        if (st != TDM_OK)
            return st;
        f->data = v.data;
        f->len = v.len;
        f->flags = (uint8_t)((v.frame_start ? F_BEGIN : 0) | (pkt->header.marker ? F_END : 0) |
                             (v.keyframe ? F_KEY : 0) | (v.desc.non_reference ? F_NONREF : 0) |
                             (v.desc.has_picture_id ? F_HAS_PID : 0) |
                             (v.desc.long_picture_id ? F_LONG_PID : 0) |
                             (v.has_size ? F_HAS_SIZE : 0));
        f->picture_id = v.desc.picture_id;
        f->width = v.width;
        f->height = v.height;
    } else {
        tdm_vp9_payload v;
        tdm_status st = tdm_vp9_depacketize(pkt->payload, pkt->payload_len, &v, why);
        if (st != TDM_OK)
            return st;
        f->data = v.data;
        f->len = v.len;
        f->flags = (uint8_t)((v.frame_start ? F_BEGIN : 0) |
                             (v.frame_end || pkt->header.marker ? F_END : 0) |
                             (v.keyframe ? F_KEY : 0) | (v.desc.has_picture_id ? F_HAS_PID : 0) |
                             (v.desc.long_picture_id ? F_LONG_PID : 0) |
                             (v.has_size ? F_HAS_SIZE : 0));
        f->picture_id = v.desc.picture_id;
        f->width = v.width;
        f->height = v.height;
    }
    if (f->len > a->cfg.max_packet_bytes) {
        *why = TDM_RTP_DROP_PACKET_TOO_BIG;
        return TDM_ERR_RANGE;
    }
    return TDM_OK;
}

tdm_status tdm_assembler_push(tdm_assembler *a, uint64_t now_us, const uint8_t *buf, size_t len,
                              tdm_rtp_drop *why)
{
    tdm_rtp_drop dummy;
    if (!why)
        why = &dummy;
    *why = TDM_RTP_DROP_NONE;
    if (!a || (!buf && len > 0))
        return TDM_ERR_INVALID;
    if (now_us > a->now)
        a->now = now_us;
    a->stats.packets_received++;

    tdm_rtp_packet pkt;
    if (tdm_rtp_parse(buf, len, &pkt, why) != TDM_OK)
        goto dropped;
    uint32_t want = a->cfg.lock_ssrc ? a->cfg.ssrc : a->ssrc;
    if ((a->cfg.lock_ssrc || a->ssrc_locked) && pkt.header.ssrc != want) {
        *why = TDM_RTP_DROP_WRONG_SSRC;
        goto dropped;
    }
    if (a->cfg.payload_type >= 0 && pkt.header.payload_type != a->cfg.payload_type) {
        *why = TDM_RTP_DROP_WRONG_PAYLOAD_TYPE;
        goto dropped;
    }
    a->ssrc_locked = true;
    a->ssrc = pkt.header.ssrc;

    payload_facts f;
    bool malformed = read_payload(a, &pkt, &f, why) != TDM_OK;
    tdm_rtp_drop place_why = TDM_RTP_DROP_NONE;
    uint64_t s = 0;
    slot *sl = claim(a, pkt.header.seq, &s, &place_why);
    if (malformed) {
        /* An authenticated packet that cannot be used will not get better
         * by asking again: its frame is lost now. */
        if (sl) {
            if (sl->state == SLOT_MISSING)
                a->n_missing--;
            sl->seq = s;
            sl->state = SLOT_LOST;
        }
        goto dropped;
    }
    if (!sl) {
        *why = place_why;
        goto dropped;
    }

    if (sl->state == SLOT_MISSING) {
        a->n_missing--;
        if (sl->tries > 0)
            a->stats.packets_recovered++;
    }
    uint64_t ts = tdm_rtp_ts_unwrap(a->ts_ref ? a->ts_ref : (1ull << 32) + pkt.header.timestamp,
                                    pkt.header.timestamp);
    if (s == a->highest || a->ts_ref == 0)
        a->ts_ref = ts;
    sl->seq = s;
    sl->state = SLOT_HAVE;
    sl->ts = ts;
    sl->time_us = a->now;
    sl->flags = f.flags;
    sl->len = (uint32_t)f.len;
    sl->picture_id = f.picture_id;
    sl->width = (uint16_t)f.width;
    sl->height = (uint16_t)f.height;
    if (f.len)
        memcpy(storage(a, s), f.data, f.len);
    if ((f.flags & F_KEY) && (!a->have_key_seq || s > a->key_seq)) {
        a->have_key_seq = true;
        a->key_seq = s;
    }
    a->stats.packets_stored++;
    if (f.flags & F_PADDING)
        a->stats.padding_packets++;
    step(a);
    return TDM_OK;

dropped:
    tdm_rtp_drop_counts_add(&a->stats.drops, *why);
    step(a);
    return TDM_OK;
}

void tdm_assembler_handle_timeout(tdm_assembler *a, uint64_t now_us)
{
    if (now_us > a->now)
        a->now = now_us;
    step(a);
}

tdm_status tdm_assembler_poll_frame(tdm_assembler *a, tdm_encoded_frame *frame,
                                    tdm_assembler_frame_info *info)
{
    if (!a || !frame)
        return TDM_ERR_INVALID;
    uint64_t p, q;
    expire(a);
    if (!advance(a, &p, &q))
        return TDM_AGAIN;
    const slot *first = at(a, p);
    size_t len = 0;
    for (uint64_t i = p; i <= q; i++) {
        const slot *s = at(a, i);
        memcpy(a->frame_buf + len, storage(a, i), s->len);
        len += s->len;
    }
    bool key = first->flags & F_KEY;
    if (key) {
        if (first->flags & F_HAS_SIZE) {
            a->width = first->width;
            a->height = first->height;
        }
        a->need_keyframe = false;
        a->kf_requested = a->kf_pending = false;
        a->stats.keyframes_emitted++;
    }
    remember_pid(a, first);
    *frame = (tdm_encoded_frame){
        .codec = a->cfg.codec,
        .data = a->frame_buf,
        .len = len,
        .rtp_timestamp = (uint32_t)first->ts,
        .keyframe = key,
        .width = a->width,
        .height = a->height,
    };
    if (info)
        *info = (tdm_assembler_frame_info){
            .first_seq = p,
            .last_seq = q,
            .timestamp = first->ts,
            .packets = (size_t)(q - p + 1),
            .has_picture_id = first->flags & F_HAS_PID,
            .picture_id = first->picture_id,
            .first_arrival_us = first->time_us,
            .last_arrival_us = at(a, q)->time_us,
        };
    consume_to(a, q);
    a->stats.frames_emitted++;
    return TDM_OK;
}

tdm_status tdm_assembler_poll_nack(tdm_assembler *a, uint16_t *seqs, size_t cap, size_t *count)
{
    if (!a || !count || (!seqs && cap > 0))
        return TDM_ERR_INVALID;
    *count = 0;
    step(a);
    if (a->n_missing == 0)
        return TDM_AGAIN;
    uint64_t retry = retry_interval(a);
    for (uint64_t p = a->next_seq; p <= a->highest && *count < cap; p++) {
        slot *s = at(a, p);
        if (s->state != SLOT_MISSING || s->tries >= a->cfg.max_nack_tries ||
            s->next_nack_us > a->now)
            continue;
        seqs[(*count)++] = (uint16_t)p;
        s->tries++;
        s->next_nack_us = a->now + retry;
        a->stats.nacks_sent++;
    }
    return *count ? TDM_OK : TDM_AGAIN;
}

tdm_status tdm_assembler_poll_event(tdm_assembler *a, tdm_assembler_event *ev)
{
    if (!a || !ev)
        return TDM_ERR_INVALID;
    if (!a->kf_pending)
        return TDM_AGAIN;
    a->kf_pending = false;
    a->stats.keyframe_requests++;
    *ev = (tdm_assembler_event){.type = TDM_ASSEMBLER_KEYFRAME_NEEDED, .reason = a->kf_reason};
    return TDM_OK;
}

uint64_t tdm_assembler_poll_timeout(const tdm_assembler *a)
{
    uint64_t t = TDM_ASSEMBLER_NO_DEADLINE;
    if (a->n_missing > 0) {
        for (uint64_t p = a->next_seq; p <= a->highest; p++) {
            const slot *s = at(a, p);
            if (s->state != SLOT_MISSING)
                continue;
            /* The next NACK, or after the last one, the give-up time. */
            if (s->next_nack_us < t)
                t = s->next_nack_us;
            uint64_t give_up = s->time_us + a->cfg.max_missing_us;
            if (give_up < t)
                t = give_up;
        }
    }
    if (a->need_keyframe && a->kf_requested) {
        uint64_t again = a->kf_last_us + a->cfg.keyframe_retry_us;
        if (again < t)
            t = again;
    }
    return t;
}
