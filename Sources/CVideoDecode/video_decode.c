#include "video_decode.h"
#include "av_common.h"
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersrc.h>
#include <libavfilter/buffersink.h>
#include <stdio.h>
#include <string.h>

struct emv_video {
    AVFormatContext *format;
    AVCodecContext *codec;
    AVFilterGraph *graph;          // built on the first decoded frame, from its size and pixel format
    AVFilterContext *source, *sink;
    AVPacket *packet;
    AVFrame *decoded, *filtered;
    char *filters;
    int stream;
    int64_t start;                 // the stream's start time, subtracted as the ffmpeg tool does
    int64_t end;                   // the last frame's timestamp + its duration: the end of stream for the filters
    int input_done, decoder_done;
};


void emv_video_close(emv_video *v) {
    if (!v) return;
    emv_free_av(&v->graph, &v->codec, &v->format, &v->packet, &v->decoded, &v->filtered);
    av_free(v->filters);
    av_free(v);
}

emv_video *emv_video_open(const char *path, int threads, char *err, int errlen) {
    av_log_set_level(AV_LOG_QUIET);  // errors come back through `err`, not on stderr
    emv_video *v = av_mallocz(sizeof *v);
    if (!v) { emv_fail(err, errlen, "out of memory", 0); return NULL; }
    v->packet = av_packet_alloc(); v->decoded = av_frame_alloc(); v->filtered = av_frame_alloc();
    v->end = AV_NOPTS_VALUE;
    if (!v->packet || !v->decoded || !v->filtered) { emv_fail(err, errlen, "out of memory", 0); goto bad; }
    int r = avformat_open_input(&v->format, path, NULL, NULL);
    if (r < 0) { emv_fail(err, errlen, "cannot open as a video", r); goto bad; }
    if ((r = avformat_find_stream_info(v->format, NULL)) < 0) { emv_fail(err, errlen, "cannot read the stream information", r); goto bad; }
    const AVCodec *decoder = NULL;
    v->stream = av_find_best_stream(v->format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
    if (v->stream < 0) { emv_fail(err, errlen, v->stream == AVERROR_DECODER_NOT_FOUND ? "no decoder for the video stream" : "no video stream", 0); goto bad; }
    AVStream *st = v->format->streams[v->stream];
    v->start = v->format->start_time == AV_NOPTS_VALUE ? 0 : av_rescale_q(v->format->start_time, AV_TIME_BASE_Q, st->time_base);
    v->codec = avcodec_alloc_context3(decoder);
    if (!v->codec) { emv_fail(err, errlen, "out of memory", 0); goto bad; }
    if ((r = avcodec_parameters_to_context(v->codec, st->codecpar)) < 0) { emv_fail(err, errlen, "bad codec parameters", r); goto bad; }
    v->codec->thread_count = threads;
    v->codec->pkt_timebase = st->time_base;
    if ((r = avcodec_open2(v->codec, decoder, NULL)) < 0) { emv_fail(err, errlen, "cannot open the video decoder", r); goto bad; }
    return v;
bad:
    emv_video_close(v);
    return NULL;
}

// The filtergraph "buffer → FILTERS → buffersink", for frames like `f` (as the ffmpeg tool configures it on its
// first frame, with its default bicubic swscale flags for the format conversion).
static int build_graph(emv_video *v, const AVFrame *f, char *err, int errlen) {
    AVStream *st = v->format->streams[v->stream];
    AVRational rate = av_guess_frame_rate(v->format, st, NULL);
    AVRational sar = f->sample_aspect_ratio.num ? f->sample_aspect_ratio : (AVRational){0, 1};
    char args[256];
    snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
             f->width, f->height, f->format, st->time_base.num, st->time_base.den, sar.num, sar.den);
    if (rate.num > 0 && rate.den > 0) {
        size_t n = strlen(args);
        snprintf(args + n, sizeof args - n, ":frame_rate=%d/%d", rate.num, rate.den);
    }
    AVFilterInOut *outputs = avfilter_inout_alloc(), *inputs = avfilter_inout_alloc();
    int r = AVERROR(ENOMEM);
    v->graph = avfilter_graph_alloc();
    if (!outputs || !inputs || !v->graph) goto done;
    v->graph->nb_threads = 1;
    v->graph->scale_sws_opts = av_strdup("flags=bicubic");
    if ((r = avfilter_graph_create_filter(&v->source, avfilter_get_by_name("buffer"), "in", args, NULL, v->graph)) < 0) goto done;
    if ((r = avfilter_graph_create_filter(&v->sink, avfilter_get_by_name("buffersink"), "out", NULL, NULL, v->graph)) < 0) goto done;
    outputs->name = av_strdup("in"); outputs->filter_ctx = v->source; outputs->pad_idx = 0; outputs->next = NULL;
    inputs->name = av_strdup("out"); inputs->filter_ctx = v->sink; inputs->pad_idx = 0; inputs->next = NULL;
    if ((r = avfilter_graph_parse_ptr(v->graph, v->filters, &inputs, &outputs, NULL)) < 0) goto done;
    r = avfilter_graph_config(v->graph, NULL);
done:
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    if (r < 0) emv_fail(err, errlen, "cannot set up the frame filters", r);
    return r;
}

