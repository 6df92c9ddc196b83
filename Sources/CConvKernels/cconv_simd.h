#ifndef EMOVOX_CCONV_SIMD_H
#define EMOVOX_CCONV_SIMD_H
// Shared by the kernel files: each kernel body is compiled three times under these attributes and one is picked
// at run time (cconv_usable_level), so a binary built here runs on a CPU without AVX-512.

#define UNROLL _Pragma("clang loop unroll(full)")

#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx512f,fma")))
#define AVX2 __attribute__((target("avx2,fma")))
#else
// Elsewhere (arm64 Macs) all three compile for the native vector unit; cconv_best_level() says PLAIN.
#define AVX512
#define AVX2
#endif
#define PLAIN

#endif
