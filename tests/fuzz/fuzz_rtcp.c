/* fuzz_rtcp: parses arbitrary bytes as a compound RTCP packet and checks
 * the parser's contract: a drop names a reason and yields no item; an
 * accepted compound's items tile the input exactly and their borrowed
 * parts lie inside their packet; every item of a kind the writers know is
 * written again and parses back to the same fields (to the same bytes
 * where the input was in canonical form); the items joined again are the
 * input. Also runs the RTP/RTCP demultiplexer. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_rtcp.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "fuzz_rtcp: invariant failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                     \
            abort();                                                               \
        }                                                                          \
    } while (0)

#define MAX_OUT 300000 /* larger than any RTCP packet (2^18 bytes) */

static uint8_t out[MAX_OUT];

static bool inside(const tdm_rtcp_item *it, const uint8_t *p, size_t n)
{
    return p >= it->raw && n <= it->raw_len && (size_t)(p - it->raw) <= it->raw_len - n;
}

/* No padding and nothing beyond the fields the writer knows. */
static bool canonical(const tdm_rtcp_item *it)
{
    return !(it->raw[0] & 0x20);
}

static tdm_rtcp_item reparse(size_t n)
{
    tdm_rtcp_iter it;
    tdm_rtcp_drop why;
    CHECK(tdm_rtcp_iter_init(&it, out, n, &why) == TDM_OK);
    tdm_rtcp_item item;
    CHECK(tdm_rtcp_iter_next(&it, &item) == TDM_OK);
    CHECK(item.raw == out && item.raw_len == n);
    tdm_rtcp_item extra;
    CHECK(tdm_rtcp_iter_next(&it, &extra) == TDM_EOF);
    return item;
}

static bool same_block(const tdm_rtcp_report_block *a, const tdm_rtcp_report_block *b)
{
    /* Field by field: the struct has padding bytes. */
    return a->ssrc == b->ssrc && a->fraction_lost == b->fraction_lost &&
           a->cumulative_lost == b->cumulative_lost && a->highest_seq == b->highest_seq &&
           a->jitter == b->jitter && a->lsr == b->lsr && a->dlsr == b->dlsr;
}

static void check_report(const tdm_rtcp_item *it)
{
    const tdm_rtcp_report *r = &it->u.report;
    CHECK(r->block_count <= TDM_RTCP_MAX_BLOCKS);
    CHECK(inside(it, r->blocks, (size_t)r->block_count * TDM_RTCP_REPORT_BLOCK_SIZE));
    CHECK(inside(it, r->ext, r->ext_len));
    tdm_rtcp_report_block blocks[TDM_RTCP_MAX_BLOCKS];
    for (size_t i = 0; i < r->block_count; i++) {
        blocks[i] = tdm_rtcp_report_block_at(r, i);
        CHECK(blocks[i].cumulative_lost >= -0x800000 && blocks[i].cumulative_lost <= 0x7fffff);
    }
    size_t n = 0;
    tdm_status st = r->has_sender_info
                        ? tdm_rtcp_write_sr(r->ssrc, &r->sender, blocks, r->block_count, out,
                                            sizeof out, &n)
                        : tdm_rtcp_write_rr(r->ssrc, blocks, r->block_count, out, sizeof out, &n);
    CHECK(st == TDM_OK);
    if (canonical(it) && r->ext_len == 0)
        CHECK(n == it->raw_len && memcmp(out, it->raw, n) == 0);
    tdm_rtcp_item back = reparse(n);
    CHECK(back.type == it->type && back.u.report.ssrc == r->ssrc &&
          back.u.report.block_count == r->block_count && back.u.report.ext_len == 0);
    CHECK(back.u.report.sender.ntp == r->sender.ntp &&
          back.u.report.sender.rtp_timestamp == r->sender.rtp_timestamp &&
          back.u.report.sender.packet_count == r->sender.packet_count &&
          back.u.report.sender.octet_count == r->sender.octet_count);
    for (size_t i = 0; i < r->block_count; i++) {
        tdm_rtcp_report_block b = tdm_rtcp_report_block_at(&back.u.report, i);
        CHECK(same_block(&b, &blocks[i]));
    }
}

