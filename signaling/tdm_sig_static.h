/* tdm_sig_static: which file a GET for a static page means, sans-IO.
 *
 * Owns the mapping of a URL path to a path under the web root and its
 * Content-Type, refusing anything that could leave the root: "..", empty or
 * dot-file segments, backslashes, NUL and percent-escapes of any of them.
 * The shell then checks with realpath that the resolved file (symlinks
 * followed) still lies under the root. */
#ifndef TDM_SIG_STATIC_H
#define TDM_SIG_STATIC_H

#include <stdbool.h>
#include <stddef.h>

/* Maps url_path ("/", "/js/app.js") to root + relative file path in out
 * ("/" and paths ending in "/" get "index.html"). false if refused or it
 * does not fit cap. */
bool tdm_sig_static_map(const char *root, const char *url_path, char *out, size_t cap);

/* Content-Type by extension; "application/octet-stream" if unknown. */
const char *tdm_sig_static_mime(const char *path);

/* Whether file (a realpath) lies under root (a realpath). */
bool tdm_sig_static_under(const char *root, const char *file);

#endif
