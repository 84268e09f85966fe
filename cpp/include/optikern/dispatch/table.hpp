// The public C++ entry points: pick the entry point of the active SIMD level, derive the
// per-step constants once, and walk every tensor of the step (in parallel when large).
#pragma once

#include <array>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <vector>

#include "optikern/dispatch/cpu.hpp"
#include "optikern/dispatch/factored.hpp"
#include "optikern/dispatch/targets.hpp"
#include "optikern/kernels/adadelta.hpp"
#include "optikern/kernels/adafactor.hpp"
#include "optikern/kernels/adagrad.hpp"
#include "optikern/kernels/adam.hpp"
#include "optikern/kernels/adamax.hpp"
#include "optikern/kernels/asgd.hpp"
#include "optikern/kernels/clip.hpp"
#include "optikern/kernels/lamb.hpp"
#include "optikern/kernels/lion.hpp"
#include "optikern/kernels/nadam.hpp"
#include "optikern/kernels/radam.hpp"
#include "optikern/kernels/rmsprop.hpp"
#include "optikern/kernels/rprop.hpp"
#include "optikern/kernels/sgd.hpp"
#include "optikern/kernels/sparse_adam.hpp"
#include "optikern/kernels/stream.hpp"
#include "optikern/parallel.hpp"

namespace optikern {
namespace dispatch {

// The same tensor's buffers from element `offset` on, reading the gradient from `grad`.
template <class Kernel, class T>
buffers_t<Kernel, T> block_of(const buffers_t<Kernel, T>& b,
                              std::int64_t offset,
                              const T* grad,
                              std::int64_t n) {
    buffers_t<Kernel, T> out = b;
    if (out.param != nullptr) out.param += offset;
    for (auto member : Kernel::template state<T>)
        if (out.*member != nullptr) out.*member += offset;
    out.grad = grad;
    out.size = n;
    return out;
}

template <class Kernel, class T>
using range_fn =
    void (*)(const buffers_t<Kernel, T>&, const scalars_t<Kernel, T>&, std::int64_t, std::int64_t);

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
    const tensor_scalars<Kernel, T> scalars_of(tensors, count, s);
    for_each_range(tensors, count, [&](std::size_t t, std::int64_t begin, std::int64_t end) {
        fn(tensors[t], scalars_of(t), begin, end);
    });
}

template <class Kernel, class T>
using norm_fn = void (*)(
    const buffers_t<Kernel, T>&, const scalars_t<Kernel, T>&, std::int64_t, std::int64_t, double*);

template <class Kernel, class T>
norm_fn<Kernel, T> select_norm(simd_level level) {
#if OPTIKERN_X86
    if (level == simd_level::avx512) return &norm_range_avx512<Kernel, T>;
    if (level == simd_level::avx2) return &norm_range_avx2<Kernel, T>;
#else
    (void)level;
#endif
    return &norm_range_baseline<Kernel, T>;
}

// Each tensor's scalars for the update phase from its blocks' sums (`partial`, in block order,
// Kernel::norms per block of kernels::block_size): added per tensor in block order.
template <class Kernel, class T>
std::vector<scalars_t<Kernel, T>> finish_norms(const buffers_t<Kernel, T>* tensors,
                                               std::size_t count,
                                               const scalars_t<Kernel, T>& s,
                                               const std::vector<double>& partial) {
    constexpr std::size_t norms = Kernel::norms;
    std::vector<scalars_t<Kernel, T>> per_tensor;
    per_tensor.reserve(count);
    const double* block = partial.data();
    for (std::size_t t = 0; t < count; ++t) {
        std::array<double, norms> sums{};
        for (std::int64_t b = count_blocks(tensors + t, 1, kernels::block_size); b > 0; --b)
            for (std::size_t k = 0; k < norms; ++k) sums[k] += *block++;
        per_tensor.push_back(Kernel::finish(s, sums));
    }
    return per_tensor;
}

// A kernel with a norm phase: its norm_at over every tensor, in blocks of
// kernels::block_size that threads take whole (each block's sums kept, then added per tensor
// in block order: the same sums for every thread count and level); Kernel::finish turns each
// tensor's sums into its scalars; then its at() over every tensor with those.
template <class Kernel, class T>
void run_normed(const buffers_t<Kernel, T>* tensors,
                std::size_t count,
                const scalars_t<Kernel, T>& s) {
    constexpr std::size_t norms = Kernel::norms;
    const simd_level level = active_simd_level();
    const norm_fn<Kernel, T> norm = select_norm<Kernel, T>(level);
    std::vector<double> partial(
        static_cast<std::size_t>(count_blocks(tensors, count, kernels::block_size)) * norms);
    for_each_block(tensors, count, kernels::block_size,
                   [&](std::size_t t, std::int64_t begin, std::int64_t end, std::int64_t b) {
                       norm(tensors[t], s, begin, end,
                            partial.data() + static_cast<std::size_t>(b) * norms);
                   });
    const std::vector<scalars_t<Kernel, T>> per_tensor =
        finish_norms<Kernel, T>(tensors, count, s, partial);
    const range_fn<Kernel, T> fn = select<Kernel, T>(level);
    for_each_range(tensors, count, [&](std::size_t t, std::int64_t begin, std::int64_t end) {
        fn(tensors[t], per_tensor[t], begin, end);
    });
}

// Passes A to D over every tensor (see the top). Unfactored tensors take the norm phase and
// the update of the kernel's norm_at and at.
template <class Kernel, class T>
void run_factored(const buffers_t<Kernel, T>* tensors,
                  std::size_t count,
                  const scalars_t<Kernel, T>& s) {
    using B = buffers_t<Kernel, T>;
    using S = scalars_t<Kernel, T>;
    const simd_level level = active_simd_level();
    // Work of passes A and C: blocks of matrices, or of unfactored tensors (c0, c1 the range).
    struct item {
        std::size_t tensor;
        factor_block block;
    };
    struct layout {
        std::size_t first_item = 0, items = 0;
        std::int64_t row_blocks = 0, col_blocks = 0;
        std::size_t row_parts = 0, col_parts = 0;  // offsets in the scratch arrays
        std::size_t row_scales = 0, col_scales = 0;
    };
    std::vector<item> items;
    std::vector<layout> at(count);
    std::size_t row_parts = 0, col_parts = 0, row_scales = 0, col_scales = 0;
    std::int64_t elements = 0;
    for (std::size_t t = 0; t < count; ++t) {
        const B& b = tensors[t];
        layout& l = at[t];
        l.first_item = items.size();
        elements += b.size;
        if (b.size == 0) continue;
        if (!b.factored) {
            for (std::int64_t begin = 0; begin < b.size; begin += kernels::block_size)
                items.push_back(
                    {t, {0, 0, 1, begin, std::min(b.size, begin + kernels::block_size)}});
        } else {
            l.row_blocks = (b.rows + factor_rows - 1) / factor_rows;
            l.col_blocks = (b.cols + factor_cols - 1) / factor_cols;
            for (std::int64_t batch = 0; batch < b.batches; ++batch)
                for (std::int64_t rb = 0; rb < l.row_blocks; ++rb)
                    for (std::int64_t cb = 0; cb < l.col_blocks; ++cb)
                        items.push_back(
                            {t,
                             {batch, rb * factor_rows, std::min(b.rows, (rb + 1) * factor_rows),
                              cb * factor_cols, std::min(b.cols, (cb + 1) * factor_cols)}});
            l.row_parts = row_parts;
            l.col_parts = col_parts;
            l.row_scales = row_scales;
            l.col_scales = col_scales;
            row_parts += static_cast<std::size_t>(l.col_blocks * b.batches * b.rows);
            col_parts += static_cast<std::size_t>(l.row_blocks * b.batches * b.cols);
            row_scales += static_cast<std::size_t>(b.batches * b.rows);
            col_scales += static_cast<std::size_t>(b.batches * b.cols);
        }
        l.items = items.size() - l.first_item;
    }
    // Partial sums: per item p p and u u; per (column block, row) and (row block, column).
    std::vector<double> sums(items.size() * 2), rows(row_parts), cols(col_parts);
    std::vector<T> row_scale(row_scales), col_scale(col_scales);
    const auto row_slot = [&](const item& it) {
        const B& b = tensors[it.tensor];
        const layout& l = at[it.tensor];
        const std::int64_t cb = it.block.c0 / factor_cols;
        return rows.data() + l.row_parts +
               static_cast<std::size_t>((cb * b.batches + it.block.batch) * b.rows + it.block.r0);
    };
    const auto col_slot = [&](const item& it) {
        const B& b = tensors[it.tensor];
        const layout& l = at[it.tensor];
        const std::int64_t rb = it.block.r0 / factor_rows;
        return cols.data() + l.col_parts +
               static_cast<std::size_t>((rb * b.batches + it.block.batch) * b.cols + it.block.c0);
    };

    const auto sums_pass =
        select_pass<factor_sums<Kernel>, T, const B&, factor_block, double*, double*, double*>(
            level);
    const norm_fn<Kernel, T> norm = select_norm<Kernel, T>(level);
    for_each_item(items.size(), elements, [&](std::size_t k) {
        const item& it = items[k];
        const B& b = tensors[it.tensor];
        if (b.factored)
            sums_pass(b, it.block, &sums[2 * k], row_slot(it), col_slot(it));
        else
            norm(b, s, it.block.c0, it.block.c1, &sums[2 * k]);
    });

    // B: the factors of each matrix, from the block sums added in block order.
    for (std::size_t t = 0; t < count; ++t) {
        const B& b = tensors[t];
        const layout& l = at[t];
        if (!b.factored || b.size == 0) continue;
        using one = simd::scalar<T>;
        const auto stride_rows = static_cast<std::size_t>(b.batches * b.rows);
        for (std::size_t q = 0; q < stride_rows; ++q) {
            double total = 0.0;
            for (std::int64_t cb = 0; cb < l.col_blocks; ++cb)
                total += rows[l.row_parts + static_cast<std::size_t>(cb) * stride_rows + q];
            b.row_var[q] = Kernel::template statistic<one>(
                b.row_var[q], static_cast<T>(total / static_cast<double>(b.cols)), s);
        }
        const auto stride_cols = static_cast<std::size_t>(b.batches * b.cols);
        for (std::size_t q = 0; q < stride_cols; ++q) {
            double total = 0.0;
            for (std::int64_t rb = 0; rb < l.row_blocks; ++rb)
                total += cols[l.col_parts + static_cast<std::size_t>(rb) * stride_cols + q];
            b.col_var[q] = Kernel::template statistic<one>(
                b.col_var[q], static_cast<T>(total / static_cast<double>(b.rows)), s);
        }
        for (std::size_t q = 0; q < stride_rows; ++q)
            row_scale[l.row_scales + q] = Kernel::inverse_root(b.row_var[q]);
        for (std::int64_t batch = 0; batch < b.batches; ++batch) {
            double total = 0.0;
            for (std::int64_t r = 0; r < b.rows; ++r)
                total += static_cast<double>(b.row_var[batch * b.rows + r]);
            const T mean = one::max(s.eps1, static_cast<T>(total / static_cast<double>(b.rows)));
            for (std::int64_t c = batch * b.cols; c < (batch + 1) * b.cols; ++c)
                col_scale[l.col_scales + static_cast<std::size_t>(c)] =
                    Kernel::inverse_root(b.col_var[c] / mean);
        }
    }

    // C: the sums of u u of the matrices' blocks.
    const auto update_sums = select_pass<factor_update_sums<Kernel>, T, const B&, const S&,
                                         factor_block, const T*, const T*, double*>(level);
    for_each_item(items.size(), elements, [&](std::size_t k) {
        const item& it = items[k];
        const B& b = tensors[it.tensor];
        if (b.factored)
            update_sums(b, s, it.block, row_scale.data() + at[it.tensor].row_scales,
                        col_scale.data() + at[it.tensor].col_scales, &sums[2 * k + 1]);
    });

    std::vector<S> per_tensor;
    per_tensor.reserve(count);
    for (std::size_t t = 0; t < count; ++t) {
        std::array<double, Kernel::norms> total{};
        for (std::size_t k = at[t].first_item; k < at[t].first_item + at[t].items; ++k) {
            total[0] += sums[2 * k];
            total[1] += sums[2 * k + 1];
        }
        per_tensor.push_back(Kernel::finish(s, total, tensors[t].size));
    }

    // D: the update.
    const auto update = select_pass<factor_update<Kernel>, T, const B&, const S&, const T*,
                                    const T*, std::int64_t, std::int64_t>(level);
    const range_fn<Kernel, T> elementwise = select<Kernel, T>(level);
    for_each_range(tensors, count, [&](std::size_t t, std::int64_t begin, std::int64_t end) {
        if (tensors[t].factored)
            update(tensors[t], per_tensor[t], row_scale.data() + at[t].row_scales,
                   col_scale.data() + at[t].col_scales, begin, end);
        else
            elementwise(tensors[t], per_tensor[t], begin, end);
    });
}

template <class T>
auto select_block_reduce(simd_level level) {
#if OPTIKERN_X86
    if (level == simd_level::avx512) return &block_reduce_avx512<T>;
    if (level == simd_level::avx2) return &block_reduce_avx2<T>;
#else
    (void)level;
#endif
    return &block_reduce_baseline<T>;
}

template <class T>
auto select_block_has_nonfinite(simd_level level) {
#if OPTIKERN_X86
    if (level == simd_level::avx512) return &block_has_nonfinite_avx512<T>;
    if (level == simd_level::avx2) return &block_has_nonfinite_avx2<T>;
#else
    (void)level;
#endif
    return &block_has_nonfinite_baseline<T>;
}

}  // namespace dispatch

