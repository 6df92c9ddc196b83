#include "cblocked_kernels.h"
#include "cconv_kernels.h"
#include <stdlib.h>
#include <string.h>
#include "cconv_simd.h"

// Pixels a blocked map holds past its last padded row: a micro-kernel tile (at most 16 pixels, stride at most 2)
// computes whole tiles and stores only the valid pixels, so it may read this far past the bottom border.
#define SLACK_PIXELS 64
// Pixels a separable tile's scratch holds past its last row (the pointwise tile's reach, as above).
#define SCRATCH_SLACK 16


int cblk_pixel_stride(int c) { return (c + 7) & ~7; }

size_t cblk_map_floats(int h, int w, int cs) { return ((size_t)(h + 2) * (w + 2) + SLACK_PIXELS) * cs; }

void cblk_from_planes(const float *x, int c, int h, int w, int cs, float *m) {
    size_t plane = (size_t)h * w;
    for (int y = 0; y < h; y++) {
        float *row = m + ((size_t)(y + 1) * (w + 2) + 1) * cs;
        if (c == 1 && cs == 1) { memcpy(row, x + (size_t)y * w, sizeof(float) * w); continue; }  // a grey image: rows as they are
        for (int i = 0; i < w; i++) {
            for (int ch = 0; ch < c; ch++) row[(size_t)i * cs + ch] = x[ch * plane + (size_t)y * w + i];
            for (int ch = c; ch < cs; ch++) row[(size_t)i * cs + ch] = 0;
        }
    }
}

void cblk_to_planes(const float *m, int c, int h, int w, int cs, float *x) {
    size_t plane = (size_t)h * w;
    for (int y = 0; y < h; y++) {
        const float *row = m + ((size_t)(y + 1) * (w + 2) + 1) * cs;
        for (int i = 0; i < w; i++)
            for (int ch = 0; ch < c; ch++) x[ch * plane + (size_t)y * w + i] = row[(size_t)i * cs + ch];
    }
}

void cblk_pack_conv(const float *w, int cout, int cin, int kh, int kw, int cso, float *wp) {
    int taps = kh * kw;
    memset(wp, 0, sizeof(float) * (size_t)taps * cin * cso);
    for (int co = 0; co < cout; co++)
        for (int ci = 0; ci < cin; ci++)
            for (int t = 0; t < taps; t++) wp[((size_t)t * cin + ci) * cso + co] = w[((size_t)co * cin + ci) * taps + t];
}

void cblk_pack_depthwise(const float *w, int c, int cs, float *wp) {
    memset(wp, 0, sizeof(float) * 9 * (size_t)cs);
    for (int ch = 0; ch < c; ch++)
        for (int t = 0; t < 9; t++) wp[(size_t)t * cs + ch] = w[(size_t)ch * 9 + t];
}

