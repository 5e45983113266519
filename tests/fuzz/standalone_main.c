/* standalone_main.c: runs a libFuzzer target without libFuzzer.
 *
 * Each argument is a file or a directory of files; every file is fed to
 * LLVMFuzzerTestOneInput once, then every prefix-truncation of it at a few
 * cut points (truncated input is the commonest real-world fault). Exits 0
 * when every input ran without crashing, and says how many it ran, so the
 * corpus doubles as a regression test under ASan/UBSan. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (len < 0) {
        fclose(f);
        return -1;
    }
    uint8_t *buf = malloc((size_t)len + 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(buf);
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    (*count)++;
    for (int cut = 1; cut <= 8; cut++) {
        size_t n = (size_t)len * (size_t)cut / 9;
        /* A fresh allocation of exactly n bytes so ASan sees any over-read. */
        uint8_t *part = malloc(n ? n : 1);
        if (!part)
            break;
        memcpy(part, buf, n);
        LLVMFuzzerTestOneInput(part, n);
        free(part);
        (*count)++;
    }
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "no such corpus: %s\n", argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.')
                    continue;
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                if (run_file(path, &count) != 0)
                    failed++;
            }
            if (d)
                closedir(d);
        } else if (run_file(argv[i], &count) != 0) {
            failed++;
        }
    }
    if (count == 0) {
        fprintf(stderr, "no inputs found\n");
        return 1;
    }
    printf("%zu passed, %d failed\n", count, failed);
    return failed ? 1 : 0;
}
