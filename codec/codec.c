/* codec.c: names of codecs. */
#include "tdm_codec.h"

#include <string.h>

const char *tdm_codec_name(tdm_codec c)
{
    switch (c) {
    case TDM_CODEC_VP8:
        return "vp8";
    case TDM_CODEC_VP9:
        return "vp9";
    case TDM_CODEC_OPUS:
        return "opus";
    }
    return "unknown";
}

bool tdm_codec_parse(const char *name, tdm_codec *out)
{
    static const tdm_codec all[] = {TDM_CODEC_VP8, TDM_CODEC_VP9, TDM_CODEC_OPUS};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(name, tdm_codec_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}
