#include "cconv_kernels.h"
#include <string.h>
#include <time.h>
#include "cconv_simd.h"

// Micro-kernel tile of the forward conv: PX consecutive flat pixels x NV vectors of VL output channels, all
// accumulators in registers (AVX-512: 12 x 2 zmm = 24 of 32; AVX2: 6 x 2 ymm = 12 of 16; SSE: 6 x 2 xmm).
// The flat pixel count is a multiple of 12, so every level's PX divides it and no tile is partial.
#define TILE_PIXELS 12


int cconv3_pad32(int c) { return (c + 31) & ~31; }
int cconv3_pad4(int c) { return (c + 3) & ~3; }
int cconv3_flat_pixels(int h, int w) { return (h * (w + 2) + TILE_PIXELS - 1) / TILE_PIXELS * TILE_PIXELS; }
int cconv3_padded_pixels(int h, int w) {
    // (h + 4) rows: the Winograd tiles of an odd h or w read one row / column past the border (zeros).
    int p = w + 2, rows = (h + 4) * p, reach = cconv3_flat_pixels(h, w) + 2 * p + 2;
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

int cconv_usable_level(int level) { return usable(level); }

// 24 independent FMA chains of 16 lanes (AVX-512) or 12 of 8 (AVX2), in assembly (the compiler spilled accumulators
// of the C loop): the FP32 FMA throughput one core reaches at its running clock, the honest denominator for
// "fraction of peak".
#if defined(__x86_64__)
AVX512 static void fma_chains_avx512(long iters) {
    __asm__ volatile("vxorps %%zmm30, %%zmm30, %%zmm30\n\tvxorps %%zmm31, %%zmm31, %%zmm31\n\t"
                     "1:\n\t"
                     "vfmadd231ps %%zmm30, %%zmm31, %%zmm0\n\tvfmadd231ps %%zmm30, %%zmm31, %%zmm1\n\t"
                     "vfmadd231ps %%zmm30, %%zmm31, %%zmm2\n\tvfmadd231ps %%zmm30, %%zmm31, %%zmm3\n\t"
                     "vfmadd231ps %%zmm30, %%zmm31, %%zmm4\n\tvfmadd231ps %%zmm30, %%zmm31, %%zmm5\n\t"
                     "vfmadd231ps %%zmm30, %%zmm31, %%zmm6\n\tvfmadd231ps %%zmm30, %%zmm31, %%zmm7\n\t"
                     "vfmadd231ps %%zmm30, %%zmm31, %%zmm8\n\tvfmadd231ps %%zmm30, %%zmm31, %%zmm9\n\t"
                     "vfmadd231ps %%zmm30, %%zmm31, %%zmm10\n\tvfmadd231ps %%zmm30, %%zmm31, %%zmm11\n\t"
                     "vfmadd231ps %%zmm30, %%zmm31, %%zmm12\n\tvfmadd231ps %%zmm30, %%zmm31, %%zmm13\n\t"
                     "vfmadd231ps %%zmm30, %%zmm31, %%zmm14\n\tvfmadd231ps %%zmm30, %%zmm31, %%zmm15\n\t"
                     "vfmadd231ps %%zmm30, %%zmm31, %%zmm16\n\tvfmadd231ps %%zmm30, %%zmm31, %%zmm17\n\t"
                     "vfmadd231ps %%zmm30, %%zmm31, %%zmm18\n\tvfmadd231ps %%zmm30, %%zmm31, %%zmm19\n\t"
                     "vfmadd231ps %%zmm30, %%zmm31, %%zmm20\n\tvfmadd231ps %%zmm30, %%zmm31, %%zmm21\n\t"
                     "vfmadd231ps %%zmm30, %%zmm31, %%zmm22\n\tvfmadd231ps %%zmm30, %%zmm31, %%zmm23\n\t"
                     "dec %0\n\tjnz 1b\n\t"
                     : "+r"(iters) : : "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "zmm9", "zmm10",
                       "zmm11", "zmm12", "zmm13", "zmm14", "zmm15", "zmm16", "zmm17", "zmm18", "zmm19", "zmm20", "zmm21", "zmm22",
                       "zmm23", "zmm30", "zmm31", "cc");
}

AVX2 static void fma_chains_avx2(long iters) {
    __asm__ volatile("vxorps %%ymm14, %%ymm14, %%ymm14\n\tvxorps %%ymm15, %%ymm15, %%ymm15\n\t"
                     "1:\n\t"
                     "vfmadd231ps %%ymm14, %%ymm15, %%ymm0\n\tvfmadd231ps %%ymm14, %%ymm15, %%ymm1\n\t"
                     "vfmadd231ps %%ymm14, %%ymm15, %%ymm2\n\tvfmadd231ps %%ymm14, %%ymm15, %%ymm3\n\t"
                     "vfmadd231ps %%ymm14, %%ymm15, %%ymm4\n\tvfmadd231ps %%ymm14, %%ymm15, %%ymm5\n\t"
                     "vfmadd231ps %%ymm14, %%ymm15, %%ymm6\n\tvfmadd231ps %%ymm14, %%ymm15, %%ymm7\n\t"
                     "vfmadd231ps %%ymm14, %%ymm15, %%ymm8\n\tvfmadd231ps %%ymm14, %%ymm15, %%ymm9\n\t"
                     "vfmadd231ps %%ymm14, %%ymm15, %%ymm10\n\tvfmadd231ps %%ymm14, %%ymm15, %%ymm11\n\t"
                     "dec %0\n\tjnz 1b\n\t"
                     : "+r"(iters) : : "ymm0", "ymm1", "ymm2", "ymm3", "ymm4", "ymm5", "ymm6", "ymm7", "ymm8", "ymm9", "ymm10",
                       "ymm11", "ymm14", "ymm15", "cc");
}
#endif

double cconv_fma_peak_gflops(int level, long iters) {
#if defined(__x86_64__)
    struct timespec t0, t1;
    int lv = usable(level);
    if (lv == CCONV_PLAIN) return 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (lv == CCONV_AVX512) fma_chains_avx512(iters); else fma_chains_avx2(iters);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    return (lv == CCONV_AVX512 ? 2.0 * 16 * 24 : 2.0 * 8 * 12) * iters / s / 1e9;
#else
    (void)level; (void)iters;
    return 0;
#endif
}

// w [cout][cin][taps] -> wp [taps][cin][cpad32(cout)] (taps = kh * kw in row-major order), or, `blocked`,
// [cpad32(cout) / 32][taps][cin][32]: one block's weights contiguous. (With cpad floats between input channels, a
// block's 128-byte rows sit cpad * 4 bytes apart: at 256 channels, 1 KB, only 1/8 of the cache sets hold them, and the
// 5×5 kernel's 307 KB of weights per 96-channel block would no longer stay in L2.)
// `order` (NULL: 0, 1, ...): the kernel's tap t is the weights' tap order[t].
static void pack_forward_taps(const float *w, int cout, int cin, int taps, const int *order, int blocked, float *wp) {
    int cpad = cconv3_pad32(cout);
    memset(wp, 0, sizeof(float) * taps * (size_t)cin * cpad);
    for (int co = 0; co < cout; co++)
        for (int ci = 0; ci < cin; ci++)
            for (int t = 0; t < taps; t++) {
                size_t at = blocked ? (((size_t)(co / 32) * taps + t) * cin + ci) * 32 + co % 32 : ((size_t)t * cin + ci) * cpad + co;
                wp[at] = w[((size_t)co * cin + ci) * taps + (order ? order[t] : t)];
            }
}

void cconv3_pack_forward(const float *w, int cout, int cin, float *wp) { pack_forward_taps(w, cout, cin, 9, NULL, 0, wp); }

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
static void unpad_rows(const float *yf, int cpad, int cout, int co_lo, int co_hi, int h, int w, int p, int r_lo, int r_hi,
                       const float *scale, const float *shift, int relu, float *y);

void cconv3_unpad(const float *yf, int cpad, int cout, int co_lo, int co_hi, int h, int w,
                  const float *scale, const float *shift, int relu, float *y) {
    unpad_rows(yf, cpad, cout, co_lo, co_hi, h, w, w + 2, 0, h, scale, shift, relu, y);
}

// Rows [r_lo, r_hi) of a flat output of row pitch p (>= w + 2).
static void unpad_rows(const float *yf, int cpad, int cout, int co_lo, int co_hi, int h, int w, int p, int r_lo, int r_hi,
                       const float *scale, const float *shift, int relu, float *y) {
    size_t plane = (size_t)h * w;
    if (co_hi > cout) co_hi = cout;
    for (int r = r_lo; r < r_hi; r++) {
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

// ---- forward: yf[q][co] = sum_{tap, ci} xp[q + off[tap]][ci] * wp[tap][ci][co] ----
// `off` holds each tap's flat-pixel offset: kh * p + kw for the 3×3 kernel, an offset into one of four phase
// images for the 5×5 stride-2 one (cconv5s2_*), so one micro-kernel serves both.
// Any tile of PX flat pixels computes the right values for the positions it covers, wherever it starts. When PX
// divides the row width, tiles start at row starts and never compute the two dropped columns (14 % of the work at
// 12×12); otherwise they run along the flat pixels (at 6×6 with PX = 12, row-aligned tiles would waste half).
#define FORWARD_KERNEL(NAME, ATTR, VL, NV, PX)                                                                          \
ATTR __attribute__((always_inline)) static inline void NAME##_tile(const float *xp, int cs, int cin, const int *off,   \
                                                                   int taps, const float *wb, int ws, int cpad,        \
                                                                   int q0, int co0, float *yf) {                       \
    typedef float vec __attribute__((vector_size(VL * 4), aligned(4)));                                               \
    vec acc[PX][NV];                                                                                                   \
    UNROLL for (int i = 0; i < PX; i++) UNROLL for (int v = 0; v < NV; v++) acc[i][v] = (vec){0};                     \
    for (int tap = 0; tap < taps; tap++) {                                                                             \
        const float *xt = xp + (size_t)(q0 + off[tap]) * cs;                                                           \
        const float *wt = wb + (size_t)tap * cin * ws;                                                                 \
        for (int ci = 0; ci < cin; ci++, xt++, wt += ws) {                                                             \
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
ATTR static void NAME(const float *xp, int cs, int cin, int h, int w, const int *off, int taps,                       \
                      const float *wp, int blocked, int band, int cpad, int co_lo, int co_hi, float *yf) {             \
    int p = w + 2, qn = cconv3_flat_pixels(h, w), ws = blocked ? 32 : cpad, rowwise = w % PX == 0;                     \
    int units = rowwise ? h : qn / PX, per = band <= 0 ? units : rowwise ? band : (band * p + PX - 1) / PX;            \
    for (int u0 = 0; u0 < units; u0 += per) {                                                                          \
        int u1 = u0 + per < units ? u0 + per : units;                                                                  \
        for (int co0 = co_lo; co0 < co_hi; co0 += VL * NV) {                                                           \
            const float *wb = blocked ? wp + (size_t)(co0 / 32) * taps * cin * 32 + co0 % 32 : wp + co0;               \
            if (cs == 1 && cin == 1) {  /* one channel (conv1): constant strides, no channel loop */                  \
                if (rowwise) {                                                                                         \
                    for (int y = u0; y < u1; y++)                                                                      \
                        for (int x0 = 0; x0 < w; x0 += PX) NAME##_tile(xp, 1, 1, off, taps, wb, ws, cpad, y * p + x0, co0, yf); \
                } else {                                                                                               \
                    for (int t = u0; t < u1; t++) NAME##_tile(xp, 1, 1, off, taps, wb, ws, cpad, t * PX, co0, yf);     \
                }                                                                                                      \
            } else if (rowwise) {                                                                                      \
                for (int y = u0; y < u1; y++)                                                                          \
                    for (int x0 = 0; x0 < w; x0 += PX) NAME##_tile(xp, cs, cin, off, taps, wb, ws, cpad, y * p + x0, co0, yf); \
            } else {                                                                                                   \
                for (int t = u0; t < u1; t++) NAME##_tile(xp, cs, cin, off, taps, wb, ws, cpad, t * PX, co0, yf);      \
            }                                                                                                          \
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


FORWARD_KERNEL(forward_avx512, AVX512, 16, 2, 12)
// Rows of 6 (the teachers' last stage): 6 pixels x 64 channels, so tiles align with rows and skip the dropped columns.
FORWARD_KERNEL(forward_avx512_row6, AVX512, 16, 4, 6)
FORWARD_KERNEL(forward_avx2, AVX2, 8, 2, 6)
FORWARD_KERNEL(forward_plain, PLAIN, 4, 2, 6)
WGRAD_KERNEL(wgrad_avx512, AVX512, 16, 2, 4)
WGRAD_KERNEL(wgrad_avx2, AVX2, 8, 2, 2)
WGRAD_KERNEL(wgrad_plain, PLAIN, 4, 2, 2)

// The forward at `level` over flat outputs of h rows of w (+ 2 dropped) pixels, taps at offsets `off`.
// `blocked`: weights packed by blocks of 32 output channels (pack_forward_taps), else [taps][cin][cpad]. `band` > 0:
// every output-channel block of `band` rows (flat: as many pixels) before the next rows; 0: each block over the image.
static void forward_taps(int level, const float *xp, int cs, int cin, int h, int w, const int *off, int taps,
                         const float *wp, int blocked, int band, int cpad, int co_lo, int co_hi, float *yf) {
    switch (usable(level)) {
    case CCONV_AVX512:
        // (the 6-pixel tiles span 64 output channels: two blocks of blocked weights)
        if (!blocked && w % 12 != 0 && w % 6 == 0 && (co_hi - co_lo) % 64 == 0)
            forward_avx512_row6(xp, cs, cin, h, w, off, taps, wp, blocked, band, cpad, co_lo, co_hi, yf);
        else forward_avx512(xp, cs, cin, h, w, off, taps, wp, blocked, band, cpad, co_lo, co_hi, yf);
        break;
    case CCONV_AVX2: forward_avx2(xp, cs, cin, h, w, off, taps, wp, blocked, band, cpad, co_lo, co_hi, yf); break;
    default: forward_plain(xp, cs, cin, h, w, off, taps, wp, blocked, band, cpad, co_lo, co_hi, yf); break;
    }
}

void cconv3_forward(int level, const float *xp, int cs, int cin, int h, int w, const float *wp, int cpad,
                    int co_lo, int co_hi, float *yf) {
    int p = w + 2, off[9];
    for (int t = 0; t < 9; t++) off[t] = (t / 3) * p + t % 3;
    forward_taps(level, xp, cs, cin, h, w, off, 9, wp, 0, 0, cpad, co_lo, co_hi, yf);
}

// ---- k×k stride 2, k odd (the students' conv1 7×7 and conv2 5×5) as a stride-1 sum over the input's four phases ----
// Phase (a, b) pixel (i, j) is padded-input pixel (2i + a, 2j + b); output (y, x) at tap (ky, kx) reads padded pixel
// (2y + ky, 2x + kx) = phase (ky % 2, kx % 2) pixel (y + ky / 2, x + kx / 2). All four phases share the pitch
// p = out_w + 2, so each tap is one constant flat offset (phase base + (ky / 2) p + kx / 2) and the 3×3 micro-kernel
// runs unchanged on k² taps; output columns out_w, out_w + 1 of every row are dropped as there. A valid output reads
// phase columns up to out_w - 1 + k / 2, so past 5×5 the kernel runs on s2_width = out_w + k / 2 - 2 columns (7×7:
// one more, computed and dropped) to widen the pitch.
static int s2_width(int k, int out_w) { return k > 5 ? out_w + k / 2 - 2 : out_w; }

static int s2_rows(int k, int out_h, int out_w) {
    int w = s2_width(k, out_w), p = w + 2, reach = cconv3_flat_pixels(out_h, w) + (k / 2) * (p + 1);  // farthest read + 1
    return (reach + p - 1) / p;
}

int cconvs2_phase_pixels(int k, int out_h, int out_w) { return s2_rows(k, out_h, out_w) * (s2_width(k, out_w) + 2); }
int cconv5s2_phase_pixels(int out_h, int out_w) { return cconvs2_phase_pixels(5, out_h, out_w); }
int cconvs2_pitch(int k, int out_w) { return s2_width(k, out_w) + 2; }
int cconvs2_flat_pixels(int k, int out_h, int out_w) { return cconv3_flat_pixels(out_h, s2_width(k, out_w)); }

int cconvs2_row_chunk(int k, int out_w) {
    int r = 1, p = s2_width(k, out_w) + 2;
    while (r * p % TILE_PIXELS != 0) r++;
    return r;
}

void cconvs2_unpad_rows(int k, const float *yf, int cpad, int cout, int co_lo, int co_hi, int out_h, int out_w, int r_lo,
                        int r_hi, const float *scale, const float *shift, int relu, float *y) {
    unpad_rows(yf, cpad, cout, co_lo, co_hi, out_h, out_w, s2_width(k, out_w) + 2, r_lo, r_hi, scale, shift, relu, y);
}

// The kernel takes the taps phase by phase ((0, 0): ky, kx in {0, 2, 4}; then (0, 1), (1, 0), (1, 1)), so the 12-pixel
// tile's reads of one phase (3 rows x 14 pixels x cs floats: 16 KB at 96 channels) stay in L1 across its taps; in
// row-major tap order every tap changed phase and the tile's 64 KB of input was read from L2 at each.
// Output rows per band: all output-channel blocks of a band of 4 rows run before the next band, so the band's input
// (6 phase rows x 4 phases: 460 KB at 96 channels) stays in L2 while each block's weights stream from L3 (shared by
// the threads); channel blocks outermost re-read vggm's 5 MB of phases from L3 once per block, and its one-core rate
// fell to 99–100 GFLOP/s (0.85 of peak) against 112–114 banded, more so beside other processes (tools/conv_kernel_bench).
#define S2_BAND 4
#define S2_MAX_TAPS 49
static void s2_tap_order(int k, int *order) {
    int t = 0;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            for (int ky = a; ky < k; ky += 2)
                for (int kx = b; kx < k; kx += 2) order[t++] = ky * k + kx;
}

void cconvs2_pack_forward(int k, const float *w, int cout, int cin, float *wp) {
    int order[S2_MAX_TAPS];
    s2_tap_order(k, order);
    pack_forward_taps(w, cout, cin, k * k, order, 1, wp);
}

void cconv5s2_pack_forward(const float *w, int cout, int cin, float *wp) { cconvs2_pack_forward(5, w, cout, cin, wp); }

// Phase row by phase row (p pixels x cs floats: 19 KB at 96 channels, in L1 while every channel's source row is
// scattered into it); each input row feeds the two column phases of one row phase.
void cconvs2_split(int k, const float *x, int c, int h, int w, int pad_top, int pad_left, int out_h, int out_w, int cs,
                   float *xs) {
    int p = s2_width(k, out_w) + 2, rows = s2_rows(k, out_h, out_w);
    size_t phase = (size_t)rows * p * cs, plane = (size_t)h * w;
    for (int a = 0; a < 2; a++)
        for (int i = 0; i < rows; i++) {
            int y = 2 * i + a - pad_top;
            for (int b = 0; b < 2; b++) {
                float *row = xs + (size_t)(2 * a + b) * phase + (size_t)i * p * cs;
                // Columns j whose input column x0 + 2j lies in [0, w).
                int x0 = b - pad_left, lo = x0 >= 0 ? 0 : (1 - x0) / 2, hi = w > x0 ? (w - x0 + 1) / 2 : 0;
                if (y < 0 || y >= h) lo = hi = 0;
                if (hi > p) hi = p;
                if (lo > hi) lo = hi;
                memset(row, 0, sizeof(float) * (size_t)lo * cs);
                memset(row + (size_t)hi * cs, 0, sizeof(float) * (size_t)(p - hi) * cs);
                if (hi == lo) continue;
                if (cs > c)
                    for (int j = lo; j < hi; j++) memset(row + (size_t)j * cs + c, 0, sizeof(float) * (cs - c));
                for (int ch = 0; ch < c; ch++) {
                    const float *src = x + ch * plane + (size_t)y * w + (x0 + 2 * lo);  // input column of j = lo
                    for (int j = lo; j < hi; j++) row[(size_t)j * cs + ch] = src[2 * (j - lo)];
                }
            }
        }
}

void cconv5s2_split(const float *x, int c, int h, int w, int pad_top, int pad_left, int out_h, int out_w, int cs,
                    float *xs) {
    cconvs2_split(5, x, c, h, w, pad_top, pad_left, out_h, out_w, cs, xs);
}

// Output rows [r_lo, r_hi) as an image of r_hi - r_lo rows starting r_lo rows into the phases and the flat output:
// every tap offset is relative, so each output is the same sum in the same order as in the whole image.
void cconvs2_forward_rows(int level, int k, const float *xs, int cs, int cin, int out_h, int out_w, int r_lo, int r_hi,
                          const float *wp, int cpad, int co_lo, int co_hi, float *yf) {
    int w = s2_width(k, out_w), p = w + 2, phase = cconvs2_phase_pixels(k, out_h, out_w), off[S2_MAX_TAPS], order[S2_MAX_TAPS];
    s2_tap_order(k, order);
    for (int t = 0; t < k * k; t++) {
        int ky = order[t] / k, kx = order[t] % k;
        off[t] = (2 * (ky % 2) + kx % 2) * phase + (ky / 2) * p + kx / 2;
    }
    forward_taps(level, xs + (size_t)r_lo * p * cs, cs, cin, r_hi - r_lo, w, off, k * k, wp, 1, S2_BAND, cpad, co_lo,
                 co_hi, yf + (size_t)r_lo * p * cpad);
}

void cconv5s2_forward(int level, const float *xs, int cs, int cin, int out_h, int out_w, const float *wp, int cpad,
                      int co_lo, int co_hi, float *yf) {
    cconvs2_forward_rows(level, 5, xs, cs, cin, out_h, out_w, 0, out_h, wp, cpad, co_lo, co_hi, yf);
}

// ---- k×k stride 2 on ONE input channel (the students' conv1): vectors along the output row ----
// With one channel an output is only k² multiply-adds, so the channels-last tile above spent as long transposing its
// flat output back into planes (cconv3_unpad, one scalar a value) as summing. Here the vector runs over VL consecutive
// outputs of one row, which read VL consecutive pixels of one phase row (stride 1 within a phase), and each tap's
// weight is broadcast: NP vectors x C1_NC output channels of accumulators, the epilogue applied in registers and the
// planes written directly. Lanes past out_w read into the next phase row (or the slack) and are not stored.
#define C1_NC 4
int cconvs2c1_weight_floats(int k, int cout) { return k * k * ((cout + C1_NC - 1) / C1_NC * C1_NC); }

// w [cout][k][k] -> [ceil(cout / 4)][k²][4], taps in phase order, zeros past cout.
void cconvs2c1_pack(int k, const float *w, int cout, float *wc) {
    int order[S2_MAX_TAPS], taps = k * k, groups = (cout + C1_NC - 1) / C1_NC;
    s2_tap_order(k, order);
    for (int g = 0; g < groups; g++)
        for (int t = 0; t < taps; t++)
            for (int c = 0; c < C1_NC; c++) {
                int co = g * C1_NC + c;
                wc[((size_t)g * taps + t) * C1_NC + c] = co < cout ? w[(size_t)co * taps + order[t]] : 0;
            }
}

// One tile: NP vectors of VL outputs from column x0 of row r, C1_NC output channels from co0.
#define C1_TILE(NAME, ATTR, VL, NP)                                                                                    \
ATTR __attribute__((always_inline)) static inline void NAME(const float *xr, const int *off, int taps, const float *wg, \
        int cout, int co0, int nvalid, const float *scale, const float *shift, int relu, float *y0, size_t plane) {    \
    typedef float vec __attribute__((vector_size(VL * 4), aligned(4)));                                               \
    vec acc[NP][C1_NC];                                                                                                \
    UNROLL for (int j = 0; j < NP; j++) UNROLL for (int c = 0; c < C1_NC; c++) acc[j][c] = (vec){0};                   \
    for (int t = 0; t < taps; t++) {                                                                                   \
        vec xv[NP];                                                                                                    \
        UNROLL for (int j = 0; j < NP; j++) xv[j] = *(const vec *)(xr + off[t] + j * VL);                             \
        UNROLL for (int c = 0; c < C1_NC; c++) {                                                                       \
            float b = wg[t * C1_NC + c];                                                                               \
            UNROLL for (int j = 0; j < NP; j++) acc[j][c] += xv[j] * b;                                               \
        }                                                                                                              \
    }                                                                                                                  \
    UNROLL for (int c = 0; c < C1_NC; c++) {                                                                           \
        if (co0 + c >= cout) break;                                                                                    \
        float sc = scale ? scale[co0 + c] : 1, sh = shift ? shift[co0 + c] : 0;                                        \
        float *dst = y0 + (size_t)(co0 + c) * plane;                                                                   \
        UNROLL for (int j = 0; j < NP; j++) {                                                                          \
            vec v = acc[j][c] * sc + sh;                                                                               \
            if (relu) v = __builtin_elementwise_max(v, (vec){0});                                                      \
            int n = nvalid - j * VL;                                                                                   \
            if (n >= VL) *(vec *)(dst + j * VL) = v;                                                                  \
            else for (int i = 0; i < n; i++) dst[j * VL + i] = v[i];                                                   \
        }                                                                                                              \
    }                                                                                                                  \
}

// Row by row: tiles of NP vectors, then single vectors for the rest of the row (198 outputs: 2 x 96 + 1 x 16, not
// 3 x 96 with a third of the work thrown away).
#define C1_KERNEL(NAME, ATTR, VL, NP)                                                                                  \
C1_TILE(NAME##_wide, ATTR, VL, NP)                                                                                     \
C1_TILE(NAME##_one, ATTR, VL, 1)                                                                                       \
ATTR static void NAME(const float *xs, int k, int p, size_t phase, int out_h, int out_w, int r_lo, int r_hi,          \
                      const float *wc, int cout, const float *scale, const float *shift, int relu, float *y) {        \
    int taps = k * k, off[S2_MAX_TAPS], order[S2_MAX_TAPS];                                                            \
    size_t plane = (size_t)out_h * out_w;                                                                              \
    s2_tap_order(k, order);                                                                                            \
    for (int t = 0; t < taps; t++) {                                                                                   \
        int ky = order[t] / k, kx = order[t] % k;                                                                      \
        off[t] = (int)((2 * (ky % 2) + kx % 2) * phase) + (ky / 2) * p + kx / 2;                                      \
    }                                                                                                                  \
    for (int r = r_lo; r < r_hi; r++)                                                                                  \
        for (int co0 = 0; co0 < cout; co0 += C1_NC) {                                                                  \
            const float *wg = wc + (size_t)(co0 / C1_NC) * taps * C1_NC;                                               \
            int x0 = 0;                                                                                                \
            for (; x0 + VL * NP <= out_w; x0 += VL * NP)                                                               \
                NAME##_wide(xs + (size_t)r * p + x0, off, taps, wg, cout, co0, out_w - x0, scale, shift, relu,         \
                            y + (size_t)r * out_w + x0, plane);                                                        \
            for (; x0 < out_w; x0 += VL)                                                                               \
                NAME##_one(xs + (size_t)r * p + x0, off, taps, wg, cout, co0, out_w - x0, scale, shift, relu,          \
                           y + (size_t)r * out_w + x0, plane);                                                         \
        }                                                                                                              \
}

C1_KERNEL(c1_avx512, AVX512, 16, 6)
C1_KERNEL(c1_avx2, AVX2, 8, 3)
C1_KERNEL(c1_plain, PLAIN, 4, 2)

int cconvs2c1_slack_floats(void) { return 6 * 16 + 8; }

void cconvs2c1_forward_rows(int level, int k, const float *xs, int out_h, int out_w, int r_lo, int r_hi, const float *wc,
                            int cout, const float *scale, const float *shift, int relu, float *y) {
    int p = cconvs2_pitch(k, out_w);
    size_t phase = (size_t)cconvs2_phase_pixels(k, out_h, out_w);
    switch (usable(level)) {
    case CCONV_AVX512: c1_avx512(xs, k, p, phase, out_h, out_w, r_lo, r_hi, wc, cout, scale, shift, relu, y); break;
    case CCONV_AVX2: c1_avx2(xs, k, p, phase, out_h, out_w, r_lo, r_hi, wc, cout, scale, shift, relu, y); break;
    default: c1_plain(xs, k, p, phase, out_h, out_w, r_lo, r_hi, wc, cout, scale, shift, relu, y); break;
    }
}

// ---- 5×5 stride 2 input gradient: the phase trick in reverse ----
// Padded-input pixel (2i + a, 2j + b) receives dy[y][x] · w[ky][kx] wherever 2y + ky = 2i + a, 2x + kx = 2j + b, so
// phase (a, b) of dx is a stride-1 sum over that phase's taps (ky ≡ a, kx ≡ b mod 2: 9, 6, 6 or 4 of them) of
// dy[i - ky/2][j - kx/2] · w[ky][kx]: the forward micro-kernel on dy with a border of two rows and columns at the top
// and left (taps at offsets (2 - ky/2) p + 2 - kx/2, p = gw + 2), channels cout -> cin. Phase grid: gh x gw pixels,
// enough for every input pixel and every dy pixel.
static void s2_grid(int h, int w, int pad_top, int pad_left, int out_h, int out_w, int *gh, int *gw) {
    *gh = (h + pad_top + 1) / 2 > out_h ? (h + pad_top + 1) / 2 : out_h;
    *gw = (w + pad_left + 1) / 2 > out_w ? (w + pad_left + 1) / 2 : out_w;
}

static int s2_dy_rows(int gh, int gw) {
    int p = gw + 2, reach = cconv3_flat_pixels(gh, gw) + 2 * p + 2;
    return (reach + p - 1) / p;
}

int cconv5s2_dy_pixels(int h, int w, int pad_top, int pad_left, int out_h, int out_w) {
    int gh, gw;
    s2_grid(h, w, pad_top, pad_left, out_h, out_w, &gh, &gw);
    return s2_dy_rows(gh, gw) * (gw + 2);
}

int cconv5s2_dx_flat_pixels(int h, int w, int pad_top, int pad_left, int out_h, int out_w) {
    int gh, gw;
    s2_grid(h, w, pad_top, pad_left, out_h, out_w, &gh, &gw);
    return cconv3_flat_pixels(gh, gw);
}

// Taps of phase ph = 2a + b in the kernel's order (ky, then kx), and where phase ph's weights start (in taps).
static int s2_phase_taps(int ph, int taps[9]) {
    int n = 0;
    for (int ky = ph / 2; ky < 5; ky += 2)
        for (int kx = ph % 2; kx < 5; kx += 2) taps[n++] = ky * 5 + kx;
    return n;
}

static const int s2_phase_start[4] = {0, 9, 15, 21};

void cconv5s2_pack_backward(const float *w, int cout, int cin, float *wb) {
    int cpad = cconv3_pad32(cin), taps[9];
    memset(wb, 0, sizeof(float) * 25 * (size_t)cout * cpad);
    for (int ph = 0; ph < 4; ph++) {
        int n = s2_phase_taps(ph, taps);
        float *dst = wb + (size_t)s2_phase_start[ph] * cout * cpad;
        for (int ci = 0; ci < cin; ci++)
            for (int co = 0; co < cout; co++)
                for (int t = 0; t < n; t++)
                    dst[(((size_t)(ci / 32) * n + t) * cout + co) * 32 + ci % 32] = w[((size_t)co * cin + ci) * 25 + taps[t]];
    }
}

void cconv5s2_pad_dy(const float *dy, int c, int h, int w, int pad_top, int pad_left, int out_h, int out_w, int cs, float *dyp) {
    int gh, gw;
    s2_grid(h, w, pad_top, pad_left, out_h, out_w, &gh, &gw);
    int p = gw + 2, rows = s2_dy_rows(gh, gw);
    size_t plane = (size_t)out_h * out_w;
    for (int r = 0; r < rows; r++) {
        float *row = dyp + (size_t)r * p * cs;
        int y = r - 2;
        if (y < 0 || y >= out_h) { memset(row, 0, sizeof(float) * (size_t)p * cs); continue; }
        memset(row, 0, sizeof(float) * 2 * cs);
        memset(row + (size_t)(out_w + 2) * cs, 0, sizeof(float) * (size_t)(p - out_w - 2) * cs);
        float *px = row + 2 * (size_t)cs;
        if (cs > c)
            for (int x = 0; x < out_w; x++) memset(px + (size_t)x * cs + c, 0, sizeof(float) * (cs - c));
        for (int ch = 0; ch < c; ch++) {
            const float *src = dy + ch * plane + (size_t)y * out_w;
            for (int x = 0; x < out_w; x++) px[(size_t)x * cs + ch] = src[x];
        }
    }
}

void cconv5s2_input_gradient(int level, const float *dyp, int cs, int cout, int h, int w, int pad_top, int pad_left,
                             int out_h, int out_w, const float *wb, int cpad, int ci_lo, int ci_hi, float *yfs) {
    int gh, gw, taps[9], off[9];
    s2_grid(h, w, pad_top, pad_left, out_h, out_w, &gh, &gw);
    int p = gw + 2;
    size_t flat = (size_t)cconv3_flat_pixels(gh, gw) * cpad;
    for (int ph = 0; ph < 4; ph++) {
        int n = s2_phase_taps(ph, taps);
        for (int t = 0; t < n; t++) off[t] = (2 - taps[t] / 5 / 2) * p + 2 - taps[t] % 5 / 2;
        forward_taps(level, dyp, cs, cout, gh, gw, off, n, wb + (size_t)s2_phase_start[ph] * cout * cpad, 1, S2_BAND, cpad,
                     ci_lo, ci_hi, yfs + ph * flat);
    }
}

// Row by row of dx: each input row is one row phase; its pixels alternate between the two column phases.
void cconv5s2_merge(const float *yfs, int cpad, int cin, int ci_lo, int ci_hi, int h, int w, int pad_top, int pad_left,
                    int out_h, int out_w, float *dx) {
    int gh, gw;
    s2_grid(h, w, pad_top, pad_left, out_h, out_w, &gh, &gw);
    int p = gw + 2;
    size_t flat = (size_t)cconv3_flat_pixels(gh, gw) * cpad, plane = (size_t)h * w;
    if (ci_hi > cin) ci_hi = cin;
    for (int y = 0; y < h; y++) {
        int r = y + pad_top;
        const float *ph0 = yfs + (size_t)(2 * (r % 2)) * flat + (size_t)(r / 2) * p * cpad;  // column phase 0 of this row
        for (int ch = ci_lo; ch < ci_hi; ch++) {
            float *dst = dx + ch * plane + (size_t)y * w;
            for (int x = 0; x < w; x++) {
                int c = x + pad_left;
                dst[x] = ph0[(size_t)(c % 2) * flat + (size_t)(c / 2) * cpad + ch];
            }
        }
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

// ---- Winograd F(2x2, 3x3) (Lavin & Gray 2016): Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A per 4x4 input tile d (stride 2),
// summed over input channels. 16 products per 2x2 outputs instead of 36: 2.25x fewer multiplications.
//   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],  G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],  Aᵀ = [1 1 1 0; 0 1 -1 -1].
// Rounding (first order, u = 2^-24, γk = k·u / (1 - k·u)): the input transform is 2 additions deep, U = G g Gᵀ is
// computed in double and rounded once, the channel sum is cin fused multiply-adds, the output transform 4 additions
// deep, so |ŷ - y| ≤ γ(cin+8) · Σ_ci Σ_ξ |Aᵀ|⊗|Aᵀ| (|G||g||Gᵀ|)_ξ (|Bᵀ||d||B|)_ξ ≤ γ(cin+8) · 4 · Σ_ci ‖g_ci‖₁ ‖d_ci‖₁
// (d_ci the output's 4x4 input tile; 4 is the largest coefficient any |g_kl|·|d_mn| gets in that sum). The direct
// sum's bound is γ(9·cin) · Σ |w||x| over the 9·cin products it adds; Winograd's also holds cross terms (weights times
// inputs of the tile they never multiply in the direct sum), which is why its error is larger. The input gradient
// is this forward on dy (cin ↔ cout). Weight gradient (below): the transforms of x and dy are 2 additions deep each,
// the sum runs over T = n · tiles tiles, Gᵀ · G back in double, so |dŵ - dw| ≤ γ(T+6) · 4 · Σ_tiles ‖e‖₁ ‖d‖₁ (e the
// tile's 2x2 dy, d its 4x4 input; again 4 is the largest coefficient). All three tested per level in
// WinogradConvTests against a float64 oracle (largest error there: 4 % of the bound).

int cwino_tiles(int h, int w) { return ((h + 1) / 2) * ((w + 1) / 2); }

// w [cout][cin][3][3] -> u[16][cin'][cpad32(cout')], U = G g Gᵀ per channel pair, in double, rounded once. Backward:
// the flipped transpose (cin' = cout, cout' = cin), as cconv3_pack_backward, for the input gradient.
// U = G g Gᵀ (n x n from 3 x 3, G n x 3) for rows [a_lo, a_hi) of every u[xi] (a = ci forward, co backward), so
// threads can split the work; in double, rounded once. Blocks of 64 b's: the 9 taps gathered into planes, the
// transform along b (vectorised), each u row written contiguously (16 or 36 rows 256 KB apart would otherwise fight
// over the same L1 sets).
static void pack_tiles(const float *w, int cout, int cin, int backward, int a_lo, int a_hi, float *u, int n,
                       const double G[][3]) {
    enum { B = 64 };
    int ki = backward ? cout : cin, ko = backward ? cin : cout, cpad = cconv3_pad32(ko), nn = n * n;
    double g[9][B], t[6][3][B];
    float r[36][B];
    for (int a = a_lo; a < a_hi; a++) {
        for (int b0 = 0; b0 < ko; b0 += B) {
            int nb = ko - b0 < B ? ko - b0 : B;
            for (int j = 0; j < nb; j++) {
                int co = backward ? a : b0 + j, ci = backward ? b0 + j : a;
                const float *src = w + ((size_t)co * cin + ci) * 9;
                for (int k = 0; k < 9; k++) g[k][j] = backward ? src[8 - k] : src[k];
            }
            for (int i = 0; i < n; i++)  // t = G g
                for (int l = 0; l < 3; l++)
                    for (int j = 0; j < nb; j++) t[i][l][j] = G[i][0] * g[l][j] + G[i][1] * g[3 + l][j] + G[i][2] * g[6 + l][j];
            for (int i = 0; i < n; i++)  // u = t Gᵀ
                for (int k = 0; k < n; k++)
                    for (int j = 0; j < nb; j++) r[i * n + k][j] = (float)(t[i][0][j] * G[k][0] + t[i][1][j] * G[k][1] + t[i][2][j] * G[k][2]);
            for (int xi = 0; xi < nn; xi++) memcpy(u + ((size_t)xi * ki + a) * cpad + b0, r[xi], sizeof(float) * nb);
        }
        for (int xi = 0; xi < nn; xi++) memset(u + ((size_t)xi * ki + a) * cpad + ko, 0, sizeof(float) * (cpad - ko));
    }
}

void cwino_pack(const float *w, int cout, int cin, int backward, int a_lo, int a_hi, float *u) {
    static const double G[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, -.5, .5}, {0, 0, 1}};
    pack_tiles(w, cout, cin, backward, a_lo, a_hi, u, 4, G);
}

// Tiles per block: V (xis x tiles x cs) and M (xis x tiles x cpad) together about 256K floats (the 1 MB L2), a
// multiple of 12 (every level's micro-kernel height divides it).
static int block_tiles(int xis, int cs, int cpad) {
    int t = (1 << 18) / (xis * (cs + cpad)) / 12 * 12;
    return t < 12 ? 12 : (t > 240 ? 240 : t);
}

int cwino_block_tiles(int cs, int cpad) { return block_tiles(16, cs, cpad); }
size_t cwino_scratch_floats(int cs, int cpad) { return (size_t)16 * cwino_block_tiles(cs, cpad) * (cs + cpad); }

#define WINO_KERNEL(NAME, ATTR, VL, NV, PX)                                                                             \
ATTR __attribute__((always_inline)) static inline void NAME##_gemm(const float *a, int as, int k, const float *b,     \
                                                                   int bs, float *c, int ldc) {                        \
    typedef float vec __attribute__((vector_size(VL * 4), aligned(4)));                                               \
    vec acc[PX][NV];                                                                                                   \
    UNROLL for (int i = 0; i < PX; i++) UNROLL for (int v = 0; v < NV; v++) acc[i][v] = (vec){0};                     \
    for (int ci = 0; ci < k; ci++, a++, b += bs) {                                                                     \
        vec wv[NV];                                                                                                    \
        UNROLL for (int v = 0; v < NV; v++) wv[v] = *(const vec *)(b + v * VL);                                       \
        UNROLL for (int i = 0; i < PX; i++) {                                                                          \
            float x = a[(size_t)i * as];                                                                               \
            UNROLL for (int v = 0; v < NV; v++) acc[i][v] += x * wv[v];                                               \
        }                                                                                                              \
    }                                                                                                                  \
    UNROLL for (int i = 0; i < PX; i++) UNROLL for (int v = 0; v < NV; v++)                                           \
        *(vec *)(c + (size_t)i * ldc + v * VL) = acc[i][v];                                                            \
}                                                                                                                      \
ATTR static void NAME(const float *xps, size_t x_image, int cs, int cin, int h, int w, int t_lo, int total,            \
                      const float *u, int cpad, float *scratch, float *yfs, size_t y_image) {                          \
    typedef float vec __attribute__((vector_size(VL * 4), aligned(4)));                                               \
    int p = w + 2, tw = (w + 1) / 2, per = cwino_tiles(h, w), tb = cwino_block_tiles(cs, cpad);                       \
    float *V = scratch, *M = scratch + (size_t)16 * tb * cs;                                                           \
    for (int t0 = t_lo; t0 < total; t0 += tb) {                                                                        \
        int nb = total - t0 < tb ? total - t0 : tb, nbp = (nb + PX - 1) / PX * PX;                                     \
        for (int j = 0; j < nbp; j++) {                                                                                \
            if (j >= nb) { /* rows of the last micro-tile past the end: zeros, never read back */                     \
                for (int xi = 0; xi < 16; xi++) memset(V + ((size_t)xi * tb + j) * cs, 0, sizeof(float) * cs);        \
                continue;                                                                                              \
            }                                                                                                          \
            int t = t0 + j, s = t / per, r = t % per, ty = r / tw, tx = r % tw;                                        \
            const float *base = xps + x_image * s + ((size_t)(2 * ty) * p + 2 * tx) * cs;                              \
            for (int c = 0; c < cs; c += VL) {                                                                         \
                vec d[4][4], e[4][4];                                                                                  \
                UNROLL for (int r4 = 0; r4 < 4; r4++) UNROLL for (int c4 = 0; c4 < 4; c4++)                           \
                    d[r4][c4] = *(const vec *)(base + ((size_t)r4 * p + c4) * cs + c);                                 \
                UNROLL for (int c4 = 0; c4 < 4; c4++) {                                                                \
                    e[0][c4] = d[0][c4] - d[2][c4]; e[1][c4] = d[1][c4] + d[2][c4];                                    \
                    e[2][c4] = d[2][c4] - d[1][c4]; e[3][c4] = d[1][c4] - d[3][c4];                                    \
                }                                                                                                      \
                UNROLL for (int r4 = 0; r4 < 4; r4++) {                                                                \
                    vec v4[4] = {e[r4][0] - e[r4][2], e[r4][1] + e[r4][2], e[r4][2] - e[r4][1], e[r4][1] - e[r4][3]}; \
                    UNROLL for (int c4 = 0; c4 < 4; c4++)                                                              \
                        *(vec *)(V + ((size_t)(r4 * 4 + c4) * tb + j) * cs + c) = v4[c4];                              \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
        for (int xi = 0; xi < 16; xi++)                                                                                \
            for (int co0 = 0; co0 < cpad; co0 += VL * NV)                                                              \
                for (int j0 = 0; j0 < nbp; j0 += PX)                                                                   \
                    NAME##_gemm(V + ((size_t)xi * tb + j0) * cs, cs, cin, u + (size_t)xi * cin * cpad + co0, cpad,     \
                                M + ((size_t)xi * tb + j0) * cpad + co0, cpad);                                        \
        for (int j = 0; j < nb; j++) {                                                                                 \
            int t = t0 + j, s = t / per, r = t % per, ty = r / tw, tx = r % tw;                                        \
            float *yf = yfs + y_image * s + ((size_t)(2 * ty) * p + 2 * tx) * cpad;                                    \
            int second_row = 2 * ty + 1 < h; /* an odd h's last tile row has one output row */                         \
            for (int c = 0; c < cpad; c += VL) {                                                                       \
                vec m[16], q[2][4];                                                                                    \
                UNROLL for (int xi = 0; xi < 16; xi++) m[xi] = *(const vec *)(M + ((size_t)xi * tb + j) * cpad + c);  \
                UNROLL for (int c4 = 0; c4 < 4; c4++) {                                                                \
                    q[0][c4] = m[c4] + m[4 + c4] + m[8 + c4];                                                          \
                    q[1][c4] = m[4 + c4] - m[8 + c4] - m[12 + c4];                                                     \
                }                                                                                                      \
                *(vec *)(yf + c) = q[0][0] + q[0][1] + q[0][2];                                                        \
                *(vec *)(yf + cpad + c) = q[0][1] - q[0][2] - q[0][3];                                                 \
                if (second_row) {                                                                                      \
                    *(vec *)(yf + (size_t)p * cpad + c) = q[1][0] + q[1][1] + q[1][2];                                 \
                    *(vec *)(yf + ((size_t)p + 1) * cpad + c) = q[1][1] - q[1][2] - q[1][3];                           \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
    }                                                                                                                  \
}

WINO_KERNEL(wino_avx512, AVX512, 16, 2, 12)
WINO_KERNEL(wino_avx2, AVX2, 8, 2, 6)
WINO_KERNEL(wino_plain, PLAIN, 4, 2, 6)

void cwino_forward(int level, const float *xps, size_t x_image, int cs, int cin, int h, int w, int t_lo, int t_hi,
                   const float *u, int cpad, float *scratch, float *yfs, size_t y_image) {
    switch (usable(level)) {
    case CCONV_AVX512: wino_avx512(xps, x_image, cs, cin, h, w, t_lo, t_hi, u, cpad, scratch, yfs, y_image); break;
    case CCONV_AVX2: wino_avx2(xps, x_image, cs, cin, h, w, t_lo, t_hi, u, cpad, scratch, yfs, y_image); break;
    default: wino_plain(xps, x_image, cs, cin, h, w, t_lo, t_hi, u, cpad, scratch, yfs, y_image); break;
    }
}

// ---- Winograd weight gradient: dL/dg = Gᵀ [ Σ_tiles (A e Aᵀ) ⊙ (Bᵀ d B) ] G per channel pair, e the tile's 2x2 dy ----
// (the transpose of the forward: y = Aᵀ (U ⊙ V) A with U = G g Gᵀ). acc[xi][ci][co] (cs x cpad per xi) gathers the
// 16 channel products over every tile in order; one call does the 4 xi of one row of the 4x4 grid (xi_row), so
// threads take rows and each acc element is summed by one of them, tile after tile: bitwise the same for any split.
int cwino_wgrad_block_tiles(int cs, int cpad) {
    int t = (1 << 18) / (4 * (cs + cpad)) / 12 * 12;
    return t < 12 ? 12 : (t > 480 ? 480 : t);
}
size_t cwino_wgrad_scratch_floats(int cs, int cpad) { return (size_t)4 * cwino_wgrad_block_tiles(cs, cpad) * (cs + cpad); }

#define WINO_WGRAD_KERNEL(NAME, ATTR, VL, NV, CB)                                                                       \
ATTR __attribute__((always_inline)) static inline void NAME##_tile(const float *v, int vs, const float *e, int es,      \
                                                                   int nt, float *acc, int cpad) {                     \
    typedef float vec __attribute__((vector_size(VL * 4), aligned(4)));                                               \
    vec a[CB][NV];                                                                                                     \
    UNROLL for (int c = 0; c < CB; c++) UNROLL for (int k = 0; k < NV; k++) a[c][k] = *(const vec *)(acc + (size_t)c * cpad + k * VL); \
    for (int t = 0; t < nt; t++, v += vs, e += es) {                                                                   \
        vec d[NV];                                                                                                     \
        UNROLL for (int k = 0; k < NV; k++) d[k] = *(const vec *)(e + k * VL);                                        \
        UNROLL for (int c = 0; c < CB; c++) { float b = v[c]; UNROLL for (int k = 0; k < NV; k++) a[c][k] += b * d[k]; } \
    }                                                                                                                  \
    UNROLL for (int c = 0; c < CB; c++) UNROLL for (int k = 0; k < NV; k++) *(vec *)(acc + (size_t)c * cpad + k * VL) = a[c][k]; \
}                                                                                                                      \
ATTR static void NAME(const float *xps, size_t x_image, int cs, int cin, const float *dyps, size_t dy_image, int cpad,  \
                      int h, int w, int n, int xi_row, float *scratch, float *acc) {                                   \
    typedef float vec __attribute__((vector_size(VL * 4), aligned(4)));                                               \
    int p = w + 2, tw = (w + 1) / 2, per = cwino_tiles(h, w), total = n * per, tb = cwino_wgrad_block_tiles(cs, cpad); \
    int i = xi_row, ncb = (cin + CB - 1) / CB;                                                                         \
    float *V = scratch, *E = scratch + (size_t)4 * tb * cs;                                                            \
    for (int t0 = 0; t0 < total; t0 += tb) {                                                                           \
        int nb = total - t0 < tb ? total - t0 : tb;                                                                    \
        for (int j = 0; j < nb; j++) {                                                                                 \
            int t = t0 + j, s = t / per, r = t % per, ty = r / tw, tx = r % tw;                                        \
            const float *xb = xps + x_image * s + ((size_t)(2 * ty) * p + 2 * tx) * cs;                                \
            for (int c = 0; c < cs; c += VL) { /* row i of Bᵀ d, then times B */                                       \
                vec d[4][4], q[4];                                                                                     \
                UNROLL for (int r4 = 0; r4 < 4; r4++) UNROLL for (int c4 = 0; c4 < 4; c4++)                           \
                    d[r4][c4] = *(const vec *)(xb + ((size_t)r4 * p + c4) * cs + c);                                   \
                UNROLL for (int c4 = 0; c4 < 4; c4++)                                                                  \
                    q[c4] = i == 0 ? d[0][c4] - d[2][c4] : i == 1 ? d[1][c4] + d[2][c4] : i == 2 ? d[2][c4] - d[1][c4] \
                                                                                                 : d[1][c4] - d[3][c4]; \
                vec v4[4] = {q[0] - q[2], q[1] + q[2], q[2] - q[1], q[1] - q[3]};                                      \
                UNROLL for (int c4 = 0; c4 < 4; c4++) *(vec *)(V + ((size_t)c4 * tb + j) * cs + c) = v4[c4];           \
            }                                                                                                          \
            /* dy pixel (y, x) is padded pixel (y + 1) * p + x + 1; an odd edge reads the zero border */               \
            const float *eb = dyps + dy_image * s + ((size_t)(2 * ty + 1) * p + 2 * tx + 1) * cpad;                    \
            for (int c = 0; c < cpad; c += VL) { /* row i of A e, then times Aᵀ; A = [1 0; 1 1; 1 -1; 0 -1] */         \
                vec e00 = *(const vec *)(eb + c), e01 = *(const vec *)(eb + cpad + c);                                 \
                vec e10 = *(const vec *)(eb + (size_t)p * cpad + c), e11 = *(const vec *)(eb + ((size_t)p + 1) * cpad + c); \
                vec r0 = i == 0 ? e00 : i == 1 ? e00 + e10 : i == 2 ? e00 - e10 : -e10;                                \
                vec r1 = i == 0 ? e01 : i == 1 ? e01 + e11 : i == 2 ? e01 - e11 : -e11;                                \
                vec q4[4] = {r0, r0 + r1, r0 - r1, -r1};                                                               \
                UNROLL for (int c4 = 0; c4 < 4; c4++) *(vec *)(E + ((size_t)c4 * tb + j) * cpad + c) = q4[c4];         \
            }                                                                                                          \
        }                                                                                                              \
        for (int c4 = 0; c4 < 4; c4++)                                                                                 \
            for (int cb = 0; cb < ncb; cb++)                                                                           \
                for (int co0 = 0; co0 < cpad; co0 += VL * NV)                                                          \
                    NAME##_tile(V + (size_t)c4 * tb * cs + cb * CB, cs, E + (size_t)c4 * tb * cpad + co0, cpad, nb,    \
                                acc + ((size_t)(i * 4 + c4) * cs + cb * CB) * cpad + co0, cpad);                       \
    }                                                                                                                  \
}

WINO_WGRAD_KERNEL(wino_wgrad_avx512, AVX512, 16, 2, 8)
WINO_WGRAD_KERNEL(wino_wgrad_avx2, AVX2, 8, 2, 4)
WINO_WGRAD_KERNEL(wino_wgrad_plain, PLAIN, 4, 2, 4)

void cwino_wgrad(int level, const float *xps, size_t x_image, int cin, const float *dyps, size_t dy_image, int cout,
                 int h, int w, int n, int xi_row, float *scratch, float *acc) {
    int cs = cconv3_pad32(cin), cpad = cconv3_pad32(cout);
    switch (usable(level)) {
    case CCONV_AVX512: wino_wgrad_avx512(xps, x_image, cs, cin, dyps, dy_image, cpad, h, w, n, xi_row, scratch, acc); break;
    case CCONV_AVX2: wino_wgrad_avx2(xps, x_image, cs, cin, dyps, dy_image, cpad, h, w, n, xi_row, scratch, acc); break;
    default: wino_wgrad_plain(xps, x_image, cs, cin, dyps, dy_image, cpad, h, w, n, xi_row, scratch, acc); break;
    }
}

// Input channels [ci_lo, ci_hi) (threads split them), blocks of 64 output channels: the transform runs along co
// (vectorised) on contiguous rows of acc.
void cwino_wgrad_finish(const float *acc, int cout, int cin, int ci_lo, int ci_hi, float *dw) {
    enum { B = 64 };
    int cs = cconv3_pad32(cin), cpad = cconv3_pad32(cout);
    double t[3][4][B], r[9][B];
    for (int ci = ci_lo; ci < ci_hi; ci++)
        for (int co0 = 0; co0 < cout; co0 += B) {
            int nb = cout - co0 < B ? cout - co0 : B;
            const float *m = acc + (size_t)ci * cpad + co0;  // m[xi] = m + xi * cs * cpad
            size_t xs = (size_t)cs * cpad;
            for (int j = 0; j < 4; j++)  // t = Gᵀ m: rows k of Gᵀ = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1]
                for (int b = 0; b < nb; b++) {
                    double m0 = m[(0 * 4 + j) * xs + b], m1 = m[(1 * 4 + j) * xs + b], m2 = m[(2 * 4 + j) * xs + b], m3 = m[(3 * 4 + j) * xs + b];
                    t[0][j][b] = m0 + .5 * (m1 + m2); t[1][j][b] = .5 * (m1 - m2); t[2][j][b] = .5 * (m1 + m2) + m3;
                }
            for (int k = 0; k < 3; k++)  // (Gᵀ m) G
                for (int b = 0; b < nb; b++) {
                    double *q = (double[4]){t[k][0][b], t[k][1][b], t[k][2][b], t[k][3][b]};
                    r[k * 3][b] = q[0] + .5 * (q[1] + q[2]); r[k * 3 + 1][b] = .5 * (q[1] - q[2]); r[k * 3 + 2][b] = .5 * (q[1] + q[2]) + q[3];
                }
            for (int b = 0; b < nb; b++) {
                float *d = dw + ((size_t)(co0 + b) * cin + ci) * 9;
                for (int k = 0; k < 9; k++) d[k] += (float)r[k][b];
            }
        }
}

// ---- Winograd F(4x4, 3x3): 6x6 input tiles at stride 4, 36 products per 4x4 outputs (4x fewer than direct). A map
// whose h or w is not a multiple of 4 ends in partial tiles (ceil(h/4) x ceil(w/4) tiles): their reads past the
// padded map's zero border are zeros (never loaded: the padded layout ends there) and only their outputs inside the
// map are written. Bᵀ, G, Aᵀ of Lavin & Gray (points 0, ±1, ±2):
//   Bᵀ = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G  = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// Bound as for F(2x2, 3x3) but with the coefficient 113.8 (largest entry of |Aᵀ|⊗|Aᵀ| · |G|⊗|G| · |Bᵀ|⊗|Bᵀ|) for 4,
// and deeper transforms (input 3 roundings a dimension: the ·5 and two additions; output 4 additions a dimension):
// |ŷ - y| ≤ γ(cin+15) · 113.8 · Σ_ci ‖g‖₁ ‖d‖₁ (d the output's 6x6 input tile): ~30x F(2x2, 3x3)'s. A partial
// tile is a whole one whose pixels past the map are exact zeros, so the same bound holds (d with those zeros).
int cwino4_tiles(int h, int w) { return ((h + 3) / 4) * ((w + 3) / 4); }

void cwino4_pack(const float *w, int cout, int cin, int backward, int a_lo, int a_hi, float *u) {
    static const double G[6][3] = {{.25, 0, 0}, {-1. / 6, -1. / 6, -1. / 6}, {-1. / 6, 1. / 6, -1. / 6},
                                   {1. / 24, 1. / 12, 1. / 6}, {1. / 24, -1. / 12, 1. / 6}, {0, 0, 1}};
    pack_tiles(w, cout, cin, backward, a_lo, a_hi, u, 6, G);
}

// Large transformed weights (36 matrices cs x cpad, e.g. vggm's 256→384: 14 MB) stream through for every block, so
// an L2-sized block of 12 tiles was bound by that stream (256↔384 one core 235–249 GFLOP/s against 297–323 with
// 96–192 tiles a block; docs/performance-conv.md). Beyond 8 MB (a quarter of the L3) the block holds
// cs·cpad / (cs + cpad) tiles or more, where the weights' traffic per tile falls to V's and M's (vggm: 132–156
// tiles; V and M then live in L3). The teachers' F(4x4, 3x3) layers (at most 4.7 MB) keep the L2-sized blocks they
// were measured with. A tile's result does not depend on its block.
int cwino4_block_tiles(int cs, int cpad) {
    int t = block_tiles(36, cs, cpad);
    if ((size_t)36 * cs * cpad * 4 <= (size_t)8 << 20) return t;
    int reuse = ((long)cs * cpad / (cs + cpad) + 11) / 12 * 12;
    return reuse > 240 ? 240 : reuse > t ? reuse : t;
}
size_t cwino4_scratch_floats(int cs, int cpad) { return (size_t)36 * cwino4_block_tiles(cs, cpad) * (cs + cpad); }

#define BT6(o, d) /* o = Bᵀ d for 6 vectors */                                                                          \
    o[0] = 4 * d[0] - 5 * d[2] + d[4]; o[1] = d[3] + d[4] - 4 * (d[1] + d[2]); o[2] = d[4] - d[3] + 4 * (d[1] - d[2]); \
    o[3] = d[4] - d[2] + 2 * (d[3] - d[1]); o[4] = d[4] - d[2] + 2 * (d[1] - d[3]); o[5] = 4 * d[1] - 5 * d[3] + d[5];
#define AT6(o, m) /* o = Aᵀ m: 4 from 6 */                                                                              \
    o[0] = m[0] + m[1] + m[2] + m[3] + m[4]; o[1] = m[1] - m[2] + 2 * (m[3] - m[4]);                                   \
    o[2] = m[1] + m[2] + 4 * (m[3] + m[4]); o[3] = m[1] - m[2] + 8 * (m[3] - m[4]) + m[5];

#define WINO4_KERNEL(NAME, GEMM, ATTR, VL, NV, PX)                                                                      \
/* V[.][j] = Bᵀ d B of the 6x6 tile at base; only its first `rows` x `cols` pixels are read (the rest is zeros past */ \
/* the map's zero border: a partial tile). Called with 6, 6 for whole tiles, so the masks fold away. */               \
ATTR __attribute__((always_inline)) static inline void NAME##_in(const float *base, int p, int cs, int rows, int cols, \
                                                                 float *V, int tb, int j) {                            \
    typedef float vec __attribute__((vector_size(VL * 4), aligned(4)));                                               \
    for (int c = 0; c < cs; c += VL) {                                                                                 \
        vec e[6][6];                                                                                                   \
        UNROLL for (int c6 = 0; c6 < 6; c6++) {                                                                        \
            vec d[6], o[6];                                                                                            \
            UNROLL for (int r6 = 0; r6 < 6; r6++)                                                                      \
                d[r6] = r6 < rows && c6 < cols ? *(const vec *)(base + ((size_t)r6 * p + c6) * cs + c) : (vec){0};   \
            BT6(o, d)                                                                                                  \
            UNROLL for (int r6 = 0; r6 < 6; r6++) e[r6][c6] = o[r6];                                                   \
        }                                                                                                              \
        UNROLL for (int r6 = 0; r6 < 6; r6++) {                                                                        \
            vec o[6];                                                                                                  \
            BT6(o, e[r6])                                                                                              \
            UNROLL for (int c6 = 0; c6 < 6; c6++) *(vec *)(V + ((size_t)(r6 * 6 + c6) * tb + j) * cs + c) = o[c6];     \
        }                                                                                                              \
    }                                                                                                                  \
}                                                                                                                      \
/* yf = Aᵀ M A of tile j: only its first `rows` x `cols` outputs (a partial tile's others fall outside the map). */    \
ATTR __attribute__((always_inline)) static inline void NAME##_out(const float *M, int tb, int j, int cpad, int p,      \
                                                                  int rows, int cols, float *yf) {                     \
    typedef float vec __attribute__((vector_size(VL * 4), aligned(4)));                                               \
    for (int c = 0; c < cpad; c += VL) {                                                                               \
        vec q[4][6];                                                                                                   \
        UNROLL for (int c6 = 0; c6 < 6; c6++) {                                                                        \
            vec m[6], o[4];                                                                                            \
            UNROLL for (int r6 = 0; r6 < 6; r6++) m[r6] = *(const vec *)(M + ((size_t)(r6 * 6 + c6) * tb + j) * cpad + c); \
            AT6(o, m)                                                                                                  \
            UNROLL for (int r4 = 0; r4 < 4; r4++) q[r4][c6] = o[r4];                                                   \
        }                                                                                                              \
        UNROLL for (int r4 = 0; r4 < 4; r4++) {                                                                        \
            vec o[4];                                                                                                  \
            AT6(o, q[r4])                                                                                              \
            UNROLL for (int c4 = 0; c4 < 4; c4++)                                                                      \
                if (r4 < rows && c4 < cols) *(vec *)(yf + ((size_t)r4 * p + c4) * cpad + c) = o[c4];                   \
        }                                                                                                              \
    }                                                                                                                  \
}                                                                                                                      \
ATTR static void NAME(const float *xps, size_t x_image, int cs, int cin, int h, int w, int t_lo, int total,            \
                      const float *u, int cpad, float *scratch, float *yfs, size_t y_image) {                          \
    int p = w + 2, tw = (w + 3) / 4, per = cwino4_tiles(h, w), tb = cwino4_block_tiles(cs, cpad);                     \
    float *V = scratch, *M = scratch + (size_t)36 * tb * cs;                                                           \
    for (int t0 = t_lo; t0 < total; t0 += tb) {                                                                        \
        int nb = total - t0 < tb ? total - t0 : tb, nbp = (nb + PX - 1) / PX * PX;                                     \
        for (int j = 0; j < nbp; j++) {                                                                                \
            if (j >= nb) {                                                                                             \
                for (int xi = 0; xi < 36; xi++) memset(V + ((size_t)xi * tb + j) * cs, 0, sizeof(float) * cs);        \
                continue;                                                                                              \
            }                                                                                                          \
            int t = t0 + j, s = t / per, r = t % per, ty = r / tw, tx = r % tw;                                        \
            const float *base = xps + x_image * s + ((size_t)(4 * ty) * p + 4 * tx) * cs;                              \
            int rows = h + 2 - 4 * ty, cols = w + 2 - 4 * tx; /* padded rows / columns from the tile's corner on */   \
            if (rows >= 6 && cols >= 6) NAME##_in(base, p, cs, 6, 6, V, tb, j);                                        \
            else NAME##_in(base, p, cs, rows, cols, V, tb, j);                                                         \
        }                                                                                                              \
        for (int xi = 0; xi < 36; xi++)                                                                                \
            for (int co0 = 0; co0 < cpad; co0 += VL * NV)                                                              \
                for (int j0 = 0; j0 < nbp; j0 += PX)                                                                   \
                    GEMM(V + ((size_t)xi * tb + j0) * cs, cs, cin, u + (size_t)xi * cin * cpad + co0, cpad,            \
                         M + ((size_t)xi * tb + j0) * cpad + co0, cpad);                                               \
        for (int j = 0; j < nb; j++) {                                                                                 \
            int t = t0 + j, s = t / per, r = t % per, ty = r / tw, tx = r % tw;                                        \
            float *yf = yfs + y_image * s + ((size_t)(4 * ty) * p + 4 * tx) * cpad;                                    \
            int rows = h - 4 * ty, cols = w - 4 * tx; /* outputs from the tile's corner on */                          \
            if (rows >= 4 && cols >= 4) NAME##_out(M, tb, j, cpad, p, 4, 4, yf);                                       \
            else NAME##_out(M, tb, j, cpad, p, rows, cols, yf);                                                        \
        }                                                                                                              \
    }                                                                                                                  \
}


WINO4_KERNEL(wino4_avx512, wino_avx512_gemm, AVX512, 16, 2, 12)
WINO4_KERNEL(wino4_avx2, wino_avx2_gemm, AVX2, 8, 2, 6)
WINO4_KERNEL(wino4_plain, wino_plain_gemm, PLAIN, 4, 2, 6)

void cwino4_forward(int level, const float *xps, size_t x_image, int cs, int cin, int h, int w, int t_lo, int t_hi,
                    const float *u, int cpad, float *scratch, float *yfs, size_t y_image) {
    switch (usable(level)) {
    case CCONV_AVX512: wino4_avx512(xps, x_image, cs, cin, h, w, t_lo, t_hi, u, cpad, scratch, yfs, y_image); break;
    case CCONV_AVX2: wino4_avx2(xps, x_image, cs, cin, h, w, t_lo, t_hi, u, cpad, scratch, yfs, y_image); break;
    default: wino4_plain(xps, x_image, cs, cin, h, w, t_lo, t_hi, u, cpad, scratch, yfs, y_image); break;
    }
}
