// One entry point per (kernel, element type, SIMD level). The target attribute plus flatten
// compiles the whole kernel template for that instruction set inside a header: no per-file -m
// flags, no -march=native, and C++ users get the same dispatch as the Python module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "optikern/config.hpp"
#include "optikern/kernels/reduce.hpp"
#include "optikern/lowp.hpp"
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

// Mixed precision's check that every 16-bit param still rounds from its master: integer
// work that vectorises at each level's width, with the same answer on every level.
template <class P>
bool all_round_to_baseline(const float* x, const P* value, std::int64_t n) {
    return lowp::all_round_to(x, value, n);
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
OPTIKERN_TARGET("avx2")
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
OPTIKERN_TARGET("avx2")
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

template <class P>
OPTIKERN_TARGET("avx2")
OPTIKERN_FLATTEN bool all_round_to_avx2(const float* x, const P* value, std::int64_t n) {
    return lowp::all_round_to(x, value, n);
}

template <class P>
OPTIKERN_TARGET("avx512f")
OPTIKERN_FLATTEN bool all_round_to_avx512(const float* x, const P* value, std::int64_t n) {
    return lowp::all_round_to(x, value, n);
}
#endif

}  // namespace optikern::dispatch
