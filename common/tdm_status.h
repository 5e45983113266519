/* tdm_status: the one error vocabulary of Tandem.
 *
 * Every fallible function returns a tdm_status. Success is TDM_OK (zero);
 * errors are negative. TDM_AGAIN ("nothing now, call again") and TDM_EOF
 * ("the stream ended cleanly") are positive because they are not failures.
 * Functions that can say more than the code (a parser naming the bad field)
 * fill a caller-provided tdm_error, which may be NULL. */
#ifndef TDM_STATUS_H
#define TDM_STATUS_H

#include <stddef.h>

#define TDM_STATUS_MAP(X)                                              \
    X(TDM_OK, 0, "ok")                                                 \
    X(TDM_AGAIN, 1, "nothing available now, try again")                \
    X(TDM_EOF, 2, "end of stream")                                     \
    X(TDM_ERR_INVALID, -1, "invalid argument")                         \
    X(TDM_ERR_NOMEM, -2, "out of memory")                              \
    X(TDM_ERR_IO, -3, "input/output error")                            \
    X(TDM_ERR_FORMAT, -4, "malformed input")                           \
    X(TDM_ERR_TRUNCATED, -5, "input is truncated")                     \
    X(TDM_ERR_UNSUPPORTED, -6, "unsupported")                          \
    X(TDM_ERR_RANGE, -7, "value out of range")                         \
    X(TDM_ERR_UNAVAILABLE, -8, "resource unavailable")

typedef enum tdm_status {
#define TDM_STATUS_ENUM(name, value, text) name = value,
    TDM_STATUS_MAP(TDM_STATUS_ENUM)
#undef TDM_STATUS_ENUM
} tdm_status;

/* Human-readable text for a status; never NULL. */
const char *tdm_status_str(tdm_status status);

/* Detail for an error, written by the function that failed. */
typedef struct tdm_error {
    char msg[256];
} tdm_error;

/* Formats into err (if not NULL) and returns status, so a failing path reads
 * `return tdm_fail(err, TDM_ERR_FORMAT, "bad width '%s'", w);`. */
tdm_status tdm_fail(tdm_error *err, tdm_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
