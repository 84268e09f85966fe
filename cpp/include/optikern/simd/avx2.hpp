// AVX2 policy (__m256 / __m256d). Every function carries the target attribute, so this header
// compiles without -mavx2 and the instructions only run after the CPU check in dispatch/cpu.hpp.
// Only fma() fuses a multiply and an add (the build never contracts them), so every level rounds
// where the baseline does. The float16 conversions also need F16C and fma() needs FMA, which every
// AVX2 CPU has; the avx2 level requires all three.
#pragma once

#include <cstdint>

#include "optikern/config.hpp"

#if OPTIKERN_X86
#include <immintrin.h>

#define OPTIKERN_AVX2 OPTIKERN_TARGET("avx2")
#define OPTIKERN_AVX2_F16C OPTIKERN_TARGET("avx2,f16c")
#define OPTIKERN_AVX2_FMA OPTIKERN_TARGET("avx2,fma")

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
    static OPTIKERN_AVX2_FMA inline reg fma(reg a, reg b, reg c) {
        return _mm256_fmadd_ps(a, b, c);
    }
    static OPTIKERN_AVX2 inline reg sqrt(reg a) { return _mm256_sqrt_ps(a); }
    static OPTIKERN_AVX2 inline reg neg(reg a) { return _mm256_sub_ps(_mm256_set1_ps(-0.0f), a); }
    static OPTIKERN_AVX2 inline reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
    static OPTIKERN_AVX2 inline reg min(reg a, reg b) { return _mm256_min_ps(a, b); }

    // Integer lanes, 16-bit storage and 64-bit lanes: what lowp.hpp's vector conversions and
    // random stream are written with.
    using ireg = __m256i;  // 8 x 32 bits
    using mask = __m256i;  // all ones in the lanes where true
    using half = __m128i;  // 8 x 16 bits
    using wide = __m256i;  // 4 x 64 bits
    static OPTIKERN_AVX2 inline ireg bits(reg a) { return _mm256_castps_si256(a); }
    static OPTIKERN_AVX2 inline reg from_bits(ireg a) { return _mm256_castsi256_ps(a); }
    static OPTIKERN_AVX2 inline ireg iset1(std::uint32_t v) {
        return _mm256_set1_epi32(static_cast<int>(v));
    }
    static OPTIKERN_AVX2 inline ireg iadd(ireg a, ireg b) { return _mm256_add_epi32(a, b); }
    static OPTIKERN_AVX2 inline ireg isub(ireg a, ireg b) { return _mm256_sub_epi32(a, b); }
    static OPTIKERN_AVX2 inline ireg iand(ireg a, ireg b) { return _mm256_and_si256(a, b); }
    static OPTIKERN_AVX2 inline ireg ior(ireg a, ireg b) { return _mm256_or_si256(a, b); }
    static OPTIKERN_AVX2 inline ireg ixor(ireg a, ireg b) { return _mm256_xor_si256(a, b); }
    static OPTIKERN_AVX2 inline ireg shr(ireg a, int k) { return _mm256_srli_epi32(a, k); }
    static OPTIKERN_AVX2 inline ireg shl(ireg a, int k) { return _mm256_slli_epi32(a, k); }
    static OPTIKERN_AVX2 inline bool any(ireg a) { return !_mm256_testz_si256(a, a); }
    static OPTIKERN_AVX2 inline mask ilt(ireg a, ireg b) { return _mm256_cmpgt_epi32(b, a); }
    static OPTIKERN_AVX2 inline mask ieq(ireg a, ireg b) { return _mm256_cmpeq_epi32(a, b); }
    static OPTIKERN_AVX2 inline mask lt(reg a, reg b) {
        return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_LT_OQ));
    }
    static OPTIKERN_AVX2 inline mask eq(reg a, reg b) {
        return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_EQ_OQ));
    }
    static OPTIKERN_AVX2 inline mask both(mask a, mask b) { return _mm256_and_si256(a, b); }
    static OPTIKERN_AVX2 inline mask either(mask a, mask b) { return _mm256_or_si256(a, b); }
    static OPTIKERN_AVX2 inline mask but_not(mask a, mask b) { return _mm256_andnot_si256(b, a); }
    static OPTIKERN_AVX2 inline bool all(mask a) { return _mm256_movemask_epi8(a) == -1; }
    // m ? a : b
    static OPTIKERN_AVX2 inline ireg select(mask m, ireg a, ireg b) {
        return _mm256_blendv_epi8(b, a, m);
    }
    static OPTIKERN_AVX2 inline reg to_float(ireg a) { return _mm256_cvtepi32_ps(a); }
    static OPTIKERN_AVX2 inline ireg truncate(reg a) { return _mm256_cvttps_epi32(a); }

    static OPTIKERN_AVX2 inline half load_half(const std::uint16_t* p) {
        return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    }
    static OPTIKERN_AVX2 inline void store_half(std::uint16_t* p, half h) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), h);
    }
    static OPTIKERN_AVX2 inline ireg widen(half h) { return _mm256_cvtepu16_epi32(h); }
    // Lanes below 2^16 to 16 bits (the pack works within 128-bit halves; the permute joins them).
    static OPTIKERN_AVX2 inline half narrow(ireg a) {
        const __m256i packed = _mm256_packus_epi32(a, a);
        return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, _MM_SHUFFLE(3, 1, 2, 0)));
    }
    static OPTIKERN_AVX2_F16C inline reg from_float16(half h) { return _mm256_cvtph_ps(h); }
    static OPTIKERN_AVX2_F16C inline half to_float16(reg a) {
        return _mm256_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    static OPTIKERN_AVX2_F16C inline half to_float16_toward_zero(reg a) {
        return _mm256_cvtps_ph(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    }

    static OPTIKERN_AVX2 inline wide wset1(std::uint64_t v) {
        return _mm256_set1_epi64x(static_cast<long long>(v));
    }
    static OPTIKERN_AVX2 inline wide wload(const std::uint64_t* p) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    }
    static OPTIKERN_AVX2 inline wide wadd(wide a, wide b) { return _mm256_add_epi64(a, b); }
    static OPTIKERN_AVX2 inline wide wxor(wide a, wide b) { return _mm256_xor_si256(a, b); }
    static OPTIKERN_AVX2 inline wide wshr(wide a, int k) { return _mm256_srli_epi64(a, k); }
    // The low 64 bits of a * b from 32 x 32 -> 64-bit products (AVX2 has no 64-bit multiply).
    static OPTIKERN_AVX2 inline wide wmul(wide a, wide b) {
        const __m256i low = _mm256_mul_epu32(a, b);
        const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b),
                                               _mm256_mul_epu32(a, _mm256_srli_epi64(b, 32)));
        return _mm256_add_epi64(low, _mm256_slli_epi64(cross, 32));
    }
    // The high 32 bits of each 64-bit lane of lo then hi, in lane order.
    static OPTIKERN_AVX2 inline ireg high_halves(wide lo, wide hi) {
        const __m256 odd = _mm256_shuffle_ps(_mm256_castsi256_ps(lo), _mm256_castsi256_ps(hi),
                                             _MM_SHUFFLE(3, 1, 3, 1));
        return _mm256_permute4x64_epi64(_mm256_castps_si256(odd), _MM_SHUFFLE(3, 1, 2, 0));
    }
    static OPTIKERN_AVX2 inline reg sign(reg a) {
        const reg zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
        return _mm256_sub_ps(_mm256_and_ps(_mm256_cmp_ps(a, zero, _CMP_GT_OQ), one),
                             _mm256_and_ps(_mm256_cmp_ps(a, zero, _CMP_LT_OQ), one));
    }
    // Ordered comparisons (false where either is NaN) choose between float lanes too.
    static OPTIKERN_AVX2 inline mask gt(reg a, reg b) {
        return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_GT_OQ));
    }
    static OPTIKERN_AVX2 inline reg select(mask m, reg a, reg b) {
        return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(m));
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
    static OPTIKERN_AVX2_FMA inline reg fma(reg a, reg b, reg c) {
        return _mm256_fmadd_pd(a, b, c);
    }
    static OPTIKERN_AVX2 inline reg sqrt(reg a) { return _mm256_sqrt_pd(a); }
    static OPTIKERN_AVX2 inline reg neg(reg a) { return _mm256_sub_pd(_mm256_set1_pd(-0.0), a); }
    static OPTIKERN_AVX2 inline reg max(reg a, reg b) { return _mm256_max_pd(a, b); }
    static OPTIKERN_AVX2 inline reg min(reg a, reg b) { return _mm256_min_pd(a, b); }
    static OPTIKERN_AVX2 inline reg sign(reg a) {
        const reg zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
        return _mm256_sub_pd(_mm256_and_pd(_mm256_cmp_pd(a, zero, _CMP_GT_OQ), one),
                             _mm256_and_pd(_mm256_cmp_pd(a, zero, _CMP_LT_OQ), one));
    }
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
#undef OPTIKERN_AVX2_F16C
#undef OPTIKERN_AVX2_FMA
#endif  // OPTIKERN_X86
