/* dtls.c: the DTLS-SRTP endpoint and the node identity, over OpenSSL 3 (see
 * tdm_dtls.h). Owns the in-memory datagram BIO that stands where a socket
 * would, and the relay's one use of a real clock: OpenSSL's DTLS
 * retransmission timer. */
#include "tdm_dtls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define DEFAULT_MTU 1200
#define MIN_MTU 256 /* OpenSSL refuses less than ~256 for DTLS 1.2 anyway */
#define MAX_MTU 16384
#define OUT_SLOTS 16
#define DEFAULT_TIMEOUT_MS 1000u
#define MAX_TIMEOUT_US 60000000u
#define DEFAULT_VALID_DAYS 30u
#define SRTP_EXPORT_LABEL "EXTRACTOR-dtls_srtp" /* RFC 5764 section 4.2 */
#define BOTH_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
/* AEAD suites only, what browsers negotiate anyway. OpenSSL 3.0 fails the
 * whole connection on a forged CBC record with a bad MAC, which DTLS should
 * drop; for AEAD it does so only for records too short to hold nonce and
 * tag, which handle_datagram filters out first (see sealed_min). */
#define AEAD_SUITES                                                                                \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define DTLS_HEADER_LEN 13

struct tdm_dtls_identity {
    SSL_CTX *ctx; /* holds the certificate and key; endpoints take references */
    uint8_t fp[TDM_DTLS_FINGERPRINT_LEN];
    char fp_text[TDM_DTLS_FINGERPRINT_TEXT_LEN];
};

struct tdm_dtls_endpoint {
    SSL *ssl;
    tdm_dtls_role role;
    tdm_dtls_phase phase;
    uint8_t peer_fp[TDM_DTLS_FINGERPRINT_LEN];
    bool peer_verified; /* the fingerprint check ran and passed */
    unsigned initial_timeout_us;
    size_t mtu;

    /* The datagram being handed to OpenSSL, borrowed from the caller for
     * the duration of tdm_dtls_handle_datagram. */
    const uint8_t *in;
    size_t in_len;

    /* Outgoing datagrams: a ring of OUT_SLOTS slots of mtu bytes each.
     * out_count closed datagrams start at out_head; if out_open, the slot
     * after them is still being filled by OpenSSL. */
    uint8_t *out;
    size_t out_len[OUT_SLOTS];
    unsigned out_head;
    unsigned out_count;
    bool out_open;

    bool have_keys;
    tdm_srtp_keys keys;
    tdm_dtls_stats stats;
    char reason[320];
};

/* --- small helpers ----------------------------------------------------- */

bool tdm_dtls_is_dtls(const uint8_t *buf, size_t len)
{
    return buf && len > 0 && buf[0] >= 20 && buf[0] <= 63;
}

const char *tdm_dtls_phase_name(tdm_dtls_phase phase)
{
    switch (phase) {
    case TDM_DTLS_HANDSHAKING:
        return "handshaking";
    case TDM_DTLS_CONNECTED:
        return "connected";
    case TDM_DTLS_FAILED:
        return "failed";
    case TDM_DTLS_CLOSED:
        return "closed";
    }
    return "unknown";
}