static uint8_t want_map[65536 / 8], got_map[65536 / 8];

static void mark(uint8_t *map, const tdm_rtcp_nack *n)
{
    memset(map, 0, 65536 / 8);
    for (size_t i = 0; i < n->pair_count; i++) {
        uint16_t pid, blp;
        tdm_rtcp_nack_pair(n, i, &pid, &blp);
        for (unsigned b = 0; b <= 16; b++)
            if (b == 0 || (blp & 1u << (b - 1)))
                map[(uint16_t)(pid + b) >> 3] |= (uint8_t)(1u << ((pid + b) & 7));
    }
}

static void check_nack(const tdm_rtcp_item *it)
{
    const tdm_rtcp_nack *nk = &it->u.nack;
    CHECK(nk->pair_count >= 1 && inside(it, nk->pairs, nk->pair_count * 4));
    size_t total = tdm_rtcp_nack_seqs(nk, NULL, 0);
    CHECK(total >= nk->pair_count && total <= 17 * nk->pair_count);
    uint16_t *seqs = malloc(total * sizeof *seqs);
    CHECK(seqs);
    CHECK(tdm_rtcp_nack_seqs(nk, seqs, total) == total);
    size_t n = 0;
    CHECK(tdm_rtcp_write_nack(nk->sender_ssrc, nk->media_ssrc, seqs, total, out, sizeof out, &n) ==
          TDM_OK);
    free(seqs);
    tdm_rtcp_item back = reparse(n);
    CHECK(back.type == TDM_RTCP_NACK && back.u.nack.sender_ssrc == nk->sender_ssrc &&
          back.u.nack.media_ssrc == nk->media_ssrc);
    /* The same set of sequence numbers, however the pairs fall. */
    mark(want_map, nk);
    mark(got_map, &back.u.nack);
    CHECK(memcmp(want_map, got_map, sizeof want_map) == 0);
}

