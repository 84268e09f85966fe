// AVX-512 policy (__m512 / __m512d). Every function carries the target attribute, so this header
// compiles without -mavx512f and the instructions only run after the CPU check in dispatch/cpu.hpp.
// Only fma() fuses a multiply and an add (the build never contracts them), so every level rounds
// where the baseline does.
// Everything here, float16 conversions included, is AVX-512F, except the 64-bit multiply of
// AVX-512DQ (every AVX-512 CPU but Xeon Phi has it; the avx512 level requires both).
#pragma once

#include <cstdint>

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
    static OPTIKERN_AVX512 inline reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
    static OPTIKERN_AVX512 inline reg sqrt(reg a) { return _mm512_sqrt_ps(a); }
    static OPTIKERN_AVX512 inline reg neg(reg a) { return _mm512_sub_ps(_mm512_set1_ps(-0.0f), a); }
    static OPTIKERN_AVX512 inline reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
    static OPTIKERN_AVX512 inline reg min(reg a, reg b) { return _mm512_min_ps(a, b); }

    // Integer lanes, 16-bit storage and 64-bit lanes (see avx2<float>).
    using ireg = __m512i;    // 16 x 32 bits
    using mask = __mmask16;  // one bit per lane
    using half = __m256i;    // 16 x 16 bits
    using wide = __m512i;    // 8 x 64 bits
    static OPTIKERN_AVX512 inline ireg bits(reg a) { return _mm512_castps_si512(a); }
    static OPTIKERN_AVX512 inline reg from_bits(ireg a) { return _mm512_castsi512_ps(a); }
    static OPTIKERN_AVX512 inline ireg iset1(std::uint32_t v) {
        return _mm512_set1_epi32(static_cast<int>(v));
    }
    static OPTIKERN_AVX512 inline ireg iadd(ireg a, ireg b) { return _mm512_add_epi32(a, b); }
    static OPTIKERN_AVX512 inline ireg isub(ireg a, ireg b) { return _mm512_sub_epi32(a, b); }
    static OPTIKERN_AVX512 inline ireg iand(ireg a, ireg b) { return _mm512_and_si512(a, b); }
    static OPTIKERN_AVX512 inline ireg ior(ireg a, ireg b) { return _mm512_or_si512(a, b); }
    static OPTIKERN_AVX512 inline ireg ixor(ireg a, ireg b) { return _mm512_xor_si512(a, b); }
    static OPTIKERN_AVX512 inline ireg shr(ireg a, unsigned k) { return _mm512_srli_epi32(a, k); }
    static OPTIKERN_AVX512 inline ireg shl(ireg a, unsigned k) { return _mm512_slli_epi32(a, k); }
    static OPTIKERN_AVX512 inline bool any(ireg a) { return _mm512_test_epi32_mask(a, a) != 0; }
    static OPTIKERN_AVX512 inline mask ilt(ireg a, ireg b) { return _mm512_cmplt_epi32_mask(a, b); }
    static OPTIKERN_AVX512 inline mask ieq(ireg a, ireg b) { return _mm512_cmpeq_epi32_mask(a, b); }
    static OPTIKERN_AVX512 inline mask gt(reg a, reg b) {
        return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ);
    }
    static OPTIKERN_AVX512 inline mask lt(reg a, reg b) {
        return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ);
    }
    static OPTIKERN_AVX512 inline mask eq(reg a, reg b) {
        return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ);
    }
    static OPTIKERN_AVX512 inline mask both(mask a, mask b) { return _kand_mask16(a, b); }
    static OPTIKERN_AVX512 inline mask either(mask a, mask b) { return _kor_mask16(a, b); }
    static OPTIKERN_AVX512 inline mask but_not(mask a, mask b) { return _kandn_mask16(b, a); }
    static OPTIKERN_AVX512 inline bool all(mask a) { return a == 0xFFFF; }
    // m ? a : b
    static OPTIKERN_AVX512 inline ireg select(mask m, ireg a, ireg b) {
        return _mm512_mask_blend_epi32(m, b, a);
    }
    static OPTIKERN_AVX512 inline reg to_float(ireg a) { return _mm512_cvtepi32_ps(a); }
    static OPTIKERN_AVX512 inline ireg truncate(reg a) { return _mm512_cvttps_epi32(a); }

    static OPTIKERN_AVX512 inline half load_half(const std::uint16_t* p) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    }
    static OPTIKERN_AVX512 inline void store_half(std::uint16_t* p, half h) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), h);
    }
    static OPTIKERN_AVX512 inline ireg widen(half h) { return _mm512_cvtepu16_epi32(h); }
    static OPTIKERN_AVX512 inline half narrow(ireg a) { return _mm512_cvtepi32_epi16(a); }
    static OPTIKERN_AVX512 inline reg from_float16(half h) { return _mm512_cvtph_ps(h); }
    static OPTIKERN_AVX512 inline half to_float16(reg a) {
        return _mm512_cvtps_ph(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    static OPTIKERN_AVX512 inline half to_float16_toward_zero(reg a) {
        return _mm512_cvtps_ph(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    }

    static OPTIKERN_AVX512 inline wide wset1(std::uint64_t v) {
        return _mm512_set1_epi64(static_cast<long long>(v));
    }
    static OPTIKERN_AVX512 inline wide wload(const std::uint64_t* p) {
        return _mm512_loadu_si512(p);
    }
    static OPTIKERN_AVX512 inline wide wadd(wide a, wide b) { return _mm512_add_epi64(a, b); }
    static OPTIKERN_AVX512 inline wide wxor(wide a, wide b) { return _mm512_xor_si512(a, b); }
    static OPTIKERN_AVX512 inline wide wshr(wide a, unsigned k) { return _mm512_srli_epi64(a, k); }
    static OPTIKERN_TARGET("avx512f,avx512dq") inline wide wmul(wide a, wide b) {
        return _mm512_mullo_epi64(a, b);
    }
    // The high 32 bits of each 64-bit lane of lo then hi, in lane order.
    static OPTIKERN_AVX512 inline ireg high_halves(wide lo, wide hi) {
        const __m512i odd =
            _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        return _mm512_permutex2var_epi32(lo, odd, hi);
    }
    static OPTIKERN_AVX512 inline reg sign(reg a) {
        const reg zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
        return _mm512_sub_ps(_mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, zero, _CMP_GT_OQ), one),
                             _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, zero, _CMP_LT_OQ), one));
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
    static OPTIKERN_AVX512 inline reg fma(reg a, reg b, reg c) { return _mm512_fmadd_pd(a, b, c); }
    static OPTIKERN_AVX512 inline reg sqrt(reg a) { return _mm512_sqrt_pd(a); }
    static OPTIKERN_AVX512 inline reg neg(reg a) { return _mm512_sub_pd(_mm512_set1_pd(-0.0), a); }
    static OPTIKERN_AVX512 inline reg max(reg a, reg b) { return _mm512_max_pd(a, b); }
    static OPTIKERN_AVX512 inline reg min(reg a, reg b) { return _mm512_min_pd(a, b); }
    static OPTIKERN_AVX512 inline reg sign(reg a) {
        const reg zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
        return _mm512_sub_pd(_mm512_maskz_mov_pd(_mm512_cmp_pd_mask(a, zero, _CMP_GT_OQ), one),
                             _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(a, zero, _CMP_LT_OQ), one));
    }
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