void tdm_dtls_fingerprint_format(const uint8_t fp[TDM_DTLS_FINGERPRINT_LEN],
                                 char out[TDM_DTLS_FINGERPRINT_TEXT_LEN])
{
    static const char hex[] = "0123456789ABCDEF";
    char *p = out;
    for (size_t i = 0; i < TDM_DTLS_FINGERPRINT_LEN; i++) {
        if (i)
            *p++ = ':';
        *p++ = hex[fp[i] >> 4];
        *p++ = hex[fp[i] & 15];
    }
    *p = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

tdm_status tdm_dtls_fingerprint_parse(const char *text, uint8_t out[TDM_DTLS_FINGERPRINT_LEN],
                                      tdm_error *err)
{
    if (!text || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "fingerprint: NULL argument");
    uint8_t fp[TDM_DTLS_FINGERPRINT_LEN];
    const char *p = text;
    for (size_t i = 0; i < TDM_DTLS_FINGERPRINT_LEN; i++) {
        if (i && *p++ != ':')
            return tdm_fail(err, TDM_ERR_FORMAT, "fingerprint: expected ':' at offset %zu",
                            (size_t)(p - 1 - text));
        int hi = hex_value(p[0]);
        int lo = hi < 0 ? -1 : hex_value(p[1]);
        if (hi < 0 || lo < 0)
            return tdm_fail(err, TDM_ERR_FORMAT,
                            "fingerprint: expected a hex pair at offset %zu (32 pairs for sha-256)",
                            (size_t)(p - text));
        fp[i] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    if (*p)
        return tdm_fail(err, TDM_ERR_FORMAT,
                        "fingerprint: trailing text at offset %zu (32 pairs for sha-256)",
                        (size_t)(p - text));
    memcpy(out, fp, sizeof fp);
    return TDM_OK;
}

/* Formats "<what>: <first OpenSSL error>" and empties OpenSSL's
 * (thread-local) error queue, so a later failure is not blamed on it. */
static void openssl_reason(char *buf, size_t cap, const char *what)
{
    unsigned long code = ERR_get_error();
    if (code) {
        char text[200];
        ERR_error_string_n(code, text, sizeof text);
        snprintf(buf, cap, "%s: %s", what, text);
    } else {
        snprintf(buf, cap, "%s", what);
    }
    ERR_clear_error();
}

static tdm_status openssl_fail(tdm_error *err, tdm_status status, const char *what)
{
    char msg[sizeof err->msg];
    openssl_reason(msg, sizeof msg, what);
    return tdm_fail(err, status, "%s", msg);
}

/* --- identity ---------------------------------------------------------- */

static int verify_peer(X509_STORE_CTX *store, void *arg);
static void info_cb(const SSL *ssl, int where, int ret);

static X509 *make_certificate(EVP_PKEY *key, const char *cn, unsigned days)
{
    X509 *cert = X509_new();
    BIGNUM *serial = NULL;
    uint8_t sb[8];
    if (!cert || RAND_bytes(sb, sizeof sb) != 1)
        goto fail;
    /* Positive and non-zero, as RFC 5280 section 4.1.2.2 requires. */
    sb[0] &= 0x7f;
    sb[sizeof sb - 1] |= 1;
    serial = BN_bin2bn(sb, sizeof sb, NULL);
    if (!serial || !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)))
        goto fail;
    X509_NAME *name = X509_get_subject_name(cert);
    if (X509_set_version(cert, X509_VERSION_3) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400L) ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(cert, name) != 1 || X509_set_pubkey(cert, key) != 1 ||
        X509_sign(cert, key, EVP_sha256()) <= 0)
        goto fail;
    BN_free(serial);
    return cert;
fail:
    BN_free(serial);
    X509_free(cert);
    return NULL;
}