static void check_item(const tdm_rtcp_item *it)
{
    size_t n = 0;
    switch (it->type) {
    case TDM_RTCP_SR:
    case TDM_RTCP_RR:
        CHECK((it->type == TDM_RTCP_SR) == (it->raw[1] == TDM_RTCP_PT_SR));
        check_report(it);
        break;
    case TDM_RTCP_SDES:
        CHECK(it->raw[1] == TDM_RTCP_PT_SDES && it->u.sdes.chunk_count == (it->raw[0] & 0x1f));
        break;
    case TDM_RTCP_BYE: {
        const tdm_rtcp_bye *b = &it->u.bye;
        CHECK(inside(it, b->ssrcs, (size_t)b->ssrc_count * 4));
        if (b->reason)
            CHECK(inside(it, b->reason, b->reason_len));
        else
            CHECK(b->reason_len == 0);
        break;
    }
    case TDM_RTCP_NACK:
        check_nack(it);
        break;
    case TDM_RTCP_PLI: {
        CHECK(tdm_rtcp_write_pli(it->u.pli.sender_ssrc, it->u.pli.media_ssrc, out, sizeof out,
                                 &n) == TDM_OK);
        if (canonical(it))
            CHECK(n == it->raw_len && memcmp(out, it->raw, n) == 0);
        tdm_rtcp_item back = reparse(n);
        CHECK(back.type == TDM_RTCP_PLI && back.u.pli.sender_ssrc == it->u.pli.sender_ssrc &&
              back.u.pli.media_ssrc == it->u.pli.media_ssrc);
        break;
    }
    case TDM_RTCP_FIR: {
        const tdm_rtcp_fir *f = &it->u.fir;
        CHECK(f->entry_count >= 1 && inside(it, f->entries, f->entry_count * 8));
        tdm_rtcp_fir_entry *e = malloc(f->entry_count * sizeof *e);
        CHECK(e);
        for (size_t i = 0; i < f->entry_count; i++)
            e[i] = tdm_rtcp_fir_entry_at(f, i);
        CHECK(tdm_rtcp_write_fir(f->sender_ssrc, e, f->entry_count, out, sizeof out, &n) ==
              TDM_OK);
        tdm_rtcp_item back = reparse(n);
        CHECK(back.type == TDM_RTCP_FIR && back.u.fir.sender_ssrc == f->sender_ssrc &&
              back.u.fir.media_ssrc == 0 && back.u.fir.entry_count == f->entry_count);
        for (size_t i = 0; i < f->entry_count; i++) {
            tdm_rtcp_fir_entry g = tdm_rtcp_fir_entry_at(&back.u.fir, i);
            CHECK(g.ssrc == e[i].ssrc && g.seq == e[i].seq);
        }
        free(e);
        break;
    }
    case TDM_RTCP_REMB: {
        const tdm_rtcp_remb *r = &it->u.remb;
        CHECK(inside(it, r->ssrcs, (size_t)r->ssrc_count * 4));
        uint32_t ssrcs[TDM_RTCP_MAX_REMB_SSRCS];
        for (size_t i = 0; i < r->ssrc_count; i++)
            ssrcs[i] = tdm_rtcp_remb_ssrc(r, i);
        CHECK(tdm_rtcp_write_remb(r->sender_ssrc, r->bitrate_bps, ssrcs, r->ssrc_count, out,
                                  sizeof out, &n) == TDM_OK);
        tdm_rtcp_item back = reparse(n);
        CHECK(back.type == TDM_RTCP_REMB && back.u.remb.sender_ssrc == r->sender_ssrc &&
              back.u.remb.ssrc_count == r->ssrc_count);
        /* Exact unless the input's value saturated. */
        if (r->bitrate_bps != UINT64_MAX)
            CHECK(back.u.remb.bitrate_bps == r->bitrate_bps);
        for (size_t i = 0; i < r->ssrc_count; i++)
            CHECK(tdm_rtcp_remb_ssrc(&back.u.remb, i) == ssrcs[i]);
        break;
    }
    case TDM_RTCP_OTHER:
        CHECK(it->u.other.body == it->raw + 4 &&
              inside(it, it->u.other.body, it->u.other.body_len));
        CHECK(it->u.other.packet_type == it->raw[1]);
        break;
    default:
        CHECK(!"unknown item type");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool is_rtcp = tdm_rtcp_is_rtcp(data, size);
    CHECK(!is_rtcp || (size >= 2 && data[1] >= 192 && data[1] <= 223));

    tdm_rtcp_iter it;
    tdm_rtcp_drop why = TDM_RTCP_DROP_COUNT;
    tdm_status st = tdm_rtcp_iter_init(&it, data, size, &why);
    CHECK(st == TDM_OK || st == TDM_ERR_FORMAT);
    tdm_rtcp_item item;
    if (st != TDM_OK) {
        CHECK(why > TDM_RTCP_DROP_NONE && why < TDM_RTCP_DROP_COUNT);
        CHECK(strcmp(tdm_rtcp_drop_name(why), "unknown") != 0);
        CHECK(tdm_rtcp_iter_next(&it, &item) == TDM_EOF);
        return 0;
    }
    CHECK(why == TDM_RTCP_DROP_NONE);

    enum { MAX_PARTS = 1024 };
    static tdm_rtcp_part parts[MAX_PARTS];
    size_t nparts = 0, off = 0;
    while ((st = tdm_rtcp_iter_next(&it, &item)) == TDM_OK) {
        CHECK(item.raw == data + off && item.raw_len >= 4 && item.raw_len % 4 == 0);
        off += item.raw_len;
        CHECK(off <= size);
        if (nparts < MAX_PARTS)
            parts[nparts++] = (tdm_rtcp_part){item.raw, item.raw_len};
        check_item(&item);
    }
    CHECK(st == TDM_EOF && off == size);

    /* Joining the packets again gives the input back. */
    if (nparts < MAX_PARTS) {
        size_t n = 0;
        static uint8_t joined[1 << 20];
        if (size <= sizeof joined) {
            CHECK(tdm_rtcp_write_compound(parts, nparts, joined, sizeof joined, &n) == TDM_OK);
            CHECK(n == size && memcmp(joined, data, size) == 0);
        }
    }
    return 0;
}
