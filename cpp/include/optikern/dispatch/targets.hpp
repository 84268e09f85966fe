// One entry point per (kernel, element type, SIMD level). The target attribute plus flatten
// compiles the whole kernel template for that instruction set inside a header: no per-file -m
// flags, no -march=native, and C++ users get the same dispatch as the Python module.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "optikern/buffers.hpp"
#include "optikern/config.hpp"
#include "optikern/kernels/reduce.hpp"
#include "optikern/quantize.hpp"
#include "optikern/simd/avx2.hpp"
#include "optikern/simd/avx512.hpp"
#include "optikern/simd/scalar.hpp"

namespace optikern::dispatch {

template <class Kernel, class T>
using buffers_t = typename Kernel::template buffers<T>;
template <class Kernel, class T>
using scalars_t = typename Kernel::template scalars<T>;

// How many per-tensor sums of squares a kernel's update needs before it can run (its
// `norms`; 0 for the elementwise kernels, which declare none).
template <class Kernel, class = void>
struct norm_count : std::integral_constant<std::size_t, 0> {};
template <class Kernel>
struct norm_count<Kernel, std::void_t<decltype(Kernel::norms)>>
    : std::integral_constant<std::size_t, Kernel::norms> {};

// Kernels declaring how each state's shape follows the tensor's (Kernel::state_shapes).
template <class Kernel, class = void>
struct is_factored : std::false_type {};
template <class Kernel>
struct is_factored<Kernel, std::void_t<decltype(Kernel::state_shapes)>> : std::true_type {};

// The shape kind of state k (elementwise unless the kernel declares otherwise).
template <class Kernel>
constexpr state_shape shape_of_state(std::size_t k) {
    if constexpr (is_factored<Kernel>::value)
        return Kernel::state_shapes[k];
    else
        return state_shape::elementwise;
}

// The elements of state k for a tensor of this shape, or -1 if the shape keeps none.
template <class Kernel>
std::int64_t state_elements(std::size_t k, const tensor_shape& shape) {
    return optikern::state_elements(shape_of_state<Kernel>(k), shape);
}

// Kernels whose state holds per-tensor 0-d scalars (scalar_state_names, scalar_state<T>,
// initial_scalar_state, advance: NAdam's mu_product, ASGD's eta and mu) besides the arrays.
template <class Kernel, class = void>
struct has_scalar_state : std::false_type {};
template <class Kernel>
struct has_scalar_state<Kernel, std::void_t<decltype(Kernel::scalar_state_names)>>
    : std::true_type {};

template <class Kernel>
constexpr std::size_t scalar_state_count() {
    if constexpr (has_scalar_state<Kernel>::value)
        return Kernel::scalar_state_names.size();
    else
        return 0;
}

// The name of state entry k: the arrays' names, then the 0-d scalars'.
template <class Kernel>
const char* state_name(std::size_t k) {
    constexpr std::size_t arrays = Kernel::state_names.size();
    if constexpr (has_scalar_state<Kernel>::value)
        if (k >= arrays) return Kernel::scalar_state_names[k - arrays];
    return Kernel::state_names[k];
}

// Each tensor's scalars for this step: the step's, or for kernels with scalar state each
// tensor's own, advancing that state once, here, before any element is updated (the element
// pass may split a tensor over threads).
template <class Kernel, class T>
class tensor_scalars {
public:
    tensor_scalars(const buffers_t<Kernel, T>* tensors,
                   std::size_t count,
                   const scalars_t<Kernel, T>& step)
        : step_(step) {
        if constexpr (has_scalar_state<Kernel>::value) {
            each_.reserve(count);
            for (std::size_t t = 0; t < count; ++t)
                each_.push_back(Kernel::template advance<T>(step, tensors[t]));
        } else {
            (void)tensors;
            (void)count;
        }
    }
    const scalars_t<Kernel, T>& operator()(std::size_t t) const {
        if constexpr (has_scalar_state<Kernel>::value) return each_[t];
        static_cast<void>(t);
        return step_;
    }

private:
    const scalars_t<Kernel, T>& step_;
    std::vector<scalars_t<Kernel, T>> each_;
};

// Elements [begin, end) of one tensor: full vectors, then the same kernel one lane at a time.
template <class Kernel, class V>
OPTIKERN_INLINE void run_range(const buffers_t<Kernel, typename V::value_type>& b,
                               const scalars_t<Kernel, typename V::value_type>& s,
                               std::int64_t begin,
                               std::int64_t end) {
    using tail = simd::scalar<typename V::value_type>;
    std::int64_t i = begin;
    for (; i + V::width <= end; i += V::width) Kernel::template at<V>(b, s, i);
    for (; i < end; ++i) Kernel::template at<tail>(b, s, i);
}

// The norm phase of a kernel declaring `norms` (kernels/lamb.hpp) over one block [begin, end)
// of a tensor: norm_at updates the block and hands out `norms` values per element, whose
// squares are summed in kernels::lanes lanes (element i in lane (i - begin) % lanes) in the
// element type, as vector registers, then the lanes combined pairwise in double. Each lane
// adds the same terms in the same order on every level (a vector covers whole lanes; the
// scalar tail continues the lanes), so the sums are identical everywhere.
template <class Kernel, class V>
OPTIKERN_INLINE void run_norm_block(const buffers_t<Kernel, typename V::value_type>& b,
                                    const scalars_t<Kernel, typename V::value_type>& s,
                                    std::int64_t begin,
                                    std::int64_t end,
                                    double* sums) {
    using T = typename V::value_type;
    using tail = simd::scalar<T>;
    constexpr std::size_t norms = Kernel::norms;
    constexpr int per_lanes = kernels::lanes / V::width;  // registers covering the lanes
    static_assert(kernels::lanes % V::width == 0, "a vector fills whole lanes");
    typename V::reg acc[norms][per_lanes];
    for (std::size_t k = 0; k < norms; ++k)
        for (int r = 0; r < per_lanes; ++r) acc[k][r] = V::set1(T(0));
    T values[norms][V::width];
    T* out[norms];
    for (std::size_t k = 0; k < norms; ++k) out[k] = values[k];
    std::int64_t i = begin;
    for (; i + kernels::lanes <= end; i += kernels::lanes)
        for (int r = 0; r < per_lanes; ++r) {
            Kernel::template norm_at<V>(b, s, i + r * V::width, out);
            for (std::size_t k = 0; k < norms; ++k) {
                const auto x = V::load(values[k]);
                acc[k][r] = V::add(acc[k][r], V::mul(x, x));
            }
        }
    T lane_sums[norms][kernels::lanes];
    for (std::size_t k = 0; k < norms; ++k)
        for (int r = 0; r < per_lanes; ++r) V::store(lane_sums[k] + r * V::width, acc[k][r]);
    for (int lane = 0; i < end; ++i, ++lane) {
        Kernel::template norm_at<tail>(b, s, i, out);
        for (std::size_t k = 0; k < norms; ++k) lane_sums[k][lane] += values[k][0] * values[k][0];
    }
    for (std::size_t k = 0; k < norms; ++k) {
        double lanes[kernels::lanes];
        for (int j = 0; j < kernels::lanes; ++j) lanes[j] = static_cast<double>(lane_sums[k][j]);
        for (int width = kernels::lanes / 2; width > 0; width /= 2)
            for (int j = 0; j < width; ++j) lanes[j] += lanes[j + width];
        sums[k] = lanes[0];
    }
}

// Reductions are plain loops over fixed lanes; compiled per level they vectorise at that
// level's width without changing the summation order.
template <class T>
double block_reduce_baseline(const T* data, std::int64_t n, norm_kind kind, double p) {
    return kernels::block_reduce(data, n, kind, p);
}

template <class T>
bool block_has_nonfinite_baseline(const T* data, std::int64_t n) {
    return kernels::block_has_nonfinite(data, n);
}

// 8-bit state: one block quantized or read back (quantize.hpp's definition; the AVX2 and
// AVX-512 versions below write the same bytes).
inline float quantize_baseline(const code_map& map,
                               const float* values,
                               std::int64_t n,
                               std::uint8_t* out) {
    return map.quantize(values, n, out);
}

inline void dequantize_baseline(
    const code_map& map, const std::uint8_t* q, std::int64_t n, float absmax, float* out) {
    map.dequantize(q, n, absmax, out);
}

template <class Kernel, class T>
void norm_range_baseline(const buffers_t<Kernel, T>& b,
                         const scalars_t<Kernel, T>& s,
                         std::int64_t begin,
                         std::int64_t end,
                         double* sums) {
    run_norm_block<Kernel, simd::scalar<T>>(b, s, begin, end, sums);
}

template <class Kernel, class T>
void range_baseline(const buffers_t<Kernel, T>& b,
                    const scalars_t<Kernel, T>& s,
                    std::int64_t begin,
                    std::int64_t end) {
    run_range<Kernel, simd::scalar<T>>(b, s, begin, end);
}

#if OPTIKERN_X86
template <class Kernel, class T>
OPTIKERN_TARGET("avx2,fma")
OPTIKERN_FLATTEN void range_avx2(const buffers_t<Kernel, T>& b,
                                 const scalars_t<Kernel, T>& s,
                                 std::int64_t begin,
                                 std::int64_t end) {
    run_range<Kernel, simd::avx2<T>>(b, s, begin, end);
}

template <class Kernel, class T>
OPTIKERN_TARGET("avx512f")
OPTIKERN_FLATTEN void range_avx512(const buffers_t<Kernel, T>& b,
                                   const scalars_t<Kernel, T>& s,
                                   std::int64_t begin,
                                   std::int64_t end) {
    run_range<Kernel, simd::avx512<T>>(b, s, begin, end);
}
template <class Kernel, class T>
OPTIKERN_TARGET("avx2,fma")
OPTIKERN_FLATTEN void norm_range_avx2(const buffers_t<Kernel, T>& b,
                                      const scalars_t<Kernel, T>& s,
                                      std::int64_t begin,
                                      std::int64_t end,
                                      double* sums) {
    run_norm_block<Kernel, simd::avx2<T>>(b, s, begin, end, sums);
}

template <class Kernel, class T>
OPTIKERN_TARGET("avx512f")
OPTIKERN_FLATTEN void norm_range_avx512(const buffers_t<Kernel, T>& b,
                                        const scalars_t<Kernel, T>& s,
                                        std::int64_t begin,
                                        std::int64_t end,
                                        double* sums) {
    run_norm_block<Kernel, simd::avx512<T>>(b, s, begin, end, sums);
}

template <class T>
OPTIKERN_TARGET("avx2")
OPTIKERN_FLATTEN double block_reduce_avx2(const T* data, std::int64_t n, norm_kind kind, double p) {
    return kernels::block_reduce(data, n, kind, p);
}

template <class T>
OPTIKERN_TARGET("avx2")
OPTIKERN_FLATTEN bool block_has_nonfinite_avx2(const T* data, std::int64_t n) {
    return kernels::block_has_nonfinite(data, n);
}

template <class T>
OPTIKERN_TARGET("avx512f")
OPTIKERN_FLATTEN
    double block_reduce_avx512(const T* data, std::int64_t n, norm_kind kind, double p) {
    return kernels::block_reduce(data, n, kind, p);
}

template <class T>
OPTIKERN_TARGET("avx512f")
OPTIKERN_FLATTEN bool block_has_nonfinite_avx512(const T* data, std::int64_t n) {
    return kernels::block_has_nonfinite(data, n);
}

// The block codec at AVX-512 width. Tails run the scalar code, and every level writes the
// same bytes.

// A block's largest magnitude, and whether a value is NaN or infinite.
OPTIKERN_TARGET("avx512f")
inline float block_absmax_avx512(const float* values, std::int64_t n, bool& nonfinite) {
    const __m512i magnitude_mask = _mm512_set1_epi32(0x7FFFFFFF);
    __m512 largest = _mm512_setzero_ps();
    __mmask16 bad = 0;
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i magnitude =
            _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(values + i)), magnitude_mask);
        bad |= _mm512_cmpge_epu32_mask(magnitude, _mm512_set1_epi32(0x7F800000));
        largest = _mm512_max_ps(largest, _mm512_castsi512_ps(magnitude));
    }
    alignas(64) float lanes[16];  // (GCC 12 warns on _mm512_reduce_max_ps's undefined lanes)
    _mm512_store_ps(lanes, largest);
    float absmax = *std::max_element(lanes, lanes + 16);
    nonfinite = bad != 0;
    for (; i < n; ++i) {
        const std::uint32_t magnitude = lowp::bits_of(values[i]) & 0x7FFFFFFFu;
        nonfinite = nonfinite || magnitude >= 0x7F800000u;
        absmax = std::max(absmax, lowp::float_of(magnitude));
    }
    return absmax;
}

