/* ice.c: the libnice adapter (tdm_ice.h). It owns one NiceAgent with one
 * stream of one component, translates libnice's signals into tdm_ice_event
 * and hands every received datagram to the one on_datagram callback. It
 * holds no protocol logic; GLib and libnice types do not leave this file. */
#include "tdm_ice.h"

#include <errno.h>
#include <gio/gio.h>
#include <nice/agent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define COMPONENT 1 /* rtcp-mux + BUNDLE: one component, RTP's */
#define DEFAULT_STUN_PORT 3478
#define CRED_MAX 257 /* libnice's own limit: 256 characters */

struct tdm_ice {
    NiceAgent *agent;
    GMainContext *ctx;
    guint stream;
    tdm_ice_callbacks cb;
    tdm_ice_state state;
    /* libnice has a selected pair to send on. Not the same as the state
     * being up: during an ICE restart the old pair keeps carrying media
     * (RFC 8445 section 9) while the state goes back to gathering. */
    bool has_pair;
    /* The selected pair's UDP socket and peer, when the pair is plain UDP
     * (not TURN, not TCP): datagrams go out with one sendto on it rather
     * than through libnice's send path (agent lock, component lookup,
     * GSocket wrapper), measured at about a tenth of the relay's CPU per
     * forwarded packet. libnice still owns the socket and receives on it. */
    GSocket *direct_socket; /* a reference, or NULL */
    int direct_fd;
    struct sockaddr_storage direct_peer;
    socklen_t direct_peer_len;
    GSource *timer;
    bool close_relays; /* TURN allocations to release on free */
    uint32_t consent_timeout_ms;
    char ufrag[CRED_MAX];
    char pwd[CRED_MAX];
};

static void drop_direct(tdm_ice *ice)
{
    if (ice->direct_socket)
        g_object_unref(ice->direct_socket);
    ice->direct_socket = NULL;
    ice->direct_fd = -1;
}

const char *tdm_ice_state_name(tdm_ice_state s)
{
    switch (s) {
    case TDM_ICE_NEW: return "new";
    case TDM_ICE_GATHERING: return "gathering";
    case TDM_ICE_CHECKING: return "checking";
    case TDM_ICE_CONNECTED: return "connected";
    case TDM_ICE_READY: return "ready";
    case TDM_ICE_FAILED: return "failed";
    case TDM_ICE_DISCONNECTED: return "disconnected";
    }
    return "unknown";
}

bool tdm_ice_state_is_up(tdm_ice_state s)
{
    return s == TDM_ICE_CONNECTED || s == TDM_ICE_READY;
}

const char *tdm_ice_candidate_type_name(tdm_ice_candidate_type t)
{
    switch (t) {
    case TDM_ICE_CAND_HOST: return "host";
    case TDM_ICE_CAND_SRFLX: return "srflx";
    case TDM_ICE_CAND_PRFLX: return "prflx";
    case TDM_ICE_CAND_RELAY: return "relay";
    }
    return "unknown";
}

const char *tdm_ice_transport_name(tdm_ice_transport t)
{
    switch (t) {
    case TDM_ICE_UDP: return "udp";
    case TDM_ICE_TCP_ACTIVE: return "tcp-active";
    case TDM_ICE_TCP_PASSIVE: return "tcp-passive";
    case TDM_ICE_TCP_SO: return "tcp-so";
    }
    return "unknown";
}

void tdm_ice_config_init(tdm_ice_config *cfg, void *main_context, bool controlling)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->main_context = main_context;
    cfg->controlling = controlling;
}

static tdm_ice_state map_state(guint s)
{
    switch (s) {
    case NICE_COMPONENT_STATE_DISCONNECTED: return TDM_ICE_DISCONNECTED;
    case NICE_COMPONENT_STATE_GATHERING: return TDM_ICE_GATHERING;
    case NICE_COMPONENT_STATE_CONNECTING: return TDM_ICE_CHECKING;
    case NICE_COMPONENT_STATE_CONNECTED: return TDM_ICE_CONNECTED;
    case NICE_COMPONENT_STATE_READY: return TDM_ICE_READY;
    default: return TDM_ICE_FAILED;
    }
}

static tdm_ice_candidate_type map_type(NiceCandidateType t)
{
    switch (t) {
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return TDM_ICE_CAND_SRFLX;
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return TDM_ICE_CAND_PRFLX;
    case NICE_CANDIDATE_TYPE_RELAYED: return TDM_ICE_CAND_RELAY;
    default: return TDM_ICE_CAND_HOST;
    }
}

