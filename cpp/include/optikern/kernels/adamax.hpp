// Adamax (Kingma & Ba 2015, section 7.1), in the arithmetic order and roundings of
// torch.optim.Adamax's single-tensor code
// (https://pytorch.org/docs/stable/generated/torch.optim.Adamax.html):
//   g = maximize ? -grad : grad;  with wd: g = g + wd p
//   m = lerp(m, g, 1 - beta1)
//   u = max(u beta2, |g| + eps)
//   p = p + (-lr / (1 - beta1^t)) m / u
// (A NaN gradient makes the param NaN as in torch; only the infinity norm of a state that is
// already NaN may differ, since MAXPS returns its second operand where torch.maximum
// returns NaN.)
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
struct adamax_scalars {
    kernels::lerp_weight<T> exp_avg_weight;
    T beta2;
    T eps;
    T weight_decay;
    T neg_clr;
    bool l2_decay;
    bool maximize;

    static adamax_scalars make(const adamax_options& o, const step_context& c) {
        const double bias_correction = 1.0 - std::pow(o.beta1, static_cast<double>(c.step));
        return {kernels::lerp_weight<T>::make(1.0 - o.beta1),
                static_cast<T>(o.beta2),
                static_cast<T>(o.eps),
                static_cast<T>(o.weight_decay),
                static_cast<T>(-(o.lr / bias_correction)),
                o.weight_decay != 0.0,
                o.maximize};
    }
};

namespace kernels {

struct adamax {
    using options = adamax_options;
    template <class T>
    using buffers = adamax_buffers<T>;
    template <class T>
    using scalars = adamax_scalars<T>;

    static constexpr std::array<option_field<adamax_options>, 6> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &adamax_options::lr, nullptr},
        {"betas", 0, "beta parameter at index 0", option_rule::unit_interval,
         &adamax_options::beta1, nullptr},
        {"betas", 1, "beta parameter at index 1", option_rule::unit_interval,
         &adamax_options::beta2, nullptr},
        {"eps", -1, "epsilon value", option_rule::non_negative, &adamax_options::eps, nullptr},
        {"weight_decay", -1, "weight_decay value", option_rule::non_negative,
         &adamax_options::weight_decay, nullptr},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &adamax_options::maximize},
    }};
    static constexpr const char* invalid_combination(const adamax_options&) { return nullptr; }

    static constexpr std::array<const char*, 2> state_names{"exp_avg", "exp_inf"};
    // Running averages, which may be stored in 8 bits (quantize.hpp): can each be negative?
    static constexpr std::array<bool, 2> state_signed{true, false};
    template <class T>
    static constexpr std::array<T * adamax_buffers<T>::*, 2> state{&adamax_buffers<T>::exp_avg,
                                                                   &adamax_buffers<T>::exp_inf};
    static constexpr bool uses_state(const adamax_options&, std::size_t) { return true; }
    static constexpr double initial_state(const adamax_options&, std::size_t) { return 0.0; }
    static constexpr bool counts_steps = true;

    template <class V>
    static OPTIKERN_INLINE void at(const adamax_buffers<typename V::value_type>& b,
                                   const adamax_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        auto p = V::load(b.param + i);
        auto g = V::load(b.grad + i);
        if (s.maximize) g = V::neg(g);
        if (s.l2_decay) g = add_scaled<V>(g, p, V::set1(s.weight_decay));
        const auto m = lerp<V>(V::load(b.exp_avg + i), g, s.exp_avg_weight);
        const auto magnitude = V::add(V::max(g, V::neg(g)), V::set1(s.eps));
        const auto u = V::max(V::mul(V::load(b.exp_inf + i), V::set1(s.beta2)), magnitude);
        V::store(b.exp_avg + i, m);
        V::store(b.exp_inf + i, u);
        V::store(b.param + i, V::add(p, V::div(V::mul(V::set1(s.neg_clr), m), u)));
    }
};

}  // namespace kernels
}  // namespace optikern
