/* desktop_png_diff: how different two snapshots (PNG, same size) are, for
 * the desktop tests: the number of 8x8 blocks in which some pixel differs
 * by more than THRESHOLD in some channel (video coding noise stays well
 * below it; text, a cursor or a click's effect does not).
 *
 *   desktop_png_diff A.png B.png [THRESHOLD [X Y W H]]
 *
 * Prints "blocks N of M"; exit 0, or 1 when a file cannot be read or the
 * sizes differ. The optional rectangle limits the comparison. */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *load(const char *path, int *w, int *h)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) {
        fprintf(stderr, "desktop_png_diff: %s: %s\n", path, img.message);
        return NULL;
    }
    img.format = PNG_FORMAT_RGB;
    unsigned char *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!buf || !png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        fprintf(stderr, "desktop_png_diff: %s: %s\n", path, img.message);
        free(buf);
        png_image_free(&img);
        return NULL;
    }
    *w = (int)img.width;
    *h = (int)img.height;
    return buf;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4 && argc != 8) {
        fprintf(stderr, "usage: desktop_png_diff A.png B.png [THRESHOLD [X Y W H]]\n");
        return 2;
    }
    int wa, ha, wb, hb;
    unsigned char *a = load(argv[1], &wa, &ha), *b = load(argv[2], &wb, &hb);
    if (!a || !b || wa != wb || ha != hb) {
        if (a && b)
            fprintf(stderr, "desktop_png_diff: sizes differ: %dx%d and %dx%d\n", wa, ha, wb, hb);
        free(a);
        free(b);
        return 1;
    }
    int threshold = argc >= 4 ? atoi(argv[3]) : 48;
    int x0 = 0, y0 = 0, x1 = wa, y1 = ha;
    if (argc == 8) {
        x0 = atoi(argv[4]);
        y0 = atoi(argv[5]);
        x1 = x0 + atoi(argv[6]);
        y1 = y0 + atoi(argv[7]);
        if (x0 < 0) x0 = 0;
        if (y0 < 0) y0 = 0;
        if (x1 > wa) x1 = wa;
        if (y1 > ha) y1 = ha;
    }
    long blocks = 0, total = 0;
    for (int by = y0; by < y1; by += 8)
        for (int bx = x0; bx < x1; bx += 8) {
            total++;
            int worst = 0;
            for (int y = by; y < by + 8 && y < y1; y++)
                for (int x = bx; x < bx + 8 && x < x1; x++)
                    for (int k = 0; k < 3; k++) {
                        int d = abs(a[((size_t)y * wa + x) * 3 + k] - b[((size_t)y * wa + x) * 3 + k]);
                        if (d > worst)
                            worst = d;
                    }
            if (worst > threshold)
                blocks++;
        }
    printf("blocks %ld of %ld\n", blocks, total);
    free(a);
    free(b);
    return 0;
}