// code_map::quantize with the bucket table read by gathers: for maps without byte tables, or
// CPUs without byte permutes (AVX512-VBMI).
OPTIKERN_TARGET("avx512f")
OPTIKERN_FLATTEN inline float quantize_avx512(const code_map& map,
                                              const float* values,
                                              std::int64_t n,
                                              std::uint8_t* out) {
    const code_map::lookup l = map.tables();
    bool nonfinite = false;
    const float absmax = block_absmax_avx512(values, n, nonfinite);
    if (nonfinite) {
        for (std::int64_t j = 0; j < n; ++j) out[j] = l.zero_index;
        return NAN;
    }
    const float divisor = absmax > 0.0f ? absmax : 1.0f;
    const __m512 lowest = _mm512_set1_ps(l.codes[0]);
    const __m512 highest = _mm512_set1_ps(l.codes[code_map::size - 1]);
    const __m512i magnitude_mask = _mm512_set1_epi32(0x7FFFFFFF);
    const __m512i floor = _mm512_set1_epi32(static_cast<int>(l.floor_bits));
    const __m512i first_key = _mm512_set1_epi32(l.first_key);
    const __m128i shift = _mm_cvtsi32_si128(l.shift);
    const __m512i offset_mask = _mm512_set1_epi32(static_cast<int>((1u << l.shift) - 1u));
    std::int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_div_ps(_mm512_loadu_ps(values + i), _mm512_set1_ps(divisor));
        x = _mm512_min_ps(_mm512_max_ps(x, lowest), highest);
        // code_map::position_of, then the bucket's entry and one comparison.
        const __m512i bits = _mm512_castps_si512(x);
        const __m512i above = _mm512_sub_epi32(
            _mm512_max_epu32(_mm512_and_si512(bits, magnitude_mask), floor), floor);
        const __m512i bucket = _mm512_srl_epi32(above, shift);
        const __m512i inside = _mm512_and_si512(above, offset_mask);
        const __mmask16 negative = _mm512_cmplt_epi32_mask(bits, _mm512_setzero_si512());
        const __m512i key = _mm512_mask_sub_epi32(bucket, negative, _mm512_setzero_si512(), bucket);
        const __m512i offset = _mm512_mask_sub_epi32(inside, negative, offset_mask, inside);
        const __m512i entry = _mm512_i32gather_epi32(_mm512_sub_epi32(key, first_key), l.table, 4);
        const __mmask16 past = _mm512_cmpge_epu32_mask(offset, _mm512_srli_epi32(entry, 8));
        const __m512i base = _mm512_and_si512(entry, _mm512_set1_epi32(0xFF));
        const __m512i q = _mm512_mask_add_epi32(base, past, base, _mm512_set1_epi32(1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi32_epi8(q));
    }
    for (; i < n; ++i) out[i] = map.index_of(values[i] / divisor);
    return absmax;
}