static tdm_ice_transport map_transport(NiceCandidateTransport t)
{
    switch (t) {
    case NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE: return TDM_ICE_TCP_ACTIVE;
    case NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE: return TDM_ICE_TCP_PASSIVE;
    case NICE_CANDIDATE_TRANSPORT_TCP_SO: return TDM_ICE_TCP_SO;
    default: return TDM_ICE_UDP;
    }
}

static void emit(tdm_ice *ice, const tdm_ice_event *ev)
{
    if (ice->cb.on_event)
        ice->cb.on_event(ice->cb.user, ev);
}

/* libnice writes "a=candidate:..."; SDP modules and trickle fragments want
 * the attribute value, so drop the line prefix. Returns false if libnice
 * produced nothing or something longer than we promise. */
static bool candidate_text(tdm_ice *ice, NiceCandidate *c, char out[TDM_ICE_CANDIDATE_MAX])
{
    gchar *sdp = nice_agent_generate_local_candidate_sdp(ice->agent, c);
    if (!sdp)
        return false;
    const char *s = strncmp(sdp, "a=", 2) == 0 ? sdp + 2 : sdp;
    size_t n = strlen(s);
    bool ok = n < TDM_ICE_CANDIDATE_MAX;
    if (ok)
        memcpy(out, s, n + 1);
    g_free(sdp);
    return ok;
}

static void address_text(const NiceAddress *a, char out[NICE_ADDRESS_STRING_LEN + 8])
{
    char ip[NICE_ADDRESS_STRING_LEN];
    nice_address_to_string(a, ip);
    g_snprintf(out, NICE_ADDRESS_STRING_LEN + 8, "%s:%u", ip, nice_address_get_port(a));
}

/* --- libnice signal handlers: translate, nothing more ------------------ */

static void on_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
                    gpointer user)
{
    (void)agent;
    (void)stream_id;
    (void)component_id;
    tdm_ice *ice = user;
    /* GLib blocks a source that may not recurse for the length of each
     * dispatch by taking its fd out of the poll set and putting it back,
     * and each of those writes the context's wakeup eventfd; the next
     * poll then returns at once only to read it. That was four syscalls
     * per received datagram besides the one recvmsg. The socket source
     * libnice dispatches us from may recurse: nothing under on_datagram
     * iterates the context (tdm_ice.h), so it is never re-entered. */
    GSource *src = g_main_current_source();
    if (src && !g_source_get_can_recurse(src))
        g_source_set_can_recurse(src, TRUE);
    if (len > 0)
        ice->cb.on_datagram(ice->cb.user, (uint8_t *)buf, len);
}

static void on_new_candidate(NiceAgent *agent, NiceCandidate *c, gpointer user)
{
    (void)agent;
    tdm_ice *ice = user;
    if (c->stream_id != ice->stream || c->component_id != COMPONENT)
        return;
    char text[TDM_ICE_CANDIDATE_MAX];
    if (!candidate_text(ice, c, text))
        return;
    tdm_ice_event ev = {.type = TDM_ICE_EV_LOCAL_CANDIDATE, .candidate = text};
    emit(ice, &ev);
}

static void on_gathering_done(NiceAgent *agent, guint stream_id, gpointer user)
{
    (void)agent;
    tdm_ice *ice = user;
    if (stream_id != ice->stream)
        return;
    tdm_ice_event ev = {.type = TDM_ICE_EV_GATHERING_DONE};
    emit(ice, &ev);
}

static void on_state_changed(NiceAgent *agent, guint stream_id, guint component_id, guint state,
                             gpointer user)
{
    (void)agent;
    tdm_ice *ice = user;
    if (stream_id != ice->stream || component_id != COMPONENT)
        return;
    tdm_ice_state s = map_state(state);
    if (s == ice->state)
        return;
    ice->state = s;
    if (s == TDM_ICE_FAILED) {
        ice->has_pair = false;
        drop_direct(ice);
    }
    tdm_ice_event ev = {.type = TDM_ICE_EV_STATE, .state = s};
    emit(ice, &ev);
}

/* Takes the selected pair's socket for direct sends when it is plain UDP;
 * anything else (TURN framing, TCP framing) goes through libnice. */
