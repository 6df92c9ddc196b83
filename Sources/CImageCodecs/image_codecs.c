#include "image_codecs.h"
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>
#include <jpeglib.h>
#include <jerror.h>

// Larger images are refused before allocation (corrupt headers can claim 2^31 × 2^31 pixels).
static const uint64_t max_pixels = (uint64_t)1 << 28;

static void set_message(emx_image *out, const char *msg) {
    strncpy(out->message, msg, sizeof out->message - 1);
    out->message[sizeof out->message - 1] = 0;
}

void emx_image_free(emx_image *img) {
    free(img->pixels);
    img->pixels = NULL;
}

// ---- PNG ----------------------------------------------------------------------------------------

typedef struct {
    jmp_buf jump;
    const unsigned char *data;
    size_t size, pos;
    emx_image *out;
    png_bytep *rows;
} png_source;

static void png_fail(png_structp png, png_const_charp msg) {
    png_source *src = (png_source *)png_get_error_ptr(png);
    set_message(src->out, msg);
    longjmp(src->jump, 1);
}

static void png_ignore_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void png_read_memory(png_structp png, png_bytep dst, png_size_t n) {
    png_source *src = (png_source *)png_get_io_ptr(png);
    if (n > src->size - src->pos) png_error(png, "truncated: the file ends inside the image");
    memcpy(dst, src->data + src->pos, n);
    src->pos += n;
}

emx_status emx_decode_png(const unsigned char *data, size_t size, emx_image *out) {
    memset(out, 0, sizeof *out);
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        set_message(out, "not a PNG file (bad signature)");
        return EMX_ERROR;
    }
    png_source src = {.data = data, .size = size, .pos = 0, .out = out, .rows = NULL};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_fail, png_ignore_warning);
    if (!png) { set_message(out, "out of memory"); return EMX_ERROR; }
    png_infop info = png_create_info_struct(png);
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); set_message(out, "out of memory"); return EMX_ERROR; }
    // Everything allocated after this point lives in `src`/`out` (not in locals), so it survives the longjmp.
    if (setjmp(src.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(src.rows);
        emx_image_free(out);
        return EMX_ERROR;
    }
    png_set_read_fn(png, &src, png_read_memory);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if ((uint64_t)w * h > max_pixels) png_error(png, "image too large");
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    if ((color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    if (channels != 1 && channels != 3) png_error(png, "unexpected channel count after conversion");
    size_t stride = png_get_rowbytes(png, info);
    if (stride != (size_t)w * channels) png_error(png, "unexpected row size after conversion");
    out->pixels = (unsigned char *)malloc(stride * h);
    src.rows = (png_bytep *)malloc(sizeof(png_bytep) * h);
    if (!out->pixels || !src.rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) src.rows[y] = out->pixels + y * stride;
    png_read_image(png, src.rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(src.rows);
    out->width = (int)w; out->height = (int)h; out->channels = channels;
    return EMX_OK;
}

// ---- JPEG ---------------------------------------------------------------------------------------

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    emx_image *out;
} jpeg_failure;

static void jpeg_fail(j_common_ptr cinfo) {
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    char msg[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, msg);
    set_message(f->out, msg);
    longjmp(f->jump, 1);
}

// libjpeg only warns when entropy data ends early or is corrupt, and pads the image with grey: such a file
// must fail. Harmless warnings (extraneous bytes before a marker, odd progression) are ignored.
static void jpeg_message(j_common_ptr cinfo, int level) {
    if (level != -1) return;
    int code = cinfo->err->msg_code;
    if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE || code == JWRN_MUST_RESYNC) jpeg_fail(cinfo);
}

static void jpeg_fail_with(j_decompress_ptr cinfo, const char *msg) {
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    set_message(f->out, msg);
    longjmp(f->jump, 1);
}

static void jpeg_quiet(j_common_ptr cinfo) { (void)cinfo; }

emx_status emx_decode_jpeg(const unsigned char *data, size_t size, emx_image *out) {
    memset(out, 0, sizeof *out);
    struct jpeg_decompress_struct cinfo;
    jpeg_failure err;
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = jpeg_fail;
    err.base.emit_message = jpeg_message;
    err.base.output_message = jpeg_quiet;
    err.out = out;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        emx_image_free(out);
        return EMX_ERROR;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&cinfo);
        set_message(out, "CMYK/YCCK JPEG");
        return EMX_UNSUPPORTED;
    }
    cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if ((uint64_t)cinfo.output_width * cinfo.output_height > max_pixels) jpeg_fail_with(&cinfo, "image too large");
    size_t stride = (size_t)cinfo.output_width * cinfo.output_components;
    out->pixels = (unsigned char *)malloc(stride * cinfo.output_height);
    if (!out->pixels) jpeg_fail_with(&cinfo, "out of memory");
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = out->pixels + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    out->width = (int)cinfo.output_width; out->height = (int)cinfo.output_height;
    out->channels = cinfo.output_components;
    jpeg_destroy_decompress(&cinfo);
    return EMX_OK;
}