// One byte per lane of a 512-entry byte table, 64 lanes at a time: the low 7 bits of `key`
// pick within 128 entries, bit 7 and `upper` (bit 8) among the four.
OPTIKERN_TARGET("avx512f,avx512bw,avx512vbmi")
inline __m512i lookup_bytes(const std::uint8_t* table,
                            __m512i key,
                            __mmask64 bit7,
                            __mmask64 upper) {
    const __m512i part0 =
        _mm512_permutex2var_epi8(_mm512_load_si512(table), key, _mm512_load_si512(table + 64));
    const __m512i part1 = _mm512_permutex2var_epi8(_mm512_load_si512(table + 128), key,
                                                   _mm512_load_si512(table + 192));
    const __m512i part2 = _mm512_permutex2var_epi8(_mm512_load_si512(table + 256), key,
                                                   _mm512_load_si512(table + 320));
    const __m512i part3 = _mm512_permutex2var_epi8(_mm512_load_si512(table + 384), key,
                                                   _mm512_load_si512(table + 448));
    return _mm512_mask_blend_epi8(upper, _mm512_mask_blend_epi8(bit7, part0, part1),
                                  _mm512_mask_blend_epi8(bit7, part2, part3));
}

// Byte positions for the byte-permute codec: `pack` takes byte 0 of 32 lanes of two
// registers into bytes 0..31 and byte 1 into bytes 32..63; `low` and `high` join those halves
// of two packs; `interleave[j]` puts byte 16 j + p of registers (a, b, a, b) into bytes 0..3
// of 32-bit lane p (a permute of a and b fills what its mask selects).
struct byte_positions {
    alignas(64) std::uint8_t pack[64], low[64], high[64], interleave[4][64];

