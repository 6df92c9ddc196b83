#include "audio_decode.h"
#include "av_common.h"
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersrc.h>
#include <libavfilter/buffersink.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

// Decoded audio before `start` that is decoded anyway after a seek: the decoder's first frames after a jump lack
// their predecessors (the MDCT overlap of AAC, the bit reservoir of MP3), so they differ from a decode of the whole
// file. From half a second on, the samples equal the whole file's (a test checks it).
#define EMV_SEEK_MARGIN 0.5

struct emv_audio {
    AVFormatContext *format;
    AVCodecContext *codec;
    AVFilterGraph *graph;          // built on the first decoded frame, from its rate, layout and sample format
    AVFilterContext *source, *sink;
    AVPacket *packet;
    AVFrame *decoded, *filtered;
    int stream, rate;
    int64_t start_time;            // the container's start time in the stream's time base, subtracted as the tool does
    int64_t trim_from;             // first input sample (at the input rate) fed to the resampler after a seek; 0: none
    int64_t skip_to, stop_at;      // output sample range wanted, on the whole file's output grid; stop_at < 0: no end
    int64_t position;              // output grid index of filtered->data[offset]; -1 before the first output frame
    int offset;                    // samples of `filtered` already delivered or skipped
    int input_done, decoder_done, filters_done;
};


static double duration_of(const AVFormatContext *f, int stream) {
    if (f->duration > 0) return f->duration / (double)AV_TIME_BASE;
    if (stream >= 0) {
        const AVStream *st = f->streams[stream];
        if (st->duration > 0) return st->duration * av_q2d(st->time_base);
    }
    return -1;
}

void emv_audio_close(emv_audio *a) {
    if (!a) return;
    emv_free_av(&a->graph, &a->codec, &a->format, &a->packet, &a->decoded, &a->filtered);
    av_free(a);
}

static int open_input(AVFormatContext **f, const char *path, char *err, int errlen) {
    av_log_set_level(AV_LOG_QUIET);  // errors come back through `err`, not on stderr
    int r = avformat_open_input(f, path, NULL, NULL);
    if (r < 0) { emv_fail(err, errlen, "cannot open as media", r); return r; }
    if ((r = avformat_find_stream_info(*f, NULL)) < 0) { emv_fail(err, errlen, "cannot read the stream information", r); return r; }
    return 0;
}

