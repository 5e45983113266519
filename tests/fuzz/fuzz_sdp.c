/* fuzz_sdp: parses arbitrary bytes as an SDP offer and as a trickle
 * fragment, and holds the parser and answer builder to their contract: a
 * refusal names its line; an accepted offer has its strings terminated and
 * its counts in bounds; the answer for either role is written whenever
 * anything is acceptable, parses back with the same parser, keeps the
 * offer's m-lines and mids, lists in BUNDLE exactly the accepted mids, and
 * only payload types the offer listed; fragment candidates written out
 * parse back to the same candidates. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_sdp.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "fuzz_sdp: invariant failed: %s (line %d)\n", #cond,     \
                    __LINE__);                                                       \
            abort();                                                                 \
        }                                                                            \
    } while (0)

#define TERMINATED(arr) CHECK(strnlen((arr), sizeof(arr)) < sizeof(arr))

static tdm_sdp_session *offer, *answer;
static char out[256 * 1024]; /* above the worst case: 16 m-lines x 64 codecs */

static void check_error(tdm_status st, const tdm_error *e, size_t size)
{
    CHECK(st == TDM_ERR_FORMAT || st == TDM_ERR_RANGE);
    CHECK(strncmp(e->msg, "line ", 5) == 0 || size > TDM_SDP_MAX_BYTES);
}

static void check_session(const tdm_sdp_session *s)
{
    CHECK(s->n_media <= TDM_SDP_MAX_MEDIA && s->n_bundle <= TDM_SDP_MAX_BUNDLE);
    TERMINATED(s->ice.ufrag);
    TERMINATED(s->ice.pwd);
    for (size_t b = 0; b < s->n_bundle; b++) {
        TERMINATED(s->bundle[b]);
        CHECK(s->bundle[b][0] != '\0');
    }
    for (size_t i = 0; i < s->n_media; i++) {
        const tdm_sdp_media *m = &s->media[i];
        CHECK(m->line >= 2);
        CHECK(m->n_codecs <= TDM_SDP_MAX_CODECS && m->n_extmaps <= TDM_SDP_MAX_EXTMAPS &&
              m->n_ssrcs <= TDM_SDP_MAX_SSRCS && m->n_candidates <= TDM_SDP_MAX_CANDIDATES);
        TERMINATED(m->kind_name);
        TERMINATED(m->proto);
        TERMINATED(m->mid);
        TERMINATED(m->ice.ufrag);
        TERMINATED(m->ice.pwd);
        for (size_t j = 0; j < i; j++)
            CHECK(!m->mid[0] || strcmp(m->mid, s->media[j].mid) != 0);
        for (size_t k = 0; k < m->n_codecs; k++) {
            CHECK(m->codecs[k].pt <= 127);
            TERMINATED(m->codecs[k].encoding);
            TERMINATED(m->codecs[k].fmtp);
            for (size_t j = 0; j < k; j++)
                CHECK(m->codecs[j].pt != m->codecs[k].pt);
        }
        for (size_t k = 0; k < m->n_candidates; k++) {
            TERMINATED(m->candidates[k].foundation);
            TERMINATED(m->candidates[k].address);
            CHECK(m->candidates[k].component >= 1);
        }
        bool used = m->port != 0 || m->bundle_only;
        if (used && (strstr(m->proto, "TLS") || strstr(m->proto, "DTLS")))
            CHECK(m->ice.ufrag[0] && m->ice.pwd[0] && m->dtls.has_fingerprint);
    }
}

static bool offer_has_pt(const tdm_sdp_media *m, uint8_t pt)
{
    for (size_t k = 0; k < m->n_codecs; k++)
        if (m->codecs[k].pt == pt)
            return true;
    return false;
}