static void take_direct(tdm_ice *ice, const NiceCandidate *local, const NiceCandidate *remote)
{
    drop_direct(ice);
    if (local->transport != NICE_CANDIDATE_TRANSPORT_UDP ||
        local->type == NICE_CANDIDATE_TYPE_RELAYED || remote->type == NICE_CANDIDATE_TYPE_RELAYED)
        return;
    GSocket *sock = nice_agent_get_selected_socket(ice->agent, ice->stream, COMPONENT);
    if (!sock)
        return;
    if (g_socket_get_socket_type(sock) != G_SOCKET_TYPE_DATAGRAM || g_socket_get_fd(sock) < 0) {
        g_object_unref(sock);
        return;
    }
    memset(&ice->direct_peer, 0, sizeof ice->direct_peer);
    nice_address_copy_to_sockaddr(&remote->addr, (struct sockaddr *)&ice->direct_peer);
    ice->direct_peer_len = ice->direct_peer.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                  : sizeof(struct sockaddr_in);
    ice->direct_socket = sock;
    ice->direct_fd = g_socket_get_fd(sock);
}

static void on_selected_pair(NiceAgent *agent, guint stream_id, guint component_id,
                             NiceCandidate *local, NiceCandidate *remote, gpointer user)
{
    (void)agent;
    tdm_ice *ice = user;
    if (stream_id != ice->stream || component_id != COMPONENT)
        return;
    ice->has_pair = true;
    take_direct(ice, local, remote);
    char la[NICE_ADDRESS_STRING_LEN + 8], ra[NICE_ADDRESS_STRING_LEN + 8];
    address_text(&local->addr, la);
    address_text(&remote->addr, ra);
    tdm_ice_event ev = {
        .type = TDM_ICE_EV_SELECTED_PAIR,
        .local_type = map_type(local->type),
        .remote_type = map_type(remote->type),
        .local_transport = map_transport(local->transport),
        .local_address = la,
        .remote_address = ra,
    };
    emit(ice, &ev);
}

static gboolean on_timer_fired(gpointer user)
{
    tdm_ice *ice = user;
    /* Forget the source before the callback, which may arm a new one. */
    g_source_unref(ice->timer);
    ice->timer = NULL;
    if (ice->cb.on_timer)
        ice->cb.on_timer(ice->cb.user);
    return G_SOURCE_REMOVE;
}

/* --- lifetime ------------------------------------------------------------ */

static bool numeric_address(const char *s)
{
    NiceAddress a;
    nice_address_init(&a);
    return s && nice_address_set_from_string(&a, s);
}

static tdm_status check_config(const tdm_ice_config *cfg, const tdm_ice_callbacks *cb,
                               tdm_error *err)
{
    if (!cfg || !cb || !cfg->main_context || !cb->on_datagram)
        return tdm_fail(err, TDM_ERR_INVALID, "ice: context and on_datagram are required");
    if (cfg->n_local_addresses > TDM_ICE_MAX_LOCAL_ADDRESSES || cfg->n_turn > TDM_ICE_MAX_TURN)
        return tdm_fail(err, TDM_ERR_INVALID, "ice: too many local addresses or TURN servers");
    for (size_t i = 0; i < cfg->n_local_addresses; i++)
        if (!numeric_address(cfg->local_addresses[i]))
            return tdm_fail(err, TDM_ERR_INVALID, "ice: local address '%s' is not numeric",
                            cfg->local_addresses[i] ? cfg->local_addresses[i] : "(null)");
    if (cfg->stun_host && !numeric_address(cfg->stun_host))
        return tdm_fail(err, TDM_ERR_INVALID, "ice: STUN server '%s' is not a numeric address",
                        cfg->stun_host);
    for (size_t i = 0; i < cfg->n_turn; i++) {
        const tdm_ice_turn *t = &cfg->turn[i];
        if (!numeric_address(t->host))
            return tdm_fail(err, TDM_ERR_INVALID, "ice: TURN server '%s' is not numeric",
                            t->host ? t->host : "(null)");
        if (!t->username || !t->password)
            return tdm_fail(err, TDM_ERR_INVALID, "ice: TURN server %s needs credentials",
                            t->host);
    }
    if (cfg->port_min > cfg->port_max)
        return tdm_fail(err, TDM_ERR_INVALID, "ice: port range %u-%u is empty", cfg->port_min,
                        cfg->port_max);
    return TDM_OK;
}

