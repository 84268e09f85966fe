// LAMB (You et al. 2020, "Large Batch Optimization for Deep Learning"), as optax's `lamb`
// (scale_by_adam, add_decayed_weights, scale_by_trust_ratio, scale_by_learning_rate):
//   g = maximize ? -grad : grad
//   m = m beta1 + g (1 - beta1)           v = v beta2 + (g g)(1 - beta2)
//   u = (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps) + wd p
//   trust = ||p|| / ||u|| per tensor (1 when either norm is 0), clamped to [min_coeff,
//           max_coeff] when given (DeepSpeed's bounds; off by default)
//   p = p - (lr trust) u
// The trust ratio needs the norms of the whole tensor before any of it moves: a norm phase
// (norm_at) updates the moments and hands p and u to the deterministic per-tensor sums of
// squares, then the update phase (at) recomputes u from the stored moments. Recomputing reads
// p, m, v again (16 bytes per float32 element, 40 in all); storing u instead would write it in
// the first pass and read it in the second (the same 40 bytes, plus a scratch array and its
// write-allocate reads), so recomputing moves the fewest bytes. Both phases compute u with the
// same operations, so the u that is applied is the u whose norm was taken.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "optikern/buffers.hpp"
#include "optikern/config.hpp"
#include "optikern/options.hpp"

namespace optikern {

template <class T>
struct lamb_scalars {
    T beta1;
    T one_minus_beta1;
    T beta2;
    T one_minus_beta2;
    T inv_bias_correction1;
    T inv_bias_correction2;
    T eps;
    T weight_decay;
    T neg_step;  // -(lr trust): set per tensor by finish()
    double lr;
    double min_coeff;
    double max_coeff;
    bool decay;
    bool maximize;

    static lamb_scalars make(const lamb_options& o, const step_context& c) {
        const double t = static_cast<double>(c.step);
        return {static_cast<T>(o.beta1),
                static_cast<T>(1.0 - o.beta1),
                static_cast<T>(o.beta2),
                static_cast<T>(1.0 - o.beta2),
                static_cast<T>(1.0 / (1.0 - std::pow(o.beta1, t))),
                static_cast<T>(1.0 / (1.0 - std::pow(o.beta2, t))),
                static_cast<T>(o.eps),
                static_cast<T>(o.weight_decay),
                static_cast<T>(-o.lr),
                o.lr,
                o.min_coeff,
                o.max_coeff,
                o.weight_decay != 0.0,
                o.maximize};
    }
};

namespace kernels {

struct lamb {
    using options = lamb_options;
    template <class T>
    using buffers = lamb_buffers<T>;
    template <class T>
    using scalars = lamb_scalars<T>;

    static constexpr std::array<option_field<lamb_options>, 8> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &lamb_options::lr, nullptr},
        {"betas", 0, "beta parameter at index 0", option_rule::unit_interval, &lamb_options::beta1,
         nullptr},
        {"betas", 1, "beta parameter at index 1", option_rule::unit_interval, &lamb_options::beta2,
         nullptr},
        {"eps", -1, "epsilon value", option_rule::non_negative, &lamb_options::eps, nullptr},
        {"weight_decay", -1, "weight_decay value", option_rule::non_negative,
         &lamb_options::weight_decay, nullptr},
        {"min_coeff", -1, "min_coeff value", option_rule::non_negative_or_none,
         &lamb_options::min_coeff, nullptr},
        {"max_coeff", -1, "max_coeff value", option_rule::non_negative_or_none,
         &lamb_options::max_coeff, nullptr},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &lamb_options::maximize},
    }};
    static constexpr const char* invalid_combination(const lamb_options&) { return nullptr; }

    static constexpr std::array<const char*, 2> state_names{"exp_avg", "exp_avg_sq"};
    // Running averages, which may be stored in 8 bits (quantize.hpp): can each be negative?
    static constexpr std::array<bool, 2> state_signed{true, false};
    template <class T>
    static constexpr std::array<T * lamb_buffers<T>::*, 2> state{&lamb_buffers<T>::exp_avg,
                                                                 &lamb_buffers<T>::exp_avg_sq};
    static constexpr bool uses_state(const lamb_options&, std::size_t) { return true; }
    static constexpr double initial_state(const lamb_options&, std::size_t) { return 0.0; }
    static constexpr bool counts_steps = true;

    // The norm phase: per tensor, the sums of squares of p and of u (see dispatch/table.hpp).
    static constexpr std::size_t norms = 2;

    // The bias-corrected Adam direction plus the decay term, from the updated moments.
    template <class V>
    static OPTIKERN_INLINE typename V::reg direction(
        typename V::reg p,
        typename V::reg m,
        typename V::reg v,
        const lamb_scalars<typename V::value_type>& s) {
        const auto denom =
            V::add(V::sqrt(V::mul(v, V::set1(s.inv_bias_correction2))), V::set1(s.eps));
        auto u = V::div(V::mul(m, V::set1(s.inv_bias_correction1)), denom);
        if (s.decay) u = V::add(u, V::mul(V::set1(s.weight_decay), p));
        return u;
    }

    // Updates the moments of the V::width elements at i; stores p and u into out[0], out[1].
    template <class V>
    static OPTIKERN_INLINE void norm_at(const lamb_buffers<typename V::value_type>& b,
                                        const lamb_scalars<typename V::value_type>& s,
                                        std::int64_t i,
                                        typename V::value_type* const* out) {
        const auto p = V::load(b.param + i);
        auto g = V::load(b.grad + i);
        if (s.maximize) g = V::neg(g);
        const auto m = V::add(V::mul(V::load(b.exp_avg + i), V::set1(s.beta1)),
                              V::mul(g, V::set1(s.one_minus_beta1)));
        const auto v = V::add(V::mul(V::load(b.exp_avg_sq + i), V::set1(s.beta2)),
                              V::mul(V::mul(g, g), V::set1(s.one_minus_beta2)));
        V::store(b.exp_avg + i, m);
        V::store(b.exp_avg_sq + i, v);
        V::store(out[0], p);
        V::store(out[1], direction<V>(p, m, v, s));
    }

    // The tensor's scalars for the update phase from its sums of squares (in double).
    template <class T>
    static lamb_scalars<T> finish(lamb_scalars<T> s, const std::array<double, norms>& sums) {
        const double param_norm = std::sqrt(sums[0]);
        const double update_norm = std::sqrt(sums[1]);
        double trust = 1.0;
        if (param_norm != 0.0 && update_norm != 0.0) {  // NaN norms fall through: NaN trust
            trust = std::min(param_norm / update_norm, s.max_coeff);
            trust = std::max(trust, s.min_coeff);  // DeepSpeed's order: the lower bound wins
        }
        s.neg_step = static_cast<T>(-(s.lr * trust));
        return s;
    }

    // The update phase: p = p - (lr trust) u, u recomputed from the stored moments.
    template <class V>
    static OPTIKERN_INLINE void at(const lamb_buffers<typename V::value_type>& b,
                                   const lamb_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        const auto p = V::load(b.param + i);
        const auto u = direction<V>(p, V::load(b.exp_avg + i), V::load(b.exp_avg_sq + i), s);
        V::store(b.param + i, V::add(p, V::mul(V::set1(s.neg_step), u)));
    }
};

}  // namespace kernels
}  // namespace optikern
