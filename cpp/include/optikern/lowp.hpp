// 16-bit floating-point storage types for mixed-precision training: bfloat16 (8-bit exponent,
// 7-bit mantissa) and IEEE float16 (5-bit exponent, 10-bit mantissa), with exact conversions
// to float, round-to-nearest-even and stochastic rounding from float. The scalar functions are
// portable C++ (bit manipulation) and define the results; their vector twins below give the
// same bits on every SIMD level, and the pure-Python reference (reference_lowp.py) agrees.
#pragma once

#include <algorithm>
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
    // Infinity, or NaN made quiet with its payload kept (what F16C's conversion does).
    if (exponent == 31)
        return float_of(sign | 0x7F800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0u));
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

// The stochastic-rounding stream: 32 random bits for (seed, step, tensor, element), a
// counter-based hash in 32-bit arithmetic: the element's low 32 bits plus a key of the rest,
// through Wellons' lowbias32 finaliser (a bijection of 32-bit words whose every output bit
// depends on every input bit), so a stream is reproducible and independent of how the work is
// split. random_base holds the terms that do not depend on the element; the key changes only
// every 2^32 elements.
OPTIKERN_INLINE std::uint64_t random_base(std::uint64_t seed,
                                          std::uint64_t step,
                                          std::uint64_t tensor) {
    return seed + 0xD1B54A32D192ED03ull * step + 0x8CB92BA72F3D8DD7ull * tensor;
}

OPTIKERN_INLINE std::uint32_t random_key(std::uint64_t base, std::uint64_t element) {
    const std::uint64_t z = base + 0x9E3779B97F4A7C15ull * (element >> 32);
    return static_cast<std::uint32_t>(z ^ (z >> 32));
}

OPTIKERN_INLINE std::uint32_t random_mix(std::uint32_t x) {
    x = (x ^ (x >> 16)) * 0x7FEB352Du;
    x = (x ^ (x >> 15)) * 0x846CA68Bu;
    return x ^ (x >> 16);
}

OPTIKERN_INLINE std::uint32_t random_at(std::uint64_t base, std::uint64_t element) {
    return random_mix(static_cast<std::uint32_t>(element) + random_key(base, element));
}

OPTIKERN_INLINE std::uint32_t random_bits(std::uint64_t seed,
                                          std::uint64_t step,
                                          std::uint64_t tensor,
                                          std::uint64_t element) {
    return random_at(random_base(seed, step, tensor), element);
}

// ---- The same conversions V::width elements at a time, for a vector policy V with integer
// lanes (simd::avx2<float>, simd::avx512<float>). Every function returns the bits of its
// scalar twin above for every input, NaN, infinities, subnormals and overflow included: the
// float16 side uses the hardware conversions (F16C / AVX-512F), which round and quiet NaN as
// to_float16 does; the rest is the same bit formulas on integer lanes. The array functions
// below run them over whole vectors and the scalar functions over the tail.

template <class P>
OPTIKERN_INLINE const std::uint16_t* bits_pointer(const P* p) {
    return reinterpret_cast<const std::uint16_t*>(p);
}

template <class V>
OPTIKERN_INLINE typename V::reg load(const bfloat16* p) {
    return V::from_bits(V::shl(V::widen(V::load_half(bits_pointer(p))), 16));
}

template <class V>
OPTIKERN_INLINE typename V::reg load(const float16* p) {
    return V::from_float16(V::load_half(bits_pointer(p)));
}

template <class V>
OPTIKERN_INLINE typename V::reg load(const float* p) {
    return V::load(p);
}

template <class V, class P>
OPTIKERN_INLINE typename V::ireg nearest_bits(typename V::reg x) {
    if constexpr (std::is_same_v<P, bfloat16>) {
        const auto u = V::bits(x);
        const auto odd = V::iand(V::shr(u, 16), V::iset1(1));
        const auto nearest = V::shr(V::iadd(u, V::iadd(V::iset1(0x7FFFu), odd)), 16);
        const auto quiet_nan = V::ior(V::shr(u, 16), V::iset1(0x40u));
        const auto is_nan = V::ilt(V::iset1(0x7F800000u), V::iand(u, V::iset1(0x7FFFFFFFu)));
        return V::select(is_nan, quiet_nan, nearest);
    } else {
        return V::widen(V::to_float16(x));
    }
}

