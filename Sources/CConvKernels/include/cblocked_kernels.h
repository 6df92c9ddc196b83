#ifndef EMOVOX_CBLOCKED_KERNELS_H
#define EMOVOX_CBLOCKED_KERNELS_H
#include <stddef.h>

// Inference kernels for small channels-last graphs (fer's mini-Xception face teacher), kept in one layout from the
// first conv to the global pooling, so no layer transposes or builds an im2col matrix.
//
// Blocked map: one image, channels last, `cs` floats per pixel (cblk_pixel_stride: c rounded up to 8; a map only read
// by cblk_conv, such as a grey input, may have any cs >= c), with a one-pixel zero border: pixel (y, x) sits at flat pixel (y + 1) * (w + 2) + (x + 1), and
// the buffer holds cblk_map_floats(h, w, cs) floats (the border, plus slack that micro-kernel tiles may read past the
// last row). Kernels write interior pixels only, so a buffer zeroed once keeps its border through any number of
// images; padding channels (c..cs) stay zero because packed weights and biases are zero there.
//
// `level` as in cconv_kernels.h (CCONV_PLAIN / AVX2 / AVX512, lowered to what the CPU runs). Every output is summed
// in one order (its bias, then taps, then input channels in order) whatever the level's tile sizes, the row range
// or the thread, so splitting rows among threads never changes a result.

int cblk_pixel_stride(int c);
size_t cblk_map_floats(int h, int w, int cs);

// Planes [c][h][w] into the interior of a blocked map (channels c..cs of the interior are zeroed), and back.
void cblk_from_planes(const float *x, int c, int h, int w, int cs, float *m);
void cblk_to_planes(const float *m, int c, int h, int w, int cs, float *x);

// Conv weights [cout][cin][kh][kw] -> [kh * kw][cin][cso] (zero past cout); depthwise [c][1][3][3] -> [9][cs].
void cblk_pack_conv(const float *w, int cout, int cin, int kh, int kw, int cso, float *wp);
void cblk_pack_depthwise(const float *w, int c, int cs, float *wp);

// Direct conv, any kh x kw window and stride whose padding is at most one pixel on every side (the border):
// y[yo][xo][co] = bias[co] + Σ_taps Σ_ci x[yo*sh - pad_top + i][xo*sw - pad_left + j][ci] * w, then max(·, 0) when
// relu, for output rows [row_lo, row_hi). bias: cso floats (zero past cout), never NULL.
void cblk_conv(int level, const float *x, int h, int w, int csi, int cin, int kh, int kw, int sh, int sw,
               int pad_top, int pad_left, const float *wp, const float *bias, int relu,
               float *y, int ho, int wo, int cso, int row_lo, int row_hi);

// Separable block: depthwise 3x3 'same' stride 1 (+ dw_bias, cs floats, may be NULL), then pointwise 1x1 (+ bias,
// cso floats) and max(·, 0) when relu, for rows [row_lo, row_hi) of an h x w map. Rows go in tiles of
// cblk_separable_tile_rows: the tile's depthwise output (in `scratch`, cblk_separable_scratch_floats floats) is read
// by the pointwise micro-kernel while it is still in L1/L2; no whole intermediate map is written.
int cblk_separable_tile_rows(int w, int csi);
size_t cblk_separable_scratch_floats(int w, int csi);
void cblk_separable(int level, const float *x, int h, int w, int csi, int cin, const float *dwp, const float *dw_bias,
                    const float *pwp, const float *bias, int relu, float *y, int cso, int row_lo, int row_hi, float *scratch);

// Max pooling (padding never wins) over kh x kw windows, stride sh x sw, Keras/TF padding offsets pad_top/pad_left:
// y = max (accumulate = 0) or y += max (accumulate = 1: a residual Add fused into the pool), rows [row_lo, row_hi).
// scratch: w * cs floats (one row of maxima over the window's rows).
void cblk_maxpool(int level, const float *x, int h, int w, int cs, int kh, int kw, int sh, int sw, int pad_top, int pad_left,
                  float *y, int ho, int wo, int accumulate, int row_lo, int row_hi, float *scratch);

// Whole-buffer elementwise ops (the zero border stays zero): y += x; y = max(y, 0).
void cblk_add(float *y, const float *x, size_t n);
void cblk_relu(float *y, size_t n);
// Mean over the h x w interior of channels [0, c) into out[c].
void cblk_global_average(const float *x, int h, int w, int cs, int c, float *out);

#endif
