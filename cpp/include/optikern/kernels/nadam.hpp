// NAdam (Dozat 2016, "Incorporating Nesterov Momentum into Adam"), in the arithmetic order and
// roundings of torch.optim.NAdam's single-tensor code
// (https://pytorch.org/docs/stable/generated/torch.optim.NAdam.html):
//   g = maximize ? -grad : grad
//   decoupled: p = p (1 - lr wd)          else with wd: g = g + wd p
//   mu_t = beta1 (1 - 0.5 * 0.96^(t psi)),  mu_{t+1} likewise      (psi: momentum_decay)
//   mu_product = mu_product * mu_t        (per tensor, a 0-d value: see scalar_cell)
//   m = lerp(m, g, 1 - beta1)             v = v beta2 + ((1 - beta2) g) g
//   denom = sqrt(v / (1 - beta2^t)) + eps
//   p = p + (c_g g) / denom,   c_g = -lr (1 - mu_t) / (1 - mu_product)
//   p = p + (c_m m) / denom,   c_m = -lr mu_{t+1} / (1 - mu_product mu_{t+1})
// The coefficients are derived in double per tensor, as torch does in Python from each param's
// own mu_product.
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
struct nadam_scalars {
    kernels::lerp_weight<T> exp_avg_weight;
    T beta2;
    T one_minus_beta2;
    T bias_correction2;
    T eps;
    T weight_decay;
    T decay_factor;
    double neg_lr;
    double mu;
    double mu_next;
    T grad_coefficient;     // c_g: per tensor (nadam::advance)
    T exp_avg_coefficient;  // c_m: per tensor
    bool l2_decay;
    bool decoupled_decay;
    bool maximize;

    static nadam_scalars make(const nadam_options& o, const step_context& c) {
        const double t = static_cast<double>(c.step);
        const bool decay = o.weight_decay != 0.0;
        return {kernels::lerp_weight<T>::make(1.0 - o.beta1),
                static_cast<T>(o.beta2),
                static_cast<T>(1.0 - o.beta2),
                static_cast<T>(1.0 - std::pow(o.beta2, t)),
                static_cast<T>(o.eps),
                static_cast<T>(o.weight_decay),
                static_cast<T>(1.0 - o.lr * o.weight_decay),
                -o.lr,
                o.beta1 * (1.0 - 0.5 * std::pow(0.96, t * o.momentum_decay)),
                o.beta1 * (1.0 - 0.5 * std::pow(0.96, (t + 1.0) * o.momentum_decay)),
                T(0),
                T(0),
                decay && !o.decoupled_weight_decay,
                decay && o.decoupled_weight_decay,
                o.maximize};
    }
};

namespace kernels {

struct nadam {
    using options = nadam_options;
    template <class T>
    using buffers = nadam_buffers<T>;
    template <class T>
    using scalars = nadam_scalars<T>;

    static constexpr std::array<option_field<nadam_options>, 8> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &nadam_options::lr, nullptr},
        {"betas", 0, "beta parameter at index 0", option_rule::unit_interval, &nadam_options::beta1,
         nullptr},
        {"betas", 1, "beta parameter at index 1", option_rule::unit_interval, &nadam_options::beta2,
         nullptr},
        {"eps", -1, "epsilon value", option_rule::non_negative, &nadam_options::eps, nullptr},
        {"weight_decay", -1, "weight_decay value", option_rule::non_negative,
         &nadam_options::weight_decay, nullptr},
        {"momentum_decay", -1, "momentum_decay value", option_rule::non_negative,
         &nadam_options::momentum_decay, nullptr},
        {"decoupled_weight_decay", -1, "decoupled_weight_decay", option_rule::flag, nullptr,
         &nadam_options::decoupled_weight_decay},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &nadam_options::maximize},
    }};
    static constexpr const char* invalid_combination(const nadam_options&) { return nullptr; }

    static constexpr std::array<const char*, 2> state_names{"exp_avg", "exp_avg_sq"};
    template <class T>
    static constexpr std::array<T * nadam_buffers<T>::*, 2> state{&nadam_buffers<T>::exp_avg,
                                                                  &nadam_buffers<T>::exp_avg_sq};
    static constexpr bool uses_state(const nadam_options&, std::size_t) { return true; }
    static constexpr double initial_state(const nadam_options&, std::size_t) { return 0.0; }
    static constexpr std::array<bool, 2> state_signed{true, false};
    static constexpr bool counts_steps = true;

    // The per-tensor 0-d state, its initial value, and the step's scalars for one tensor
    // (advancing its mu_product: called once per tensor and step, before the element pass).
    static constexpr std::array<const char*, 1> scalar_state_names{"mu_product"};
    template <class T>
    static constexpr std::array<scalar_cell nadam_buffers<T>::*, 1> scalar_state{
        &nadam_buffers<T>::mu_product};
    static constexpr double initial_scalar_state(const nadam_options&, std::size_t) { return 1.0; }
    template <class T>
    static nadam_scalars<T> advance(nadam_scalars<T> s, const nadam_buffers<T>& b) {
        b.mu_product.set(b.mu_product.get() * b.mu_product.round(s.mu));
        const double mu_product = b.mu_product.get();
        const double mu_product_next = mu_product * s.mu_next;
        s.grad_coefficient = static_cast<T>(s.neg_lr * (1.0 - s.mu) / (1.0 - mu_product));
        s.exp_avg_coefficient = static_cast<T>(s.neg_lr * s.mu_next / (1.0 - mu_product_next));
        return s;
    }

    template <class V>
    static OPTIKERN_INLINE void at(const nadam_buffers<typename V::value_type>& b,
                                   const nadam_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        auto p = V::load(b.param + i);
        auto g = V::load(b.grad + i);
        if (s.maximize) g = V::neg(g);
        if (s.decoupled_decay) p = V::mul(p, V::set1(s.decay_factor));
        if (s.l2_decay) g = add_scaled<V>(g, p, V::set1(s.weight_decay));
        const auto m = lerp<V>(V::load(b.exp_avg + i), g, s.exp_avg_weight);
        const auto v = addcmul<V>(V::mul(V::load(b.exp_avg_sq + i), V::set1(s.beta2)),
                                  V::set1(s.one_minus_beta2), g, g);
        const auto denom = V::add(V::sqrt(V::div(v, V::set1(s.bias_correction2))), V::set1(s.eps));
        p = V::add(p, V::div(V::mul(V::set1(s.grad_coefficient), g), denom));
        p = V::add(p, V::div(V::mul(V::set1(s.exp_avg_coefficient), m), denom));
        V::store(b.exp_avg + i, m);
        V::store(b.exp_avg_sq + i, v);
        V::store(b.param + i, p);
    }
};

}  // namespace kernels
}  // namespace optikern
