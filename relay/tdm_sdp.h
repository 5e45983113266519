/* tdm_sdp: WebRTC session descriptions for WHIP/WHEP, sans-IO.
 *
 * Owns three things: parsing an SDP offer (RFC 8866 syntax with the WebRTC
 * conventions of JSEP RFC 8829: BUNDLE RFC 8843, rtcp-mux RFC 5761, ICE
 * attributes RFC 8839, DTLS fingerprint RFC 8122, setup RFC 4145) into a
 * fixed-capacity struct; writing the relay's answer into a caller buffer; and
 * the trickle-ICE fragments of WHIP/WHEP PATCH (RFC 8840
 * application/trickle-ice-sdpfrag).
 *
 * Memory: a parse allocates nothing. Every string is copied into fixed
 * arrays inside tdm_sdp_session, so the result does not borrow the input.
 * That makes the struct large (sizeof is a few hundred KiB): put it on the
 * heap (tdm_sdp_new / tdm_sdp_free), not on a worker's stack.
 *
 * Limits (an input beyond them is refused with the line that broke it):
 * TDM_SDP_MAX_BYTES of text, TDM_SDP_MAX_LINE bytes per line,
 * TDM_SDP_MAX_MEDIA m-lines, TDM_SDP_MAX_CODECS payload types per m-line,
 * TDM_SDP_MAX_EXTMAPS extmaps per m-line. Candidates and SSRCs beyond their
 * capacity are dropped and counted rather than refused: a client with many
 * interfaces still connects over the ones kept.
 *
 * Error messages name the line, as "line 12: ...", counting from 1. */
#ifndef TDM_SDP_H
#define TDM_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_codec.h"
#include "tdm_status.h"

#define TDM_SDP_MAX_BYTES (64 * 1024)
#define TDM_SDP_MAX_LINE 4096
#define TDM_SDP_MAX_MEDIA 16
/* Chromium offers 25-35 video payload types (H.264 profiles, AV1, H.265 and
 * an rtx for each); 64 leaves room without refusing a browser. */
#define TDM_SDP_MAX_CODECS 64
#define TDM_SDP_MAX_EXTMAPS 32
#define TDM_SDP_MAX_SSRCS 8
#define TDM_SDP_MAX_CANDIDATES 24
#define TDM_SDP_MAX_BUNDLE TDM_SDP_MAX_MEDIA

#define TDM_SDP_MID_MAX 32       /* RFC 8843 token; we cap at 32 chars */
#define TDM_SDP_ICE_STR_MAX 256  /* RFC 8839: ufrag 4..256, pwd 22..256 */
#define TDM_SDP_FMTP_MAX 128     /* raw fmtp kept up to this; longer is flagged truncated */
#define TDM_SDP_FINGERPRINT_LEN 32 /* sha-256 */

typedef enum tdm_sdp_media_kind {
    TDM_SDP_MEDIA_OTHER = 0, /* application, text, message, ... */
    TDM_SDP_MEDIA_AUDIO,
    TDM_SDP_MEDIA_VIDEO,
} tdm_sdp_media_kind;

/* RFC 8866 6.7: sendrecv is the default when no direction is given. */
typedef enum tdm_sdp_direction {
    TDM_SDP_SENDRECV = 0,
    TDM_SDP_SENDONLY,
    TDM_SDP_RECVONLY,
    TDM_SDP_INACTIVE,
} tdm_sdp_direction;

typedef enum tdm_sdp_setup {
    TDM_SDP_SETUP_NONE = 0, /* attribute absent */
    TDM_SDP_SETUP_ACTPASS,
    TDM_SDP_SETUP_ACTIVE,
    TDM_SDP_SETUP_PASSIVE,
    TDM_SDP_SETUP_HOLDCONN,
} tdm_sdp_setup;

/* rtcp-fb types, as a bit set per payload type. */
enum {
    TDM_SDP_FB_NACK = 1u << 0,         /* a=rtcp-fb:<pt> nack */
    TDM_SDP_FB_NACK_PLI = 1u << 1,     /* a=rtcp-fb:<pt> nack pli */
    TDM_SDP_FB_CCM_FIR = 1u << 2,      /* a=rtcp-fb:<pt> ccm fir */
    TDM_SDP_FB_GOOG_REMB = 1u << 3,    /* a=rtcp-fb:<pt> goog-remb */
    TDM_SDP_FB_TRANSPORT_CC = 1u << 4, /* a=rtcp-fb:<pt> transport-cc */
};
/* What the relay implements: NACK from its cache, PLI/FIR towards the
 * publisher, REMB. Not transport-cc (no send-side estimator yet). */
#define TDM_SDP_FB_SUPPORTED \
    (TDM_SDP_FB_NACK | TDM_SDP_FB_NACK_PLI | TDM_SDP_FB_CCM_FIR | TDM_SDP_FB_GOOG_REMB)