static void refresh_credentials(tdm_ice *ice)
{
    gchar *ufrag = NULL, *pwd = NULL;
    ice->ufrag[0] = ice->pwd[0] = '\0';
    if (nice_agent_get_local_credentials(ice->agent, ice->stream, &ufrag, &pwd)) {
        g_strlcpy(ice->ufrag, ufrag, sizeof ice->ufrag);
        g_strlcpy(ice->pwd, pwd, sizeof ice->pwd);
    }
    g_free(ufrag);
    g_free(pwd);
}

tdm_status tdm_ice_new(const tdm_ice_config *cfg, const tdm_ice_callbacks *cb, tdm_ice **out,
                       tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "ice: out is NULL");
    *out = NULL;
    tdm_status st = check_config(cfg, cb, err);
    if (st != TDM_OK)
        return st;

    tdm_ice *ice = calloc(1, sizeof *ice);
    if (!ice)
        return tdm_fail(err, TDM_ERR_NOMEM, "ice: out of memory");
    ice->direct_fd = -1;
    ice->ctx = cfg->main_context;
    ice->cb = *cb;
    ice->state = TDM_ICE_NEW;

    /* Trickle: remote candidates may come after the checks start (WHIP
     * PATCH), so the agent must not fail for lack of them until told the
     * peer is done. Consent: libnice checks the selected pair with
     * connectivity checks (keepalive-conncheck, below) in either mode; its
     * consent-freshness option only shortens the time it waits for an
     * answer from 50 s to 10 s (tdm_ice.h says why that is not the
     * default). */
    ice->consent_timeout_ms = cfg->consent_timeout_ms &&
                                      cfg->consent_timeout_ms <= TDM_ICE_CONSENT_STRICT_MS
                                  ? TDM_ICE_CONSENT_STRICT_MS
                                  : TDM_ICE_CONSENT_TOLERANT_MS;
    NiceAgentOption options = NICE_AGENT_OPTION_ICE_TRICKLE;
    if (ice->consent_timeout_ms == TDM_ICE_CONSENT_STRICT_MS)
        options |= NICE_AGENT_OPTION_CONSENT_FRESHNESS;
    ice->agent = nice_agent_new_full(ice->ctx, NICE_COMPATIBILITY_RFC5245, options);
    if (!ice->agent) {
        free(ice);
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "ice: libnice could not create an agent");
    }
    /* UPnP would talk to the LAN's router; gathering stays on the listed
     * addresses. */
    g_object_set(ice->agent, "controlling-mode", (gboolean)cfg->controlling, "upnp", FALSE,
                 "ice-udp", TRUE, "ice-tcp", (gboolean)cfg->ice_tcp, "keepalive-conncheck", TRUE,
                 "force-relay", (gboolean)cfg->relay_only, NULL);
    if (cfg->stun_host)
        g_object_set(ice->agent, "stun-server", cfg->stun_host, "stun-server-port",
                     (guint)(cfg->stun_port ? cfg->stun_port : DEFAULT_STUN_PORT), NULL);

    for (size_t i = 0; i < cfg->n_local_addresses; i++) {
        NiceAddress a;
        nice_address_init(&a);
        nice_address_set_from_string(&a, cfg->local_addresses[i]);
        if (!nice_agent_add_local_address(ice->agent, &a)) {
            st = tdm_fail(err, TDM_ERR_UNAVAILABLE, "ice: libnice refused local address %s",
                          cfg->local_addresses[i]);
            goto fail;
        }
    }

    ice->stream = nice_agent_add_stream(ice->agent, 1);
    if (ice->stream == 0) {
        st = tdm_fail(err, TDM_ERR_UNAVAILABLE, "ice: libnice could not add a stream");
        goto fail;
    }
    if (cfg->port_max)
        nice_agent_set_port_range(ice->agent, ice->stream, COMPONENT, cfg->port_min,
                                  cfg->port_max);
    for (size_t i = 0; i < cfg->n_turn; i++) {
        const tdm_ice_turn *t = &cfg->turn[i];
        NiceRelayType type =
            t->transport == TDM_ICE_TURN_TCP ? NICE_RELAY_TYPE_TURN_TCP : NICE_RELAY_TYPE_TURN_UDP;
        if (!nice_agent_set_relay_info(ice->agent, ice->stream, COMPONENT, t->host,
                                       t->port ? t->port : DEFAULT_STUN_PORT, t->username,
                                       t->password, type)) {
            st = tdm_fail(err, TDM_ERR_UNAVAILABLE, "ice: libnice refused TURN server %s",
                          t->host);
            goto fail;
        }
        ice->close_relays = true;
    }

    g_signal_connect(ice->agent, "new-candidate-full", G_CALLBACK(on_new_candidate), ice);
    g_signal_connect(ice->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done), ice);
    g_signal_connect(ice->agent, "component-state-changed", G_CALLBACK(on_state_changed), ice);
    g_signal_connect(ice->agent, "new-selected-pair-full", G_CALLBACK(on_selected_pair), ice);
    if (!nice_agent_attach_recv(ice->agent, ice->stream, COMPONENT, ice->ctx, on_recv, ice)) {
        st = tdm_fail(err, TDM_ERR_UNAVAILABLE, "ice: libnice could not attach the receiver");
        goto fail;
    }
    refresh_credentials(ice);
    *out = ice;
    return TDM_OK;

