// The passes of a kernel with a factored second moment (kernels/adafactor.hpp), run in one call
// by run_factored (dispatch/table.hpp):
//   A. one read of p and g: per tensor the sum of p p; per row and per column of each matrix
//      the sums of g g (an unfactored tensor instead runs the norm phase of
//      dispatch/targets.hpp: its variance updated, the sums of p p and u u);
//   B. per matrix: the row and column factors moved towards the means, then their reciprocal
//      square roots (the column's over the clamped mean of the row factor);
//   C. one read of g: the sum of u u of each factored tensor;
//   D. the update, from the tensor's step (Kernel::finish of both sums).
// Deterministic: a matrix is cut into blocks of at most factor_rows x factor_cols elements
// by its shape alone; threads take whole blocks; a row's squares are summed in kernels::lanes
// lanes of the element type per block (element c in lane (c - c0) % lanes, whole vectors per
// lane group and the scalar tail continuing the lanes, as run_norm_block), a column's in the
// element type down the block's rows, then blocks are added in double in block order. So the
// sums, and the step, are the same for every SIMD level and thread count.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "optikern/dispatch/cpu.hpp"
#include "optikern/dispatch/targets.hpp"
#include "optikern/kernels/reduce.hpp"
#include "optikern/parallel.hpp"
#include "optikern/simd/scalar.hpp"

