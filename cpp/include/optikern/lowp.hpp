// 16-bit floating-point storage types for mixed-precision training: bfloat16 (8-bit exponent,
// 7-bit mantissa) and IEEE float16 (5-bit exponent, 10-bit mantissa), with exact conversions
// to float, round-to-nearest-even and stochastic rounding from float. Portable C++ (bit
// manipulation), so every SIMD level and the pure-Python reference agree bit for bit.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "optikern/config.hpp"

namespace optikern {

struct bfloat16 {
    std::uint16_t bits;
};

struct float16 {
    std::uint16_t bits;
};

enum class rounding : int { nearest_even = 0, stochastic = 1 };

// The low-precision side of one tensor: the model's params P and the raw gradients G
// (float16, bfloat16 or float).
template <class P, class G>
struct lowp_tensor {
    P* param;
    const G* grad;
};

namespace lowp {

OPTIKERN_INLINE std::uint32_t bits_of(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

OPTIKERN_INLINE float float_of(std::uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

OPTIKERN_INLINE float to_float(float x) {
    return x;
}

OPTIKERN_INLINE float to_float(bfloat16 h) {
    return float_of(std::uint32_t{h.bits} << 16);
}

OPTIKERN_INLINE float to_float(float16 h) {
    const std::uint32_t sign = std::uint32_t{h.bits & 0x8000u} << 16;
    const std::uint32_t exponent = (h.bits >> 10) & 0x1Fu;
    const std::uint32_t mantissa = h.bits & 0x3FFu;
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
        const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 31) return float_of(sign | 0x7F800000u | (mantissa << 13));
    return float_of(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// Round to nearest, ties to even (what a hardware conversion does). NaN stays a quiet NaN.
OPTIKERN_INLINE bfloat16 to_bfloat16(float x) {
    std::uint32_t u = bits_of(x);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return {static_cast<std::uint16_t>((u >> 16) | 0x40u)};
    u += 0x7FFFu + ((u >> 16) & 1u);
    return {static_cast<std::uint16_t>(u >> 16)};
}

OPTIKERN_INLINE float16 to_float16(float x) {
    const std::uint32_t u = bits_of(x);
    const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
    std::uint32_t magnitude = u & 0x7FFFFFFFu;
    if (magnitude >= 0x7F800000u)  // infinity, or NaN kept quiet with its top payload bits
        return {static_cast<std::uint16_t>(
            sign | (magnitude > 0x7F800000u ? 0x7E00u | ((magnitude >> 13) & 0x3FFu) : 0x7C00u))};
    if (magnitude >= 0x477FF000u) return {static_cast<std::uint16_t>(sign | 0x7C00u)};  // >= 65520
    if (magnitude < 0x38800000u) {  // below 2^-14: a subnormal float16, units of 2^-24
        const float units = float_of(magnitude) * 16777216.0f;  // exact: a power-of-two scale
        return {
            static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(std::nearbyint(units)))};
    }
    magnitude += 0xFFFu + ((magnitude >> 13) & 1u);
    return {static_cast<std::uint16_t>(sign | ((magnitude - 0x38000000u) >> 13))};
}

template <class P>
OPTIKERN_INLINE P round_nearest(float x);
template <>
OPTIKERN_INLINE bfloat16 round_nearest<bfloat16>(float x) {
    return to_bfloat16(x);
}
template <>
OPTIKERN_INLINE float16 round_nearest<float16>(float x) {
    return to_float16(x);
}

// The largest-magnitude value of P not above |x| in magnitude (round toward zero); x finite.
template <class P>
OPTIKERN_INLINE P toward_zero(float x);
template <>
OPTIKERN_INLINE bfloat16 toward_zero<bfloat16>(float x) {
    return {static_cast<std::uint16_t>(bits_of(x) >> 16)};
}
template <>
OPTIKERN_INLINE float16 toward_zero<float16>(float x) {
    const std::uint32_t u = bits_of(x);
    const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
    const std::uint32_t magnitude = u & 0x7FFFFFFFu;
    if (magnitude >= 0x47800000u) return {static_cast<std::uint16_t>(sign | 0x7BFFu)};  // >= 65536
    if (magnitude < 0x38800000u) {
        const float units = float_of(magnitude) * 16777216.0f;
        return {static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(units))};
    }
    return {static_cast<std::uint16_t>(sign | ((magnitude - 0x38000000u) >> 13))};
}

// Stochastic rounding: x goes to one of its two neighbours in P, the one further from zero
// with probability equal to the distance from the nearer-to-zero one over their spacing, so the
// rounding is unbiased: E[round(x)] = x. `random` supplies 24 uniform bits (its top 24).
// Neither neighbour is infinite: values beyond the largest finite P saturate to it.
template <class P>
OPTIKERN_INLINE P round_stochastic(float x, std::uint32_t random) {
    if (!(std::fabs(x) <= 3.4028234663852886e38f)) return round_nearest<P>(x);  // inf, NaN
    const P low = toward_zero<P>(x);
    const float low_value = to_float(low);
    const P high{static_cast<std::uint16_t>(low.bits + 1u)};
    const float high_value = to_float(high);
    if (low_value == x || std::isinf(high_value)) return low;
    // Both differences are exact (x and low share their leading bits; the spacing is a power
    // of two), so the comparison below is exact too.
    const float fraction = (x - low_value) / (high_value - low_value);
    const float uniform = static_cast<float>(random >> 8) * 5.9604644775390625e-8f;  // [0, 1)
    return uniform < fraction ? high : low;
}

// Whether `value` is what the rounding mode could have written for x: round-to-nearest-even,
// or under stochastic rounding either neighbour of x. A master copy x is trusted only while its
// 16-bit param passes this test; anything else means the param was changed since (edited in
// place, loaded, or trained by another optimizer), and the master restarts from it.
template <class P>
OPTIKERN_INLINE bool is_rounding_of(P value, float x, bool stochastic) {
    if (value.bits == round_nearest<P>(x).bits) return true;
    if (!stochastic || !(std::fabs(x) <= 3.4028234663852886e38f)) return false;
    const P low = toward_zero<P>(x);
    if (value.bits == low.bits) return true;
    return value.bits == static_cast<std::uint16_t>(low.bits + 1u) && to_float(low) != x;
}

// Whether every value[i] is round_nearest(x[i]): one pass without branches, so that the
// compiler vectorises it (the common case of a mixed step, where nothing was edited).
template <class P>
OPTIKERN_INLINE bool all_round_to(const float* OPTIKERN_RESTRICT x,
                                  const P* OPTIKERN_RESTRICT value,
                                  std::int64_t n) {
    std::uint32_t differ = 0;
    if constexpr (std::is_same_v<P, bfloat16>) {
        for (std::int64_t i = 0; i < n; ++i) {
            const std::uint32_t u = bits_of(x[i]);
            const std::uint32_t nearest = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
            const std::uint32_t quiet_nan = (u >> 16) | 0x40u;
            const std::uint32_t r = (u & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : nearest;
            differ |= (r ^ value[i].bits) & 0xFFFFu;
        }
    } else {
        for (std::int64_t i = 0; i < n; ++i)
            differ |= static_cast<std::uint32_t>(round_nearest<P>(x[i]).bits ^ value[i].bits);
    }
    return differ == 0;
}

// 32 random bits for (seed, step, tensor, element): SplitMix64's finaliser over a linear mix of
// the four, so a stream is reproducible and independent of how the work is split.
OPTIKERN_INLINE std::uint32_t random_bits(std::uint64_t seed,
                                          std::uint64_t step,
                                          std::uint64_t tensor,
                                          std::uint64_t element) {
    std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (element + 1) + 0xD1B54A32D192ED03ull * step +
                      0x8CB92BA72F3D8DD7ull * tensor;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<std::uint32_t>(z >> 32);
}

OPTIKERN_INLINE bool is_finite(float x) {
    return std::isfinite(x);
}
OPTIKERN_INLINE bool is_finite(bfloat16 h) {
    return (h.bits & 0x7F80u) != 0x7F80u;
}
OPTIKERN_INLINE bool is_finite(float16 h) {
    return (h.bits & 0x7C00u) != 0x7C00u;
}

}  // namespace lowp

// Index of the first tensor whose gradient holds NaN or infinity, or -1 (read only).
template <class P, class G>
std::int64_t first_nonfinite(const lowp_tensor<P, G>* tensors,
                             const std::int64_t* sizes,
                             std::size_t count) {
    for (std::size_t t = 0; t < count; ++t)
        for (std::int64_t i = 0; i < sizes[t]; ++i)
            if (!lowp::is_finite(tensors[t].grad[i])) return static_cast<std::int64_t>(t);
    return -1;
}

}  // namespace optikern