static SSL_CTX *make_context(X509 *cert, EVP_PKEY *key)
{
    SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
    if (!ctx)
        return NULL;
    /* DTLS 1.2 only: 1.0 lacks the AEAD suites, and SRTP keying needs the
     * exporter of 1.2 (DTLS 1.3 is not in OpenSSL 3.0). */
    if (SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1 || SSL_CTX_set_cipher_list(ctx, AEAD_SUITES) != 1 ||
        /* Returns 0 on success, unlike its neighbours. */
        SSL_CTX_set_tlsext_use_srtp(ctx, BOTH_PROFILES) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* The server asks for the client's certificate too: both sides are
     * authenticated by their SDP fingerprints. The callback replaces chain
     * building entirely, since self-signed certificates are the norm. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_cert_verify_callback(ctx, verify_peer, NULL);
    /* Every association is fresh: no resumption, no tickets (they would
     * only lengthen the server's flight), no renegotiation. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_info_callback(ctx, info_cb);
    return ctx;
}

tdm_status tdm_dtls_identity_new(const tdm_dtls_identity_config *cfg, tdm_dtls_identity **out,
                                 tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "dtls identity: NULL output");
    *out = NULL;
    const char *cn = cfg && cfg->common_name ? cfg->common_name : "tandem";
    unsigned days = cfg && cfg->valid_days ? cfg->valid_days : DEFAULT_VALID_DAYS;
    if (days > 3650)
        return tdm_fail(err, TDM_ERR_INVALID, "dtls identity: valid_days %u over 3650", days);

    tdm_dtls_identity *id = calloc(1, sizeof *id);
    if (!id)
        return tdm_fail(err, TDM_ERR_NOMEM, "dtls identity: out of memory");
    ERR_clear_error();
    tdm_status st = TDM_OK;
    X509 *cert = NULL;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key) {
        st = openssl_fail(err, TDM_ERR_UNAVAILABLE, "dtls identity: P-256 key generation failed");
        goto done;
    }
    cert = make_certificate(key, cn, days);
    if (!cert) {
        st = openssl_fail(err, TDM_ERR_UNAVAILABLE, "dtls identity: certificate creation failed");
        goto done;
    }
    unsigned int n = 0;
    if (X509_digest(cert, EVP_sha256(), id->fp, &n) != 1 || n != TDM_DTLS_FINGERPRINT_LEN) {
        st = openssl_fail(err, TDM_ERR_UNAVAILABLE, "dtls identity: fingerprint failed");
        goto done;
    }
    tdm_dtls_fingerprint_format(id->fp, id->fp_text);
    id->ctx = make_context(cert, key);
    if (!id->ctx)
        st = openssl_fail(err, TDM_ERR_UNAVAILABLE, "dtls identity: SSL context setup failed");
done:
    X509_free(cert); /* the context holds its own references */
    EVP_PKEY_free(key);
    if (st != TDM_OK) {
        tdm_dtls_identity_free(id);
        return st;
    }
    *out = id;
    return TDM_OK;
}

void tdm_dtls_identity_free(tdm_dtls_identity *id)
{
    if (!id)
        return;
    SSL_CTX_free(id->ctx);
    free(id);
}

const uint8_t *tdm_dtls_identity_fingerprint(const tdm_dtls_identity *id)
{
    return id->fp;
}

const char *tdm_dtls_identity_fingerprint_text(const tdm_dtls_identity *id)
{
    return id->fp_text;
}

/* --- OpenSSL callbacks --------------------------------------------------- */

/* Chain verification replaced by the fingerprint check of RFC 8122/5763:
 * the leaf certificate's SHA-256 must equal the one from the peer's SDP. */
static int verify_peer(X509_STORE_CTX *store, void *arg)
{
    (void)arg;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    tdm_dtls_endpoint *ep = ssl ? SSL_get_app_data(ssl) : NULL;
    X509 *cert = X509_STORE_CTX_get0_cert(store);
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!ep || !cert || X509_digest(cert, EVP_sha256(), md, &n) != 1 ||
        n != TDM_DTLS_FINGERPRINT_LEN) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    if (CRYPTO_memcmp(md, ep->peer_fp, TDM_DTLS_FINGERPRINT_LEN) != 0) {
        char got[TDM_DTLS_FINGERPRINT_TEXT_LEN], want[TDM_DTLS_FINGERPRINT_TEXT_LEN];
        tdm_dtls_fingerprint_format(md, got);
        tdm_dtls_fingerprint_format(ep->peer_fp, want);
        snprintf(ep->reason, sizeof ep->reason,
                 "peer certificate fingerprint sha-256 %s does not match the SDP fingerprint %s",
                 got, want);
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
        return 0;
    }
    ep->peer_verified = true;
    return 1;
}

/* Only to name the alert a peer sent, which OpenSSL's error queue words
 * less plainly. Warnings other than close_notify change nothing, so are
 * not recorded; the first reason recorded wins. */
static void info_cb(const SSL *ssl, int where, int ret)
{
    if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT)
        return;
    if ((ret >> 8) != SSL3_AL_FATAL && (ret & 0xff) != SSL_AD_CLOSE_NOTIFY)
        return;
    tdm_dtls_endpoint *ep = SSL_get_app_data(ssl);
    if (!ep || ep->reason[0])
        return;
    if ((ret & 0xff) == SSL_AD_CLOSE_NOTIFY)
        snprintf(ep->reason, sizeof ep->reason, "peer sent close_notify");
    else
        snprintf(ep->reason, sizeof ep->reason, "peer sent %s alert: %s",
                 SSL_alert_type_string_long(ret), SSL_alert_desc_string_long(ret));
}

