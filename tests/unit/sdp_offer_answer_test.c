/* sdp_offer_answer_test: realistic Chromium and Firefox offers parse to the
 * fields the relay needs; the relay's answers keep the offerer's payload
 * types and mids, drop what it does not support, say setup:passive and the
 * right direction, and parse back with the same parser; malformed or
 * oversized offers are refused with the line that broke them; trickle ICE
 * fragments round-trip and show ICE restarts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_sdp.h"

/* Chromium 120-style WHIP offer: audio then video, BUNDLE 0 1, candidates in
 * the first m-line (mDNS host, IPv6 host, srflx, tcp active, relay). */
static const char chrome_offer[] =
    "v=0\r\n"
    "o=- 4215775240449105457 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS 5d0a8e8b-6a55-4c1f-9d1a-0e7f2c3b4a5d\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=candidate:1467250027 1 udp 2122260223 3f6a1b2c-1d2e-4f5a-8b9c-0d1e2f3a4b5c.local 54321 typ host generation 0 network-id 1 network-cost 10\r\n"
    "a=candidate:2999745851 1 udp 2122262783 2001:db8::1 54322 typ host generation 0 network-id 2 network-cost 10\r\n"
    "a=candidate:1853887674 1 udp 1686052607 203.0.113.7 61234 typ srflx raddr 0.0.0.0 rport 0 generation 0 network-id 1 network-cost 10\r\n"
    "a=candidate:467250027 1 tcp 1518280447 3f6a1b2c-1d2e-4f5a-8b9c-0d1e2f3a4b5c.local 9 typ host tcptype active generation 0 network-id 1 network-cost 10\r\n"
    "a=candidate:3745212917 1 udp 41885439 198.51.100.20 3478 typ relay raddr 203.0.113.7 rport 61234 generation 0 network-id 1 network-cost 10\r\n"
    "a=ice-ufrag:Qx9Z\r\n"
    "a=ice-pwd:3Fqz7u1XaH5Yb9Kc2Md4Ne6P\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 93:90:EF:32:AD:DF:32:BF:DE:A7:86:BC:1E:20:67:95:92:49:80:68:BC:BF:CD:35:7E:A1:0A:B6:4E:A3:5E:47\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=sendonly\r\n"
    "a=msid:5d0a8e8b-6a55-4c1f-9d1a-0e7f2c3b4a5d 9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=rtcp-fb:111 transport-cc\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=rtpmap:63 red/48000/2\r\n"
    "a=fmtp:63 111/111\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:13 CN/8000\r\n"
    "a=rtpmap:110 telephone-event/48000\r\n"
    "a=rtpmap:126 telephone-event/8000\r\n"
    "a=ssrc:1001 cname:n3UqcXHvD4sLVb1e\r\n"
    "a=ssrc:1001 msid:5d0a8e8b-6a55-4c1f-9d1a-0e7f2c3b4a5d 9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 102 103 45 116 117 118\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Qx9Z\r\n"
    "a=ice-pwd:3Fqz7u1XaH5Yb9Kc2Md4Ne6P\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 93:90:EF:32:AD:DF:32:BF:DE:A7:86:BC:1E:20:67:95:92:49:80:68:BC:BF:CD:35:7E:A1:0A:B6:4E:A3:5E:47\r\n"
    "a=setup:actpass\r\n"
    "a=mid:1\r\n"
    "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n"
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=extmap:13 urn:3gpp:video-orientation\r\n"
    "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n"
    "a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type\r\n"
    "a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing\r\n"
    "a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space\r\n"
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"
    "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n"
    "a=sendonly\r\n"
    "a=msid:5d0a8e8b-6a55-4c1f-9d1a-0e7f2c3b4a5d 0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 goog-remb\r\n"
    "a=rtcp-fb:96 transport-cc\r\n"
    "a=rtcp-fb:96 ccm fir\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=rtpmap:98 VP9/90000\r\n"
    "a=rtcp-fb:98 goog-remb\r\n"
    "a=rtcp-fb:98 transport-cc\r\n"
    "a=rtcp-fb:98 ccm fir\r\n"
    "a=rtcp-fb:98 nack\r\n"
    "a=rtcp-fb:98 nack pli\r\n"
    "a=fmtp:98 profile-id=0\r\n"
    "a=rtpmap:99 rtx/90000\r\n"
    "a=fmtp:99 apt=98\r\n"
    "a=rtpmap:100 VP9/90000\r\n"
    "a=rtcp-fb:100 goog-remb\r\n"
    "a=rtcp-fb:100 nack\r\n"
    "a=fmtp:100 profile-id=2\r\n"
    "a=rtpmap:101 rtx/90000\r\n"
    "a=fmtp:101 apt=100\r\n"
    "a=rtpmap:102 H264/90000\r\n"
    "a=rtcp-fb:102 goog-remb\r\n"
    "a=rtcp-fb:102 nack\r\n"
    "a=rtcp-fb:102 nack pli\r\n"
    "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n"
    "a=rtpmap:103 rtx/90000\r\n"
    "a=fmtp:103 apt=102\r\n"
    "a=rtpmap:45 AV1/90000\r\n"
    "a=rtcp-fb:45 nack\r\n"
    "a=fmtp:45 level-idx=5;profile=0;tier=0\r\n"
    "a=rtpmap:116 red/90000\r\n"
    "a=rtpmap:117 rtx/90000\r\n"
    "a=fmtp:117 apt=116\r\n"
    "a=rtpmap:118 ulpfec/90000\r\n"
    "a=ssrc-group:FID 2001 2002\r\n"
    "a=ssrc:2001 cname:n3UqcXHvD4sLVb1e\r\n"
    "a=ssrc:2001 msid:5d0a8e8b-6a55-4c1f-9d1a-0e7f2c3b4a5d 0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d\r\n"
    "a=ssrc:2002 cname:n3UqcXHvD4sLVb1e\r\n"
    "a=ssrc:2002 msid:5d0a8e8b-6a55-4c1f-9d1a-0e7f2c3b4a5d 0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d\r\n";

/* Firefox 115-style offer: session-level fingerprint, VP9 without
 * profile-id, an upper-case transport, and a data channel m-line. */