int emv_video_set_filters(emv_video *v, const char *filters) {
    if (v->graph) return -1;
    av_free(v->filters);
    v->filters = av_strdup(filters);
    return v->filters ? 0 : -1;
}

int emv_video_next(emv_video *v, emv_frame *out, char *err, int errlen) {
    if (!v->filters) { emv_fail(err, errlen, "no filters set", 0); return -1; }
    for (;;) {
        // 1. A filtered frame waiting?
        if (v->graph) {
            av_frame_unref(v->filtered);
            int r = av_buffersink_get_frame(v->sink, v->filtered);
            if (r >= 0) {
                if (v->filtered->format != AV_PIX_FMT_RGB24) { emv_fail(err, errlen, "the filters do not end in rgb24", 0); return -1; }
                out->width = v->filtered->width; out->height = v->filtered->height;
                out->linesize = v->filtered->linesize[0]; out->rgb = v->filtered->data[0];
                return 1;
            }
            if (r == AVERROR_EOF || (r == AVERROR(EAGAIN) && v->decoder_done)) return 0;
            if (r != AVERROR(EAGAIN)) { emv_fail(err, errlen, "frame filters failed", r); return -1; }
        } else if (v->decoder_done) {
            return 0;  // the stream ended before any frame was decoded
        }
        // 2. A decoded frame for the filters?
        if (!v->decoder_done) {
            int r = avcodec_receive_frame(v->codec, v->decoded);
            if (r >= 0) {
                if (!v->graph && build_graph(v, v->decoded, err, errlen) < 0) return -1;
                AVFilterLink *in = v->source->outputs[0];
                if (v->decoded->width != in->w || v->decoded->height != in->h || v->decoded->format != in->format) {
                    emv_fail(err, errlen, "the frame size or pixel format changes within the video", 0); return -1;
                }
                int64_t ts = v->decoded->best_effort_timestamp;
                v->decoded->pts = ts == AV_NOPTS_VALUE ? ts : ts - v->start;
                if (v->decoded->pts != AV_NOPTS_VALUE) {
                    int64_t duration = v->decoded->pkt_duration;
                    if (duration <= 0) {
                        AVRational rate = av_guess_frame_rate(v->format, v->format->streams[v->stream], NULL);
                        duration = rate.num > 0 ? av_rescale_q(1, av_inv_q(rate), v->format->streams[v->stream]->time_base) : 0;
                    }
                    v->end = v->decoded->pts + duration;
                }
                r = av_buffersrc_add_frame_flags(v->source, v->decoded, 0);
                av_frame_unref(v->decoded);
                if (r < 0) { emv_fail(err, errlen, "frame filters failed", r); return -1; }
                continue;
            }
            if (r == AVERROR_EOF) {
                v->decoder_done = 1;
                if (!v->graph) return 0;
                // The end of stream at the end of the last frame, as the ffmpeg tool closes its filters: the fps
                // filter's last output frame depends on it.
                r = v->end == AV_NOPTS_VALUE ? av_buffersrc_add_frame_flags(v->source, NULL, 0)
                                             : av_buffersrc_close(v->source, v->end, AV_BUFFERSRC_FLAG_PUSH);
                if (r < 0) { emv_fail(err, errlen, "frame filters failed", r); return -1; }
                continue;
            }
            if (r != AVERROR(EAGAIN)) { emv_fail(err, errlen, "video decoding failed", r); return -1; }
        } else {
            continue;  // the filters have their end of stream; step 1 drains them
        }
        // 3. The decoder wants input: the next packet of our stream, or the end.
        if (v->input_done) { emv_fail(err, errlen, "the decoder stalled", 0); return -1; }
        int r = av_read_frame(v->format, v->packet);
        if (r < 0) {
            // End of file, or a read error after some packets: either way the decoder is flushed (as the tool does).
            v->input_done = 1;
            avcodec_send_packet(v->codec, NULL);
            continue;
        }
        if (v->packet->stream_index == v->stream) {
            // A damaged packet is skipped; the stream goes on (the ffmpeg tool logs it and continues too).
            avcodec_send_packet(v->codec, v->packet);
        }
        av_packet_unref(v->packet);
    }
}

int emv_video_seek(emv_video *v, double seconds) {
    if (v->graph || v->decoder_done) return -1;
    AVStream *st = v->format->streams[v->stream];
    int64_t ts = v->start + av_rescale_q((int64_t)(seconds * AV_TIME_BASE), AV_TIME_BASE_Q, st->time_base);
    if (av_seek_frame(v->format, v->stream, ts, AVSEEK_FLAG_BACKWARD) < 0) return -1;
    avcodec_flush_buffers(v->codec);
    return 0;
}

int emv_video_frame_rate(const emv_video *v, int *num, int *den) {
    AVRational r = av_guess_frame_rate(v->format, v->format->streams[v->stream], NULL);
    if (r.num <= 0 || r.den <= 0) return -1;
    *num = r.num; *den = r.den;
    return 0;
}

