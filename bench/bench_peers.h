/* bench_peers: what the media-server benchmarks (bench_janus, bench_cluster)
 * share to drive a real server with in-process WebRTC peers.
 *
 * Shared by every benchmark that drives tandem-relay or Janus with WebRTC
 * peers (bench_relay and bench_recording through relay_harness, bench_janus,
 * bench_cluster). Owns five things, all returning errors (tdm_error) rather
 * than exiting:
 *   - child processes: spawn, stop by PID, CPU seconds and RSS from /proc;
 *   - a private network namespace with a veth pair (for servers, such as
 *     Janus, that refuse to gather candidates on loopback alone);
 *   - a blocking HTTP/1.1 client for the servers' control APIs;
 *   - bench peers: a tdm_peer (libnice ICE + DTLS-SRTP) with the bookkeeping
 *     a benchmark needs (local candidates, state, an address they must all
 *     stay on), plus a real tandem-relay driven over WHIP/WHEP;
 *   - a stamped VP8 stream: 1200-byte packets carrying their send time,
 *     keyframe starts until every receiver started, then a paced run.
 * Everything of a peer runs on the thread iterating its GMainContext. */
#ifndef TDM_BENCH_PEERS_H
#define TDM_BENCH_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tdm_dtls.h"
#include "tdm_peer.h"
#include "tdm_sdp.h"
#include "tdm_status.h"

/* --- processes ------------------------------------------------------------ */

/* Forks and execs argv (PR_SET_PDEATHSIG so it dies with us). With
 * stdout_fd, the child's stdout is a pipe whose read end is returned there;
 * otherwise stdout and stderr go to log_path (NULL: /dev/null). */
tdm_status tdm_bp_spawn(char *const argv[], int *stdout_fd, const char *log_path, pid_t *pid,
                        tdm_error *err);
/* Reads one line (without the newline) from fd within timeout_ms. */
tdm_status tdm_bp_read_line(int fd, char *line, size_t cap, int timeout_ms, tdm_error *err);
/* SIGTERM, up to 5 s for it to exit, then SIGKILL; reaps. pid <= 0: no-op. */
void tdm_bp_stop(pid_t pid);
/* utime + stime of the whole process (all threads) in seconds; < 0 if gone. */
double tdm_bp_proc_cpu_s(pid_t pid);
/* Resident set size in KiB; < 0 if gone. */
long tdm_bp_proc_rss_kb(pid_t pid);
/* This process's own CPU seconds (all threads). */
double tdm_bp_self_cpu_s(void);

/* --- network namespace ---------------------------------------------------- */

/* Moves this process (call it before any thread exists) into a new network
 * namespace with lo up and a veth pair v0 (addr_a/24) - v1 (addr_b/24) and a
 * default route over v0. The namespace goes away with the last process in it,
 * so no cleanup is needed, even after a crash. Needs root. */
tdm_status tdm_bp_netns_enter(const char *addr_a, const char *addr_b, tdm_error *err);

/* UDP datagrams the kernel dropped for a full receive buffer
 * (RcvbufErrors of /proc/net/snmp: counted per network namespace); < 0 if
 * unreadable. */
long long tdm_bp_udp_rcvbuf_errors(void);

/* --- HTTP ----------------------------------------------------------------- */

#define TDM_BP_HTTP_MAX (64 * 1024)

typedef struct tdm_bp_http_reply {
    int status;
    char location[256];
    char body[TDM_BP_HTTP_MAX];
    size_t body_len;
} tdm_bp_http_reply;

/* One request on a fresh connection to host:port (IPv4 literal). token adds
 * "Authorization: Bearer", ctype a Content-Type. 10 s receive timeout. */
tdm_status tdm_bp_http(const char *host, uint16_t port, const char *method, const char *path,
                       const char *token, const char *ctype, const char *body,
                       tdm_bp_http_reply *rep, tdm_error *err);

/* --- GLib loop helpers ---------------------------------------------------- */

/* Iterates ctx until done(arg) or timeout_ms passed; returns done(arg). */
bool tdm_bp_run_until(void *gmain_context, bool (*done)(void *), void *arg, unsigned timeout_ms);
/* One turn of ctx (acquired by the caller) that waits at most until
 * until_ns (tdm_bench_now_ns clock), finer than GLib's milliseconds so a
 * paced sender sleeps between packets instead of spinning. */
tdm_status tdm_bp_turn_until(void *gmain_context, uint64_t until_ns, tdm_error *err);

/* --- bench peers ---------------------------------------------------------- */

#define TDM_BP_MAX_CANDS 8

typedef struct tdm_bp_peer {
    char name[32];
    tdm_dtls_identity *id;
    tdm_peer *peer;
    bool gathered;
    size_t n_cands;
    char *cands[TDM_BP_MAX_CANDS];
    tdm_peer_state state;
    /* Set when a candidate or the selected pair is not on `address`. */
    bool off_address;
    char address[64];
    /* Decrypted RTP, for the benchmark to count. */
    void (*on_rtp)(void *user, uint8_t *buf, size_t len);
    void *user;
} tdm_bp_peer;

