// AVX2 policy (__m256 / __m256d). Every function carries the target attribute, so this header
// compiles without -mavx2 and the instructions only run after the CPU check in dispatch/cpu.hpp.
// No FMA (not even enabled for the compiler): separate multiply and add keep results
// bit-identical to the baseline.
#pragma once

#include "optikern/config.hpp"

#if OPTIKERN_X86
#include <immintrin.h>

#define OPTIKERN_AVX2 OPTIKERN_TARGET("avx2")

namespace optikern::simd {

template <class T>
struct avx2;

template <>
struct avx2<float> {
    using value_type = float;
    using reg = __m256;
    static constexpr int width = 8;

    static OPTIKERN_AVX2 inline reg load(const float* p) { return _mm256_loadu_ps(p); }
    static OPTIKERN_AVX2 inline void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
    static OPTIKERN_AVX2 inline reg set1(float v) { return _mm256_set1_ps(v); }
    static OPTIKERN_AVX2 inline reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
    static OPTIKERN_AVX2 inline reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
    static OPTIKERN_AVX2 inline reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
    static OPTIKERN_AVX2 inline reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
    static OPTIKERN_AVX2 inline reg sqrt(reg a) { return _mm256_sqrt_ps(a); }
    static OPTIKERN_AVX2 inline reg neg(reg a) { return _mm256_sub_ps(_mm256_set1_ps(-0.0f), a); }
    static OPTIKERN_AVX2 inline reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
    static OPTIKERN_AVX2 inline reg min(reg a, reg b) { return _mm256_min_ps(a, b); }
    using mask = __m256;
    static OPTIKERN_AVX2 inline mask gt(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
    static OPTIKERN_AVX2 inline mask lt(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
    static OPTIKERN_AVX2 inline mask eq(reg a, reg b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
    static OPTIKERN_AVX2 inline reg select(mask m, reg a, reg b) {
        return _mm256_blendv_ps(b, a, m);
    }
};

template <>
struct avx2<double> {
    using value_type = double;
    using reg = __m256d;
    static constexpr int width = 4;

    static OPTIKERN_AVX2 inline reg load(const double* p) { return _mm256_loadu_pd(p); }
    static OPTIKERN_AVX2 inline void store(double* p, reg v) { _mm256_storeu_pd(p, v); }
    static OPTIKERN_AVX2 inline reg set1(double v) { return _mm256_set1_pd(v); }
    static OPTIKERN_AVX2 inline reg add(reg a, reg b) { return _mm256_add_pd(a, b); }
    static OPTIKERN_AVX2 inline reg sub(reg a, reg b) { return _mm256_sub_pd(a, b); }
    static OPTIKERN_AVX2 inline reg mul(reg a, reg b) { return _mm256_mul_pd(a, b); }
    static OPTIKERN_AVX2 inline reg div(reg a, reg b) { return _mm256_div_pd(a, b); }
    static OPTIKERN_AVX2 inline reg sqrt(reg a) { return _mm256_sqrt_pd(a); }
    static OPTIKERN_AVX2 inline reg neg(reg a) { return _mm256_sub_pd(_mm256_set1_pd(-0.0), a); }
    static OPTIKERN_AVX2 inline reg max(reg a, reg b) { return _mm256_max_pd(a, b); }
    static OPTIKERN_AVX2 inline reg min(reg a, reg b) { return _mm256_min_pd(a, b); }
    using mask = __m256d;
    static OPTIKERN_AVX2 inline mask gt(reg a, reg b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
    static OPTIKERN_AVX2 inline mask lt(reg a, reg b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
    static OPTIKERN_AVX2 inline mask eq(reg a, reg b) { return _mm256_cmp_pd(a, b, _CMP_EQ_OQ); }
    static OPTIKERN_AVX2 inline reg select(mask m, reg a, reg b) {
        return _mm256_blendv_pd(b, a, m);
    }
};

}  // namespace optikern::simd

#undef OPTIKERN_AVX2
#endif  // OPTIKERN_X86