// toward_zero on V::width lanes (x finite; other lanes hold anything). Float16's is the
// hardware conversion rounding toward zero, which also saturates to the largest finite value.
template <class V, class P>
OPTIKERN_INLINE typename V::ireg toward_zero_bits(typename V::reg x) {
    if constexpr (std::is_same_v<P, bfloat16>)
        return V::shr(V::bits(x), 16);
    else
        return V::widen(V::to_float16_toward_zero(x));
}

// The values of 16-bit patterns held in 32-bit lanes.
template <class V, class P>
OPTIKERN_INLINE typename V::reg value_of(typename V::ireg h) {
    if constexpr (std::is_same_v<P, bfloat16>)
        return V::from_bits(V::shl(h, 16));
    else
        return V::from_float16(V::narrow(h));
}

// Whether round_stochastic's uniform number (random >> 8) * 2^-24 is below the fraction
// (x - low) / (high - low), where low and high are x's neighbours in P toward and away from zero,
// computed without the division: for bfloat16 and normal float16 the fraction is the float bits
// below P's last mantissa bit, 16 and 13 of them, so the test is an integer comparison with the
// random number's top bits; subnormal float16 compares in units of 2^-24, where every value
// involved is exact.
template <class V, class P>
OPTIKERN_INLINE typename V::mask above(typename V::reg x, typename V::ireg random) {
    const auto magnitude = V::iand(V::bits(x), V::iset1(0x7FFFFFFFu));
    if constexpr (std::is_same_v<P, bfloat16>) {
        return V::ilt(V::shr(random, 16), V::iand(magnitude, V::iset1(0xFFFFu)));
    } else {
        const auto normal = V::ilt(V::shr(random, 19), V::iand(magnitude, V::iset1(0x1FFFu)));
        if (V::all(V::ilt(V::iset1(0x387FFFFFu), magnitude))) return normal;  // the usual case
        const auto units = V::mul(V::from_bits(magnitude), V::set1(16777216.0f));
        const auto fraction = V::sub(units, V::to_float(V::truncate(units)));
        const auto subnormal =
            V::lt(V::to_float(V::shr(random, 8)), V::mul(fraction, V::set1(16777216.0f)));
        const auto is_subnormal = V::ilt(magnitude, V::iset1(0x38800000u));
        return V::either(V::both(is_subnormal, subnormal), V::but_not(normal, is_subnormal));
    }
}

template <class V>
OPTIKERN_INLINE typename V::mask is_finite(typename V::reg x) {
    return V::ilt(V::iand(V::bits(x), V::iset1(0x7FFFFFFFu)), V::iset1(0x7F800000u));
}

// round_stochastic on V::width lanes: up to the neighbour away from zero when the random number
// is below the fraction, unless that neighbour is infinite (the lower one is P's largest).
template <class V, class P>
OPTIKERN_INLINE typename V::ireg stochastic_bits(typename V::reg x, typename V::ireg random) {
    constexpr std::uint32_t largest = std::is_same_v<P, bfloat16> ? 0x7F7Fu : 0x7BFFu;
    const auto low = toward_zero_bits<V, P>(x);
    const auto saturated = V::ieq(V::iand(low, V::iset1(0x7FFFu)), V::iset1(largest));
    const auto up = V::but_not(above<V, P>(x, random), saturated);
    const auto rounded = V::select(up, V::iadd(low, V::iset1(1)), low);
    const auto finite = is_finite<V>(x);
    if (V::all(finite)) return rounded;  // the usual case: NaN and infinities round to nearest
    return V::select(finite, rounded, nearest_bits<V, P>(x));
}