    static const byte_positions& get() {
        static const byte_positions positions;
        return positions;
    }

private:
    byte_positions() {
        for (int p = 0; p < 32; ++p) {
            pack[p] = static_cast<std::uint8_t>(4 * p);
            pack[32 + p] = static_cast<std::uint8_t>(4 * p + 1);
            low[p] = static_cast<std::uint8_t>(p);
            low[32 + p] = static_cast<std::uint8_t>(64 + p);
            high[p] = static_cast<std::uint8_t>(32 + p);
            high[32 + p] = static_cast<std::uint8_t>(96 + p);
        }
        for (int j = 0; j < 4; ++j)
            for (int p = 0; p < 16; ++p) {
                interleave[j][4 * p] = interleave[j][4 * p + 2] =
                    static_cast<std::uint8_t>(16 * j + p);
                interleave[j][4 * p + 1] = interleave[j][4 * p + 3] =
                    static_cast<std::uint8_t>(64 + 16 * j + p);
            }
    }
};

// What quantize_avx512_vbmi needs to find buckets (code_map::byte_search).
struct bucket_finder {
    __m512 divisor, lowest, highest;
    __m512i floor, binade_low, binade_high;
};

// 16 values' buckets: key, mantissa above the floor, sign.
struct buckets_of_16 {
    __m512i key, mantissa;
    std::uint64_t negative;
};

