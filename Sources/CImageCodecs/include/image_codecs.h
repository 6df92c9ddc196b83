#ifndef EMOVOX_IMAGE_CODECS_H
#define EMOVOX_IMAGE_CODECS_H
#include <stddef.h>

// In-memory PNG/JPEG decoding for EmovoxVision. libpng and libjpeg report errors by longjmp from their
// error callbacks; that must never cross Swift frames, so setjmp lives here and every failure comes back
// as a status code with the library's message.

typedef enum { EMX_OK = 0, EMX_ERROR = 1, EMX_UNSUPPORTED = 2 } emx_status;

typedef struct {
    int width, height;
    int channels;            // 1 (grey) or 3 (RGB, interleaved); alpha is dropped
    unsigned char *pixels;   // malloc'd, width * height * channels bytes; free with emx_image_free
    char message[256];       // set on EMX_ERROR / EMX_UNSUPPORTED
} emx_image;

// PNG of any colour type and bit depth: palette and grey < 8 bits expanded, 16-bit reduced to the high
// byte (as OpenCV's 8-bit read does), alpha and tRNS dropped, interlacing undone.
emx_status emx_decode_png(const unsigned char *data, size_t size, emx_image *out);

// Baseline or progressive JPEG to grey (1 component) or RGB (YCbCr); CMYK/YCCK → EMX_UNSUPPORTED.
// Data missing before the end of the image is an error (libjpeg would only warn and fill with grey).
emx_status emx_decode_jpeg(const unsigned char *data, size_t size, emx_image *out);

void emx_image_free(emx_image *img);

#endif