/* OpenSSL asks for the first timeout with prev_us 0 and for each next one
 * after a retransmission. */
static unsigned int timer_cb(SSL *ssl, unsigned int prev_us)
{
    const tdm_dtls_endpoint *ep = SSL_get_app_data(ssl);
    if (prev_us == 0)
        return ep ? ep->initial_timeout_us : DEFAULT_TIMEOUT_MS * 1000u;
    return prev_us >= MAX_TIMEOUT_US / 2 ? MAX_TIMEOUT_US : prev_us * 2;
}

/* --- the datagram BIO ------------------------------------------------------
 * A memory BIO with datagram boundaries, which BIO_s_mem lacks (OpenSSL 3.0
 * has no BIO_s_dgram_mem): a read returns the one datagram being handled;
 * writes fill the current outgoing datagram until OpenSSL flushes it (at the
 * end of a flight, or when its next record would pass the MTU — OpenSSL
 * sizes records from BIO_wpending, the bytes already in this datagram). So
 * several small records of a flight share one datagram, as RFC 6347
 * section 4.1.1 allows, and nothing is allocated after creation. */

static unsigned open_slot(const tdm_dtls_endpoint *ep)
{
    return (ep->out_head + ep->out_count) % OUT_SLOTS;
}

static void close_open(tdm_dtls_endpoint *ep)
{
    if (ep->out_open) {
        ep->out_open = false;
        ep->out_count++;
    }
}

static int bio_write(BIO *b, const char *data, int n)
{
    tdm_dtls_endpoint *ep = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (n <= 0)
        return 0;
    size_t len = (size_t)n;
    /* Dropped like a datagram the network lost: DTLS retransmits. */
    if (len > ep->mtu) {
        ep->stats.out_dropped++;
        return n;
    }
    if (ep->out_open && ep->out_len[open_slot(ep)] + len > ep->mtu)
        close_open(ep);
    if (!ep->out_open) {
        if (ep->out_count == OUT_SLOTS) {
            ep->stats.out_dropped++;
            return n;
        }
        ep->out_open = true;
        ep->out_len[open_slot(ep)] = 0;
    }
    unsigned slot = open_slot(ep);
    memcpy(ep->out + (size_t)slot * ep->mtu + ep->out_len[slot], data, len);
    ep->out_len[slot] += len;
    return n;
}

static int bio_read(BIO *b, char *data, int cap)
{
    tdm_dtls_endpoint *ep = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (ep->in_len == 0) {
        BIO_set_retry_read(b); /* "no datagram now", never end of file */
        return -1;
    }
    if (cap <= 0)
        return 0;
    /* Like recv on a UDP socket: what does not fit is lost. */
    size_t n = ep->in_len > (size_t)cap ? (size_t)cap : ep->in_len;
    memcpy(data, ep->in, n);
    ep->in = NULL;
    ep->in_len = 0;
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    (void)ptr;
    tdm_dtls_endpoint *ep = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        close_open(ep);
        return 1;
    case BIO_CTRL_WPENDING:
        return ep->out_open ? (long)ep->out_len[open_slot(ep)] : 0;
    case BIO_CTRL_PENDING:
        return (long)ep->in_len;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
        return (long)ep->mtu;
    default:
        return 0; /* includes MTU overhead (none) and peer address queries */
    }
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

/* Made once per process and kept for its lifetime. */
static void make_bio_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tdm datagram");
    if (!m)
        return;
    if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
        !BIO_meth_set_ctrl(m, bio_ctrl)) {
        BIO_meth_free(m);
        return;
    }
    bio_method = m;
}

/* --- driving the connection ----------------------------------------------- */

static void fail_openssl(tdm_dtls_endpoint *ep, const char *what)
{
    if (ep->reason[0]) {
        ERR_clear_error(); /* the callback's reason is the better one */
    } else {
        openssl_reason(ep->reason, sizeof ep->reason, what);
    }
    ep->phase = TDM_DTLS_FAILED;
}

