#include "cconv_kernels.h"
#include <string.h>

// Micro-kernel tile of the forward conv: PX consecutive flat pixels x NV vectors of VL output channels, all
// accumulators in registers (AVX-512: 12 x 2 zmm = 24 of 32; AVX2: 6 x 2 ymm = 12 of 16; SSE: 6 x 2 xmm).
// The flat pixel count is a multiple of 12, so every level's PX divides it and no tile is partial.
#define TILE_PIXELS 12

#define UNROLL _Pragma("clang loop unroll(full)")

int cconv3_pad32(int c) { return (c + 31) & ~31; }
int cconv3_pad4(int c) { return (c + 3) & ~3; }
int cconv3_flat_pixels(int h, int w) { return (h * (w + 2) + TILE_PIXELS - 1) / TILE_PIXELS * TILE_PIXELS; }
int cconv3_padded_pixels(int h, int w) {
    int p = w + 2, rows = (h + 2) * p, reach = cconv3_flat_pixels(h, w) + 2 * p + 2;
    return rows > reach ? rows : reach;
}

int cconv_best_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return CCONV_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CCONV_AVX2;
#endif
    return CCONV_PLAIN;
}

static int usable(int level) {
    static int best = -1;
    if (best < 0) best = cconv_best_level();  // idempotent: a race only computes it twice
    return level < best ? (level < 0 ? 0 : level) : best;
}

void cconv3_pack_forward(const float *w, int cout, int cin, float *wp) {
    int cpad = cconv3_pad32(cout);
    memset(wp, 0, sizeof(float) * 9 * (size_t)cin * cpad);
    for (int co = 0; co < cout; co++)
        for (int ci = 0; ci < cin; ci++)
            for (int t = 0; t < 9; t++) wp[((size_t)t * cin + ci) * cpad + co] = w[((size_t)co * cin + ci) * 9 + t];
}

void cconv3_pack_backward(const float *w, int cout, int cin, float *wp) {
    int cpad = cconv3_pad32(cin);
    memset(wp, 0, sizeof(float) * 9 * (size_t)cout * cpad);
    for (int co = 0; co < cout; co++)
        for (int ci = 0; ci < cin; ci++)
            for (int t = 0; t < 9; t++) wp[((size_t)t * cout + co) * cpad + ci] = w[((size_t)co * cin + ci) * 9 + (8 - t)];
}

// Row by row, so the padded row being written (w + 2 pixels x cs floats: 6.4 KB at 32 channels) stays in L1
// while every channel's plane row is copied into it; only the border, the slack and the padding channels are
// zeroed, not the whole buffer.
void cconv3_pad(const float *x, int c, int h, int w, int cs, float *xp) {
    int p = w + 2;
    size_t total = (size_t)cconv3_padded_pixels(h, w) * cs, plane = (size_t)h * w;
    memset(xp, 0, sizeof(float) * ((size_t)p + 1) * cs);  // top row and the left border pixel of row 1
    for (int y = 0; y < h; y++) {
        float *row = xp + ((size_t)(y + 1) * p + 1) * cs;
        if (cs > c)
            for (int i = 0; i < w; i++)
                for (int k = c; k < cs; k++) row[(size_t)i * cs + k] = 0;
        for (int ch = 0; ch < c; ch++) {
            const float *src = x + ch * plane + (size_t)y * w;
            for (int i = 0; i < w; i++) row[(size_t)i * cs + ch] = src[i];
        }
        memset(row + (size_t)w * cs, 0, sizeof(float) * 2 * cs);  // right border of this row, left border of the next
    }
    size_t done = ((size_t)(h + 1) * p + 1) * cs;
    memset(xp + done, 0, sizeof(float) * (total - done));  // bottom row and slack
}

// Row by row for the same reason: one flat output row (w + 2 pixels x cpad floats) is read from L1 for every
// channel while each channel's plane row is written contiguously.
void cconv3_unpad(const float *yf, int cpad, int cout, int co_lo, int co_hi, int h, int w,
                  const float *scale, const float *shift, int relu, float *y) {
    int p = w + 2;
    size_t plane = (size_t)h * w;
    if (co_hi > cout) co_hi = cout;
    for (int r = 0; r < h; r++) {
        const float *src = yf + (size_t)r * p * cpad;
        for (int co = co_lo; co < co_hi; co++) {
            float s = scale ? scale[co] : 1, b = shift ? shift[co] : 0;
            float *dst = y + co * plane + (size_t)r * w;
            if (relu)
                for (int i = 0; i < w; i++) { float v = src[(size_t)i * cpad + co] * s + b; dst[i] = v < 0 ? 0 : v; }
            else
                for (int i = 0; i < w; i++) dst[i] = src[(size_t)i * cpad + co] * s + b;
        }
    }
}