// ---- the micro-kernel: PX output pixels x NV vectors of VL output channels, accumulators in registers ----
// Tile pixel i reads x + i * xstep (+ toff[tap] + ci); its output q = q0 + i goes to
// y + (q / wrow) * ypitch + (q % wrow) * cso (a tile may run across rows of a contiguous source, as the separable's
// scratch, or along a padded-pitch row where columns from wvalid on are the border). Only the first n pixels of
// columns below wvalid are stored; the others are computed from whatever lies past them (slack) and dropped.
#define TILE_KERNEL(NAME, ATTR, VL, NV, PX)                                                                             \
ATTR __attribute__((always_inline)) static inline void NAME(const float *x, int xstep, int ntaps, const int *toff,    \
        int cin, const float *wp, int cso, const float *bias, int relu, float *y, int q0, int wrow, int wvalid,        \
        size_t ypitch, int n) {                                                                                        \
    typedef float vec __attribute__((vector_size(VL * 4), aligned(4)));                                               \
    vec acc[PX][NV];                                                                                                   \
    UNROLL for (int v = 0; v < NV; v++) {                                                                              \
        vec b = *(const vec *)(bias + v * VL);                                                                         \
        UNROLL for (int i = 0; i < PX; i++) acc[i][v] = b;                                                             \
    }                                                                                                                  \
    for (int t = 0; t < ntaps; t++) {                                                                                  \
        const float *xt = x + toff[t], *wt = wp + (size_t)t * cin * cso;                                               \
        for (int ci = 0; ci < cin; ci++, xt++, wt += cso) {                                                            \
            vec wv[NV];                                                                                                \
            UNROLL for (int v = 0; v < NV; v++) wv[v] = *(const vec *)(wt + v * VL);                                  \
            UNROLL for (int i = 0; i < PX; i++) {                                                                      \
                float b = xt[(size_t)i * xstep];                                                                       \
                UNROLL for (int v = 0; v < NV; v++) acc[i][v] += b * wv[v];                                           \
            }                                                                                                          \
        }                                                                                                              \
    }                                                                                                                  \
    /* One division a tile (not a pixel): the row and column then advance by one pixel at a time. */                \
    int row = q0 / wrow, col = q0 - row * wrow;                                                                        \
    float *dst = y + (size_t)row * ypitch + (size_t)col * cso;                                                         \
    UNROLL for (int i = 0; i < PX; i++) {                                                                              \
        if (i < n && col < wvalid) {                                                                                   \
            UNROLL for (int v = 0; v < NV; v++)                                                                        \
                *(vec *)(dst + v * VL) = relu ? __builtin_elementwise_max(acc[i][v], (vec){0}) : acc[i][v];            \
        }                                                                                                              \
        dst += cso;                                                                                                    \
        if (++col == wrow) { col = 0; row++; dst = y + (size_t)row * ypitch; }                                         \
    }                                                                                                                  \
}

// Over `count` tile pixels (0..count) and output channels [0, cso) in blocks of the widest tile that fits (cso is a
// multiple of 8): wide tiles (VL*NV channels), one-vector tiles, then an 8-channel tile for a remainder of 8.
// The 1-tap (pointwise) and 9-tap (3x3) tiles are inlined with their tap count fixed, so the tap loop unrolls.
#define TILE_CALL(TILE, q, rest)                                                                                       \
    TILE(x + (size_t)(q) * xstep, xstep, ntaps == 9 ? 9 : ntaps == 1 ? 1 : ntaps, toff, cin, wp + co0, cso, bias + co0,\
         relu, y + co0, q, wrow, wvalid, ypitch, rest)
#define TILE_LOOP(TILE, PX)                                                                                            \
    if (ntaps == 9) for (int q = 0; q < count; q += PX) TILE_CALL(TILE, q, count - q);                           \
    else if (ntaps == 1) for (int q = 0; q < count; q += PX) TILE_CALL(TILE, q, count - q);                           \
    else for (int q = 0; q < count; q += PX) TILE_CALL(TILE, q, count - q);
#define TILE_SWEEP(NAME, ATTR, WIDE, WIDE_W, WIDE_PX, ONE, ONE_W, ONE_PX, HALF, HALF_PX)                               \
ATTR static void NAME(const float *x, int xstep, int ntaps, const int *toff, int cin, const float *wp, int cso,        \
                      const float *bias, int relu, float *y, int count, int wrow, int wvalid, size_t ypitch) {         \
    for (int co0 = 0; co0 < cso;) {                                                                                    \
        int rem = cso - co0;                                                                                           \
        if (rem >= WIDE_W) { TILE_LOOP(WIDE, WIDE_PX) co0 += WIDE_W; }                                                 \
        else if (rem >= ONE_W) { TILE_LOOP(ONE, ONE_PX) co0 += ONE_W; }                                                \
        else { TILE_LOOP(HALF, HALF_PX) co0 += 8; }                                                                    \
    }                                                                                                                  \
}