fail:
    g_signal_handlers_disconnect_by_data(ice->agent, ice);
    g_object_unref(ice->agent);
    free(ice);
    return st;
}

void tdm_ice_free(tdm_ice *ice)
{
    if (!ice)
        return;
    tdm_ice_cancel_timer(ice);
    drop_direct(ice);
    g_signal_handlers_disconnect_by_data(ice->agent, ice);
    nice_agent_attach_recv(ice->agent, ice->stream, COMPONENT, ice->ctx, NULL, NULL);
    /* Releasing TURN allocations is asynchronous: the pending close keeps
     * its own reference to the agent until the context has run it. */
    if (ice->close_relays)
        nice_agent_close_async(ice->agent, NULL, NULL);
    g_object_unref(ice->agent);
    free(ice);
}

/* --- operations ---------------------------------------------------------- */

tdm_status tdm_ice_gather(tdm_ice *ice, tdm_error *err)
{
    if (!ice)
        return tdm_fail(err, TDM_ERR_INVALID, "ice: NULL");
    if (!nice_agent_gather_candidates(ice->agent, ice->stream))
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "ice: libnice could not gather candidates");
    return TDM_OK;
}

void tdm_ice_local_credentials(tdm_ice *ice, const char **ufrag, const char **pwd)
{
    if (ufrag)
        *ufrag = ice->ufrag;
    if (pwd)
        *pwd = ice->pwd;
}

tdm_status tdm_ice_set_remote_credentials(tdm_ice *ice, const char *ufrag, const char *pwd,
                                          tdm_error *err)
{
    if (!ice || !ufrag || !pwd || !*ufrag || !*pwd)
        return tdm_fail(err, TDM_ERR_INVALID, "ice: remote ufrag and pwd are required");
    if (!nice_agent_set_remote_credentials(ice->agent, ice->stream, ufrag, pwd))
        return tdm_fail(err, TDM_ERR_INVALID, "ice: libnice refused the remote credentials");
    return TDM_OK;
}

/* The connection-address field of a candidate line, for a better error
 * than "does not parse" when it is a host name. */
static bool address_field(const char *line, char *out, size_t cap)
{
    const char *p = strchr(line, ':');
    if (!p)
        return false;
    p++;
    for (int field = 0; field < 4; field++) { /* foundation component transport priority */
        p += strspn(p, " ");
        p += strcspn(p, " ");
    }
    p += strspn(p, " ");
    size_t n = strcspn(p, " ");
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

tdm_status tdm_ice_add_remote_candidate(tdm_ice *ice, const char *sdp, tdm_error *err)
{
    if (!ice || !sdp)
        return tdm_fail(err, TDM_ERR_INVALID, "ice: NULL candidate");
    /* libnice parses only the full line form "a=candidate:..." and stops
     * at nothing, so normalise here. */
    char line[TDM_ICE_CANDIDATE_MAX + 2];
    const char *body = strncmp(sdp, "a=", 2) == 0 ? sdp + 2 : sdp;
    size_t n = strcspn(body, "\r\n");
    if (strncmp(body, "candidate:", 10) != 0 || n + 3 > sizeof line)
        return tdm_fail(err, TDM_ERR_FORMAT, "ice: not a candidate attribute");
    memcpy(line, "a=", 2);
    memcpy(line + 2, body, n);
    line[n + 2] = '\0';

    NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(ice->agent, ice->stream, line);
    if (!c) {
        char addr[256];
        if (address_field(line, addr, sizeof addr) && !numeric_address(addr))
            return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                            "ice: candidate address '%s' is a host name (mDNS?)", addr);
        return tdm_fail(err, TDM_ERR_FORMAT, "ice: candidate does not parse");
    }
    tdm_status st = TDM_OK;
    if (c->component_id != COMPONENT) {
        /* Without rtcp-mux the peer offers a component 2 we never use. */
        st = tdm_fail(err, TDM_ERR_FORMAT, "ice: candidate for component %u", c->component_id);
    } else {
        GSList one = {.data = c, .next = NULL};
        if (nice_agent_set_remote_candidates(ice->agent, ice->stream, COMPONENT, &one) < 0)
            st = tdm_fail(err, TDM_ERR_FORMAT, "ice: libnice refused the candidate");
    }
    nice_candidate_free(c);
    return st;
}

