// The public C++ entry points: pick the entry point of the active SIMD level, derive the
// per-step constants once, and walk every tensor of the step (in parallel when large).
#pragma once

#include <cstddef>
#include <cstdint>

#include "optikern/dispatch/cpu.hpp"
#include "optikern/dispatch/targets.hpp"
#include "optikern/kernels/adagrad.hpp"
#include "optikern/kernels/adam.hpp"
#include "optikern/kernels/rmsprop.hpp"
#include "optikern/kernels/sgd.hpp"
#include "optikern/parallel.hpp"

namespace optikern {
namespace dispatch {

template <class Kernel, class T>
using range_fn = void (*)(const buffers_t<Kernel, T>&,
                          const scalars_t<Kernel, T>&,
                          std::int64_t,
                          std::int64_t);

template <class Kernel, class T>
range_fn<Kernel, T> select(simd_level level) {
#if OPTIKERN_X86
    if (level == simd_level::avx512) return &range_avx512<Kernel, T>;
    if (level == simd_level::avx2) return &range_avx2<Kernel, T>;
#else
    (void)level;
#endif
    return &range_baseline<Kernel, T>;
}

template <class Kernel, class T>
void run(const buffers_t<Kernel, T>* tensors, std::size_t count, const scalars_t<Kernel, T>& s) {
    const range_fn<Kernel, T> fn = select<Kernel, T>(active_simd_level());
    for_each_range(tensors, count, [&](std::size_t t, std::int64_t begin, std::int64_t end) {
        fn(tensors[t], s, begin, end);
    });
}

}  // namespace dispatch

// One optimizer step over `count` tensors. Buffers must not overlap (gradients may share
// memory with each other); `step` is the 1-based number of this step.

template <class T>
void sgd_step(const sgd_buffers<T>* tensors,
              std::size_t count,
              const sgd_options& options,
              bool first_step) {
    dispatch::run<kernels::sgd, T>(tensors, count, sgd_scalars<T>::make(options, first_step));
}

template <class T>
void adagrad_step(const adagrad_buffers<T>* tensors,
                  std::size_t count,
                  const adagrad_options& options,
                  std::int64_t step) {
    dispatch::run<kernels::adagrad, T>(tensors, count, adagrad_scalars<T>::make(options, step));
}

template <class T>
void rmsprop_step(const rmsprop_buffers<T>* tensors,
                  std::size_t count,
                  const rmsprop_options& options) {
    dispatch::run<kernels::rmsprop, T>(tensors, count, rmsprop_scalars<T>::make(options));
}

template <class T>
void adam_step(const adam_buffers<T>* tensors,
               std::size_t count,
               const adam_options& options,
               std::int64_t step) {
    dispatch::run<kernels::adam, T>(tensors, count, adam_scalars<T>::make(options, step));
}

}  // namespace optikern