// random_at(base, first), random_at(base, first + 1), ... V::width at a time, for elements
// that share random_key (no multiple of 2^32 after first).
template <class V>
class random_lanes {
public:
    OPTIKERN_INLINE random_lanes(std::uint64_t base, std::uint64_t first) {
        float start[V::width];  // the counters' bits, as V loads them
        for (int j = 0; j < V::width; ++j) {
            const std::uint32_t x = static_cast<std::uint32_t>(first) +
                                    static_cast<std::uint32_t>(j) + random_key(base, first);
            std::memcpy(&start[j], &x, sizeof x);
        }
        counter_ = V::bits(V::load(start));
    }

    OPTIKERN_INLINE typename V::ireg next() {
        auto x = counter_;
        counter_ = V::iadd(counter_, V::iset1(V::width));
        x = V::imul(V::ixor(x, V::shr(x, 16)), V::iset1(0x7FEB352Du));
        x = V::imul(V::ixor(x, V::shr(x, 15)), V::iset1(0x846CA68Bu));
        return V::ixor(x, V::shr(x, 16));
    }

private:
    typename V::ireg counter_;
};

// out[i] = to_float(in[i]) * inverse_scale (the loss scale's inverse), for a float16, bfloat16
// or float gradient.
template <class V, class G>
OPTIKERN_INLINE void unscale(const G* OPTIKERN_RESTRICT in,
                             float* OPTIKERN_RESTRICT out,
                             std::int64_t n,
                             float inverse_scale) {
    std::int64_t i = 0;
    if constexpr (V::width > 1)
        for (; i + V::width <= n; i += V::width)
            V::store(out + i, V::mul(load<V>(in + i), V::set1(inverse_scale)));
    for (; i < n; ++i) out[i] = to_float(in[i]) * inverse_scale;
}

// out[i] = to_float(in[i]).
template <class V, class P>
OPTIKERN_INLINE void widen(const P* OPTIKERN_RESTRICT in,
                           float* OPTIKERN_RESTRICT out,
                           std::int64_t n) {
    std::int64_t i = 0;
    if constexpr (V::width > 1)
        for (; i + V::width <= n; i += V::width) V::store(out + i, load<V>(in + i));
    for (; i < n; ++i) out[i] = to_float(in[i]);
}

// out[i] = round_nearest<P>(x[i]).
template <class V, class P>
OPTIKERN_INLINE void round_nearest(const float* OPTIKERN_RESTRICT x,
                                   P* OPTIKERN_RESTRICT out,
                                   std::int64_t n) {
    std::int64_t i = 0;
    auto* out_bits = reinterpret_cast<std::uint16_t*>(out);
    if constexpr (V::width > 1) {
        for (; i + V::width <= n; i += V::width) {
            if constexpr (std::is_same_v<P, float16>)
                V::store_half(out_bits + i, V::to_float16(V::load(x + i)));
            else
                V::store_half(out_bits + i, V::narrow(nearest_bits<V, P>(V::load(x + i))));
        }
    }
    for (; i < n; ++i) out[i] = round_nearest<P>(x[i]);
}

// One vector of round_nearest or round_stochastic (the next random lanes), out[0..V::width).
template <class V, class P>
OPTIKERN_INLINE void store_rounded(const float* OPTIKERN_RESTRICT x,
                                   P* OPTIKERN_RESTRICT out,
                                   bool stochastic,
                                   random_lanes<V>& random) {
    auto* out_bits = reinterpret_cast<std::uint16_t*>(out);
    const auto value = V::load(x);
    if (stochastic)
        V::store_half(out_bits, V::narrow(stochastic_bits<V, P>(value, random.next())));
    else if constexpr (std::is_same_v<P, float16>)
        V::store_half(out_bits, V::to_float16(value));
    else
        V::store_half(out_bits, V::narrow(nearest_bits<V, P>(value)));
}