static void check_answer(tdm_sdp_role role)
{
    static const tdm_sdp_candidate cand = {.foundation = "1", .component = 1,
                                           .priority = 2130706431u, .address = "192.0.2.1",
                                           .port = 40000, .type = TDM_SDP_CAND_HOST};
    tdm_sdp_local local = {
        .ice_ufrag = "rLy7",
        .ice_pwd = "relayPasswordOf24chars+/",
        .session_id = 7,
        .codecs = TDM_SDP_CODECS_ALL,
        .extensions = TDM_SDP_EXT_ABS_SEND_TIME | TDM_SDP_EXT_SDES_MID,
        .candidates = &cand,
        .n_candidates = 1,
        .candidates_complete = true,
        .ssrc_audio = 1,
        .ssrc_video = 2,
        .cname = "c",
        .msid_stream = "s",
    };
    tdm_sdp_answer_info info;
    tdm_error e;
    size_t n = 0;
    tdm_status st = tdm_sdp_answer(offer, &local, role, out, sizeof out, &n, &info, &e);
    if (st != TDM_OK) {
        CHECK(st == TDM_ERR_UNSUPPORTED);
        return;
    }
    CHECK(n == strlen(out));
    CHECK(info.n_accepted >= 1 && info.transport_media >= 0 &&
          (size_t)info.transport_media < offer->n_media && info.accepted[info.transport_media]);
    CHECK(info.setup == TDM_SDP_SETUP_PASSIVE || info.setup == TDM_SDP_SETUP_ACTIVE);
    st = tdm_sdp_parse((const uint8_t *)out, n, answer, &e);
    if (st != TDM_OK) {
        fprintf(stderr, "answer does not parse: %s\n%s", e.msg, out);
        abort();
    }
    CHECK(answer->n_media == offer->n_media);
    size_t bundled = 0;
    for (size_t i = 0; i < offer->n_media; i++) {
        const tdm_sdp_media *o = &offer->media[i], *a = &answer->media[i];
        CHECK(strcmp(o->mid, a->mid) == 0);
        CHECK(strcmp(o->kind_name, a->kind_name) == 0);
        if (!info.accepted[i]) {
            CHECK(a->port == 0);
            continue;
        }
        CHECK(a->port == 9 && a->rtcp_mux && a->n_codecs >= 1);
        CHECK(a->dtls.setup == info.setup);
        CHECK(strcmp(a->ice.ufrag, "rLy7") == 0);
        CHECK(a->direction == info.direction[i]);
        CHECK(a->direction == TDM_SDP_INACTIVE ||
              a->direction == (role == TDM_SDP_ROLE_PUBLISH ? TDM_SDP_RECVONLY
                                                             : TDM_SDP_SENDONLY));
        for (size_t k = 0; k < a->n_codecs; k++) {
            CHECK(offer_has_pt(o, a->codecs[k].pt));
            CHECK((a->codecs[k].feedback & ~TDM_SDP_FB_SUPPORTED) == 0);
        }
        for (size_t k = 0; k < a->n_extmaps; k++)
            CHECK(a->extmaps[k].known & local.extensions);
        CHECK(a->n_candidates == ((int)i == info.transport_media ? 1u : 0u));
        if (offer->n_bundle) {
            bool in = false;
            for (size_t b = 0; b < answer->n_bundle; b++)
                in = in || strcmp(answer->bundle[b], a->mid) == 0;
            CHECK(in);
            bundled++;
        }
    }
    CHECK(answer->n_bundle == bundled);
}

static void check_frag(const uint8_t *data, size_t size)
{
    static tdm_sdp_frag f, g;
    tdm_error e;
    tdm_status st = tdm_sdp_frag_parse(data, size, &f, &e);
    if (st != TDM_OK) {
        check_error(st, &e, size);
        return;
    }
    CHECK(f.n_candidates <= TDM_SDP_FRAG_MAX_CANDIDATES && f.n_mids <= TDM_SDP_MAX_MEDIA);
    tdm_sdp_candidate cs[TDM_SDP_FRAG_MAX_CANDIDATES];
    for (size_t i = 0; i < f.n_candidates; i++) {
        CHECK(f.candidates[i].media < f.n_mids);
        cs[i] = f.candidates[i].c;
    }
    size_t n = 0;
    st = tdm_sdp_frag_write(f.ice.ufrag, f.ice.pwd, "audio", f.n_mids && f.mids[0][0] ? f.mids[0] : "0",
                            cs, f.n_candidates, f.end_of_candidates, out, sizeof out, &n, &e);
    CHECK(st == TDM_OK);
    CHECK(tdm_sdp_frag_parse((const uint8_t *)out, n, &g, &e) == TDM_OK);
    CHECK(g.n_candidates == f.n_candidates);
    CHECK(strcmp(g.ice.ufrag, f.ice.ufrag) == 0 && strcmp(g.ice.pwd, f.ice.pwd) == 0);
    CHECK(g.end_of_candidates == f.end_of_candidates);
    for (size_t i = 0; i < f.n_candidates; i++)
        CHECK(memcmp(&g.candidates[i].c, &f.candidates[i].c, sizeof(tdm_sdp_candidate)) == 0);
    CHECK(!tdm_sdp_frag_is_restart(&f, f.ice.ufrag, f.ice.pwd));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!offer) {
        offer = tdm_sdp_new();
        answer = tdm_sdp_new();
        CHECK(offer && answer);
    }
    check_frag(data, size);
    tdm_error e;
    tdm_status st = tdm_sdp_parse(data, size, offer, &e);
    if (st != TDM_OK) {
        check_error(st, &e, size);
        return 0;
    }
    check_session(offer);
    check_answer(TDM_SDP_ROLE_PUBLISH);
    check_answer(TDM_SDP_ROLE_SUBSCRIBE);
    return 0;
}