// ---- forward: yf[q][co] = sum_{tap, ci} xp[q + off(tap)][ci] * wp[tap][ci][co] ----
// Any tile of PX flat pixels computes the right values for the positions it covers, wherever it starts. When PX
// divides the row width, tiles start at row starts and never compute the two dropped columns (14 % of the work at
// 12×12); otherwise they run along the flat pixels (at 6×6 with PX = 12, row-aligned tiles would waste half).
#define FORWARD_KERNEL(NAME, ATTR, VL, NV, PX)                                                                          \
ATTR __attribute__((always_inline)) static inline void NAME##_tile(const float *xp, int cs, int cin, int p,            \
                                                                   const float *wp, int cpad, int q0, int co0,         \
                                                                   float *yf) {                                        \
    typedef float vec __attribute__((vector_size(VL * 4), aligned(4)));                                               \
    vec acc[PX][NV];                                                                                                   \
    UNROLL for (int i = 0; i < PX; i++) UNROLL for (int v = 0; v < NV; v++) acc[i][v] = (vec){0};                     \
    for (int tap = 0; tap < 9; tap++) {                                                                                \
        const float *xt = xp + (size_t)(q0 + (tap / 3) * p + tap % 3) * cs;                                            \
        const float *wt = wp + (size_t)tap * cin * cpad + co0;                                                         \
        for (int ci = 0; ci < cin; ci++, xt++, wt += cpad) {                                                           \
            vec wv[NV];                                                                                                \
            UNROLL for (int v = 0; v < NV; v++) wv[v] = *(const vec *)(wt + v * VL);                                  \
            UNROLL for (int i = 0; i < PX; i++) {                                                                      \
                float b = xt[(size_t)i * cs];                                                                          \
                UNROLL for (int v = 0; v < NV; v++) acc[i][v] += b * wv[v];                                           \
            }                                                                                                          \
        }                                                                                                              \
    }                                                                                                                  \
    UNROLL for (int i = 0; i < PX; i++) UNROLL for (int v = 0; v < NV; v++)                                           \
        *(vec *)(yf + (size_t)(q0 + i) * cpad + co0 + v * VL) = acc[i][v];                                            \
}                                                                                                                      \
ATTR static void NAME(const float *xp, int cs, int cin, int h, int w, const float *wp, int cpad, int co_lo, int co_hi, \
                      float *yf) {                                                                                     \
    int p = w + 2, qn = cconv3_flat_pixels(h, w);                                                                      \
    for (int co0 = co_lo; co0 < co_hi; co0 += VL * NV) {                                                               \
        if (w % PX == 0) {                                                                                             \
            for (int y = 0; y < h; y++)                                                                                \
                for (int x0 = 0; x0 < w; x0 += PX) NAME##_tile(xp, cs, cin, p, wp, cpad, y * p + x0, co0, yf);        \
        } else {                                                                                                       \
            for (int q0 = 0; q0 < qn; q0 += PX) NAME##_tile(xp, cs, cin, p, wp, cpad, q0, co0, yf);                   \
        }                                                                                                              \
    }                                                                                                                  \
}

// ---- weight gradient tile: acc[kh*3+kw][ci0+c][co0+..] += sum_q xp[q + kh*p + kw][ci0+c] * dy[q][co0+..] ----
// Over the image's pixels row by row (the dropped columns would only add zeros).
#define WGRAD_KERNEL(NAME, ATTR, VL, NV, CB)                                                                            \
ATTR static void NAME(const float *xp, int csx, const float *dyq, int csdy, int p, int h, int w, int kh, int ci0,      \
                      int co0, float *acc, int cir, int cpad) {                                                        \
    typedef float vec __attribute__((vector_size(VL * 4), aligned(4)));                                               \
    vec a[3][CB][NV];                                                                                                  \
    UNROLL for (int kw = 0; kw < 3; kw++) UNROLL for (int c = 0; c < CB; c++) UNROLL for (int v = 0; v < NV; v++)    \
        a[kw][c][v] = *(const vec *)(acc + ((size_t)(kh * 3 + kw) * cir + ci0 + c) * cpad + co0 + v * VL);            \
    for (int y = 0; y < h; y++) {                                                                                      \
        const float *xr = xp + ((size_t)(y + kh) * p) * csx + ci0;                                                     \
        const float *dr = dyq + (size_t)y * p * csdy + co0;                                                            \
        for (int x = 0; x < w; x++, xr += csx, dr += csdy) {                                                           \
            vec d[NV];                                                                                                 \
            UNROLL for (int v = 0; v < NV; v++) d[v] = *(const vec *)(dr + v * VL);                                   \
            UNROLL for (int kw = 0; kw < 3; kw++) UNROLL for (int c = 0; c < CB; c++) {                              \
                float b = xr[kw * csx + c];                                                                            \
                UNROLL for (int v = 0; v < NV; v++) a[kw][c][v] += b * d[v];                                          \
            }                                                                                                          \
        }                                                                                                              \
    }                                                                                                                  \
    UNROLL for (int kw = 0; kw < 3; kw++) UNROLL for (int c = 0; c < CB; c++) UNROLL for (int v = 0; v < NV; v++)    \
        *(vec *)(acc + ((size_t)(kh * 3 + kw) * cir + ci0 + c) * cpad + co0 + v * VL) = a[kw][c][v];                  \
}

