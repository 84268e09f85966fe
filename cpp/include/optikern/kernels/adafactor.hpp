// Adafactor (Shazeer & Stern 2018) in the arithmetic of torch.optim.Adafactor's single-tensor
// code (https://pytorch.org/docs/stable/generated/torch.optim.Adafactor.html), per tensor of
// n elements at step t:
//   g = maximize ? -grad : grad;    w = t^beta2_decay (the weight of the new statistics)
//   rho = min(lr, 1 / sqrt(t));     alpha = max(eps2, ||p|| / sqrt(n)) rho   (p before decay)
//   p = p (1 - lr wd)
//   >= 2 dims, per matrix of its last two (rows x cols), R and C its row and column factors:
//       R = lerp(R, mean over a row of g g, w),   C = lerp(C, mean over a column of g g, w)
//       v = (R_i C_j) / max(mean(R), eps1)
//   fewer dims:  v = variance = lerp(variance, g g, w)
//   u = g rsqrt(max(v, eps1^2));    p = p + (-alpha / max(1, ||u|| / (sqrt(n) d))) u
// (for a matrix as g min(R_i^-1/2 (C_j / mean)^-1/2, 1 / eps1): the roots once per row and
// column, no division or root per element; within a few ulp of torch's order)
// eps1 unset (torch's None) is the element type's epsilon, torch's finfo(param.dtype).eps.
// A step needs the tensor's row and column sums and both norms before any element moves:
// dispatch/factored.hpp runs the passes (sums of p p and g g, the factors, the sum of u u,
// the update); this file holds the arithmetic of each.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "optikern/buffers.hpp"
#include "optikern/config.hpp"
#include "optikern/kernels/torch_ops.hpp"
#include "optikern/options.hpp"

namespace optikern {

template <class T>
struct adafactor_scalars {
    kernels::lerp_weight<T> weight;  // t^beta2_decay
    T eps1;
    T eps1_squared;
    T inv_eps1;
    T decay;     // 1 - lr wd
    T neg_step;  // -alpha / denom: per tensor, set by finish()
    double rho;
    double eps2;
    double d;
    bool decays;
    bool maximize;

    static adafactor_scalars make(const adafactor_options& o, const step_context& c) {
        const double t = static_cast<double>(c.step);
        const double eps1 = o.eps1 != o.eps1 ? std::numeric_limits<T>::epsilon() : o.eps1;
        return {kernels::lerp_weight<T>::make(std::pow(t, o.beta2_decay)),
                static_cast<T>(eps1),
                static_cast<T>(eps1 * eps1),
                static_cast<T>(1.0 / eps1),
                static_cast<T>(1.0 - o.lr * o.weight_decay),
                T(0),
                std::min(o.lr, 1.0 / std::pow(t, 0.5)),
                o.eps2,
                o.d,
                o.weight_decay != 0.0,
                o.maximize};
    }
};

namespace kernels {

struct adafactor {
    using options = adafactor_options;
    template <class T>
    using buffers = adafactor_buffers<T>;
    template <class T>
    using scalars = adafactor_scalars<T>;

