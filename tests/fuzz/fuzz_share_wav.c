/* fuzz_share_wav: feeds arbitrary bytes to tandem-share's WAV header parser
 * (clients/share_audio.h, the file behind --audio) and holds it to its
 * contract: an accepted file is 16-bit PCM at 48 kHz with 1 or 2 channels,
 * its samples lie inside the bytes given and are whole frames; a refusal
 * is FORMAT or UNSUPPORTED with a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "share_audio.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_share_wav: invariant failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tdm_wav_info info;
    tdm_error err = {{0}};
    tdm_status st = tdm_wav_parse(data, size, &info, &err);
    if (st == TDM_OK) {
        CHECK(info.channels == 1 || info.channels == 2);
        CHECK(info.rate == 48000);
        CHECK(info.data_len > 0);
        CHECK(info.data_len % (size_t)(2 * info.channels) == 0);
        CHECK(info.data_offset <= size && info.data_len <= size - info.data_offset);
    } else {
        CHECK(st == TDM_ERR_FORMAT || st == TDM_ERR_UNSUPPORTED);
        CHECK(err.msg[0] != 0);
    }
    return 0;
}