// One optimizer step over `count` tensors, e.g. update<kernels::adam>(tensors, n, options, {t}):
// the stateless entry point under the optimizer objects (optimizer.hpp). Buffers must not
// overlap (gradients may share memory with each other); the options are not checked here.
// A kernel declaring `norms` (per-tensor norms, as LAMB's trust ratio) runs its two phases,
// one with a factored second moment (Adafactor) its passes (dispatch/factored.hpp).
template <class Kernel, class T>
void update(const dispatch::buffers_t<Kernel, T>* tensors,
            std::size_t count,
            const typename Kernel::options& options,
            const step_context& context) {
    const auto scalars = dispatch::scalars_t<Kernel, T>::make(options, context);
    if constexpr (dispatch::is_factored<Kernel>::value)
        dispatch::run_factored<Kernel, T>(tensors, count, scalars);
    else if constexpr (dispatch::norm_count<Kernel>::value > 0)
        dispatch::run_normed<Kernel, T>(tensors, count, scalars);
    else
        dispatch::run<Kernel, T>(tensors, count, scalars);
}

// What the row path says to a kernel with a norm phase.
inline constexpr const char* needs_whole_tensors =
    "this optimizer takes per-tensor norms (a norm phase), which the sparse-row path does not "
    "support: use dense gradients";