#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx512f,fma")))
#define AVX2 __attribute__((target("avx2,fma")))
#else
// Elsewhere (arm64 Macs) all three compile for the native vector unit; cconv_best_level() says PLAIN.
#define AVX512
#define AVX2
#endif
#define PLAIN

FORWARD_KERNEL(forward_avx512, AVX512, 16, 2, 12)
// Rows of 6 (the teachers' last stage): 6 pixels x 64 channels, so tiles align with rows and skip the dropped columns.
FORWARD_KERNEL(forward_avx512_row6, AVX512, 16, 4, 6)
FORWARD_KERNEL(forward_avx2, AVX2, 8, 2, 6)
FORWARD_KERNEL(forward_plain, PLAIN, 4, 2, 6)
WGRAD_KERNEL(wgrad_avx512, AVX512, 16, 2, 4)
WGRAD_KERNEL(wgrad_avx2, AVX2, 8, 2, 2)
WGRAD_KERNEL(wgrad_plain, PLAIN, 4, 2, 2)

void cconv3_forward(int level, const float *xp, int cs, int cin, int h, int w, const float *wp, int cpad,
                    int co_lo, int co_hi, float *yf) {
    switch (usable(level)) {
    case CCONV_AVX512:
        if (w % 12 != 0 && w % 6 == 0 && (co_hi - co_lo) % 64 == 0) forward_avx512_row6(xp, cs, cin, h, w, wp, cpad, co_lo, co_hi, yf);
        else forward_avx512(xp, cs, cin, h, w, wp, cpad, co_lo, co_hi, yf);
        break;
    case CCONV_AVX2: forward_avx2(xp, cs, cin, h, w, wp, cpad, co_lo, co_hi, yf); break;
    default: forward_plain(xp, cs, cin, h, w, wp, cpad, co_lo, co_hi, yf); break;
    }
}

// Input channels per weight-gradient tile and output channels per tile, per level (the kernels' CB and VL * NV).
static void wgrad_blocks(int level, int *cb, int *cob) {
    switch (level) {
    case CCONV_AVX512: *cb = 4; *cob = 32; break;
    case CCONV_AVX2: *cb = 2; *cob = 16; break;
    default: *cb = 2; *cob = 8; break;
    }
}

int cconv3_wgrad_tiles(int level, int cin, int cout) {
    int cb, cob;
    wgrad_blocks(usable(level), &cb, &cob);
    return 3 * ((cin + cb - 1) / cb) * (cconv3_pad32(cout) / cob);
}

void cconv3_wgrad(int level, const float *xps, size_t x_image, int cin, const float *dyps, size_t dy_image, int cout,
                  int h, int w, int n, int tile_lo, int tile_hi, float *acc) {
    int lv = usable(level), cb, cob;
    wgrad_blocks(lv, &cb, &cob);
    int p = w + 2, csx = cconv3_pad4(cin), csdy = cconv3_pad32(cout), cir = csx, ncib = (cin + cb - 1) / cb;
    for (int s = 0; s < n; s++) {
        const float *xp = xps + x_image * s;
        const float *dyq = dyps + dy_image * s + (size_t)(p + 1) * csdy;  // flat dy pixel q = padded pixel q + p + 1
        for (int t = tile_lo; t < tile_hi; t++) {
            int kh = t % 3, cib = (t / 3) % ncib, cob_i = t / (3 * ncib);
            int ci0 = cib * cb, co0 = cob_i * cob;
            switch (lv) {
            case CCONV_AVX512: wgrad_avx512(xp, csx, dyq, csdy, p, h, w, kh, ci0, co0, acc, cir, csdy); break;
            case CCONV_AVX2: wgrad_avx2(xp, csx, dyq, csdy, p, h, w, kh, ci0, co0, acc, cir, csdy); break;
            default: wgrad_plain(xp, csx, dyq, csdy, p, h, w, kh, ci0, co0, acc, cir, csdy); break;
            }
        }
    }
}

void cconv3_wgrad_finish(const float *acc, int cout, int cin, float *dw) {
    int cpad = cconv3_pad32(cout), cir = cconv3_pad4(cin);
    for (int co = 0; co < cout; co++)
        for (int ci = 0; ci < cin; ci++)
            for (int t = 0; t < 9; t++) dw[((size_t)co * cin + ci) * 9 + t] += acc[((size_t)t * cir + ci) * cpad + co];
}