namespace optikern::dispatch {

// Column sums are kept in the element type down at most factor_rows rows (few enough terms
// for float32), the scratch of one block's column sums is factor_cols values (in L1). Blocks
// span whole rows up to factor_cols: blocks of 512 columns read 2 KB per row and left the
// prefetchers short streams (Adafactor at 1e7 as 2500 x 4000: 10.2 ms, 49% of the ceiling).
inline constexpr std::int64_t factor_rows = 64;
inline constexpr std::int64_t factor_cols = 4096;

// Rows [r0, r1) and columns [c0, c1) of matrix `batch` of a tensor.
struct factor_block {
    std::int64_t batch, r0, r1, c0, c1;
};

// kernels::lanes values of the element type summed pairwise in double.
template <class T>
OPTIKERN_INLINE double lanes_total(const T* lane_sums) {
    double lanes[kernels::lanes];
    for (int j = 0; j < kernels::lanes; ++j) lanes[j] = static_cast<double>(lane_sums[j]);
    for (int width = kernels::lanes / 2; width > 0; width /= 2)
        for (int j = 0; j < width; ++j) lanes[j] += lanes[j + width];
    return lanes[0];
}

// The sum of the squares of source.at<W>(c) over c in [0, n) (one row of a block), in lanes
// (see the top). Sources are functors rather than lambdas: a lambda would not inherit the
// level's target attribute and could not inline its vector operations.
template <class V, class Source>
OPTIKERN_INLINE double row_square_sum(std::int64_t n, const Source& source) {
    using T = typename V::value_type;
    using tail = simd::scalar<T>;
    constexpr int per_lanes = kernels::lanes / V::width;
    static_assert(kernels::lanes % V::width == 0, "a vector fills whole lanes");
    typename V::reg acc[per_lanes];
    for (int r = 0; r < per_lanes; ++r) acc[r] = V::set1(T(0));
    std::int64_t c = 0;
    for (; c + kernels::lanes <= n; c += kernels::lanes)
        for (int r = 0; r < per_lanes; ++r) {
            const auto x = source.template at<V>(c + r * V::width);
            acc[r] = V::add(acc[r], V::mul(x, x));
        }
    T lane_sums[kernels::lanes];
    for (int r = 0; r < per_lanes; ++r) V::store(lane_sums + r * V::width, acc[r]);
    for (int lane = 0; c < n; ++c, ++lane) {
        const T x = source.template at<tail>(c);
        lane_sums[lane] += x * x;
    }
    return lanes_total(lane_sums);
}

// A row of p.
template <class T>
struct row_values {
    const T* data;
    template <class W>
    OPTIKERN_INLINE typename W::reg at(std::int64_t c) const {
        return W::load(data + c);
    }
};

// A row of g, whose squares are also added to the block's column sums.
template <class T>
struct row_into_columns {
    const T* grad;
    T* cols;
    template <class W>
    OPTIKERN_INLINE typename W::reg at(std::int64_t c) const {
        const auto x = W::load(grad + c);
        W::store(cols + c, W::add(W::load(cols + c), W::mul(x, x)));
        return x;
    }
};

// Pass A over one block: the sum of p p into *param_sq, each row's sum of g g into
// rows_out[r - r0], each column's into cols_out[c - c0].
template <class Kernel>
struct factor_sums {
    template <class V>
    static OPTIKERN_INLINE void run(const buffers_t<Kernel, typename V::value_type>& b,
                                    factor_block k,
                                    double* param_sq,
                                    double* rows_out,
                                    double* cols_out) {
        using T = typename V::value_type;
        const std::int64_t n = k.c1 - k.c0;
        T cols[factor_cols] = {};
        double p_total = 0.0;
        for (std::int64_t r = k.r0; r < k.r1; ++r) {
            const std::int64_t row = (k.batch * b.rows + r) * b.cols + k.c0;
            rows_out[r - k.r0] = row_square_sum<V>(n, row_into_columns<T>{b.grad + row, cols});
            p_total += row_square_sum<V>(n, row_values<T>{b.param + row});
        }
        for (std::int64_t c = 0; c < n; ++c) cols_out[c] = static_cast<double>(cols[c]);
        *param_sq = p_total;
    }
};

// A row of u of a factored tensor, from column c0 on.
template <class Kernel, class T>
struct row_directions {
    const buffers_t<Kernel, T>& b;
    const scalars_t<Kernel, T>& s;
    std::int64_t first;  // the row's element at column c0
    T row_scale;
    const T* col_scales;  // from column c0 on
    template <class W>
    OPTIKERN_INLINE typename W::reg at(std::int64_t c) const {
        return Kernel::template factored_direction<W>(Kernel::template gradient<W>(b, s, first + c),
                                                      W::set1(row_scale), W::load(col_scales + c),
                                                      s);
    }
};

// Pass C over one block: the sum of u u, rows in order. The scales (Kernel::inverse_root of
// the factors) are the tensor's: one per row of all its matrices, one per column of each.
template <class Kernel>
struct factor_update_sums {
    template <class V>
    static OPTIKERN_INLINE void run(const buffers_t<Kernel, typename V::value_type>& b,
                                    const scalars_t<Kernel, typename V::value_type>& s,
                                    factor_block k,
                                    const typename V::value_type* row_scales,
                                    const typename V::value_type* col_scales,
                                    double* update_sq) {
        using T = typename V::value_type;
        double total = 0.0;
        for (std::int64_t r = k.r0; r < k.r1; ++r) {
            const std::int64_t row = k.batch * b.rows + r;
            total += row_square_sum<V>(
                k.c1 - k.c0, row_directions<Kernel, T>{b, s, row * b.cols + k.c0, row_scales[row],
                                                       col_scales + k.batch * b.cols + k.c0});
        }
        *update_sq = total;
    }
};

// Pass D over elements [begin, end) of a factored tensor, row by row.
template <class Kernel>
struct factor_update {
    template <class V>
    static OPTIKERN_INLINE void run(const buffers_t<Kernel, typename V::value_type>& b,
                                    const scalars_t<Kernel, typename V::value_type>& s,
                                    const typename V::value_type* row_scales,
                                    const typename V::value_type* col_scales,
                                    std::int64_t begin,
                                    std::int64_t end) {
        using tail = simd::scalar<typename V::value_type>;
        for (std::int64_t i = begin; i < end;) {
            const std::int64_t row = i / b.cols;  // counted over all matrices
            const std::int64_t stop = std::min(end, (row + 1) * b.cols);
            const auto* col = col_scales + (row / b.rows) * b.cols;
            const auto row_scale = row_scales[row];
            std::int64_t c = i - row * b.cols;
            for (; i + V::width <= stop; i += V::width, c += V::width)
                Kernel::template factored_at<V>(b, s, i, row_scale, col + c);
            for (; i < stop; ++i, ++c)
                Kernel::template factored_at<tail>(b, s, i, row_scale, col + c);
        }
    }
};

// A pass compiled for each level: Pass::run<V> with the level's vector policy.
template <class Pass, class T, class... Args>
void pass_baseline(Args... args) {
    Pass::template run<simd::scalar<T>>(args...);
}

#if OPTIKERN_X86
template <class Pass, class T, class... Args>
OPTIKERN_TARGET("avx2")
OPTIKERN_FLATTEN void pass_avx2(Args... args) {
    Pass::template run<simd::avx2<T>>(args...);
}

template <class Pass, class T, class... Args>
OPTIKERN_TARGET("avx512f")
OPTIKERN_FLATTEN void pass_avx512(Args... args) {
    Pass::template run<simd::avx512<T>>(args...);
}
#endif

template <class Pass, class T, class... Args>
auto select_pass(simd_level level) -> void (*)(Args...) {
#if OPTIKERN_X86
    if (level == simd_level::avx512) return &pass_avx512<Pass, T, Args...>;
    if (level == simd_level::avx2) return &pass_avx2<Pass, T, Args...>;
#else
    (void)level;
#endif
    return &pass_baseline<Pass, T, Args...>;
}

}  // namespace optikern::dispatch
