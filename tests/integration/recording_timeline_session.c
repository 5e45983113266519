/* recording_timeline_session: plays a support session through signaling's
 * core API (tdm_signal.h) against a real database, at chosen times, so a
 * test can check tandem-replay's timeline against known offsets.
 *
 *   recording_timeline_session DB REP_NAME BASE_MS
 *
 * REP_NAME must exist (tandem-signal user add ... --may-invite
 * --invite-profiles view_only,pointer). Times are BASE_MS plus:
 *   -2000 open   -1000 customer joins   +200 invite (view_only)
 *   +300 invitee joins   +400 invitee input (denied)   +500 invitee -> pointer
 *   +1600 rep input (allowed) x3, +1700 invitee input (allowed), written
 *   as per-second counts by a tick at +2100
 *   +2500 invitee leaves   +3500 end
 * Prints "session ID" and the participant ids ("rep", "customer", "invitee"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_signal.h"

static int fail(const char *what, const tdm_signal_error *e)
{
    fprintf(stderr, "recording_timeline_session: %s: %s\n", what, e ? e->detail.msg : "");
    return 1;
}

static int input(tdm_signal *sig, const char *pid, const char *msg, int64_t t)
{
    tdm_signal_input_result r;
    tdm_signal_error e = {0};
    if (tdm_signal_input(sig, pid, (const uint8_t *)msg, strlen(msg), t, &r, &e) != TDM_OK)
        return fail("input", &e);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return fprintf(stderr, "usage: recording_timeline_session DB REP_NAME BASE_MS\n"), 2;
    int64_t base = strtoll(argv[3], NULL, 10);
    static const uint8_t secret[32] = "timeline-test-token-secret-32by";
    tdm_signal_config cfg = {.db_path = argv[1], .token_secret = secret,
                             .token_secret_len = sizeof secret};
    memset(cfg.master_key, 7, sizeof cfg.master_key);
    memset(cfg.digest_key, 9, sizeof cfg.digest_key);
    tdm_signal *sig;
    tdm_error err = {{0}};
    if (tdm_signal_new(&cfg, &sig, &err) != TDM_OK)
        return fprintf(stderr, "recording_timeline_session: %s\n", err.msg), 1;
    tdm_signal_error e = {0};
    tdm_signal_opened o;
    tdm_signal_joined cust, inv;
    tdm_signal_invite iv;
    if (tdm_signal_session_open(sig, argv[2], base - 2000, &o, &e) != TDM_OK)
        return fail("open", &e);
    if (tdm_signal_customer_join(sig, o.join_code, "Carol Customer", base - 1000, &cust, &e) !=
        TDM_OK)
        return fail("customer join", &e);
    if (tdm_signal_invite_create(sig, o.participant_id, "view_only", 0, base + 200, &iv, &e) !=
        TDM_OK)
        return fail("invite", &e);
    if (tdm_signal_invite_accept(sig, iv.token, "Eve Expert", base + 300, &inv, &e) != TDM_OK)
        return fail("accept", &e);
    if (input(sig, inv.participant_id, "{\"type\":\"pointer_move\",\"x\":0.5,\"y\":0.5}",
              base + 400))
        return 1;
    if (tdm_signal_set_profile(sig, o.participant_id, inv.participant_id, "pointer", base + 500,
                               &e) != TDM_OK)
        return fail("set profile", &e);
    if (input(sig, o.participant_id, "{\"type\":\"pointer_move\",\"x\":0.1,\"y\":0.1}",
              base + 1600) ||
        input(sig, o.participant_id, "{\"type\":\"pointer_move\",\"x\":0.2,\"y\":0.1}",
              base + 1610) ||
        input(sig, o.participant_id, "{\"type\":\"pointer_move\",\"x\":0.3,\"y\":0.1}",
              base + 1620) ||
        input(sig, inv.participant_id, "{\"type\":\"pointer_move\",\"x\":0.4,\"y\":0.4}",
              base + 1700))
        return 1;
    if (tdm_signal_tick(sig, base + 2100, &err) != TDM_OK)
        return fprintf(stderr, "recording_timeline_session: tick: %s\n", err.msg), 1;
    if (tdm_signal_leave(sig, inv.participant_id, base + 2500, &e) != TDM_OK)
        return fail("leave", &e);
    if (tdm_signal_end(sig, o.participant_id, base + 3500, &e) != TDM_OK)
        return fail("end", &e);
    printf("session %s\nrep %s\ncustomer %s\ninvitee %s\n", o.session_id, o.participant_id,
           cust.participant_id, inv.participant_id);
    tdm_signal_free(sig);
    return 0;
}