/* Creates the identity and the peer on ctx, gathers on `address` only and
 * waits for gathering to finish. role and fp may be changed later with
 * tdm_peer_set_remote_dtls before ICE is up (fp NULL: not known yet). Set
 * p->name, p->on_rtp, p->user before. */
tdm_status tdm_bp_peer_start(tdm_bp_peer *p, void *gmain_context, const char *address,
                             bool controlling, tdm_dtls_role role,
                             const uint8_t fp[TDM_DTLS_FINGERPRINT_LEN], tdm_error *err);
/* Gives ICE the remote credentials and candidates of media m; every
 * candidate must be on p->address (else TDM_ERR_INVALID). */
tdm_status tdm_bp_peer_remote(tdm_bp_peer *p, const tdm_sdp_media *m, tdm_error *err);
/* The DTLS role the answerer's a=setup gives us; TDM_ERR_FORMAT if absent. */
tdm_status tdm_bp_answer_role(const tdm_sdp_media *m, tdm_dtls_role *role, tdm_error *err);
void tdm_bp_peer_free(tdm_bp_peer *p);

/* True when every peer of the array is CONNECTED. */
bool tdm_bp_all_connected(const tdm_bp_peer *peers, size_t n);

/* --- a real tandem-relay -------------------------------------------------- */

typedef struct tdm_bp_tandem {
    pid_t pid;
    char host[64]; /* where its HTTP API listens */
    uint16_t port;
    char secret_path[64];
} tdm_bp_tandem;

/* Starts relay_path serving HTTP on host (port picked by the relay) with ICE
 * on ice_address only; extra_args (NULL-terminated, may be NULL) are added. */
tdm_status tdm_bp_tandem_start(tdm_bp_tandem *t, const char *relay_path, const char *host,
                               const char *ice_address, const char *const *extra_args,
                               tdm_error *err);
void tdm_bp_tandem_stop(tdm_bp_tandem *t);
/* Connects p (started with tdm_bp_peer_start, controlling, fp NULL) to the
 * relay: WHIP publish with ssrc, or WHEP subscribe; on a subscribe,
 * *relay_ssrc is the SSRC the relay will send with. */
tdm_status tdm_bp_tandem_connect(tdm_bp_tandem *t, tdm_bp_peer *p, const char *session,
                                 bool publish, uint32_t ssrc, uint8_t pt, uint32_t *relay_ssrc,
                                 tdm_error *err);
/* A counter of the relay's /metrics, summed over its label sets. */
tdm_status tdm_bp_tandem_metric(tdm_bp_tandem *t, const char *name, double *value,
                                tdm_error *err);

/* --- a stamped VP8 stream -------------------------------------------------- */

#define TDM_BP_PKT_LEN 1200  /* RTP header + payload, before SRTP */
#define TDM_BP_PKT_CAP 1600  /* one packet after SRTP */
#define TDM_BP_STAMP_OFF 16  /* payload offset of the 8-byte send time (tdm_bench_now_ns) */
#define TDM_BP_MAGIC_OFF 24  /* payload offset of the stream's 4-byte magic */

/* A publisher's stream: VP8 packets (RFC 7741 descriptor; a keyframe start
 * with its start code and 640x360, or a continuation), 10 per 3000-tick
 * frame, each carrying its send time and a magic so a receiver tells them
 * from anything else it gets. */
typedef struct tdm_bp_stream {
    tdm_peer *pub;
    uint32_t ssrc;
    uint8_t pt;
    uint32_t magic;
    uint32_t index;     /* the next packet's */
    uint64_t sent;      /* continuation packets of the paced run */
    uint64_t send_fail; /* sends the peer refused */
} tdm_bp_stream;

/* A received packet of a stream with `magic`: its SSRC and send time;
 * false when it is not one. */
bool tdm_bp_stream_read(const uint8_t *buf, size_t len, uint32_t magic, uint32_t *ssrc,
                        uint64_t *sent_ns);
/* Sends keyframe starts, turning ctx up to wait_ms after each, until
 * started(arg) or `tries` were sent; returns started(arg). */
bool tdm_bp_stream_start(tdm_bp_stream *s, void *gmain_context, bool (*started)(void *),
                         void *arg, int tries, unsigned wait_ms, tdm_error *err);
/* Sends continuation packets at rate/s from t0 to t_end (at most 2 per
 * turn, sleeping in tdm_bp_turn_until between sends so the sender leaves
 * the CPU to the server), then turns ctx drain_ns more for what is in
 * flight. Acquires ctx for the run. */
tdm_status tdm_bp_stream_paced(tdm_bp_stream *s, void *gmain_context, double rate, uint64_t t0,
                               uint64_t t_end, uint64_t drain_ns, tdm_error *err);

#endif
