/* recording_webm_check: checks a WebM file that tandem-replay exported.
 *
 *   recording_webm_check FILE.webm --frames N [--first F] [--opus] [--missing A:B]
 *
 * --missing A:B: frames A..B-1 must be absent (a gap in the recording) and
 * the numbers jump from A-1 to B; N counts the frames present.
 * Demuxes with libavformat, decodes every video packet with codec/'s
 * decoder, reads the frame stamp (capture/tdm_stamp.h) of each picture and
 * checks that the frame numbers run F, F+1, ... in order with none missing
 * (N of them; N = 0 means "at least one, in order, no gaps"), that packet
 * times increase, that an Opus stream is there with --opus, and that the
 * file seeks: a seek to the middle lands on a keyframe at or before it.
 * Prints "ok: K frames, stamps A..B" and exits 0, else says what is wrong
 * and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "tdm_stamp.h"
#include "tdm_video_decoder.h"

static int fail(const char *msg)
{
    fprintf(stderr, "recording_webm_check: %s\n", msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fail("usage: recording_webm_check FILE --frames N [--first F] [--opus]");
    long want = 0, first = 0;
    bool want_opus = false;
    long miss_from = -1, miss_to = -1;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--frames") && i + 1 < argc)
            want = atol(argv[++i]);
        else if (!strcmp(argv[i], "--first") && i + 1 < argc)
            first = atol(argv[++i]);
        else if (!strcmp(argv[i], "--opus"))
            want_opus = true;
        else if (!strcmp(argv[i], "--missing") && i + 1 < argc &&
                 sscanf(argv[++i], "%ld:%ld", &miss_from, &miss_to) == 2)
            ;
        else
            return fail("bad argument");
    }
    AVFormatContext *fc = NULL;
    if (avformat_open_input(&fc, argv[1], NULL, NULL) < 0 ||
        avformat_find_stream_info(fc, NULL) < 0)
        return fail("libavformat cannot open the file");
    if (strstr(fc->iformat->name, "webm") == NULL && strstr(fc->iformat->name, "matroska") == NULL)
        return fail("not a WebM/Matroska file");
    int vi = -1, ai = -1;
    for (unsigned i = 0; i < fc->nb_streams; i++) {
        const AVCodecParameters *p = fc->streams[i]->codecpar;
        if (p->codec_type == AVMEDIA_TYPE_VIDEO && vi < 0)
            vi = (int)i;
        if (p->codec_type == AVMEDIA_TYPE_AUDIO && p->codec_id == AV_CODEC_ID_OPUS && ai < 0)
            ai = (int)i;
    }
    if (vi < 0)
        return fail("no video stream");
    if (want_opus && ai < 0)
        return fail("no Opus stream");
    enum AVCodecID id = fc->streams[vi]->codecpar->codec_id;
    if (id != AV_CODEC_ID_VP8 && id != AV_CODEC_ID_VP9)
        return fail("video is neither VP8 nor VP9");
    tdm_video_decoder_config dcfg;
    tdm_video_decoder_config_init(&dcfg, id == AV_CODEC_ID_VP8 ? TDM_CODEC_VP8 : TDM_CODEC_VP9);
    tdm_video_decoder *dec;
    tdm_error err = {{0}};
    if (tdm_video_decoder_new(&dcfg, &dec, &err) != TDM_OK)
        return fail(err.msg);
    AVPacket *pkt = av_packet_alloc();
    long count = 0, expect = first, audio = 0;
    int64_t last_pts = INT64_MIN, end_pts = 0;
    char msg[256];
    while (av_read_frame(fc, pkt) >= 0) {
        if (pkt->stream_index == ai)
            audio++;
        if (pkt->stream_index != vi) {
            av_packet_unref(pkt);
            continue;
        }
        if (pkt->pts <= last_pts) {
            snprintf(msg, sizeof msg, "video times do not increase (%lld after %lld)",
                     (long long)pkt->pts, (long long)last_pts);
            return fail(msg);
        }
        last_pts = end_pts = pkt->pts;
        tdm_i420 pic;
        bool produced;
        if (tdm_video_decoder_decode(dec, pkt->data, (size_t)pkt->size, &pic, &produced, &err) !=
            TDM_OK)
            return fail(err.msg);
        if (produced) {
            tdm_stamp s;
            if (tdm_stamp_read_luma(pic.y, pic.stride_y, pic.width, pic.height, 0, 0, &s) !=
                TDM_OK) {
                snprintf(msg, sizeof msg, "picture %ld has no readable stamp", count);
                return fail(msg);
            }
            if (expect == miss_from)
                expect = miss_to;
            if ((long)s.frame_number != expect) {
                snprintf(msg, sizeof msg, "picture %ld carries frame %u, expected %ld", count,
                         s.frame_number, expect);
                return fail(msg);
            }
            expect++;
            count++;
        }
        av_packet_unref(pkt);
    }
    if (count == 0 || (want && count != want)) {
        snprintf(msg, sizeof msg, "%ld frames decoded, expected %ld", count, want);
        return fail(msg);
    }
    if (want_opus && audio == 0)
        return fail("the Opus stream has no packets");
    /* Seekable: cues let a seek to the middle land on a keyframe before it. */
    int64_t mid = end_pts / 2;
    if (av_seek_frame(fc, vi, mid, AVSEEK_FLAG_BACKWARD) < 0)
        return fail("seek failed");
    for (;;) {
        if (av_read_frame(fc, pkt) < 0)
            return fail("nothing to read after a seek");
        if (pkt->stream_index == vi)
            break;
        av_packet_unref(pkt);
    }
    if (!(pkt->flags & AV_PKT_FLAG_KEY) || pkt->pts > mid)
        return fail("a seek to the middle did not land on a keyframe at or before it");
    av_packet_free(&pkt);
    printf("ok: %ld frames, stamps %ld..%ld, %ld audio packets\n", count, first, expect - 1, audio);
    tdm_video_decoder_free(dec);
    avformat_close_input(&fc);
    return 0;
}