static const char firefox_offer[] =
    "v=0\r\n"
    "o=mozilla...THIS_IS_SDPARTA-115.0 6243893925934417264 0 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=fingerprint:sha-256 16:E5:F6:0F:20:7A:1A:00:73:45:1C:35:A9:D3:15:D1:7F:DC:17:D7:FA:B6:64:49:B0:0C:DF:AA:DC:8B:24:9E\r\n"
    "a=group:BUNDLE 0 1 2\r\n"
    "a=ice-options:trickle\r\n"
    "a=msid-semantic:WMS *\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=candidate:0 1 UDP 2122252543 192.0.2.10 50713 typ host\r\n"
    "a=candidate:2 1 TCP 2105524479 192.0.2.10 9 typ host tcptype active\r\n"
    "a=candidate:1 1 UDP 1686052863 203.0.113.9 50713 typ srflx raddr 192.0.2.10 rport 50713\r\n"
    "a=sendonly\r\n"
    "a=end-of-candidates\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level\r\n"
    "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=ice-pwd:b7e2c4a9d1f03e5a6b8c7d9e0f1a2b3c\r\n"
    "a=ice-ufrag:8f3a2c1d\r\n"
    "a=mid:0\r\n"
    "a=msid:{6f1b2c3d-aaaa-bbbb-cccc-0123456789ab} {7a8b9c0d-dddd-eeee-ffff-0123456789ab}\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:109 opus/48000/2\r\n"
    "a=rtpmap:9 G722/8000/1\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=setup:actpass\r\n"
    "a=ssrc:3735928559 cname:{0b1c2d3e-1111-2222-3333-444455556666}\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125 126 127 97 98 123 122 119\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=sendonly\r\n"
    "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=extmap:5 urn:ietf:params:rtp-hdrext:toffset\r\n"
    "a=extmap:6/recvonly http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n"
    "a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=fmtp:126 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1\r\n"
    "a=fmtp:97 profile-level-id=42e01f;level-asymmetry-allowed=1\r\n"
    "a=fmtp:120 max-fs=12288;max-fr=60\r\n"
    "a=fmtp:124 apt=120\r\n"
    "a=fmtp:121 max-fs=12288;max-fr=60\r\n"
    "a=fmtp:125 apt=121\r\n"
    "a=fmtp:127 apt=126\r\n"
    "a=fmtp:98 apt=97\r\n"
    "a=fmtp:119 apt=122\r\n"
    "a=ice-pwd:b7e2c4a9d1f03e5a6b8c7d9e0f1a2b3c\r\n"
    "a=ice-ufrag:8f3a2c1d\r\n"
    "a=mid:1\r\n"
    "a=msid:{6f1b2c3d-aaaa-bbbb-cccc-0123456789ab} {8c9d0e1f-dddd-eeee-ffff-0123456789ab}\r\n"
    "a=rtcp-fb:120 nack\r\n"
    "a=rtcp-fb:120 nack pli\r\n"
    "a=rtcp-fb:120 ccm fir\r\n"
    "a=rtcp-fb:120 goog-remb\r\n"
    "a=rtcp-fb:120 transport-cc\r\n"
    "a=rtcp-fb:121 nack\r\n"
    "a=rtcp-fb:121 nack pli\r\n"
    "a=rtcp-fb:121 ccm fir\r\n"
    "a=rtcp-fb:121 goog-remb\r\n"
    "a=rtcp-fb:121 transport-cc\r\n"
    "a=rtcp-fb:126 nack\r\n"
    "a=rtcp-fb:126 nack pli\r\n"
    "a=rtcp-fb:97 nack\r\n"
    "a=rtcp-fb:123 nack\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:120 VP8/90000\r\n"
    "a=rtpmap:124 rtx/90000\r\n"
    "a=rtpmap:121 VP9/90000\r\n"
    "a=rtpmap:125 rtx/90000\r\n"
    "a=rtpmap:126 H264/90000\r\n"
    "a=rtpmap:127 rtx/90000\r\n"
    "a=rtpmap:97 H264/90000\r\n"
    "a=rtpmap:98 rtx/90000\r\n"
    "a=rtpmap:123 ulpfec/90000\r\n"
    "a=rtpmap:122 red/90000\r\n"
    "a=rtpmap:119 rtx/90000\r\n"
    "a=setup:actpass\r\n"
    "a=ssrc:3735928560 cname:{0b1c2d3e-1111-2222-3333-444455556666}\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=sendrecv\r\n"
    "a=ice-pwd:b7e2c4a9d1f03e5a6b8c7d9e0f1a2b3c\r\n"
    "a=ice-ufrag:8f3a2c1d\r\n"
    "a=mid:2\r\n"
    "a=setup:actpass\r\n"
    "a=sctp-port:5000\r\n"
    "a=max-message-size:1073741823\r\n";

static const uint8_t chrome_fp[32] = {
    0x93, 0x90, 0xEF, 0x32, 0xAD, 0xDF, 0x32, 0xBF, 0xDE, 0xA7, 0x86, 0xBC, 0x1E, 0x20, 0x67, 0x95,
    0x92, 0x49, 0x80, 0x68, 0xBC, 0xBF, 0xCD, 0x35, 0x7E, 0xA1, 0x0A, 0xB6, 0x4E, 0xA3, 0x5E, 0x47};

#define RELAY_UFRAG "rLy7"
#define RELAY_PWD "relayPasswordOf24chars+/"

static tdm_sdp_candidate relay_candidates[2];
static tdm_sdp_local local;

static void init_local(tdm_sdp_role role)
{
    memset(&local, 0, sizeof local);
    memset(relay_candidates, 0, sizeof relay_candidates);
    strcpy(relay_candidates[0].foundation, "1");
    relay_candidates[0].component = 1;
    relay_candidates[0].transport = TDM_SDP_UDP;
    relay_candidates[0].priority = 2130706431u;
    strcpy(relay_candidates[0].address, "192.0.2.1");
    relay_candidates[0].port = 40000;
    relay_candidates[0].type = TDM_SDP_CAND_HOST;
    strcpy(relay_candidates[1].foundation, "2");
    relay_candidates[1].component = 1;
    relay_candidates[1].transport = TDM_SDP_TCP;
    relay_candidates[1].priority = 1518280447u;
    strcpy(relay_candidates[1].address, "192.0.2.1");
    relay_candidates[1].port = 40001;
    relay_candidates[1].type = TDM_SDP_CAND_HOST;
    relay_candidates[1].tcptype = TDM_SDP_TCPTYPE_PASSIVE;
    local.ice_ufrag = RELAY_UFRAG;
    local.ice_pwd = RELAY_PWD;
    for (int i = 0; i < 32; i++)
        local.fingerprint[i] = (uint8_t)(0xA0 + i);
    local.session_id = 0x8123456789abcdefull; /* top bit must be cleared in o= */
    local.codecs = TDM_SDP_CODECS_ALL;
    local.extensions = TDM_SDP_EXT_DEFAULT;
    local.candidates = relay_candidates;
    local.n_candidates = 2;
    local.candidates_complete = true;
    if (role == TDM_SDP_ROLE_SUBSCRIBE) {
        local.ssrc_audio = 11111;
        local.ssrc_video = 22222;
        local.cname = "tandem-relay";
        local.msid_stream = "tandem";
    }
}

static tdm_status parse_text(const char *text, tdm_sdp_session *s, tdm_error *e)
{
    return tdm_sdp_parse((const uint8_t *)text, strlen(text), s, e);
}

static tdm_sdp_session *parse_ok(const char *text)
{
    tdm_sdp_session *s = tdm_sdp_new();
    assert_non_null(s);
    tdm_error e = {{0}};
    tdm_status st = parse_text(text, s, &e);
    if (st != TDM_OK)
        fail_msg("parse failed: %s", e.msg);
    return s;
}

