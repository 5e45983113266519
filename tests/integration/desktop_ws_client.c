/* desktop_ws_client: a participant's WebSocket to tandem-signal for the
 * desktop tests, driven from a shell script.
 *
 *   desktop_ws_client http://HOST:PORT SECRET
 *
 * Authenticates with the participant secret, prints "welcome <json>", then
 * sends each line read from stdin as one text message and prints every
 * message received as "recv <json>" (flushed at once), until stdin ends
 * (exit 0) or the service closes the socket (prints "closed <code>", exit
 * 0). Exit 1 when the connection or the authentication fails. With
 * DESKTOP_WS_STAMP=1 in the environment, each message sent is followed by
 * "sent <CLOCK_MONOTONIC microseconds>" (for latency against tandem-share's
 * --input-log). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "signal_link.h"

static int drain(tdm_link_ws *ws)
{
    for (;;) {
        const char *msg;
        size_t len;
        tdm_error err = {{0}};
        tdm_status st = tdm_link_ws_recv(ws, 0, &msg, &len, &err);
        if (st == TDM_OK) {
            printf("recv %.*s\n", (int)len, msg);
            fflush(stdout);
            continue;
        }
        if (st == TDM_AGAIN)
            return 0;
        if (st == TDM_EOF) {
            printf("closed %d\n", tdm_link_ws_close_code(ws));
            fflush(stdout);
            return 1;
        }
        fprintf(stderr, "desktop_ws_client: %s\n", err.msg);
        return -1;
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: desktop_ws_client http://HOST:PORT SECRET\n");
        return 2;
    }
    tdm_link *link = NULL;
    tdm_link_ws *ws = NULL;
    tdm_error err = {{0}};
    char *welcome = NULL;
    if (tdm_link_new(argv[1], 10000, &link, &err) != TDM_OK ||
        tdm_link_ws_connect(link, &ws, &err) != TDM_OK ||
        tdm_link_ws_auth(ws, argv[2], &welcome, &err) != TDM_OK) {
        fprintf(stderr, "desktop_ws_client: %s\n", err.msg);
        tdm_link_ws_close(ws);
        tdm_link_free(link);
        return 1;
    }
    printf("welcome %s\n", welcome);
    fflush(stdout);
    free(welcome);
    bool stamp = getenv("DESKTOP_WS_STAMP") && strcmp(getenv("DESKTOP_WS_STAMP"), "1") == 0;
    char line[25000];
    size_t used = 0;
    bool stdin_open = true;
    int rc = 0;
    while (stdin_open) {
        if (tdm_link_ws_buffered(ws) && drain(ws) != 0)
            break;
        struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                              {.fd = tdm_link_ws_fd(ws), .events = POLLIN}};
        if (poll(p, 2, 1000) < 0 && errno != EINTR) {
            rc = 1;
            break;
        }
        if (p[1].revents) {
            int d = drain(ws);
            if (d != 0) {
                rc = d < 0 ? 1 : 0;
                break;
            }
        }
        if (p[0].revents) {
            ssize_t n = read(STDIN_FILENO, line + used, sizeof line - 1 - used);
            if (n <= 0) {
                stdin_open = false;
                break;
            }
            used += (size_t)n;
            char *nl;
            while ((nl = memchr(line, '\n', used)) != NULL) {
                size_t len = (size_t)(nl - line);
                if (len && tdm_link_ws_send(ws, line, len, &err) != TDM_OK) {
                    fprintf(stderr, "desktop_ws_client: send: %s\n", err.msg);
                    rc = 1;
                } else if (len && stamp) {
                    struct timespec ts;
                    clock_gettime(CLOCK_MONOTONIC, &ts);
                    printf("sent %lld\n", (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
                    fflush(stdout);
                }
                memmove(line, nl + 1, used - len - 1);
                used -= len + 1;
            }
            if (used == sizeof line - 1)
                used = 0; /* a line too long for any message: dropped */
        }
    }
    /* What arrived after the last command. */
    if (!rc)
        drain(ws);
    tdm_link_ws_close(ws);
    tdm_link_free(link);
    return rc;
}