OPTIKERN_TARGET("avx512f,avx512dq")
inline buckets_of_16 find_buckets(const bucket_finder& f, const float* values) {
    __m512 x = _mm512_div_ps(_mm512_loadu_ps(values), f.divisor);
    x = _mm512_min_ps(_mm512_max_ps(x, f.lowest), f.highest);  // max(-0, +0) is +0
    const __m512i bits = _mm512_castps_si512(x);
    const __m512i above = _mm512_sub_epi32(
        _mm512_max_epu32(_mm512_and_si512(bits, _mm512_set1_epi32(0x7FFFFFFF)), f.floor), f.floor);
    const __m512i binade =
        _mm512_permutex2var_epi32(f.binade_low, _mm512_srli_epi32(above, 23), f.binade_high);
    const __m512i mantissa = _mm512_and_si512(above, _mm512_set1_epi32(0x7FFFFF));
    const __m512i key = _mm512_add_epi32(
        _mm512_srli_epi32(binade, 8),
        _mm512_srlv_epi32(mantissa, _mm512_and_si512(binade, _mm512_set1_epi32(31))));
    return {key, mantissa, _mm512_movepi32_mask(bits)};
}

// Which of 16 mantissas lie at or past their buckets' thresholds, whose bytes t0, t1, t2 sit
// in 64 byte lanes from lane 16 j on (`spread` is byte_positions::interleave[j]).
OPTIKERN_TARGET("avx512f,avx512bw,avx512vbmi")
inline __mmask16 at_or_past(__m512i mantissa, __m512i spread, __m512i t0, __m512i t1, __m512i t2) {
    const __m512i threshold = _mm512_mask_permutexvar_epi8(
        _mm512_maskz_permutex2var_epi8(0x3333333333333333ull, t0, spread, t1),
        0x4444444444444444ull, spread, t2);
    return _mm512_cmpge_epu32_mask(mantissa, threshold);
}

