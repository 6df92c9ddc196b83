#ifndef EMOVOX_CCONV_KERNELS_H
#define EMOVOX_CCONV_KERNELS_H
#include <stddef.h>

// Direct 3x3 stride-1 'same' convolution (pad 1 on every side) without im2col, for EmovoxKernels.
//
// Layouts (one image each; N is looped by the Swift caller, which owns the threads):
// - padded image  "xp": channels last, rows h+2 (+ slack), row pitch p = w + 2 pixels, `cs` floats per pixel,
//   zero border and zero slack; pixel (y, x) of the image sits at flat pixel (y + 1) * p + (x + 1).
// - flat output   "yf": channels last, `cpad` floats per pixel (cout rounded up to 32), flat pixel q = y * p + x;
//   the two columns x = w, w + 1 of every row are computed and thrown away. With this pitch every tap of
//   every output is the same constant offset (kh * p + kw) into xp, so a micro-kernel never tests a border.
// A padded dy is also the flat dy the weight gradient needs: flat q of dy is padded pixel q + p + 1, and the
// garbage columns of q land on the zero border.
//
// Every kernel exists three times, compiled for AVX-512F, AVX2+FMA and baseline x86-64 (the plain one is the
// reference in tests); `level` picks one and is lowered to what the CPU supports, so a binary built here runs
// on a CPU without AVX-512. The summation order of one output never depends on the level or on threads.

enum { CCONV_PLAIN = 0, CCONV_AVX2 = 1, CCONV_AVX512 = 2 };

// The highest level this CPU (and OS) runs.
int cconv_best_level(void);
// `level` lowered to what this CPU runs (the dispatch every kernel entry point uses).
int cconv_usable_level(int level);
// GFLOP/s of `iters` rounds of independent FMA chains at `level` on the calling thread (the measured peak the
// kernels are compared with; 0 for the plain level).
double cconv_fma_peak_gflops(int level, long iters);

// Floats per pixel of a padded dy / of a flat output: c rounded up to 32.
int cconv3_pad32(int c);
// Floats per pixel of a padded input image: c rounded up to 4.
int cconv3_pad4(int c);
// Flat output pixels computed for an h x w image (h * (w + 2) rounded up to the micro-kernels' 12).
int cconv3_flat_pixels(int h, int w);
// Pixels of a padded image buffer (covers every read of the last micro-kernel tile).
int cconv3_padded_pixels(int h, int w);

// Weights [cout][cin][3][3] -> [9][cin][cpad32(cout)] (forward), or the flipped transpose
// [9][cout][cpad32(cin)] (input gradient: dx is the forward conv of dy with these weights).
void cconv3_pack_forward(const float *w, int cout, int cin, float *wp);
void cconv3_pack_backward(const float *w, int cout, int cin, float *wp);

// One image [c][h][w] (NCHW plane stack) into a zeroed padded buffer with `cs` floats per pixel.
void cconv3_pad(const float *x, int c, int h, int w, int cs, float *xp);

// yf[q][co] = sum over taps, ci of xp[q + tap][ci] * wp[tap][ci][co], for co in [co_lo, co_hi)
// (multiples of 32) and every flat pixel q.
void cconv3_forward(int level, const float *xp, int cs, int cin, int h, int w, const float *wp, int cpad,
                    int co_lo, int co_hi, float *yf);

// Flat output channels [co_lo, co_hi) (clipped to cout) back to planes y[co][h][w]: y = yf * scale + shift,
// then max(y, 0) when relu (scale and shift may be NULL: 1 and 0).
void cconv3_unpad(const float *yf, int cpad, int cout, int co_lo, int co_hi, int h, int w,
                  const float *scale, const float *shift, int relu, float *y);

// Weight-gradient tiles of this level for cin -> cout (a tile is one kernel row x a block of input channels x a
// block of output channels; tiles never share an accumulator, so threads may split them freely).
int cconv3_wgrad_tiles(int level, int cin, int cout);
// acc[tap][ci][co] (ci stride cpad32(cout), cpad4(cin) rows per tap) += sum over the n images and their pixels,
// in image order then pixel order, of x * dy, for tiles [tile_lo, tile_hi). xps: n padded images of
// `x_image` floats each (cs = cpad4(cin)); dyps: n padded dy images of `dy_image` floats (cs = cpad32(cout)).
void cconv3_wgrad(int level, const float *xps, size_t x_image, int cin, const float *dyps, size_t dy_image, int cout,
                  int h, int w, int n, int tile_lo, int tile_hi, float *acc);