static void fail_plain(tdm_dtls_endpoint *ep, const char *why)
{
    snprintf(ep->reason, sizeof ep->reason, "%s", why);
    ep->phase = TDM_DTLS_FAILED;
}

/* The handshake finished: export the SRTP keys (RFC 5764 section 4.2). The
 * exporter output is client key, server key, client salt, server salt. */
static void on_handshake_done(tdm_dtls_endpoint *ep)
{
    if (!ep->peer_verified) {
        fail_plain(ep, "peer presented no certificate to check against its SDP fingerprint");
        return;
    }
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(ep->ssl);
    if (!p) {
        fail_plain(ep, "no SRTP profile in common with the peer (use_srtp extension)");
        return;
    }
    size_t key_len = 16, salt_len;
    switch (p->id) {
    case SRTP_AES128_CM_SHA1_80:
        salt_len = 14;
        break;
    case SRTP_AEAD_AES_128_GCM:
        salt_len = 12;
        break;
    default:
        fail_plain(ep, "peer chose an SRTP profile we did not offer");
        return;
    }
    uint8_t m[2 * TDM_SRTP_MAX_MASTER_LEN];
    size_t total = 2 * (key_len + salt_len);
    if (SSL_export_keying_material(ep->ssl, m, total, SRTP_EXPORT_LABEL, strlen(SRTP_EXPORT_LABEL),
                                   NULL, 0, 0) != 1) {
        fail_openssl(ep, "SRTP keying material export failed");
        return;
    }
    const uint8_t *client_key = m, *server_key = m + key_len;
    const uint8_t *client_salt = m + 2 * key_len, *server_salt = client_salt + salt_len;
    bool client = ep->role == TDM_DTLS_CLIENT;
    ep->keys.profile = (tdm_srtp_profile)p->id;
    ep->keys.master_len = key_len + salt_len;
    memcpy(ep->keys.local, client ? client_key : server_key, key_len);
    memcpy(ep->keys.local + key_len, client ? client_salt : server_salt, salt_len);
    memcpy(ep->keys.remote, client ? server_key : client_key, key_len);
    memcpy(ep->keys.remote + key_len, client ? server_salt : client_salt, salt_len);
    OPENSSL_cleanse(m, sizeof m);
    ep->have_keys = true;
    ep->phase = TDM_DTLS_CONNECTED;
}

/* After the handshake, records still arrive: alerts, close_notify, and a
 * repeated final flight from a client that missed ours, which OpenSSL
 * answers from inside SSL_read. Application data has no use here (no data
 * channel) and is discarded. */