// code_map::quantize through code_map::byte_search, 64 values at a time and no gathers: each
// value's bucket from its bits, then the bucket's base code and threshold from byte tables
// read by in-register permutes, and one comparison.
OPTIKERN_TARGET("avx512f,avx512bw,avx512dq,avx512vbmi")
OPTIKERN_FLATTEN inline float quantize_avx512_vbmi(const code_map& map,
                                                   const float* values,
                                                   std::int64_t n,
                                                   std::uint8_t* out) {
    const code_map::byte_search* search = map.byte_tables();
    if (search == nullptr) return quantize_avx512(map, values, n, out);
    const code_map::lookup l = map.tables();
    bool nonfinite = false;
    const float absmax = block_absmax_avx512(values, n, nonfinite);
    if (nonfinite) {
        for (std::int64_t j = 0; j < n; ++j) out[j] = l.zero_index;
        return NAN;
    }
    const float divisor = absmax > 0.0f ? absmax : 1.0f;
    const byte_positions& at = byte_positions::get();
    const bucket_finder finder{_mm512_set1_ps(divisor),
                               _mm512_set1_ps(l.codes[0]),
                               _mm512_set1_ps(l.codes[code_map::size - 1]),
                               _mm512_set1_epi32(static_cast<int>(l.floor_bits)),
                               _mm512_load_si512(search->binade.data()),
                               _mm512_load_si512(search->binade.data() + 16)};
    std::int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const buckets_of_16 b0 = find_buckets(finder, values + i);
        const buckets_of_16 b1 = find_buckets(finder, values + i + 16);
        const buckets_of_16 b2 = find_buckets(finder, values + i + 32);
        const buckets_of_16 b3 = find_buckets(finder, values + i + 48);
        const std::uint64_t negative =
            b0.negative | b1.negative << 16 | b2.negative << 32 | b3.negative << 48;
        // The keys' low and high bytes, 64 lanes each.
        const __m512i to_pack = _mm512_load_si512(at.pack);
        const __m512i pack01 = _mm512_permutex2var_epi8(b0.key, to_pack, b1.key);
        const __m512i pack23 = _mm512_permutex2var_epi8(b2.key, to_pack, b3.key);
        const __m512i key = _mm512_permutex2var_epi8(pack01, _mm512_load_si512(at.low), pack23);
        const __m512i key_high =
            _mm512_permutex2var_epi8(pack01, _mm512_load_si512(at.high), pack23);
        const __mmask64 bit7 = _mm512_movepi8_mask(key);
        const __mmask64 upper = _mm512_test_epi8_mask(key_high, key_high) | negative;
        const __m512i base = lookup_bytes(search->base.data(), key, bit7, upper);
        const __m512i t0 = lookup_bytes(search->threshold[0].data(), key, bit7, upper);
        const __m512i t1 = lookup_bytes(search->threshold[1].data(), key, bit7, upper);
        const __m512i t2 = lookup_bytes(search->threshold[2].data(), key, bit7, upper);
        const std::uint64_t past =
            std::uint64_t{
                at_or_past(b0.mantissa, _mm512_load_si512(at.interleave[0]), t0, t1, t2)} |
            std::uint64_t{at_or_past(b1.mantissa, _mm512_load_si512(at.interleave[1]), t0, t1, t2)}
                << 16 |
            std::uint64_t{at_or_past(b2.mantissa, _mm512_load_si512(at.interleave[2]), t0, t1, t2)}
                << 32 |
            std::uint64_t{at_or_past(b3.mantissa, _mm512_load_si512(at.interleave[3]), t0, t1, t2)}
                << 48;
        _mm512_storeu_si512(out + i,
                            _mm512_mask_add_epi8(base, past ^ negative, base, _mm512_set1_epi8(1)));
    }
    for (; i < n; ++i) out[i] = map.index_of(values[i] / divisor);
    return absmax;
}

