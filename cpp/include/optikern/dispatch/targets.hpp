// One entry point per (kernel, element type, SIMD level). The target attribute plus flatten
// compiles the whole kernel template for that instruction set inside a header: no per-file -m
// flags, no -march=native, and C++ users get the same dispatch as the Python module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

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