static void read_records(tdm_dtls_endpoint *ep)
{
    uint8_t sink[512];
    for (;;) {
        int n = SSL_read(ep->ssl, sink, sizeof sink);
        if (n > 0) {
            ep->stats.app_data_bytes += (uint64_t)n;
            continue;
        }
        int e = SSL_get_error(ep->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return;
        if (e == SSL_ERROR_ZERO_RETURN) {
            if (!ep->reason[0])
                snprintf(ep->reason, sizeof ep->reason, "peer sent close_notify");
            ep->phase = TDM_DTLS_CLOSED;
            SSL_shutdown(ep->ssl); /* answer with our own close_notify */
            ERR_clear_error();
            return;
        }
        fail_openssl(ep, "DTLS connection failed");
        return;
    }
}

static void drive(tdm_dtls_endpoint *ep)
{
    ERR_clear_error();
    if (ep->phase == TDM_DTLS_HANDSHAKING) {
        int r = SSL_do_handshake(ep->ssl);
        if (r == 1) {
            on_handshake_done(ep);
        } else {
            int e = SSL_get_error(ep->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                fail_openssl(ep, "DTLS handshake failed");
            return;
        }
    }
    if (ep->phase == TDM_DTLS_CONNECTED)
        read_records(ep);
}

/* --- endpoint -------------------------------------------------------------- */

void tdm_dtls_config_init(tdm_dtls_config *cfg, const tdm_dtls_identity *identity,
                          tdm_dtls_role role, const uint8_t peer_fp[TDM_DTLS_FINGERPRINT_LEN])
{
    memset(cfg, 0, sizeof *cfg);
    cfg->identity = identity;
    cfg->role = role;
    if (peer_fp)
        memcpy(cfg->peer_fingerprint, peer_fp, TDM_DTLS_FINGERPRINT_LEN);
    cfg->only_profile = TDM_SRTP_PROFILE_NONE;
    cfg->mtu = DEFAULT_MTU;
    cfg->initial_timeout_ms = DEFAULT_TIMEOUT_MS;
}

tdm_status tdm_dtls_env_profile(tdm_srtp_profile *out, tdm_error *err)
{
    static const struct {
        const char *name;
        tdm_srtp_profile profile;
    } names[] = {
        {"SRTP_AES128_CM_SHA1_80", TDM_SRTP_AES128_CM_SHA1_80},      /* OpenSSL */
        {"SRTP_AES128_CM_HMAC_SHA1_80", TDM_SRTP_AES128_CM_SHA1_80}, /* Chromium's getStats */
        {"AES_CM_128_HMAC_SHA1_80", TDM_SRTP_AES128_CM_SHA1_80},     /* RFC 5764 */
        {"SRTP_AEAD_AES_128_GCM", TDM_SRTP_AEAD_AES_128_GCM},
        {"AEAD_AES_128_GCM", TDM_SRTP_AEAD_AES_128_GCM},
    };
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "dtls: NULL output");
    *out = TDM_SRTP_PROFILE_NONE;
    /* Read on every call (endpoint creation, not a hot path): no cached
     * state to go stale, and tests can change it between endpoints. */
    const char *v = getenv("TDM_SRTP_PROFILE");
    if (!v || !v[0])
        return TDM_OK;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(v, names[i].name) == 0) {
            *out = names[i].profile;
            return TDM_OK;
        }
    return tdm_fail(err, TDM_ERR_INVALID,
                    "dtls: TDM_SRTP_PROFILE=%.40s is not SRTP_AES128_CM_SHA1_80 or "
                    "SRTP_AEAD_AES_128_GCM",
                    v);
}

