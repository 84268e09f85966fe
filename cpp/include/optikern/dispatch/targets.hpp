// One entry point per (kernel, element type, SIMD level). The target attribute plus flatten
// compiles the whole kernel template for that instruction set inside a header: no per-file -m
// flags, no -march=native, and C++ users get the same dispatch as the Python module.
#pragma once

#include <cstdint>

#include "optikern/config.hpp"
#include "optikern/kernels/reduce.hpp"
#include "optikern/simd/avx2.hpp"
#include "optikern/simd/avx512.hpp"
#include "optikern/simd/scalar.hpp"

namespace optikern::dispatch {

template <class Kernel, class T>
using buffers_t = typename Kernel::template buffers<T>;
template <class Kernel, class T>
using scalars_t = typename Kernel::template scalars<T>;

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
#endif

}  // namespace optikern::dispatch