// dw[co][ci][kh][kw] += acc[kh * 3 + kw][ci][co].
void cconv3_wgrad_finish(const float *acc, int cout, int cin, float *dw);

// Direct 5x5 stride-2 convolution (any padding; the students' conv2) by the same micro-kernel: the input is split
// once into its four (row, column) phases, each a channels-last image of cconv5s2_phase_pixels(out_h, out_w) pixels
// with row pitch p = out_w + 2 and `cs` floats per pixel (zeros outside the input), stored one after another; then
// every tap is a constant flat offset into one phase. Output: the flat layout above for an out_h x out_w image
// (cconv3_flat_pixels(out_h, out_w) pixels of cpad floats; cconv3_unpad(..., out_h, out_w, ...) writes planes).
int cconv5s2_phase_pixels(int out_h, int out_w);
// Weights [cout][cin][5][5] -> [cpad32(cout) / 32][25][cin][32] (each block of 32 output channels contiguous).
void cconv5s2_pack_forward(const float *w, int cout, int cin, float *wp);
// One image [c][h][w] into its 4 phase images (4 * cconv5s2_phase_pixels * cs floats, every one written).
void cconv5s2_split(const float *x, int c, int h, int w, int pad_top, int pad_left, int out_h, int out_w, int cs,
                    float *xs);
// yf[q][co] = sum over the 25 taps (ky, kx in order), ci of x[2y + ky - pad_top][2x + kx - pad_left][ci] * w, for
// co in [co_lo, co_hi) (multiples of 32); same summation order at every level.
void cconv5s2_forward(int level, const float *xs, int cs, int cin, int out_h, int out_w, const float *wp, int cpad,
                      int co_lo, int co_hi, float *yf);

// The same for any odd k x k stride-2 conv, k <= 7 (the students' conv1 is 7x7): k * k taps phase by phase, weights
// [cout][cin][k][k] -> [cpad32(cout) / 32][k * k][cin][32]. cs may be 1 for one input channel (the kernel reads
// scalars). Past 5x5 the flat output's row pitch is wider than out_w + 2 (cconvs2_flat_pixels pixels; written back by
// cconvs2_unpad_rows). cconvs2_forward_rows computes output rows [r_lo, r_hi) only, bitwise as the whole image does;
// r_lo must be a multiple of cconvs2_row_chunk (so no flat tile of one range writes into the next), r_hi too or out_h.
int cconvs2_phase_pixels(int k, int out_h, int out_w);
void cconvs2_pack_forward(int k, const float *w, int cout, int cin, float *wp);
void cconvs2_split(int k, const float *x, int c, int h, int w, int pad_top, int pad_left, int out_h, int out_w, int cs,
                   float *xs);
void cconvs2_forward_rows(int level, int k, const float *xs, int cs, int cin, int out_h, int out_w, int r_lo, int r_hi,
                          const float *wp, int cpad, int co_lo, int co_hi, float *yf);
int cconvs2_flat_pixels(int k, int out_h, int out_w);
int cconvs2_pitch(int k, int out_w);  // the phases' and the flat output's row pitch
int cconvs2_row_chunk(int k, int out_w);
// cconv3_unpad for output rows [r_lo, r_hi) of a k x k stride-2 flat output.
void cconvs2_unpad_rows(int k, const float *yf, int cpad, int cout, int co_lo, int co_hi, int out_h, int out_w, int r_lo,
                        int r_hi, const float *scale, const float *shift, int relu, float *y);

// One input channel (conv1): the k x k stride-2 forward with vectors along output rows, written straight into planes
// y[co][out_h][out_w] with y·scale + shift and an optional ReLU (scale, shift may be NULL), rows [r_lo, r_hi). xs:
// cconvs2_split with cs = 1, followed by cconvs2c1_slack_floats() more floats (read, never used). Weights packed by
// cconvs2c1_pack into cconvs2c1_weight_floats floats.
int cconvs2c1_weight_floats(int k, int cout);
void cconvs2c1_pack(int k, const float *w, int cout, float *wc);
int cconvs2c1_slack_floats(void);
void cconvs2c1_forward_rows(int level, int k, const float *xs, int out_h, int out_w, int r_lo, int r_hi, const float *wc,
                            int cout, const float *scale, const float *shift, int relu, float *y);