/* 1-based number of the first line containing needle. */
static unsigned line_of(const char *text, const char *needle)
{
    const char *hit = strstr(text, needle);
    assert_non_null(hit);
    unsigned line = 1;
    for (const char *p = text; p < hit; p++)
        line += *p == '\n';
    return line;
}

static void assert_error_at(const tdm_error *e, unsigned line)
{
    char want[32];
    snprintf(want, sizeof want, "line %u:", line);
    if (strncmp(e->msg, want, strlen(want)) != 0)
        fail_msg("expected error at '%s', got '%s'", want, e->msg);
}

/* Whole-line match inside a CRLF SDP. */
static bool has_line(const char *sdp, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = sdp; (p = strstr(p, line)) != NULL; p++) {
        bool starts = p == sdp || p[-1] == '\n';
        if (starts && p[n] == '\r' && p[n + 1] == '\n')
            return true;
    }
    return false;
}

static size_t count_lines_with(const char *sdp, const char *prefix)
{
    size_t n = 0;
    for (const char *p = sdp; (p = strstr(p, prefix)) != NULL; p++)
        n += p == sdp || p[-1] == '\n';
    return n;
}

/* A malloc'd copy of text with the first `from` replaced by `to`. */
static char *replaced(const char *text, const char *from, const char *to)
{
    const char *hit = strstr(text, from);
    assert_non_null(hit);
    size_t a = (size_t)(hit - text), fl = strlen(from), tl = strlen(to), n = strlen(text);
    char *out = malloc(n - fl + tl + 1);
    assert_non_null(out);
    memcpy(out, text, a);
    memcpy(out + a, to, tl);
    memcpy(out + a + tl, hit + fl, n - a - fl + 1);
    return out;
}

static const tdm_sdp_codec *codec(const tdm_sdp_media *m, unsigned pt)
{
    for (size_t i = 0; i < m->n_codecs; i++)
        if (m->codecs[i].pt == pt)
            return &m->codecs[i];
    fail_msg("no payload type %u", pt);
    return NULL;
}

/* ------------------------------------------------------------------ */

