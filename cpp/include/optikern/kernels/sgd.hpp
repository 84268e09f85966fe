// SGD with optional momentum (dampening, Nesterov), L2 weight decay and maximize, in the
// arithmetic order and roundings of torch.optim.SGD's single-tensor code
// (https://pytorch.org/docs/stable/generated/torch.optim.SGD.html; each multiply-add below is
// torch's add(alpha), rounded once, torch_ops.hpp):
//   g = maximize ? -grad : grad;  with wd: g = g + wd p
//   momentum: b = first step ? g : b momentum + (1 - dampening) g
//             g = nesterov ? g + momentum b : b
//   p = p + (-lr) g
// lr_in_momentum (Keras): g is scaled by lr before the momentum and the step is p = p - g.
// decoupled_weight_decay (Keras): p = p (1 - lr wd) first, no L2 term.
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
struct sgd_scalars {
    T neg_lr;  // -1 when the learning rate is inside g already
    T lr;
    T momentum;
    T one_minus_dampening;
    T weight_decay;
    T decay_factor;
    bool use_momentum;
    bool first_step;  // torch's "momentum_buffer is None": the buffer starts as a copy of g
    bool nesterov;
    bool l2_decay;
    bool decoupled_decay;
    bool lr_in_momentum;
    bool maximize;

    static sgd_scalars make(const sgd_options& o, const step_context& c) {
        const bool decay = o.weight_decay != 0.0;
        return {static_cast<T>(o.lr_in_momentum ? -1.0 : -o.lr),
                static_cast<T>(o.lr),
                static_cast<T>(o.momentum),
                static_cast<T>(1.0 - o.dampening),
                static_cast<T>(o.weight_decay),
                static_cast<T>(1.0 - o.lr * o.weight_decay),
                o.momentum != 0.0,
                c.fresh_state,
                o.nesterov,
                decay && !o.decoupled_weight_decay,
                decay && o.decoupled_weight_decay,
                o.lr_in_momentum,
                o.maximize};
    }
};

namespace kernels {

struct sgd {
    using options = sgd_options;
    template <class T>
    using buffers = sgd_buffers<T>;
    template <class T>
    using scalars = sgd_scalars<T>;

    static constexpr std::array<option_field<sgd_options>, 8> fields{{
        {"lr", -1, "learning rate", option_rule::non_negative, &sgd_options::lr, nullptr},
        {"momentum", -1, "momentum value", option_rule::non_negative, &sgd_options::momentum,
         nullptr},
        {"dampening", -1, "dampening", option_rule::any, &sgd_options::dampening, nullptr},
        {"weight_decay", -1, "weight_decay value", option_rule::non_negative,
         &sgd_options::weight_decay, nullptr},
        {"nesterov", -1, "nesterov", option_rule::flag, nullptr, &sgd_options::nesterov},
        {"maximize", -1, "maximize", option_rule::flag, nullptr, &sgd_options::maximize},
        {"decoupled_weight_decay", -1, "decoupled_weight_decay", option_rule::flag, nullptr,
         &sgd_options::decoupled_weight_decay},
        {"lr_in_momentum", -1, "lr_in_momentum", option_rule::flag, nullptr,
         &sgd_options::lr_in_momentum},
    }};
    static constexpr const char* invalid_combination(const sgd_options& o) {
        return o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0)
                   ? "Nesterov momentum requires a momentum and zero dampening"
                   : nullptr;
    }

    // Plain SGD keeps no state; the momentum buffer starts as a copy of the first gradient
    // (step_context::fresh_state), so its initial value is never read.
    static constexpr std::array<const char*, 1> state_names{"momentum_buffer"};
    // Running averages, which may be stored in 8 bits (quantize.hpp): can each be negative?
    static constexpr std::array<bool, 1> state_signed{true};
    template <class T>
    static constexpr std::array<T * sgd_buffers<T>::*, 1> state{&sgd_buffers<T>::momentum_buffer};
    static constexpr bool uses_state(const sgd_options& o, std::size_t) {
        return o.momentum != 0.0;
    }
    static constexpr double initial_state(const sgd_options&, std::size_t) { return 0.0; }
    static constexpr bool counts_steps = false;

    template <class V>
    static OPTIKERN_INLINE void at(const sgd_buffers<typename V::value_type>& b,
                                   const sgd_scalars<typename V::value_type>& s,
                                   std::int64_t i) {
        auto p = V::load(b.param + i);
        auto g = V::load(b.grad + i);
        if (s.maximize) g = V::neg(g);
        if (s.decoupled_decay) p = V::mul(p, V::set1(s.decay_factor));
        if (s.l2_decay) g = add_scaled<V>(g, p, V::set1(s.weight_decay));
        if (s.lr_in_momentum) g = V::mul(V::set1(s.lr), g);
        if (s.use_momentum) {
            auto buf = g;
            if (!s.first_step) {
                buf = add_scaled<V>(V::mul(V::load(b.momentum_buffer + i), V::set1(s.momentum)), g,
                                    V::set1(s.one_minus_dampening));
            }
            V::store(b.momentum_buffer + i, buf);
            g = s.nesterov ? add_scaled<V>(g, buf, V::set1(s.momentum)) : buf;
        }
        V::store(b.param + i, add_scaled<V>(p, g, V::set1(s.neg_lr)));
    }
};

}  // namespace kernels
}  // namespace optikern
