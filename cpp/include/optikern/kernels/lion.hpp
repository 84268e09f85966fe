// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), in the arithmetic
// order of lion-pytorch's update_fn (https://github.com/lucidrains/lion-pytorch):
//   g = maximize ? -grad : grad
//   with wd: p = p (1 - lr wd)                      (decoupled, as in the paper)
//   c = m beta1 + g (1 - beta1)
//   p = p + (-lr) sign(c)                           sign(0) = sign(NaN) = 0, as torch.sign
//   m = m beta2 + g (1 - beta2)
// lr sign(c) is exactly -lr, 0 or lr, so the update itself adds no rounding.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "optikern/buffers.hpp"
#include "optikern/config.hpp"
#include "optikern/options.hpp"

namespace optikern {

template <class T>
struct lion_scalars {
    T beta1;
    T one_minus_beta1;
    T beta2;
    T one_minus_beta2;
    T neg_lr;
    T decay_factor;
    bool decay;
    bool maximize;

    static lion_scalars make(const lion_options& o, const step_context&) {
        return {static_cast<T>(o.beta1), static_cast<T>(1.0 - o.beta1),
                static_cast<T>(o.beta2), static_cast<T>(1.0 - o.beta2),
                static_cast<T>(-o.lr),   static_cast<T>(1.0 - o.lr * o.weight_decay),
                o.weight_decay != 0.0,   o.maximize};
    }
};

namespace kernels {

struct lion {
    using options = lion_options;
    template <class T>
    using buffers = lion_buffers<T>;
    template <class T>
    using scalars = lion_scalars<T>;

    // lion-pytorch allows 0 <= beta <= 1 (beta2 = 1 freezes the momentum).
    static constexpr std::array<option_field<lion_options>, 5> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &lion_options::lr, nullptr},
        {"betas", 0, "beta parameter at index 0", option_rule::closed_unit_interval,
         &lion_options::beta1, nullptr},
        {"betas", 1, "beta parameter at index 1", option_rule::closed_unit_interval,
         &lion_options::beta2, nullptr},
        {"weight_decay", -1, "weight_decay value", option_rule::non_negative,
         &lion_options::weight_decay, nullptr},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &lion_options::maximize},
    }};
    static constexpr const char* invalid_combination(const lion_options&) { return nullptr; }

    static constexpr std::array<const char*, 1> state_names{"exp_avg"};
    // Running averages, which may be stored in 8 bits (quantize.hpp): can each be negative?
    static constexpr std::array<bool, 1> state_signed{true};
    template <class T>
    static constexpr std::array<T * lion_buffers<T>::*, 1> state{&lion_buffers<T>::exp_avg};
    static constexpr bool uses_state(const lion_options&, std::size_t) { return true; }
    static constexpr double initial_state(const lion_options&, std::size_t) { return 0.0; }
    static constexpr bool counts_steps = false;  // lion-pytorch keeps no step

    template <class V>
    static OPTIKERN_INLINE void at(const lion_buffers<typename V::value_type>& b,
                                   const lion_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        auto p = V::load(b.param + i);
        auto g = V::load(b.grad + i);
        if (s.maximize) g = V::neg(g);
        if (s.decay) p = V::mul(p, V::set1(s.decay_factor));
        const auto m = V::load(b.exp_avg + i);
        const auto c = V::add(V::mul(m, V::set1(s.beta1)), V::mul(g, V::set1(s.one_minus_beta1)));
        p = V::add(p, V::mul(V::set1(s.neg_lr), V::sign(c)));
        V::store(b.exp_avg + i,
                 V::add(V::mul(m, V::set1(s.beta2)), V::mul(g, V::set1(s.one_minus_beta2))));
        V::store(b.param + i, p);
    }
};

}  // namespace kernels
}  // namespace optikern