static void chromium_offer_parses_transport_and_media(void **state)
{
    (void)state;
    tdm_sdp_session *s = parse_ok(chrome_offer);
    assert_int_equal(s->origin_session_id, 4215775240449105457ull);
    assert_int_equal(s->n_bundle, 2);
    assert_string_equal(s->bundle[0], "0");
    assert_string_equal(s->bundle[1], "1");
    assert_int_equal(s->n_media, 2);

    const tdm_sdp_media *a = &s->media[0], *v = &s->media[1];
    assert_int_equal(a->kind, TDM_SDP_MEDIA_AUDIO);
    assert_int_equal(v->kind, TDM_SDP_MEDIA_VIDEO);
    assert_int_equal(a->line, line_of(chrome_offer, "m=audio"));
    assert_int_equal(a->port, 9);
    assert_string_equal(a->proto, "UDP/TLS/RTP/SAVPF");
    assert_string_equal(a->mid, "0");
    assert_string_equal(v->mid, "1");
    assert_int_equal(a->direction, TDM_SDP_SENDONLY);
    assert_int_equal(v->direction, TDM_SDP_SENDONLY);
    assert_true(a->rtcp_mux && v->rtcp_mux && a->rtcp_rsize);
    assert_string_equal(a->ice.ufrag, "Qx9Z");
    assert_string_equal(a->ice.pwd, "3Fqz7u1XaH5Yb9Kc2Md4Ne6P");
    assert_true(a->ice.trickle);
    assert_true(a->dtls.has_fingerprint);
    assert_memory_equal(a->dtls.fingerprint, chrome_fp, 32);
    assert_memory_equal(v->dtls.fingerprint, chrome_fp, 32);
    assert_int_equal(a->dtls.setup, TDM_SDP_SETUP_ACTPASS);

    /* Audio: opus with its fmtp, then red, G.722, PCMU/A, CN, DTMF. */
    assert_int_equal(a->n_codecs, 8);
    const tdm_sdp_codec *opus = codec(a, 111);
    assert_string_equal(opus->encoding, "opus");
    assert_int_equal(opus->clock_hz, 48000);
    assert_int_equal(opus->channels, 2);
    assert_string_equal(opus->fmtp, "minptime=10;useinbandfec=1");
    assert_true(opus->opus_inband_fec);
    assert_false(opus->opus_stereo);
    assert_int_equal(opus->feedback, TDM_SDP_FB_TRANSPORT_CC);
    assert_string_equal(codec(a, 0)->encoding, "PCMU");
    assert_int_equal(codec(a, 0)->channels, 0);

    /* Video: order of the m-line kept; rtx apt; VP9 profiles; feedback. */
    assert_int_equal(v->n_codecs, 12);
    assert_int_equal(v->codecs[0].pt, 96);
    assert_int_equal(v->codecs[8].pt, 45);
    const tdm_sdp_codec *vp8 = codec(v, 96);
    assert_string_equal(vp8->encoding, "VP8");
    assert_int_equal(vp8->clock_hz, 90000);
    assert_int_equal(vp8->feedback, TDM_SDP_FB_NACK | TDM_SDP_FB_NACK_PLI | TDM_SDP_FB_CCM_FIR |
                                        TDM_SDP_FB_GOOG_REMB | TDM_SDP_FB_TRANSPORT_CC);
    assert_false(vp8->has_fmtp);
    assert_int_equal(codec(v, 97)->rtx_apt, 96);
    assert_string_equal(codec(v, 97)->encoding, "rtx");
    assert_int_equal(codec(v, 98)->vp9_profile, 0);
    assert_int_equal(codec(v, 100)->vp9_profile, 2);
    assert_int_equal(codec(v, 100)->feedback, TDM_SDP_FB_NACK | TDM_SDP_FB_GOOG_REMB);
    assert_string_equal(codec(v, 102)->fmtp,
                        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f");

    /* extmaps: ids and known URIs. */
    assert_int_equal(a->n_extmaps, 4);
    assert_int_equal(a->extmaps[1].id, 2);
    assert_int_equal(a->extmaps[1].known, TDM_SDP_EXT_ABS_SEND_TIME);
    assert_int_equal(v->n_extmaps, 11);
    assert_int_equal(v->extmaps[0].id, 14);
    assert_int_equal(v->extmaps[0].known, TDM_SDP_EXT_TOFFSET);
    assert_int_equal(v->extmaps[2].known, TDM_SDP_EXT_UNKNOWN);
    assert_string_equal(v->extmaps[2].uri, "urn:3gpp:video-orientation");

    /* ssrc lines: one entry per SSRC, cname kept. */
    assert_int_equal(a->n_ssrcs, 1);
    assert_int_equal(a->ssrcs[0].ssrc, 1001);
    assert_string_equal(a->ssrcs[0].cname, "n3UqcXHvD4sLVb1e");
    assert_int_equal(v->n_ssrcs, 2);
    assert_int_equal(v->ssrcs[1].ssrc, 2002);

    /* Candidates. */
    assert_int_equal(a->n_candidates, 5);
    assert_int_equal(v->n_candidates, 0);
    assert_false(a->end_of_candidates);
    const tdm_sdp_candidate *c = a->candidates;
    assert_string_equal(c[0].foundation, "1467250027");
    assert_int_equal(c[0].component, 1);
    assert_int_equal(c[0].transport, TDM_SDP_UDP);
    assert_int_equal(c[0].priority, 2122260223u);
    assert_string_equal(c[0].address, "3f6a1b2c-1d2e-4f5a-8b9c-0d1e2f3a4b5c.local");
    assert_int_equal(c[0].port, 54321);
    assert_int_equal(c[0].type, TDM_SDP_CAND_HOST);
    assert_string_equal(c[1].address, "2001:db8::1");
    assert_int_equal(c[2].type, TDM_SDP_CAND_SRFLX);
    assert_true(c[2].has_raddr);
    assert_string_equal(c[2].raddr, "0.0.0.0");
    assert_int_equal(c[2].rport, 0);
    assert_int_equal(c[3].transport, TDM_SDP_TCP);
    assert_int_equal(c[3].tcptype, TDM_SDP_TCPTYPE_ACTIVE);
    assert_int_equal(c[3].port, 9);
    assert_int_equal(c[4].type, TDM_SDP_CAND_RELAY);
    assert_string_equal(c[4].raddr, "203.0.113.7");
    assert_int_equal(c[4].rport, 61234);
    tdm_sdp_free(s);
}

static void chromium_publish_answer_keeps_pts_and_drops_unsupported(void **state)
{
    (void)state;
    tdm_sdp_session *offer = parse_ok(chrome_offer);
    init_local(TDM_SDP_ROLE_PUBLISH);
    char ans[8192];
    size_t n = 0;
    tdm_sdp_answer_info info;
    tdm_error e = {{0}};
    tdm_status st = tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, ans, sizeof ans, &n,
                                   &info, &e);
    if (st != TDM_OK)
        fail_msg("answer failed: %s", e.msg);
    assert_int_equal(n, strlen(ans));
    assert_int_equal(info.setup, TDM_SDP_SETUP_PASSIVE);
    assert_int_equal(info.transport_media, 0);
    assert_int_equal(info.n_accepted, 2);
    assert_int_equal(info.direction[0], TDM_SDP_RECVONLY);

    /* Session part, in order. */
    assert_memory_equal(ans, "v=0\r\no=- 81985529216486895 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
                        strlen("v=0\r\no=- 81985529216486895 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"));
    assert_true(has_line(ans, "a=group:BUNDLE 0 1"));
    /* Offerer's payload types, in its order; H.264, AV1, rtx, red, ulpfec,
     * VP9 profile 2 and the narrowband audio codecs gone. */
    assert_true(has_line(ans, "m=audio 9 UDP/TLS/RTP/SAVPF 111"));
    assert_true(has_line(ans, "m=video 9 UDP/TLS/RTP/SAVPF 96 98"));
    assert_true(has_line(ans, "a=rtpmap:111 opus/48000/2"));
    assert_true(has_line(ans, "a=fmtp:111 minptime=10;useinbandfec=1"));
    assert_true(has_line(ans, "a=rtpmap:96 VP8/90000"));
    assert_true(has_line(ans, "a=rtpmap:98 VP9/90000"));
    assert_true(has_line(ans, "a=fmtp:98 profile-id=0"));
    assert_null(strstr(ans, "H264"));
    assert_null(strstr(ans, "rtx"));
    assert_null(strstr(ans, "AV1"));
    assert_null(strstr(ans, "red/"));
    assert_null(strstr(ans, "ulpfec"));
    assert_null(strstr(ans, "PCMU"));
    assert_null(strstr(ans, ":100 "));
    /* Only the feedback we implement. */
    assert_true(has_line(ans, "a=rtcp-fb:96 nack"));
    assert_true(has_line(ans, "a=rtcp-fb:96 nack pli"));
    assert_true(has_line(ans, "a=rtcp-fb:96 ccm fir"));
    assert_true(has_line(ans, "a=rtcp-fb:96 goog-remb"));
    assert_true(has_line(ans, "a=rtcp-fb:98 nack pli"));
    assert_null(strstr(ans, "transport-cc"));
    assert_int_equal(count_lines_with(ans, "a=rtcp-fb:111"), 0);
    /* Only abs-send-time, with the offerer's id. */
    assert_int_equal(count_lines_with(ans, "a=extmap:"), 2);
    assert_true(has_line(ans, "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"));
    /* Transport on every accepted m-line, candidates once. */
    assert_int_equal(count_lines_with(ans, "a=ice-ufrag:" RELAY_UFRAG "\r\n"), 2);
    assert_int_equal(count_lines_with(ans, "a=ice-pwd:" RELAY_PWD "\r\n"), 2);
    assert_int_equal(count_lines_with(ans, "a=fingerprint:sha-256 A0:A1:A2:A3:A4:A5:A6:A7:A8:A9:"
                                           "AA:AB:AC:AD:AE:AF:B0:B1:B2:B3:B4:B5:B6:B7:B8:B9:BA:BB:"
                                           "BC:BD:BE:BF\r\n"),
                     2);
    assert_int_equal(count_lines_with(ans, "a=setup:passive\r\n"), 2);
    assert_int_equal(count_lines_with(ans, "a=recvonly\r\n"), 2);
    assert_int_equal(count_lines_with(ans, "a=rtcp-mux\r\n"), 2);
    assert_null(strstr(ans, "rtcp-rsize"));
    assert_null(strstr(ans, "a=ssrc:"));
    assert_true(has_line(ans, "a=candidate:1 1 udp 2130706431 192.0.2.1 40000 typ host"));
    assert_true(has_line(ans, "a=candidate:2 1 tcp 1518280447 192.0.2.1 40001 typ host tcptype passive"));
    assert_int_equal(count_lines_with(ans, "a=candidate:"), 2);
    assert_int_equal(count_lines_with(ans, "a=end-of-candidates"), 1);
    assert_true(strstr(ans, "a=candidate:") < strstr(ans, "m=video"));
    assert_true(has_line(ans, "a=mid:0") && has_line(ans, "a=mid:1"));

    /* The answer is itself valid SDP for our parser. */
    tdm_sdp_session *back = parse_ok(ans);
    assert_int_equal(back->n_media, 2);
    assert_int_equal(back->n_bundle, 2);
    assert_int_equal(back->media[1].n_codecs, 2);
    assert_int_equal(back->media[1].codecs[0].pt, 96);
    assert_int_equal(back->media[1].codecs[1].pt, 98);
    assert_int_equal(back->media[1].codecs[1].vp9_profile, 0);
    assert_int_equal(back->media[1].codecs[0].feedback, TDM_SDP_FB_SUPPORTED);
    assert_int_equal(back->media[0].direction, TDM_SDP_RECVONLY);
    assert_int_equal(back->media[0].dtls.setup, TDM_SDP_SETUP_PASSIVE);
    assert_memory_equal(back->media[0].dtls.fingerprint, local.fingerprint, 32);
    assert_string_equal(back->media[0].ice.ufrag, RELAY_UFRAG);
    assert_int_equal(back->media[0].n_candidates, 2);
    assert_true(back->media[0].end_of_candidates);
    assert_int_equal(back->origin_session_id, 0x0123456789abcdefull);
    tdm_sdp_free(back);
    tdm_sdp_free(offer);
}

