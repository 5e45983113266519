/* signal_test_proc.c: see signal_test_proc.h. */
#define _GNU_SOURCE
#include "signal_test_proc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int sigt_checks;
char sigt_dir[256];
static pid_t dir_owner;

static void dir_remove(void)
{
    /* A forked helper that exits must not take the directory with it. */
    if (getpid() != dir_owner || !sigt_dir[0] || getenv("KEEP_TMP"))
        return;
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sigt_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", sigt_dir);
}

void sigt_dir_make(const char *name)
{
    snprintf(sigt_dir, sizeof sigt_dir, "/tmp/%s.XXXXXX", name);
    CHECK(mkdtemp(sigt_dir), "mkdtemp");
    dir_owner = getpid();
    atexit(dir_remove);
}

void sigt_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", sigt_dir, name);
}

void sigt_write_file(const char *name, const char *text)
{
    char path[400];
    sigt_path(path, sizeof path, name);
    FILE *f = fopen(path, "w");
    CHECK(f, "open %s", path);
    fputs(text, f);
    fclose(f);
}

void sigt_write_secrets(const char *cluster_secret)
{
    sigt_write_file("relay.secret", "0123456789abcdef0123456789abcdef-relay-secret\n");
    sigt_write_file("master.key",
                    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
    if (cluster_secret) {
        char line[256];
        snprintf(line, sizeof line, "%s\n", cluster_secret);
        sigt_write_file("cluster.secret", line);
    }
}

double sigt_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

uint16_t sigt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

void sigt_stop(pid_t *pid, int sig)
{
    if (*pid <= 0)
        return;
    kill(*pid, sig);
    waitpid(*pid, NULL, 0);
    *pid = -1;
}

int sigt_run(const char *input, char *const argv[])
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        dup2(p[0], 0);
        close(p[1]);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[0]);
    if (input && write(p[1], input, strlen(input)) < 0)
        perror("write");
    close(p[1]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void sigt_user_add(const char *prog, const char *store_opt, const char *store, const char *name,
                   const char *role, const char *password, const char *invite)
{
    char pw[128];
    snprintf(pw, sizeof pw, "%s\n", password);
    char *argv[12] = {(char *)prog, "user", "add", (char *)name, "--role", (char *)role,
                      (char *)store_opt, (char *)store, NULL};
    if (invite) {
        argv[8] = "--may-invite";
        argv[9] = "--invite-profiles";
        argv[10] = (char *)invite;
    }
    CHECK(sigt_run(pw, argv) == 0, "user add %s", name);
}

pid_t sigt_start(char *const argv[], const char *log_name, uint16_t *port)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        /* If this test dies (a crash skips atexit), its children go too. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(p[1], 1);
        close(p[0]);
        if (log_name) {
            char log[400];
            sigt_path(log, sizeof log, log_name);
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    /* The service prints nothing more on stdout; our end just closes. */
    FILE *f = fdopen(p[0], "r");
    char line[256];
    unsigned v = 0;
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (port) {
        CHECK(got && sscanf(line, "listening on 127.0.0.1:%u", &v) == 1 && v > 0 && v < 65536,
              "%s did not report its port", argv[0]);
        *port = (uint16_t)v;
    } else {
        CHECK(got && strstr(line, "listening on"), "%s did not start", argv[0]);
    }
    return pid;
}

pid_t sigt_start_relay(const char *prog, const char *id, uint16_t signal_port, uint16_t *port)
{
    /* Its public URL must name its port before it starts. */
    *port = sigt_free_port();
    char listen[64], public_url[64], signal_url[64], secret[400], cluster[400], log[96];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", *port);
    snprintf(public_url, sizeof public_url, "http://127.0.0.1:%u", *port);
    snprintf(signal_url, sizeof signal_url, "http://127.0.0.1:%u", signal_port);
    sigt_path(secret, sizeof secret, "relay.secret");
    sigt_path(cluster, sizeof cluster, "cluster.secret");
    snprintf(log, sizeof log, "%s.log", id);
    char *argv[] = {(char *)prog, "serve", "--listen", listen, "--node-id", (char *)id,
                    "--secret-file", secret, "--local-address", "127.0.0.1", "--workers", "1",
                    "--signal-url", signal_url, "--cluster-secret-file", cluster, "--public-url",
                    public_url, "--heartbeat-interval", "1", NULL};
    return sigt_start(argv, log, NULL);
}