// Reads codes back 64 at a time: each byte of the codes' float bits from a 256-entry byte
// table, then interleaved into 32-bit lanes.
OPTIKERN_TARGET("avx512f,avx512bw,avx512vbmi")
OPTIKERN_FLATTEN inline void dequantize_avx512_vbmi(
    const code_map& map, const std::uint8_t* q, std::int64_t n, float absmax, float* out) {
    const code_map::lookup l = map.tables();
    const byte_positions& at = byte_positions::get();
    const __m512 scale = _mm512_set1_ps(absmax);
    std::int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const __m512i index = _mm512_loadu_si512(q + i);
        const __mmask64 bit7 = _mm512_movepi8_mask(index);
        __m512i byte[4];
        for (std::size_t k = 0; k < 4; ++k) {
            const std::uint8_t* table = l.bytes[k].data();
            byte[k] = _mm512_mask_blend_epi8(
                bit7,
                _mm512_permutex2var_epi8(_mm512_load_si512(table), index,
                                         _mm512_load_si512(table + 64)),
                _mm512_permutex2var_epi8(_mm512_load_si512(table + 128), index,
                                         _mm512_load_si512(table + 192)));
        }
        for (int j = 0; j < 4; ++j) {
            const __m512i to = _mm512_load_si512(at.interleave[j]);
            const __m512i bits = _mm512_or_si512(
                _mm512_maskz_permutex2var_epi8(0x3333333333333333ull, byte[0], to, byte[1]),
                _mm512_maskz_permutex2var_epi8(0xCCCCCCCCCCCCCCCCull, byte[2], to, byte[3]));
            _mm512_storeu_ps(out + i + 16 * j, _mm512_mul_ps(_mm512_castsi512_ps(bits), scale));
        }
    }
    for (; i < n; ++i) out[i] = l.codes[q[i]] * absmax;
}

// One 16-bit half of 32 codes' values: four 64-entry permutes, blended by index bits 6 and 7.
OPTIKERN_TARGET("avx512f,avx512bw")
inline __m512i lookup_halves(const std::uint16_t* table,
                             __m512i index,
                             __mmask32 bit6,
                             __mmask32 bit7) {
    __m512i part[4];  // entries 64k .. 64k + 63 (a lambda would lose the target attribute)
    for (int k = 0; k < 4; ++k)
        part[k] = _mm512_permutex2var_epi16(_mm512_load_si512(table + 64 * k), index,
                                            _mm512_load_si512(table + 64 * k + 32));
    return _mm512_mask_blend_epi16(bit7, _mm512_mask_blend_epi16(bit6, part[0], part[1]),
                                   _mm512_mask_blend_epi16(bit6, part[2], part[3]));
}

// Reads codes back 32 at a time without gathers (slow on many CPUs): the codes' float bits
// come from two 16-bit tables, interleaved by unpacks in an order fixed by a first permute.
OPTIKERN_TARGET("avx512f,avx512bw")
OPTIKERN_FLATTEN inline void dequantize_avx512(
    const code_map& map, const std::uint8_t* q, std::int64_t n, float absmax, float* out) {
    const code_map::lookup l = map.tables();
    // Unpacks interleave within 128-bit lanes: word 8j + e of lane j must hold element 4j + e
    // (e < 4) and word 8j + 4 + e element 16 + 4j + e.
    alignas(64) std::uint16_t order[32];
    for (int j = 0; j < 4; ++j)
        for (int e = 0; e < 4; ++e) {
            order[8 * j + e] = static_cast<std::uint16_t>(4 * j + e);
            order[8 * j + 4 + e] = static_cast<std::uint16_t>(16 + 4 * j + e);
        }
    const __m512i in_order = _mm512_load_si512(order);
    const __m512 scale = _mm512_set1_ps(absmax);
    std::int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512i index = _mm512_permutexvar_epi16(
            in_order,
            _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i))));
        const __mmask32 bit6 = _mm512_test_epi16_mask(index, _mm512_set1_epi16(64));
        const __mmask32 bit7 = _mm512_test_epi16_mask(index, _mm512_set1_epi16(128));
        const __m512i low = lookup_halves(l.low_halves, index, bit6, bit7);
        const __m512i high = lookup_halves(l.high_halves, index, bit6, bit7);
        _mm512_storeu_ps(
            out + i, _mm512_mul_ps(_mm512_castsi512_ps(_mm512_unpacklo_epi16(low, high)), scale));
        _mm512_storeu_ps(
            out + i + 16,
            _mm512_mul_ps(_mm512_castsi512_ps(_mm512_unpackhi_epi16(low, high)), scale));
    }
    for (; i < n; ++i) out[i] = l.codes[q[i]] * absmax;
}