static void firefox_offer_answer_rejects_data_channel(void **state)
{
    (void)state;
    tdm_sdp_session *offer = parse_ok(firefox_offer);
    assert_int_equal(offer->n_media, 3);
    assert_int_equal(offer->n_bundle, 3);
    const tdm_sdp_media *a = &offer->media[0], *v = &offer->media[1], *d = &offer->media[2];
    /* Session-level fingerprint and ice-options reach every m-line. */
    assert_true(a->dtls.has_fingerprint && v->dtls.has_fingerprint && d->dtls.has_fingerprint);
    assert_int_equal(a->dtls.fingerprint[0], 0x16);
    assert_int_equal(v->dtls.fingerprint[31], 0x9E);
    assert_true(v->ice.trickle);
    assert_string_equal(v->ice.ufrag, "8f3a2c1d");
    assert_int_equal(d->kind, TDM_SDP_MEDIA_OTHER);
    assert_string_equal(d->kind_name, "application");
    assert_string_equal(d->first_fmt, "webrtc-datachannel");
    assert_int_equal(d->n_codecs, 0);
    assert_int_equal(a->n_candidates, 3);
    assert_int_equal(a->candidates[1].transport, TDM_SDP_TCP);
    assert_true(a->end_of_candidates);
    assert_true(codec(a, 109)->opus_stereo);
    assert_int_equal(codec(v, 121)->vp9_profile, -1);
    assert_int_equal(a->extmaps[1].direction, TDM_SDP_RECVONLY);
    assert_int_equal(a->ssrcs[0].ssrc, 3735928559u);

    init_local(TDM_SDP_ROLE_PUBLISH);
    char ans[8192];
    tdm_sdp_answer_info info;
    tdm_error e = {{0}};
    assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, ans, sizeof ans, NULL,
                                    &info, &e),
                     TDM_OK);
    assert_int_equal(info.n_accepted, 2);
    assert_false(info.accepted[2]);
    assert_true(has_line(ans, "a=group:BUNDLE 0 1"));
    assert_true(has_line(ans, "m=audio 9 UDP/TLS/RTP/SAVPF 109"));
    assert_true(has_line(ans, "a=fmtp:109 minptime=10;useinbandfec=1;stereo=1"));
    assert_true(has_line(ans, "m=video 9 UDP/TLS/RTP/SAVPF 120 121"));
    assert_null(strstr(ans, "a=fmtp:121")); /* no profile-id offered: none answered */
    assert_true(has_line(ans, "a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"));
    assert_true(has_line(ans, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel"));
    assert_true(has_line(ans, "a=mid:2"));
    assert_null(strstr(ans, "sctp-port"));

    tdm_sdp_session *back = parse_ok(ans);
    assert_int_equal(back->n_media, 3);
    assert_int_equal(back->media[2].port, 0);
    assert_int_equal(back->media[2].direction, TDM_SDP_INACTIVE);
    tdm_sdp_free(back);

    /* Only VP9 allowed: the answer narrows video to it, audio to nothing. */
    local.codecs = TDM_SDP_CODEC_BIT(TDM_CODEC_VP9);
    assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, ans, sizeof ans, NULL,
                                    &info, &e),
                     TDM_OK);
    assert_true(has_line(ans, "m=video 9 UDP/TLS/RTP/SAVPF 121"));
    assert_true(has_line(ans, "m=audio 0 UDP/TLS/RTP/SAVPF 109"));
    assert_true(has_line(ans, "a=group:BUNDLE 1"));
    assert_int_equal(info.transport_media, 1);
    assert_true(strstr(ans, "a=candidate:") > strstr(ans, "m=video"));
    tdm_sdp_free(offer);
}

/* A WHEP offer: recvonly audio and video; this one also carries an
 * H.264-only second video m-line, which must be rejected. */
static void subscribe_answer_is_sendonly_and_signals_ssrcs(void **state)
{
    (void)state;
    char *o1 = replaced(chrome_offer, "a=sendonly", "a=recvonly");
    char *o2 = replaced(o1, "a=sendonly", "a=recvonly");
    char *o3 = replaced(o2, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 2");
    size_t n = strlen(o3);
    const char *extra = "m=video 9 UDP/TLS/RTP/SAVPF 102\r\n"
                        "c=IN IP4 0.0.0.0\r\n"
                        "a=ice-ufrag:Qx9Z\r\n"
                        "a=ice-pwd:3Fqz7u1XaH5Yb9Kc2Md4Ne6P\r\n"
                        "a=fingerprint:sha-256 93:90:EF:32:AD:DF:32:BF:DE:A7:86:BC:1E:20:67:95:"
                        "92:49:80:68:BC:BF:CD:35:7E:A1:0A:B6:4E:A3:5E:47\r\n"
                        "a=setup:actpass\r\n"
                        "a=mid:2\r\n"
                        "a=recvonly\r\n"
                        "a=rtcp-mux\r\n"
                        "a=rtpmap:102 H264/90000\r\n";
    char *o4 = malloc(n + strlen(extra) + 1);
    assert_non_null(o4);
    memcpy(o4, o3, n);
    strcpy(o4 + n, extra);
    tdm_sdp_session *offer = parse_ok(o4);
    init_local(TDM_SDP_ROLE_SUBSCRIBE);
    char ans[8192];
    tdm_sdp_answer_info info;
    tdm_error e = {{0}};
    assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_SUBSCRIBE, ans, sizeof ans, NULL,
                                    &info, &e),
                     TDM_OK);
    assert_int_equal(count_lines_with(ans, "a=sendonly\r\n"), 2);
    assert_null(strstr(ans, "a=recvonly"));
    assert_true(has_line(ans, "a=ssrc:11111 cname:tandem-relay"));
    assert_true(has_line(ans, "a=ssrc:22222 cname:tandem-relay"));
    assert_true(has_line(ans, "a=msid:tandem audio"));
    assert_true(has_line(ans, "a=msid:tandem video"));
    assert_true(has_line(ans, "a=group:BUNDLE 0 1"));
    assert_true(has_line(ans, "m=video 0 UDP/TLS/RTP/SAVPF 102"));
    assert_false(info.accepted[2]);
    assert_int_equal(info.direction[1], TDM_SDP_SENDONLY);

    /* A publish answer to a recvonly offer has nothing to receive. */
    init_local(TDM_SDP_ROLE_PUBLISH);
    assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, ans, sizeof ans, NULL,
                                    &info, &e),
                     TDM_OK);
    assert_int_equal(info.direction[0], TDM_SDP_INACTIVE);
    assert_int_equal(count_lines_with(ans, "a=inactive\r\n"), 3);
    tdm_sdp_free(offer);
    free(o1);
    free(o2);
    free(o3);
    free(o4);
}

