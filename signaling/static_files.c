/* static_files.c: URL path to web-root file (tdm_sig_static.h). */
#include "tdm_sig_static.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Decodes %XX; false on a bad escape or a decoded NUL. */
static bool url_decode(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p; p++) {
        char ch = *p;
        if (ch == '%') {
            unsigned v;
            if (!p[1] || !p[2] || sscanf(p + 1, "%2x", &v) != 1 || v == 0)
                return false;
            ch = (char)v;
            p += 2;
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = ch;
    }
    out[o] = '\0';
    return true;
}

bool tdm_sig_static_map(const char *root, const char *url_path, char *out, size_t cap)
{
    char path[1024];
    if (!root || !url_path || url_path[0] != '/' || !url_decode(url_path, path, sizeof path))
        return false;
    if (strchr(path, '\\') || strstr(path, "//"))
        return false;
    /* Every segment: non-empty (but a trailing '/'), no leading dot. */
    for (const char *seg = path + 1; *seg;) {
        const char *end = strchr(seg, '/');
        if (seg[0] == '.')
            return false;
        if (!end)
            break;
        seg = end + 1;
    }
    size_t n = strlen(path);
    int w = snprintf(out, cap, "%s%s%s", root, path, path[n - 1] == '/' ? "index.html" : "");
    return w > 0 && (size_t)w < cap;
}

const char *tdm_sig_static_mime(const char *path)
{
    static const struct {
        const char *ext, *type;
    } map[] = {
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".wasm", "application/wasm"},
        {".txt", "text/plain; charset=utf-8"},
        {".webm", "video/webm"},
    };
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (strcasecmp(dot, map[i].ext) == 0)
                return map[i].type;
    return "application/octet-stream";
}

bool tdm_sig_static_under(const char *root, const char *file)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    return strncmp(root, file, n) == 0 && (file[n] == '/' || (n == 1 && root[0] == '/'));
}
