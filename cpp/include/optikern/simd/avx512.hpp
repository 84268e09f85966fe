// AVX-512 policy (__m512 / __m512d). Every function carries the target attribute, so this header
// compiles without -mavx512f and the instructions only run after the CPU check in dispatch/cpu.hpp.
// No FMA intrinsics: separate multiply and add keep results bit-identical to the baseline.
#pragma once

#include "optikern/config.hpp"

#if OPTIKERN_X86
#include <immintrin.h>

#define OPTIKERN_AVX512 OPTIKERN_TARGET("avx512f")

namespace optikern::simd {

template <class T>
struct avx512;

template <>
struct avx512<float> {
    using value_type = float;
    using reg = __m512;
    static constexpr int width = 16;

    static OPTIKERN_AVX512 inline reg load(const float* p) { return _mm512_loadu_ps(p); }
    static OPTIKERN_AVX512 inline void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
    static OPTIKERN_AVX512 inline reg set1(float v) { return _mm512_set1_ps(v); }
    static OPTIKERN_AVX512 inline reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
    static OPTIKERN_AVX512 inline reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
    static OPTIKERN_AVX512 inline reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
    static OPTIKERN_AVX512 inline reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
    static OPTIKERN_AVX512 inline reg sqrt(reg a) { return _mm512_sqrt_ps(a); }
    static OPTIKERN_AVX512 inline reg neg(reg a) { return _mm512_sub_ps(_mm512_set1_ps(-0.0f), a); }
    static OPTIKERN_AVX512 inline reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
    static OPTIKERN_AVX512 inline reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
    using mask = __mmask16;
    static OPTIKERN_AVX512 inline mask gt(reg a, reg b) {
        return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ);
    }
    static OPTIKERN_AVX512 inline mask lt(reg a, reg b) {
        return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ);
    }
    static OPTIKERN_AVX512 inline mask eq(reg a, reg b) {
        return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ);
    }
    static OPTIKERN_AVX512 inline reg select(mask m, reg a, reg b) {
        return _mm512_mask_blend_ps(m, b, a);
    }
};

template <>
struct avx512<double> {
    using value_type = double;
    using reg = __m512d;
    static constexpr int width = 8;

    static OPTIKERN_AVX512 inline reg load(const double* p) { return _mm512_loadu_pd(p); }
    static OPTIKERN_AVX512 inline void store(double* p, reg v) { _mm512_storeu_pd(p, v); }
    static OPTIKERN_AVX512 inline reg set1(double v) { return _mm512_set1_pd(v); }
    static OPTIKERN_AVX512 inline reg add(reg a, reg b) { return _mm512_add_pd(a, b); }
    static OPTIKERN_AVX512 inline reg sub(reg a, reg b) { return _mm512_sub_pd(a, b); }
    static OPTIKERN_AVX512 inline reg mul(reg a, reg b) { return _mm512_mul_pd(a, b); }
    static OPTIKERN_AVX512 inline reg div(reg a, reg b) { return _mm512_div_pd(a, b); }
    static OPTIKERN_AVX512 inline reg sqrt(reg a) { return _mm512_sqrt_pd(a); }
    static OPTIKERN_AVX512 inline reg neg(reg a) { return _mm512_sub_pd(_mm512_set1_pd(-0.0), a); }
    static OPTIKERN_AVX512 inline reg max(reg a, reg b) { return _mm512_max_pd(a, b); }
    static OPTIKERN_AVX512 inline reg min(reg a, reg b) { return _mm512_min_pd(a, b); }
    using mask = __mmask8;
    static OPTIKERN_AVX512 inline mask gt(reg a, reg b) {
        return _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ);
    }
    static OPTIKERN_AVX512 inline mask lt(reg a, reg b) {
        return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ);
    }
    static OPTIKERN_AVX512 inline mask eq(reg a, reg b) {
        return _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ);
    }
    static OPTIKERN_AVX512 inline reg select(mask m, reg a, reg b) {
        return _mm512_mask_blend_pd(m, b, a);
    }
};

}  // namespace optikern::simd

#undef OPTIKERN_AVX512
#endif  // OPTIKERN_X86
