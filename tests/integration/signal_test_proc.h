/* signal_test_proc: what the tandem-signal integration tests share
 * (signal_serve_test, signal_link_test, signal_registry_serve_test,
 * signal_cluster_test).
 *
 * Owns the checks (CHECK: a failure names file and line and exits 1), the
 * test's scratch directory (removed at exit by the process that made it,
 * unless KEEP_TMP is set) and files in it, and the child processes a test
 * runs: a program fed its stdin, `tandem-signal user add`, a service that
 * reports where it listens on its first stdout line, each stopped by its
 * PID. Loopback only. */
#ifndef SIGNAL_TEST_PROC_H
#define SIGNAL_TEST_PROC_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

extern int sigt_checks; /* CHECKs that passed */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        sigt_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* The scratch directory, /tmp/NAME.XXXXXX after sigt_dir_make. Call it
 * before registering the test's own atexit clean-up, so that stops the
 * test's processes before the directory goes. */
extern char sigt_dir[256];
void sigt_dir_make(const char *name);
/* sigt_dir/name into out. */
void sigt_path(char *out, size_t cap, const char *name);
void sigt_write_file(const char *name, const char *text);
/* The service's secrets, named as the tests' configs name them:
 * relay.secret, master.key and, with cluster_secret, cluster.secret. */
void sigt_write_secrets(const char *cluster_secret);

double sigt_now_s(void); /* monotonic */
/* A free loopback TCP port (bound and released: for a program that must
 * be told its port before it starts). */
uint16_t sigt_free_port(void);

/* Sends sig to *pid, reaps it and sets *pid to -1; no-op for pid <= 0. */
void sigt_stop(pid_t *pid, int sig);
/* Runs argv (argv[0] the program) with input on its stdin and stdout on
 * /dev/null; its exit status (128 if it did not exit). */
int sigt_run(const char *input, char *const argv[]);
/* `PROG user add NAME --role ROLE STORE_OPT STORE [--may-invite
 * --invite-profiles INVITE]` with the password on stdin; must succeed.
 * STORE_OPT is "--db" or "--redis". */
void sigt_user_add(const char *prog, const char *store_opt, const char *store, const char *name,
                   const char *role, const char *password, const char *invite);
/* Starts argv (dying with this test), stderr appended to sigt_dir/log_name
 * (NULL: ours), and waits for its first stdout line, which must say
 * "listening on"; with port, the line is "listening on 127.0.0.1:PORT"
 * and *port gets PORT. */
pid_t sigt_start(char *const argv[], const char *log_name, uint16_t *port);
/* A real tandem-relay (node id, media on 127.0.0.1, one worker) on a free
 * port (*port) heartbeating every second to the tandem-signal at
 * signal_port, with sigt_dir's relay.secret and cluster.secret; its stderr
 * in sigt_dir/ID.log. */
pid_t sigt_start_relay(const char *prog, const char *id, uint16_t signal_port, uint16_t *port);

#endif