// Input gradient of the 5x5 stride-2 conv, phase by phase (method in cconv_kernels.c): dy padded channels last
// (cs = cpad4(cout) floats a pixel, cconv5s2_dy_pixels pixels), weights packed per phase, four flat phase outputs of
// cconv5s2_dx_flat_pixels pixels x cpad = cpad32(cin) floats one after another, merged back into dx planes.
int cconv5s2_dy_pixels(int h, int w, int pad_top, int pad_left, int out_h, int out_w);
int cconv5s2_dx_flat_pixels(int h, int w, int pad_top, int pad_left, int out_h, int out_w);
// Weights [cout][cin][5][5] -> 25 x cout x cpad32(cin) floats (the phases' taps, blocks of 32 input channels).
void cconv5s2_pack_backward(const float *w, int cout, int cin, float *wb);
// One dy image [c][out_h][out_w] into the padded layout (every float written).
void cconv5s2_pad_dy(const float *dy, int c, int h, int w, int pad_top, int pad_left, int out_h, int out_w, int cs, float *dyp);
// The four phase outputs for input channels [ci_lo, ci_hi) (multiples of 32).
void cconv5s2_input_gradient(int level, const float *dyp, int cs, int cout, int h, int w, int pad_top, int pad_left,
                             int out_h, int out_w, const float *wb, int cpad, int ci_lo, int ci_hi, float *yfs);
// dx[ci][y][x] = the phase outputs' value at (y + pad_top, x + pad_left), for ci in [ci_lo, ci_hi) (clipped to cin).
void cconv5s2_merge(const float *yfs, int cpad, int cin, int ci_lo, int ci_hi, int h, int w, int pad_top, int pad_left,
                    int out_h, int out_w, float *dx);

// Winograd F(2x2, 3x3) (error bound in cconv_kernels.c). Same padded input and flat output layouts as above, but
// the padded input must have cs = cpad32(cin) floats per pixel (the transforms run on whole vectors of channels).
// Tiles of an image: ceil(h/2) * ceil(w/2).
int cwino_tiles(int h, int w);
// Transformed weights u[16][cin'][cpad32(cout')]: of w (backward = 0), or of the flipped transpose (backward = 1:
// cin' = cout, cout' = cin; the input gradient is the forward of dy with these). Rows [a_lo, a_hi) of cin'.
void cwino_pack(const float *w, int cout, int cin, int backward, int a_lo, int a_hi, float *u);
// Tiles per block and the scratch one cwino_forward call needs (floats, 64-byte aligned).
int cwino_block_tiles(int cs, int cpad);
size_t cwino_scratch_floats(int cs, int cpad);
// Padded images (x_image floats apart, cs = cpad32(cin)) -> flat outputs (y_image floats apart, cpad floats per
// pixel, all cpad channels written) for tiles [t_lo, t_hi) of the images' tiles in order (image s's tiles are
// s * cwino_tiles(h, w) ...). Tiles are taken in blocks; every output is computed in the same order whatever the
// range or the blocking, so results do not depend on how images or tiles are split among calls and threads.
void cwino_forward(int level, const float *xps, size_t x_image, int cs, int cin, int h, int w, int t_lo, int t_hi,
                   const float *u, int cpad, float *scratch, float *yfs, size_t y_image);

// Winograd weight gradient: acc[xi][ci][co] (16 x cpad32(cin) x cpad32(cout) floats, zeroed before the first call)
// += Σ over the n images' tiles in order of (A e Aᵀ)_xi (Bᵀ d B)_xi, for the 4 xi of row xi_row (0..3) of the 4x4
// grid. xps: padded x with cs = cpad32(cin); dyps: padded dy with cpad32(cout). Scratch: cwino_wgrad_scratch_floats.
int cwino_wgrad_block_tiles(int cs, int cpad);
size_t cwino_wgrad_scratch_floats(int cs, int cpad);
void cwino_wgrad(int level, const float *xps, size_t x_image, int cin, const float *dyps, size_t dy_image, int cout,
                 int h, int w, int n, int xi_row, float *scratch, float *acc);
// dw[co][ci] += Gᵀ acc[.][ci][co] G (in double, rounded once), for ci in [ci_lo, ci_hi).
void cwino_wgrad_finish(const float *acc, int cout, int cin, int ci_lo, int ci_hi, float *dw);

// Winograd F(4x4, 3x3) forward (partial tiles where h or w is not a multiple of 4), otherwise as cwino_*:
// u[36][cin'][cpad32(cout')].
int cwino4_tiles(int h, int w);
void cwino4_pack(const float *w, int cout, int cin, int backward, int a_lo, int a_hi, float *u);
int cwino4_block_tiles(int cs, int cpad);
size_t cwino4_scratch_floats(int cs, int cpad);
void cwino4_forward(int level, const float *xps, size_t x_image, int cs, int cin, int h, int w, int t_lo, int t_hi,
                    const float *u, int cpad, float *scratch, float *yfs, size_t y_image);

#endif