tdm_status tdm_dtls_new(const tdm_dtls_config *cfg, tdm_dtls_endpoint **out, tdm_error *err)
{
    if (!out || !cfg || !cfg->identity)
        return tdm_fail(err, TDM_ERR_INVALID, "dtls: NULL config, identity or output");
    *out = NULL;
    size_t mtu = cfg->mtu ? cfg->mtu : DEFAULT_MTU;
    if (mtu < MIN_MTU || mtu > MAX_MTU)
        return tdm_fail(err, TDM_ERR_INVALID, "dtls: mtu %zu outside %d..%d", mtu, MIN_MTU,
                        MAX_MTU);
    if (cfg->role != TDM_DTLS_CLIENT && cfg->role != TDM_DTLS_SERVER)
        return tdm_fail(err, TDM_ERR_INVALID, "dtls: unknown role %d", (int)cfg->role);
    tdm_srtp_profile profile = cfg->only_profile;
    if (profile == TDM_SRTP_PROFILE_NONE) {
        tdm_status est = tdm_dtls_env_profile(&profile, err);
        if (est != TDM_OK)
            return est;
    }
    const char *only = NULL;
    switch (profile) {
    case TDM_SRTP_PROFILE_NONE:
        break;
    case TDM_SRTP_AES128_CM_SHA1_80:
    case TDM_SRTP_AEAD_AES_128_GCM:
        only = tdm_srtp_profile_name(profile);
        break;
    default:
        return tdm_fail(err, TDM_ERR_INVALID, "dtls: unknown SRTP profile %d",
                        (int)profile);
    }
    unsigned timeout_ms = cfg->initial_timeout_ms ? cfg->initial_timeout_ms : DEFAULT_TIMEOUT_MS;
    if (timeout_ms > MAX_TIMEOUT_US / 1000u)
        return tdm_fail(err, TDM_ERR_INVALID, "dtls: initial timeout %u ms over 60 s", timeout_ms);

    pthread_once(&bio_once, make_bio_method);
    if (!bio_method)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "dtls: cannot create the OpenSSL BIO method");

    tdm_dtls_endpoint *ep = calloc(1, sizeof *ep);
    uint8_t *ring = malloc(OUT_SLOTS * mtu);
    if (!ep || !ring) {
        free(ep);
        free(ring);
        return tdm_fail(err, TDM_ERR_NOMEM, "dtls: out of memory");
    }
    ep->out = ring;
    ep->mtu = mtu;
    ep->role = cfg->role;
    ep->phase = TDM_DTLS_HANDSHAKING;
    ep->initial_timeout_us = timeout_ms * 1000u;
    memcpy(ep->peer_fp, cfg->peer_fingerprint, TDM_DTLS_FINGERPRINT_LEN);

    ERR_clear_error();
    tdm_status st = TDM_OK;
    ep->ssl = SSL_new(cfg->identity->ctx);
    BIO *bio = ep->ssl ? BIO_new(bio_method) : NULL;
    if (!bio) {
        st = openssl_fail(err, TDM_ERR_UNAVAILABLE, "dtls: SSL_new failed");
        goto fail;
    }
    BIO_set_data(bio, ep);
    BIO_set_init(bio, 1);
    SSL_set_bio(ep->ssl, bio, bio); /* one reference, for both directions */
    SSL_set_app_data(ep->ssl, ep);
    /* Our MTU, never a guess from a socket we do not have. */
    SSL_set_options(ep->ssl, SSL_OP_NO_QUERY_MTU);
    if (!SSL_set_mtu(ep->ssl, (long)mtu)) {
        st = openssl_fail(err, TDM_ERR_INVALID, "dtls: OpenSSL refused the MTU");
        goto fail;
    }
    DTLS_set_timer_cb(ep->ssl, timer_cb);
    if (only && SSL_set_tlsext_use_srtp(ep->ssl, only) != 0) {
        st = openssl_fail(err, TDM_ERR_UNAVAILABLE, "dtls: cannot set the SRTP profile");
        goto fail;
    }
    if (ep->role == TDM_DTLS_CLIENT) {
        SSL_set_connect_state(ep->ssl);
        drive(ep); /* queues the ClientHello */
        if (ep->phase == TDM_DTLS_FAILED) {
            st = tdm_fail(err, TDM_ERR_UNAVAILABLE, "dtls: %s", ep->reason);
            goto fail;
        }
    } else {
        SSL_set_accept_state(ep->ssl);
    }
    *out = ep;
    return TDM_OK;
fail:
    tdm_dtls_free(ep);
    return st;
}

void tdm_dtls_free(tdm_dtls_endpoint *ep)
{
    if (!ep)
        return;
    SSL_free(ep->ssl); /* frees the BIO too */
    free(ep->out);
    OPENSSL_cleanse(ep, sizeof *ep);
    free(ep);
}

/* The shortest encrypted record the negotiated suite can produce: GCM
 * carries an 8-byte explicit nonce and a 16-byte tag, ChaCha20-Poly1305 only
 * the tag. 0 while no suite is chosen. */
static size_t sealed_min(const tdm_dtls_endpoint *ep)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(ep->ssl);
    if (!c)
        return 0;
    return SSL_CIPHER_get_cipher_nid(c) == NID_chacha20_poly1305 ? 16 : 24;
}

/* False if a record past epoch 0 is too short to be sealed: OpenSSL 3.0
 * would take such a forgery as fatal instead of dropping it. */
static bool records_plausible(const tdm_dtls_endpoint *ep, const uint8_t *buf, size_t len)
{
    size_t min = sealed_min(ep);
    if (!min)
        return true;
    for (size_t off = 0; len - off >= DTLS_HEADER_LEN;) {
        unsigned epoch = (unsigned)buf[off + 3] << 8 | buf[off + 4];
        size_t rlen = (size_t)buf[off + 11] << 8 | buf[off + 12];
        if (epoch != 0 && rlen < min)
            return false;
        if (rlen > len - off - DTLS_HEADER_LEN)
            break; /* truncated: OpenSSL drops it */
        off += DTLS_HEADER_LEN + rlen;
    }
    return true;
}