/* RTP header extensions the parser recognises by URI. */
typedef enum tdm_sdp_ext {
    TDM_SDP_EXT_UNKNOWN = 0,
    TDM_SDP_EXT_ABS_SEND_TIME = 1u << 0, /* http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time */
    TDM_SDP_EXT_SDES_MID = 1u << 1,      /* urn:ietf:params:rtp-hdrext:sdes:mid */
    TDM_SDP_EXT_AUDIO_LEVEL = 1u << 2,   /* urn:ietf:params:rtp-hdrext:ssrc-audio-level */
    TDM_SDP_EXT_TRANSPORT_CC = 1u << 3,  /* ...draft-holmer-rmcat-transport-wide-cc-extensions-01 */
    TDM_SDP_EXT_TOFFSET = 1u << 4,       /* urn:ietf:params:rtp-hdrext:toffset */
} tdm_sdp_ext;
/* The default set answered: only abs-send-time, which the relay needs to
 * estimate a publisher's bandwidth for REMB and which it can forward
 * unchanged. Anything that must be rewritten per subscriber (mid, transport
 * sequence numbers) is left out until the forwarder rewrites it. */
#define TDM_SDP_EXT_DEFAULT TDM_SDP_EXT_ABS_SEND_TIME

typedef struct tdm_sdp_codec {
    uint8_t pt;
    bool has_rtpmap;
    char encoding[32]; /* as written, e.g. "VP8", "opus", "rtx"; "" without rtpmap */
    uint32_t clock_hz;
    uint8_t channels; /* 0 when absent (means 1 for audio) */
    bool has_fmtp;
    bool fmtp_truncated;
    char fmtp[TDM_SDP_FMTP_MAX + 1]; /* raw parameter string */
    int vp9_profile;                 /* profile-id; -1 when absent (which means 0) */
    bool opus_inband_fec;            /* useinbandfec=1 */
    bool opus_stereo;                /* stereo=1 */
    int rtx_apt;                     /* apt= of an rtx payload type; -1 otherwise */
    unsigned feedback;               /* TDM_SDP_FB_* */
} tdm_sdp_codec;

typedef struct tdm_sdp_extmap {
    uint16_t id;
    tdm_sdp_direction direction; /* sendrecv when not written */
    tdm_sdp_ext known;
    char uri[128];
} tdm_sdp_extmap;

typedef struct tdm_sdp_ssrc {
    uint32_t ssrc;
    char cname[64]; /* "" when no cname line was seen */
} tdm_sdp_ssrc;

typedef enum tdm_sdp_transport { TDM_SDP_UDP = 0, TDM_SDP_TCP } tdm_sdp_transport;
typedef enum tdm_sdp_cand_type {
    TDM_SDP_CAND_HOST = 0,
    TDM_SDP_CAND_SRFLX,
    TDM_SDP_CAND_PRFLX,
    TDM_SDP_CAND_RELAY,
} tdm_sdp_cand_type;
typedef enum tdm_sdp_tcptype {
    TDM_SDP_TCPTYPE_NONE = 0,
    TDM_SDP_TCPTYPE_ACTIVE,
    TDM_SDP_TCPTYPE_PASSIVE,
    TDM_SDP_TCPTYPE_SO,
} tdm_sdp_tcptype;

/* One a=candidate (RFC 8839 5.1). address may be an IPv4 or IPv6 literal or
 * an mDNS name ("<uuid>.local") that the ICE agent resolves. */
typedef struct tdm_sdp_candidate {
    char foundation[33];
    uint16_t component;
    tdm_sdp_transport transport;
    uint32_t priority;
    char address[64];
    uint16_t port;
    tdm_sdp_cand_type type;
    bool has_raddr;
    char raddr[64];
    uint16_t rport;
    tdm_sdp_tcptype tcptype;
} tdm_sdp_candidate;

typedef struct tdm_sdp_ice {
    char ufrag[TDM_SDP_ICE_STR_MAX + 1]; /* "" when absent */
    char pwd[TDM_SDP_ICE_STR_MAX + 1];
    bool trickle; /* a=ice-options includes "trickle" */
} tdm_sdp_ice;

typedef struct tdm_sdp_dtls {
    bool has_fingerprint; /* a sha-256 fingerprint; other hashes are ignored */
    uint8_t fingerprint[TDM_SDP_FINGERPRINT_LEN];
    tdm_sdp_setup setup;
} tdm_sdp_dtls;

