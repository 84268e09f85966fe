// Reductions over gradients (norms, the finiteness check) with a fixed summation order.
//
// Every array is cut into blocks of block_size elements; a block is summed in `lanes`
// independent double accumulators (element i goes to lane i % lanes) combined pairwise at the
// end. The order depends on neither the SIMD level (the lane loop vectorises the same way at
// every width) nor the thread count (threads take whole blocks; block results are added in
// block order), so a norm is bit-identical everywhere.
#pragma once

#include <cmath>
#include <cstdint>

#include "optikern/config.hpp"

namespace optikern {

enum class norm_kind : int { l1, l2, linf, lp };

namespace kernels {

inline constexpr std::int64_t block_size = 4096;
inline constexpr int lanes = 16;

// max(a, b) where a NaN wins, as torch's norms propagate NaN.
OPTIKERN_INLINE double nan_max(double a, double b) {
    return (a > b || a != a) ? a : b;
}

// Adds one partial result to a running one: a sum, or for linf a maximum.
OPTIKERN_INLINE double combine(double total, double part, norm_kind kind) {
    return kind == norm_kind::linf ? nan_max(total, part) : total + part;
}

template <class T>
OPTIKERN_INLINE double lane_term(T x, norm_kind kind, double p) {
    const double a = std::fabs(static_cast<double>(x));
    switch (kind) {
        case norm_kind::l1:
            return a;
        case norm_kind::l2:
            return a * a;
        case norm_kind::lp:
            return std::pow(a, p);
        default:
            return a;
    }
}

// Sum (or, for linf, maximum) of the terms of data[0, n), n <= block_size.
template <class T>
OPTIKERN_INLINE double block_reduce(const T* OPTIKERN_RESTRICT data,
                                    std::int64_t n,
                                    norm_kind kind,
                                    double p) {
    double acc[lanes] = {};
    std::int64_t i = 0;
    if (kind == norm_kind::linf) {
        for (; i + lanes <= n; i += lanes)
            for (int j = 0; j < lanes; ++j)
                acc[j] = nan_max(acc[j], std::fabs(static_cast<double>(data[i + j])));
        for (int j = 0; i < n; ++i, ++j)
            acc[j] = nan_max(acc[j], std::fabs(static_cast<double>(data[i])));
        for (int width = lanes / 2; width > 0; width /= 2)
            for (int j = 0; j < width; ++j) acc[j] = nan_max(acc[j], acc[j + width]);
        return acc[0];
    }
    if (kind == norm_kind::l2) {
        for (; i + lanes <= n; i += lanes)
            for (int j = 0; j < lanes; ++j) {
                const double x = static_cast<double>(data[i + j]);
                acc[j] += x * x;
            }
    } else if (kind == norm_kind::l1) {
        for (; i + lanes <= n; i += lanes)
            for (int j = 0; j < lanes; ++j) acc[j] += std::fabs(static_cast<double>(data[i + j]));
    } else {
        for (; i + lanes <= n; i += lanes)
            for (int j = 0; j < lanes; ++j) acc[j] += lane_term(data[i + j], kind, p);
    }
    for (int j = 0; i < n; ++i, ++j) acc[j] += lane_term(data[i], kind, p);
    for (int width = lanes / 2; width > 0; width /= 2)
        for (int j = 0; j < width; ++j) acc[j] += acc[j + width];
    return acc[0];
}

// True if data[0, n) holds a NaN or an infinity: x * 0 is 0 for every finite x and NaN
// otherwise, so one multiply-add per element, no branch.
template <class T>
OPTIKERN_INLINE bool block_has_nonfinite(const T* OPTIKERN_RESTRICT data, std::int64_t n) {
    T acc[lanes] = {};
    std::int64_t i = 0;
    for (; i + lanes <= n; i += lanes)
        for (int j = 0; j < lanes; ++j) acc[j] += data[i + j] * T(0);
    for (int j = 0; i < n; ++i, ++j) acc[j] += data[i] * T(0);
    bool bad = false;
    for (int j = 0; j < lanes; ++j) bad |= acc[j] != acc[j];
    return bad;
}

}  // namespace kernels
}  // namespace optikern