static void answer_setup_follows_offer(void **state)
{
    (void)state;
    assert_int_equal(tdm_sdp_answer_setup(TDM_SDP_SETUP_ACTPASS), TDM_SDP_SETUP_PASSIVE);
    assert_int_equal(tdm_sdp_answer_setup(TDM_SDP_SETUP_ACTIVE), TDM_SDP_SETUP_PASSIVE);
    assert_int_equal(tdm_sdp_answer_setup(TDM_SDP_SETUP_NONE), TDM_SDP_SETUP_PASSIVE);
    assert_int_equal(tdm_sdp_answer_setup(TDM_SDP_SETUP_PASSIVE), TDM_SDP_SETUP_ACTIVE);
    assert_int_equal(tdm_sdp_answer_setup(TDM_SDP_SETUP_HOLDCONN), TDM_SDP_SETUP_NONE);

    init_local(TDM_SDP_ROLE_PUBLISH);
    char ans[8192];
    tdm_sdp_answer_info info;
    tdm_error e = {{0}};
    char *passive = replaced(chrome_offer, "a=setup:actpass", "a=setup:passive");
    tdm_sdp_session *offer = parse_ok(passive);
    assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, ans, sizeof ans, NULL,
                                    &info, &e),
                     TDM_OK);
    assert_int_equal(info.setup, TDM_SDP_SETUP_ACTIVE);
    assert_int_equal(count_lines_with(ans, "a=setup:active\r\n"), 2);
    tdm_sdp_free(offer);
    free(passive);

    char *hold = replaced(chrome_offer, "a=setup:actpass", "a=setup:holdconn");
    offer = parse_ok(hold);
    assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, ans, sizeof ans, NULL,
                                    &info, &e),
                     TDM_ERR_UNSUPPORTED);
    tdm_sdp_free(offer);
    free(hold);
}

static void offer_without_bundle_gets_one_transport(void **state)
{
    (void)state;
    char *nob = replaced(chrome_offer, "a=group:BUNDLE 0 1\r\n", "");
    tdm_sdp_session *offer = parse_ok(nob);
    assert_int_equal(offer->n_bundle, 0);
    init_local(TDM_SDP_ROLE_PUBLISH);
    char ans[8192];
    tdm_sdp_answer_info info;
    tdm_error e = {{0}};
    assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, ans, sizeof ans, NULL,
                                    &info, &e),
                     TDM_OK);
    assert_int_equal(info.n_accepted, 1);
    assert_true(info.accepted[0]);
    assert_null(strstr(ans, "a=group:"));
    assert_true(has_line(ans, "m=video 0 UDP/TLS/RTP/SAVPF 96"));
    tdm_sdp_free(offer);
    free(nob);

    /* Without rtcp-mux nothing is usable. */
    char *m1 = replaced(chrome_offer, "a=rtcp-mux\r\n", "");
    char *m2 = replaced(m1, "a=rtcp-mux\r\n", "");
    offer = parse_ok(m2);
    assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, ans, sizeof ans, NULL,
                                    &info, &e),
                     TDM_ERR_UNSUPPORTED);
    tdm_sdp_free(offer);
    free(m1);
    free(m2);
}

static void answer_refuses_small_buffer_and_bad_local(void **state)
{
    (void)state;
    tdm_sdp_session *offer = parse_ok(chrome_offer);
    init_local(TDM_SDP_ROLE_PUBLISH);
    char ans[4096];
    size_t full = 0;
    tdm_error e = {{0}};
    assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, ans, sizeof ans, &full,
                                    NULL, &e),
                     TDM_OK);
    for (size_t cap = 1; cap <= full; cap += 97) {
        char *small = malloc(cap);
        assert_non_null(small);
        assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, small, cap, NULL,
                                        NULL, &e),
                         TDM_ERR_RANGE);
        free(small);
    }
    char *exact = malloc(full + 1);
    assert_non_null(exact);
    assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, exact, full + 1, NULL,
                                    NULL, &e),
                     TDM_OK);
    assert_string_equal(exact, ans);
    free(exact);

    local.ice_pwd = "short";
    assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, ans, sizeof ans, NULL,
                                    NULL, &e),
                     TDM_ERR_INVALID);
    init_local(TDM_SDP_ROLE_PUBLISH);
    strcpy(relay_candidates[0].address, "1.2.3.4\r\na=x");
    assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, ans, sizeof ans, NULL,
                                    NULL, &e),
                     TDM_ERR_INVALID);
    init_local(TDM_SDP_ROLE_PUBLISH);
    local.cname = "has space";
    assert_int_equal(tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_SUBSCRIBE, ans, sizeof ans, NULL,
                                    NULL, &e),
                     TDM_ERR_INVALID);
    tdm_sdp_free(offer);
}

/* ------------------------------------------------------------------ */
/* malformed input                                                     */

static void expect_error(const char *text, tdm_status want, unsigned line)
{
    tdm_sdp_session *s = tdm_sdp_new();
    assert_non_null(s);
    tdm_error e = {{0}};
    tdm_status st = parse_text(text, s, &e);
    if (st != want)
        fail_msg("status %d, wanted %d (%s)", st, want, e.msg);
    assert_error_at(&e, line);
    tdm_sdp_free(s);
}