typedef struct tdm_sdp_media {
    unsigned line; /* line number of the m= line */
    tdm_sdp_media_kind kind;
    char kind_name[16]; /* as written: "audio", "video", "application", ... */
    uint16_t port;
    char proto[32];
    char first_fmt[32]; /* first format token, echoed when rejecting */
    char mid[TDM_SDP_MID_MAX + 1]; /* "" when absent */
    tdm_sdp_direction direction;
    bool rtcp_mux;
    bool rtcp_rsize;
    bool bundle_only;
    /* Effective transport parameters: media-level, else session-level. */
    tdm_sdp_ice ice;
    tdm_sdp_dtls dtls;
    size_t n_codecs; /* in m-line order, which is the offerer's preference */
    tdm_sdp_codec codecs[TDM_SDP_MAX_CODECS];
    size_t n_extmaps;
    tdm_sdp_extmap extmaps[TDM_SDP_MAX_EXTMAPS];
    size_t n_ssrcs, ssrcs_dropped;
    tdm_sdp_ssrc ssrcs[TDM_SDP_MAX_SSRCS];
    size_t n_candidates, candidates_dropped;
    tdm_sdp_candidate candidates[TDM_SDP_MAX_CANDIDATES];
    bool end_of_candidates;
} tdm_sdp_media;

typedef struct tdm_sdp_session {
    uint64_t origin_session_id; /* o= sess-id */
    bool ice_lite;
    tdm_sdp_ice ice;   /* session-level only */
    tdm_sdp_dtls dtls; /* session-level only */
    size_t n_bundle;   /* mids of the first a=group:BUNDLE, in order */
    char bundle[TDM_SDP_MAX_BUNDLE][TDM_SDP_MID_MAX + 1];
    size_t n_media;
    tdm_sdp_media media[TDM_SDP_MAX_MEDIA];
} tdm_sdp_session;

/* Heap storage for one parse result; tdm_sdp_free(NULL) is a no-op. */
tdm_sdp_session *tdm_sdp_new(void);
void tdm_sdp_free(tdm_sdp_session *s);

/* Parses an SDP offer (or answer) of len bytes; it need not be NUL-terminated.
 * Lines end in CRLF or LF; the last line must be terminated too (an
 * unterminated one is taken as truncation). Beyond syntax it checks what a
 * WebRTC peer needs: every m-line in use (port != 0 or bundle-only) with a
 * DTLS profile carries ice-ufrag, ice-pwd and a sha-256 fingerprint (at
 * media or session level), mids are unique and every BUNDLE mid exists.
 * Unknown lines and attributes are ignored.
 * @return TDM_OK; TDM_ERR_FORMAT (err says which line and why);
 *         TDM_ERR_RANGE for a limit exceeded; TDM_ERR_INVALID for NULL args. */
tdm_status tdm_sdp_parse(const uint8_t *sdp, size_t len, tdm_sdp_session *out, tdm_error *err);

/* Which end of the relay's connection the answer takes. */
typedef enum tdm_sdp_role {
    TDM_SDP_ROLE_PUBLISH = 1,   /* WHIP: the client sends, the relay answers recvonly */
    TDM_SDP_ROLE_SUBSCRIBE = 2, /* WHEP: the relay sends, it answers sendonly */
} tdm_sdp_role;

/* Bit for a codec in tdm_sdp_local.codecs. */
#define TDM_SDP_CODEC_BIT(c) (1u << (unsigned)(c))
#define TDM_SDP_CODECS_ALL \
    (TDM_SDP_CODEC_BIT(TDM_CODEC_VP8) | TDM_SDP_CODEC_BIT(TDM_CODEC_VP9) | \
     TDM_SDP_CODEC_BIT(TDM_CODEC_OPUS))

/* The relay's side of the answer. Strings are borrowed for the call. */
typedef struct tdm_sdp_local {
    const char *ice_ufrag; /* RFC 8839 ice-chars, 4..256 */
    const char *ice_pwd;   /* 22..256 */
    uint8_t fingerprint[TDM_SDP_FINGERPRINT_LEN]; /* sha-256 of the node's certificate */
    uint64_t session_id; /* o= sess-id; the caller's random number (top bit is cleared) */
    unsigned codecs;     /* TDM_SDP_CODEC_BIT set; VP8, VP9 profile 0, Opus/48000/2 */
    unsigned extensions; /* TDM_SDP_EXT_* set; TDM_SDP_EXT_DEFAULT is the usual choice */
    const tdm_sdp_candidate *candidates;
    size_t n_candidates;
    bool candidates_complete; /* write a=end-of-candidates */
    /* Subscribe only, optional: SSRCs the relay will send with (0 = not
     * signalled), their CNAME and the msid stream id browsers group into a
     * MediaStream. */
    uint32_t ssrc_audio, ssrc_video;
    const char *cname;
    const char *msid_stream;
} tdm_sdp_local;

