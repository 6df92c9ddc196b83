// Single-thread rates of the direct 3×3 kernels (Sources/CConvKernels) per layer shape of the VGG face teachers and the students' 3×3 layers
// (and, in a second table, of the direct 5×5 stride-2 forward and input gradient at the students' conv2),
// beside OpenBLAS sgemm at the same per-image GEMM shapes (forward M=cout N=h·w K=cin·9; weight gradient
// dY·colsᵀ; input gradient Wᵀ·dY) and the measured FMA peak of one core. Best of REPS runs of each: the number
// a loaded machine lets through on a quiet moment. A tool, not part of the build:
//   clang -O3 -ISources/CConvKernels/include -I/usr/include/x86_64-linux-gnu/openblas-pthread \
//     Sources/CConvKernels/cconv_kernels.c tools/conv_kernel_bench.c -o /tmp/conv_kernel_bench -lopenblas
//   /tmp/conv_kernel_bench [REPS] [LEVEL] [conv2|students]   (LEVEL 2 = AVX-512F, 1 = AVX2+FMA, 0 = plain; default
//                                                     best; conv2: only the 5×5 stride-2 table; students: only the
//                                                     students' 3×3 shapes)
// Winograd columns: direct-equivalent GFLOP/s (2·cin·cout·9·h·w / time, comparable with the direct ones), the real
// GFLOP/s of its 16 products per 2×2 tile against the peak, and max |wino − direct| / max |direct| on the forward.
#include "cconv_kernels.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
#define BEST(expr) ({ double b_ = 1e9; for (int r_ = 0; r_ < reps; r_++) { double t0_ = now(); expr; double t_ = now() - t0_; if (t_ < b_) b_ = t_; } b_; })
// sgemm operands at the im2col GEMM shape (M = cout, N = pixels, K = cin·taps), filled with constants.
static void gemm_operands(int M, int N, int K, float **A, float **B, float **C) {
    *A = malloc(4 * (size_t)M * K); *B = malloc(4 * (size_t)K * N); *C = malloc(4 * (size_t)M * N);
    for (size_t i = 0; i < (size_t)M * K; i++) (*A)[i] = .1f;
    for (size_t i = 0; i < (size_t)K * N; i++) (*B)[i] = .2f;
    for (size_t i = 0; i < (size_t)M * N; i++) (*C)[i] = .3f;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 20, lv = argc > 2 ? atoi(argv[2]) : cconv_best_level();
    openblas_set_num_threads(1);
    double peak = 0;
    for (int r = 0; r < 4 * reps; r++) { double g = cconv_fma_peak_gflops(lv, 5000000); if (g > peak) peak = g; }
    printf("level %d; measured FMA peak of one core %.1f GFLOP/s (FMA chains at this level)\n", lv, peak);
    printf("| shape (cin→cout, h×w) | direct fwd | + pad/unpad | direct dx | direct dw | sgemm fwd | sgemm dw | sgemm dx | direct fwd / peak "
           "| wino fwd | + pad/unpad/pack | wino dx | wino fwd real | real / peak | wino vs direct | wino dw | dw vs direct | F(4,3) fwd | F(4,3) vs direct |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    // The VGG face teachers' layers (vgg-fer/vgg13-fer, then vgg13-fer-wide's others), then the students' 3×3 layers
    // (vggm-small conv3-5 at 15×23, vggm's at 30×23).
    int shapes[][4] = {{1, 32, 48, 48}, {32, 32, 48, 48}, {32, 64, 24, 24}, {64, 64, 24, 24}, {64, 128, 12, 12},
                       {128, 128, 12, 12}, {128, 256, 6, 6}, {256, 256, 6, 6},
                       {1, 64, 48, 48}, {64, 64, 48, 48}, {64, 128, 24, 24}, {128, 128, 24, 24}, {128, 256, 12, 12}, {256, 256, 12, 12},
                       {64, 96, 15, 23}, {96, 96, 15, 23}, {96, 64, 15, 23}, {256, 384, 30, 23}, {384, 256, 30, 23}, {256, 256, 30, 23}};
    int only_conv2 = argc > 3 && strcmp(argv[3], "conv2") == 0, only_students = argc > 3 && strcmp(argv[3], "students") == 0;
    for (int si = 0; si < (int)(sizeof shapes / sizeof shapes[0]) && !only_conv2; si++) {
        int cin = shapes[si][0], cout = shapes[si][1], h = shapes[si][2], w = shapes[si][3];
        if (only_students && w != 23) continue;
        int pp = cconv3_padded_pixels(h, w), qn = cconv3_flat_pixels(h, w);
        int csx = cconv3_pad4(cin), cp = cconv3_pad32(cout), cpi = cconv3_pad32(cin);
        float *x = malloc(4 * (size_t)cin * h * w), *wt = malloc(4 * (size_t)cout * cin * 9), *y = malloc(4 * (size_t)cout * h * w);
        float *dy = malloc(4 * (size_t)cout * h * w);
        for (int i = 0; i < cin * h * w; i++) x[i] = rand() / (float)RAND_MAX - .5f;
        for (int i = 0; i < cout * cin * 9; i++) wt[i] = rand() / (float)RAND_MAX - .5f;
        for (int i = 0; i < cout * h * w; i++) dy[i] = rand() / (float)RAND_MAX - .5f;
        float *xp = aligned_alloc(64, 4 * (size_t)pp * csx), *wp = aligned_alloc(64, 4 * 9 * (size_t)cin * cp);
        float *yf = aligned_alloc(64, 4 * (size_t)qn * cp), *dyp = aligned_alloc(64, 4 * (size_t)pp * cp);
        float *wb = aligned_alloc(64, 4 * 9 * (size_t)cout * cpi), *dxf = aligned_alloc(64, 4 * (size_t)qn * cpi);
        float *acc = aligned_alloc(64, 4 * 9 * (size_t)csx * cp);
        cconv3_pack_forward(wt, cout, cin, wp); cconv3_pack_backward(wt, cout, cin, wb);
        cconv3_pad(x, cin, h, w, csx, xp); cconv3_pad(dy, cout, h, w, cp, dyp);
        double tpad = BEST(cconv3_pad(x, cin, h, w, csx, xp));
        double tf = BEST(cconv3_forward(lv, xp, csx, cin, h, w, wp, cp, 0, cp, yf));
        double tun = BEST(cconv3_unpad(yf, cp, cout, 0, cp, h, w, 0, 0, 0, y));
        double tb = BEST(cconv3_forward(lv, dyp, cp, cout, h, w, wb, cpi, 0, cpi, dxf));
        int nt = cconv3_wgrad_tiles(lv, cin, cout);
        double tw = BEST(cconv3_wgrad(lv, xp, (size_t)pp * csx, cin, dyp, (size_t)pp * cp, cout, h, w, 1, 0, nt, acc));
        // Winograd F(2x2,3x3) on WN images per call (tiles of several images share a block, as in the training step,
        // where a thread takes 8 of 64): padded input with cs = cpad32(cin), all per image.
        enum { WN = 8 };
        int csw = cconv3_pad32(cin);
        float *xw = aligned_alloc(64, 4 * (size_t)WN * pp * csw), *yw = aligned_alloc(64, 4 * (size_t)WN * qn * cp);
        float *dyw = aligned_alloc(64, 4 * (size_t)WN * pp * cp), *dxw = aligned_alloc(64, 4 * (size_t)WN * qn * cpi);
        float *uf = aligned_alloc(64, 4 * 16 * (size_t)cin * cp), *ub = aligned_alloc(64, 4 * 16 * (size_t)cout * cpi);
        size_t scr = cwino_scratch_floats(csw, cp) > cwino_scratch_floats(cp, cpi) ? cwino_scratch_floats(csw, cp) : cwino_scratch_floats(cp, cpi);
        float *ws = aligned_alloc(64, 4 * scr);
        for (int s = 0; s < WN; s++) { cconv3_pad(x, cin, h, w, csw, xw + (size_t)s * pp * csw); cconv3_pad(dy, cout, h, w, cp, dyw + (size_t)s * pp * cp); }
        double tup = BEST(cwino_pack(wt, cout, cin, 0, 0, cin, uf)) / WN;
        cwino_pack(wt, cout, cin, 1, 0, cout, ub);
        double twf = BEST(cwino_forward(lv, xw, (size_t)pp * csw, csw, cin, h, w, 0, WN * cwino_tiles(h, w), uf, cp, ws, yw, (size_t)qn * cp)) / WN;
        double twb = BEST(cwino_forward(lv, dyw, (size_t)pp * cp, cp, cout, h, w, 0, WN * cwino_tiles(h, w), ub, cpi, ws, dxw, (size_t)qn * cpi)) / WN;
        double tpadw = BEST(cconv3_pad(x, cin, h, w, csw, xw));
        // Winograd weight gradient over the WN images (4 rows of the transform grid), and its check against the direct one.
        float *wacc = aligned_alloc(64, 4 * 16 * (size_t)csw * cp), *wsc = aligned_alloc(64, 4 * cwino_wgrad_scratch_floats(csw, cp));
        double twdw = BEST(memset(wacc, 0, 4 * 16 * (size_t)csw * cp);
                           for (int row = 0; row < 4; row++) cwino_wgrad(lv, xw, (size_t)pp * csw, cin, dyw, (size_t)pp * cp, cout, h, w, WN, row, wsc, wacc)) / WN;
        float *dwd = calloc((size_t)cout * cin * 9, 4), *dww = calloc((size_t)cout * cin * 9, 4);
        memset(wacc, 0, 4 * 16 * (size_t)csw * cp);
        for (int row = 0; row < 4; row++) cwino_wgrad(lv, xw, (size_t)pp * csw, cin, dyw, (size_t)pp * cp, cout, h, w, 1, row, wsc, wacc);
        cwino_wgrad_finish(wacc, cout, cin, 0, cin, dww);
        memset(acc, 0, 4 * 9 * (size_t)csx * cp);
        cconv3_wgrad(lv, xp, (size_t)pp * csx, cin, dyp, (size_t)pp * cp, cout, h, w, 1, 0, cconv3_wgrad_tiles(lv, cin, cout), acc);
        cconv3_wgrad_finish(acc, cout, cin, dwd);
        double dwmax = 0, dwdiff = 0;
        for (int i = 0; i < cout * cin * 9; i++) {
            double a = dwd[i] < 0 ? -dwd[i] : dwd[i], dd = dwd[i] - dww[i] < 0 ? dww[i] - dwd[i] : dwd[i] - dww[i];
            if (a > dwmax) dwmax = a; if (dd > dwdiff) dwdiff = dd;
        }
        free(wacc); free(wsc); free(dwd); free(dww);
        // F(4x4, 3x3) forward (partial tiles where h or w is not a multiple of 4: the students' 15×23 and 30×23).
        double tw4 = 0, d4max = 0;
        {
            float *u4 = aligned_alloc(64, 4 * 36 * (size_t)cin * cp), *s4 = aligned_alloc(64, 4 * cwino4_scratch_floats(csw, cp));
            float *y4 = aligned_alloc(64, 4 * (size_t)WN * qn * cp);
            cwino4_pack(wt, cout, cin, 0, 0, cin, u4);
            tw4 = BEST(cwino4_forward(lv, xw, (size_t)pp * csw, csw, cin, h, w, 0, WN * cwino4_tiles(h, w), u4, cp, s4, y4, (size_t)qn * cp)) / WN;
            for (int yy = 0; yy < h; yy++) for (int xx = 0; xx < w; xx++) for (int co = 0; co < cout; co++) {
                size_t q = ((size_t)yy * (w + 2) + xx) * cp + co;
                double dd = yf[q] - y4[q]; if (dd < 0) dd = -dd; if (dd > d4max) d4max = dd;
            }
            free(u4); free(s4); free(y4);
        }
        // Winograd against the direct forward (same image): max |difference| / max |direct|.
        cconv3_forward(lv, xp, csx, cin, h, w, wp, cp, 0, cp, yf);
        double dmax = 0, ymax = 0;
        for (int yy = 0; yy < h; yy++) for (int xx = 0; xx < w; xx++) for (int co = 0; co < cout; co++) {
            size_t q = ((size_t)yy * (w + 2) + xx) * cp + co;
            double dd = yf[q] - yw[q]; if (dd < 0) dd = -dd; if (dd > dmax) dmax = dd;
            double a = yf[q] < 0 ? -yf[q] : yf[q]; if (a > ymax) ymax = a;
        }
        free(xw); free(yw); free(dyw); free(dxw); free(uf); free(ub); free(ws);
        int M = cout, N = h * w, K = cin * 9;
        float *A, *B, *C;
        gemm_operands(M, N, K, &A, &B, &C);
        double tg = BEST(cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, A, K, B, N, 0, C, N));
        double tgw = BEST(cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, N, 1, C, N, B, N, 1, A, K));
        double tgi = BEST(cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, M, 1, A, K, C, N, 0, B, N));
        double fl = 2.0 * cout * cin * 9 * h * w / 1e9;
        // Winograd's real flops: the 16 channel products per tile (the transforms' additions not counted).
        double wreal = 2.0 * 16 * cwino_tiles(h, w) * cin * cout / 1e9;
        printf("| %d→%d, %d×%d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f | %.0f | %.0f | %.0f | %.0f | %.2f | %.1e | %.0f | %.1e | %.0f | %.1e |\n",
               cin, cout, h, w, fl / tf, fl / (tf + tpad + tun), fl / tb, fl / tw, fl / tg, fl / tgw, fl / tgi,
               peak > 0 ? fl / tf / peak : 0, fl / twf, fl / (twf + tpadw + tun + tup), fl / twb, wreal / twf,
               peak > 0 ? wreal / twf / peak : 0, ymax > 0 ? dmax / ymax : 0, fl / twdw, dwmax > 0 ? dwdiff / dwmax : 0,
               tw4 > 0 ? fl / tw4 : 0, ymax > 0 ? d4max / ymax : 0);
        free(x); free(wt); free(y); free(dy); free(xp); free(wp); free(yf); free(dyp); free(wb); free(dxf); free(acc); free(A); free(B); free(C);
    }
    if (only_students) return 0;
    // The students' conv2, 5×5 stride 2 pad 1 (cconv5s2_*), at their 400-frame crop: the direct forward alone and with
    // the phase split and the unpad, beside sgemm at the im2col GEMM shape of one image (M = cout, N = out_h·out_w,
    // K = cin·25; without the im2col copy the layer path adds).
    printf("\n| conv2 shape (cin→cout, h×w → out) | direct fwd | + split/unpad | sgemm fwd | direct fwd / peak | direct fwd / sgemm "
           "| direct dx | + pad/merge | sgemm dx (Wᵀ·dY) | direct dx / peak | direct dx / sgemm |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    int s2[][4] = {{32, 64, 63, 98}, {96, 256, 126, 98}};
    for (int si = 0; si < 2; si++) {
        int cin = s2[si][0], cout = s2[si][1], h = s2[si][2], w = s2[si][3], oh = (h + 2 - 5) / 2 + 1, ow = (w + 2 - 5) / 2 + 1;
        int csx = cconv3_pad4(cin), cp = cconv3_pad32(cout), ph = cconv5s2_phase_pixels(oh, ow), qn = cconv3_flat_pixels(oh, ow);
        float *x = malloc(4 * (size_t)cin * h * w), *wt = malloc(4 * (size_t)cout * cin * 25), *y = malloc(4 * (size_t)cout * oh * ow);
        for (int i = 0; i < cin * h * w; i++) x[i] = rand() / (float)RAND_MAX - .5f;
        for (int i = 0; i < cout * cin * 25; i++) wt[i] = rand() / (float)RAND_MAX - .5f;
        float *xs = aligned_alloc(64, 4 * 4 * (size_t)ph * csx), *wp = aligned_alloc(64, 4 * 25 * (size_t)cin * cp);
        float *yf = aligned_alloc(64, 4 * (size_t)qn * cp);
        cconv5s2_pack_forward(wt, cout, cin, wp);
        double tsplit = BEST(cconv5s2_split(x, cin, h, w, 1, 1, oh, ow, csx, xs));
        double tf = BEST(cconv5s2_forward(lv, xs, csx, cin, oh, ow, wp, cp, 0, cp, yf));
        double tun = BEST(cconv3_unpad(yf, cp, cout, 0, cp, oh, ow, 0, 0, 0, y));
        int M = cout, N = oh * ow, K = cin * 25;
        float *A, *B, *C;
        gemm_operands(M, N, K, &A, &B, &C);
        double tg = BEST(cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, A, K, B, N, 0, C, N));
        double fl = 2.0 * M * N * K / 1e9;
        // Input gradient: dy padded, four phase outputs, merged into dx planes; sgemm's dcols = Wᵀ·dY (without col2im).
        int csd = cconv3_pad4(cout), cpi = cconv3_pad32(cin);
        int dyn = cconv5s2_dy_pixels(h, w, 1, 1, oh, ow), dxq = cconv5s2_dx_flat_pixels(h, w, 1, 1, oh, ow);
        float *dy = malloc(4 * (size_t)cout * oh * ow), *dyp = aligned_alloc(64, 4 * (size_t)dyn * csd);
        float *wb = aligned_alloc(64, 4 * 25 * (size_t)cout * cpi), *dxf = aligned_alloc(64, 4 * 4 * (size_t)dxq * cpi);
        float *dx = malloc(4 * (size_t)cin * h * w);
        for (int i = 0; i < cout * oh * ow; i++) dy[i] = rand() / (float)RAND_MAX - .5f;
        cconv5s2_pack_backward(wt, cout, cin, wb);
        double tpd = BEST(cconv5s2_pad_dy(dy, cout, h, w, 1, 1, oh, ow, csd, dyp));
        double tdx = BEST(cconv5s2_input_gradient(lv, dyp, csd, cout, h, w, 1, 1, oh, ow, wb, cpi, 0, cpi, dxf));
        double tmg = BEST(cconv5s2_merge(dxf, cpi, cin, 0, cpi, h, w, 1, 1, oh, ow, dx));
        double tgi = BEST(cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, M, 1, A, K, C, N, 0, B, N));
        printf("| %d→%d, %d×%d → %d×%d | %.0f | %.0f | %.0f | %.2f | %.2f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", cin, cout, h, w, oh, ow,
               fl / tf, fl / (tf + tsplit + tun), fl / tg, peak > 0 ? fl / tf / peak : 0, tg / tf,
               fl / tdx, fl / (tdx + tpd + tmg), fl / tgi, peak > 0 ? fl / tdx / peak : 0, tgi / tdx);
        free(x); free(wt); free(y); free(xs); free(wp); free(yf); free(A); free(B); free(C); free(dy); free(dyp); free(wb); free(dxf); free(dx);
    }
    return 0;
}
