#ifndef EMOVOX_VIDEO_DECODE_H
#define EMOVOX_VIDEO_DECODE_H

// In-process video decoding for EmovoxVision (libavformat + libavcodec + libavfilter). It does what
// `ffmpeg -i FILE -vf FILTERS -f rawvideo -pix_fmt rgb24 -` does, without starting a process: on a 2 s clip
// the ffmpeg process start-up (~0.1 s loading its libraries) cost as much as detecting faces in all 8 frames.

typedef struct emv_video emv_video;

typedef struct {
    int width, height;
    int linesize;              // bytes from one row to the next (≥ 3 × width)
    const unsigned char *rgb;  // packed RGB24; valid until the next emv_video_next or emv_video_close
} emv_frame;

// Opens the best video stream of `path`. `threads`: decoder threads (0 = FFmpeg's choice). NULL on failure, with
// the reason in `err`.
emv_video *emv_video_open(const char *path, int threads, char *err, int errlen);

// The filtergraph every frame passes through, ending in rgb24 (e.g. "fps=25/6,format=rgb24"); set once, before
// the first emv_video_next. 0 on success.
int emv_video_set_filters(emv_video *v, const char *filters);

// 1: `out` holds the next frame; 0: end of the stream; -1: error, reason in `err`.
int emv_video_next(emv_video *v, emv_frame *out, char *err, int errlen);

// The stream's frame rate as the ffmpeg tool guesses it (r_frame_rate, else avg_frame_rate); -1 when unknown.
int emv_video_frame_rate(const emv_video *v, int *num, int *den);

// Jumps to the key frame at or before `seconds` (media time, as the frames' timestamps count it), before the first
// emv_video_next; the filters then drop what precedes the wanted start. 0 on success.
int emv_video_seek(emv_video *v, double seconds);

void emv_video_close(emv_video *v);

#endif