/* What the answer decided, per offered m-line, for the IO shell. */
typedef struct tdm_sdp_answer_info {
    /* The relay's DTLS role as written in a=setup: PASSIVE (relay is the DTLS
     * server) for an actpass or active offer, ACTIVE for a passive one. */
    tdm_sdp_setup setup;
    int transport_media; /* index of the m-line whose transport is used (BUNDLE tag) */
    size_t n_accepted;
    bool accepted[TDM_SDP_MAX_MEDIA];
    tdm_sdp_direction direction[TDM_SDP_MAX_MEDIA]; /* as answered */
} tdm_sdp_answer_info;

/* The a=setup an answer takes for an offered one (RFC 5763 5: the answerer
 * should be passive when it may choose, so the relay is the DTLS server and
 * never has to reach a client first). HOLDCONN maps to NONE: refused. */
tdm_sdp_setup tdm_sdp_answer_setup(tdm_sdp_setup offered);

/* Writes the relay's answer to offer into out (NUL-terminated), *out_len
 * excluding the NUL. An m-line is accepted when it is audio or video with a
 * DTLS-SRTP AVPF profile, rtcp-mux, at least one codec in local->codecs, and
 * (if the offer has a BUNDLE group) a mid in that group; without a group only
 * the first such m-line is accepted, since the relay runs one transport per
 * client. Accepted m-lines keep the offerer's payload types and mids, carry
 * only supported rtcp-fb and extmaps, and answer recvonly (publish) or
 * sendonly (subscribe), or inactive when the offer's direction leaves nothing
 * to do. The rest are rejected with port 0 and left out of BUNDLE. Local
 * candidates go on the first accepted m-line (the BUNDLE transport).
 * info may be NULL.
 * @return TDM_OK; TDM_ERR_UNSUPPORTED when nothing is acceptable or the offer
 *         asks for setup:holdconn; TDM_ERR_RANGE when cap is too small;
 *         TDM_ERR_INVALID for bad local parameters. */
tdm_status tdm_sdp_answer(const tdm_sdp_session *offer, const tdm_sdp_local *local,
                          tdm_sdp_role role, char *out, size_t cap, size_t *out_len,
                          tdm_sdp_answer_info *info, tdm_error *err);

/* --- trickle ICE fragments (RFC 8840, as WHIP/WHEP PATCH carries them) --- */

#define TDM_SDP_FRAG_MAX_CANDIDATES 32

typedef struct tdm_sdp_frag_candidate {
    size_t media; /* index into tdm_sdp_frag.mids of the m-line it followed */
    tdm_sdp_candidate c;
} tdm_sdp_frag_candidate;

typedef struct tdm_sdp_frag {
    tdm_sdp_ice ice; /* "" ufrag/pwd when the fragment carries none */
    size_t n_mids;   /* one per m= line in the fragment ("" if no a=mid) */
    char mids[TDM_SDP_MAX_MEDIA][TDM_SDP_MID_MAX + 1];
    size_t n_candidates, candidates_dropped;
    tdm_sdp_frag_candidate candidates[TDM_SDP_FRAG_MAX_CANDIDATES];
    bool end_of_candidates;
} tdm_sdp_frag;

/* Parses a trickle-ice-sdpfrag body: session-level ice-ufrag, ice-pwd,
 * ice-options and group lines, then m= sections with a=mid, a=candidate and
 * a=end-of-candidates (ICE attributes are also accepted at media level).
 * Same line rules and errors as tdm_sdp_parse. */
tdm_status tdm_sdp_frag_parse(const uint8_t *sdp, size_t len, tdm_sdp_frag *out,
                              tdm_error *err);

/* True when the fragment is an ICE restart (RFC 8839 4.4.1.1.1): it carries
 * credentials and they differ from the current ones. */
bool tdm_sdp_frag_is_restart(const tdm_sdp_frag *frag, const char *current_ufrag,
                             const char *current_pwd);

/* Writes a fragment: ice-ufrag/ice-pwd (when not "") and, for one m-line
 * with the given kind name, proto and mid, the candidates then
  * end-of-candidates when complete. The m= line uses port 9 and payload
 * type 0, as the examples of RFC 8840 do; the peer matches it by mid.
 * @return TDM_OK; TDM_ERR_RANGE when cap is too small; TDM_ERR_INVALID. */
tdm_status tdm_sdp_frag_write(const char *ufrag, const char *pwd, const char *kind_name,
                              const char *mid, const tdm_sdp_candidate *cands, size_t n,
                              bool complete, char *out, size_t cap, size_t *out_len,
                              tdm_error *err);

const char *tdm_sdp_direction_name(tdm_sdp_direction d);
const char *tdm_sdp_setup_name(tdm_sdp_setup s);
const char *tdm_sdp_cand_type_name(tdm_sdp_cand_type t);

#endif
