// Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), one fused pass per element,
// in the arithmetic order and roundings of torch.optim.Adam's single-tensor code
// (https://pytorch.org/docs/stable/generated/torch.optim.Adam.html), which its foreach and
// fused CPU paths share (torch_ops.hpp):
//   g = maximize ? -grad : grad
//   AdamW: p = p * (1 - lr wd)            Adam with wd: g = g + wd p (fused)
//   m = lerp(m, g, 1 - beta1)             v = v beta2 + ((1 - beta2) g) g (last two fused)
//   amsgrad: v_max = max(v_max, v), v_hat = v_max, else v_hat = v
//   p = p + (-lr / (1 - beta1^t)) m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)
// eps is added outside the square root, after bias correction, as torch and the paper do.
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

// Per-step constants, derived once in double (the bias corrections need it at large t) and
// rounded to the element type, as torch does with its Python-float scalars.
template <class T>
struct adam_scalars {
    kernels::lerp_weight<T> exp_avg_weight;
    T beta2;
    T one_minus_beta2;
    T neg_step_size;
    T bias_correction2_sqrt;
    T eps;
    T weight_decay;
    T decay_factor;
    bool l2_decay;
    bool decoupled_decay;
    bool amsgrad;
    bool maximize;

    static adam_scalars make(const adam_options& o, const step_context& c) {
        const double t = static_cast<double>(c.step);
        const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
        const double bias_correction2 = 1.0 - std::pow(o.beta2, t);
        const bool decay = o.weight_decay != 0.0;
        return {kernels::lerp_weight<T>::make(1.0 - o.beta1),
                static_cast<T>(o.beta2),
                static_cast<T>(1.0 - o.beta2),
                static_cast<T>(-(o.lr / bias_correction1)),
                static_cast<T>(std::sqrt(bias_correction2)),
                static_cast<T>(o.eps),
                static_cast<T>(o.weight_decay),
                static_cast<T>(1.0 - o.lr * o.weight_decay),
                decay && !o.decoupled_weight_decay,
                decay && o.decoupled_weight_decay,
                o.amsgrad,
                o.maximize};
    }
};

namespace kernels {

struct adam {
    using options = adam_options;
    template <class T>
    using buffers = adam_buffers<T>;
    template <class T>
    using scalars = adam_scalars<T>;

    static constexpr std::array<option_field<adam_options>, 8> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &adam_options::lr, nullptr},
        {"betas", 0, "beta parameter at index 0", option_rule::unit_interval, &adam_options::beta1,
         nullptr},
        {"betas", 1, "beta parameter at index 1", option_rule::unit_interval, &adam_options::beta2,
         nullptr},
        {"eps", -1, "epsilon value", option_rule::non_negative, &adam_options::eps, nullptr},
        {"weight_decay", -1, "weight_decay value", option_rule::non_negative,
         &adam_options::weight_decay, nullptr},
        {"amsgrad", -1, "amsgrad", option_rule::flag, nullptr, &adam_options::amsgrad},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &adam_options::maximize},
        {"decoupled_weight_decay", -1, "decoupled_weight_decay", option_rule::flag, nullptr,
         &adam_options::decoupled_weight_decay},
    }};
    static constexpr const char* invalid_combination(const adam_options&) { return nullptr; }

    // State arrays with torch's names, the buffers' members holding them, whether the options
    // use each, and its initial value.
    static constexpr std::array<const char*, 3> state_names{"exp_avg", "exp_avg_sq",
                                                            "max_exp_avg_sq"};
    // Running averages, which may be stored in 8 bits (quantize.hpp): can each be negative?
    static constexpr std::array<bool, 3> state_signed{true, false, false};
    template <class T>
    static constexpr std::array<T * adam_buffers<T>::*, 3> state{
        &adam_buffers<T>::exp_avg, &adam_buffers<T>::exp_avg_sq, &adam_buffers<T>::max_exp_avg_sq};
    static constexpr bool uses_state(const adam_options& o, std::size_t k) {
        return k < 2 || o.amsgrad;
    }
    static constexpr double initial_state(const adam_options&, std::size_t) { return 0.0; }
    static constexpr bool counts_steps = true;

    // Updates the V::width elements starting at i.
    template <class V>
    static OPTIKERN_INLINE void at(const adam_buffers<typename V::value_type>& b,
                                   const adam_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        auto p = V::load(b.param + i);
        auto g = V::load(b.grad + i);
        if (s.maximize) g = V::neg(g);
        if (s.decoupled_decay) p = V::mul(p, V::set1(s.decay_factor));
        if (s.l2_decay) g = add_scaled<V>(g, p, V::set1(s.weight_decay));
        const auto m = lerp<V>(V::load(b.exp_avg + i), g, s.exp_avg_weight);
        const auto v = addcmul<V>(V::mul(V::load(b.exp_avg_sq + i), V::set1(s.beta2)),
                                  V::set1(s.one_minus_beta2), g, g);
        auto v_hat = v;
        if (s.amsgrad) {
            v_hat = V::max(V::load(b.max_exp_avg_sq + i), v);
            V::store(b.max_exp_avg_sq + i, v_hat);
        }
        const auto denom =
            V::add(V::div(V::sqrt(v_hat), V::set1(s.bias_correction2_sqrt)), V::set1(s.eps));
        p = V::add(p, V::div(V::mul(V::set1(s.neg_step_size), m), denom));
        V::store(b.exp_avg + i, m);
        V::store(b.exp_avg_sq + i, v);
        V::store(b.param + i, p);
    }
};

}  // namespace kernels
}  // namespace optikern