void tdm_ice_remote_gathering_done(tdm_ice *ice)
{
    if (ice)
        nice_agent_peer_candidate_gathering_done(ice->agent, ice->stream);
}

size_t tdm_ice_foreach_local_candidate(tdm_ice *ice,
                                       void (*fn)(void *user, const char *candidate), void *user)
{
    if (!ice)
        return 0;
    GSList *list = nice_agent_get_local_candidates(ice->agent, ice->stream, COMPONENT);
    size_t count = 0;
    for (GSList *l = list; l; l = l->next) {
        char text[TDM_ICE_CANDIDATE_MAX];
        if (!candidate_text(ice, l->data, text))
            continue;
        count++;
        if (fn)
            fn(user, text);
    }
    g_slist_free_full(list, (GDestroyNotify)nice_candidate_free);
    return count;
}

tdm_status tdm_ice_restart(tdm_ice *ice, tdm_error *err)
{
    if (!ice)
        return tdm_fail(err, TDM_ERR_INVALID, "ice: NULL");
    if (!nice_agent_restart_stream(ice->agent, ice->stream))
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "ice: libnice refused the restart");
    refresh_credentials(ice);
    return TDM_OK;
}

tdm_status tdm_ice_send(tdm_ice *ice, const uint8_t *buf, size_t len)
{
    if (!ice || !buf || len == 0 || len > G_MAXUINT16)
        return TDM_ERR_INVALID;
    /* Without a pair libnice reports "would block", which would read as a
     * full socket. */
    if (!ice->has_pair)
        return TDM_ERR_UNAVAILABLE;
    if (ice->direct_fd >= 0) {
        ssize_t n;
        do
            n = sendto(ice->direct_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL,
                       (const struct sockaddr *)&ice->direct_peer, ice->direct_peer_len);
        while (n < 0 && errno == EINTR);
        if (n == (ssize_t)len)
            return TDM_OK;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) ? TDM_AGAIN
                                                                                       : TDM_ERR_IO;
    }
    GOutputVector vec = {.buffer = buf, .size = len};
    NiceOutputMessage msg = {.buffers = &vec, .n_buffers = 1};
    GError *gerr = NULL;
    gint sent = nice_agent_send_messages_nonblocking(ice->agent, ice->stream, COMPONENT, &msg, 1,
                                                     NULL, &gerr);
    if (sent == 1)
        return TDM_OK;
    tdm_status st = TDM_AGAIN;
    if (gerr) {
        if (!g_error_matches(gerr, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            st = TDM_ERR_IO;
        g_error_free(gerr);
    }
    return st;
}

bool tdm_ice_can_send(const tdm_ice *ice)
{
    return ice && ice->has_pair;
}

tdm_ice_state tdm_ice_get_state(const tdm_ice *ice)
{
    return ice ? ice->state : TDM_ICE_FAILED;
}

uint32_t tdm_ice_consent_timeout_ms(const tdm_ice *ice)
{
    return ice ? ice->consent_timeout_ms : 0;
}

void tdm_ice_set_timer(tdm_ice *ice, uint32_t delay_ms)
{
    tdm_ice_cancel_timer(ice);
    ice->timer = g_timeout_source_new(delay_ms);
    g_source_set_callback(ice->timer, on_timer_fired, ice, NULL);
    g_source_attach(ice->timer, ice->ctx);
}

void tdm_ice_cancel_timer(tdm_ice *ice)
{
    if (!ice || !ice->timer)
        return;
    g_source_destroy(ice->timer);
    g_source_unref(ice->timer);
    ice->timer = NULL;
}