tdm_status tdm_dtls_handle_datagram(tdm_dtls_endpoint *ep, const uint8_t *buf, size_t len)
{
    if (!ep || (!buf && len))
        return TDM_ERR_INVALID;
    if (!tdm_dtls_is_dtls(buf, len)) {
        ep->stats.not_dtls++;
        return TDM_ERR_FORMAT;
    }
    if (ep->phase == TDM_DTLS_FAILED || ep->phase == TDM_DTLS_CLOSED)
        return TDM_ERR_UNAVAILABLE;
    if (!records_plausible(ep, buf, len)) {
        ep->stats.dropped_records++;
        return TDM_OK;
    }
    ep->stats.datagrams_in++;
    ep->in = buf;
    ep->in_len = len;
    drive(ep);
    ep->in = NULL; /* whatever OpenSSL did not read is dropped */
    ep->in_len = 0;
    return ep->phase == TDM_DTLS_FAILED ? TDM_ERR_IO : TDM_OK;
}

tdm_status tdm_dtls_poll_datagram(tdm_dtls_endpoint *ep, uint8_t *out, size_t cap, size_t *len)
{
    if (!ep || !out || !len)
        return TDM_ERR_INVALID;
    if (ep->out_count == 0) {
        if (!ep->out_open)
            return TDM_AGAIN;
        close_open(ep); /* records written since the last flush, e.g. an alert */
    }
    size_t n = ep->out_len[ep->out_head];
    if (n > cap)
        return TDM_ERR_RANGE;
    memcpy(out, ep->out + (size_t)ep->out_head * ep->mtu, n);
    *len = n;
    ep->out_head = (ep->out_head + 1) % OUT_SLOTS;
    ep->out_count--;
    ep->stats.datagrams_out++;
    return TDM_OK;
}

int64_t tdm_dtls_timeout_ms(tdm_dtls_endpoint *ep)
{
    if (!ep || ep->phase == TDM_DTLS_FAILED || ep->phase == TDM_DTLS_CLOSED)
        return -1;
    struct timeval tv;
    if (DTLSv1_get_timeout(ep->ssl, &tv) != 1)
        return -1;
    /* Rounded up, so waiting this long always finds the timer due. */
    return (int64_t)tv.tv_sec * 1000 + ((int64_t)tv.tv_usec + 999) / 1000;
}

tdm_status tdm_dtls_handle_timeout(tdm_dtls_endpoint *ep)
{
    if (!ep)
        return TDM_ERR_INVALID;
    if (ep->phase == TDM_DTLS_FAILED || ep->phase == TDM_DTLS_CLOSED)
        return TDM_OK;
    ERR_clear_error();
    int r = (int)DTLSv1_handle_timeout(ep->ssl);
    if (r > 0) {
        ep->stats.timeouts++;
    } else if (r < 0) {
        fail_openssl(ep, "DTLS handshake timed out: no answer after repeated retransmissions");
        return TDM_ERR_IO;
    }
    return TDM_OK;
}

tdm_dtls_phase tdm_dtls_state(const tdm_dtls_endpoint *ep, const char **reason)
{
    if (reason)
        *reason = ep->phase == TDM_DTLS_FAILED || ep->phase == TDM_DTLS_CLOSED ? ep->reason : "";
    return ep->phase;
}

tdm_status tdm_dtls_srtp_keys(const tdm_dtls_endpoint *ep, tdm_srtp_keys *out)
{
    if (!ep || !out)
        return TDM_ERR_INVALID;
    if (ep->have_keys) {
        *out = ep->keys;
        return TDM_OK;
    }
    return ep->phase == TDM_DTLS_HANDSHAKING ? TDM_AGAIN : TDM_ERR_UNAVAILABLE;
}

void tdm_dtls_close(tdm_dtls_endpoint *ep)
{
    if (!ep || ep->phase == TDM_DTLS_FAILED || ep->phase == TDM_DTLS_CLOSED)
        return;
    ERR_clear_error();
    /* Queues close_notify; during a handshake OpenSSL sends nothing. */
    SSL_shutdown(ep->ssl);
    ERR_clear_error();
    snprintf(ep->reason, sizeof ep->reason, "closed locally");
    ep->phase = TDM_DTLS_CLOSED;
}

const tdm_dtls_stats *tdm_dtls_get_stats(const tdm_dtls_endpoint *ep)
{
    return &ep->stats;
}