// One step over the rows of a (rows x cols) table that a sparse gradient touches: row
// indices[i] is updated with values[i * cols, (i + 1) * cols) as gradient, the same update
// as a dense step applied to those rows only (lazy state, as torch's sparse Adagrad and
// SparseAdam keep). `table` holds the param and the full state arrays (its grad is unused);
// indices must be distinct and below the row count (the bindings check both).
template <class Kernel, class T>
void update_rows(const dispatch::buffers_t<Kernel, T>& table,
                 std::int64_t cols,
                 const std::int64_t* indices,
                 std::size_t count,
                 const T* values,
                 const typename Kernel::options& options,
                 const step_context& context) {
    if constexpr (dispatch::norm_count<Kernel>::value > 0)
        throw std::invalid_argument(needs_whole_tensors);
    static_assert(!dispatch::has_scalar_state<Kernel>::value,
                  "a per-tensor scalar state would advance once per row");
    std::vector<dispatch::buffers_t<Kernel, T>> rows;
    rows.reserve(count);
    for (std::size_t i = 0; i < count; ++i)
        rows.push_back(dispatch::block_of<Kernel>(
            table, indices[i] * cols, values + static_cast<std::int64_t>(i) * cols, cols));
    update<Kernel, T>(rows.data(), rows.size(), options, context);
}