// ---- depthwise 3x3 'same' stride 1, one row, channels [c0, c0 + VL): PXD pixels at a time, so PXD independent
// accumulator chains hide the FMA latency and neighbouring pixels share their loaded inputs ----
#define DW_ROW(NAME, ATTR, VL, PXD)                                                                                     \
ATTR __attribute__((always_inline)) static inline void NAME(const float *xr, int p, int cs, int w, const float *dwp,  \
                                                            const float *dwb, int c0, float *s) {                      \
    typedef float vec __attribute__((vector_size(VL * 4), aligned(4)));                                               \
    vec k[9], b = dwb ? *(const vec *)(dwb + c0) : (vec){0};                                                          \
    UNROLL for (int t = 0; t < 9; t++) k[t] = *(const vec *)(dwp + (size_t)t * cs + c0);                              \
    int x0 = 0;                                                                                                        \
    for (; x0 + PXD <= w; x0 += PXD) {                                                                                 \
        vec acc[PXD];                                                                                                  \
        UNROLL for (int i = 0; i < PXD; i++) acc[i] = b;                                                               \
        UNROLL for (int r = 0; r < 3; r++) {                                                                           \
            const float *row = xr + ((size_t)r * p + x0) * cs + c0;                                                    \
            vec in[PXD + 2];                                                                                           \
            UNROLL for (int j = 0; j < PXD + 2; j++) in[j] = *(const vec *)(row + (size_t)j * cs);                    \
            UNROLL for (int j = 0; j < 3; j++) UNROLL for (int i = 0; i < PXD; i++) acc[i] += in[i + j] * k[r * 3 + j];\
        }                                                                                                              \
        UNROLL for (int i = 0; i < PXD; i++) *(vec *)(s + (size_t)(x0 + i) * cs + c0) = acc[i];                       \
    }                                                                                                                  \
    for (; x0 < w; x0++) {                                                                                             \
        vec acc = b;                                                                                                   \
        UNROLL for (int r = 0; r < 3; r++) UNROLL for (int j = 0; j < 3; j++)                                          \
            acc += *(const vec *)(xr + ((size_t)r * p + x0 + j) * cs + c0) * k[r * 3 + j];                             \
        *(vec *)(s + (size_t)x0 * cs + c0) = acc;                                                                      \
    }                                                                                                                  \
}

// ---- max pooling, one output row: the max over the window's rows first (whole rows, contiguous: the vectoriser's
// loop), then over each window's columns of that row, 8-channel vectors where the stride allows. `t` holds w * cs
// floats. Padding never wins: windows are clipped to the image. ----
#define POOL_ROW(NAME, ATTR)                                                                                            \
ATTR static void NAME(const float *x, int h, int w, int cs, int kh, int kw, int sh, int sw, int pad_top, int pad_left, \
                      float *y, int wo, int yo, int accumulate, float *t) {                                            \
    typedef float vec __attribute__((vector_size(32), aligned(4)));                                                   \
    int p = w + 2, y0 = yo * sh - pad_top, ya = y0 < 0 ? 0 : y0, yb = y0 + kh > h ? h : y0 + kh;                      \
    size_t n = (size_t)w * cs;                                                                                         \
    const float *r = x + ((size_t)(ya + 1) * p + 1) * cs;                                                              \
    if (yb - ya > 1) {                                                                                                 \
        const float *r1 = r + (size_t)p * cs;                                                                          \
        for (size_t i = 0; i < n; i++) t[i] = r1[i] > r[i] ? r1[i] : r[i];                                             \
        for (int yi = ya + 2; yi < yb; yi++) {                                                                         \
            const float *rk = x + ((size_t)(yi + 1) * p + 1) * cs;                                                     \
            for (size_t i = 0; i < n; i++) t[i] = rk[i] > t[i] ? rk[i] : t[i];                                         \
        }                                                                                                              \
        r = t;                                                                                                         \
    }                                                                                                                  \
    float *dst = y + ((size_t)(yo + 1) * (wo + 2) + 1) * cs;                                                           \
    for (int xo = 0; xo < wo; xo++, dst += cs) {                                                                       \
        int x0 = xo * sw - pad_left, xa = x0 < 0 ? 0 : x0, xb = x0 + kw > w ? w : x0 + kw;                             \
        int c = 0;                                                                                                     \
        for (; c + 8 <= cs; c += 8) {                                                                                  \
            vec m = *(const vec *)(r + (size_t)xa * cs + c);                                                           \
            for (int xi = xa + 1; xi < xb; xi++) m = __builtin_elementwise_max(m, *(const vec *)(r + (size_t)xi * cs + c)); \
            if (accumulate) m += *(vec *)(dst + c);                                                                    \
            *(vec *)(dst + c) = m;                                                                                     \
        }                                                                                                              \
        for (; c < cs; c++) {                                                                                          \
            float m = r[(size_t)xa * cs + c];                                                                          \
            for (int xi = xa + 1; xi < xb; xi++) { float v = r[(size_t)xi * cs + c]; m = v > m ? v : m; }            \
            dst[c] = accumulate ? dst[c] + m : m;                                                                      \
        }                                                                                                              \
    }                                                                                                                  \
}