int emv_audio_probe(const char *path, double *duration, char *err, int errlen) {
    AVFormatContext *f = NULL;
    if (open_input(&f, path, err, errlen) < 0) { avformat_close_input(&f); return -1; }
    int stream = av_find_best_stream(f, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    *duration = duration_of(f, stream >= 0 ? stream : -1);
    avformat_close_input(&f);
    return stream >= 0 ? 1 : 0;
}

static int64_t gcd64(int64_t a, int64_t b) { while (b) { int64_t t = a % b; a = b; b = t; } return a; }

emv_audio *emv_audio_open(const char *path, int rate, double start, double end, char *err, int errlen) {
    emv_audio *a = av_mallocz(sizeof *a);
    if (!a) { emv_fail(err, errlen, "out of memory", 0); return NULL; }
    a->packet = av_packet_alloc(); a->decoded = av_frame_alloc(); a->filtered = av_frame_alloc();
    a->rate = rate; a->position = -1;
    if (!a->packet || !a->decoded || !a->filtered) { emv_fail(err, errlen, "out of memory", 0); goto bad; }
    if (open_input(&a->format, path, err, errlen) < 0) goto bad;
    const AVCodec *decoder = NULL;
    a->stream = av_find_best_stream(a->format, AVMEDIA_TYPE_AUDIO, -1, -1, &decoder, 0);
    if (a->stream < 0) { emv_fail(err, errlen, a->stream == AVERROR_DECODER_NOT_FOUND ? "no decoder for the audio stream" : "no audio stream", 0); goto bad; }
    AVStream *st = a->format->streams[a->stream];
    a->start_time = a->format->start_time == AV_NOPTS_VALUE ? 0 : av_rescale_q(a->format->start_time, AV_TIME_BASE_Q, st->time_base);
    a->codec = avcodec_alloc_context3(decoder);
    if (!a->codec) { emv_fail(err, errlen, "out of memory", 0); goto bad; }
    int r;
    if ((r = avcodec_parameters_to_context(a->codec, st->codecpar)) < 0) { emv_fail(err, errlen, "bad codec parameters", r); goto bad; }
    a->codec->thread_count = 1;
    a->codec->pkt_timebase = st->time_base;
    if ((r = avcodec_open2(a->codec, decoder, NULL)) < 0) { emv_fail(err, errlen, "cannot open the audio decoder", r); goto bad; }

    a->skip_to = start > 0 ? llround(start * rate) : 0;
    a->stop_at = end > 0 ? llround(end * rate) : -1;
    int in_rate = a->codec->sample_rate;
    if (start > EMV_SEEK_MARGIN && in_rate > 0) {
        // Restart the resampler on an instant that is a whole sample at both rates (a multiple of 1/gcd seconds), so
        // its output grid is the whole file's and the samples after the margin are the same.
        int64_t g = gcd64(in_rate, rate);
        int64_t whole = (int64_t)floor((start - EMV_SEEK_MARGIN) * g);  // in units of 1/g s
        if (whole > 0) {
            a->trim_from = whole * (in_rate / g);
            int64_t ts = av_rescale_q(whole, (AVRational){1, (int)g}, st->time_base) + a->start_time;
            // A file that cannot seek (or not that far) is read from its beginning: atrim and the skip still cut it.
            if (av_seek_frame(a->format, a->stream, ts, AVSEEK_FLAG_BACKWARD) >= 0) avcodec_flush_buffers(a->codec);
        }
    }
    return a;
bad:
    emv_audio_close(a);
    return NULL;
}

double emv_audio_duration(const emv_audio *a) { return duration_of(a->format, a->stream); }

// "abuffer → [atrim →] aformat(flt, RATE, mono) → abuffersink": the resampler the graph inserts before aformat is the
// one the ffmpeg tool's `-ac 1 -ar RATE` gets (its output filter is that aformat).
static int build_graph(emv_audio *a, const AVFrame *f, char *err, int errlen) {
    AVChannelLayout layout = {0};
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) av_channel_layout_default(&layout, f->ch_layout.nb_channels);  // as the tool guesses
    else av_channel_layout_copy(&layout, &f->ch_layout);
    char layout_name[128] = "", args[320], filters[256];
    av_channel_layout_describe(&layout, layout_name, sizeof layout_name);
    av_channel_layout_uninit(&layout);
    // Timestamps in samples of the input rate, so atrim cuts at an exact sample.
    snprintf(args, sizeof args, "time_base=1/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             f->sample_rate, f->sample_rate, av_get_sample_fmt_name(f->format), layout_name);
    char trim[64] = "";
    if (a->trim_from > 0) snprintf(trim, sizeof trim, "atrim=start_pts=%lld,", (long long)a->trim_from);
    snprintf(filters, sizeof filters, "%saformat=sample_fmts=flt:sample_rates=%d:channel_layouts=mono", trim, a->rate);
    AVFilterInOut *outputs = avfilter_inout_alloc(), *inputs = avfilter_inout_alloc();
    int r = AVERROR(ENOMEM);
    a->graph = avfilter_graph_alloc();
    if (!outputs || !inputs || !a->graph) goto done;
    a->graph->nb_threads = 1;
    if ((r = avfilter_graph_create_filter(&a->source, avfilter_get_by_name("abuffer"), "in", args, NULL, a->graph)) < 0) goto done;
    if ((r = avfilter_graph_create_filter(&a->sink, avfilter_get_by_name("abuffersink"), "out", NULL, NULL, a->graph)) < 0) goto done;
    outputs->name = av_strdup("in"); outputs->filter_ctx = a->source; outputs->pad_idx = 0; outputs->next = NULL;
    inputs->name = av_strdup("out"); inputs->filter_ctx = a->sink; inputs->pad_idx = 0; inputs->next = NULL;
    if ((r = avfilter_graph_parse_ptr(a->graph, filters, &inputs, &outputs, NULL)) < 0) goto done;
    r = avfilter_graph_config(a->graph, NULL);
done:
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    if (r < 0) emv_fail(err, errlen, "cannot set up the audio filters", r);
    return r;
}

// The next filtered frame into a->filtered: 1, 0 at the end, -1 on error.
static int next_frame(emv_audio *a, char *err, int errlen) {
    for (;;) {
        if (a->graph) {
            av_frame_unref(a->filtered);
            int r = av_buffersink_get_frame(a->sink, a->filtered);
            if (r >= 0) return 1;
            if (r == AVERROR_EOF) return 0;
            if (r != AVERROR(EAGAIN)) { emv_fail(err, errlen, "audio filters failed", r); return -1; }
            if (a->filters_done) return 0;
        } else if (a->decoder_done) {
            return 0;  // the stream ended before any frame was decoded
        }
        if (!a->decoder_done) {
            int r = avcodec_receive_frame(a->codec, a->decoded);
            if (r >= 0) {
                if (!a->graph && build_graph(a, a->decoded, err, errlen) < 0) return -1;
                AVFilterLink *in = a->source->outputs[0];
                if (a->decoded->sample_rate != in->sample_rate || a->decoded->format != in->format
                    || a->decoded->ch_layout.nb_channels != in->ch_layout.nb_channels) {
                    emv_fail(err, errlen, "the sample rate, format or channel count changes within the audio stream", 0); return -1;
                }
                int64_t ts = a->decoded->best_effort_timestamp;
                AVRational tb = a->format->streams[a->stream]->time_base;
                a->decoded->pts = ts == AV_NOPTS_VALUE ? ts : av_rescale_q(ts - a->start_time, tb, (AVRational){1, a->decoded->sample_rate});
                // Containers that keep coarser times than samples (FLV: milliseconds) misplace a frame after a seek by up
                // to half a tick; frames of a constant size sit on a grid of that size, so the nearest grid point is exact.
                int frame = a->codec->frame_size;
                if (a->trim_from > 0 && ts != AV_NOPTS_VALUE && frame > 0 && tb.den / (tb.num > 0 ? tb.num : 1) < a->decoded->sample_rate
                    && a->decoded->nb_samples == frame)
                    a->decoded->pts = (a->decoded->pts + frame / 2) / frame * frame;
                r = av_buffersrc_add_frame_flags(a->source, a->decoded, 0);
                av_frame_unref(a->decoded);
                if (r < 0) { emv_fail(err, errlen, "audio filters failed", r); return -1; }
                continue;
            }
            if (r == AVERROR_EOF) {
                a->decoder_done = 1;
                if (!a->graph) return 0;
                if ((r = av_buffersrc_add_frame_flags(a->source, NULL, 0)) < 0) { emv_fail(err, errlen, "audio filters failed", r); return -1; }
                a->filters_done = 1;
                continue;
            }
            if (r != AVERROR(EAGAIN)) { emv_fail(err, errlen, "audio decoding failed", r); return -1; }
        } else {
            continue;
        }
        if (a->input_done) { emv_fail(err, errlen, "the decoder stalled", 0); return -1; }
        int r = av_read_frame(a->format, a->packet);
        if (r < 0) {
            a->input_done = 1;  // end of file, or a read error after some packets: the decoder is flushed, as the tool does
            avcodec_send_packet(a->codec, NULL);
            continue;
        }
        // A damaged packet is skipped and the stream goes on (the ffmpeg tool logs it and continues too).
        if (a->packet->stream_index == a->stream) avcodec_send_packet(a->codec, a->packet);
        av_packet_unref(a->packet);
    }
}

int emv_audio_read(emv_audio *a, float *out, int capacity, char *err, int errlen) {
    int n = 0;
    while (n < capacity) {
        if (a->stop_at >= 0 && a->position >= a->stop_at) break;
        if (a->position < 0 || a->offset >= a->filtered->nb_samples) {
            int r = next_frame(a, err, errlen);
            if (r < 0) return -1;
            if (r == 0) break;
            a->offset = 0;
            if (a->position < 0) {
                // Without a seek the output counts from the first sample, as the tool writes it; after one, the
                // first frame's timestamp places it on the whole file's grid.
                a->position = a->trim_from > 0 && a->filtered->pts != AV_NOPTS_VALUE
                    ? av_rescale_q(a->filtered->pts, av_buffersink_get_time_base(a->sink), (AVRational){1, a->rate}) : 0;
            }
        }
        int available = a->filtered->nb_samples - a->offset;
        if (a->position < a->skip_to) {
            int64_t skip = a->skip_to - a->position;
            int k = skip < available ? (int)skip : available;
            a->offset += k; a->position += k;
            continue;
        }
        int k = capacity - n < available ? capacity - n : available;
        if (a->stop_at >= 0 && a->position + k > a->stop_at) k = (int)(a->stop_at - a->position);
        memcpy(out + n, (const float *)a->filtered->data[0] + a->offset, (size_t)k * sizeof(float));
        n += k; a->offset += k; a->position += k;
    }
    return n;
}