// The bandwidth ceiling of a step (benchmarks): every in-place array += the read array.
template <class T>
void stream_step(const stream_buffers<T>* tensors, std::size_t count) {
    dispatch::run<kernels::stream, T>(tensors, count, stream_scalars{});
}

// Gradient utilities (torch.nn.utils.clip_grad_norm_ / clip_grad_value_ semantics).

// Multiplies every element by factor.
template <class T>
void scale(const array_buffer<T>* arrays, std::size_t count, T factor) {
    dispatch::run<kernels::scale, T>(arrays, count, scale_scalars<T>{factor});
}

// Clamps every element to [low, high]; NaN stays NaN.
template <class T>
void clamp(const array_buffer<T>* arrays, std::size_t count, T low, T high) {
    dispatch::run<kernels::clamp, T>(arrays, count, clamp_scalars<T>{low, high});
}

// The sum of |x|^p over all elements (l1, l2, lp) or the maximum of |x| (linf), in double,
// summed in an order fixed by the data alone. Combine parts with norm_from_terms.
template <class T>
double norm_terms(const array_buffer<const T>* arrays,
                  std::size_t count,
                  norm_kind kind,
                  double p) {
    const auto reduce = dispatch::select_block_reduce<T>(active_simd_level());
    std::vector<double> partial(
        static_cast<std::size_t>(count_blocks(arrays, count, kernels::block_size)));
    for_each_block(arrays, count, kernels::block_size,
                   [&](std::size_t t, std::int64_t begin, std::int64_t end, std::int64_t b) {
                       partial[static_cast<std::size_t>(b)] =
                           reduce(arrays[t].data + begin, end - begin, kind, p);
                   });
    double total = 0.0;
    for (double x : partial) total = kernels::combine(total, x, kind);
    return total;
}