// AVX-512: 12 x 2 zmm accumulators (24 of 32), 16 x 1, and 12 x 1 ymm for a last 8 channels.
TILE_KERNEL(tile_avx512_wide, AVX512, 16, 2, 12)
TILE_KERNEL(tile_avx512_one, AVX512, 16, 1, 16)
TILE_KERNEL(tile_avx512_half, AVX512, 8, 1, 12)
TILE_SWEEP(sweep_avx512, AVX512, tile_avx512_wide, 32, 12, tile_avx512_one, 16, 16, tile_avx512_half, 12)
// AVX2: 6 x 2 ymm (12 of 16) and 12 x 1.
TILE_KERNEL(tile_avx2_wide, AVX2, 8, 2, 6)
TILE_KERNEL(tile_avx2_one, AVX2, 8, 1, 12)
TILE_SWEEP(sweep_avx2, AVX2, tile_avx2_wide, 16, 6, tile_avx2_one, 8, 12, tile_avx2_one, 12)
// Baseline x86-64 (SSE): 6 x 2 xmm, 8 channels a tile.
TILE_KERNEL(tile_plain, PLAIN, 4, 2, 6)
TILE_SWEEP(sweep_plain, PLAIN, tile_plain, 8, 6, tile_plain, 8, 6, tile_plain, 6)

// Rows [r0, r1) of the depthwise pass into the tile scratch (row r - r0 at (r - r0) * w pixels): channel blocks of
// VL, then a last block of VLH (AVX-512: 8 channels of a 16k + 8 map).
#define DW_ROWS(NAME, ATTR, ROW, VL, ROW_HALF, VLH)                                                                     \
ATTR static void NAME(const float *x, int p, int csi, int w, const float *dwp, const float *dwb, int r0, int r1,       \
                      float *scratch) {                                                                                \
    for (int r = r0; r < r1; r++) {                                                                                    \
        /* Output row r reads padded rows r..r+2. */                                                                   \
        const float *xr = x + (size_t)r * p * csi;                                                                     \
        float *s = scratch + (size_t)(r - r0) * w * csi;                                                               \
        int c0 = 0;                                                                                                    \
        for (; c0 + VL <= csi; c0 += VL) ROW(xr, p, csi, w, dwp, dwb, c0, s);                                          \
        for (; c0 < csi; c0 += VLH) ROW_HALF(xr, p, csi, w, dwp, dwb, c0, s);                                          \
    }                                                                                                                  \
}

DW_ROW(dw_avx512, AVX512, 16, 8)
DW_ROW(dw_avx512_half, AVX512, 8, 8)
DW_ROWS(dw_rows_avx512, AVX512, dw_avx512, 16, dw_avx512_half, 8)
DW_ROW(dw_avx2, AVX2, 8, 4)
DW_ROWS(dw_rows_avx2, AVX2, dw_avx2, 8, dw_avx2, 8)
DW_ROW(dw_plain, PLAIN, 4, 4)
DW_ROWS(dw_rows_plain, PLAIN, dw_plain, 4, dw_plain, 4)