// code_map::quantize at AVX2 width, the bucket table read by gathers.
OPTIKERN_TARGET("avx2")
OPTIKERN_FLATTEN inline float quantize_avx2(const code_map& map,
                                            const float* values,
                                            std::int64_t n,
                                            std::uint8_t* out) {
    const code_map::lookup l = map.tables();
    const __m256i magnitude_mask = _mm256_set1_epi32(0x7FFFFFFF);
    __m256 largest = _mm256_setzero_ps();
    __m256i bad = _mm256_setzero_si256();
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i magnitude =
            _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(values + i)), magnitude_mask);
        bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7F7FFFFF)));
        largest = _mm256_max_ps(largest, _mm256_castsi256_ps(magnitude));
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, largest);
    float absmax = *std::max_element(lanes, lanes + 8);
    bool nonfinite = _mm256_testz_si256(bad, bad) == 0;
    for (; i < n; ++i) {
        const std::uint32_t magnitude = lowp::bits_of(values[i]) & 0x7FFFFFFFu;
        nonfinite = nonfinite || magnitude >= 0x7F800000u;
        absmax = std::max(absmax, lowp::float_of(magnitude));
    }
    if (nonfinite) {
        for (std::int64_t j = 0; j < n; ++j) out[j] = l.zero_index;
        return NAN;
    }
    const float divisor = absmax > 0.0f ? absmax : 1.0f;
    const __m256 lowest = _mm256_set1_ps(l.codes[0]);
    const __m256 highest = _mm256_set1_ps(l.codes[code_map::size - 1]);
    const __m256i floor = _mm256_set1_epi32(static_cast<int>(l.floor_bits));
    const __m256i first_key = _mm256_set1_epi32(l.first_key);
    const __m128i shift = _mm_cvtsi32_si128(l.shift);
    const __m256i offset_mask = _mm256_set1_epi32(static_cast<int>((1u << l.shift) - 1u));
    i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_div_ps(_mm256_loadu_ps(values + i), _mm256_set1_ps(divisor));
        x = _mm256_min_ps(_mm256_max_ps(x, lowest), highest);
        // code_map::position_of (negating where x < 0 as v ^ -1 - -1), then the bucket's entry
        // and one comparison: entries and offsets are below 2^24, so signed compares do.
        const __m256i bits = _mm256_castps_si256(x);
        const __m256i above = _mm256_sub_epi32(
            _mm256_max_epu32(_mm256_and_si256(bits, magnitude_mask), floor), floor);
        const __m256i negative = _mm256_srai_epi32(bits, 31);
        const __m256i key =
            _mm256_sub_epi32(_mm256_xor_si256(_mm256_srl_epi32(above, shift), negative), negative);
        const __m256i offset = _mm256_xor_si256(_mm256_and_si256(above, offset_mask),
                                                _mm256_and_si256(negative, offset_mask));
        const __m256i entry = _mm256_i32gather_epi32(reinterpret_cast<const int*>(l.table),
                                                     _mm256_sub_epi32(key, first_key), 4);
        const __m256i past = _mm256_cmpgt_epi32(
            offset, _mm256_sub_epi32(_mm256_srli_epi32(entry, 8), _mm256_set1_epi32(1)));
        const __m256i q = _mm256_sub_epi32(_mm256_and_si256(entry, _mm256_set1_epi32(0xFF)), past);
        const __m128i words =
            _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(words, words));
    }
    for (; i < n; ++i) out[i] = map.index_of(values[i] / divisor);
    return absmax;
}

OPTIKERN_TARGET("avx2")
OPTIKERN_FLATTEN inline void dequantize_avx2(
    const code_map& map, const std::uint8_t* q, std::int64_t n, float absmax, float* out) {
    const float* codes = map.codes();
    const __m256 scale = _mm256_set1_ps(absmax);
    std::int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i index =
            _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i)));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_i32gather_ps(codes, index, 4), scale));
    }
    for (; i < n; ++i) out[i] = codes[q[i]] * absmax;
}
#endif

}  // namespace optikern::dispatch