static void malformed_offers_name_the_line(void **state)
{
    (void)state;
    /* Cut mid-line: the unterminated last line is the truncation. */
    size_t cut = (size_t)(strstr(chrome_offer, "a=fingerprint") - chrome_offer) + 30;
    char *trunc = strndup(chrome_offer, cut);
    expect_error(trunc, TDM_ERR_FORMAT, line_of(chrome_offer, "a=fingerprint"));
    free(trunc);

    /* Cut at a line end inside the first m-line: what is missing is named
     * at the m-line. */
    cut = (size_t)(strstr(chrome_offer, "a=ice-ufrag") - chrome_offer);
    trunc = strndup(chrome_offer, cut);
    expect_error(trunc, TDM_ERR_FORMAT, line_of(chrome_offer, "m=audio"));
    free(trunc);

    char *bad_fp = replaced(chrome_offer, "93:90:EF", "93:90EF:");
    expect_error(bad_fp, TDM_ERR_FORMAT, line_of(chrome_offer, "a=fingerprint"));
    free(bad_fp);
    char *short_fp = replaced(chrome_offer, "93:90:EF:", "");
    expect_error(short_fp, TDM_ERR_FORMAT, line_of(chrome_offer, "a=fingerprint"));
    free(short_fp);
    char *hex_fp = replaced(chrome_offer, "93:90:EF", "93:90:EG");
    expect_error(hex_fp, TDM_ERR_FORMAT, line_of(chrome_offer, "a=fingerprint"));
    free(hex_fp);

    char *no_ufrag = replaced(chrome_offer, "a=ice-ufrag:Qx9Z\r\n", "");
    expect_error(no_ufrag, TDM_ERR_FORMAT, line_of(chrome_offer, "m=audio"));
    free(no_ufrag);
    char *no_fp = replaced(firefox_offer, "a=fingerprint", "a=fingerprint-not");
    expect_error(no_fp, TDM_ERR_FORMAT, line_of(firefox_offer, "m=audio"));
    free(no_fp);

    /* Non-UTF-8 (Latin-1 'e acute') and an overlong encoding of '/'. */
    char *latin = replaced(chrome_offer, "s=-", "s=caf\xe9");
    expect_error(latin, TDM_ERR_FORMAT, 3);
    free(latin);
    char *overlong = replaced(chrome_offer, "s=-", "s=\xc0\xaf");
    expect_error(overlong, TDM_ERR_FORMAT, 3);
    free(overlong);
    char *utf8 = replaced(chrome_offer, "s=-", "s=caf\xc3\xa9 \xe2\x82\xac");
    tdm_sdp_free(parse_ok(utf8));
    free(utf8);
    char *ctl = replaced(chrome_offer, "a=mid:1", "a=mid:1\x01");
    expect_error(ctl, TDM_ERR_FORMAT, line_of(chrome_offer, "a=mid:1"));
    free(ctl);

    char *bad_cand = replaced(chrome_offer, "54321 typ host", "54321 tip host");
    expect_error(bad_cand, TDM_ERR_FORMAT, line_of(chrome_offer, "a=candidate:"));
    free(bad_cand);
    char *bad_port = replaced(chrome_offer, "m=video 9 ", "m=video 70000 ");
    expect_error(bad_port, TDM_ERR_FORMAT, line_of(chrome_offer, "m=video"));
    free(bad_port);
    char *bad_pt = replaced(chrome_offer, "m=video 9 UDP/TLS/RTP/SAVPF 96", "m=video 9 UDP/TLS/RTP/SAVPF 128");
    expect_error(bad_pt, TDM_ERR_FORMAT, line_of(chrome_offer, "m=video"));
    free(bad_pt);
    char *dup_mid = replaced(chrome_offer, "a=mid:1", "a=mid:0");
    expect_error(dup_mid, TDM_ERR_FORMAT, line_of(chrome_offer, "a=mid:1"));
    free(dup_mid);
    char *ghost = replaced(chrome_offer, "BUNDLE 0 1", "BUNDLE 0 1 7");
    expect_error(ghost, TDM_ERR_FORMAT, line_of(chrome_offer, "a=group:BUNDLE"));
    free(ghost);
    char *setup = replaced(chrome_offer, "a=setup:actpass", "a=setup:sometimes");
    expect_error(setup, TDM_ERR_FORMAT, line_of(chrome_offer, "a=setup"));
    free(setup);
    char *ufrag = replaced(chrome_offer, "a=ice-ufrag:Qx9Z", "a=ice-ufrag:Q*9Z");
    expect_error(ufrag, TDM_ERR_FORMAT, line_of(chrome_offer, "a=ice-ufrag"));
    free(ufrag);
    char *form = replaced(chrome_offer, "t=0 0", "t 0 0");
    expect_error(form, TDM_ERR_FORMAT, 4);
    free(form);
    expect_error("o=- 1 2 IN IP4 0.0.0.0\r\nv=0\r\n", TDM_ERR_FORMAT, 1);
    expect_error("", TDM_ERR_FORMAT, 1);
}

static void oversized_offers_are_refused(void **state)
{
    (void)state;
    /* 100 m-lines: refused at the 17th. */
    size_t cap = 100 * 64 + 256;
    char *many = malloc(cap);
    assert_non_null(many);
    size_t n = (size_t)snprintf(many, cap, "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(many + n, cap - n, "m=audio 0 UDP/TLS/RTP/SAVPF 111\r\n");
    expect_error(many, TDM_ERR_RANGE, 4 + TDM_SDP_MAX_MEDIA + 1);
    free(many);

    /* A 10 000-byte line. */
    size_t big = 10000;
    char *huge = malloc(big + 128);
    assert_non_null(huge);
    n = (size_t)snprintf(huge, 128, "v=0\r\ns=-\r\na=x-long:");
    memset(huge + n, 'x', big);
    strcpy(huge + n + big, "\r\n");
    expect_error(huge, TDM_ERR_RANGE, 3);
    free(huge);

    /* Too many payload types on one m-line. */
    char line[1024] = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF";
    for (int pt = 0; pt <= TDM_SDP_MAX_CODECS; pt++)
        snprintf(line + strlen(line), sizeof line - strlen(line), " %d", pt);
    strcat(line, "\r\n");
    expect_error(line, TDM_ERR_RANGE, 2);

    /* More than 64 KiB in total is refused before reading. */
    char *body = malloc(TDM_SDP_MAX_BYTES + 2);
    assert_non_null(body);
    memset(body, '\n', TDM_SDP_MAX_BYTES + 1);
    tdm_sdp_session *s = tdm_sdp_new();
    tdm_error e = {{0}};
    assert_int_equal(tdm_sdp_parse((const uint8_t *)body, TDM_SDP_MAX_BYTES + 1, s, &e),
                     TDM_ERR_RANGE);
    free(body);

    /* Candidates past the capacity are counted, not refused. */
    size_t cc = 40 * 96 + 1024;
    char *cands = malloc(cc);
    assert_non_null(cands);
    n = (size_t)snprintf(cands, cc,
                         "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:abcd\r\n"
                         "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 %s\r\n",
                         "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:"
                         "17:18:19:1A:1B:1C:1D:1E:1F");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(cands + n, cc - n,
                              "a=candidate:%d 1 udp 100 10.0.0.%d 5000 typ host\r\n", i, i);
    n += (size_t)snprintf(cands + n, cc - n,
                          "a=candidate:99 1 sctp 100 10.0.0.1 5000 typ host\r\n"
                          "a=candidate:98 1 udp 100 10.0.0.1 5000 typ weird\r\n");
    assert_int_equal(parse_text(cands, s, &e), TDM_OK);
    assert_int_equal(s->media[0].n_candidates, TDM_SDP_MAX_CANDIDATES);
    assert_int_equal(s->media[0].candidates_dropped, 40 - TDM_SDP_MAX_CANDIDATES);
    free(cands);
    tdm_sdp_free(s);
}

/* Every prefix of a real offer either parses or fails with a line number,
 * and unknown lines or attributes never matter. */
static void truncations_and_unknowns_never_crash(void **state)
{
    (void)state;
    tdm_sdp_session *s = tdm_sdp_new();
    assert_non_null(s);
    size_t len = strlen(chrome_offer);
    for (size_t cut = 0; cut < len; cut++) {
        tdm_error e = {{0}};
        uint8_t *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, chrome_offer, cut);
        tdm_status st = tdm_sdp_parse(copy, cut, s, &e);
        if (st != TDM_OK && strncmp(e.msg, "line ", 5) != 0)
            fail_msg("cut %zu: error without a line: %s", cut, e.msg);
        free(copy);
    }
    char *odd = replaced(chrome_offer, "a=extmap-allow-mixed",
                         "a=x-something:with:colons\r\nb=AS:2000\r\nz=whatever\r\na=ice-lite");
    tdm_sdp_session *t = parse_ok(odd);
    assert_true(t->ice_lite);
    tdm_sdp_free(t);
    free(odd);
    /* LF-only line ends are accepted too. */
    char lf[sizeof chrome_offer];
    size_t k = 0;
    for (const char *p = chrome_offer; *p; p++)
        if (*p != '\r')
            lf[k++] = *p;
    lf[k] = '\0';
    t = parse_ok(lf);
    assert_int_equal(t->media[1].n_codecs, 12);
    tdm_sdp_free(t);
    tdm_sdp_free(s);
}