POOL_ROW(pool_avx512, AVX512)
POOL_ROW(pool_avx2, AVX2)
POOL_ROW(pool_plain, PLAIN)

static void sweep(int level, const float *x, int xstep, int ntaps, const int *toff, int cin, const float *wp, int cso,
                  const float *bias, int relu, float *y, int count, int wrow, int wvalid, size_t ypitch) {
    switch (level) {
    case CCONV_AVX512: sweep_avx512(x, xstep, ntaps, toff, cin, wp, cso, bias, relu, y, count, wrow, wvalid, ypitch); break;
    case CCONV_AVX2: sweep_avx2(x, xstep, ntaps, toff, cin, wp, cso, bias, relu, y, count, wrow, wvalid, ypitch); break;
    default: sweep_plain(x, xstep, ntaps, toff, cin, wp, cso, bias, relu, y, count, wrow, wvalid, ypitch); break;
    }
}

void cblk_conv(int level, const float *x, int h, int w, int csi, int cin, int kh, int kw, int sh, int sw,
               int pad_top, int pad_left, const float *wp, const float *bias, int relu,
               float *y, int ho, int wo, int cso, int row_lo, int row_hi) {
    (void)h; (void)ho;
    int lv = cconv_usable_level(level), pin = w + 2, pout = wo + 2;
    int toff[kh * kw];
    for (int i = 0; i < kh; i++)
        for (int j = 0; j < kw; j++) toff[i * kw + j] = (i * pin + j) * csi;
    // Stride 1 may also run along the flat pixels at the input's pitch: output (yo, xo) at flat q = yo * pin + xo reads
    // the same taps at a constant offset, and the pin - wo columns past each row are computed and dropped. Taken
    // when it computes fewer pixels than row-aligned tiles (which round every row up to a tile: 4 of 12 at 4 x 4).
    int rows = row_hi - row_lo, tile = 12, by_row = rows * ((wo + tile - 1) / tile) * tile;
    int flat_count = (rows - 1) * pin + wo, by_flat = (flat_count + tile - 1) / tile * tile;
    if (sh == 1 && sw == 1 && rows > 0 && by_flat < by_row) {
        const float *x0 = x + ((size_t)(row_lo - pad_top + 1) * pin + 1 - pad_left) * csi;
        float *y0 = y + ((size_t)(row_lo + 1) * pout + 1) * cso;
        sweep(lv, x0, csi, kh * kw, toff, cin, wp, cso, bias, relu, y0, flat_count, pin, wo, (size_t)pout * cso);
        return;
    }
    // A strided 1x1 conv (the residual shortcuts) on a narrow output would round every short row up to a whole tile
    // (4 of 12 pixels at 4 x 4): its input pixels are gathered into a contiguous block instead, and the tiles run
    // along that block across rows, as the separable's pointwise pass does. Measured (fer's shortcuts, one core):
    // 4 x 4, 8 x 8 and 15 x 15 outputs 3.5, 2.8 and 2.8 us against 6.9, 3.7 and 3.8 by rows; at 30 x 30 rows win (3.7
    // against 5.5 us: the gather costs more than the 20 % of a row's tiles it saves), hence rows shorter than two tiles.
    if (kh == 1 && kw == 1 && (sh > 1 || sw > 1) && rows > 0 && wo < 2 * tile) {
        int count = rows * wo;
        size_t floats = ((size_t)count + SCRATCH_SLACK) * csi;
        float stack[floats <= 16384 ? floats : 1], *g = floats <= 16384 ? stack : malloc(sizeof(float) * floats);
        for (int yo = row_lo; yo < row_hi; yo++)
            for (int xo = 0; xo < wo; xo++)
                memcpy(g + ((size_t)(yo - row_lo) * wo + xo) * csi,
                       x + ((size_t)(yo * sh - pad_top + 1) * pin + xo * sw - pad_left + 1) * csi, sizeof(float) * csi);
        float *y0 = y + ((size_t)(row_lo + 1) * pout + 1) * cso;
        sweep(lv, g, csi, 1, toff, cin, wp, cso, bias, relu, y0, count, wo, wo, (size_t)pout * cso);
        if (g != stack) free(g);
        return;
    }
    for (int yo = row_lo; yo < row_hi; yo++) {
        // Output pixel xo reads padded input pixel (yo*sh - pad_top + 1 + i, xo*sw - pad_left + 1 + j).
        const float *xr = x + ((size_t)(yo * sh - pad_top + 1) * pin + 1 - pad_left) * csi;
        float *yr = y + ((size_t)(yo + 1) * pout + 1) * cso;
        sweep(lv, xr, sw * csi, kh * kw, toff, cin, wp, cso, bias, relu, yr, wo, wo, wo, 0);
    }
}

