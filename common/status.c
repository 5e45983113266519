/* status.c: text for tdm_status and the tdm_fail helper. */
#include "tdm_status.h"

#include <stdarg.h>
#include <stdio.h>

const char *tdm_status_str(tdm_status status)
{
    switch (status) {
#define TDM_STATUS_CASE(name, value, text) \
    case name:                             \
        return text;
        TDM_STATUS_MAP(TDM_STATUS_CASE)
#undef TDM_STATUS_CASE
    }
    return "unknown status";
}

tdm_status tdm_fail(tdm_error *err, tdm_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}