/* ------------------------------------------------------------------ */
/* trickle ICE fragments                                               */

static void trickle_fragment_round_trips(void **state)
{
    (void)state;
    /* As a browser's WHIP client sends it (RFC 9725 4.3.1). */
    static const char patch[] = "a=ice-options:trickle ice2\r\n"
                                "a=group:BUNDLE 0 1\r\n"
                                "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
                                "a=mid:0\r\n"
                                "a=ice-ufrag:Qx9Z\r\n"
                                "a=ice-pwd:3Fqz7u1XaH5Yb9Kc2Md4Ne6P\r\n"
                                "a=candidate:1387637174 1 udp 2122260223 192.0.2.5 61764 typ host generation 0 ufrag Qx9Z network-id 1\r\n"
                                "a=candidate:3471623853 1 udp 2122194687 198.51.100.7 61765 typ host generation 0 ufrag Qx9Z network-id 2\r\n"
                                "a=candidate:473322822 1 tcp 1518280447 192.0.2.5 9 typ host tcptype active generation 0 ufrag Qx9Z network-id 1\r\n"
                                "a=end-of-candidates\r\n";
    tdm_sdp_frag f;
    tdm_error e = {{0}};
    assert_int_equal(tdm_sdp_frag_parse((const uint8_t *)patch, strlen(patch), &f, &e), TDM_OK);
    assert_string_equal(f.ice.ufrag, "Qx9Z");
    assert_string_equal(f.ice.pwd, "3Fqz7u1XaH5Yb9Kc2Md4Ne6P");
    assert_true(f.ice.trickle);
    assert_int_equal(f.n_mids, 1);
    assert_string_equal(f.mids[0], "0");
    assert_int_equal(f.n_candidates, 3);
    assert_int_equal(f.candidates[2].c.tcptype, TDM_SDP_TCPTYPE_ACTIVE);
    assert_int_equal(f.candidates[1].media, 0);
    assert_true(f.end_of_candidates);
    assert_false(tdm_sdp_frag_is_restart(&f, "Qx9Z", "3Fqz7u1XaH5Yb9Kc2Md4Ne6P"));
    assert_true(tdm_sdp_frag_is_restart(&f, "old1", "3Fqz7u1XaH5Yb9Kc2Md4Ne6P"));
    assert_true(tdm_sdp_frag_is_restart(&f, "Qx9Z", "anotherPasswordOf24xxxx"));

    /* Write what we parsed, parse it again: same candidates. */
    tdm_sdp_candidate cs[3];
    for (int i = 0; i < 3; i++)
        cs[i] = f.candidates[i].c;
    char out[2048];
    size_t n = 0;
    assert_int_equal(tdm_sdp_frag_write("newU", "aNewPasswordOf24charsXY", "audio", "0", cs, 3,
                                        true, out, sizeof out, &n, &e),
                     TDM_OK);
    assert_true(has_line(out, "a=ice-ufrag:newU"));
    assert_true(has_line(out, "a=mid:0"));
    assert_true(has_line(out, "a=candidate:473322822 1 tcp 1518280447 192.0.2.5 9 typ host tcptype active"));
    assert_true(has_line(out, "a=end-of-candidates"));
    tdm_sdp_frag g;
    assert_int_equal(tdm_sdp_frag_parse((const uint8_t *)out, n, &g, &e), TDM_OK);
    assert_int_equal(g.n_candidates, 3);
    assert_memory_equal(&g.candidates[0].c, &f.candidates[0].c, sizeof(tdm_sdp_candidate));
    assert_true(tdm_sdp_frag_is_restart(&g, "Qx9Z", "3Fqz7u1XaH5Yb9Kc2Md4Ne6P"));
    assert_int_equal(tdm_sdp_frag_write(NULL, NULL, "audio", "0", cs, 3, false, out, 40, &n, &e),
                     TDM_ERR_RANGE);

    /* Candidates only, no credentials: never a restart. */
    static const char only[] = "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n"
                               "a=candidate:1 1 udp 1 10.0.0.1 9 typ host\r\n";
    assert_int_equal(tdm_sdp_frag_parse((const uint8_t *)only, strlen(only), &f, &e), TDM_OK);
    assert_false(tdm_sdp_frag_is_restart(&f, "Qx9Z", "3Fqz7u1XaH5Yb9Kc2Md4Ne6P"));
    assert_false(f.end_of_candidates);

    static const char badc[] = "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n"
                               "a=candidate:1 1 udp 1 10.0.0.1\r\n";
    assert_int_equal(tdm_sdp_frag_parse((const uint8_t *)badc, strlen(badc), &f, &e),
                     TDM_ERR_FORMAT);
    assert_error_at(&e, 3);
    static const char clash[] = "a=ice-ufrag:Qx9Z\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
                                "a=ice-ufrag:Zz9Z\r\n";
    assert_int_equal(tdm_sdp_frag_parse((const uint8_t *)clash, strlen(clash), &f, &e),
                     TDM_ERR_FORMAT);
    assert_error_at(&e, 3);
    static const char early[] = "a=candidate:1 1 udp 1 10.0.0.1 9 typ host\r\n";
    assert_int_equal(tdm_sdp_frag_parse((const uint8_t *)early, strlen(early), &f, &e),
                     TDM_ERR_FORMAT);
    assert_error_at(&e, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chromium_offer_parses_transport_and_media),
        cmocka_unit_test(chromium_publish_answer_keeps_pts_and_drops_unsupported),
        cmocka_unit_test(firefox_offer_answer_rejects_data_channel),
        cmocka_unit_test(subscribe_answer_is_sendonly_and_signals_ssrcs),
        cmocka_unit_test(answer_setup_follows_offer),
        cmocka_unit_test(offer_without_bundle_gets_one_transport),
        cmocka_unit_test(answer_refuses_small_buffer_and_bad_local),
        cmocka_unit_test(malformed_offers_name_the_line),
        cmocka_unit_test(oversized_offers_are_refused),
        cmocka_unit_test(truncations_and_unknowns_never_crash),
        cmocka_unit_test(trickle_fragment_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
