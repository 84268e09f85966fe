// AdaGrad (Duchi, Hazan & Singer 2011) in the arithmetic order and roundings of
// torch.optim.Adagrad's single-tensor code
// (https://pytorch.org/docs/stable/generated/torch.optim.Adagrad.html; multiply-adds fused as
// torch's add(alpha) and addcmul, torch_ops.hpp):
//   g = maximize ? -grad : grad;  with wd: g = g + wd p
//   clr = lr / (1 + (t - 1) lr_decay)
//   sum = sum + g g
//   p = p + ((-clr) g) / (sqrt(sum) + eps)
// The accumulator starts at initial_accumulator_value.
// eps_inside_sqrt (Keras, optax): sqrt(sum + eps). decoupled_weight_decay (Keras):
// p = p (1 - lr wd) first, no L2 term.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "optikern/buffers.hpp"
#include "optikern/config.hpp"
#include "optikern/kernels/torch_ops.hpp"
#include "optikern/options.hpp"

namespace optikern {

template <class T>
struct adagrad_scalars {
    T neg_clr;
    T eps;
    T weight_decay;
    T decay_factor;
    bool l2_decay;
    bool decoupled_decay;
    bool eps_inside_sqrt;
    bool maximize;

    static adagrad_scalars make(const adagrad_options& o, const step_context& c) {
        const double clr = o.lr / (1.0 + static_cast<double>(c.step - 1) * o.lr_decay);
        const bool decay = o.weight_decay != 0.0;
        return {static_cast<T>(-clr),
                static_cast<T>(o.eps),
                static_cast<T>(o.weight_decay),
                static_cast<T>(1.0 - o.lr * o.weight_decay),
                decay && !o.decoupled_weight_decay,
                decay && o.decoupled_weight_decay,
                o.eps_inside_sqrt,
                o.maximize};
    }
};

namespace kernels {

struct adagrad {
    using options = adagrad_options;
    template <class T>
    using buffers = adagrad_buffers<T>;
    template <class T>
    using scalars = adagrad_scalars<T>;

    static constexpr std::array<option_field<adagrad_options>, 8> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &adagrad_options::lr, nullptr},
        {"lr_decay", -1, "lr_decay value", option_rule::non_negative, &adagrad_options::lr_decay,
         nullptr},
        {"weight_decay", -1, "weight_decay value", option_rule::non_negative,
         &adagrad_options::weight_decay, nullptr},
        {"initial_accumulator_value", -1, "initial_accumulator_value value",
         option_rule::non_negative, &adagrad_options::initial_accumulator_value, nullptr},
        {"eps", -1, "epsilon value", option_rule::non_negative, &adagrad_options::eps, nullptr},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &adagrad_options::maximize},
        {"decoupled_weight_decay", -1, "decoupled_weight_decay", option_rule::flag, nullptr,
         &adagrad_options::decoupled_weight_decay},
        {"eps_inside_sqrt", -1, "eps_inside_sqrt", option_rule::flag, nullptr,
         &adagrad_options::eps_inside_sqrt},
    }};
    static constexpr const char* invalid_combination(const adagrad_options&) { return nullptr; }

    static constexpr std::array<const char*, 1> state_names{"sum"};
    template <class T>
    static constexpr std::array<T * adagrad_buffers<T>::*, 1> state{&adagrad_buffers<T>::sum};
    static constexpr bool uses_state(const adagrad_options&, std::size_t) { return true; }
    static constexpr double initial_state(const adagrad_options& o, std::size_t) {
        return o.initial_accumulator_value;
    }
    static constexpr bool counts_steps = true;

    template <class V>
    static OPTIKERN_INLINE void at(const adagrad_buffers<typename V::value_type>& b,
                                   const adagrad_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        auto p = V::load(b.param + i);
        auto g = V::load(b.grad + i);
        if (s.maximize) g = V::neg(g);
        if (s.decoupled_decay) p = V::mul(p, V::set1(s.decay_factor));
        if (s.l2_decay) g = add_scaled<V>(g, p, V::set1(s.weight_decay));
        const auto sum = V::fma(g, g, V::load(b.sum + i));  // addcmul with value 1
        const auto std_dev = s.eps_inside_sqrt ? V::sqrt(V::add(sum, V::set1(s.eps)))
                                               : V::add(V::sqrt(sum), V::set1(s.eps));
        V::store(b.sum + i, sum);
        V::store(b.param + i, V::add(p, V::div(V::mul(V::set1(s.neg_clr), g), std_dev)));
    }
};

}  // namespace kernels
}  // namespace optikern