// out[i] = round_stochastic<P>(x[i], random_at(base, first + i)) for elements sharing a key.
template <class V, class P>
OPTIKERN_INLINE void round_stochastic_keyed(const float* OPTIKERN_RESTRICT x,
                                            P* OPTIKERN_RESTRICT out,
                                            std::int64_t n,
                                            std::uint64_t base,
                                            std::uint64_t first) {
    std::int64_t i = 0;
    if constexpr (V::width > 1) {
        auto* out_bits = reinterpret_cast<std::uint16_t*>(out);
        random_lanes<V> random(base, first);
        for (; i + V::width <= n; i += V::width)
            V::store_half(out_bits + i,
                          V::narrow(stochastic_bits<V, P>(V::load(x + i), random.next())));
    }
    for (; i < n; ++i)
        out[i] = round_stochastic<P>(x[i], random_at(base, first + static_cast<std::uint64_t>(i)));
}

// out[i] = round_stochastic<P>(x[i], random_at(base, first + i)).
template <class V, class P>
OPTIKERN_INLINE void round_stochastic(const float* OPTIKERN_RESTRICT x,
                                      P* OPTIKERN_RESTRICT out,
                                      std::int64_t n,
                                      std::uint64_t base,
                                      std::uint64_t first) {
    for (std::int64_t begin = 0; begin < n;) {  // the key changes at multiples of 2^32
        const std::uint64_t at = first + static_cast<std::uint64_t>(begin);
        const std::uint64_t next_key = ((at >> 32) + 1) << 32;
        const auto end =
            static_cast<std::int64_t>(std::min(static_cast<std::uint64_t>(n), next_key - first));
        round_stochastic_keyed<V>(x + begin, out + begin, end - begin, base, at);
        begin = end;
    }
}

// is_rounding_of on V::width lanes.
template <class V, class P>
OPTIKERN_INLINE typename V::mask rounds_from(typename V::ireg value,
                                             typename V::reg x,
                                             bool stochastic) {
    if (!stochastic) return V::ieq(value, nearest_bits<V, P>(x));
    // A finite x's nearest value is one of its neighbours, which this covers; only NaN and
    // infinities need the nearest value itself.
    const auto low = toward_zero_bits<V, P>(x);
    const auto high =
        V::but_not(V::ieq(value, V::iadd(low, V::iset1(1))), V::eq(value_of<V, P>(low), x));
    const auto finite = is_finite<V>(x);
    const auto neighbour = V::both(finite, V::either(V::ieq(value, low), high));
    if (V::all(finite)) return neighbour;
    return V::either(neighbour, V::ieq(value, nearest_bits<V, P>(x)));
}

// Where value[i] is not what the rounding mode could have written for master[i]
// (is_rounding_of), master[i] restarts from value[i]. Whole vectors are checked at once; the
// rare vector holding an edited value is fixed lane by lane.
template <class V, class P>
OPTIKERN_INLINE void restart_stale(float* OPTIKERN_RESTRICT master,
                                   const P* OPTIKERN_RESTRICT value,
                                   std::int64_t n,
                                   bool stochastic) {
    const auto restart = [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i)
            if (!is_rounding_of(value[i], master[i], stochastic)) master[i] = to_float(value[i]);
    };
    std::int64_t i = 0;
    if constexpr (V::width > 1)
        for (; i + V::width <= n; i += V::width)
            if (!V::all(rounds_from<V, P>(V::widen(V::load_half(bits_pointer(value + i))),
                                          V::load(master + i), stochastic)))
                restart(i, i + V::width);
    restart(i, n);
}

// Whether every value[i] is round_nearest<P>(x[i]): one pass without a branch per vector (the
// common case of a step under round-to-nearest, where nothing was edited).
template <class V, class P>
OPTIKERN_INLINE bool all_round_to(const float* OPTIKERN_RESTRICT x,
                                  const P* OPTIKERN_RESTRICT value,
                                  std::int64_t n) {
    std::int64_t i = 0;
    if constexpr (V::width > 1) {
        auto differ = V::iset1(0);
        for (; i + V::width <= n; i += V::width)
            differ = V::ior(differ, V::ixor(nearest_bits<V, P>(V::load(x + i)),
                                            V::widen(V::load_half(bits_pointer(value + i)))));
        if (V::any(differ)) return false;
    }
    std::uint32_t differ = 0;
    for (; i < n; ++i)
        differ |= static_cast<std::uint32_t>(round_nearest<P>(x[i]).bits ^ value[i].bits);
    return differ == 0;
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
