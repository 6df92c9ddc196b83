#ifndef EMOVOX_AV_COMMON_H
#define EMOVOX_AV_COMMON_H
// What the video and audio decoders share (private to this target: not in include/, so not seen from Swift).
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <stdio.h>

// The reason for `err`: what failed, with libav's own words for a negative code.
static inline void emv_fail(char *err, int errlen, const char *what, int code) {
    char reason[AV_ERROR_MAX_STRING_SIZE] = "";
    if (code < 0) av_strerror(code, reason, sizeof reason);
    snprintf(err, (size_t)errlen, "%s%s%s", what, code < 0 ? ": " : "", reason);
}

// Frees a decoder's libav state (each pointer may be NULL).
static inline void emv_free_av(AVFilterGraph **graph, AVCodecContext **codec, AVFormatContext **format, AVPacket **packet,
                               AVFrame **decoded, AVFrame **filtered) {
    avfilter_graph_free(graph);
    avcodec_free_context(codec);
    avformat_close_input(format);
    av_packet_free(packet);
    av_frame_free(decoded);
    av_frame_free(filtered);
}

#endif