// The norm from the terms of several parts (e.g. the float32 and the float64 arrays).
inline double norm_from_terms(std::initializer_list<double> terms, norm_kind kind, double p) {
    double total = 0.0;
    for (double x : terms) total = kernels::combine(total, x, kind);
    switch (kind) {
        case norm_kind::l2:
            return std::sqrt(total);
        case norm_kind::lp:
            return std::pow(total, 1.0 / p);
        default:
            return total;
    }
}

// Index of the first array holding a NaN or an infinity, or -1. A read-only pass.
template <class T>
std::int64_t first_nonfinite(const array_buffer<const T>* arrays, std::size_t count) {
    const auto check = dispatch::select_block_has_nonfinite<T>(active_simd_level());
    std::atomic<std::int64_t> first{static_cast<std::int64_t>(count)};
    for_each_block(arrays, count, kernels::block_size,
                   [&](std::size_t t, std::int64_t begin, std::int64_t end, std::int64_t) {
                       const auto index = static_cast<std::int64_t>(t);
                       if (index < first.load(std::memory_order_relaxed) &&
                           check(arrays[t].data + begin, end - begin)) {
                           std::int64_t seen = first.load(std::memory_order_relaxed);
                           while (index < seen && !first.compare_exchange_weak(seen, index)) {
                           }
                       }
                   });
    const std::int64_t found = first.load();
    return found == static_cast<std::int64_t>(count) ? -1 : found;
}

}  // namespace optikern