// Rows of a separable tile: its depthwise output (rows x w x csi floats) about 24 KB, so it and the pointwise
// tile's inputs stay in L1 / L2 while the pointwise kernel reads them.
int cblk_separable_tile_rows(int w, int csi) {
    int r = 6144 / (w * csi);
    return r < 1 ? 1 : r;
}

size_t cblk_separable_scratch_floats(int w, int csi) {
    return ((size_t)cblk_separable_tile_rows(w, csi) * w + SCRATCH_SLACK) * csi;
}

void cblk_separable(int level, const float *x, int h, int w, int csi, int cin, const float *dwp, const float *dw_bias,
                    const float *pwp, const float *bias, int relu, float *y, int cso, int row_lo, int row_hi, float *scratch) {
    (void)h;
    int lv = cconv_usable_level(level), p = w + 2, rows = cblk_separable_tile_rows(w, csi), zero = 0;
    for (int r0 = row_lo; r0 < row_hi; r0 += rows) {
        int r1 = r0 + rows < row_hi ? r0 + rows : row_hi;
        switch (lv) {
        case CCONV_AVX512: dw_rows_avx512(x, p, csi, w, dwp, dw_bias, r0, r1, scratch); break;
        case CCONV_AVX2: dw_rows_avx2(x, p, csi, w, dwp, dw_bias, r0, r1, scratch); break;
        default: dw_rows_plain(x, p, csi, w, dwp, dw_bias, r0, r1, scratch); break;
        }
        float *yr = y + ((size_t)(r0 + 1) * p + 1) * cso;
        sweep(lv, scratch, csi, 1, &zero, cin, pwp, cso, bias, relu, yr, (r1 - r0) * w, w, w, (size_t)p * cso);
    }
}

void cblk_maxpool(int level, const float *x, int h, int w, int cs, int kh, int kw, int sh, int sw, int pad_top, int pad_left,
                  float *y, int ho, int wo, int accumulate, int row_lo, int row_hi, float *scratch) {
    (void)ho;
    int lv = cconv_usable_level(level);
    for (int yo = row_lo; yo < row_hi; yo++) {
        switch (lv) {
        case CCONV_AVX512: pool_avx512(x, h, w, cs, kh, kw, sh, sw, pad_top, pad_left, y, wo, yo, accumulate, scratch); break;
        case CCONV_AVX2: pool_avx2(x, h, w, cs, kh, kw, sh, sw, pad_top, pad_left, y, wo, yo, accumulate, scratch); break;
        default: pool_plain(x, h, w, cs, kh, kw, sh, sw, pad_top, pad_left, y, wo, yo, accumulate, scratch); break;
        }
    }
}

void cblk_add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void cblk_relu(float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = y[i] < 0 ? 0 : y[i];
}

void cblk_global_average(const float *x, int h, int w, int cs, int c, float *out) {
    for (int ch = 0; ch < c; ch++) out[ch] = 0;
    for (int y = 0; y < h; y++) {
        const float *row = x + ((size_t)(y + 1) * (w + 2) + 1) * cs;
        for (int i = 0; i < w; i++)
            for (int ch = 0; ch < c; ch++) out[ch] += row[(size_t)i * cs + ch];
    }
    for (int ch = 0; ch < c; ch++) out[ch] /= (float)(h * w);
}