    static constexpr std::array<option_field<adafactor_options>, 7> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &adafactor_options::lr, nullptr,
         "Learning rate should be >= 0 but is: "},
        {"beta2_decay", -1, "beta2_decay", option_rule::non_positive,
         &adafactor_options::beta2_decay, nullptr, "beta2_decay should be <= 0 but is: "},
        {"eps", 0, "epsilon1", option_rule::non_negative_or_unset, &adafactor_options::eps1,
         nullptr, "epsilon1 should be >= 0 but is: "},
        {"eps", 1, "epsilon2", option_rule::non_negative, &adafactor_options::eps2, nullptr,
         "epsilon2 should be >= 0 but is: "},
        {"d", -1, "d", option_rule::at_least_one, &adafactor_options::d, nullptr,
         "Clipping threshold d should be >= 1 but is: "},
        {"weight_decay", -1, "weight_decay", option_rule::non_negative,
         &adafactor_options::weight_decay, nullptr, "weight_decay should be >= 0 but is: "},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &adafactor_options::maximize},
    }};
    static constexpr const char* invalid_combination(const adafactor_options&) { return nullptr; }

    static constexpr std::array<const char*, 3> state_names{"row_var", "col_var", "variance"};
    template <class T>
    static constexpr std::array<T * adafactor_buffers<T>::*, 3> state{
        &adafactor_buffers<T>::row_var, &adafactor_buffers<T>::col_var,
        &adafactor_buffers<T>::variance};
    // Which of them a tensor keeps follows its shape, not the options.
    static constexpr std::array<state_shape, 3> state_shapes{
        state_shape::per_row, state_shape::per_col, state_shape::unfactored};
    static constexpr bool uses_state(const adafactor_options&, std::size_t) { return true; }
    static constexpr double initial_state(const adafactor_options&, std::size_t) { return 0.0; }
    static constexpr bool counts_steps = true;

    // Per-tensor sums of squares before the update: of p and of u (see dispatch/factored.hpp).
    static constexpr std::size_t norms = 2;

    template <class V>
    static OPTIKERN_INLINE typename V::reg gradient(
        const adafactor_buffers<typename V::value_type>& b,
        const adafactor_scalars<typename V::value_type>& s,
        std::int64_t i) {
        const auto g = V::load(b.grad + i);
        return s.maximize ? V::neg(g) : g;
    }

    // A moving statistic of g g: lerp(old, mean, w).
    template <class V>
    static OPTIKERN_INLINE typename V::reg statistic(
        typename V::reg old,
        typename V::reg mean,
        const adafactor_scalars<typename V::value_type>& s) {
        return lerp<V>(old, mean, s.weight);
    }

    // The factors' reciprocal square roots, once per row (R_i) and per column
    // (C_j / max(mean(R), eps1)) of a step, so that an element needs no division or root.
    template <class T>
    static T inverse_root(T x) {
        return T(1) / std::sqrt(x);
    }

    // u of a factored tensor: g min(R_i^-1/2 (C_j / m)^-1/2, 1 / eps1), which is torch's
    // g rsqrt(max(R_i C_j / m, eps1^2)) in exact arithmetic and within a few ulp in floating
    // point (min with 1/eps1 first keeps a NaN, as torch's clamp).
    template <class V>
    static OPTIKERN_INLINE typename V::reg factored_direction(
        typename V::reg g,
        typename V::reg row_scale,
        typename V::reg col_scale,
        const adafactor_scalars<typename V::value_type>& s) {
        return V::mul(g, V::min(V::set1(s.inv_eps1), V::mul(row_scale, col_scale)));
    }

    // u = g rsqrt(max(v, eps1^2)); max with eps1^2 first keeps a NaN v, as torch's clamp.
    template <class V>
    static OPTIKERN_INLINE typename V::reg direction(
        typename V::reg g, typename V::reg v, const adafactor_scalars<typename V::value_type>& s) {
        using T = typename V::value_type;
        const auto clamped = V::max(V::set1(s.eps1_squared), v);
        return V::mul(V::div(V::set1(T(1)), V::sqrt(clamped)), g);
    }

    // p (1 - lr wd) + (-alpha / denom) u
    template <class V>
    static OPTIKERN_INLINE void apply(typename V::value_type* param,
                                      typename V::reg u,
                                      const adafactor_scalars<typename V::value_type>& s) {
        auto p = V::load(param);
        if (s.decays) p = V::mul(p, V::set1(s.decay));
        V::store(param, V::add(p, V::mul(V::set1(s.neg_step), u)));
    }

    // The norm phase of an unfactored tensor (the protocol of dispatch/targets.hpp's
    // run_norm_block): updates the variance and hands out p and u.
    template <class V>
    static OPTIKERN_INLINE void norm_at(const adafactor_buffers<typename V::value_type>& b,
                                        const adafactor_scalars<typename V::value_type>& s,
                                        std::int64_t i,
                                        typename V::value_type* const* out) {
        const auto g = gradient<V>(b, s, i);
        const auto v = statistic<V>(V::load(b.variance + i), V::mul(g, g), s);
        V::store(b.variance + i, v);
        V::store(out[0], V::load(b.param + i));
        V::store(out[1], direction<V>(g, v, s));
    }

    // The update of an unfactored tensor, u recomputed from the stored variance.
    template <class V>
    static OPTIKERN_INLINE void at(const adafactor_buffers<typename V::value_type>& b,
                                   const adafactor_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        apply<V>(b.param + i, direction<V>(gradient<V>(b, s, i), V::load(b.variance + i), s), s);
    }

    // The update of element i of a factored tensor: its row's scale, its column's at `col`.
    template <class V>
    static OPTIKERN_INLINE void factored_at(const adafactor_buffers<typename V::value_type>& b,
                                            const adafactor_scalars<typename V::value_type>& s,
                                            std::int64_t i,
                                            typename V::value_type row_scale,
                                            const typename V::value_type* col_scale) {
        const auto u =
            factored_direction<V>(gradient<V>(b, s, i), V::set1(row_scale), V::load(col_scale), s);
        apply<V>(b.param + i, u, s);
    }

    // The tensor's step from its sums of squares of p and u (in double, as torch's .item()).
    template <class T>
    static adafactor_scalars<T> finish(adafactor_scalars<T> s,
                                       const std::array<double, norms>& sums,
                                       std::int64_t n) {
        const double root_n = std::pow(static_cast<double>(n), 0.5);
        const double alpha = std::max(s.eps2, std::sqrt(sums[0]) / root_n) * s.rho;
        const double denom = std::max(1.0, std::sqrt(sums[1]) / (root_n * s.d));
        s.neg_step = static_cast<T>(-alpha / denom);
        return s;
    }
};

}  // namespace kernels
}  // namespace optikern
