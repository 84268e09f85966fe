// RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond"), in the
// arithmetic order and roundings of torch.optim.RAdam's single-tensor code
// (https://pytorch.org/docs/stable/generated/torch.optim.RAdam.html):
//   g = maximize ? -grad : grad
//   decoupled: p = p (1 - lr wd)        else with wd: g = g + wd p
//   m = lerp(m, g, 1 - beta1)           v = v beta2 + ((1 - beta2) g) g
//   u = (m / (1 - beta1^t)) lr
//   rho_t > 5: u = (u sqrt(1 - beta2^t) / (sqrt(v) + eps)) r_t   (the variance rectification)
//   p = p - u
// with rho_inf = 2 / (1 - beta2) - 1, rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t) and
// r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)), all per
// step, in double, as torch computes them in Python.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "optikern/buffers.hpp"
#include "optikern/config.hpp"
#include "optikern/kernels/torch_ops.hpp"
#include "optikern/options.hpp"

namespace optikern {

template <class T>
struct radam_scalars {
    kernels::lerp_weight<T> exp_avg_weight;
    T beta2;
    T one_minus_beta2;
    T bias_correction1;
    T lr;
    T bias_correction2_sqrt;
    T eps;
    T rect;
    T weight_decay;
    T decay_factor;
    bool rectified;
    bool l2_decay;
    bool decoupled_decay;
    bool maximize;

    static radam_scalars make(const radam_options& o, const step_context& c) {
        const double t = static_cast<double>(c.step);
        const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
        const double bias_correction2 = 1.0 - std::pow(o.beta2, t);
        const double rho_inf = 2.0 / (1.0 - o.beta2) - 1.0;
        const double rho_t = rho_inf - 2.0 * t * std::pow(o.beta2, t) / bias_correction2;
        const bool rectified = rho_t > 5.0;
        const double rect = rectified ? std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                                                  ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                                      : 1.0;
        const bool decay = o.weight_decay != 0.0;
        return {kernels::lerp_weight<T>::make(1.0 - o.beta1),
                static_cast<T>(o.beta2),
                static_cast<T>(1.0 - o.beta2),
                static_cast<T>(bias_correction1),
                static_cast<T>(o.lr),
                static_cast<T>(std::sqrt(bias_correction2)),
                static_cast<T>(o.eps),
                static_cast<T>(rect),
                static_cast<T>(o.weight_decay),
                static_cast<T>(1.0 - o.lr * o.weight_decay),
                rectified,
                decay && !o.decoupled_weight_decay,
                decay && o.decoupled_weight_decay,
                o.maximize};
    }
};

namespace kernels {

struct radam {
    using options = radam_options;
    template <class T>
    using buffers = radam_buffers<T>;
    template <class T>
    using scalars = radam_scalars<T>;

    static constexpr std::array<option_field<radam_options>, 7> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &radam_options::lr, nullptr},
        {"betas", 0, "beta parameter at index 0", option_rule::unit_interval, &radam_options::beta1,
         nullptr},
        {"betas", 1, "beta parameter at index 1", option_rule::unit_interval, &radam_options::beta2,
         nullptr},
        {"eps", -1, "epsilon value", option_rule::non_negative, &radam_options::eps, nullptr},
        {"weight_decay", -1, "weight_decay value", option_rule::non_negative,
         &radam_options::weight_decay, nullptr},
        {"decoupled_weight_decay", -1, "decoupled_weight_decay", option_rule::flag, nullptr,
         &radam_options::decoupled_weight_decay},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &radam_options::maximize},
    }};
    static constexpr const char* invalid_combination(const radam_options&) { return nullptr; }

    static constexpr std::array<const char*, 2> state_names{"exp_avg", "exp_avg_sq"};
    // Running averages, which may be stored in 8 bits (quantize.hpp): can each be negative?
    static constexpr std::array<bool, 2> state_signed{true, false};
    template <class T>
    static constexpr std::array<T * radam_buffers<T>::*, 2> state{&radam_buffers<T>::exp_avg,
                                                                  &radam_buffers<T>::exp_avg_sq};
    static constexpr bool uses_state(const radam_options&, std::size_t) { return true; }
    static constexpr double initial_state(const radam_options&, std::size_t) { return 0.0; }
    static constexpr bool counts_steps = true;

    template <class V>
    static OPTIKERN_INLINE void at(const radam_buffers<typename V::value_type>& b,
                                   const radam_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        auto p = V::load(b.param + i);
        auto g = V::load(b.grad + i);
        if (s.maximize) g = V::neg(g);
        if (s.decoupled_decay) p = V::mul(p, V::set1(s.decay_factor));
        if (s.l2_decay) g = add_scaled<V>(g, p, V::set1(s.weight_decay));
        const auto m = lerp<V>(V::load(b.exp_avg + i), g, s.exp_avg_weight);
        const auto v = addcmul<V>(V::mul(V::load(b.exp_avg_sq + i), V::set1(s.beta2)),
                                  V::set1(s.one_minus_beta2), g, g);
        auto u = V::mul(V::div(m, V::set1(s.bias_correction1)), V::set1(s.lr));
        if (s.rectified) {
            // torch's float / tensor is tensor.reciprocal() * float
            const auto adaptive = V::mul(V::div(V::set1(1), V::add(V::sqrt(v), V::set1(s.eps))),
                                         V::set1(s.bias_correction2_sqrt));
            u = V::mul(V::mul(u, adaptive), V::set1(s.rect));
        }
        V::store(b.exp_avg + i, m);
        V::store(b.exp_avg_sq + i, v);
        V::store(b.param + i, V::sub(p, u));
    }
};

}  // namespace kernels
}  // namespace optikern
