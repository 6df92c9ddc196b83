#ifndef EMOVOX_AUDIO_DECODE_H
#define EMOVOX_AUDIO_DECODE_H

// In-process audio decoding for EmovoxAudio (libavformat + libavcodec + libavfilter). It does what
// `ffmpeg -i FILE -vn -ac 1 -ar RATE -f f32le -` does, without starting a process, streamed in chunks, and can
// read a part [start, end) of the file by seeking (a 2 s utterance of a 30-minute recording costs 2 s of decoding).

typedef struct emv_audio emv_audio;

// Opens the best audio stream of `path`, resampled to `rate` Hz mono float. `start`/`end` in seconds of the media's
// time line (the container's start time subtracted, as the ffmpeg tool does); start ≤ 0 = from the beginning,
// end ≤ 0 = to the end. NULL on failure, with the reason in `err`.
emv_audio *emv_audio_open(const char *path, int rate, double start, double end, char *err, int errlen);

// Up to `capacity` next samples into `out`: their count, 0 at the end, -1 on error (reason in `err`).
int emv_audio_read(emv_audio *a, float *out, int capacity, char *err, int errlen);

// The container's (else the audio stream's) duration in seconds; -1 when unknown.
double emv_audio_duration(const emv_audio *a);

void emv_audio_close(emv_audio *a);

// Reads the stream information only (no decoding): 1 when the file has an audio stream, 0 when it has none,
// -1 when it cannot be opened (reason in `err`). `duration` as emv_audio_duration.
int emv_audio_probe(const char *path, double *duration, char *err, int errlen);

#endif
